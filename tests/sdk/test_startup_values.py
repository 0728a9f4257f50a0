"""Start-up values that cannot work are refused at once, by name and rule, never echoing a
secret: a key with a control character in it (a CR/LF from a pasted line), a base URL that
carries ``user:password@``. Before, both went on to end in tracebacks deep in aiohttp."""

from __future__ import annotations

import pytest

import kling_async as kling
from kling_async._auth import Credentials

#: Distinctive secret text: it must show nowhere in what the SDK says.
PIECE = "SeKr1t"
ENV_NAMES = ("KLING_ACCESS_KEY", "KLING_SECRET_KEY", "KLING_API_KEY", "KLING_BASE_URL")
CONTROL = ["\r\n", "\n", "\r", "\t", "\x1b", "\x7f", "\x85", "\u2028"]  # no NUL: no env has one


def poisoned(char: str) -> str:
    return f"{PIECE}-head{char}{PIECE}-tail"


def assert_hidden(exc: BaseException) -> None:
    for text in (str(exc), repr(exc), repr(exc.args)):
        assert PIECE not in text


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("char", CONTROL, ids=[f"U+{ord(c[-1]):04X}" for c in CONTROL])
@pytest.mark.parametrize("variable", ["KLING_ACCESS_KEY", "KLING_SECRET_KEY", "KLING_API_KEY"])
def test_a_control_character_in_a_key_variable_is_refused_by_name(
    clean_env: pytest.MonkeyPatch, variable: str, char: str
) -> None:
    good = {"KLING_ACCESS_KEY": "ak", "KLING_SECRET_KEY": "sk", "KLING_API_KEY": "key"}
    for name, value in {**good, variable: poisoned(char)}.items():
        clean_env.setenv(name, value)
    with pytest.raises(kling.ConfigurationError) as caught:
        kling.KlingClient(base_url="https://api.example.com")
    assert str(caught.value).startswith(f"{variable}: contains ")
    assert "one line of printable characters" in str(caught.value)
    assert_hidden(caught.value)


@pytest.mark.parametrize("char", ["\r\n", "\n", "\x00"])
@pytest.mark.parametrize("argument", ["access_key", "secret_key", "api_key"])
def test_a_control_character_in_a_key_argument_is_refused_by_name(
    clean_env: pytest.MonkeyPatch, argument: str, char: str
) -> None:
    keys = {"access_key": "ak", "secret_key": "sk", "api_key": "key", argument: poisoned(char)}
    with pytest.raises(kling.ConfigurationError) as caught:
        kling.KlingClient(base_url="https://api.example.com", **keys)
    assert str(caught.value).startswith(f"{argument}: contains ")
    assert_hidden(caught.value)
    with pytest.raises(kling.ConfigurationError, match=f"^{argument}: contains "):
        Credentials(**keys)  # made directly, too
    fine = poisoned(" ü ")  # spaces and letters beyond ASCII are not control characters
    assert getattr(Credentials(**{**keys, argument: fine}), argument) == fine


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"https://bob:{PIECE}@api.example.com", "https://bob:***@api.example.com"),
        (f"https://bob:{PIECE}@api.example.com/v1/", "https://bob:***@api.example.com/v1/"),
        (f"http://bob:{PIECE}@127.0.0.1:8000", "http://bob:***@127.0.0.1:8000"),
        (f"https://:{PIECE}@api.example.com", "https://:***@api.example.com"),
        ("https://bob@api.example.com", "https://bob@api.example.com"),
    ],
)
def test_a_base_url_with_credentials_is_refused_with_the_password_masked(
    clean_env: pytest.MonkeyPatch, url: str, shown: str
) -> None:
    with pytest.raises(kling.ConfigurationError) as caught:
        kling.KlingClient(api_key="key", base_url=url)
    assert f"base_url: {shown!r} carries a user name or password" in str(caught.value)
    assert_hidden(caught.value)
    clean_env.setenv("KLING_BASE_URL", url)  # from the environment alike
    with pytest.raises(kling.ConfigurationError, match="carries a user name or password"):
        kling.KlingClient(api_key="key")


@pytest.mark.parametrize(
    "url",
    [
        f"ftp://bob:{PIECE}@api.example.com",  # refused for its scheme: the password masked
        f"http://bob:{PIECE}@api.example.com",  # plain http: masked too
        f"bob:{PIECE}@api.example.com",  # no scheme: nothing before the '@' shown
        f"https://bob:{PIECE}@api.example.com:port",  # unparsable port
    ],
)
def test_other_base_url_refusals_never_show_a_password(url: str) -> None:
    with pytest.raises(kling.ConfigurationError, match=r"^base_url: ") as caught:
        kling.KlingClient(api_key="key", base_url=url)
    assert_hidden(caught.value)
