"""The credentials each job's wire needs, checked once before anything is sent: a model on
Kling's new API with only an access/secret key pair is one configuration error for the run,
not one invalid job per image."""

from __future__ import annotations

from collections.abc import Iterable

from ...client import KlingClient
from ...errors import ValidationError
from ...validation import AnyRequest, plan
from .._words import message_for


def credentials_problem(
    client: KlingClient, jobs: Iterable[AnyRequest], *, allow_unknown_models: bool
) -> str | None:
    """What the first job whose wire needs a credential ``client`` lacks says, in the CLI's
    words; None when every job can be signed. A job that is invalid anyway is left to its
    own validation."""
    seen: set[tuple[type, str, str | None]] = set()
    for job in jobs:
        key = (type(job), job.model, getattr(job, "api", None))
        if key in seen:
            continue
        seen.add(key)
        try:
            planned = plan(job, api=client.api, allow_unknown_models=allow_unknown_models)
        except ValidationError:
            continue  # invalid anyway: its outcome says why
        try:
            client.resource_for(planned.endpoint).check_credentials(planned)
        except ValidationError as exc:
            return message_for(exc)
    return None
