"""Every exception the SDK raises: one root, one class per failure family.

::

    KlingError
    ├── ConfigurationError (also ValueError)     bad client settings, missing credentials
    ├── ValidationError (also ValueError)        a request broke a rule; nothing was sent
    ├── APIError                                 Kling answered with an error envelope
    │   ├── AuthenticationError                  1000-1004
    │   ├── AccountError                         1100, 1101
    │   │   └── BalanceExhaustedError            1102: resource pack used up or expired
    │   ├── PermissionDeniedError                1103, 1304
    │   ├── InvalidRequestError                  1200, 1201
    │   │   └── ExternalIdTakenError             1201: the external_task_id is in use
    │   ├── NotFoundError                        1202, 1203, and 1201 "Task not found"
    │   ├── ContentPolicyError                   1300, 1301
    │   ├── RateLimitError                       1302 (retried after a delay)
    │   ├── ConcurrencyLimitError                1303 (retried with backoff)
    │   └── ServerError                          5000-5002 and unknown 5xx (retried)
    ├── APIConnectionError                       the request did not get an answer
    │   ├── APITimeoutError (also TimeoutError)  ... because a timeout ran out
    │   └── ServerUnreachableError               ... no connection was made: nothing was sent
    ├── ResponseFormatError                      an answer the SDK cannot read
    ├── TaskFailedError                          the task ended ``failed``
    ├── CreateUnconfirmedError                   a create may have reached the server
    ├── TaskTimeoutError (also TimeoutError)     ``wait`` ran past its deadline
    ├── DownloadError                            a result file could not be fetched whole
    ├── JournalError                             a batch journal that cannot be used
    │   └── JournalLockedError                   ... because another run holds it
    ├── NotSentError                             a batch job that was not sent (budget, halt)
    ├── JobClaimedError                          another live worker holds the job
    ├── LeaseLostError                           this worker's lease on a job ran out
    ├── WorkerJobError                           a job that failed in a worker
    ├── WorkerHaltedError                        a worker that cannot work: it stopped
    ├── GovernorUnavailableError                 Redis did not answer the shared governor
    └── WebhookError                             a callback that must not be trusted
        ├── WebhookAuthError                     ... unsigned, forged, stale or replayed
        └── WebhookFormatError                   ... authentic, but not a task (not JSON...)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from .states import TaskStatus

if TYPE_CHECKING:
    from .results import Task


class KlingError(Exception):
    """The root of every error this SDK raises."""


class ConfigurationError(KlingError, ValueError):
    """The client was configured wrongly (missing credentials, an unsafe base URL...)."""


class ValidationError(KlingError, ValueError):
    """A request broke a documented rule; nothing was sent.

    ``field``, ``value`` and ``rule`` say what and why; ``str()`` says all three.
    """

    def __init__(self, field: str, value: object, rule: str) -> None:
        self.field = field
        self.value = value
        self.rule = rule
        super().__init__(f"{field}: {_short(value)} — {rule}")


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class APIError(KlingError):
    """Kling answered with a non-zero ``code``."""

    def __init__(
        self,
        message: str,
        *,
        code: int,
        http_status: int,
        request_id: str | None = None,
        body: Any = None,
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.code = code
        self.http_status = http_status
        self.request_id = request_id
        self.body = body
        #: Seconds the server asked to wait (``Retry-After``), if it said.
        self.retry_after = retry_after
        super().__init__(f"[{code}] {message} (HTTP {http_status}, request_id={request_id})")


class AuthenticationError(APIError):
    """1000-1004: the credentials or the token were refused."""


class AccountError(APIError):
    """1100, 1101: the account is abnormal or in arrears."""


class BalanceExhaustedError(AccountError):
    """1102: the resource pack is used up or expired. Retrying will not help."""


class PermissionDeniedError(APIError):
    """1103 (no access to this API or model), 1304 (IP whitelist)."""


class InvalidRequestError(APIError):
    """1200, 1201: the server refused a parameter; ``message`` says which."""


class ExternalIdTakenError(InvalidRequestError):
    """1201: the create's ``external_task_id`` is already in use by a task (one an earlier try
    of the same create may have made, or another job's). Nothing new was created."""


