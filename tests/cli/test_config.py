"""The config file: where it is, [default] and [profiles.NAME], precedence (flags > env >
profile > built-in), clear errors, a warning for a readable file of secrets, secrets never
printed. In-process for the rules, a subprocess for what a user sees."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

# the CLI's own config reader, which the package does not export
from kling_async.cli._config import load_settings
from kling_async.emulator import EmulatorConfig, EmulatorThread
from kling_async.errors import ConfigurationError

from .._helpers import API_KEY, CLI, png, test_account

SECRET = "s3cret-value-never-printed-0123456789"


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


# -- the rules, in-process ----------------------------------------------------------------
def test_where_the_file_is(tmp_path: Path) -> None:
    xdg = write(tmp_path / "xdg" / "kling-async" / "config.toml", '[default]\nmodel = "a"\n')
    other = write(tmp_path / "other.toml", '[default]\nmodel = "b"\n')
    assert load_settings(env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")}).path == xdg
    named = load_settings(env={"XDG_CONFIG_HOME": str(tmp_path), "KLING_ASYNC_CONFIG": str(other)})
    assert named.defaults == {"model": "b"}
    assert load_settings(env={"XDG_CONFIG_HOME": str(tmp_path / "none")}).defaults == {}
    with pytest.raises(ConfigurationError, match="no such file"):
        load_settings(env={"KLING_ASYNC_CONFIG": str(tmp_path / "missing.toml")})
    with pytest.raises(ConfigurationError, match=r"profile 'work': there is no config file"):
        load_settings("work", env={"XDG_CONFIG_HOME": str(tmp_path / "none")})


def test_a_profile_overlays_default_and_secrets_stay_hidden(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.toml",
        f'[default]\nmodel = "kling-v3"\nmode = "std"\napi_key = "{SECRET}"\n'
        '[profiles.work]\nmode = "pro"\nmax-in-flight = 3\n'
        "[profiles.big]\nconcurrency = 9\nduration = 10\n",
    )
    env = {"KLING_ASYNC_CONFIG": str(path)}
    work = load_settings("work", env=env)
    assert work.defaults == {"model": "kling-v3", "mode": "pro", "max_in_flight": 3}
    assert work.credentials() == {"api_key": SECRET}
    assert work.where() == f"[profiles.work] of {path}"
    assert SECRET not in repr(work)
    by_env = load_settings(env=env | {"KLING_ASYNC_PROFILE": "big"})
    assert by_env.defaults == {
        "model": "kling-v3",
        "mode": "std",
        "max_in_flight": 9,
        "duration": 10,
    }


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[default]\nmodle = "x"\n', ["[default] modle: unknown key; known: access_key"]),
        ('[profiles.w]\nmode = "ultra"\n', ["[profiles.w] mode: 'ultra'", "one of std, pro, 4k"]),
        ("[default]\nduration = true\n", ["duration: True", "whole number ≥ 1"]),
        ("[default]\npoll_interval = 0.1\n", ["poll_interval: 0.1", "≥ 0.5 and ≤ 600"]),
        ("[default]\napi_key = 12345\n", ["api_key: <hidden>", "non-empty string"]),
        (f'[default]\naccess_key = "{SECRET}"\n', ["has access_key but no secret_key"]),
        ('[other]\nmodel = "x"\n', ["unknown table(s) other"]),
        ("[default\n", ["not valid TOML"]),
    ],
)
def test_bad_files_name_file_table_key_and_rule(
    tmp_path: Path, text: str, words: list[str]
) -> None:
    path = write(tmp_path / "c.toml", text)
    with pytest.raises(ConfigurationError) as caught:
        load_settings(env={"KLING_ASYNC_CONFIG": str(path)})
    message = str(caught.value)
    assert message.startswith(f"config {path}: ")
    for word in words:
        assert word in message
    assert SECRET not in message
    assert "12345" not in message


def test_a_missing_profile_names_the_ones_there(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", "[profiles.work]\n[profiles.home]\n")
    with pytest.raises(ConfigurationError) as caught:
        load_settings("wrok", env={"KLING_ASYNC_CONFIG": str(path)})
    assert str(caught.value) == (
        f"profile 'wrok': not in config {path} (profiles there: home, work); "
        "add a [profiles.wrok] table"
    )


def test_a_file_of_secrets_others_can_read_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "c.toml", f'[default]\napi_key = "{SECRET}"\n', mode=0o644)
    load_settings(env={"KLING_ASYNC_CONFIG": str(path)})
    err = capsys.readouterr().err
    assert f"warning: {path} holds secrets and other users can read it (mode 644)" in err
    assert f"chmod 600 {path}" in err
    path.chmod(0o600)
    load_settings(env={"KLING_ASYNC_CONFIG": str(path)})
    write(tmp_path / "d.toml", '[default]\nmodel = "x"\n', mode=0o644)  # no secrets: fine
    load_settings(env={"KLING_ASYNC_CONFIG": str(tmp_path / "d.toml")})
    assert capsys.readouterr().err == ""


# -- what a user sees ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    config = EmulatorConfig(accounts=[test_account()], duration=(0.2, 0.3), seed=3)
    with EmulatorThread(config) as running:
        yield running


def run(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KLING_", "XDG_"))}
    clean["XDG_CONFIG_HOME"] = str(home / "xdg")
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=60, env=clean | env
    )


def test_profiles_give_credentials_and_defaults_flags_and_env_win(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    image = tmp_path / "cat.png"
    image.write_bytes(png(480, 320))
    config = write(
        tmp_path / "xdg" / "kling-async" / "config.toml",
        "[default]\nduration = 10\n"
        f'[profiles.work]\napi_key = "{API_KEY}"\nbase_url = "{emu.url}"\nmode = "pro"\n'
        f'[profiles.elsewhere]\napi_key = "{API_KEY}"\nbase_url = "http://127.0.0.1:9"\n'
        f'[profiles.bad]\napi_key = "{SECRET}"\nbase_url = "{emu.url}"\n',
    )
    runs = {
        "profile": run(tmp_path, "submit", str(image), "--profile", "work", "--external-id", "c1"),
        "env profile, flags": run(
            tmp_path, "submit", str(image), "--external-id", "c2", "--mode", "std",
            "--duration", "5", KLING_ASYNC_PROFILE="work",
        ),
        "group option, env url": run(
            tmp_path, "--profile", "elsewhere", "account", "--json", KLING_BASE_URL=emu.url
        ),
        "env key wins": run(
            tmp_path, "account", "--profile", "work", KLING_API_KEY="env-key-that-is-wrong"
        ),
        "bad key": run(tmp_path, "account", "--profile", "bad"),
    }  # fmt: skip
    for name in ("profile", "env profile, flags", "group option, env url"):
        assert runs[name].returncode == 0, (name, runs[name].stderr)
    store, account = emu.emulator.state.store, emu.config.accounts[0]
    first, second = (store.find(account, "image2video", x) for x in ("c1", "c2"))
    assert first is not None
    assert second is not None
    assert (first.spec.mode, first.spec.duration) == ("pro", "10")  # profile, then [default]
    assert (second.spec.mode, second.spec.duration) == ("std", "5")  # flags win
    assert json.loads(runs["group option, env url"].stdout)["packs"]
    env_wins = runs["env key wins"]
    assert env_wins.returncode == 2
    assert "credentials from the environment" in env_wins.stderr
    bad = runs["bad key"]
    assert bad.returncode == 2
    assert bad.stderr.count("error:") == 1
    assert f"hint: Kling refused the credentials from [profiles.bad] of {config}" in bad.stderr
    for done in runs.values():
        assert SECRET not in done.stdout + done.stderr
        assert "warning" not in done.stderr  # chmod 600


def test_config_errors_exit_2_with_a_hint(tmp_path: Path) -> None:
    config = write(
        tmp_path / "xdg" / "kling-async" / "config.toml",
        f'[profiles.work]\napi_key = "{SECRET}"\nmode = "ultra"\n',
        mode=0o644,
    )
    bad = run(tmp_path, "status", "123", "--profile", "work")
    assert bad.returncode == 2
    assert bad.stderr.splitlines() == [
        f"error: config {config}: [profiles.work] mode: 'ultra' — must be one of std, pro, 4k",
        f"hint: the config file is {config} (KLING_ASYNC_CONFIG to use another); "
        "`kling-async --help` shows its format",
    ]
    config.write_text(f'[profiles.work]\napi_key = "{SECRET}"\n')
    missing = run(tmp_path, "wait", "1", "--poll-interval", "0", KLING_ASYNC_PROFILE="nope")
    assert missing.returncode == 2
    assert "profile 'nope': not in config" in missing.stderr
    warned = run(tmp_path, "wait", "1", "--poll-interval", "0", "--profile", "work")
    assert warned.returncode == 2  # the bad --poll-interval
    assert f"warning: {config} holds secrets" in warned.stderr
    assert "--poll-interval" in warned.stderr
    for done in (bad, missing, warned):
        assert SECRET not in done.stdout + done.stderr
        assert "Traceback" not in done.stderr


# -- files that cannot be a config file ------------------------------------------------------
@pytest.mark.parametrize("content", ["/dev/zero", "deep", "binary", "pipe"])
def test_a_config_file_that_cannot_be_one_is_one_error_line_exit_2(
    tmp_path: Path, content: str
) -> None:
    path = tmp_path / "config.toml"
    if content == "/dev/zero":
        path = Path(content)
    elif content == "deep":
        path.write_text("[default]\nmodel = " + "[" * 50_000 + "]" * 50_000 + "\n")
    elif content == "binary":
        path.write_bytes(bytes(range(256)) * 8)
    else:
        os.mkfifo(path)  # reading it would wait for a writer forever
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLING_")}
    env["KLING_ASYNC_CONFIG"] = str(path)
    done = subprocess.run([*CLI, "account"], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "MemoryError" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert str(path) in errors[0]


def test_the_config_reader_caps_what_it_reads(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_text("# padding\n" * 200_000)
    with pytest.raises(ConfigurationError, match="larger than"):
        load_settings(env={"KLING_ASYNC_CONFIG": str(path)})
