"""
Where data is: file paths and database URLs, checked and shown without their secrets.

A password or a secret query parameter of a URL, or a ``user:password@`` in a path (a URL
that lost its scheme), is shown as ``***`` in every message and stored parameter.
SQLite URLs can be made absolute for a reading that runs in another folder.
"""

from __future__ import annotations

import re
from pathlib import Path

from kit.errors import LoadError


def is_database_url(source: object) -> bool:
    """Tell whether ``source`` is a SQLAlchemy URL (``dialect://...``)."""
    return isinstance(source, str) and re.match(r"^[a-zA-Z][a-zA-Z0-9+]*://", source) is not None


def shown_url(source: str) -> str:
    """
    Return a data source as it may be shown or stored: a database URL with its password hidden.

    >>> shown_url("postgresql://me:s3cret@db.example/sales"), shown_url("data/x.csv")
    ('postgresql://me:***@db.example/sales', 'data/x.csv')
    >>> shown_url("postgresql://me@db.example/sales?sslmode=require&password=s3cret")
    'postgresql://me@db.example/sales?password=***&sslmode=require'
    """
    if not is_database_url(source):
        return source
    import sqlalchemy as sa

    try:
        return _safe_url(sa.engine.make_url(source))
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy reads: keep the scheme only
        return source.split("://", 1)[0] + "://…"


def sqlite_url_file(source: str) -> Path | None:
    """
    Return the file of an SQLite URL (as written: relative or absolute).

    None for another URL or an in-memory database.

    >>> sqlite_url_file("sqlite:///bill.db?mode=ro"), sqlite_url_file("postgresql://h/db")
    (PosixPath('bill.db'), None)
    """
    import sqlalchemy as sa

    try:
        url = sa.engine.make_url(source)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy reads: read_database says so
        return None
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    if url.database.startswith("file:"):  # an SQLite URI (uri=true): its path up to the query
        return Path(url.database[5:].split("?", 1)[0])
    return Path(url.database)


def absolute_sqlite_url(source: str, base: Path | None = None) -> str:
    """
    Return an SQLite URL whose relative file is made absolute against ``base`` (default: the working folder).

    Any other URL, or one already absolute, is returned unchanged; so is everything but the
    file of an SQLite URL (driver, query). Used where the reading runs in another folder
    (the report's kernel), so that ``sqlite:///bill.db`` reads the file the caller meant.

    >>> absolute_sqlite_url("sqlite:///bill.db?timeout=5", Path("/data"))
    'sqlite:////data/bill.db?timeout=5'
    """
    import sqlalchemy as sa

    file = sqlite_url_file(source)
    if file is None or file.is_absolute():
        return source
    url = sa.engine.make_url(source)
    if url.database.startswith("file:"):
        rest = url.database[5 + len(str(file)) :]
        return url.set(database=f"file:{(base or Path.cwd()) / file}{rest}").render_as_string(hide_password=False)
    return url.set(database=str((base or Path.cwd()) / file)).render_as_string(hide_password=False)


#: ``user:password@`` at the start of a path or after a folder: how a URL without its scheme begins.
_USER_PASSWORD = re.compile(r"(^|/)([^/:@\s]*):([^/@\s]+)@")


def shown_path(path: Path | str) -> str:
    """
    Return a path as a message may show it: a ``user:password@`` in it (a database URL that lost its scheme) hidden.

    >>> shown_path("bob:S3cretPW@host/db"), shown_path("data/x.csv")
    ('bob:***@host/db', 'data/x.csv')
    """
    return _USER_PASSWORD.sub(r"\1\2:***@", str(path))


def _schemeless_url_hint(path: Path | str) -> str:
    """Advice for a missing "file" that looks like a database URL without its ``dialect://``; else empty."""
    text = str(path)
    if _USER_PASSWORD.search(text) or re.match(r"^[^/\s]*@[^/\s]+/", text):
        return (
            "; it looks like a database URL without its dialect:// scheme: write it as "
            "dialect://user:password@host/database (e.g. postgresql://…)"
        )
    return ""


def check_readable(path: Path) -> None:
    """
    Raise :class:`LoadError` with one sentence unless ``path`` is a file that can be read.

    The path is shown by :func:`shown_path`: a password in it never reaches the message.
    """
    shown = shown_path(path)
    if not path.exists():
        raise LoadError(f"{shown}: file not found{_schemeless_url_hint(path)}")
    if path.is_dir():
        raise LoadError(f"{shown}: is a directory, not a file")
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise LoadError(f"{shown}: cannot be read ({exc.strerror or exc})") from None


#: Query parameters of a database URL that hold secrets (case and ``-``/``_`` ignored).
_SECRET_KEYS = re.compile(r"(pass(word)?|passwd|pwd|secret|token|api_?key|access_?key|credentials?|auth)", re.I)


def _safe_url(url) -> str:
    """Return a URL as it may be shown: its password and every secret query parameter as ``***``."""
    query = {k: ("***" if _SECRET_KEYS.search(k) else v) for k, v in url.query.items()}
    return url.set(query=query).render_as_string(hide_password=True).replace("=%2A%2A%2A", "=***")


def _secrets(url) -> list[str]:
    """Return the secret texts of a URL (password, secret query values), to hide in any message."""
    values = [url.password] if url.password else []
    for key, value in url.query.items():
        if _SECRET_KEYS.search(key):
            values += [value] if isinstance(value, str) else list(value)
    return sorted({str(v) for v in values if v}, key=len, reverse=True)


def _hidden(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _first_line_hidden(exc: BaseException) -> str:
    """Return the first line of an exception's message, without a URL's password."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1***@", text)
    return re.sub(
        r"(?i)\b((?:pass(?:word)?|passwd|pwd|secret|token|api_?key)\s*[=:]\s*)('[^']*'|\"[^\"]*\"|[^\s&;,)]+)",
        r"\1***",
        text,
    )
