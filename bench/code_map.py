"""
Print the map of kit/: each module's lines and job, and the cyclomatic complexity of its functions (radon).

    .venv/bin/python bench/code_map.py            # the table and the figures
    .venv/bin/python bench/code_map.py --worst 15 # and the fifteen most complex functions

Lines are physical lines of the file; the job is the first line of the module docstring. Complexity is radon's
cyclomatic complexity of every function and method (ranks: A 1-5, B 6-10, C 11-20, D 21-30, E 31-40, F 41+),
the same measure STYLE.md quotes for papermill and lifetimes.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

from radon.complexity import cc_rank, cc_visit

ROOT = Path(__file__).resolve().parent.parent


def modules() -> list[Path]:
    """Every Python file of the kit package, in path order."""
    return sorted((ROOT / "kit").rglob("*.py"))


def job(path: Path) -> str:
    """The first line of the module's docstring, or '' where it has none."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def main(argv: list[str] | None = None) -> None:
    """Print the module table, then the complexity figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worst", type=int, default=5, help="how many of the most complex functions to list")
    options = parser.parse_args(argv)
    blocks, rows = [], []
    for path in modules():
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(ROOT).as_posix()
        rows.append((name, len(text.splitlines()), job(path)))
        blocks += [(name, block) for block in cc_visit(text)]
    width = max(len(name) for name, _, _ in rows)
    print(f"{'module':<{width}}  lines  job")
    for name, lines, what in rows:
        print(f"{name:<{width}}  {lines:>5}  {what[:90]}")
    lines = sorted(count for _, count, _ in rows)
    median = lines[len(lines) // 2] if len(lines) % 2 else (lines[len(lines) // 2 - 1] + lines[len(lines) // 2]) / 2
    print(f"\n{len(rows)} modules, {sum(lines):,} lines; median {median:g}, max {max(lines):,}; "
          f"{sum(count > 500 for count in lines)} over 500, "
          f"{sum(count > 600 for count in lines)} over 600")  # fmt: skip
    scores = [block.complexity for _, block in blocks]
    worse = [item for item in blocks if cc_rank(item[1].complexity) >= "C"]
    print(f"{len(scores)} blocks (functions, methods, classes); mean complexity {sum(scores) / len(scores):.1f}; "
          f"{len(worse)} rated C or worse")  # fmt: skip
    for name, block in sorted(blocks, key=lambda item: -item[1].complexity)[: options.worst]:
        print(f"  {block.complexity:>3} {cc_rank(block.complexity)}  {name}:{block.lineno} {block.fullname}")


if __name__ == "__main__":
    main()
