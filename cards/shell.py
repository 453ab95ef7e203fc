"""The generic part of every card's detail, built as plain strings: data used, gaps, sources.

Every card ends with the same three sections, and they hold most of a card's
values (one table row per piece of evidence), so this shape is built in code
instead of a Jinja template: rendering it was a third of the card stage.
The topic prose above it is the caller's (a ``templates/<rule_id>.md.j2``,
:mod:`cards.topic_texts` or :mod:`cards.necessity`).  Every value from the EHR or the knowledge data is
escaped once (:func:`cards.render.md_texts`: one scan for a table row when,
as for most rows, nothing in it needs escaping); a source's line is built once
per process, from static data.  The only unescaped text is the topic body
(already rendered, escaped markdown) and source URLs (ours, from citations.yaml).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache, lru_cache

from cards.render import md_text, md_texts
from service.clinical.findings import Evidence, Finding
from service.knowledge import citations

_NONE = "—"


def finding_markdown(finding: Finding, body: str, citation_ids: Iterable[str]) -> str:
    """``body``, then "Data used" (a table), "Looked for and not found", numbered "Sources"."""
    return detail_markdown(body, finding.evidence, finding.missing, citation_ids)


def detail_markdown(body: str, evidence: tuple[Evidence, ...], missing: tuple[str, ...],
                    citation_ids: Iterable[str]) -> str:
    """``body``, then the table of ``evidence``, the ``missing`` list and the numbered sources (each once)."""
    return detail_text(detail_sections(body, evidence, missing, citation_ids))


def detail_sections(body: str, evidence: tuple[Evidence, ...], missing: tuple[str, ...],
                    citation_ids: Iterable[str]) -> list[str]:
    """The detail's sections in order (:func:`detail_text` joins them): ``body``, the evidence table, the
    missing list, the sources.

    ``body`` is tidy markdown (:func:`cards.render.tidy`: no blank line at either end, never two in a
    row), as every topic text is; the sections below it are built tidy, so the whole text, the
    largest string of a call, is not scanned again."""
    sections = [body] if body else []
    if evidence:
        sections.append("**Data used**\n\n| Data | Value | Date | From |\n|---|---|---|---|\n"
                        + "\n".join(_evidence_rows(evidence)))
    if missing:
        sections.append("**Looked for and not found**\n\n" + "\n".join(f"- {m}" for m in md_texts(list(missing))))
    ids = tuple(citation_ids)  # a tuple stays itself; the cache below needs one
    if ids:
        sections.append(sources_markdown(ids))
    if sections:
        # Trailing white space of the last item or source went with the rest when tidy ran over the whole.
        sections[-1] = sections[-1].rstrip()
    return sections


def detail_text(sections: list[str]) -> str:
    """The detail: its sections, a blank line between them."""
    return "\n\n".join(sections)


def detail_utf8(sections: list[str]) -> bytes:
    """``detail_text(sections).encode()``, a section at a time: an ASCII section (the topic text and the
    sources, most of a detail) is copied, where the whole text, with the table's dashes, was encoded
    character by character."""
    return b"\n\n".join([section.encode() for section in sections])


def _evidence_rows(evidence: tuple[Evidence, ...]) -> list[str]:
    """One table row per piece of evidence: label, value, date, and the resource it came from."""
    rows = []
    for e in evidence:
        # A row's cells escaped together (one scan when none needs it; an ASCII row, the usual one, is
        # scanned fastest: so the dash for no value or date is put in after); empty id and origin as "".
        label, value, date, resource_type, resource_id, origin = md_texts(
            [e.label, e.value or "", e.date or "", e.resource_type, e.resource_id or "", e.origin or ""])
        where = resource_type + ("/" + resource_id if resource_id else "") + (f" ({origin})" if origin else "")
        rows.append(f"| {label} | {value or _NONE} | {date or _NONE} | {where} |")
    return rows


@lru_cache(maxsize=1024)
def sources_markdown(citation_ids: tuple[str, ...]) -> str:
    """The numbered "Sources" list of these citations, each once (static data: built once per process
    for each list the rules cite; unknown id: ValueError)."""
    lines = [f"{number}. {source_line(cid)}" for number, cid in enumerate(dict.fromkeys(citation_ids), 1)]
    return "**Sources**\n\n" + "\n".join(lines)


@cache
def source_line(citation_id: str) -> str:
    """A citation as the Sources list writes it: title (year), DOI, URL, caveat (unknown id: ValueError)."""
    registry = citations()
    if citation_id not in registry:
        raise ValueError(f"unknown citation id {citation_id!r}")
    s = registry[citation_id]
    line = f"{md_text(s['title'])} ({md_text(s['year'])})"
    if s.get("doi"):
        line += ". doi:" + md_text(s["doi"])
    if s.get("url"):
        line += ". " + s["url"]
    if s.get("caveat"):
        line += ". Note: " + md_text(s["caveat"])
    return line
