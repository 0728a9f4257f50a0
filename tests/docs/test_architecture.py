"""docs/architecture.md names every module of kling_async/, found by walking the package now
(not from a list): a module added without its row fails here."""

from __future__ import annotations

from ._blocks import DOCS, ROOT

PACKAGE = ROOT / "kling_async"
PAGE = DOCS / "architecture.md"


def _names(path: str) -> tuple[str, str]:
    """A module's path name (kling_async/batch/_engine.py) and dotted name
    (kling_async.batch._engine; a package's __init__.py: kling_async.batch)."""
    dotted = path.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
    return path, dotted


def test_every_module_is_on_the_architecture_page() -> None:
    page = PAGE.read_text()
    modules = sorted(
        p.relative_to(ROOT).as_posix()
        for p in PACKAGE.rglob("*.py")
        if "__pycache__" not in p.parts
    )
    assert len(modules) > 20  # the walk found the package
    missing = [path for path in modules if not any(f"`{name}`" in page for name in _names(path))]
    assert not missing, (
        f"add a row | `{missing[0]}` | its one job | to docs/architecture.md for each of: "
        + ", ".join(missing)
    )


def test_the_page_names_no_module_that_is_gone() -> None:
    page = PAGE.read_text()
    named = {
        word.strip("`")
        for word in page.split()
        if word.startswith("`kling_async/") and word.rstrip("`").endswith(".py")
    }
    gone = sorted(name for name in named if not (ROOT / name).is_file())
    assert not gone, f"docs/architecture.md names modules that are gone: {gone}"
