"""
The notebooks as notebooks: committed clean, exported without widget noise, run through a real Jupyter server.

``make test`` also runs both notebooks under nbval (``--nbval-lax``, set in pyproject.toml). The notebooks
are committed without outputs, so nbval has no stored output to compare; the values that must hold are
``assert``-ed in the notebooks' own check cells (a failed assert fails the nbval item), and the formatted
outputs are checked here, on the outputs of a real run:

* nbconvert: ``explore.ipynb`` executed headless (nbclient, as papermill and nbval run it) and exported to
  HTML holds the static charts and tables: no widget state, no "Error displaying widget", no script beyond
  the template's own.
* a Jupyter server started on 127.0.0.1 (random port, a token): a kernel made through its REST API runs
  every cell of ``explore.ipynb`` through the server's websocket channel, sending the metadata JupyterLab
  sends, so the pickers and searchable tables come out as widgets, and the tables as formatted HTML.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest

from kit import config

EXPLORE = config.NOTEBOOKS_DIR / "explore.ipynb"
NOTEBOOKS = sorted(config.NOTEBOOKS_DIR.glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
SERVER_START_SECONDS = 60
CELL_SECONDS = 300


def code_cells(path: Path) -> list:
    return [cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]


def kernel_env() -> dict:
    """The environment of a kernel started here: this checkout's kit first (a worktree, a CI clone)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(config.ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("KIT_INTERACTIVE", None)  # the kernel decides for itself whether a widget frontend runs
    return env


# --- as committed -----------------------------------------------------------------------------------------


