"""Auth over real HTTP: JWTs and API keys, codes 1000-1004 with HTTP 401."""

from __future__ import annotations

import time

import jwt
import pytest

from .._helpers import ACCESS_KEY, API_KEY, SECRET_KEY, Api, StartEmulator, test_account, token


@pytest.mark.parametrize(
    ("auth", "code"),
    [
        ("", 1001),
        ("Basic abc", 1002),
        ("Bearer ", 1002),
        ("Bearer not.a.jwt", 1002),
        (f"Bearer {token(secret_key='wrong-secret-wrong-secret-wrong-secret')}", 1002),
        (f"Bearer {token(access_key='someone-else')}", 1000),
        ("Bearer unknown-api-key", 1000),
        (f"Bearer {token(nbf=time.time() + 86400, exp=time.time() + 2 * 86400)}", 1003),
        (f"Bearer {token(exp=time.time() - 1)}", 1004),
    ],
    ids=[
        "empty",
        "not-bearer",
        "no-token",
        "garbage-jwt",
        "bad-signature",
        "unknown-iss",
        "unknown-api-key",
        "nbf-future",
        "expired",
    ],
)
async def test_auth_failures_answer_401_with_the_documented_code(
    emu_api: tuple[object, Api], auth: str, code: int
) -> None:
    _, api = emu_api
    status, body, _ = await api.call("GET", "/v1/videos/image2video", auth=auth)
    assert status == 401
    assert body["code"] == code
    assert "data" not in body
    assert body["request_id"]


async def test_jwt_with_other_algorithm_is_refused(emu_api: tuple[object, Api]) -> None:
    _, api = emu_api
    now = int(time.time())
    forged = jwt.encode(
        {"iss": ACCESS_KEY, "exp": now + 60, "nbf": now - 5}, SECRET_KEY * 2, algorithm="HS512"
    )
    status, body, _ = await api.call("GET", "/v1/videos/image2video", auth=f"Bearer {forged}")
    assert (status, body["code"]) == (401, 1002)
    assert "HS256" in body["message"]


async def test_jwt_without_exp_is_refused(emu_api: tuple[object, Api]) -> None:
    _, api = emu_api
    bare = jwt.encode({"iss": ACCESS_KEY}, SECRET_KEY, algorithm="HS256")
    status, body, _ = await api.call("GET", "/v1/videos/image2video", auth=f"Bearer {bare}")
    assert (status, body["code"]) == (401, 1002)
    assert "exp" in body["message"]


async def test_valid_jwt_and_api_key_are_accepted(emu_api: tuple[object, Api]) -> None:
    _, api = emu_api
    for auth in (f"Bearer {token()}", f"Bearer {API_KEY}"):
        status, body, _ = await api.call("GET", "/v1/videos/image2video", auth=auth)
        assert (status, body["code"], body["data"]) == (200, 0, [])


async def test_token_max_age_expires_old_tokens(start_emulator: StartEmulator) -> None:
    emu, api = await start_emulator(token_max_age=10)
    fresh = f"Bearer {token(nbf=time.time() - 5)}"
    old = f"Bearer {token(nbf=time.time() - 30)}"
    assert (await api.call("GET", "/v1/videos/image2video", auth=fresh))[0] == 200
    status, body, _ = await api.call("GET", "/v1/videos/image2video", auth=old)
    assert (status, body["code"]) == (401, 1004)
    assert emu.stats()["errors_by_code"] == {"1004": 1}


async def test_accounts_do_not_see_each_others_tasks(start_emulator: StartEmulator) -> None:

    other = test_account(
        access_key="other-ak",
        secret_key="other-secret-0123456789abcdef01234",
        api_keys=("other-api-key",),
    )
    _emu, api = await start_emulator(accounts=[test_account(), other])
    status, created = await api.create(external_task_id="mine")
    assert status == 200
    task_id = created["data"]["task_id"]
    status, body, _ = await api.call(
        "GET", f"/v1/videos/image2video/{task_id}", auth="Bearer other-api-key"
    )
    assert (status, body["code"]) == (400, 1201)
    status, body, _ = await api.call("GET", "/v1/videos/image2video", auth="Bearer other-api-key")
    assert body["data"] == []
    # the new wire's account-wide queries are still per account
    for auth, seen in ((f"Bearer {API_KEY}", [task_id]), ("Bearer other-api-key", [])):
        status, body, _ = await api.call("GET", f"/tasks?task_ids={task_id}", auth=auth)
        assert (status, [t["id"] for t in body["data"]]) == (200, seen)
        status, body, _ = await api.call("GET", "/tasks?external_task_ids=mine", auth=auth)
        assert [t["id"] for t in body["data"]] == seen
        status, body, _ = await api.call("POST", "/tasks", json={}, auth=auth)
        assert [t["id"] for t in body["data"]["result"]] == seen
