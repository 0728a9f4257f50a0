"""The HTML contact sheet of a run (``animate --html``, ``report DIR --html``), opened in a real
headless Chromium (Debian's package, installed by ``make chromium``; driven by Playwright,
which never downloads a browser of its own here): every video plays its first frame, the
console stays clean, a hostile file name stays text, the state filters hide and show cards.

One page load in one browser process. A machine without Chromium fails this test with how
to get it, unless ``KLING_SKIP_BROWSER=1`` says to skip it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kling_async.cli import main
from kling_async.states import JobState
from kling_async.store import JOURNAL_NAME, Journal

from .._helpers import CLI, SAMPLES_DIR, png
from .test_animate import cli, env_for, start

CHROMIUM = Path(os.environ.get("KLING_CHROMIUM", "/usr/bin/chromium"))
HOSTILE = "<img src=x onerror=alert(1)>"
#: Chromium's switches for a quiet, offline, throwaway run (Playwright gives it a fresh
#: profile directory of its own and removes it after).
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _browser_or_fail() -> Any:
    why = None
    if not CHROMIUM.is_file():
        why = f"no Chromium at {CHROMIUM} (`make chromium` installs Debian's package)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        why = why or "playwright is not installed (pip install -e '.[dev]')"
    if why is not None:
        if os.environ.get("KLING_SKIP_BROWSER") == "1":
            pytest.skip(f"KLING_SKIP_BROWSER=1: {why}")
        pytest.fail(f"{why}; or set KLING_SKIP_BROWSER=1 to skip the browser test", pytrace=False)
    return sync_playwright


def test_the_html_report_of_a_run_plays_in_chromium_and_keeps_a_hostile_name_inert(
    tmp_path: Path,
) -> None:
    sync_playwright = _browser_or_fail()
    photos = tmp_path / "photos"
    photos.mkdir()
    for sample in ("lighthouse", "planet", "sunset"):
        shutil.copy(SAMPLES_DIR / f"{sample}.png", photos / f"{sample}.png")
    (photos / f"{HOSTILE}.png").write_bytes(png(400, 300, (200, 60, 90)))
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image at all")
    out = tmp_path / "out"
    with start(render=True, video_bytes=None, render_max_side=160) as emu:  # small: quick
        ran = cli(photos, "--out", out, "--prompt", "slow pan", "--plain", "--html", emu=emu)
    assert ran.returncode == 1, ran.stderr  # one input refused, the rest done
    assert f"report    {out / 'report.html'}" in ran.stderr
    sheet = out / "report.html"
    written_by_animate = sheet.read_text("utf-8")
    assert HOSTILE not in written_by_animate  # only ever escaped
    reported = subprocess.run(
        [*CLI, "report", str(out), "--html"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env_for(None),
    )
    assert reported.returncode == 0, reported.stderr
    text = sheet.read_text("utf-8")
    assert HOSTILE not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "http://" not in text
    assert "https://" not in text

    dialogs: list[str] = []
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on(
                "console",
                lambda m: problems.append(m.text) if m.type in ("error", "warning") else None,
            )
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(sheet.as_uri())
            videos = page.locator("video")
            assert videos.count() == 4  # three samples and the hostile name, all done
            # every video has its first frame decoded (HAVE_CURRENT_DATA): Chromium plays the
            # emulator's H.264 mp4 files
            page.wait_for_function(
                "[...document.querySelectorAll('video')].every(v => v.readyState >= 2)",
                timeout=20_000,
            )
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
            # the hostile name is text (its job's name was made file-safe: the source shows
            # it as given), not an element: no image points at "x"
            assert page.locator("dd", has_text=f"{HOSTILE}.png").count() == 1
            assert page.locator('img[src="x"]').count() == 0
            assert page.locator("article[data-state=done] img").count() == 4  # thumbnails
            refused = page.locator("article[data-state=invalid]")
            assert refused.count() == 1
            assert "broken.png" in refused.inner_text()
            assert refused.locator(".error").inner_text().strip()
            page.click("nav button[data-state=invalid]")
            assert page.locator("main article:visible").count() == 1
            assert page.locator("main article[data-state=invalid]:visible").count() == 1
            page.click("nav button[data-state=all]")
            assert page.locator("main article:visible").count() == 5
        finally:
            browser.close()
    assert dialogs == []
    assert problems == []


async def test_report_html_of_a_journal_without_notes_escapes_errors_and_links_from_elsewhere(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    journal = await Journal(out / JOURNAL_NAME).open()
    try:
        done = await journal.get_or_claim("a" * 64, "clip", "image2video")
        await journal.update("a" * 64, JobState.DONE, task_id="t1", units=1.5)
        await journal.get_or_claim("b" * 64, "bad&<b>", "image2video")
        await journal.update("b" * 64, JobState.FAILED, task_id="t2", error="<script>x</script>")
    finally:
        await journal.close()
    (out / str(done.output)).write_bytes(b"not really a video")
    elsewhere = tmp_path / "pages" / "run #1.html"
    elsewhere.parent.mkdir()
    ran = CliRunner().invoke(main, ["report", str(out), "--html", str(elsewhere)])
    assert ran.exit_code == 0, ran.output
    text = elsewhere.read_text("utf-8")
    assert 'src="../out/clip.mp4"' in text  # relative to the page, not to OUT
    assert "&lt;script&gt;x&lt;/script&gt;" in text
    assert "<script>x" not in text
    assert "bad&amp;&lt;b&gt;" in text
    assert "1.5 units ≈ $0.21" in text
    assert text.count("<dd>—</dd>") >= 6  # source, model, mode, duration: not in the journal
    assert not (out / "report.html").exists()
