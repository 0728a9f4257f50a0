"""The command line's words for what the SDK says: its field names become the options that
set them (``duration`` -> ``--duration``), its phrasings the flags a user types
(``sound=True`` -> ``--sound``), and aspect ratios are reduced (``3:1 (1500x500)``)."""

from __future__ import annotations

import re

from ..errors import ConfigurationError, ValidationError

#: SDK field -> the option (or argument) that sets it.
OPTION_FOR = {
    "image": "IMAGE",
    "prompt": "--prompt",
    "negative_prompt": "--negative-prompt",
    "model": "--model",
    "mode": "--mode",
    "duration": "--duration",
    "cfg_scale": "--cfg-scale",
    "camera_control": "--camera",
    "sound": "--sound",
    "voices": "--voice",
    "image_tail": "--end-frame",
    "external_task_id": "--external-id",
    "callback_url": "--callback-url",
    "watermark": "--watermark",
    "multi_prompt": "--multi-prompt",
    "multi_shot": "--multi-prompt",
    "elements": "--element",
    "aspect_ratio": "--aspect-ratio",
    "api": "--api",
    "timeout": "--timeout",
    "task_id": "TASK_ID",
}
#: SDK phrasings -> the CLI's (whole phrases first, then the single spellings below).
_PHRASES = [
    ("pass access_key= and secret_key= (or api_key=), or set", "set"),
    ("native audio (sound=True)", "native audio (--sound)"),
    ("voices (voices=...)", "voices (--voice)"),
    ("an end frame (image_tail)", "an end frame (--end-frame)"),
    ("multi-shot (multi_shot / multi_prompt)", "multi-shot (--multi-prompt)"),
    ("elements (element_list)", "elements (--element)"),
    ("need sound=True", "need --sound"),
    ("leave sound unset", "leave out --no-sound"),
    ("pass allow_unknown_models=True", "add --allow-unknown-models"),
    ("pass api_key= or set KLING_API_KEY", "set KLING_API_KEY (or api_key in the config file)"),
    ("api='legacy'", "--api legacy"),
    ("or pass allow_http=True if you really mean it", "plain http goes only to this machine"),
    ("(upscale=True enlarges it)", "(--upscale enlarges it)"),
    (
        "fit='pad' letterboxes it, fit='crop' cuts its middle",
        "--fit pad letterboxes it, --fit crop cuts its middle",
    ),
]
#: SDK spellings -> what a command-line user types.
_SPELLINGS = [
    (re.compile(r"\ballow_unknown_models=True\b"), "--allow-unknown-models"),
    (re.compile(r"^max_units\b"), "--max-units"),
    (re.compile(r"^max_cost\b"), "--max-cost"),
    (re.compile(r"\bsound=True\b"), "--sound"),
    (re.compile(r"\bsound=False\b"), "--no-sound"),
    (re.compile(r"\(voices=\.\.\.\)"), "(--voice)"),
    (re.compile(r"\(multi_shot / multi_prompt\)"), "(--multi-prompt)"),
    (re.compile(r"\(element_list\)"), "(--element)"),
    (re.compile(r"\(image_tail\)"), "(--end-frame)"),
]
_ASPECT = re.compile(r"aspect ratio (\d+):(\d+)(?: \([\d.]+\))? is outside")
_FIELD = re.compile(r"^([a-z_]+)(\[\d+\])?(\..*)?$")


def cli_words(text: str) -> str:
    """An SDK message in the words of the command line (``--sound``, not ``sound=True``),
    with aspect ratios reduced (``3:1 (1500x500)``, not ``1500:500``)."""
    for sdk, cli in _PHRASES:
        text = text.replace(sdk, cli)
    for pattern, words in _SPELLINGS:
        text = pattern.sub(words, text)

    def aspect(match: re.Match[str]) -> str:
        width, height = int(match[1]), int(match[2])
        ratio = width / height if height else 0.0
        shown = f"{ratio:.3g}:1" if ratio >= 1 else f"1:{1 / ratio:.3g}" if ratio else "0"
        return f"aspect ratio {shown} ({width}x{height}) is outside"

    return _ASPECT.sub(aspect, text)


def message_for(exc: BaseException) -> str:
    """The error's message, with the SDK's field names and phrasings in the CLI's words."""
    if isinstance(exc, ValidationError):
        match = _FIELD.match(exc.field)
        option = OPTION_FOR.get(match.group(1)) if match else None
        rule = cli_words(exc.rule)
        if option is None:
            return cli_words(str(exc))
        if isinstance(exc.value, bool) and option in ("--sound", "--watermark"):
            option = option if exc.value else option.replace("--", "--no-")
            return f"{option}: {rule}"
        shown = repr(exc.value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return f"{option}: {rule}" if exc.value is None else f"{option}: {shown} — {rule}"
    text = str(exc)
    if isinstance(exc, ConfigurationError) and text.startswith("base_url: "):
        text = "--base-url: " + text.removeprefix("base_url: ")
    return cli_words(text)
