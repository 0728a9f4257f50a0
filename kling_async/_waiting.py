"""How a single task is waited for: ``WaitPolicy`` (``client.wait_policy``, ``wait(policy=)``)."""

from __future__ import annotations

import attrs


@attrs.frozen
class WaitPolicy:
    """How ``wait`` polls: the first look after ``first_poll`` seconds — by default (None)
    when tasks of its kind that this client saw end took the least time (their 10th
    percentile), or after ``min_interval`` while it has seen none — then every
    ``min_interval`` growing by ``factor`` up to ``max_interval``. The default deadline of
    ``wait`` is ``timeout``."""

    first_poll: float | None = None
    min_interval: float = 1.0
    max_interval: float = 15.0
    factor: float = 1.5
    timeout: float = 1200.0
