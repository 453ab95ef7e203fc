"""The card detail's shell (cards/shell.py), built tidy section by section, against the first version,
which joined everything and tidied the whole text (blank-line runs folded, both ends stripped); and
its UTF-8, encoded section by section, against the whole text's."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cards.render import md_texts, tidy
from cards.shell import _NONE, detail_markdown, detail_sections, detail_utf8, source_line
from service.clinical.findings import Evidence
from service.knowledge import citations

#: EHR text: markdown metacharacters, every line break md_escape knows, white space of all kinds, the dash
text = st.text(alphabet=st.sampled_from(list("\\*_[]|#\r\n\u2028\x85\x1c\xa0\t a9-—é")), max_size=6)
maybe_text = st.one_of(st.none(), text)
evidence = st.builds(Evidence, resource_type=text, resource_id=maybe_text, label=text, value=maybe_text,
                     date=maybe_text, code=maybe_text, origin=maybe_text)
#: a topic text as every producer leaves it: tidy
body = st.text(alphabet=st.sampled_from(list("\n *a—")), max_size=12).map(tidy)
citation_ids = st.lists(st.sampled_from(sorted(citations())), max_size=5)


def _first_version(body: str, evidence: tuple[Evidence, ...], missing: tuple[str, ...], ids: list[str]) -> str:
    out: list[str] = []
    if body:
        out.append(body + "\n\n")
    if evidence:
        out.append("**Data used**\n\n| Data | Value | Date | From |\n|---|---|---|---|\n")
        for e in evidence:
            label, value, date, resource_type, resource_id, origin = md_texts(
                [e.label, e.value or _NONE, e.date or _NONE, e.resource_type, e.resource_id or "", e.origin or ""])
            where = resource_type + ("/" + resource_id if resource_id else "") + (f" ({origin})" if origin else "")
            out.append(f"| {label} | {value} | {date} | {where} |\n")
        out.append("\n")
    if missing:
        out.append("**Looked for and not found**\n\n")
        out.extend(f"- {m}\n" for m in md_texts(list(missing)))
        out.append("\n")
    sources = [source_line(cid) for cid in dict.fromkeys(ids)]
    if sources:
        out.append("**Sources**\n\n")
        out.extend(f"{number}. {line}\n" for number, line in enumerate(sources, 1))
    return tidy("".join(out))


@settings(max_examples=800, deadline=None)
@given(body, st.lists(evidence, max_size=3).map(tuple), st.lists(text, max_size=3).map(tuple), citation_ids)
def test_detail_equals_the_first_version(body: str, evidence: tuple[Evidence, ...], missing: tuple[str, ...],
                                         ids: list[str]) -> None:
    assert detail_markdown(body, evidence, missing, ids) == _first_version(body, evidence, missing, ids)
    assert detail_markdown(body, evidence, missing, iter(ids)) == _first_version(body, evidence, missing, ids)
    sections = detail_sections(body, evidence, missing, ids)
    assert detail_utf8(sections) == _first_version(body, evidence, missing, ids).encode("utf-8")


def test_sources_are_numbered_once_each() -> None:
    ids: Any = sorted(citations())[:2]
    text = detail_markdown("", (), (), [ids[0], ids[1], ids[0]])
    assert text == f"**Sources**\n\n1. {source_line(ids[0])}\n2. {source_line(ids[1])}"
