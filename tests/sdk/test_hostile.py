"""Hostile answers and bad input: the SDK raises only its own documented exceptions, never
hangs, never writes outside the folder it was given; every bad input is named before sending."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kling_async as kling
from kling_async._convert import costs_from_wire, task_from_wire, tasks_from_wire
from kling_async._http import _unwrap

from .._helpers import StartEmulator, fast_client, png
from .test_validation import BAD_CASES

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=30,
)
TASK_KEYS = [
    "task_id",
    "task_status",
    "task_status_msg",
    "task_info",
    "created_at",
    "updated_at",
    "final_unit_deduction",
    "task_result",
    "videos",
    "url",
    "duration",
    "external_task_id",
    "id",
    "watermark_url",
]
TASKISH = st.dictionaries(
    st.sampled_from(TASK_KEYS),
    JSON
    | st.dictionaries(
        st.sampled_from(TASK_KEYS),
        JSON | st.lists(st.dictionaries(st.sampled_from(TASK_KEYS), JSON), max_size=3),
        max_size=4,
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=JSON | TASKISH)
def test_task_parser_raises_only_its_own_errors(body: Any) -> None:
    for parse in (
        lambda: task_from_wire(body, "image2video"),
        lambda: tasks_from_wire(body, "x"),
        lambda: costs_from_wire(body),
    ):
        with contextlib.suppress(kling.KlingError):
            parse()


@settings(max_examples=300, deadline=None)
@given(
    raw=st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode()),
    status=st.sampled_from([200, 400, 401, 403, 404, 429, 500, 502, 503, 504]),
)
def test_envelope_reader_raises_only_its_own_errors(raw: bytes, status: int) -> None:
    with contextlib.suppress(kling.KlingError):
        _unwrap(raw, status, None, "GET /x")


async def test_a_hostile_server_gets_only_documented_errors(tmp_path: Path) -> None:
    answers: list[tuple[int, bytes, dict[str, str]]] = [
        (200, b'{"code": 0, "data": {"task_id": {"nested": 1}}}', {}),
        (200, b'{"code": "0", "data": {}}', {}),
        (200, b"[]", {}),
        (200, b'{"code": 0, "data": {"task_id": "1", "created_at": 1e300}}', {}),
        (200, b"\xff\xfe not utf8", {}),
        (500, b"<html>oops</html>", {}),
        (429, b'{"code": 1302, "message": "slow"}', {"Retry-After": "99999999999"}),
        (
            200,
            b'{"code": 0, "data": {"task_id": "1", "task_status": "succeed", "task_result":'
            b' {"videos": [{"id": "v", "url": "file:///etc/passwd"}]}}}',
            {},
        ),
    ]
    served: list[int] = []

    async def handler(request: web.Request) -> web.Response:
        status, body, headers = answers[len(served) % len(answers)]
        served.append(status)
        return web.Response(status=status, body=body, headers=headers)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    once = kling.RetryPolicy(attempts=1)
    errors: list[type[BaseException]] = []
    try:
        async with kling.KlingClient(
            api_key="k",
            base_url=str(server.make_url("")),
            retry=once,
            timeouts=kling.Timeouts(query=5),
        ) as client:
            for _ in answers:
                try:
                    task = await client.image_to_video.get("1")
                    await client.download(task, tmp_path / "v.mp4")
                except kling.KlingError as exc:
                    errors.append(type(exc))
    finally:
        await server.close()
    assert len(errors) == len(answers)  # every hostile answer became a documented error
    assert kling.DownloadError in errors  # the file:// URL was refused
    assert list(tmp_path.iterdir()) == []


async def test_server_ids_never_choose_where_files_go(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    emu, _ = await start_emulator(video_bytes=100)
    async with fast_client(emu) as client:
        with pytest.raises(kling.NotFoundError):  # percent-encoded: one path segment
            await client.image_to_video.get("../../etc/passwd")
        task = await client.image_to_video.create(image=png(), external_task_id="../../evil")
        done = await client.image_to_video.wait(task)
        path = await client.download(done, tmp_path / "out" / "mine.mp4")
    assert path == tmp_path / "out" / "mine.mp4"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["mine.mp4", "out"]


async def test_bad_input_matrix_in_one_batch(
    start_emulator: StartEmulator, tmp_path: Path, campaign_report: dict[str, Any]
) -> None:
    """Every bad input of the validation matrix, mixed with good jobs: each bad one is named
    (field, value, rule) and nothing is sent for it; the good ones still run."""
    emu, _ = await start_emulator(video_bytes=100)
    jobs = []
    for _, fields, _, _ in BAD_CASES:
        merged = {"prompt": "p", "image": png(), **fields}
        merged = {k: v(tmp_path) if callable(v) else v for k, v in merged.items()}
        jobs.append(kling.ImageToVideo(**merged))
    good = [kling.ImageToVideo(image=png(400, 300, (i, 9, 9)), prompt="fine") for i in range(5)]
    mixed = [job for pair in zip(jobs, good * 10, strict=False) for job in pair]
    async with fast_client(emu) as client:
        batch = client.batch(mixed, output_dir=tmp_path / "out")
        outcomes = [o async for o in batch]
    invalid = [o for o in outcomes if o.status is kling.OutcomeStatus.INVALID]
    assert len(invalid) == len(BAD_CASES) >= 30
    expected_fields = sorted(case[2] for case in BAD_CASES)
    assert sorted(o.error.field for o in invalid if isinstance(o.error, kling.ValidationError)) == (
        expected_fields
    )
    assert all(" — " in str(o.error) for o in invalid)  # field: value — rule
    assert {o.status for o in outcomes if o not in invalid} <= {
        kling.OutcomeStatus.SUCCEEDED,
        kling.OutcomeStatus.SKIPPED,
    }
    stats = emu.stats()
    assert stats["create_requests"] == 5  # only the good jobs were ever sent
    campaign_report["bad-input matrix"] = {
        "bad inputs": len(BAD_CASES),
        "named and refused": len(invalid),
        "sent": stats["create_requests"],
    }
