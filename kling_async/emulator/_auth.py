"""Who is calling: HS256 JWTs signed with an account's secret key, or a static API key."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

import jwt

from ._config import Account
from ._errors import Rejection

#: The new wire's answer to a JWT (observed live, 2026-09-20).
NO_AKSK = (
    "Authentication error. The current API does not support AK/SK; please go to the console "
    "to create API key."
)


def _reject(code: int, message: str) -> Rejection:
    return Rejection(401, code, message)


def authenticate(
    header: str | None,
    accounts: Sequence[Account],
    now: float,
    token_max_age: float | None = None,
    *,
    api_key_only: bool = False,
) -> Account:
    """Return the account an ``Authorization`` header belongs to, or raise a 1000-1004 rejection.

    1001 header empty; 1002 header or token malformed, or bad signature; 1000 no such key;
    1003 ``nbf`` in the future; 1004 ``exp`` in the past (or older than ``token_max_age``).
    With ``api_key_only`` (the new wire) any JWT, valid or not, gets 1002 "does not support
    AK/SK".
    """
    if not header or not header.strip():
        raise _reject(1001, "Authorization header is empty")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _reject(1002, "Authorization header is invalid: expected 'Bearer <token>'")
    for account in accounts:
        if any(hmac.compare_digest(token, key) for key in account.api_keys):
            return account
    if token.count(".") != 2:
        raise _reject(1000, "Authentication failed: unknown API key")
    if api_key_only:
        raise _reject(1002, NO_AKSK)
    try:
        head = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise _reject(1002, "Authorization token is invalid: not a decodable JWT") from None
    if head.get("alg") != "HS256":
        raise _reject(1002, f"Authorization token is invalid: alg {head.get('alg')!r} is not HS256")
    issuer = claims.get("iss")
    found = next((a for a in accounts if a.access_key == issuer), None)
    if found is None:
        raise _reject(1000, "Authentication failed: unknown access key in 'iss'")
    try:
        jwt.decode(
            token,
            found.secret_key,
            algorithms=["HS256"],
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
    except jwt.PyJWTError:
        raise _reject(1002, "Authorization token is invalid: signature does not verify") from None
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise _reject(
            1002, "Authorization token is invalid: claim 'exp' is missing or not a number"
        )
    if nbf is not None and (not isinstance(nbf, int | float) or isinstance(nbf, bool)):
        raise _reject(1002, "Authorization token is invalid: claim 'nbf' is not a number")
    if nbf is not None and nbf > now:
        raise _reject(1003, "Authorization token is not yet valid (nbf is in the future)")
    if exp <= now:
        raise _reject(1004, "Authorization token has expired (exp is in the past)")
    if token_max_age is not None and nbf is not None and now - nbf > token_max_age:
        raise _reject(1004, "Authorization token has expired (older than the emulator allows)")
    return found
