"""``animate --dry-run``: every input validated, and what would be sent said (a line, or a
``--json`` record, each: what each image became too), with the estimate; nothing is sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import click

from ...batch import estimate_units
from ...errors import ValidationError
from ...states import RunStatus
from ...validation import AnyRequest, validate
from .._exits import EXIT_FAILED
from .._format import money_record, units_money_text, units_text
from .._words import cli_words
from ..output.records import invalid_record
from .columns import KINDS
from .jobs import BadRow, Input

#: A prepared image's key in a ``--json`` record, and its words on a line, by image slot
#: (others: ``prepared_<slot>``, ``<slot> ``).
_RECORD_KEYS = {"image": "prepared", "image_tail": "prepared_end_frame"}
_SAID = {"image": "", "image_tail": "end frame "}
#: Each kind's words on a ``would send`` line (image to video says none).
_KIND_WORDS = {
    "image2video": "",
    "text2video": "  text to video",
    "omni_video": "  omni video",
    "motion_control": "  motion control",
    "images": "  images",
}


def kind_of(job: AnyRequest) -> str:
    """The manifest ``kind`` of a job (``image2video``, ``omni_video``...)."""
    return next(name for name, cls in KINDS.items() if isinstance(job, cls))


def _plain(value: Any) -> Any:
    """A field's value as JSON can say it: attrs classes as objects, files as paths."""
    if attrs.has(type(value)):
        return {a.name: _plain(getattr(value, a.name)) for a in attrs.fields(type(value))}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


def _wire_preview(item: Input) -> dict[str, Any]:
    """The request's fields; an image as the file given (``prepared`` says what is sent)."""
    job = item.as_given()
    out: dict[str, Any] = {}
    for field in attrs.fields(type(job)):
        value = getattr(job, field.name)
        if value is None or value == ():
            continue
        out[field.name] = _plain(value)
    return out


async def report_dry_run(
    inputs: list[Input],
    twins: dict[int, list[Input]],
    bad: list[BadRow],
    as_json: bool,
    allow_unknown: bool,
    api: str = "auto",
) -> int:
    """Validate everything and say what would be sent; send nothing. Returns the exit code."""
    valid: list[AnyRequest] = []
    for item in inputs:
        job = item.job
        try:
            await validate(job, allow_unknown_models=allow_unknown, api=api)
        except ValidationError as exc:
            bad.append(BadRow(item.source, str(exc)))
            continue
        valid.append(job)
        units = estimate_units([job])
        same = [t.source for t in twins.get(id(job), [])]
        if as_json:
            record = {
                "event": "would_send",
                "source": item.source,
                "kind": kind_of(job),
                "units": units,
                "request": _wire_preview(item),
                "duplicates": same,
            }
            for prepared in item.prepared:
                key = _RECORD_KEYS.get(prepared.field, f"prepared_{prepared.field}")
                record[key] = prepared.record
            click.echo(json.dumps(record, default=str))
        else:
            kind = _KIND_WORDS[kind_of(job)]
            shown = units_text(units, places=4)
            became = "".join(
                f"{_SAID.get(p.field, p.field + ' ')}{p.description}  " for p in item.prepared
            )
            click.echo(f"would send  {item.source}{kind}  ({shown})  {became}{_wire_preview(item)}")
            for twin in same:
                click.echo(f"same job    {twin}: the same image and settings; made once, copied")
    total = estimate_units(valid)
    for row in bad:
        if as_json:
            click.echo(json.dumps(invalid_record(row.source, cli_words(row.reason))))
        else:
            click.echo(f"invalid     {row.source}: {cli_words(row.reason)}")
    if as_json:
        estimate = {"event": "estimate", "valid": len(valid), RunStatus.INVALID: len(bad)}
        units_cost = money_record(total, {})["units_cost"]
        click.echo(json.dumps(estimate | {"units": total, "units_cost": units_cost}))
    else:
        click.echo(
            f"\n{len(valid)} job(s) valid, {len(bad)} invalid; "
            f"estimated {units_money_text(total, places=4)} if all succeed. Nothing was sent."
        )
    return 0 if not bad else EXIT_FAILED
