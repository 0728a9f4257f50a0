"""Output names: where each input's video goes in the output folder (``--name`` templates,
sub-folders mirrored with ``-r``), every component file-system safe."""

from __future__ import annotations

import string
from pathlib import Path

import click

from .jobs import Input

#: What ``--name`` may use: ``{stem}`` (the image's name without suffix), ``{name}`` (with
#: it), ``{folder}`` (its sub-folder under the folder named, "" at the top), ``{index}`` (its
#: place among the inputs, from 1; ``{index:04d}`` pads), ``{model}``, ``{mode}``,
#: ``{duration}``.
PLACEHOLDERS = ("stem", "name", "folder", "index", "model", "mode", "duration")


def check_template(template: str) -> str:
    """A ``--name`` template, checked (placeholders known, format specs valid), without a
    trailing ``.mp4``. Raises ``click.BadParameter``."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise click.BadParameter(f"{template!r}: {exc}", param_hint="'--name'") from None
    known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    for field in fields:
        if field not in PLACEHOLDERS:
            shown = "{" + field + "}" if field else "{}"
            raise click.BadParameter(
                f"{template!r}: unknown placeholder {shown}; known: {known}",
                param_hint="'--name'",
            )
    if not fields:
        raise click.BadParameter(
            f"{template!r}: would give every video the same name; use a placeholder ({known})",
            param_hint="'--name'",
        )
    sample = dict.fromkeys(PLACEHOLDERS, "x") | {"index": 1, "duration": 5}
    try:
        template.format(**sample)
    except (ValueError, TypeError, IndexError) as exc:
        raise click.BadParameter(f"{template!r}: {exc}", param_hint="'--name'") from None
    return template[: -len(".mp4")] if template.lower().endswith(".mp4") else template


def safe_part(text: str) -> str:
    """One path component, file-system safe (as the batch names its videos)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in text).strip("._")
    return safe.encode("utf-8")[:200].decode("utf-8", "ignore").rstrip("._")


def output_name(item: Input, index: int, template: str | None) -> str | None:
    """Where an input's video goes, relative to the output folder and without ``.mp4``:
    ``<sub-folder>/<stem>`` by default (``-r`` mirrors sub-folders), or the ``--name``
    template filled in; ``<stem>`` is the job's first local image's (its image, end frame, first
    frame..., as given), else ``<manifest>-<line>`` for a manifest row. Every component is
    made file-system safe; none can climb out. None: the batch's own name (an image given by
    URL, without a template)."""
    job = item.job
    image = next((p for p in item.local_images() if isinstance(p, Path)), None)
    where, _, line = item.source.rpartition(":")
    if isinstance(image, Path):
        stem, name = image.stem, image.name
    elif where and line.isdigit():  # a manifest row: "<manifest>-<line>"
        stem = name = f"{Path(where).stem}-{line}"
    elif template is None:
        return None
    else:
        stem = name = item.source
    if template is None:
        text = f"{item.folder}/{stem}" if item.folder else stem
    else:
        text = template.format(
            stem=stem,
            name=name,
            folder=item.folder,
            index=index,
            model=job.model,
            mode=getattr(job, "mode", ""),
            duration=getattr(job, "duration", None) or "",
        )
    parts = [safe_part(p) for p in text.replace("\\", "/").split("/")]
    return "/".join(p for p in parts if p) or f"video-{index}"
