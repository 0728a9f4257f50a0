"""Where a task's callbacks go is not what its job makes: ``animate --listen HOST:0`` tells
Kling another port each run, and a rerun must resume, not make (and pay) every video again."""

from __future__ import annotations

import kling_async as kling
from kling_async.batch import content_hash


def test_the_callback_url_is_not_part_of_a_jobs_identity() -> None:
    def job(**changes: str) -> kling.ImageToVideo:
        fields = {"image": "https://img.test/a.png", "prompt": "waves", **changes}
        return kling.ImageToVideo(**fields)

    plain = content_hash(job())
    assert content_hash(job(callback_url="http://127.0.0.1:41234/kling")) == plain
    assert content_hash(job(callback_url="https://my-host.example/kling")) == plain
    assert content_hash(job(prompt="calm")) != plain  # what it makes still counts
