"""tests/prerequisites.sh, which `make test` runs first on a bare machine: it installs what is
missing when it may, and otherwise names each missing program."""

from __future__ import annotations

import subprocess
from pathlib import Path

from conftest import ROOT

SCRIPT = ROOT / "tests" / "prerequisites.sh"
STUB = "#!/bin/bash\n{body}\n"


def machine(tmp_path: Path, uid: int, *, apt: bool = True) -> Path:
    """A PATH with nothing of the prerequisites on it, an `id` that says ``uid`` and an apt-get
    that 'installs' a package by putting a program of its name on that PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    programs = {"id": f"echo {uid}"}
    if apt:
        programs["apt-get"] = (
            f'echo "$@" >> {tmp_path}/apt.log\n'
            '[ "$1" = install ] || exit 0\n'
            "declare -A made=([nodejs]=node [npm]=npm [redis-server]=redis-server "
            "[chromium]=chromium)\n"
            'for p in "$@"; do [ -n "${made[$p]:-}" ] && '
            f'printf "#!/bin/bash\\nexit 0\\n" > {bin_dir}/${{made[$p]}} && '
            f"/bin/chmod +x {bin_dir}/${{made[$p]}}; done; exit 0"
        )
    for name, body in programs.items():
        (bin_dir / name).write_text(STUB.format(body=body))
        (bin_dir / name).chmod(0o755)
    return bin_dir


def run(bin_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/bash", str(SCRIPT)], env={"PATH": str(bin_dir)}, capture_output=True, text=True
    )


def test_as_root_it_installs_what_is_missing(tmp_path: Path) -> None:
    result = run(machine(tmp_path, 0))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "installing nodejs npm redis-server chromium (apt-get)\n"
    assert (tmp_path / "apt.log").read_text().splitlines() == [
        "update -qq",
        "install -y -qq nodejs npm redis-server chromium",
    ]


def test_without_a_way_to_install_it_names_each_missing_program(tmp_path: Path) -> None:
    result = run(machine(tmp_path, 1000, apt=False))
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "make test needs programs that are not installed, and cannot install them here:"
    )
    assert [line.split(":")[0].strip() for line in result.stderr.splitlines()[1:]] == [
        "node", "npm", "redis-server", "chromium"
    ]  # fmt: skip
