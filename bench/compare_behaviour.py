"""
Compare what the kit computes at two commits: `kit summary` at every grain and netting, and the report's text.

Behaviour of a refactoring is checked here, not assumed: the script checks out BASE (default: the first commit
of the current branch's upstream, or HEAD) into a temporary worktree, runs the same commands there and in this
working copy, and compares their outputs byte for byte (the summaries) and word for word (the reports' visible
text, with the generation timestamp and the embedded chart images set aside).

    .venv/bin/python bench/compare_behaviour.py --base 7cc0f41
    .venv/bin/python bench/compare_behaviour.py --base 7cc0f41 --no-report   # summaries only (seconds)

Datasets: the bundled sample (with its FX table, in both FX modes, and by segment), the sample as monthly
snapshots, and the mrr-playbook fixture of ../shared (skipped where absent). Exit status 0 when identical.
"""

from __future__ import annotations

import argparse
import difflib
import html
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOK = ROOT.parent / "shared" / "fixtures" / "mrr-playbook" / "subscription_periods.csv"
GRAINS = ("month", "quarter", "year")
NETTINGS = ("customer", "product")


def datasets(scratch: Path) -> dict[str, list[str]]:
    """Name → the data argument and options of `kit summary`, for each dataset present on this machine."""
    sample = str(ROOT / "data" / "sample_subscriptions.csv")
    fx = str(ROOT / "data" / "fx_rates.csv")
    found = {
        "sample": [sample, "--fx", fx, "--as-of", "2025-12-31"],
        "sample-fx-monthly": [sample, "--fx", fx, "--fx-mode", "monthly", "--as-of", "2025-12-31"],
        "sample-by-size": [sample, "--fx", fx, "--as-of", "2025-12-31", "--by", "size"],
        "sample-window-2": [sample, "--fx", fx, "--as-of", "2025-12-31", "--reactivation-window", "2"],
        "sample-usd": [sample, "--fx", fx, "--as-of", "2025-12-31", "--currency", "USD"],
    }
    snapshots = scratch / "sample_snapshots.csv"
    if not snapshots.exists():
        import kit

        ledger = kit.load_ledger(sample, fx=fx, today="2025-12-31")
        frame = ledger.frame
        out = frame.assign(month=frame["month"].astype(str), mrr=frame["mrr_cents"] / 100)
        out[["customer_id", "product", "month", "mrr", "size"]].to_csv(snapshots, index=False)  # already converted
    found["sample-snapshots"] = [str(snapshots), "--kind", "snapshots", "--as-of", "2025-12-31"]
    if PLAYBOOK.is_file():
        found["playbook"] = [str(PLAYBOOK), "--map", "monthly_amount=amount", "--default", "billing_period=month",
                             "--as-of", "2026-11-24"]  # fmt: skip
    return found


def run(tree: Path, args: list[str]) -> subprocess.CompletedProcess:
    """Run `python -m kit ARGS` with the kit of TREE."""
    return subprocess.run([sys.executable, "-m", "kit", *args], cwd=tree, capture_output=True, text=True,
                          env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())})  # fmt: skip


def summaries(tree: Path, scratch: Path) -> dict[str, str]:
    """Every dataset × grain × netting → the summary CSV (or the error) that TREE's kit gives."""
    out = {}
    for name, args in datasets(scratch).items():
        for grain in GRAINS:
            for netting in NETTINGS:
                done = run(tree, ["summary", *args, "--period", grain, "--netting", netting])
                out[f"{name} {grain} {netting}"] = done.stdout + (f"\nexit {done.returncode}: {done.stderr[-500:]}"
                                                                   if done.returncode else "")  # fmt: skip
    return out


def visible_text(page: str) -> str:
    """The words a reader sees: tags, scripts, styles, images and the generation time removed."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    page = re.sub(r"<img\b[^>]*>", " [image] ", page, flags=re.I)
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d( UTC)?", "<time>", text)
    return re.sub(r"\s+", " ", text).strip()


def reports(tree: Path, scratch: Path) -> dict[str, str]:
    """The visible text of the sample report (month, and quarter by product) and of the playbook report."""
    runs = {
        "report sample": [],
        "report sample quarter product": ["--period", "quarter", "--netting", "product", "--segment", "region"],
    }
    if PLAYBOOK.is_file():
        runs["report playbook"] = [str(PLAYBOOK), "--map", "monthly_amount=amount", "--default",
                                   "billing_period=month", "--as-of", "2026-11-24"]  # fmt: skip
    out = {}
    for name, args in runs.items():
        folder = Path(tempfile.mkdtemp(dir=scratch))
        done = run(tree, ["report", *args, "--output-dir", str(folder), "--name", "r"])
        page = folder / "r.html"
        out[name] = visible_text(page.read_text(encoding="utf-8")) if page.exists() else f"failed: {done.stderr}"
    return out


def main(argv: list[str] | None = None) -> int:
    """Compare BASE with the working copy; print each difference; 0 when there is none."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="HEAD", help="commit to compare with (default HEAD)")
    parser.add_argument("--no-report", action="store_true", help="compare the summaries only")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        base = scratch / "base"
        subprocess.run(["git", "worktree", "add", "--detach", str(base), options.base], cwd=ROOT, check=True,
                       capture_output=True)  # fmt: skip
        try:
            results = {}
            for side, tree in (("base", base), ("here", ROOT)):
                results[side] = summaries(tree, scratch)
                if not options.no_report:
                    results[side] |= reports(tree, scratch)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, capture_output=True)
    differ = 0
    for key in results["base"]:
        before, after = results["base"][key], results["here"].get(key)
        if before != after:
            differ += 1
            print(f"DIFFERENT: {key}")
            diff = difflib.unified_diff(before.split(". "), (after or "").split(". "), lineterm="", n=0)
            print("\n".join(list(diff)[:20]))
    failed = sum("\nexit " in value or value.startswith("failed") for value in results["here"].values())
    print(f"{len(results['base'])} outputs compared with {options.base}: {differ} different; "
          f"{failed} of them are errors on both sides' terms" if failed else
          f"{len(results['base'])} outputs compared with {options.base}: {differ} different")  # fmt: skip
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
