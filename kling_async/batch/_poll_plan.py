"""When the poller looks: its policy, what it learns of task durations, and the pure maths
that turns both into the time between poll rounds (``round_interval``)."""

from __future__ import annotations

import attrs

from .._retry import backoff
from ..errors import ValidationError


@attrs.frozen
class PollPolicy:
    """How often the poller looks, within a budget of requests per job.

    No task is looked at before it may have ended: the 10th percentile of the durations
    learned for its kind (before any is known, ``unknown_share`` of its age: a task 4 s old is
    looked at after another second, one 2 minutes old after 30 s). Once tasks are due, a poll
    round comes every ``E[T] * requests_per_round / (in_flight * requests_per_job)`` seconds,
    clamped to ``min_interval``..``max_interval``: about ``requests_per_job`` poll requests per
    finished job, whatever the account's size. With completion by callback, polling is a
    fallback at ``max_interval``. A failed poll is not retried on its own: the next one comes
    at the usual interval; a task whose queries keep failing is looked at less and less
    often (``min_interval`` doubled each failure, up to ``max_interval``).
    """

    min_interval: float = 0.1
    max_interval: float = 15.0
    unknown_share: float = 0.25
    #: From this many tasks in flight, one list request replaces the single queries.
    list_threshold: int = 2
    #: Seconds after its create (or after a rerun picked it up) that a task may take before
    #: its job ends as ``TaskTimeoutError``; the journal keeps it, so a rerun looks again.
    task_timeout: float = 1200.0
    #: The poll requests (list pages, batch and single queries) to spend per finished job.
    requests_per_job: float = 1.0

    def __attrs_post_init__(self) -> None:
        for name in (
            "min_interval",
            "max_interval",
            "unknown_share",
            "task_timeout",
            "requests_per_job",
        ):
            value = getattr(self, name)
            if not value > 0:
                raise ValidationError(name, value, "must be a positive number")
        if self.min_interval > self.max_interval:
            limit = f"must not exceed max_interval {self.max_interval}"
            raise ValidationError("min_interval", self.min_interval, limit)

    def after_failures(self, failures: int) -> float:
        """Seconds before a task whose last ``failures`` queries failed is asked about again:
        ``min_interval`` doubled each failure, ``max_interval`` at most."""
        return backoff(failures, initial=self.min_interval, cap=self.max_interval)


def round_interval(
    policy: PollPolicy,
    mean: float | None,
    *,
    in_flight: int,
    round_cost: float,
    ended: int,
    rate: float | None,
    backlog: bool,
    creating: bool,
) -> float:
    """The budgeted time between poll rounds while tasks are due.

    ``mean`` is the mean duration of the due tasks' kinds (None: none learned yet),
    ``in_flight`` the tasks tracked, ``round_cost`` the requests a round has cost lately,
    ``ended`` the tasks seen to end so far, ``rate`` the account's learned request rate
    (None: none), ``backlog`` whether jobs wait for a slot, ``creating`` whether a create
    waits to be sent or answered.

    Without a backlog (the batch's tail) rounds come every 5% of a task's mean duration, or
    sooner if the budget allows it (many tasks in flight, each round seeing them all),
    ``min_interval`` at least: the last tasks' ends are the batch's end. Under a learned
    request-rate limit the budget shrinks to the share of the rate that creates leave free
    (at least 0.2)."""
    if mean is None:
        return policy.min_interval
    per_round = max(1.0, round_cost)
    if not backlog:  # the tail: a lag of ~2.5% of a task, whatever it costs ...
        # ... or less where the batch is big enough to pay for it: a mean duration of
        # looks for a tenth of a request per job ended so far. At C=1000 the 5% rule
        # alone kept the looks 0.375 s apart for the last half of a two-wave batch, and
        # the last task's end waited for one (1.016 x greedy on the virtual clock)
        afford = mean * per_round / (TAIL_REQUESTS_PER_JOB * max(1, ended))
        tail = min(TAIL_SHARE * mean, afford)
        interval = min(policy.max_interval, max(policy.min_interval, tail))
        if rate is None:
            return interval
        # ... within the account's request rate: while the last creates wait for their
        # turn, polls (which go first) take their tenth of it, as under a backlog; else
        # half (10 looks a second under 10 req/s had starved the last creates: a 14 s
        # tail for 20 jobs of 2 s)
        share = RATE_POLL_SHARE if creating else TAIL_RATE_SHARE
        return max(interval, per_round / (share * rate))
    budget = policy.requests_per_job
    floor = policy.min_interval
    if rate is not None:  # the account's request rate binds: creates come first
        completions = in_flight / mean
        budget = min(budget, max(0.2, (rate - completions) / completions))
        # and polls take at most a tenth of the rate (each one is a create not sent)
        floor = max(floor, per_round / (RATE_POLL_SHARE * rate))
    interval = mean * per_round / (in_flight * budget)
    return min(policy.max_interval, max(floor, interval))


#: Share of the mean duration between rounds at a batch's tail (no job waits for a slot).
TAIL_SHARE = 0.05
#: Poll requests a batch's tail may spend per job ended so far, over a mean duration of
#: looks (a big batch's tail is looked at as often as ``min_interval`` allows).
TAIL_REQUESTS_PER_JOB = 0.1
#: Under a learned request-rate limit, the share of it polls may take.
RATE_POLL_SHARE = 0.1
#: The share of a learned request rate polls may take once no create waits (the batch's end).
TAIL_RATE_SHARE = 0.5
