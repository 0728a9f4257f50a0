"""The options that describe a video (prompt, model, mode, duration, sound...), defined once
for every command that makes videos (``animate``, ``generate``); each command words the few
whose meaning depends on it (a prompt "for every image", or for the one video)."""

from __future__ import annotations

import click
from click.core import ParameterSource

from ._options import EXISTING_FILE, Decorator, number_option, options
from .inputs import IMAGE_CAMERA_PRESETS, LIVE_MODELS

allow_unknown_models_option = click.option(
    "--allow-unknown-models", is_flag=True, help="Send models newer than the SDK's map."
)


def video_options(
    *, prompt: str, negative_prompt: str, aspect_ratio: str, end_frame: str
) -> Decorator:
    """``--prompt`` .. ``--callback-url`` (the keyword arguments are the help of the four whose
    meaning depends on the command), in the order ``--help`` shows them."""
    return options(
        click.option("--prompt", help=prompt),
        click.option("--negative-prompt", help=negative_prompt),
        click.option(
            "--aspect-ratio",
            type=click.Choice(["16:9", "9:16", "1:1"]),
            default=None,
            help=aspect_ratio,
        ),
        click.option(
            "--model", default="kling-v2-6", show_default=True, help=f"One of {LIVE_MODELS}."
        ),
        click.option(
            "--mode",
            type=click.Choice(["std", "pro", "4k"]),
            default="std",
            show_default=True,
            help="std = 720p, pro = 1080p, 4k (kling-v3).",
        ),
        number_option(
            "--duration",
            click.IntRange(min=1),
            "Seconds: 5 or 10 on kling-v2-x, 3..15 on kling-v3 and kling-3.0-turbo. With "
            "--multi-prompt the shots' total, unless given.",
            default=5,
        ),
        click.option(
            "--multi-prompt",
            type=EXISTING_FILE,
            default=None,
            help="Multi-shot script (kling-v3): lines of '<seconds> <prompt>' or a JSON list.",
        ),
        click.option(
            "--element", type=int, multiple=True, help="An element id (kling-v3; up to 3)."
        ),
        click.option(
            "--camera",
            type=click.Choice(list(IMAGE_CAMERA_PRESETS)),
            default=None,
            help="A camera move (image to video takes these simple moves only; no model of "
            "Kling's 2026 map offers one: with --allow-unknown-models, for models outside it).",
        ),
        click.option("--end-frame", type=EXISTING_FILE, help=end_frame),
        click.option(
            "--cfg-scale", type=float, default=None, help="0..1; no model of the 2026 map takes it."
        ),
        click.option(
            "--sound/--no-sound", default=None, help="Native audio (kling-v2-6 pro, kling-v3)."
        ),
        click.option("--voice", multiple=True, help="A voice id (up to 2; needs --sound)."),
        click.option("--watermark/--no-watermark", default=None),
        click.option("--callback-url", default=None, help="Kling POSTs status changes here."),
    )


def option_given(option: str) -> bool:
    """Whether the user gave ``option`` (on the command line or in the environment), rather
    than its default (the built-in one or the config profile's)."""
    source = click.get_current_context().get_parameter_source(option)
    return source in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