class NotFoundError(APIError):
    """1202, 1203, or a task id / external id the account does not have."""


class ContentPolicyError(APIError):
    """1300, 1301: platform policy or content safety."""


class RateLimitError(APIError):
    """1302: requests too fast. Retried after ``retry_after`` or a backoff."""


class ConcurrencyLimitError(APIError):
    """1303: more parallel tasks than the pack allows. A slot frees when a task ends."""


class ServerError(APIError):
    """5000 (internal error), 5001 (maintenance), 5002 (backlog timeout), other 5xx."""


class APIConnectionError(KlingError):
    """No answer: the connection failed, was dropped, or the response was cut short."""

    #: False for failures a retry cannot mend (a certificate that does not verify).
    retryable: bool = True


class APITimeoutError(APIConnectionError, TimeoutError):
    """No answer within the request's timeout."""


class ServerUnreachableError(APIConnectionError):
    """No connection to the API could be made (refused, no such host, no route, a connect
    timeout, a certificate that does not verify): the request was never sent, so a create
    that meets it made no task and costs nothing. ``base_url`` is where it tried."""

    def __init__(self, message: str, *, base_url: str) -> None:
        self.base_url = base_url
        super().__init__(message)


class ResponseFormatError(KlingError):
    """An answer that is not what the API documents (not JSON, wrong types...)."""

    def __init__(self, message: str, *, body: Any = None) -> None:
        self.body = body
        super().__init__(message)


class TaskFailedError(KlingError):
    """The task ended ``failed``; ``task.status_message`` says why (Kling does not charge it)."""

    def __init__(self, task: Task) -> None:
        self.task = task
        super().__init__(f"task {task.task_id} failed: {task.status_message or 'no reason given'}")


class CreateUnconfirmedError(KlingError):
    """A create may have reached the server, and the SDK could not find out whether it did
    (the answer was lost or unreadable and the lookup by ``external_task_id`` failed too).

    Never send it again blindly: look it up with ``get(external_task_id)`` (or rerun the
    batch, which does). ``__cause__`` is the failure that left it unconfirmed."""

    def __init__(self, external_task_id: str, cause: BaseException) -> None:
        self.external_task_id = external_task_id
        self.cause = cause
        super().__init__(
            f"the create may have reached the server ({type(cause).__name__}: {cause}); "
            f"look it up by external_task_id {external_task_id!r} before creating it again"
        )


class TaskTimeoutError(KlingError, TimeoutError):
    """``wait`` reached its deadline before the task ended. The task may still finish."""

    def __init__(self, task_id: str, timeout: float, last: Task | None = None) -> None:
        self.task_id = task_id
        self.timeout = timeout
        self.last = last
        status = last.status.value if last is not None else TaskStatus.UNKNOWN.value
        super().__init__(f"task {task_id} still {status} after {timeout:g} s")


class DownloadError(KlingError):
    """A result file could not be downloaded whole (status, length or connection)."""

    def __init__(self, message: str, *, url: str | None = None, resumable: bool = False) -> None:
        self.url = url
        #: True when the transfer broke off and can continue from the bytes already saved.
        self.resumable = resumable
        super().__init__(message)


class JournalError(KlingError):
    """A batch journal that cannot be used (corrupt, of an unknown schema, unwritable).
    ``path`` is the file; the message says what to do."""

    def __init__(self, path: object, message: str) -> None:
        self.path = path
        super().__init__(f"journal {path}: {message}")


class JournalLockedError(JournalError):
    """Another run (process) is using the same journal: one run per output folder.
    ``holder`` describes that process (pid, host, since when)."""

    def __init__(self, path: object, holder: str) -> None:
        self.holder = holder
        super().__init__(
            path,
            f"in use by another run ({holder}); wait for it to end, or use another output folder",
        )


class WorkerHaltedError(KlingError):
    """A fault of the worker, not of its jobs (its credentials refused, the API unreachable
    from it, its own disk full): it handed its jobs back to the queue, took no more, and
    stopped. ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"this worker stopped: {reason}; its jobs were handed back to the queue")
        self.reason = reason


class GovernorUnavailableError(KlingError):
    """Redis did not answer the shared governor: a ``generate()`` waiting for a slot gets it
    at once, a batch after ``give_up_after`` seconds (rather than wait forever). Its cause is
    redis-py's error."""


