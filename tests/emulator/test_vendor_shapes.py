"""Every response example of the vendor's pages, matched key for key: for each page, a task is
made from the page's own create example, then each of the page's request examples (create,
query by id, cursor list, image single and list) is sent as documented, and the answer must
carry exactly the keys of the response example that follows it — type placeholders aside
(``"string"`` stands for any string). Keys the field notes call conditional ("only exists in
... (charge_type=cash)", "Only appears when ...") are required or absent as the case says; each
output is matched against the example's output of its own ``type``. Both billing modes."""

from __future__ import annotations

from typing import Any

import pytest

from kling_async import VirtualClock

from .._helpers import Api, StartEmulator, test_account
from ._client import call
from ._shapes import same_shape
from ._vendor import create_examples, examples_dir, load

#: A time inside the cursor examples' window (1781193600000 .. 1781516352968 ms).
INSIDE_THE_WINDOW = 1_781_300_000.0


def _pages() -> list[str]:
    return sorted({name.partition("__")[0] for name, _ in create_examples()})


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


async def test_the_over_limit_answer_is_the_vendors(start_emulator: StartEmulator) -> None:
    """kling-get-started-concurrency-rules: 1303 "parallel task over resource pack limit", for a
    video task as for an image task asking more slots (n) than are left."""
    example = load("kling-get-started-concurrency-rules__01-over-limit-error.response.json")
    _emu, api = await start_emulator(test_account(concurrency_limit=2), duration=(30.0, 30.0))
    video = {"prompt": "p"}
    for _ in range(2):
        assert (await call(api, "POST", "/text-to-video/kling-2.6", video))[0] == 200
    image = {"prompt": "p", "n": 2}
    assert (await call(api, "POST", "/v1/images/generations", image))[0] == 200
    for path, payload in (("/text-to-video/kling-2.6", video), ("/v1/images/generations", image)):
        status, answer = await call(api, "POST", path, payload)
        assert (status, answer["code"]) == (429, 1303), answer
        assert answer["message"].startswith(example["body"]["message"])
        assert same_shape(answer, example["body"], {}) == []
