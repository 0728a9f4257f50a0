"""The README is a landing page: short, with the two commands, and links that lead somewhere
(the docs pages' own links are checked by `mkdocs build --strict`, in make test)."""

from __future__ import annotations

import re

from .._helpers import RETIRED
from ._blocks import ROOT

README = (ROOT / "README.md").read_text()


def test_the_readme_is_a_landing_page() -> None:
    assert len(README.splitlines()) <= 250
    for command in ("make demo", "make test"):
        assert f"\n{command}  " in README, command  # in the shell block, as typed


def test_the_readmes_links_lead_to_files() -> None:
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README)
    local = [t for t in targets if not t.startswith(("http://", "https://"))]
    assert len(local) >= 10
    assert not [t for t in local if not (ROOT / t).exists()]


def test_no_page_names_a_retired_model() -> None:
    """As tests/docs/test_examples.py checks the README, examples and --help: live models only."""

    from ._blocks import PAGES

    pattern = re.compile(r"\b(" + "|".join(map(re.escape, RETIRED)) + r")(?![\w.-])")
    found = {page.name: pattern.findall(page.read_text()) for page in PAGES}
    assert {k: v for k, v in found.items() if v} == {}