class WebhookError(KlingError):
    """A callback that must not be trusted: unsigned, badly signed, stale, replayed, malformed.
    Raised as such for a receiver set up wrongly (no secret, an unusable one); a delivery is
    refused with one of its two subclasses, which the aiohttp handler answers 401 and 400."""


class WebhookAuthError(WebhookError):
    """A delivery that is not proven authentic and new: unsigned while a secret is set, a
    signature that does not verify, a timestamp out of tolerance, a replayed id (HTTP 401)."""


class WebhookFormatError(WebhookError):
    """A delivery that is authentic (or unsigned and allowed) but malformed: not JSON, nested
    too deeply, or not a task (HTTP 400)."""


class WorkerJobError(KlingError):
    """A job that failed in a worker: the worker's message."""


class NotSentError(KlingError):
    """The job was not sent (``max_units`` or ``max_cost`` reached, the pack used up) or its
    task ended in a state this SDK does not know. Its journal row stays pending: a rerun picks
    it up.

    ``kind`` says why: ``"halted"`` (the batch stopped creating: the credentials or the account
    were refused, or its outcomes are no longer read), ``"max_units"`` or ``"max_cost"`` (a
    budget) or ``"unknown_state"``."""

    def __init__(self, reason: str, *, kind: str = "unknown_state") -> None:
        super().__init__(reason)
        self.kind = kind

    @property
    def budget(self) -> bool:
        """Not sent because the batch's budget (``max_units`` or ``max_cost``) was reached."""
        return self.kind in ("max_units", "max_cost")


class JobClaimedError(KlingError):
    """Another live worker holds the job (its lease has ``expires_in`` seconds left)."""

    def __init__(self, job_id: str, holder: str, expires_in: float) -> None:
        self.job_id = job_id
        self.holder = holder
        self.expires_in = expires_in
        super().__init__(
            f"job {job_id[:12]} is held by worker {holder} for {expires_in:.1f} s more"
        )


class LeaseLostError(KlingError):
    """This worker's lease on a job ran out and nothing of it was written: another worker may
    own the job now (it resumes the job from its recorded state)."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(f"job {job_id[:12]}: this worker's lease ran out; the job was left alone")


#: Kling code -> exception class. One table: nothing decides by message text, except
#: ``error_for`` telling 1201's three meanings apart (a bad parameter, a missing task, an
#: external id in use).
CODE_TO_ERROR: dict[int, type[APIError]] = {
    **dict.fromkeys((1000, 1001, 1002, 1003, 1004), AuthenticationError),
    **dict.fromkeys((1100, 1101), AccountError),
    1102: BalanceExhaustedError,
    **dict.fromkeys((1103, 1304), PermissionDeniedError),
    **dict.fromkeys((1200, 1201), InvalidRequestError),
    **dict.fromkeys((1202, 1203), NotFoundError),
    **dict.fromkeys((1300, 1301), ContentPolicyError),
    1302: RateLimitError,
    1303: ConcurrencyLimitError,
    **dict.fromkeys((5000, 5001, 5002), ServerError),
}


class ErrorDetails(TypedDict, total=False):
    """What an error answer carries besides its code, message and HTTP status, as
    ``APIError`` takes it (and says its defaults)."""

    request_id: str | None
    body: Any
    retry_after: float | None


def error_for(
    code: int, message: str, *, http_status: int, **details: Unpack[ErrorDetails]
) -> APIError:
    """The exception for a Kling error answer (``details``: ``request_id``, ``body``,
    ``retry_after``, passed on to it)."""
    cls = CODE_TO_ERROR.get(code)
    if code == 1201:  # one code, three meanings: the message tells them apart, here only
        text = message.lower()
        if "not found" in text:
            cls = NotFoundError
        elif "already exists" in text or ("external_task_id" in text and "exist" in text):
            cls = ExternalIdTakenError
    if cls is None:
        if http_status >= 500:
            cls = ServerError
        elif http_status == 401:
            cls = AuthenticationError
        else:  # an unknown code is never retried
            cls = APIError
    return cls(message, code=code, http_status=http_status, **details)
