"""Real, playable H.264 mp4 files made from the input image with a gentle camera move, with
an AAC tone track when the task's result has audio; the sample clips looped or cut to a length
(packets copied, nothing encoded again); PNG images for image tasks.

CPU-bound and blocking: the emulator calls it in a worker thread. Needs PyAV (the ``render``
extra) for video; without it the emulator serves the bundled sample clips (``clips/``: each
aspect ratio silent and with a tone track, made once by ``write_sample_clips``) and never
imports it.
"""

from __future__ import annotations

import functools
import hashlib
import io
import math
from array import array
from fractions import Fraction
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

#: The one line said when rendering was asked for and PyAV is missing.
NO_PYAV = (
    "PyAV not installed: serving a bundled sample clip; "
    "pip install 'kling-async[render]' to render from your images"
)

#: The bundled sample clips: aspect ratio -> (file name, width, height). 5 s at 24 fps.
CLIPS: dict[str, tuple[str, int, int]] = {
    "16:9": ("sample-16x9.mp4", 480, 270),
    "9:16": ("sample-9x16.mp4", 270, 480),
    "1:1": ("sample-1x1.mp4", 360, 360),
}
#: The same clips with a sound track (a soft tone), for tasks whose result has audio.
AUDIO_CLIPS: dict[str, str] = {
    aspect: name.replace(".mp4", "-audio.mp4") for aspect, (name, _, _) in CLIPS.items()
}
CLIP_SECONDS = 5
CLIP_FPS = 24
TONE_RATE = 24_000
_TONE_CHUNK = 1024


@functools.cache
def have_pyav() -> bool:
    """Whether PyAV imports (blocking the first time: call it off the event loop)."""
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


#: How each camera move drifts over the clip: (widen, dx, dy, roll) at full strength, where
#: widen is the share the view grows (negative: it narrows, a zoom in), dx/dy the share of the
#: margin the centre travels (right, down) and roll the degrees it turns clockwise.
_NAMED_MOVES: dict[str, tuple[float, float, float, float]] = {
    "down_back": (0.25, 0.0, 0.6, 0.0),
    "forward_up": (-0.25, 0.0, -0.6, 0.0),
    "right_turn_forward": (-0.2, 0.6, 0.0, 0.0),
    "left_turn_forward": (-0.2, -0.6, 0.0, 0.0),
}
_GENTLE = (-0.12, 0.0, 0.0, 0.0)  # no camera_control: a slow push in


def _move(camera: dict[str, Any] | None) -> tuple[float, float, float, float]:
    if camera is None:
        return _GENTLE
    if camera.get("type") != "simple":
        return _NAMED_MOVES.get(str(camera.get("type")), _GENTLE)
    # Kling's axes: horizontal/vertical move the camera (negative: left/down); pan turns it
    # in the vertical plane (negative: down), tilt in the horizontal one (negative: left);
    # roll negative is counterclockwise; zoom negative narrows the field of view.
    cfg = camera.get("config") or {}
    s = {axis: float(cfg.get(axis, 0)) / 10.0 for axis in cfg}
    return (
        0.3 * s.get("zoom", 0.0),
        0.8 * (s.get("horizontal", 0.0) + s.get("tilt", 0.0)),
        -0.8 * (s.get("vertical", 0.0) + s.get("pan", 0.0)),  # up is negative y on screen
        8.0 * s.get("roll", 0.0),
    )


def placeholder(prompt: str, width: int, height: int) -> Image.Image:
    """A picture for tasks without a readable image (text to video, image URLs): a gradient."""
    digest = hashlib.sha256(prompt.encode()).digest()
    top, bottom = tuple(digest[:3]), tuple(digest[3:6])
    mask = Image.linear_gradient("L").resize((width, height))
    return Image.composite(
        Image.new("RGB", (width, height), bottom), Image.new("RGB", (width, height), top), mask
    )


