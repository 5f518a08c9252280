# Two commands set everything up on a new machine: `make report` and `make test`.
# The project's interpreter is .venv/bin/python (created here from Python 3.11 or newer).

PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: report test lint install bench clean

report: $(STAMP)
	$(PY) -m kit report

# The tests, the doctests of kit/, both notebooks under nbval and the live Jupyter server test (pyproject.toml's
# testpaths and addopts); `-m "not server"` leaves out the server, `-m "not slow"` every end-to-end run.
test: lint
	$(PY) -m pytest

install: $(STAMP)

# The linters (make test runs them first): ruff under the settings in pyproject.toml.
lint: $(STAMP)
	$(PY) -m ruff check kit tests bench
	$(PY) -m ruff format --check kit tests bench

$(STAMP): requirements.txt pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is needed (python3 --version)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

bench: $(STAMP)
	$(PY) bench/bench_summary.py
	$(PY) bench/bench_csv.py
	$(PY) bench/bench_report.py
	$(PY) bench/bench_stripe.py

clean:
	rm -rf $(VENV) reports/*.html reports/*.ipynb .pytest_cache
