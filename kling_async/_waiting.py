"""How a single task is waited for: ``WaitPolicy`` (``client.wait_policy``, ``wait(policy=)``)."""

from __future__ import annotations

import attrs


@attrs.frozen
class WaitPolicy:
    """How ``wait`` polls: the first look after ``first_poll`` seconds (about when a task of
    the kind is expected to end), then every ``min_interval`` growing by ``factor`` up to
    ``max_interval``. The default deadline of ``wait`` is ``timeout``."""

    first_poll: float = 30.0
    min_interval: float = 3.0
    max_interval: float = 15.0
    factor: float = 1.5
    timeout: float = 1200.0
