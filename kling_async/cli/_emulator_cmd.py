"""``kling-async emulator`` and ``kling-async demo``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .._loop import run as run_on_loop
from ..emulator._config import (
    FAULT_KINDS,
    LOOPBACK_HOSTS,
    Account,
    EmulatorConfig,
    check_duration_mix,
)
from ..errors import ValidationError
from ._options import EXISTING_FILE, number_option
from ._settings import out_option

if TYPE_CHECKING:
    from ..emulator import Emulator

T = TypeVar("T")


async def serve(config: EmulatorConfig, announce: Callable[[Emulator], None]) -> None:
    """``kling_async.emulator.serve``, loaded when the command runs (aiohttp.web is not
    needed by the other commands)."""
    from ..emulator import serve as run

    await run(config, announce)


def _videos_line(render: bool, video_bytes: int | None) -> str:
    """What the result files will be, said once on stderr (stdout is the shell contract)."""
    if render:
        return "videos: rendered from each task's image (H.264 mp4)"
    if video_bytes is None:
        return "videos: a bundled sample clip for every task (--render to animate the images)"
    return f"videos: {video_bytes} filler bytes each, not playable (--video-bytes)"


def _duration(ctx: click.Context, param: click.Parameter, value: str) -> tuple[float, float]:
    try:
        low, _, high = value.partition(":")
        pair = (float(low), float(high or low))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not MIN:MAX in seconds, e.g. 2:5") from None
    if not 0 <= pair[0] <= pair[1]:
        raise click.BadParameter(f"{value!r}: need 0 <= MIN <= MAX")
    return pair


def _duration_mix(
    ctx: click.Context | None, param: click.Parameter | None, value: str | None
) -> tuple[tuple[float, float, float], ...] | None:
    if value is None:
        return None
    try:
        mix = tuple(
            (float(w), float(low), float(high))
            for w, low, high in (item.split(":") for item in value.split(","))
        )
        check_duration_mix(mix)
    except ValueError as exc:
        why = str(exc).removeprefix("duration_mix: ") if "duration_mix" in str(exc) else ""
        raise click.BadParameter(
            f"{value!r} is not W:MIN:MAX[,W:MIN:MAX...], e.g. 0.9:1:2,0.1:10:20"
            + (f" ({why})" if why else "")
        ) from None
    return mix


def _faults(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in values:
        kind, sep, p = item.partition("=")
        if not sep or kind not in FAULT_KINDS:
            raise click.BadParameter(
                f"{item!r}: expected KIND=P with KIND one of {', '.join(sorted(FAULT_KINDS))}"
            )
        try:
            prob = float(p)
        except ValueError:
            raise click.BadParameter(f"{item!r}: probability {p!r} is not a number") from None
        if not 0 <= prob <= 1:
            raise click.BadParameter(f"{item!r}: probability {prob} is not within 0..1")
        out[kind] = prob
    return out


@click.command("emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=0, show_default=True, help="Port to bind; 0 picks a free one.")
@click.option("--access-key", default="demo-access-key", show_default=True)
@click.option("--secret-key", default="demo-secret-key-0123456789abcdef0123", show_default=True)
@click.option("--api-key", default="demo-api-key", show_default=True, help="A static API key.")
@number_option(
    "--concurrency-limit",
    click.IntRange(min=0),
    "Parallel tasks per account and model family (0: no limit); more get code 1303.",
    default=5,
)
@number_option(
    "--rate-limit",
    click.FloatRange(min=0, min_open=True),
    "Requests per second per account; more get code 1302.",
)
@number_option(
    "--rate-burst",
    click.FloatRange(min=1),
    "Requests that may come at once before the rate applies.",
)
@click.option(
    "--retry-after",
    type=click.Choice(["seconds", "date", "none", "mixed"]),
    default="seconds",
    show_default=True,
    help="How a 1302 answer carries Retry-After.",
)
@click.option(
    "--duration",
    default="2:5",
    show_default=True,
    callback=_duration,
    help="Task duration in seconds, MIN:MAX, drawn uniformly.",
)
@click.option(
    "--duration-mix",
    default=None,
    callback=_duration_mix,
    metavar="W:MIN:MAX,...",
    help="Task durations from a mixture: with probability W/sum(W) uniform in MIN:MAX, "
    "e.g. 0.9:1:2,0.1:10:20 (replaces --duration).",
)
@number_option("--failure-rate", click.FloatRange(0, 1), default=0.0)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    callback=_faults,
    metavar="KIND=P",
    help=f"Inject a fault with probability P; KIND: {', '.join(sorted(FAULT_KINDS))}.",
)
@number_option("--slow-seconds", click.FloatRange(min=0), default=2.0)
@number_option(
    "--units",
    click.FloatRange(min=0),
    "Resource pack balance; tasks beyond it get code 1102. Default: unlimited.",
)
@click.option(
    "--render/--no-render",
    default=False,
    show_default=True,
    help="Render real H.264 videos from the input images (needs PyAV; without it: the "
    "sample clip). Off: every video is a small bundled sample clip.",
)
@number_option(
    "--video-bytes",
    click.IntRange(min=1),
    "Serve this many filler bytes per video instead of the sample clip (not playable: "
    "for download benchmarks).",
)
@number_option(
    "--url-lifetime",
    click.FloatRange(min=0),
    "Seconds a result URL stays valid.",
    default=30 * 86400.0,
)
@click.option("--tls-cert", type=EXISTING_FILE)
@click.option("--tls-key", type=EXISTING_FILE)
@click.option("--webhook-secret", default=None, help="whsec_... secret to sign callbacks with.")
@number_option(
    "--token-max-age",
    click.FloatRange(min=0),
    "Reject JWTs older than this many seconds with 1004.",
)
@click.option(
    "--allow-model",
    "allow_models",
    multiple=True,
    metavar="NAME",
    help="Serve this unknown model name on the model-in-path API (e.g. kling-4.0) with only "
    "the checks every model there shares; repeat for more.",
)
@click.option(
    "--billing",
    type=click.Choice(["unit", "cash"]),
    default="unit",
    show_default=True,
    help="Charge tasks to the resource pack (units) or to the balance (cash, list price).",
)
@click.option("--currency", default="USD", show_default=True, help="Currency of cash charges.")
@click.option(
    "--callback-host",
    "callback_hosts",
    multiple=True,
    metavar="HOST[:PORT]",
    help="A host (any port) or host:port callbacks may be sent to; repeat for more. "
    f"Default: {', '.join(LOOPBACK_HOSTS)}.",
)
@click.option("--seed", type=int, default=None, help="Seed of every random draw.")
def emulator_command(
    host: str,
    port: int,
    access_key: str,
    secret_key: str,
    api_key: str,
    concurrency_limit: int,
    units: float | None,
    render: bool,
    video_bytes: int | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    callback_hosts: tuple[str, ...],
    **settings: Any,
) -> None:
    """Serve the Kling API emulator until Ctrl-C.

    Prints KLING_BASE_URL=<url> when ready, then the credentials it accepts; says on stderr
    what the videos are: a bundled sample clip (the default), rendered from each image
    (--render, needs PyAV) or filler bytes (--video-bytes N).

    \b
    Examples:
      kling-async emulator --port 8765
      kling-async emulator --concurrency-limit 50 --rate-limit 20 --duration 1:3 \\
          --fault 5000=0.05 --fault drop=0.05 --render
      kling-async emulator --allow-model kling-4.0 --billing cash
    """
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together: give both or neither")
    from ..emulator._render import NO_PYAV, have_pyav  # PIL, PyAV: loaded when run

    if render and not have_pyav():
        render = False  # the sample clip instead, said in one line rather than a traceback each
        click.echo(NO_PYAV, err=True)
    else:
        click.echo(_videos_line(render, video_bytes), err=True)
    account = Account(
        access_key=access_key,
        secret_key=secret_key,
        api_keys=(api_key,) if api_key else (),
        concurrency_limit=concurrency_limit or None,
        units=units,
    )
    config = EmulatorConfig(
        accounts=[account],
        host=host,
        port=port,
        render=render,
        video_bytes=video_bytes,
        tls_cert=tls_cert,
        tls_key=tls_key,
        callback_hosts=callback_hosts or LOOPBACK_HOSTS,
        **settings,  # the other options are named after the fields they set
    )

    def announce(emu: Emulator) -> None:
        for name, value in emu.credentials.items():
            click.echo(f"{name}={value}")
        sys.stdout.flush()

    try:
        _on_loop(serve(config, announce))
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _on_loop(main: Coroutine[Any, Any, T]) -> T:
    """``main`` on the commands' loop; a bad ``KLING_ASYNC_LOOP`` is one line, not a
    traceback."""
    try:
        return run_on_loop(main)
    except ValidationError as exc:
        raise click.ClickException(str(exc)) from None


@click.command("demo")
@out_option("Folder for the videos.", default="demo-videos", show_default=True)
def demo_command(out_dir: Path) -> None:
    """Animate the bundled sample images on an in-process emulator into real mp4 files.

    No credentials needed: the emulator runs inside this process and renders real H.264
    videos, each with its own camera move. This is what `make demo` runs. Without PyAV
    (pip install 'kling-async[render]') every video is the emulator's bundled sample clip.

    \b
    Example:
      kling-async demo --out demo-videos
    """
    from .._demo import run_demo

    paths = _on_loop(run_demo(out_dir, echo=click.echo))
    click.echo(f"{len(paths)} videos in {out_dir.resolve()}")
    if len(paths) < 3:
        raise click.ClickException("some sample videos could not be made (see above)")
