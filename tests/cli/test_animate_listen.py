"""`kling-async animate --listen`: the run receives Kling's callbacks itself, verified, and
polls only as a fallback; bad combinations of its flags are usage errors naming the flag."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from .._helpers import png
from .test_animate import cli, images, start

SECRET = "whsec_" + base64.b64encode(b"listen-test-secret-32-bytes-long").decode()
OTHER = "whsec_" + base64.b64encode(b"another-secret-of-thirty-two-b!!").decode()
HOOK = "http://127.0.0.1:{port}/kling"
#: A good --listen: any free port, the URL carrying it, a secret.
LISTEN = ["--listen", "127.0.0.1:0", "--callback-url", HOOK, "--webhook-secret", SECRET]


def queries(stats: dict[str, int]) -> int:
    return stats["list_queries"] + stats["single_queries"] + stats["batch_queries"]


@pytest.mark.parametrize("api", ["legacy", "new"])  # legacy callbacks, and new-standard ones
def test_listen_ends_jobs_by_signed_callbacks_with_fewer_queries_than_polling(
    tmp_path: Path, api: str
) -> None:
    images(tmp_path / "in", 6)
    # tasks of about a second: polling looks several times a task, the fallback not at all
    with start(duration=(0.8, 1.2), webhook_secret=SECRET) as emu:
        polled = cli(tmp_path / "in", "--out", tmp_path / "polled", "--json", "--api", api, emu=emu)
        assert polled.returncode == 0, polled.stdout + polled.stderr
        polled_queries = queries(emu.stats())
        emu.reset()
        heard = cli(
            tmp_path / "in",
            "--out",
            tmp_path / "heard",
            "--json",
            "--api",
            api,
            *LISTEN,
            emu=emu,
        )
        stats = emu.stats()
    assert heard.returncode == 0, heard.stdout + heard.stderr
    assert len(list((tmp_path / "heard").glob("*.mp4"))) == 6
    bound = re.search(
        r"receiving callbacks on 127\.0\.0\.1:(\d+) \(Kling posts them to (\S+)\)", heard.stderr
    )
    assert bound is not None, heard.stderr
    port = int(bound.group(1))
    assert port > 0
    assert bound.group(2) == f"http://127.0.0.1:{port}/kling"
    assert "6 ended a task), 0 refused" in heard.stderr
    assert stats["callbacks_sent"] >= 6
    assert stats["callbacks_failed"] == 0
    assert polled_queries >= 3
    assert queries(stats) < polled_queries
    assert SECRET not in heard.stdout + heard.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--listen", "127.0.0.1:0"], ["--listen 127.0.0.1:0", "needs --callback-url"]),
        (["--listen", "nohost"], ["--listen", "'nohost'", "HOST:PORT"]),
        (["--listen", "127.0.0.1:70000"], ["--listen", "'127.0.0.1:70000'", "0..65535"]),
        (
            ["--listen", "127.0.0.1:0", "--callback-url", "http://127.0.0.1:8080/kling"],
            ["--callback-url http://127.0.0.1:8080/kling", "{port}", "chosen at start"],
        ),
        (
            ["--listen", "127.0.0.1:0", "--callback-url", HOOK],
            ["--listen 127.0.0.1:0", "no webhook secret", "--allow-unsigned-callbacks"],
        ),
        (["--webhook-secret", SECRET], ["--webhook-secret", "only with --listen"]),
        (["--allow-unsigned-callbacks"], ["--allow-unsigned-callbacks", "only with --listen"]),
        (["--callback-url", HOOK], ["--callback-url " + HOOK, "--listen is not given"]),
        (
            [
                "--listen",
                "127.0.0.1:0",
                "--callback-url",
                "ftp://x/{port}",
                "--webhook-secret",
                SECRET,
            ],
            ["--callback-url ftp://x/{port}", "http://"],
        ),
        (
            ["--listen", "127.0.0.1:0", "--callback-url", HOOK, "--webhook-secret", "whsec_!!"],
            ["--webhook-secret", "not a usable webhook secret", "value not shown"],
        ),
        (
            [*LISTEN, "--allow-unsigned-callbacks"],
            ["--allow-unsigned-callbacks", "not with a webhook secret"],
        ),
        (
            [*LISTEN, "--redis", "redis://127.0.0.1:1"],
            ["--listen 127.0.0.1:0", "not with --redis"],
        ),
    ],
)
def test_bad_listen_flags_are_usage_errors_naming_the_flag(
    tmp_path: Path, args: list[str], words: list[str]
) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.png").write_bytes(png(480, 320))
    done = cli(tmp_path / "in", "--out", tmp_path / "out", *args, emu=None)
    assert done.returncode == 2, done.stdout + done.stderr
    for word in words:
        assert word in done.stderr, done.stderr
    assert SECRET not in done.stdout + done.stderr
    assert "whsec_!!" not in done.stdout + done.stderr


def test_a_port_in_use_is_one_line_and_exit_2_before_anything_is_sent(tmp_path: Path) -> None:
    import socket

    images(tmp_path / "in", 1)
    with socket.socket() as taken, start(webhook_secret=SECRET) as emu:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cli(
            tmp_path / "in",
            "--out",
            tmp_path / "out",
            "--listen",
            f"127.0.0.1:{port}",
            "--callback-url",
            HOOK,
            "--webhook-secret",
            SECRET,
            emu=emu,
        )
        creates = emu.stats()["create_requests"]
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"error: --listen 127.0.0.1:{port}: cannot listen there" in done.stderr
    assert creates == 0


def test_help_shows_the_listen_flags() -> None:
    done = cli("--help", emu=None)
    assert done.returncode == 0
    for flag in ("--listen HOST:PORT", "--webhook-secret", "--allow-unsigned-callbacks"):
        assert flag in done.stdout
