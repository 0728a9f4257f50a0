"""Every response example of the vendor's pages, matched key for key: for each page, a task is
made from the page's own create example, then each of the page's request examples (create,
query by id, cursor list, image single and list) is sent as documented, and the answer must
carry exactly the keys of the response example that follows it — type placeholders aside
(``"string"`` stands for any string). Keys the field notes call conditional ("only exists in
... (charge_type=cash)", "Only appears when ...") are required or absent as the case says; each
output is matched against the example's output of its own ``type``. Both billing modes."""

from __future__ import annotations

import re
from typing import Any

import pytest

from kling_async import VirtualClock

from .._helpers import Api, StartEmulator
from ._client import call
from ._vendor import create_examples, examples_dir, load

#: A time inside the cursor examples' window (1781193600000 .. 1781516352968 ms).
INSIDE_THE_WINDOW = 1_781_300_000.0
_CONDITION = re.compile(r"only (?:exists|appears)", re.IGNORECASE)
_CHARGE = re.compile(r"charge_type=(\w+)")


def _pages() -> list[str]:
    return sorted({name.partition("__")[0] for name, _ in create_examples()})


def _optional(notes: dict[str, str], path: str, ours: dict[str, Any]) -> set[str]:
    """Keys at ``path`` that the notes make conditional, and whose condition ``ours`` fails."""
    out = set()
    prefix = f"{path}." if path else ""
    for key, note in notes.items():
        if not key.startswith(prefix) or "." in key[len(prefix) :] or not _CONDITION.search(note):
            continue
        charge = _CHARGE.search(note)
        if charge is None or charge[1] != ours.get("charge_type"):
            out.add(key[len(prefix) :])
    return out


def _placeholder_ok(ours: Any, theirs: Any) -> bool:
    if theirs == "boolean" or isinstance(theirs, bool):
        return isinstance(ours, bool)
    if theirs == "int" or (isinstance(theirs, int) and not isinstance(theirs, bool)):
        return isinstance(ours, int) and not isinstance(ours, bool)
    return isinstance(ours, type(theirs))


def same_shape(ours: Any, theirs: Any, notes: dict[str, str], path: str = "") -> list[str]:
    """Differences between our answer and the vendor's example, as readable lines."""
    where = path or "$"
    if isinstance(theirs, dict):
        if not isinstance(ours, dict):
            return [f"{where}: {type(ours).__name__}, the example has an object"]
        optional = _optional(notes, path, ours)
        problems = []
        missing = set(theirs) - set(ours) - optional
        extra = set(ours) - set(theirs)
        if missing or extra:
            problems.append(f"{where}: missing {sorted(missing)}, extra {sorted(extra)}")
        for key in set(ours) & set(theirs):
            problems += same_shape(ours[key], theirs[key], notes, f"{path}.{key}".lstrip("."))
        return problems
    if isinstance(theirs, list):
        if not isinstance(ours, list):
            return [f"{where}: {type(ours).__name__}, the example has a list"]
        problems = []
        by_type = {item.get("type"): i for i, item in enumerate(theirs) if isinstance(item, dict)}
        for item in ours:
            i = by_type.get(item.get("type"), 0) if isinstance(item, dict) else 0
            problems += same_shape(item, theirs[i], notes, f"{path}[{i}]")
        return problems
    if not _placeholder_ok(ours, theirs):
        return [f"{where}: {ours!r} is not like the example's {theirs!r}"]
    return []


def _with_external_id(example: dict[str, Any], ident: str) -> dict[str, Any]:
    body = dict(example["body"])
    if "options" in body:
        body["options"] = {**body["options"], "external_task_id": ident}
    else:
        body["external_task_id"] = ident
    return body


def _request_examples(page: str) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(name, request example, the response example that follows it) of one page."""
    out = []
    for path in sorted(examples_dir().glob(f"{page}__*.request.json")):
        number = int(path.name.partition("__")[2][:2])
        answers = list(examples_dir().glob(f"{page}__{number + 1:02d}-*.response.json"))
        if answers:
            out.append((path.name, load(path.name), load(answers[0].name)))
    return out


async def _send(api: Api, request: dict[str, Any], task_id: str) -> dict[str, Any]:
    path = request["path"].replace("{id}", task_id)
    query = request.get("query")
    if query:
        path += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    status, answer = await call(api, request["method"], path, request.get("body"))
    assert (status, answer["code"]) == (200, 0), (request["path"], answer)
    return answer


@pytest.mark.parametrize("billing", ["unit", "cash"])
async def test_answers_have_the_keys_of_every_response_example(
    start_emulator: StartEmulator, billing: str
) -> None:
    creates = dict(create_examples())
    problems: list[str] = []
    compared = 0
    for page in _pages():
        clock = VirtualClock(start=INSIDE_THE_WINDOW, auto=False)
        _emu, api = await start_emulator(clock=clock, duration=(1.0, 1.0), billing=billing)
        examples = _request_examples(page)
        create_name = next(name for name, _, _ in examples if name in creates)
        create = creates[create_name]
        status, made = await call(api, "POST", create["path"], _with_external_id(create, "123"))
        assert status == 200, made
        task_id = made["data"].get("id") or made["data"]["task_id"]
        clock.advance(2.0)  # the task has ended
        for name, request, response in examples:
            if name == create_name:
                answer = made
            elif name in creates:
                continue  # the page's other create examples answer the same shape
            else:
                answer = await _send(api, request, task_id)
            data = answer["data"]
            assert data, (name, answer)  # the query found the task
            found = same_shape(answer, response["body"], response.get("field_notes", {}))
            problems += [f"{name}: {line}" for line in found]
            compared += 1
    assert problems == [], problems
    assert compared >= 40
