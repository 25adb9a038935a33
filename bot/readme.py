"""Splice the generated configuration table into README.md (`make readme`)."""
from __future__ import annotations

import re
import sys
from pathlib import Path

from bot.configdoc import markdown_table

START, END = "<!-- config-table:start -->", "<!-- config-table:end -->"


def splice(readme: str, table: str) -> str:
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    return pattern.sub(lambda _m: f"{START}\n{table}\n{END}", readme, count=1)


def main() -> int:
    path = Path(__file__).resolve().parents[1] / "README.md"
    text = path.read_text(encoding="utf-8")
    new = splice(text, markdown_table())
    if new != text:
        path.write_text(new, encoding="utf-8")
        print("README.md configuration table updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
