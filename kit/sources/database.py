"""
Read a database table or query into a raw table, read-only.

A query must be one plain read (:func:`check_query`, before it runs), and the session is
made read-only as well: an SQLite file opened ``mode=ro`` with an authorizer allowing only
reads, PostgreSQL and MySQL/MariaDB sessions set read-only when they connect, an Oracle
read-only transaction; a query on any other server is refused. No password reaches a
message; library warnings become one ``database note``; ``BLOB`` values are decoded as
UTF-8 text (``columns note``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from kit.errors import LoadError, ParameterError
from kit.sources.paths import _first_line_hidden, _hidden, _safe_url, _secrets, check_readable, is_database_url
from kit.sources.table import RawTable, _with_normalised_columns

#: Words of a query that are not a plain read: refused before the query runs. Quoted
#: names and string literals are not words here (``"update"`` is a column name). Among
#: them the transaction and session words (``commit``, ``rollback``, ``set``…): one of
#: them would end or change the read-only session the query runs in.
_WRITE_WORDS = frozenset("""
    insert update delete merge upsert replace drop create alter truncate rename comment attach detach pragma vacuum
    reindex analyze analyse grant revoke copy call exec execute do load lock unlock begin commit rollback savepoint
    release set reset into returning handler prepare deallocate notify listen unlisten discard checkpoint refresh
    cluster import export install uninstall outfile dumpfile abort end start declare backup restore dbcc shutdown
    kill waitfor bulk openrowset opendatasource openquery reconfigure
""".split())  # fmt: skip
#: Functions that write, run SQL given as text, reach another connection or the server's
#: files (PostgreSQL, MySQL, SQLite): refused as words and as quoted names too.
_WRITE_FUNCTIONS = frozenset("""
    dblink dblink_exec dblink_connect dblink_connect_u dblink_send_query dblink_open dblink_fetch dblink_disconnect
    lo_import lo_export lo_unlink lo_create lo_creat lo_from_bytea lo_put lo_truncate lo_open lo_write
    pg_terminate_backend pg_cancel_backend pg_reload_conf pg_rotate_logfile pg_switch_wal pg_create_restore_point
    pg_promote pg_read_file pg_read_binary_file pg_ls_dir pg_stat_file pg_file_write pg_advisory_lock
    pg_advisory_xact_lock pg_notify set_config nextval setval query_to_xml query_to_xmlschema query_to_xml_and_xmlschema
    cursor_to_xml table_to_xml load_extension writefile readfile edit fts3_tokenizer load_file get_lock sys_exec
    sys_eval xp_cmdshell
