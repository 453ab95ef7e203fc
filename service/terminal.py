"""CDS cards for a terminal (rich): indicator colour, summary, Markdown detail, suggestions, source.

Card details are Markdown with escaped EHR values (``\\[Presence\\]``,
``10\\*3/uL``); printing them raw shows the backslashes, so they go through
rich's Markdown renderer, which reads the escapes as a browser would.
Used by ``rituximab-cds evaluate`` and the demo; no Flask, no service state.
"""

from __future__ import annotations

from io import StringIO
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.markdown import Markdown
from rich.panel import Panel
from rich.text import Text

#: the colours an EHR uses for the CDS Hooks indicators
INDICATOR_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def card_renderable(card: dict[str, Any]) -> RenderableType:
    """One card as a rich panel."""
    indicator = str(card.get("indicator", "info"))
    style = INDICATOR_STYLE.get(indicator, "white")
    source = card.get("source") or {}
    topic = (source.get("topic") or {}).get("code", "")
    parts: list[RenderableType] = []
    if card.get("detail"):
        parts.append(Markdown(str(card["detail"])))
    for suggestion in card.get("suggestions") or []:
        mark = "★" if suggestion.get("isRecommended") else "•"
        parts.append(Text(f"{mark} suggestion: {suggestion.get('label', '')}", style="green"))
    for link in card.get("links") or []:
        parts.append(Text(f"→ {link.get('label', '')} ({link.get('type', '')}): {link.get('url', '')}"))
    if source.get("label"):
        url = f" <{source['url']}>" if source.get("url") else ""
        parts.append(Text(f"source: {source['label']}{url}", style="dim"))
    title = Text.assemble((f" {indicator.upper()} ", f"reverse {style}"), f" {topic}  ",
                          (str(card.get("summary", "")), "bold"))
    return Panel(Group(*parts) if parts else Text(""), title=title, title_align="left", border_style=style)


def print_cards(console: Console, cards: list[dict[str, Any]]) -> None:
    """Print every card, or a line saying there are none (a clean non-rituximab order)."""
    if not cards:
        console.print("(no cards)")
    for card in cards:
        console.print(card_renderable(card))


def cards_as_text(cards: list[dict[str, Any]], width: int = 100) -> str:
    """The cards as plain text (no colour codes), e.g. for a file or a test."""
    buffer = StringIO()
    print_cards(Console(file=buffer, width=width, color_system=None, force_terminal=False), cards)
    return buffer.getvalue()