def output_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / max(width, height))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def _tone_stream(container: Any) -> Any:
    """An AAC track on an output container (added before anything is muxed)."""
    stream = container.add_stream("aac", rate=TONE_RATE)
    stream.layout, stream.bit_rate = "mono", 24_000
    return stream


def _tone(container: Any, stream: Any, seconds: float) -> None:
    """Mux ``seconds`` of a soft 440 Hz tone into ``stream`` of ``container``."""
    import av

    total = int(seconds * TONE_RATE)
    step = 2 * math.pi * 440.0 / TONE_RATE
    for start in range(0, total, _TONE_CHUNK):
        count = min(_TONE_CHUNK, total - start)
        samples = array("h", (int(6000 * math.sin(step * (start + i))) for i in range(count)))
        frame = av.AudioFrame(format="s16", layout="mono", samples=count)
        frame.planes[0].update(samples.tobytes())
        frame.sample_rate, frame.pts = TONE_RATE, start
        frame.time_base = Fraction(1, TONE_RATE)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def loop_clip(clip: bytes, seconds: float, *, audio: bool) -> bytes:
    """``clip`` (video only) repeated or cut to ``seconds``, with a tone track if ``audio``.

    Packets are copied, not encoded again (milliseconds); a cut keeps a prefix in decoding
    order, so every kept frame still has what it refers to."""
    import av

    buf = io.BytesIO()
    with av.open(io.BytesIO(clip), "r") as source, av.open(buf, "w", format="mp4") as out:
        template = source.streams.video[0]
        stream = out.add_stream_from_template(template)
        sound = _tone_stream(out) if audio else None
        base = template.time_base
        assert base is not None
        packets = [
            (bytes(p), p.pts, p.dts, p.duration or 0, p.is_keyframe)
            for p in source.demux(template)
            if p.dts is not None and p.pts is not None and p.size
        ]
        # one loop, in the stream's time base: from the first frame shown to the last one's end
        length = max(p[1] + p[3] for p in packets) - min(p[1] for p in packets)
        cut = int(seconds / base)
        for shift in range(0, cut, length):
            for data, pts, dts, duration, key in packets:
                if dts + shift >= cut:
                    break
                packet = av.Packet(data)
                packet.pts, packet.dts, packet.duration = pts + shift, dts + shift, duration
                packet.time_base, packet.is_keyframe, packet.stream = base, key, stream
                out.mux(packet)
        if sound is not None:
            _tone(out, sound, seconds)
    return buf.getvalue()


def render_mp4(
    source: Image.Image,
    camera: dict[str, Any] | None,
    frames: int,
    fps: int,
    max_side: int,
    *,
    audio: bool = False,
) -> bytes:
    """Encode ``frames`` frames of ``source`` under the camera move as H.264 in an mp4, with a
    tone track of the same length when ``audio``."""
    import av  # deferred: only rendering needs PyAV

    out_w, out_h = output_size(source.width, source.height, max_side)
    base = 0.8  # the view starts at 80% of the picture, leaving a margin to travel into
    work = source.convert("RGB").resize(
        (max(out_w, int(out_w / base)), max(out_h, int(out_h / base))), Image.Resampling.BILINEAR
    )
    widen, dx, dy, roll = _move(camera)
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = out_w, out_h, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "26"}
        sound = _tone_stream(container) if audio else None
        for i in range(frames):
            t = i / max(1, frames - 1)
            eased = t * t * (3 - 2 * t)
            view = min(1.0, base * (1 + widen * eased))  # share of the picture in view
            margin_x, margin_y = (1 - view) / 2, (1 - view) / 2
            cx = work.width * (0.5 + dx * eased * margin_x)
            cy = work.height * (0.5 + dy * eased * margin_y)
            scale = view * work.width / out_w
            if roll:
                angle = math.radians(roll * eased)
                cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
                data = (
                    cos,
                    -sin,
                    cx - cos * out_w / 2 + sin * out_h / 2,
                    sin,
                    cos,
                    cy - sin * out_w / 2 - cos * out_h / 2,
                )
                frame = work.transform(
                    (out_w, out_h), Image.Transform.AFFINE, data, Image.Resampling.BILINEAR
                )
            else:  # no roll: the same view as a box resized (~2.7x faster than the affine)
                frame = work.resize(
                    (out_w, out_h),
                    Image.Resampling.BILINEAR,
                    box=_box(cx, cy, scale * out_w, scale * out_h, work.width, work.height),
                )
            for packet in stream.encode(av.VideoFrame.from_image(frame)):  # type: ignore[no-untyped-call]
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if sound is not None:
            _tone(container, sound, frames / fps)
    return buf.getvalue()


