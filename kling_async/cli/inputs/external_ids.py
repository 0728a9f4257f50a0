"""Each ``external_id`` names one job: two inputs of one run with the same id and different
content are both invalid, and so is an input whose id the journal records for another job —
before anything is sent (Kling would refuse the second create as 1201, or a rerun could take
the other job's task for this one)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ...store import recorded_external_ids
from .jobs import BadRow, Input


async def check_external_ids(
    unique: list[Input],
    twins: dict[int, list[Input]],
    identities: dict[int, str],
    journal: Path,
) -> tuple[list[Input], dict[int, list[Input]], list[BadRow]]:
    """The inputs (and twins) whose external ids are their own, and a bad row for each other
    input, its reason naming the id and the other input(s) or job that have it."""
    given = [i for i in unique if i.job.external_task_id is not None]
    if not given:
        return unique, twins, []  # nothing to check (a folder's images have no ids)
    recorded = await asyncio.to_thread(recorded_external_ids, journal)
    by_id: dict[str, list[Input]] = {}
    for item in given:
        by_id.setdefault(str(item.job.external_task_id), []).append(item)
    reasons: dict[int, str] = {}
    for external_id, items in by_id.items():
        contents = {identities.get(id(i.job)) for i in items}
        if len(items) > 1 and len(contents) > 1:
            for item in items:
                others = ", ".join(o.source for o in items if o is not item)
                reasons[id(item.job)] = (
                    f"external_id: {external_id!r} — is also the id of {others} (other "
                    "content); each input needs its own external_id"
                )
            continue
        owner = recorded.get(external_id)
        for item in items:
            ident = identities.get(id(item.job))
            if owner is not None and ident is not None and owner[0] != ident:
                reasons[id(item.job)] = (
                    f"external_id: {external_id!r} — the journal records it for another job "
                    f"({owner[1]}, other content); each input needs its own external_id"
                )
    if not reasons:
        return unique, twins, []
    bad: list[BadRow] = []
    kept: list[Input] = []
    for item in unique:
        reason = reasons.get(id(item.job))
        if reason is None:
            kept.append(item)
            continue
        bad.append(BadRow(item.source, reason))
        bad.extend(BadRow(t.source, reason) for t in twins.get(id(item.job), []))
    return kept, {k: v for k, v in twins.items() if k not in reasons}, bad
