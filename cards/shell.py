"""The generic part of every card's detail, built as plain strings: data used, gaps, sources.

Every card ends with the same three sections, and they hold most of a card's
values (one table row per piece of evidence), so this shape is built in code
instead of a Jinja template: rendering it was a third of the card stage.
The topic prose above it stays in ``templates/<rule_id>.md.j2``.  Every value
from the EHR or the knowledge data goes through :func:`cards.render.md_escape`
once; the only unescaped text is the topic body (already rendered, escaped
markdown) and source URLs (ours, from citations.yaml).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cards.render import md_escape, tidy
from service.clinical.findings import Finding

_NONE = "—"


def _text(value: Any) -> str:
    """An escaped value as it reads in markdown (numbers pass md_escape unchanged)."""
    return str(md_escape(value))


def finding_markdown(finding: Finding, body: str, sources: Iterable[dict[str, Any]]) -> str:
    """``body``, then "Data used" (a table), "Looked for and not found", numbered "Sources"."""
    out: list[str] = []
    if body:
        out.append(body + "\n\n")
    if finding.evidence:
        out.append("**Data used**\n\n| Data | Value | Date | From |\n|---|---|---|---|\n")
        for e in finding.evidence:
            where = _text(e.resource_type)
            if e.resource_id:
                where += "/" + _text(e.resource_id)
            if e.origin:
                where += " (" + _text(e.origin) + ")"
            out.append(f"| {_text(e.label)} | {_text(e.value or _NONE)} | {_text(e.date or _NONE)} | {where} |\n")
        out.append("\n")
    if finding.missing:
        out.append("**Looked for and not found**\n\n")
        out.extend(f"- {_text(m)}\n" for m in finding.missing)
        out.append("\n")
    sources = list(sources)
    if sources:
        out.append("**Sources**\n\n")
        for number, s in enumerate(sources, 1):
            line = f"{number}. {_text(s['title'])} ({_text(s['year'])})"
            if s.get("doi"):
                line += ". doi:" + _text(s["doi"])
            if s.get("url"):
                line += ". " + s["url"]
            if s.get("caveat"):
                line += ". Note: " + _text(s["caveat"])
            out.append(line + "\n")
    return tidy("".join(out))