""".split())  # fmt: skip
#: Name prefixes of Oracle packages that write or reach out (``DBMS_…``, ``UTL_…``).
_WRITE_PREFIXES = ("dbms_", "utl_")
_QUERY_STARTS = ("select", "with", "values")


def _sql_token_pattern(*, backslash: bool, dollar: bool, mysql: bool) -> re.Pattern:
    """
    Return the tokenizer of one way a database may read a query.

    ``backslash``: a backslash escapes the next character in every ``'…'`` (and, for
    MySQL, ``"…"``) string. ``dollar``: PostgreSQL, i.e. dollar quotes (``$$…$$``,
    ``$tag$…$tag$``) and ``E'…'`` strings (where a backslash escapes). ``mysql``: ``#`` starts a
    comment, ``--`` does only before a space, ``"…"`` is a string, ``[`` is no quote,
    ``/*!…*/`` is code (refused).
    """
    quoted = r"'(?:[^'\\]|\\.|'')*'" if backslash else r"'(?:[^']|'')*'"
    parts = [r"(?P<space>\s+)"]
    if mysql:
        parts += [r"(?P<code>/\*!)", r"(?P<line>(?:--(?=\s|\Z)|\#)[^\n]*)"]
    else:
        parts += [r"(?P<line>--[^\n]*)"]
    parts += [r"(?P<block>/\*.*?(\*/|\Z))", r"(?P<unicode>[uU]&['\"])"]
    opening = [r"'", r"`", r'"']
    if dollar:
        parts += [r"(?P<dollar>\$(?P<tag>[A-Za-z_][A-Za-z0-9_]*)?\$.*?\$(?P=tag)\$)"]
        quoted = r"[eE]'(?:[^'\\]|\\.|'')*'|" + quoted  # PostgreSQL's E'…'
        opening += [r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$"]
    parts += [r"(?P<text>" + quoted + ")"]
    names = [r"`(?:[^`]|``)*`"]
    names += [r'"(?:[^"\\]|\\.|"")*"'] if mysql else [r'"(?:[^"]|"")*"', r"\[[^\]]*\]"]
    opening += [] if mysql else [r"\["]
    parts += [r"(?P<name>" + "|".join(names) + ")", r"(?P<open>(?:" + "|".join(opening) + r").*)",
              r"(?P<word>[A-Za-z_][A-Za-z0-9_$]*)", r"(?P<semi>;)", r"(?P<other>.)"]  # fmt: skip
    return re.compile("|".join(parts), re.S)


#: The readings a query must pass, every one (the name is how a message says it): standard
#: SQL (SQLite, Oracle, SQL Server), the same with backslash escapes, PostgreSQL (dollar
#: quotes, ``E'…'``), MySQL/MariaDB.
_SQL_READINGS = {
    "as standard SQL": _sql_token_pattern(backslash=False, dollar=False, mysql=False),
    "with backslash escapes": _sql_token_pattern(backslash=True, dollar=False, mysql=False),
    "as PostgreSQL": _sql_token_pattern(backslash=False, dollar=True, mysql=False),
    "as MySQL": _sql_token_pattern(backslash=True, dollar=False, mysql=True),
}
_ADVICE = "(only one SELECT, WITH … SELECT or VALUES statement runs)"


def check_query(query: str) -> None:
    r"""
    Refuse a query that is not one plain read (SELECT, WITH … SELECT, VALUES), before it runs.

    A careful tokenizer, not a parser: comments, string literals and quoted names are
    skipped; then the first word must be ``select``, ``with`` or ``values`` (after any
    opening brackets), no ``;`` may be followed by another statement, and no word of
    :data:`_WRITE_WORDS` or :data:`_WRITE_FUNCTIONS` may occur (so ``WITH … DELETE``,
    ``SELECT … INTO``, ``… FOR UPDATE``, ``… RETURNING``, ``COMMIT``, ``dblink_exec(…)``
    are refused too; a column named like one must be quoted). ``END`` is allowed only as
    the end of a ``CASE`` and ``START`` only in ``START WITH``.

    Databases read quotes differently, so the query is read in each of the ways of
    :data:`_SQL_READINGS` (with and without backslash escapes, PostgreSQL dollar quotes,
    MySQL comments) and must pass every one; a query whose words differ with and without
    backslash escapes (``'a\' …``) is refused, as are MySQL ``/*!…*/`` comments (code)
    and ``U&"…"`` names. The database is opened read-only as well: this check gives the
    clear message.

    >>> check_query("select * from mrr -- where x; drop table mrr")
    >>> check_query("WITH t AS (SELECT 1) DELETE FROM mrr")  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    kit.errors.ParameterError: the query is not a plain read: 'DELETE' is not allowed
    (only one SELECT, WITH … SELECT or VALUES statement runs)
    """
    seen = {}
    for reading, pattern in _SQL_READINGS.items():
        seen[reading] = _check_reading(query, pattern, reading)
    if seen["as standard SQL"] != seen["with backslash escapes"]:
        raise ParameterError("the query reads differently depending on whether a backslash escapes a quote in a "
                             f"string; write the string without backslashes {_ADVICE}")  # fmt: skip


def _check_reading(query: str, pattern: re.Pattern, reading: str) -> list[str]:
    """Check one reading of a query (see :func:`check_query`); return its words and semicolons."""
    words, tokens, statements = _scan_reading(query, pattern, reading)
    if not words or words[0].lower() not in _QUERY_STARTS:
        first = words[0] if words else "nothing"
        raise ParameterError(f"the query is not a plain read: it starts with {first!r} {_ADVICE}")
    if statements > 1:
        raise ParameterError(f"the query holds more than one statement {_ADVICE}")
    _check_words(words)
    return tokens


def _scan_reading(query: str, pattern: re.Pattern, reading: str) -> tuple[list[str], list[str], int]:
    """
    Return the words, the tokens (words in lower case, semicolons) and the statements of one reading of a query.

    Tokens no read may hold are refused on the way (:func:`_refuse_token`); the scan stops
    after a first word that starts no read.
    """
    words, tokens, statements, pending = [], [], 0, True
    for match in pattern.finditer(query):
        kind = match.lastgroup
        _refuse_token(kind, match.group(), reading)
        if kind == "word":
            if pending:
                statements, pending = statements + 1, False
            words.append(match.group())
            tokens.append(match.group().lower())
            if len(words) == 1 and words[0].lower() not in _QUERY_STARTS:
                break
        elif kind == "semi":
            pending = True
            tokens.append(";")
        elif kind in ("text", "name", "dollar", "other") and pending:
            if not (kind == "other" and match.group() == "("):
                statements, pending = statements + 1, False
    return words, tokens, statements


def _refuse_token(kind: str, text: str, reading: str) -> None:
    """Refuse a token no plain read holds: MySQL code comments, ``U&`` escapes, open quotes, writing functions."""
    if kind in ("code", "unicode"):
        what = "a /*! … */ comment (MySQL runs it)" if kind == "code" else "a U&'…' escaped name or string"
        raise ParameterError(f"the query is not a plain read: {what} is not allowed {_ADVICE}")
    if kind == "open":
        raise ParameterError(
            f"the query has a quote that is not closed when read {reading} (databases differ on "
            f"backslashes and $$ quotes in strings; write it without them) {_ADVICE}"
        )
    if kind == "name":
        bare = text[1:-1].lower()
        if bare in _WRITE_FUNCTIONS or bare.startswith(_WRITE_PREFIXES):
            raise ParameterError(f"the query is not a plain read: {text!r} is not allowed {_ADVICE}")


def _check_words(words: list[str]) -> None:
    """Refuse a word that writes; ``END`` only closes a ``CASE`` and ``START`` only begins ``START WITH``."""
    cases = 0
    for position, word in enumerate(words):
        low = word.lower()
        if low == "case":
            cases += 1
        elif low == "end" and cases:
            cases -= 1
        elif low == "start" and position + 1 < len(words) and words[position + 1].lower() == "with":
            pass  # Oracle's CONNECT BY … START WITH
        elif low in _WRITE_WORDS or low in _WRITE_FUNCTIONS or low.startswith(_WRITE_PREFIXES):
            raise ParameterError(f"the query is not a plain read: {word!r} is not allowed {_ADVICE}")


def _wal_copy(path: Path, shown: str):
    """
    Return a private copy of a WAL-mode SQLite file, or None when the file is not in WAL mode.

    SQLite opens a WAL database (header bytes 18 and 19 are 2) by creating ``NAME-shm``
    (and ``NAME-wal``) beside it, even read-only. So the kit copies the file and its
    ``-wal`` (the rows not yet checkpointed) into a temporary folder of its own (0700,
    removed after the read) and reads the copy: nothing is written beside the user's
    file and every committed row is read. The copy costs the file's size in the temporary
    folder; a writer busy at the same moment may leave the copy a moment behind.
    """
    import shutil
    import tempfile

    try:
        with path.open("rb") as handle:
            header = handle.read(20)
    except OSError as exc:
        raise LoadError(f"{shown}: cannot be read ({exc.strerror or exc})") from None
    if len(header) < 20 or not header.startswith(b"SQLite format 3\x00") or 2 not in (header[18], header[19]):
        return None
    private = tempfile.TemporaryDirectory(prefix="kit-sqlite-")  # mkdtemp: 0700
    try:
        shutil.copyfile(path, Path(private.name) / "copy.db")
        wal = path.with_name(path.name + "-wal")
        if wal.is_file():
            shutil.copyfile(wal, Path(private.name) / "copy.db-wal")
    except OSError as exc:
        private.cleanup()
        raise LoadError(f"{shown}: cannot copy the WAL-mode file to read it without writing beside it "
                        f"({exc.strerror or exc})") from None  # fmt: skip
    return private


def _sqlite_read_only(path: str):
    """Return a ``creator`` for SQLAlchemy: the SQLite file opened read-only, queries only, reads only."""
    import sqlite3
    from urllib.parse import quote

    def creator():
        connection = sqlite3.connect(f"file:{quote(str(Path(path).absolute()))}?mode=ro", uri=True)
        connection.execute("PRAGMA query_only = ON")
        connection.set_authorizer(_sqlite_authorizer)
        return connection

    return creator


def _sqlite_authorizer(action, arg1, arg2, database, trigger):
    """Allow reading and the schema look-ups of SQLAlchemy; deny everything else (writes, ATTACH, PRAGMA x=y)."""
    import sqlite3

    if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE):
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_FUNCTION:
        return sqlite3.SQLITE_DENY if (arg2 or "").lower() in ("load_extension", "readfile", "writefile") else \
            sqlite3.SQLITE_OK  # fmt: skip
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in _READ_PRAGMAS:
        return sqlite3.SQLITE_OK  # table_info(x) and friends: how SQLAlchemy reads the schema (none writes)
    return sqlite3.SQLITE_DENY


_READ_PRAGMAS = {"table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo",
                 "foreign_key_list", "database_list", "read_uncommitted"}  # fmt: skip
#: Statements that make a server database's session read-only, by SQLAlchemy backend
#: name: run and committed on each new connection, before any query, so that a later
#: COMMIT or ROLLBACK cannot end the read-only mode (PostgreSQL and MySQL keep it for the
#: session; Oracle only has it per transaction, and runs one statement per call).
_READ_ONLY_SESSION = {
    "postgresql": "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
    "mysql": "SET SESSION TRANSACTION READ ONLY",
    "mariadb": "SET SESSION TRANSACTION READ ONLY",
}
#: The same for the transaction that reads, as its first statement.
_READ_ONLY_TRANSACTION = {"postgresql": "SET TRANSACTION READ ONLY", "oracle": "SET TRANSACTION READ ONLY"}
#: Backends where the kit can make the whole read read-only; elsewhere ``query=`` is refused.
QUERY_BACKENDS = ("sqlite", "postgresql", "mysql", "mariadb", "oracle")


def _read_only_on_connect(engine, statement: str) -> None:
    """Run ``statement`` and commit it on every new DBAPI connection of ``engine`` (before SQLAlchemy uses it)."""
    import sqlalchemy as sa

    @sa.event.listens_for(engine, "connect")
    def read_only(dbapi_connection, record):
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(statement)
        finally:
            cursor.close()
        dbapi_connection.commit()


def read_database(source, *, table: str | None = None, query: str | None = None) -> RawTable:
    """
    Read a table or the result of a query from a database, read-only.

    ``source`` is a SQLAlchemy URL or the path of an SQLite file. The password of a URL
    (``user:pass@`` or a ``password=`` query parameter) never appears in a message.

    Nothing is written to the database: a query must be one plain read
    (:func:`check_query`, before it runs); an SQLite file is opened read-only
    (``mode=ro``, ``PRAGMA query_only``, an authorizer that allows only reads), a
    PostgreSQL or MySQL/MariaDB session is made read-only when it connects (committed,
    so no COMMIT or ROLLBACK in a query ends it) and an Oracle one runs a read-only
    transaction. On any other server database a query is refused (the kit cannot make
    its session read-only); a table (``table=``) is read by a statement the kit builds,
    and the account's rights are the only other guard: give the kit an account that may
    only read.
    """
    import warnings

    if (table is None) == (query is None):
        raise LoadError("a database source needs exactly one of table= or query= (CLI --table or --query)")
    url = _database_url(source)
    shown = _safe_url(url)
    secrets = _secrets(url)
    backend = url.get_backend_name()
    if query is not None:
        _check_query_runs(query, shown, backend)
    with warnings.catch_warnings(record=True) as caught:  # said as one note below, never printed raw
        warnings.simplefilter("always")
        engine, private = _open_engine(url, backend, shown, secrets)
        try:
            frame = _read_frame(engine, backend, shown, secrets, table, query)
        finally:
            engine.dispose()
            if private is not None:
                private.cleanup()
    name = f"{shown} ({'table ' + table if table else 'query'})"
    return _raw_table(frame, name, _warnings_note(caught, secrets))


def _database_url(source):
    """Return the SQLAlchemy URL of a database source (a URL, or the path of an SQLite file, checked)."""
    import sqlalchemy as sa

    if isinstance(source, Path) or not is_database_url(source):
        path = Path(source)
        check_readable(path)
        return sa.engine.URL.create("sqlite", database=str(path))
    try:
        url = sa.engine.make_url(source)
    except Exception:
        raise LoadError("the database URL is not a valid SQLAlchemy URL") from None
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).is_file():
        raise LoadError(f"{_safe_url(url)}: SQLite file not found")
    return url


def _check_query_runs(query: str, shown: str, backend: str) -> None:
    """Refuse a query that is not one plain read (:func:`check_query`) or runs where no session is read-only."""
    try:
        check_query(query)
    except ParameterError as exc:
        raise ParameterError(f"{shown}: {exc}") from None
    if backend not in QUERY_BACKENDS:
        raise ParameterError(f"{shown}: --query is not run on {backend}: the kit cannot open a read-only session "
                             f"there; read a table with --table (table=), or run the query in a view read by an "
                             f"account that may only read")  # fmt: skip


def _open_engine(url, backend: str, shown: str, secrets: list[str]):
    """
    Return a read-only engine for the database and the private copy it reads (or None).

    An SQLite file is read through :func:`_sqlite_read_only` (from a private copy when it is
    in WAL mode, :func:`_wal_copy`); a server session is made read-only as it connects.
    """
    import sqlalchemy as sa

    options, private = {}, None
    if backend == "sqlite" and url.database and url.database != ":memory:":
        private = _wal_copy(Path(url.database), shown)
        options["creator"] = _sqlite_read_only(str(Path(private.name) / "copy.db") if private else url.database)
    try:
        engine = sa.create_engine(url, **options)
        if backend in _READ_ONLY_SESSION:
            _read_only_on_connect(engine, _READ_ONLY_SESSION[backend])
    except ModuleNotFoundError as exc:  # SQLAlchemy knows the dialect; its driver is not installed
        raise LoadError(f"{shown}: cannot open the database: its driver (Python module {exc.name!r}) is not "
                        "installed; install it in the kit's environment or name another driver in the URL"
                        ) from None  # fmt: skip
    except Exception as exc:
        raise LoadError(f"{shown}: cannot open the database ({type(exc).__name__}: "
                        f"{_hidden(_first_line_hidden(exc), secrets)})") from None  # fmt: skip
    return engine, private


def _read_frame(engine, backend: str, shown: str, secrets: list[str], table: str | None, query: str | None):
    """Read the table or the query's result as a frame of objects, in a transaction rolled back after."""
    import sqlalchemy as sa

    try:
        with engine.connect() as connection:
            read_only = _READ_ONLY_TRANSACTION.get(backend)
            if read_only:
                connection.exec_driver_sql(read_only)
            statement = _table_statement(connection, shown, table) if table is not None else sa.text(query)
            frame = pd.read_sql_query(statement, connection, dtype=object)
            connection.rollback()  # a read leaves nothing to keep
    except LoadError:
        raise
    except Exception as exc:
        detail = _hidden(_first_line_hidden(getattr(exc, "orig", None) or exc), secrets)
        what = f"table {table!r}" if table is not None else "the query"
        if "authoriz" in detail or "readonly" in detail or "read-only" in detail or "query_only" in detail:
            detail += " (the kit opens databases read-only: a query may only read)"
        raise LoadError(f"{shown}: reading {what} failed: {detail}") from None
    return frame


def _table_statement(connection, shown: str, table: str):
    """Return the statement reading a whole table, or raise naming the tables there are."""
    import sqlalchemy as sa

    inspector = sa.inspect(connection)
    if not inspector.has_table(table):
        known = ", ".join(sorted(inspector.get_table_names())) or "none"
        raise LoadError(f"{shown}: table {table!r} not found (tables: {known})")
    return sa.select(sa.text("*")).select_from(sa.table(table))


def _raw_table(frame: pd.DataFrame, name: str, warned: str) -> RawTable:
    """Return the frame read as a raw table: rows counted from 1, missing values as "", bytes decoded."""
    if frame.empty:
        raise LoadError(f"{name}: no rows")
    frame = _with_normalised_columns(frame, name)
    frame = frame.where(frame.notna(), "")
    details = {"format": "SQL", **_bytes_as_text(frame, name)}
    if warned:
        details["database note"] = warned
    return RawTable(frame, name, np.arange(1, len(frame) + 1), details)


#: Warnings of the libraries about their own future (a deprecation), not about this read: dropped.
_LIBRARY_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)


def _warnings_note(caught: list, secrets: list[str]) -> str:
    """
    Return the warnings SQLAlchemy, a driver or pandas gave while reading, as one line without a secret; "" for none.

    Deprecations are dropped (they concern the libraries, not the data); any other
    warning (a URL parameter the driver ignores, a type it does not know) is kept, its
    first line only, without the library's file, line and "Background" link.
    """
    texts = []
    for item in caught:
        if issubclass(item.category, _LIBRARY_WARNINGS):
            continue
        text = _first_line_hidden(item.message)
        text = re.sub(r"\s*\(Background on this (?:warning|error) at: [^)]*\)", "", text).strip()
        text = _hidden(text, secrets)
        if text and text not in texts:
            texts.append(text)
    return ("the database library warned: " + " / ".join(texts)) if texts else ""


#: Inferred types of an object column that cannot hold bytes; any other (``bytes``,
#: ``mixed``, ``mixed-integer``…) is looked at value by value.
_NO_BYTES = frozenset({"string", "empty", "integer", "floating", "decimal", "boolean", "datetime", "date", "time",
                       "timedelta", "period", "interval", "complex", "integer-na", "mixed-integer-float"})  # fmt: skip


def _bytes_as_text(frame: pd.DataFrame, name: str) -> dict:
    """
    Decode values that are bytes (SQL ``BLOB``) as UTF-8 text in place; return the details note naming the columns.

    ``b'A'`` is never read as the text ``"b'A'"``: bytes that are not UTF-8 are a LoadError
    naming the column and the row.
    """
    decoded = []
    for position, column in enumerate(frame.columns):
        values = frame.iloc[:, position]
        if values.dtype != object or pd.api.types.infer_dtype(values, skipna=True) in _NO_BYTES:
            continue  # a cheap look first: a column of only text, numbers or dates holds no bytes
        texts, changed = [], False
        for row, value in enumerate(values.tolist(), start=1):
            if isinstance(value, (bytes, bytearray, memoryview)):
                try:
                    value = bytes(value).decode("utf-8")
                except UnicodeDecodeError:
                    raise LoadError(
                        f"{name}: column {column!r} holds bytes that are not UTF-8 text "
                        f"(row {row}); the kit reads columns of text, numbers and dates"
                    ) from None
                changed = True
            texts.append(value)
        if changed:
            frame[column] = pd.Series(texts, index=frame.index, dtype=object)
            decoded.append(column)
    return {"columns note": f"binary columns read as UTF-8 text: {', '.join(decoded)}"} if decoded else {}
