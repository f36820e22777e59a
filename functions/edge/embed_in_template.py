"""Copy viewer-request.js into template.yaml, where CloudFormation needs the code inline.

CloudFront Functions take their code as a string in the template; the file stays the one
source (node tests run it), and this script writes it into the ViewerRequestFunction's
``FunctionCode`` block, with the limits on w, h, q and dpr taken from the template's MaxDimension
and Allowed* parameters (through !Sub) so that the edge and the function refuse the same values.
Run by `make embed-edge-function`; a test fails when the two differ.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "functions" / "edge" / "viewer-request.js"
TEMPLATE = ROOT / "template.yaml"
INDENT = " " * 8
_BLOCK = re.compile(r"(      FunctionCode: !Sub \|\n)((?:        .*\n|\n)+)")
# What the file says for local tests -> what CloudFormation substitutes from the parameters.
SUBSTITUTIONS = {
    "var MAX_DIMENSION = 4096;": "var MAX_DIMENSION = ${MaxDimension};",
    "var ALLOWED = { w: [], h: [], q: [], dpr: [] };": (
        "var ALLOWED = { w: [${AllowedWidths}], h: [${AllowedHeights}], q: [${AllowedQualities}], "
        "dpr: [${AllowedDensities}] };"
    ),
}


def for_template(code: str) -> str:
    """The code as the template holds it: the limits substituted by CloudFormation."""
    for line, substituted in SUBSTITUTIONS.items():
        if line not in code:
            raise SystemExit(f"viewer-request.js must define {line!r}")
        code = code.replace(line, substituted)
    return code


def embedded(template: str, code: str) -> str:
    match = _BLOCK.search(template)
    if match is None:
        raise SystemExit("template.yaml has no `FunctionCode: !Sub |` block to fill")
    text = for_template(code).rstrip("\n")
    lines = [f"{INDENT}{line}" if line else "" for line in text.split("\n")]
    return template[: match.start(2)] + "\n".join(lines) + "\n\n" + template[match.end(2) :]


def main() -> int:
    TEMPLATE.write_text(embedded(TEMPLATE.read_text(), SOURCE.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