def test_both_notebooks_are_there():
    assert [p.name for p in NOTEBOOKS] == ["expansion_report.ipynb", "explore.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_metadata_is_what_jupyterlab_writes(path):
    """
    JupyterLab 4.6 rewrites kernelspec and language_info on opening unless they are what the kernel says.

    Seen by serving the notebook in JupyterLab 4.6.6 with ipykernel 7.4.0 and letting it autosave: the
    kernelspec of the ``python3`` kernel (``display_name`` "Python 3 (ipykernel)") and ipykernel's full
    ``language_info``. Its ``version`` is the kernel's Python version (the one of ``.venv``, 3.11.7, here),
    so another Python's JupyterLab rewrites that one field; every other field holds everywhere.
    """
    from ipykernel.ipkernel import IPythonKernel

    metadata = nbformat.read(path, as_version=4).metadata
    assert metadata["kernelspec"] == {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    expected = {key: value for key, value in IPythonKernel.language_info.items() if key != "version"}
    written = dict(metadata["language_info"])
    assert re.fullmatch(r"3\.\d+\.\d+", written.pop("version"))
    assert written == expected
    assert set(metadata) <= {"kernelspec", "language_info"}  # nothing else JupyterLab could rewrite


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebooks_are_written_as_nbformat_writes_them(path):
    """Saved by JupyterLab or nbformat, the file is the same bytes: no diff from opening and saving."""
    text = path.read_text(encoding="utf-8")
    assert nbformat.writes(nbformat.reads(text, as_version=4)) + "\n" == text


# --- exported headless --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def explore_run(tmp_path_factory) -> nbformat.NotebookNode:
    """explore.ipynb executed by nbclient (as papermill, nbconvert and nbval run it)."""
    from nbclient import NotebookClient

    nb = nbformat.read(EXPLORE, as_version=4)
    previous = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = kernel_env()["PYTHONPATH"]
    try:
        NotebookClient(nb, timeout=CELL_SECONDS, kernel_name="python3",
                       resources={"metadata": {"path": str(config.NOTEBOOKS_DIR)}}).execute()  # fmt: skip
    finally:
        if previous is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = previous
    return nb


def _html_export(nb) -> str:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nb)
    return body


@pytest.mark.slow
def test_the_html_export_of_a_headless_run_is_static(explore_run):
    outputs = [output for cell in explore_run.cells for output in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error" or o.get("name") == "stderr"]
    assert not [o for o in outputs if WIDGET_VIEW in o.get("data", {})]
    assert "widgets" not in explore_run.metadata  # no widget state recorded: nothing for a page to load
    assert any("image/png" in o.get("data", {}) for o in outputs)

    page = _html_export(explore_run)
    empty = _html_export(nbformat.v4.new_notebook(metadata=explore_run.metadata))
    noises = ("Error displaying widget", "widget-view+json", "@jupyter-widgets", "html-manager", "DataTable", "itables",
              "Traceback", 'data-mime-type="application/vnd.jupyter.stderr"')  # fmt: skip
    for noise in noises:
        assert noise not in page, noise
    assert page.count("<script") == empty.count("<script")  # only the template's own scripts
    assert "$" in page and "%" in page


# --- through a real Jupyter server --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A Jupyter server on 127.0.0.1 and the few REST calls the test needs."""

    def __init__(self, root: Path, runtime: Path):
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = runtime / "server.log"
        env = {**kernel_env(), "JUPYTER_RUNTIME_DIR": str(runtime), "JUPYTER_CONFIG_DIR": str(runtime / "config")}
        command = [sys.executable, "-m", "jupyter_server", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
                   "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
                   f"--ServerApp.root_dir={root}", "--ServerApp.allow_root=True"]  # fmt: skip
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method,
                                         headers={"Authorization": f"token {self.token}",
                                                  "Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
        return json.loads(text) if text else {}

    def wait(self) -> str | None:
        """Return None once the server answers, else why it did not."""
        deadline = time.monotonic() + SERVER_START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return f"jupyter server exited with {self.process.returncode}: {self.log.read_text()[-800:]}"
            try:
                self.request("GET", "/api/status")
                return None
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.3)
        return f"jupyter server did not answer within {SERVER_START_SECONDS}s: {self.log.read_text()[-800:]}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Channel:
    """A kernel's websocket channel on the server: execute a cell, gather every message it caused."""

    def __init__(self, server: Server, kernel_id: str):
        import websocket

        self.session = uuid.uuid4().hex
        url = f"ws://127.0.0.1:{server.port}/api/kernels/{kernel_id}/channels?session_id={self.session}"
        self.socket = websocket.create_connection(url, header=[f"Authorization: token {server.token}"],
                                                  timeout=CELL_SECONDS)  # fmt: skip

    def execute(self, code: str, metadata: dict) -> tuple[dict, list[dict]]:
        """Run ``code``; return the execute_reply and every iopub message of the request."""
        msg_id = uuid.uuid4().hex
        header = {"msg_id": msg_id, "msg_type": "execute_request", "session": self.session, "username": "test",
                  "version": "5.3", "date": datetime.now(UTC).isoformat()}  # fmt: skip
        content = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                   "allow_stdin": False, "stop_on_error": True}  # fmt: skip
        self.socket.send(json.dumps({"header": header, "parent_header": {}, "metadata": metadata,
                                     "content": content, "channel": "shell", "buffers": []}))  # fmt: skip
        reply, messages, idle = None, [], False
        while reply is None or not idle:
            message = json.loads(self.socket.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if message["channel"] == "shell":
                reply = message
            elif message["channel"] == "iopub":
                messages.append(message)
                idle |= message["msg_type"] == "status" and message["content"]["execution_state"] == "idle"
        return reply, messages

    def close(self) -> None:
        self.socket.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    runtime = tmp_path_factory.mktemp("jupyter")
    try:
        import jupyter_server  # noqa: F401
        import websocket  # noqa: F401
    except ImportError as missing:
        pytest.skip(f"the Jupyter server test needs {missing.name} (requirements.txt installs it)")
    running = Server(config.ROOT, runtime)
    why = running.wait()
    if why:
        running.stop()
        pytest.skip(f"cannot start a Jupyter server on 127.0.0.1: {why}")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def lab_run(server):
    """Every code cell of explore.ipynb run through the server's kernel, as JupyterLab sends it."""
    kernel = server.request("POST", "/api/kernels", {"name": "python3", "path": "notebooks"})
    channel = Channel(server, kernel["id"])
    try:
        runs = []
        for cell in code_cells(EXPLORE):
            lab_metadata = {"cellId": cell.id, "deletedCells": [], "recordTiming": False, "trusted": True}
            runs.append((cell, *channel.execute(cell.source, lab_metadata)))
        headless = channel.execute("import kit.interactive\nkit.interactive.widget_frontend()", {})
        yield runs, headless
    finally:
        channel.close()
        server.request("DELETE", f"/api/kernels/{kernel['id']}")


def _outputs(messages: list[dict]) -> list[dict]:
    return [m["content"] for m in messages if m["msg_type"] in ("display_data", "execute_result")]


@pytest.mark.slow
@pytest.mark.server
def test_explore_runs_through_a_jupyter_server_kernel(lab_run):
    runs, _ = lab_run
    assert runs, "explore.ipynb has no code cell"
    for cell, reply, messages in runs:
        errors = [m["content"] for m in messages if m["msg_type"] == "error"]
        assert reply["content"]["status"] == "ok" and not errors, (cell.source, errors)
        stderr = "".join(m["content"]["text"] for m in messages
                         if m["msg_type"] == "stream" and m["content"]["name"] == "stderr")  # fmt: skip
        assert not stderr, (cell.source, stderr)  # no traceback, no warning


@pytest.mark.slow
@pytest.mark.server
def test_the_server_run_shows_formatted_tables(lab_run):
    runs, _ = lab_run
    pages = [o["data"]["text/html"] for _, _, messages in runs for o in _outputs(messages) if "text/html" in o["data"]]
    tables = [page for page in pages if "<table" in page]
    assert tables, "no table displayed"
    money = re.compile(r"\$\d{1,3}(,\d{3})*\.\d\d")
    rate = re.compile(r"\d+\.\d%")
    assert any(money.search(page) and rate.search(page) for page in tables), "no table with $ money and % rates"
    assert not any(re.search(r">\s*\d{7,}\s*<", page) for page in tables), "raw integer cents in a table"


@pytest.mark.slow
@pytest.mark.server
def test_the_server_run_has_pickers_and_searchable_tables(lab_run):
    runs, headless = lab_run
    messages = [m for _, _, cell_messages in runs for m in cell_messages]
    views = [o for o in _outputs(messages) if WIDGET_VIEW in o["data"]]
    assert views, "no widget displayed where JupyterLab would show it"
    opened = [m["content"] for m in messages if m["msg_type"] == "comm_open"]
    models = {c["data"]["state"].get("_model_name") for c in opened if c["target_name"] == "jupyter.widget"}
    assert {"DropdownModel", "SelectionRangeSliderModel", "OutputModel"} <= models
    # ipywidgets' Output: the kernel tells the widget which request's outputs are its own (state msg_id), and
    # JupyterLab routes that request's display_data into it: the chart and the table the pickers redraw
    (explorer,) = [msgs for _, _, msgs in runs if any(WIDGET_VIEW in o["data"] for o in _outputs(msgs))]
    captured = [m for m in explorer if m["msg_type"] == "comm_msg" and m["content"]["data"].get("method") == "update"
                and m["content"]["data"]["state"].get("msg_id")]  # fmt: skip
    assert captured and captured[0]["content"]["data"]["state"]["msg_id"] == explorer[0]["parent_header"]["msg_id"]
    start = explorer.index(captured[0])
    drawn = [m["content"]["data"] for m in explorer[start:] if m["msg_type"] == "display_data"]
    assert any("image/png" in data for data in drawn), "the pickers' output holds no chart"
    assert any("$" in data.get("text/html", "") and "%" in data.get("text/html", "") for data in drawn)
    pages = [o["data"]["text/html"] for o in _outputs(messages) if "text/html" in o["data"]]
    assert any("new ITable(" in page for page in pages), "no searchable table"
    assert not any("cdn.jsdelivr" in page or "unpkg.com" in page for page in pages), "a table fetches from a CDN"
    # the same kernel asked by a client that names no cell (nbclient, nbval): no widget frontend
    _, headless_messages = headless
    (result,) = [o for o in _outputs(headless_messages) if "text/plain" in o["data"]]
    assert result["data"]["text/plain"] == "False"
