"""Markdown rendering of card details from Jinja2 templates.

Every ``{{ expression }}`` is escaped for GitHub-flavoured Markdown: values
come from the EHR, and the CDS Hooks sandbox renders raw HTML in card
details (rehype-raw), so an unescaped value is an injection vector.
Templates write prose; data only ever enters through escaped expressions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import Any

import jinja2
from markupsafe import Markup

#: Markdown/HTML metacharacters, each escaped with a backslash; and line breaks, each one space:
#: CommonMark ends a line at \n, \r and \r\n (the rest are breaks to other renderers), and a value
#: with one would end its table row or list item early.  One str.translate per value (\r\n first).
_MD_SPECIAL = "\\`*_{}[]<>|#!~"
_LINE_BREAKS = "\r\n\x0b\x0c\x85\u2028\u2029"
_ESCAPES = str.maketrans({**{c: "\\" + c for c in _MD_SPECIAL}, **{c: " " for c in _LINE_BREAKS}})
#: any character _ESCAPES changes: most values (dates, ids, names) have none, and one regex scan
#: is cheaper than str.translate's per-character table lookups
_NEEDS_ESCAPE = re.compile("[" + re.escape(_MD_SPECIAL + _LINE_BREAKS) + "]")
#: the same test for an ASCII string (str.isascii() is a flag, read at once): no character of the set
#: above U+007F can be in one, and a set of characters below U+0100 compiles to a 256-bit map,
#: tested in a few instructions a character (the full set's two-level map cost twice that).  Each
#: scan below picks its set inline: a helper function call would cost more than most scans.
_ASCII_NEEDS_ESCAPE = re.compile("[" + re.escape(_MD_SPECIAL + _LINE_BREAKS[:4]) + "]")
_BLANK_LINES = re.compile(r"\n{3,}")


def md_escape(value: Any) -> Any:
    """Escape Markdown/HTML metacharacters in a value (Markup and numbers pass through)."""
    if type(value) is not str:  # nearly every value is a plain str: one type check, then the scan
        if value is None:
            return ""
        if isinstance(value, Markup | int | float):
            return value
        # Anything else is text once rendered: a list or object from a broken feed must not slip through unescaped.
        value = str(value)
    scan = _ASCII_NEEDS_ESCAPE if value.isascii() else _NEEDS_ESCAPE  # see _ASCII_NEEDS_ESCAPE
    return value if scan.search(value) is None else _escaped(value)


def _escaped(text: str) -> str:
    """``text`` escaped (str.translate: fast for the short values that need it, slow on long text)."""
    return text.replace("\r\n", " ").translate(_ESCAPES)


def md_text(value: Any) -> str:
    """A value as it reads in markdown, escaped: what ``{{ value }}`` renders (None is "", numbers as str())."""
    if type(value) is str:  # most values: md_escape's own first branch, without the second call and str()
        scan = _ASCII_NEEDS_ESCAPE if value.isascii() else _NEEDS_ESCAPE  # see _ASCII_NEEDS_ESCAPE
        return value if scan.search(value) is None else _escaped(value)
    return str(md_escape(value))


def md_texts(values: list[Any]) -> list[Any]:
    """Each value as :func:`md_text` renders it, with one scan for them all when none needs escaping
    (dates, ids, names: most tables).  Otherwise each is scanned, and escaped if it must be; anything
    but text among them (None, a number, a list from a broken feed) goes through md_text.  For values
    from the EHR and the knowledge data, never Markup (which md_text would pass through unescaped)."""
    try:
        text = "".join(values)
    except TypeError:
        return [md_text(v) for v in values]
    scan = _ASCII_NEEDS_ESCAPE if text.isascii() else _NEEDS_ESCAPE  # see _ASCII_NEEDS_ESCAPE
    if scan.search(text) is None:
        return values
    return [md_escape(v) for v in values]  # all text here: the join took them


def md_join(values: Iterable[Any], separator: str) -> str:
    """Values joined, escaped: what ``{{ values | join(separator) }}`` renders."""
    return md_text(separator.join(map(str, values)))


#: what ``x.name`` finds on a plain dict as an attribute (its methods): Jinja looks there first
_DICT_ATTRIBUTES = frozenset(dir(dict))


class _MarkdownEnvironment(jinja2.Environment):
    """Templates read ``facts.name`` from the findings' facts dicts.  Jinja tries getattr() first and
    the key only after an AttributeError, which cost more than the rest of a small render; for a dict
    and a name no dict attribute has, that lookup can only fail, so the key is read directly."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


@cache
def environment() -> jinja2.Environment:
    env = _MarkdownEnvironment(
        loader=jinja2.PackageLoader("cards", "templates"),
        autoescape=False,  # noqa: S701 - markdown, escaped by finalize below
        finalize=md_escape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates ship with the code; no stat() of every template per render
        keep_trailing_newline=False,
    )
    # Already-rendered markdown (a sub-template's output, our own URLs) is not
    # escaped again.  Never apply it to a value that came from the EHR.
    env.filters["safe_md"] = Markup
    # Templates see only what a card passes them (the finding and its facts): Jinja copies every
    # global (range, namespace, ...) into each render's context, through a Python-level mapping.
    env.globals.clear()
    return env


@cache
def _template(name: str) -> jinja2.Template | None:
    """The compiled template, or None: templates ship with the code, so each name is looked up once
    (Jinja's own cache takes a lock per lookup, and a missing template searches the package each time)."""
    try:
        return environment().get_template(name)
    except jinja2.TemplateNotFound:
        return None


def template_exists(name: str) -> bool:
    return _template(name) is not None


def render(name: str, **context: Any) -> str:
    """Render ``cards/templates/<name>`` and tidy blank lines."""
    template = _template(name)
    if template is None:
        raise jinja2.TemplateNotFound(name)
    return tidy(template.render(**context))


def tidy(text: str) -> str:
    """At most one blank line in a row; no blank lines at either end."""
    return (_BLANK_LINES.sub("\n\n", text) if "\n\n\n" in text else text).strip()
