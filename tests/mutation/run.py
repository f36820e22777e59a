"""`make mutants`: mutation testing, with mutmut, of the modules that carry the HTTP contract.

mutmut looks for the code to mutate under ./, src/ or source/, and ours lives in functions/. So
this stages a copy in build/mutation (src/ holds our packages; tests/, events/, the CloudFront
Function and pyproject.toml, whose [tool.mutmut] section describes this layout, go beside it),
runs `mutmut run` there, runs the survivors once more on their own, and prints the score of
each module and every surviving mutant with its diff. docs/mutation-testing.md records the
last run and why each survivor is harmless.

Run it with the mutation virtualenv's Python (the Makefile does): mutmut needs a newer click
than the SAM CLI of the development group allows, and the project itself must not be installed
there, so that only the staged, mutated copy can be imported.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STAGE = ROOT / "build" / "mutation"
COPIED = {
    "functions/image_optimizer": "src/image_optimizer",
    "functions/image_optimizer_cli": "src/image_optimizer_cli",
    "functions/edge": "functions/edge",  # the edge tests load the CloudFront Function from here
    "tests": "tests",
    "events": "events",
    "pyproject.toml": "pyproject.toml",
}
# A mutant whose tests ran out of time changed what they observe (a loop that never ends):
# detected, as Stryker and PIT count it.
KILLED = {"killed", "caught by type check", "timeout"}


def stage() -> None:
    shutil.rmtree(STAGE, ignore_errors=True)
    for source, target in COPIED.items():
        origin, destination = ROOT / source, STAGE / target
        destination.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, destination, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(origin, destination)


def mutmut(*args: str, capture: bool = True) -> str:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "mutmut"), *args],
        cwd=STAGE, capture_output=capture, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"mutmut {' '.join(args)} failed:\n{(result.stderr or '')[-3000:]}")
    return result.stdout or ""


def outcomes() -> dict[str, str]:
    """Mutant name -> status, for every mutant of the last run."""
    lines = mutmut("results", "--all", "true").splitlines()
    return dict(line.strip().rsplit(": ", 1) for line in lines if ": " in line)


def module_of(mutant: str) -> str:
    return mutant.rsplit(".", 1)[0]


def report(statuses: dict[str, str], seconds: float) -> int:
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    for mutant, status in statuses.items():
        by_module[module_of(mutant)][status] += 1
    print(f"\nmutation testing: {len(statuses)} mutants in {seconds / 60:.1f} min\n")
    print(f"{'module':<34}{'mutants':>8}{'killed':>8}{'survived':>9}{'other':>7}{'score':>8}")
    for module in sorted(by_module):
        print(_row(module, by_module[module]))
    print(_row("all", sum(by_module.values(), Counter())))
    survivors = sorted(name for name, status in statuses.items() if status not in KILLED)
    if survivors:
        print(
            f"\n{len(survivors)} not killed (docs/mutation-testing.md says why each is harmless):"
        )
    for name in survivors:
        diff = [
            line
            for line in mutmut("show", name).splitlines()
            if line[:1] in "+-" and not line.startswith(("+++", "---"))
        ]
        print(f"\n{name} ({statuses[name]})")
        print("\n".join(f"    {line}" for line in diff))
    return 0


def _row(name: str, counts: Counter[str]) -> str:
    total = sum(counts.values())
    killed = sum(counts[status] for status in KILLED)
    other = total - killed - counts["survived"]
    score = 100 * killed / total if total else 0.0
    return f"{name:<34}{total:>8}{killed:>8}{counts['survived']:>9}{other:>7}{score:>7.1f}%"


def main() -> int:
    stage()
    started = time.monotonic()
    mutmut("run", capture=False)
    # A second look at the survivors, run again on their own: in full runs a few mutants that
    # loop for ever or wait on a timeout were seen to survive, and were killed when run again.
    first = outcomes()
    survivors = sorted(name for name, status in first.items() if status not in KILLED)
    if survivors:
        mutmut("run", *survivors, capture=False)
    statuses = outcomes()
    rescued = sum(statuses[name] in KILLED for name in survivors)
    print(f"\n{len(survivors)} survived the full run; run again, {rescued} of them were killed")
    return report(statuses, time.monotonic() - started)


if __name__ == "__main__":
    sys.exit(main())
