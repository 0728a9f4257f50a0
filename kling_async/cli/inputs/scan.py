"""The folder scan: image files named on the command line and those inside named folders
(``-r`` for sub-folders, ``--include``/``--exclude`` globs), with notes on what is left out."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from pathlib import Path

IMAGE_SUFFIXES = (
    ".png",
    ".jpg",
    ".jpeg",
    ".heic",
    ".heif",
    ".webp",
    ".gif",
    ".bmp",
    ".tif",
    ".tiff",
)


def find_images(paths: list[Path], recursive: bool) -> Iterator[Path]:
    """Image files named directly, and those inside named folders, in a stable order."""
    yield from (path for path, _ in scan(paths, recursive)[0])


def _matches(relative: Path, patterns: tuple[str, ...]) -> bool:
    """``relative`` (to the folder named) or its file name matches one of the globs."""
    text = relative.as_posix()
    return any(fnmatch.fnmatch(text, g) or fnmatch.fnmatch(relative.name, g) for g in patterns)


def scan(
    paths: list[Path],
    recursive: bool,
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    skip: Path | None = None,
) -> tuple[list[tuple[Path, str]], list[str]]:
    """Image files named directly and inside named folders, in a stable order, each with its
    sub-folder relative to the folder named (``""`` at the top, and for files named directly);
    and a note per kind of thing left out: files not taken as images, sub-folders without
    ``-r``, files ``--include``/``--exclude`` leave out (globs on the path relative to the
    folder named, or on the file name; files named directly are always taken). ``skip`` (the
    output folder) is never looked into."""
    found: list[tuple[Path, str]] = []
    other: list[Path] = []
    folders: list[Path] = []
    filtered: list[Path] = []
    for path in paths:
        if not path.is_dir():
            found.append((path, ""))  # named on purpose: validation says if it cannot be used
            continue
        entries = sorted(path.rglob("*") if recursive else path.glob("*"))
        left_out: list[Path] = []  # the output folder, when it is inside an input folder
        for entry in entries:
            relative = entry.relative_to(path)
            if any(part.startswith(".") for part in relative.parts):
                continue  # hidden files (.DS_Store, the journal) are nobody's input
            if any(entry.is_relative_to(d) for d in left_out):
                continue
            if entry.is_dir():
                if skip is not None and entry.resolve() == skip.resolve():
                    left_out.append(entry)
                elif not recursive:
                    folders.append(entry)
            elif entry.suffix.lower() in IMAGE_SUFFIXES:
                if (include and not _matches(relative, include)) or _matches(relative, exclude):
                    filtered.append(entry)
                else:
                    sub = relative.parent
                    found.append((entry, "" if sub == Path(".") else sub.as_posix()))
            elif entry.is_file():
                other.append(entry)
    notes = []
    if other:
        kinds = sorted({p.suffix.lower() or "(no suffix)" for p in other})
        notes.append(
            f"{len(other)} file(s) not taken as images ({', '.join(kinds)}: {_some(other)})"
        )
    if folders:
        notes.append(f"{len(folders)} sub-folder(s) ({_some(folders)}): add -r to include them")
    if filtered:
        notes.append(
            f"{len(filtered)} image(s) left out by --include/--exclude ({_some(filtered)})"
        )
    return found, notes


def _some(paths: list[Path], shown: int = 3) -> str:
    names = [p.name for p in paths[:shown]]
    more = len(paths) - shown
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")
