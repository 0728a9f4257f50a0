"""Tokens, retries, exactly-once creates and resumed downloads, proven on emulator counters."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

import kling_async as kling

from .._helpers import StartEmulator, fast_client, png, test_account


async def test_token_is_signed_once_and_reused(start_emulator: StartEmulator) -> None:
    emu, _ = await start_emulator()
    async with fast_client(emu) as client:
        for _ in range(5):
            assert [t async for t in client.image_to_video.list()] == []
        await asyncio.gather(*(client.account.costs() for _ in range(10)))
    assert client.tokens.signed == 1
    assert emu.stats()["requests"] == 15


async def test_refresh_under_concurrency_signs_one_new_token(start_emulator: StartEmulator) -> None:
    emu, _ = await start_emulator()
    now = [1000.0]
    async with fast_client(emu, token_ttl=1800, token_refresh_margin=300) as client:
        client.tokens._clock = lambda: now[0]  # a fake clock for the cache, real time for the JWT
        await client.tokens.header()
        now[0] += 1600  # into the refresh margin
        headers = await asyncio.gather(*(client.tokens.header() for _ in range(50)))
    assert client.tokens.signed == 2
    assert len(set(headers)) == 1


async def test_expired_token_answer_refreshes_and_retries_once(
    start_emulator: StartEmulator,
) -> None:
    # The SDK's tokens carry nbf = signing time - 5 s (whole seconds): at signing they are
    # 5-6 s old by nbf. The emulator calls them expired past 6.5 s, so after 1.6 s the cached
    # one is refused with 1004 and a fresh one passes.
    emu, _ = await start_emulator(token_max_age=6.5)
    async with fast_client(emu) as client:
        await client.account.costs()
        await asyncio.sleep(1.6)
        await client.account.costs()  # answered 1004, refreshed, resent: no error surfaces
    stats = emu.stats()
    assert stats["errors_by_code"] == {"1004": 1}
    assert client.tokens.signed == 2
    # creates too: a 1004 proves nothing was created, so one resend is safe
    async with fast_client(emu) as client:
        await client.account.costs()
        await asyncio.sleep(1.6)
        await client.image_to_video.create(image=png())
    assert emu.stats()["creates"] == 1


async def test_wrong_credentials_are_not_retried(start_emulator: StartEmulator) -> None:
    emu, _ = await start_emulator()
    async with fast_client(emu, secret_key="x" * 40) as client:
        with pytest.raises(kling.AuthenticationError) as caught:
            await client.account.costs()
    assert (caught.value.code, caught.value.http_status) == (1002, 401)
    assert emu.stats()["requests"] == 1


async def test_query_retries_stop_at_their_attempt_bound(start_emulator: StartEmulator) -> None:
    emu, _ = await start_emulator(faults={"5000": 1.0})
    async with fast_client(emu) as client:
        with pytest.raises(kling.ServerError) as caught:
            await client.account.costs()
        assert client._transport.requests_sent == 4  # RetryPolicy(attempts=4)
    assert caught.value.code == 5000
    assert caught.value.http_status == 500


async def test_query_retries_stop_at_their_time_bound(start_emulator: StartEmulator) -> None:
    emu, _ = await start_emulator(faults={"5002": 1.0})
    policy = kling.RetryPolicy(
        attempts=1000, total_timeout=0.5, initial_backoff=0.1, max_backoff=0.1, jitter=0
    )
    async with fast_client(emu, retry=policy) as client:
        started = time.monotonic()
        with pytest.raises(kling.ServerError):
            await client.account.costs()
        elapsed = time.monotonic() - started
    assert 0.4 <= elapsed < 2.0
    assert 4 <= client._transport.requests_sent <= 8


async def test_transient_faults_are_retried_through(start_emulator: StartEmulator) -> None:
    emu, _ = await start_emulator()
    emu.inject("drop", route="account")
    emu.inject("5001", route="account")
    emu.inject("5002", route="account")
    async with fast_client(emu) as client:
        costs = await client.account.costs()
    assert costs.packs
    assert emu.stats()["account_queries"] == 1  # the three faults never reached the handler


async def test_rate_limit_honours_retry_after(start_emulator: StartEmulator) -> None:
    emu, _ = await start_emulator(rate_limit=2.0, rate_burst=1.0)
    async with fast_client(emu) as client:
        started = time.monotonic()
        for _ in range(3):
            await client.account.costs()
        elapsed = time.monotonic() - started
    assert emu.stats()["rate_limited_1302"] >= 1
    assert elapsed >= 0.9  # waited for Retry-After (1 s, rounded up by the emulator)


async def test_limits_surface_as_their_types(start_emulator: StartEmulator) -> None:
    emu, _ = await start_emulator(test_account(concurrency_limit=1, units=1.5), duration=(5, 5))
    no_retry = kling.RetryPolicy(attempts=1, retry_concurrency_limit=False)
    async with fast_client(emu, retry=no_retry) as client:
        await client.image_to_video.create(image=png())
        with pytest.raises(kling.ConcurrencyLimitError) as caught:
            await client.image_to_video.create(image=png())
        assert caught.value.code == 1303
        emu.config.accounts[0].concurrency_limit = None
        with pytest.raises(kling.BalanceExhaustedError) as balance:
            await client.image_to_video.create(image=png())
    assert isinstance(balance.value, kling.AccountError)
    assert balance.value.code == 1102
    assert balance.value.http_status == 429
    assert emu.stats()["creates"] == 1


@pytest.mark.parametrize("fault", ["lost_create", "drop", "5000", "5002", "5001"])
async def test_ambiguous_create_is_never_billed_twice(
    start_emulator: StartEmulator, fault: str
) -> None:
    emu, _ = await start_emulator()
    emu.inject(fault, route="create")
    async with fast_client(emu) as client:
        task = await client.image_to_video.create(image=png(), prompt="once", external_task_id="j1")
        server_side = await client.image_to_video.get("j1")
    assert task.task_id == server_side.task_id
    stats = emu.stats()
    assert (stats["creates"], stats["duplicate_creates"]) == (1, 0)
    # exactly one create reached the server's handler: lost_create's was found by its
    # external id and never re-sent; the others never got through and were sent again
    assert stats["create_requests"] == 1
    assert stats["faults_injected"] == {fault: 1}


async def test_many_ambiguous_creates_under_random_faults(start_emulator: StartEmulator) -> None:
    emu, _ = await start_emulator(
        faults={"lost_create": 0.2, "drop": 0.1, "5000": 0.1, "5002": 0.1}, seed=11
    )
    async with fast_client(
        emu, retry=kling.RetryPolicy(attempts=10, initial_backoff=0.01, max_backoff=0.02, jitter=0)
    ) as client:
        tasks = await asyncio.gather(
            *(client.image_to_video.create(image=png(), prompt=f"job {i}") for i in range(40))
        )
    stats = emu.stats()
    assert len({t.task_id for t in tasks}) == 40
    assert (stats["creates"], stats["duplicate_creates"]) == (40, 0)
    assert sum(stats["faults_injected"].values()) >= 10


async def test_ambiguous_create_with_lookup_down_says_how_to_recover(
    start_emulator: StartEmulator,
) -> None:
    emu, _ = await start_emulator()
    emu.inject("lost_create")
    emu.inject("5000", count=10, route="query")
    async with fast_client(emu) as client:
        with pytest.raises(kling.CreateUnconfirmedError) as caught:
            await client.image_to_video.create(image=png(), external_task_id="unsure")
    assert caught.value.external_task_id == "unsure"
    assert isinstance(caught.value.cause, kling.ServerError)  # the lookup's failure
    assert "'unsure'" in str(caught.value)
    assert emu.stats()["creates"] == 1


async def test_download_resumes_after_truncation(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    emu, _ = await start_emulator(video_bytes=3 * 1024 * 1024)
    async with fast_client(emu) as client:
        task = await client.image_to_video.create(image=png())
        done = await client.image_to_video.wait(task)
        emu.inject("truncate", count=2)
        path = await client.download(done, tmp_path / "v.mp4")
    assert path.read_bytes() == await emu.file_bytes(done.videos[0].id)
    stats = emu.stats()
    assert stats["downloads"] == 3
    # the two cut transfers sent half of what was asked each; the resumes only the rest
    assert stats["bytes_served"] < 2 * 3 * 1024 * 1024
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]


async def test_download_refuses_what_it_should(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    emu, _ = await start_emulator(video_bytes=10_000)
    async with fast_client(emu) as client:
        with pytest.raises(kling.DownloadError, match="not an http"):
            await client.download("file:///etc/passwd", tmp_path / "x.mp4")
        task = await client.image_to_video.create(image=png())
        with pytest.raises(kling.DownloadError, match="not succeeded"):
            await client.download(task, tmp_path / "x.mp4")
        done = await client.image_to_video.wait(task)
        with pytest.raises(kling.DownloadError, match="cap"):
            await client.download(done, tmp_path / "x.mp4", max_bytes=1000)
        with pytest.raises(kling.DownloadError, match="HTTP 404"):
            await client.download(emu.url + "/__files__/ffff.mp4", tmp_path / "x.mp4")
    assert not (tmp_path / "x.mp4").exists()
    assert list(tmp_path.iterdir()) == []  # the capped partial file was discarded too


async def test_slow_answers_time_out_as_api_timeout(start_emulator: StartEmulator) -> None:
    emu, _ = await start_emulator(slow_seconds=1.0)
    emu.inject("slow", count=10, route="account")
    async with fast_client(
        emu,
        timeouts=kling.Timeouts(query=0.2),
        retry=kling.RetryPolicy(attempts=2, initial_backoff=0.01),
    ) as client:
        with pytest.raises(kling.APITimeoutError) as caught:
            await client.account.costs()
    assert isinstance(caught.value, TimeoutError)
