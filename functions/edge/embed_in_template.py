"""Write the parameter table into the CloudFront Function, and the function into template.yaml.

Two copies are derived here, and a test fails when either is stale (``make generate``
writes both):
- viewer-request.js's block between the GENERATED markers: `image_optimizer.parameters`'s table
  as the function reads it, with no allow-lists and the default MAX_DIMENSION, so that the file
  runs as it is under node;
- template.yaml's ``FunctionCode``, where CloudFormation needs the code inline. CloudFront counts
  every byte against its 10 KB, and the template's parameters add theirs, so the generated block
  goes in without its comments and indentation, with MAX_DIMENSION, the allow-lists, the presets
  and the signing mode taken from the template's parameters through ``!Sub`` (so that the edge
  and the function refuse the same values), and the code after it minified by terser (pinned in
  package.json; installed by ``npm ci`` in this folder, which make does).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from image_optimizer.parameters import PARAMETERS, Kind, Parameter
from image_optimizer.settings import DEFAULT_MAX_DIMENSION

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "functions" / "edge" / "viewer-request.js"
TEMPLATE = ROOT / "template.yaml"
INDENT = " " * 10
BEGIN = (
    "// BEGIN GENERATED from image_optimizer/parameters.py by embed_in_template.py: do not edit\n"
)
END = "// END GENERATED\n"
# The code is the first item of `FunctionCode: !Sub [code, {variables}]`.
_BLOCK = re.compile(r"(      FunctionCode: !Sub\n        - \|\n)((?:          .*\n|\n)+)")
# A comment on a line of its own, or after code (always after a space, so never inside a
# regular expression literal or a URL); and the indentation, which only people read.
_COMMENT = re.compile(r"^\s*//.*\n|(?<=[;{},)]) +//.*$", re.MULTILINE)
_INDENTATION = re.compile(r"^[ ]+|^\n", re.MULTILINE)
_MINIFY = """
const source = require('fs').readFileSync(0, 'utf8');
require('terser').minify(source, { compress: { ecma: 5 }, mangle: true, ecma: 5 })
    .then((result) => process.stdout.write(result.code));
"""
_MAX_DIMENSION = "MAX_DIMENSION"


def table_block(parameters: Sequence[Parameter] = PARAMETERS, *, for_template: bool = False) -> str:
    """The generated lines of viewer-request.js; ``for_template``: with CloudFormation's
    ``${...}`` in place of the defaults (which are the local server's: no presets, unsigned URLs
    may ask for anything, and a signature is passed on when there is one)."""

    def deployment(template_value: str, default: str) -> str:
        return template_value if for_template else default

    def listed(kind: Kind, written: str) -> str:
        """The allow-lists of the parameters of ``kind`` (TEXT, or the numbers), as JS."""
        return ", ".join(
            f"{p.name}: {written.format(deployment(f'${{{p.allow_list.template_parameter}}}', ''))}"
            for p in parameters
            if p.allow_list is not None and (p.kind is Kind.TEXT) == (kind is Kind.TEXT)
        )

    entries = ",\n".join(f"    {_entry(p)}" for p in parameters)
    return (
        f"var MAX_DIMENSION = {deployment('${MaxDimension}', str(DEFAULT_MAX_DIMENSION))};\n"
        f"var ALLOWED = {{ {listed(Kind.NUMBER, '[{}]')} }};\n"
        "// a text parameter's allowed values: the names of the JSON object the template gives\n"
        f"var LISTED = {{ {listed(Kind.TEXT, "'{}'")} }};\n"
        f"var PRESETS = '{deployment('${Presets}', '')}';\n"
        f"var UNSIGNED_URLS = '{deployment('${UnsignedUrls}', 'any')}';\n"
        f"var SIGNED = {deployment('${SigningOn}', 'true')};\n"
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
        # No description where it is the list itself ("one of ..."): the function words it so.
        own_words = parameter.expected or None
        rest = [_js(list(parameter.choices)), _js(dict(parameter.aliases)), _js(own_words)]
    else:
        rest = [
            _regex(parameter.pattern),
            _js(parameter.case_sensitive),
            _js(parameter.describe(0)),
        ]
    return f"[{','.join(head + rest)}]"


def _js(value: object) -> str:
    return json.dumps(value, ensure_ascii=True, separators=(",", ":")).replace('"', "'")


def _regex(pattern: str) -> str:
    return f"/^(?:{pattern})$/"


def with_table(code: str, block: str) -> str:
    """viewer-request.js with ``block`` between its GENERATED markers."""
    start, end = code.find(BEGIN), code.find(END)
    if start < 0 or end < start:
        raise SystemExit("viewer-request.js must have its GENERATED markers")
    return code[: start + len(BEGIN)] + block + code[end:]


def deployed(code: str, parameters: Sequence[Parameter] = PARAMETERS) -> str:
    """The code as CloudFront gets it: the generated block with the template's values spliced
    in, comments and indentation stripped, then the rest minified."""
    block = _INDENTATION.sub("", _COMMENT.sub("", table_block(parameters, for_template=True)))
    return f"{block}{minified(code[code.index(END) + len(END) :])}\n"


def minified(code: str) -> str:
    """``code`` as terser writes it, names mangled: the top-level names stay, since the
    generated block and CloudFront (``handler``) use them."""
    result = subprocess.run(
        ["node", "-e", _MINIFY],
        input=code,
        capture_output=True,
        text=True,
        cwd=SOURCE.parent,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"terser failed (npm ci in functions/edge?): {result.stderr[-500:]}")
    return result.stdout


def embedded(template: str, code: str) -> str:
    match = _BLOCK.search(template)
    if match is None:
        raise SystemExit("template.yaml has no `FunctionCode: !Sub` code block to fill")
    lines = [f"{INDENT}{line}" if line else "" for line in deployed(code).rstrip("\n").split("\n")]
    return template[: match.start(2)] + "\n".join(lines) + "\n\n" + template[match.end(2) :]


def main() -> int:
    code = with_table(SOURCE.read_text(), table_block())
    SOURCE.write_text(code)
    TEMPLATE.write_text(embedded(TEMPLATE.read_text(), code))
    return 0


if __name__ == "__main__":
    sys.exit(main())
