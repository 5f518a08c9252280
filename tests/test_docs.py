"""The docs where the user looks: README's Python section, docs/definitions.md, help(kit.movements)."""

from __future__ import annotations

import pydoc
import re

import kit
from kit import config

README = (config.ROOT / "README.md").read_text(encoding="utf-8")


def _python_section() -> str:
    start = README.index("## In Python")
    end = README.index("\n## ", start + 1)
    return README[start:end]


def test_every_file_a_docstring_or_the_readme_names_exists():
    named = set()
    for path in [*(config.ROOT / "kit").rglob("*.py"), config.ROOT / "README.md"]:
        named |= set(re.findall(r"\b((?:docs|bench|notebooks|examples)/[\w./-]+\.(?:md|py|ipynb|toml|csv))",
                                path.read_text(encoding="utf-8")))  # fmt: skip
    assert "docs/definitions.md" in named
    missing = sorted(name for name in named if not (config.ROOT / name).exists())
    assert not missing, missing


def test_no_docstring_points_to_the_design_file_the_repository_lacks():
    assert not (config.ROOT / "DESIGN.md").exists()
    for path in (config.ROOT / "kit").rglob("*.py"):
        assert "DESIGN.md" not in path.read_text(encoding="utf-8"), path


def test_help_of_kit_movements_shows_the_definitions():
    text = pydoc.render_doc(kit.movements, renderer=pydoc.plaintext)
    for line in ("new            S = 0, E > 0, never active in an earlier one  E",
                 "expansion      S > 0, E > S                                  E − S",
                 "cross_sell = D·X // (U + X)"):  # fmt: skip
        assert line in text
    assert "docs/definitions.md" in pydoc.render_doc(kit, renderer=pydoc.plaintext)


def test_the_definitions_page_states_the_summary_contract_in_order():
    page = (config.ROOT / "docs" / "definitions.md").read_text(encoding="utf-8")
    chunks = re.findall(r"`([^`]+)`", page[page.index("## Summary") : page.index("## The tables")])
    names = [part.split("=")[0].strip() for chunk in chunks for part in chunk.split(",")]
    in_order = [name for name in names if name in kit.SUMMARY_COLUMNS]
    assert list(dict.fromkeys(in_order)) == kit.SUMMARY_COLUMNS


def test_the_readme_python_section_shows_every_public_function():
    section = _python_section()
    functions = [name for name in kit.__all__ if callable(getattr(kit, name)) and name[0].islower()]
    missing = [name for name in functions if f"kit.{name}(" not in section]
    assert not missing, missing


def test_the_readme_python_example_runs_on_the_bundled_sample(tmp_path, monkeypatch):
    block = _python_section().split("```python\n", 1)[1].split("```", 1)[0]
    target = tmp_path / "sample.xlsx"
    block = block.replace('"reports/sample.xlsx"', repr(str(target)))
    monkeypatch.chdir(config.ROOT)  # the example's paths are the repository's
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - the README's own example
    assert target.is_file() and namespace["ledger"].quality.rows_used > 0
