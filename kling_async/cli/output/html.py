"""The HTML contact sheet of a run (``report --html``, ``animate --html``): one self-contained
page — inline CSS and script, no CDN, no font or image fetched from anywhere — with a card per
job and buttons that show the jobs of one state.

Pure text: ``page`` turns ``Card``s into the page, every name, message and path escaped
(``html.escape``, attributes quoted), so a file named ``<img src=x onerror=alert(1)>.png`` is
shown as text. The links (video, thumbnail) are given already relative to the page's folder;
``page`` only percent-quotes them, so the page works offline from the folder, and moved with
it."""

from __future__ import annotations

from collections import Counter
from html import escape
from urllib.parse import quote

import attrs

from ..._catalog import UNIT_PRICE

#: What one unit costs, in dollars (``UNIT_PRICE``, the list price on Kling's pricing page).
#: The page says "≈": a plan's price per unit can differ.
DOLLARS_PER_UNIT = float(UNIT_PRICE)


@attrs.frozen
class Card:
    """One job as the page shows it; None: not known (shown as "—")."""

    name: str
    state: str
    source: str | None = None
    model: str | None = None
    mode: str | None = None
    duration: str | None = None
    #: Billed units where known, else the estimate counted when its create went out.
    units: float | None = None
    units_estimated: bool = False
    task_id: str | None = None
    error: str | None = None
    #: Links relative to the page's folder (``/`` separated, not yet quoted).
    video: str | None = None
    thumbnail: str | None = None


_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:16px;background:#f4f4f6;color:#222}
h1{font-size:18px;margin:0 0 4px}p.meta{margin:0 0 12px;color:#555}
nav button{margin:0 6px 6px 0;padding:4px 10px;border:1px solid #999;border-radius:12px;
background:#fff;cursor:pointer}nav button[aria-pressed=true]{background:#224;color:#fff}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:12px}
article{background:#fff;border-radius:8px;padding:10px;box-shadow:0 1px 3px #0002}
article[hidden]{display:none}
.media{display:flex;gap:8px;align-items:flex-start}
.media img{width:96px;height:auto;border-radius:4px;flex:none}
.media video{width:180px;max-height:180px;background:#000;border-radius:4px}
h2{font-size:15px;margin:6px 0;word-break:break-all}
.state{display:inline-block;padding:1px 8px;border-radius:10px;background:#ddd;font-size:12px}
.state-done{background:#c8efc8}.state-failed,.state-invalid{background:#f6c6c6}
dl{display:grid;grid-template-columns:auto 1fr;gap:2px 8px;margin:6px 0}
dt{color:#666}dd{margin:0;word-break:break-all}
.error{color:#a00;white-space:pre-wrap;word-break:break-word;margin:4px 0 0}
"""

#: Shows the cards of the state pressed (``all``: every card); reads only data attributes.
_SCRIPT = """
for (const button of document.querySelectorAll("nav button")) {
  button.addEventListener("click", () => {
    const state = button.dataset.state;
    for (const other of document.querySelectorAll("nav button")) {
      other.setAttribute("aria-pressed", String(other === button));
    }
    for (const card of document.querySelectorAll("main article")) {
      card.hidden = state !== "all" && card.dataset.state !== state;
    }
  });
}
"""


def _text(value: object | None) -> str:
    return "—" if value is None or value == "" else escape(str(value))


def _link(relative: str) -> str:
    return escape(quote(relative, safe="/"))


def money_text(units: float | None, estimated: bool) -> str:
    """``3 units ≈ $0.42`` (``est.`` when the units are the estimate, not the billed count)."""
    if units is None:
        return "—"
    dollars = units * DOLLARS_PER_UNIT
    mark = " (est.)" if estimated else ""
    return f"{units:g} units{mark} ≈ ${dollars:,.2f}"


def _card(card: Card) -> str:
    media = []
    if card.thumbnail is not None:
        media.append(f'<img src="{_link(card.thumbnail)}" alt="source image" loading="lazy">')
    if card.video is not None:
        poster = f' poster="{_link(card.thumbnail)}"' if card.thumbnail is not None else ""
        media.append(
            f'<video controls preload="metadata" muted playsinline{poster} '
            f'src="{_link(card.video)}"></video>'
        )
    fields = (
        ("source", card.source),
        ("model", card.model),
        ("mode", card.mode),
        ("duration", card.duration),
        ("units", money_text(card.units, card.units_estimated)),
        ("task id", card.task_id),
        ("video", card.video),
    )
    rows = "".join(
        f"<dt>{label}</dt><dd>{value if label == 'units' else _text(value)}</dd>"
        for label, value in fields
    )
    error = f'<p class="error">{_text(card.error)}</p>' if card.error else ""
    state = escape(card.state)
    return (
        f'<article data-state="{state}"><div class="media">{"".join(media)}</div>'
        f'<h2>{_text(card.name)}</h2><span class="state state-{state}">{state}</span>'
        f"<dl>{rows}</dl>{error}</article>"
    )


def page(title: str, meta: str, cards: list[Card]) -> str:
    """The whole page: ``title`` and ``meta`` (a line under it) are escaped like the cards."""
    counts = Counter(card.state for card in cards)
    buttons = [f'<button data-state="all" aria-pressed="true">all {len(cards)}</button>']
    buttons += [
        f'<button data-state="{escape(state)}" aria-pressed="false">{escape(state)} {n}</button>'
        for state, n in counts.items()
    ]
    body = "\n".join(_card(card) for card in cards)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f'<h1>{escape(title)}</h1><p class="meta">{escape(meta)}</p>'
        f"<nav>{''.join(buttons)}</nav>\n<main>\n{body}\n</main>"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )
