"""Tokens signed on the server's clock: a host whose clock is a minute or more off still gets
its tasks created. Before, a clock 60 s fast had every JWT refused "not yet valid" (1003),
the resend included; one 90 s slow with a short token lifetime, "expired" (1004)."""

from __future__ import annotations

import asyncio
import email.utils
import time

import pytest

from kling_async._auth import Credentials, TokenSource

from .._helpers import StartEmulator, fast_client, png


@pytest.mark.parametrize(("skew", "code"), [(60.0, "1003"), (90.0, "1003"), (-90.0, "1004")])
async def test_a_skewed_host_clock_creates_its_tasks_without_failures(
    start_emulator: StartEmulator, skew: float, code: str
) -> None:
    emu, _ = await start_emulator()  # the real clock: the server's time, sent as Date
    async with fast_client(emu, token_ttl=60) as client:  # 60 s: a clock 90 s slow signs stale
        client.tokens.clock = lambda: time.time() + skew
        first = await asyncio.gather(
            *(client.image_to_video.create(image=png(), prompt=f"first {i}") for i in range(4))
        )
        learned = emu.stats()["errors_by_code"]
        later = [
            await client.image_to_video.create(image=png(), prompt=f"later {i}") for i in range(3)
        ]
        done = await client.image_to_video.wait(later[-1])
    assert len({t.task_id for t in [*first, *later]}) == 7
    assert done.succeeded
    assert client.tokens.offset == pytest.approx(-skew, abs=3)
    stats = emu.stats()
    assert stats["creates"] == 7
    # only the first wave, sent before any answer told the server's time, was refused (and
    # resent once, as after any 1003/1004); nothing after it
    assert set(learned) <= {code}
    assert learned.get(code, 0) <= 4
    assert stats["errors_by_code"] == learned


def test_the_offset_moves_only_past_the_date_headers_precision() -> None:
    now = [1_800_000_000.0]
    tokens = TokenSource(Credentials("ak", "sk"), clock=lambda: now[0])

    def date(stamp: float) -> str:
        return email.utils.formatdate(stamp, usegmt=True)

    tokens.server_date(date(now[0] + 1))  # a second's rounding and a trip: no offset
    assert tokens.offset == 0
    tokens.server_date(date(now[0] - 60))  # this host is a minute fast
    assert tokens.offset == pytest.approx(-59.5)
    tokens.server_date(date(now[0] - 61))  # within the precision of what is known
    assert tokens.offset == pytest.approx(-59.5)
    for junk in (None, "", "yesterday", "Mon, 99 Foo 2026 25:61:61 GMT"):
        tokens.server_date(junk)
    assert tokens.offset == pytest.approx(-59.5)


def test_the_same_date_text_is_read_against_the_clock_of_each_answer() -> None:
    """The last Date header's stamp is kept (parsed once a second, not once an answer); the
    same text seen after the host's clock jumped still moves the offset."""
    now = [1_800_000_000.0]
    tokens = TokenSource(Credentials("ak", "sk"), clock=lambda: now[0])
    same = email.utils.formatdate(now[0], usegmt=True)
    tokens.server_date(same)
    assert tokens.offset == 0
    now[0] += 30  # the host's clock jumps while the server still says the same second
    tokens.server_date(same)
    assert tokens.offset == pytest.approx(-29.5)
    tokens.server_date("not a date")  # a bad text neither moves it nor replaces the kept one
    now[0] += 30
    tokens.server_date(same)
    assert tokens.offset == pytest.approx(-59.5)
