"""Write the parameter table into the CloudFront Function, and the function into template.yaml.

Two copies are derived here, and a test fails when either is stale (``make generate``
writes both):
- viewer-request.js's block between the GENERATED markers: `image_optimizer.parameters`'s table
  as the function reads it, with no allow-lists and the default MAX_DIMENSION, so that the file
  runs as it is under node;
- template.yaml's ``FunctionCode``, where CloudFormation needs the code inline: the file without
  its comments (CloudFront counts every byte against its 10 KB, and the template's parameters
  add theirs), with MAX_DIMENSION and the allow-lists taken from the template's parameters
  through ``!Sub``, so that the edge and the function refuse the same values.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from image_optimizer.parameters import PARAMETERS, Kind, Parameter
from image_optimizer.settings import DEFAULT_MAX_DIMENSION

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "functions" / "edge" / "viewer-request.js"
TEMPLATE = ROOT / "template.yaml"
INDENT = " " * 8
BEGIN = (
    "// BEGIN GENERATED from image_optimizer/parameters.py by embed_in_template.py: do not edit\n"
)
END = "// END GENERATED\n"
_BLOCK = re.compile(r"(      FunctionCode: !Sub \|\n)((?:        .*\n|\n)+)")
# A comment on a line of its own, or after code (always after a space, so never inside a
# regular expression literal or a URL); and the indentation, which only people read.
_COMMENT = re.compile(r"^\s*//.*\n|(?<=[;{},)]) +//.*$", re.MULTILINE)
_INDENTATION = re.compile(r"^[ ]+|^\n", re.MULTILINE)
_MAX_DIMENSION = "MAX_DIMENSION"


def table_block(parameters: Sequence[Parameter] = PARAMETERS, *, for_template: bool = False) -> str:
    """The generated lines of viewer-request.js; ``for_template``: with CloudFormation's
    ``${...}`` in place of the defaults."""
    max_dimension = "${MaxDimension}" if for_template else str(DEFAULT_MAX_DIMENSION)
    allowed = ", ".join(
        f"{p.name}: [{'${' + p.allow_list.template_parameter + '}' if for_template else ''}]"
        for p in parameters
        if p.allow_list is not None
    )
    entries = ",\n".join(f"    {_entry(p)}" for p in parameters)
    return (
        f"var MAX_DIMENSION = {max_dimension};\n"
        f"var ALLOWED = {{ {allowed} }};\n"
        "// [name, kind, the value that means the same as leaving it out, ...what its kind needs]\n"
        f"var PARAMETERS = [\n{entries},\n];\n"
        "var BY_NAME = {};\n"
        "PARAMETERS.forEach(function (p) { BY_NAME[p[0]] = p; });\n"
    )


def _entry(parameter: Parameter) -> str:
    head = [_js(parameter.name), _js(parameter.kind.value), _js(parameter.neutral)]
    if parameter.kind is Kind.NUMBER:
        high = _MAX_DIMENSION if parameter.high is None else f"{parameter.high:g}"
        description = _js(parameter.describe(DEFAULT_MAX_DIMENSION))
        if parameter.high is None:  # the deployment's limit, as the template sets it
            described = parameter.describe(DEFAULT_MAX_DIMENSION)
            description = f"{_js(described.removesuffix(str(DEFAULT_MAX_DIMENSION)))} + {high}"
        rest = [_regex(parameter.pattern), f"{parameter.low:g}", high, description]
    elif parameter.kind is Kind.CHOICE:
        rest = [
            _js(list(parameter.choices)),
            _js(dict(parameter.aliases)),
            _js(parameter.describe(0)),
        ]
    else:
        rest = [
            _regex(parameter.pattern),
            _js(parameter.case_sensitive),
            _js(parameter.describe(0)),
        ]
    return f"[{', '.join(head + rest)}]"


def _js(value: object) -> str:
    return json.dumps(value, ensure_ascii=True).replace('"', "'")


def _regex(pattern: str) -> str:
    return f"/^(?:{pattern})$/"


def with_table(code: str, block: str) -> str:
    """viewer-request.js with ``block`` between its GENERATED markers."""
    start, end = code.find(BEGIN), code.find(END)
    if start < 0 or end < start:
        raise SystemExit("viewer-request.js must have its GENERATED markers")
    return code[: start + len(BEGIN)] + block + code[end:]


def deployed(code: str, parameters: Sequence[Parameter] = PARAMETERS) -> str:
    """The code as CloudFront gets it: the template's values spliced in, comments and
    indentation stripped."""
    code = _COMMENT.sub("", with_table(code, table_block(parameters, for_template=True)))
    return _INDENTATION.sub("", code)


def embedded(template: str, code: str) -> str:
    match = _BLOCK.search(template)
    if match is None:
        raise SystemExit("template.yaml has no `FunctionCode: !Sub |` block to fill")
    lines = [f"{INDENT}{line}" if line else "" for line in deployed(code).rstrip("\n").split("\n")]
    return template[: match.start(2)] + "\n".join(lines) + "\n\n" + template[match.end(2) :]


def main() -> int:
    code = with_table(SOURCE.read_text(), table_block())
    SOURCE.write_text(code)
    TEMPLATE.write_text(embedded(TEMPLATE.read_text(), code))
    return 0


if __name__ == "__main__":
    sys.exit(main())
