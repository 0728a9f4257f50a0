"""The SDK's verbs end to end against the emulator."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import kling_async as kling

from .._helpers import StartEmulator, b64, fast_client, png

SAMPLE = Path(__file__).parent.parent.parent / "kling_async" / "samples" / "sunset.png"


async def test_create_wait_download_with_keywords(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    emu, _ = await start_emulator()
    async with fast_client(emu) as client:
        task = await client.image_to_video.create(
            image=SAMPLE,
            prompt="the sun sets",
            model="kling-v2-6",
            mode="pro",
            duration=5,
        )
        assert task.status is kling.TaskStatus.SUBMITTED
        assert task.external_task_id
        assert task.external_task_id.startswith("kling-async-")
        seen: list[kling.TaskStatus] = []
        done = await client.image_to_video.wait(
            task.task_id, on_progress=lambda t: seen.append(t.status)
        )
        assert done.succeeded
        assert seen[-1] is kling.TaskStatus.SUCCEEDED
        assert done.videos[0].duration == pytest.approx(5.1)
        assert done.units == 2.5  # kling-v2-6 pro: 0.5 units a second
        assert done.created_at is not None
        assert done.created_at.tzinfo
        path = await client.download(done, tmp_path / "out" / "sun.mp4")
    assert path == tmp_path / "out" / "sun.mp4"
    assert path.read_bytes() == await emu.file_bytes(done.videos[0].id)
    assert sorted(p.name for p in path.parent.iterdir()) == ["sun.mp4"]  # no .part left over
    assert emu.stats()["duplicate_creates"] == 0


async def test_request_objects_and_get_by_either_id(start_emulator: StartEmulator) -> None:
    emu, _ = await start_emulator()
    request = kling.ImageToVideo(image=png(), prompt="p", external_task_id="mine-1")
    async with fast_client(emu) as client:
        task = await client.image_to_video.create(request)
        by_id = await client.image_to_video.get(task.task_id)
        by_ext = await client.image_to_video.get("mine-1")
        assert by_id.task_id == by_ext.task_id == task.task_id
        assert by_ext.external_task_id == "mine-1"
        with pytest.raises(kling.NotFoundError) as caught:
            await client.image_to_video.get("nobody")
        assert caught.value.code == 1201
        assert caught.value.http_status == 400
        with pytest.raises(kling.ValidationError, match="not both"):
            await client.image_to_video.create(request, prompt="x")


async def test_list_walks_every_page_newest_first(start_emulator: StartEmulator) -> None:
    emu, _ = await start_emulator()
    async with fast_client(emu) as client:
        ids = [
            (await client.image_to_video.create(image=png(), prompt=str(i))).task_id
            for i in range(7)
        ]
        listed = [t.task_id async for t in client.image_to_video.list(page_size=3)]
        assert listed == list(reversed(ids))
        first = await client.image_to_video.list(page_size=2).page(1)
        assert [t.task_id for t in first] == list(reversed(ids))[:2]
    assert emu.stats()["list_queries"] == 4  # 3 + 3 + 1, then one page of 2


async def test_wait_raises_task_failed_and_async_progress(start_emulator: StartEmulator) -> None:
    emu, _ = await start_emulator(failure_rate=1.0)
    calls: list[str] = []

    async def progress(task: kling.Task) -> None:
        await asyncio.sleep(0)
        calls.append(task.raw_status)

    async with fast_client(emu) as client:
        task = await client.image_to_video.create(image=png())
        with pytest.raises(kling.TaskFailedError) as caught:
            await client.image_to_video.wait(task, on_progress=progress)
    assert caught.value.task.status_message in kling.emulator.FAILURE_MESSAGES
    assert caught.value.task.status_message in str(caught.value)
    assert calls[-1] == "failed"


async def test_wait_deadline_is_a_timeout_error(start_emulator: StartEmulator) -> None:
    emu, _ = await start_emulator(duration=(30, 30))
    async with fast_client(emu) as client:
        task = await client.image_to_video.create(image=png())
        with pytest.raises(TimeoutError) as caught:
            await client.image_to_video.wait(task.task_id, timeout=0.3)
    assert isinstance(caught.value, kling.TaskTimeoutError)
    assert caught.value.last is not None
    assert not caught.value.last.is_final


async def test_generate_and_text_to_video(start_emulator: StartEmulator, tmp_path: Path) -> None:
    emu, _ = await start_emulator(video_bytes=5000)
    async with fast_client(emu) as client:
        out = await client.text_to_video.generate(
            prompt="waves", aspect_ratio="9:16", output=tmp_path / "waves.mp4"
        )
        assert out.stat().st_size == 5000
        listed = [t async for t in client.text_to_video.list()]
        assert len(listed) == 1
        assert listed[0].kind == "text2video"
        out2 = await client.image_to_video.generate(
            image=b64(png()), output=str(tmp_path / "i.mp4")
        )
        assert out2.stat().st_size == 5000


async def test_account_costs(start_emulator: StartEmulator) -> None:
    from .._helpers import test_account

    emu, _ = await start_emulator(test_account(units=10))
    async with fast_client(emu) as client:
        await client.image_to_video.create(image=png(), mode="pro")
        costs = await client.account.costs()
    assert costs.packs[0].total == 10
    assert costs.remaining == pytest.approx(7.5)  # a kling-v2-6 pro 5 s task: 2.5 units


async def test_api_key_auth_and_borrowed_session(start_emulator: StartEmulator) -> None:
    import aiohttp

    emu, _ = await start_emulator()
    async with aiohttp.ClientSession() as session:
        async with fast_client(
            emu, access_key=None, secret_key=None, api_key="test-api-key-abcdef", session=session
        ) as client:
            await client.image_to_video.create(image=png())
        assert not session.closed  # a session the caller passed is left open
        assert client.tokens.signed == 0


async def test_unknown_models_are_refused_unless_allowed(start_emulator: StartEmulator) -> None:
    emu, _ = await start_emulator()
    async with fast_client(emu) as client:
        with pytest.raises(kling.ValidationError, match="allow_unknown_models"):
            await client.image_to_video.create(image=png(), model="kling-v2-master")
    async with fast_client(emu, allow_unknown_models=True) as client:
        task = await client.image_to_video.create(image=png(), model="kling-v2-master")
        assert task.task_id
        with pytest.raises(kling.NotFoundError) as caught:
            await client.image_to_video.create(image=png(), model="kling-v9")
        assert caught.value.code == 1203


async def test_a_future_model_goes_out_unchanged_and_an_emulator_allowing_it_serves_it(
    start_emulator: StartEmulator,
) -> None:
    """kling-4.0 as announced (21:9, 20 s, a 5,000-character prompt, keyframes in settings):
    no 3.0 rule stops it in the SDK, and the emulator told ``--allow-model kling-4.0`` takes
    settings no page names yet."""
    future = kling.TextToVideo(
        model="kling-4.0",
        prompt="p" * 5000,
        duration=20,
        aspect_ratio="21:9",
        extra_settings={"keyframes": 10},
    )
    emu, _ = await start_emulator(duration=(0.05, 0.05))
    async with fast_client(emu, allow_unknown_models=True) as client:
        with pytest.raises(kling.NotFoundError) as caught:  # an emulator not told of it
            await client.text_to_video.create(future)
        assert caught.value.code == 1203
    emu, _ = await start_emulator(duration=(0.05, 0.05), allow_models=("kling-4.0",))
    async with fast_client(emu, allow_unknown_models=True) as client:
        task = await client.text_to_video.create(future)
        assert task.wire == "new"
        done = await client.text_to_video.wait(task, timeout=30)
        assert done.succeeded, done
    assert emu.stats()["requests_by_route"]["POST /text-to-video/{model}"] == 1


async def test_client_configuration_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KLING_ACCESS_KEY", "KLING_SECRET_KEY", "KLING_API_KEY", "KLING_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(kling.ConfigurationError, match="KLING_ACCESS_KEY and KLING_SECRET_KEY"):
        kling.KlingClient()
    with pytest.raises(kling.ConfigurationError, match="secret_key is missing"):
        kling.KlingClient(access_key="ak")
    with pytest.raises(kling.ConfigurationError, match="plain http"):
        kling.KlingClient(api_key="k", base_url="http://api.example.com")
    assert kling.KlingClient(api_key="k", base_url="http://api.example.com", allow_http=True)
    assert kling.KlingClient(api_key="k", base_url="http://localhost:9/").base_url == (
        "http://localhost:9"
    )
    monkeypatch.setenv("KLING_API_KEY", "from-env")
    client = kling.KlingClient()
    assert client.base_url == "https://api-singapore.klingai.com"
    assert client.credentials.api_key == "from-env"
