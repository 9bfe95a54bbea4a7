"""Writing Hydra overrides from values: the CLI's typed options and the directories paperlab pins
must read back as exactly the text given, whatever it holds (quotes, commas, `${`, non-ASCII)."""

from __future__ import annotations

import re


def quoted(text: str) -> str:
    """A Hydra override value that reads back as exactly `text` (quotes, commas, backslashes, ${)."""
    text = re.sub(r'(\\*)"', lambda m: m.group(1) * 2 + '\\"', text)
    text = re.sub(r"(\\+)$", lambda m: m.group(1) * 2, text)
    return '"' + text.replace("${", "\\${") + '"'


def quoted_list(items: list[str]) -> str:
    return "[" + ",".join(quoted(i) for i in items) + "]"
