"""What is derived from the parameter table and written into files stays as the table says."""

from __future__ import annotations

from image_optimizer.parameters import PARAMETERS
from image_optimizer_cli.readme_table import README, table, with_table


def test_the_readme_lists_every_parameter_as_the_table_says() -> None:
    readme = README.read_text()
    assert with_table(readme) == readme, "README.md is out of date: run `make generate`"
    assert all(f"| `{parameter.name}` |" in table() for parameter in PARAMETERS)