def render_png(prompt: str, width: int, height: int, label: str) -> bytes:
    """A generated image: the prompt's gradient with a label, as PNG."""
    image = placeholder(prompt, width, height)
    draw = ImageDraw.Draw(image)
    size = max(10, min(width, height) // 12)
    draw.text((8, 8), label, fill=(240, 240, 240), font=ImageFont.load_default(size=size))
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _box(
    cx: float, cy: float, width: float, height: float, limit_x: int, limit_y: int
) -> tuple[float, float, float, float]:
    """The source box of ``width`` x ``height`` centred on (cx, cy), kept inside the image."""
    x0 = min(max(0.0, cx - width / 2), max(0.0, limit_x - width))
    y0 = min(max(0.0, cy - height / 2), max(0.0, limit_y - height))
    return x0, y0, min(float(limit_x), x0 + width), min(float(limit_y), y0 + height)


def _clip_frame(width: int, height: int, t: float) -> Image.Image:
    """Frame at time ``t`` (0..1) of the sample clip: a drifting sky, a sun crossing it, a label."""
    shift = int(60 * t)
    frame = placeholder("", width, height)  # a fixed gradient...
    sky = Image.linear_gradient("L").rotate(90).resize((width, height))
    tint = Image.new("RGB", (width, height), (40 + shift, 90, 170 - shift))
    frame = Image.composite(tint, frame, sky)  # ...under a tint that warms as the clip runs
    draw = ImageDraw.Draw(frame)
    r = min(width, height) // 8
    x = int(-r + (width + 2 * r) * t)
    y = int(height * 0.45 - math.sin(math.pi * t) * height * 0.25)
    draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 214, 110))
    draw.rectangle((0, int(height * 0.78), width, height), fill=(30, 40, 60))
    size = max(10, min(width, height) // 14)
    font = ImageFont.load_default(size=size)
    for i, text in enumerate(("kling_async emulator", "sample clip")):
        draw.text((8, int(height * 0.8) + i * (size + 2)), text, fill=(235, 235, 235), font=font)
    return frame


def sample_clip(width: int, height: int, seconds: int = CLIP_SECONDS, fps: int = CLIP_FPS) -> bytes:
    """The sample clip at ``width`` x ``height``: small, playable, the same for every task."""
    import av

    buf = io.BytesIO()
    frames = seconds * fps
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryslow", "crf": "32"}
        for i in range(frames):
            image = _clip_frame(width, height, i / (frames - 1))
            for packet in stream.encode(av.VideoFrame.from_image(image)):  # type: ignore[no-untyped-call]
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


CLIPS_DIR = Path(__file__).parent / "clips"


def write_sample_clips(dest: Path = CLIPS_DIR) -> list[Path]:
    """Make every bundled clip into ``dest``; return their paths. ``clips/`` was made by
    ``python -c "from kling_async.emulator._render import write_sample_clips as w; w()"``."""
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    for aspect, (name, width, height) in CLIPS.items():
        path = dest / name
        path.write_bytes(sample_clip(width, height))
        sound = dest / AUDIO_CLIPS[aspect]
        sound.write_bytes(loop_clip(path.read_bytes(), CLIP_SECONDS, audio=True))
        paths += [path, sound]
    return paths
