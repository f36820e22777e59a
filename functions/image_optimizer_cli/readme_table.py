"""The README's table of URL parameters, written from `image_optimizer.parameters`.

The table sits between two markers in README.md; ``make generate`` rewrites it, and a test
fails when the README's copy differs from what the parameter table says.
"""

from __future__ import annotations

import sys
from pathlib import Path

from image_optimizer.parameters import PARAMETERS

README = Path(__file__).resolve().parents[2] / "README.md"
BEGIN = "<!-- BEGIN PARAMETERS: written by `make generate` from parameters.py -->\n"
END = "<!-- END PARAMETERS -->\n"


def table() -> str:
    rows = [
        "| parameter | meaning | valid values |",
        "|---|---|---|",
        *(f"| `{p.name}` | {p.meaning} | {p.values} |" for p in PARAMETERS),
    ]
    return "\n".join(rows) + "\n"


def with_table(readme: str) -> str:
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise SystemExit("README.md must have the PARAMETERS markers")
    return readme[: start + len(BEGIN)] + table() + readme[end:]


def main() -> int:
    README.write_text(with_table(README.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
