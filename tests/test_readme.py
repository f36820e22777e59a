"""Lines of the README a new user acts on, held to what is true."""

from __future__ import annotations

import re

from conftest import ROOT

README = (ROOT / "README.md").read_text()
MAKEFILE = (ROOT / "Makefile").read_text()


def test_the_command_is_on_the_path_before_the_readme_first_uses_it() -> None:
    """``make`` installs `image-optimizer` in .venv only; the README says how to reach it
    before any line uses it bare."""
    activation = README.index("source .venv/bin/activate")
    first_use = re.search(
        r"(?<![\w/.-])image-optimizer (serve|invoke|warm|purge|sign|check)", README
    )
    assert first_use is not None
    assert activation < first_use.start()


def test_the_readme_and_the_makefile_give_one_time_for_make_mutants() -> None:
    minutes = re.compile(r"about (\d+) minutes")
    [readme_says] = minutes.findall(README[README.index("`make mutants`") :][:400])
    [makefile_says] = minutes.findall(MAKEFILE[MAKEFILE.index("# Mutation testing") :][:200])
    assert readme_says == makefile_says


def test_the_readme_gives_the_time_a_first_make_test_takes() -> None:
    assert re.search(r"the first `make test` takes about \w+ minutes", README)


def test_the_readme_says_how_spellings_are_read() -> None:
    """Values are not refused for their spelling: ``w=0400`` is ``w=400``, as the edge reads it."""
    assert "not exactly what the table allows" not in README
    assert "`w=0400`" in README
