"""The README starts with the two set-up commands and its configuration table is the generated one."""
from pathlib import Path

from bot.configdoc import markdown_table, rows
from bot.readme import END, START

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_readme_begins_with_the_two_commands():
    first_block = README.split("```")[1]
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()[1:] if line.strip()]
    assert commands == ["make run", "make test"]


def test_configuration_table_is_generated_from_the_settings_classes():
    table = README.split(START)[1].split(END)[0].strip()
    assert table == markdown_table(), "run `make readme` to regenerate the README's configuration table"
    for _section, env, _default, doc in rows():
        assert doc, f"{env} has no description (write a docstring under the field)"
