"""The code blocks of the docs: every fenced block of README.md and docs/**/*.md, with its page,
its language and the marker comment above it, if any.

A Python block either runs (tests/docs/test_python_blocks.py) or is marked as an excerpt of an
example, which is itself run by tests/docs/test_examples.py::

    <!-- excerpt: examples/webhook_receiver.py -->
    ```python
    ...
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]

_FENCE = re.compile(
    r"(?:<!--\s*(?P<marker>[^>]*?)\s*-->\n)?^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[^\n]*\n"
    r"(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.M | re.S,
)


@dataclass(frozen=True)
class Block:
    page: str  # relative to the repository root
    line: int
    lang: str
    body: str
    marker: str  # the comment above the fence ("excerpt: examples/x.py"), or ""

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def excerpt_of(self) -> Path | None:
        if not self.marker.startswith("excerpt:"):
            return None
        return ROOT / self.marker.removeprefix("excerpt:").strip()


def _dedent(body: str, indent: str) -> str:
    return "".join(line.removeprefix(indent) for line in body.splitlines(keepends=True))


def blocks(lang: str | tuple[str, ...] | None = None) -> list[Block]:
    langs = (lang,) if isinstance(lang, str) else lang
    found = []
    for page in PAGES:
        text = page.read_text()
        for m in _FENCE.finditer(text):
            if langs is not None and m["lang"] not in langs:
                continue
            found.append(
                Block(
                    page=page.relative_to(ROOT).as_posix(),
                    line=text.count("\n", 0, m.start("lang")) + 1,
                    lang=m["lang"],
                    body=_dedent(m["body"], m["indent"]),
                    marker=m["marker"] or "",
                )
            )
    return found
