"""Lenient readers for the few FHIR fields the rules use.

EHR data is messy: partial dates ("2024", "2024-03"), category as an object
instead of an array, quantities without units, results as strings.  Every
reader here returns None (or an empty tuple) rather than raising, so a bad
field costs one datum, never the whole evaluation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

Resource = dict[str, Any]

_DATE_RE = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"
    r"(Z|[+-]\d{2}:\d{2})?)?)?)?$",
    re.ASCII,  # FHIR's digits are [0-9]: "२०२४" is not a year (fromisoformat agrees)
)
_FRACTION_RE = re.compile(r"\.\d+")


def as_list(value: Any) -> list[Any]:
    """A FHIR repeating element as a list (tolerates a single object)."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def parse_datetime(value: Any) -> datetime | None:
    """A FHIR date/dateTime/instant as an aware datetime (UTC if no zone).

    Partial dates resolve to their first day ("2024-03" -> 2024-03-01), which
    is the conservative reading for "how long ago" checks of results.
    Fractions of a second are dropped.
    """
    # Not cached across calls: a benchmark that sends one chart over and over would gain, a chart
    # seen for the first time hardly does (1 hit in 20 dates for seed A), so it measured the bench.
    if not isinstance(value, str):
        return None
    # The two shapes nearly every chart sends, read without the regex: an instant in UTC
    # ("2024-03-05T10:00:00Z") and a date ("2024-03-05").  With the separators checked here,
    # fromisoformat refuses every text the FHIR pattern refuses in these shapes (it reads ASCII
    # digits only) and the impossible days and times; an offset written out ("+00:00") gives an
    # aware datetime at once, ~10 times cheaper than .replace(tzinfo=UTC).  Property-tested
    # against the field-by-field reading (tests/unit/test_fhir_values.py).
    size = len(value)
    if size == 20:
        if value[19] == "Z" and value[10] == "T" and value[4] == value[7] == "-" and value[13] == value[16] == ":":
            try:
                return datetime.fromisoformat(value)
            except ValueError:
                return None
    elif size == 10 and value[4] == value[7] == "-":
        try:
            return datetime.fromisoformat(value + "T00:00:00+00:00")
        except ValueError:
            return None
    text = value.strip()
    m = _DATE_RE.match(text)
    if not m:
        return None
    if m.start(4) == -1:  # "2024", "2024-03" or a padded "2024-03-05": no time
        # Written out in full: fromisoformat reads "2024-03-05+00:00" as a naive datetime (the offset
        # dropped), which astimezone() would then take as the server's local time.
        try:
            return datetime.fromisoformat(f"{m.group(1)}-{m.group(2) or '01'}-{m.group(3) or '01'}T00:00:00+00:00")
        except ValueError:
            return None
    offset = m.group(7)
    if offset and offset != "Z" and (offset[1:3] > "23" or offset[4:6] > "59"):
        return None  # "+24:00", "+12:60": not an offset (fromisoformat would take the second)
    # The FHIR shape is checked above; what is left is the ISO 8601 that fromisoformat reads in C
    # (half the cost of building the datetime from the groups), refusing impossible days and times.
    if "." in text:
        text = _FRACTION_RE.sub("", text, count=1)
    try:
        dt = datetime.fromisoformat(text if offset else text + "+00:00")  # no zone: UTC
    except ValueError:
        return None
    if dt.tzinfo is UTC:
        return dt
    try:
        return dt.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+14:00 is before year 1 in UTC
        return None


def status_of(resource: Resource) -> str | None:
    """``status`` if it is a string (a broken feed may send a list or an object)."""
    value = resource.get("status")
    return value if type(value) is str else None


def with_usable_id(resource: Resource) -> Resource:
    """The resource, minus an ``id`` that is not a non-empty string.

    Applied where resources enter the service (prefetch, FHIR responses,
    draft orders), so rules and cards may take ``id`` as ``str | None``:
    ids are set members, dict keys and shown in card evidence.  A copy only
    for the rare broken resource.
    """
    rid = resource.get("id")
    if rid is None or (type(rid) is str and rid):
        return resource
    return {k: v for k, v in resource.items() if k != "id"}


def iso_date(value: datetime | None) -> str | None:
    return value.date().isoformat() if value else None


def codings(concept: Any) -> list[tuple[str, str, str]]:
    """(system, code, display) of every Coding in one or more CodeableConcepts.

    The hottest function of an evaluation (a heavy chart has thousands of
    coded resources), hence exact type checks and no generator.
    """
    if type(concept) is dict:
        concepts: Any = (concept,)
    elif type(concept) is list:
        concepts = concept
    else:
        return []
    out: list[tuple[str, str, str]] = []
    for cc in concepts:
        if type(cc) is not dict:
            continue
        coding = cc.get("coding")
        if type(coding) is dict:
            coding = (coding,)
        elif type(coding) is not list:
            continue
        for c in coding:
            if type(c) is dict:
                code = c.get("code")
                if type(code) is str:
                    system = c.get("system") or ""
                    display = c.get("display") or ""
                    out.append((system if type(system) is str else str(system), code,
                                display if type(display) is str else str(display)))
    return out


def first_coding(concept: Any) -> tuple[str, str, str] | None:
    """codings(concept)[0], or None when it has none.  Reading every coding costs about 0.3 us more
    than a walk that stops at the first (two codings); at ~13 calls a seed call that is 4 us of ~900,
    not worth a second copy of the walk."""
    read = codings(concept)
    return read[0] if read else None


def concept_text(concept: Any) -> str:
    """All human text of CodeableConcept(s): text plus coding displays, lower-cased."""
    parts: list[str] = []
    for cc in as_list(concept):
        if isinstance(cc, dict):
            parts.extend(text_parts(cc, codings(cc)))
    return " ".join(parts).lower()


def text_and_codings(concept: Any) -> tuple[str, list[tuple[str, str, str]]]:
    """(concept_text(), codings()) of a concept, its codings read once (drugs, indications)."""
    if type(concept) is not dict:  # a broken feed's list of concepts, or nothing
        return concept_text(concept), codings(concept)
    read = codings(concept)
    return " ".join(text_parts(concept, read)).lower(), read


def text_parts(concept: dict[str, Any], read: list[tuple[str, str, str]]) -> list[str]:
    """One CodeableConcept's text and coding displays, from its already-read ``codings()``
    (for callers that need the codes too: the codings are read once)."""
    text = concept.get("text")
    parts = [text] if isinstance(text, str) else []
    parts.extend(d for _, _, d in read if d)
    return parts


def has_code(concept: Any, system: str, codes: Iterable[str]) -> tuple[str, str] | None:
    """The first (code, display) of ``concept`` that is in ``codes`` under ``system``.

    A coding without a system is accepted when its code matches: some
    EHR feeds drop the system, and codes of the value sets used here do not
    collide across systems.
    """
    wanted = codes if isinstance(codes, set | frozenset) else set(codes)
    for sys_, code, display in codings(concept):
        if code in wanted and (not sys_ or sys_ == system):
            return code, display
    return None


def codes_of(concept: Any) -> list[str]:
    """The code of every Coding in one or more CodeableConcepts: codings() without the systems and
    displays, for status concepts (a heavy chart's hundred Conditions each have two).

    The walk is codings()'s, written out again on purpose: one shared walk returning the Coding
    dicts cost 0.068 M instructions per seed call (1.3%, callgrind, both trees in the same
    minutes), and a property test holds the two readings together (tests/unit/test_fhir_values.py)."""
    if type(concept) is dict:
        concepts: Any = (concept,)
    elif type(concept) is list:
        concepts = concept
    else:
        return []
    out: list[str] = []
    for cc in concepts:
        if type(cc) is not dict:
            continue
        coding = cc.get("coding")
        if type(coding) is dict:
            coding = (coding,)
        elif type(coding) is not list:
            continue
        for c in coding:
            if type(c) is dict:
                code = c.get("code")
                if type(code) is str:
                    out.append(code)
    return out


_WITHDRAWN = frozenset(("entered-in-error", "refuted"))
_ACTIVE = frozenset(("active", "recurrence", "relapse"))


def is_entered_in_error(resource: Resource) -> bool:
    status = resource.get("status")
    if status == "entered-in-error":
        return True
    vs = resource.get("verificationStatus")
    if vs is None:  # most resources (every Observation): skip the coding walk
        return False
    return not _WITHDRAWN.isdisjoint(codes_of(vs))


def condition_is_active(condition: Resource) -> bool:
    """clinicalStatus active/recurrence/relapse (or absent), not refuted/entered-in-error."""
    if is_entered_in_error(condition):
        return False
    statuses = codes_of(condition.get("clinicalStatus"))
    if not statuses:
        # No clinicalStatus: treat as active unless it has an abatement.
        return not any(k.startswith("abatement") for k in condition)
    return not _ACTIVE.isdisjoint(statuses)


def effective_datetime(resource: Resource) -> datetime | None:
    """When an Observation/Immunization/administration/statement happened."""
    for key in (
        "effectiveDateTime",
        "effectiveInstant",
        "occurrenceDateTime",
        "issued",
        "authoredOn",
        "recordedDate",
        "onsetDateTime",
        "dateAsserted",
        "recorded",
    ):
        value = resource.get(key)
        # Most keys are absent from a given resource (a Condition's date is the seventh asked for).
        if value is not None and (dt := parse_datetime(value)):
            return dt
    for key in ("effectivePeriod", "occurrencePeriod"):
        period = resource.get(key)
        if isinstance(period, dict):
            dt = parse_datetime(period.get("start")) or parse_datetime(period.get("end"))
            if dt:
                return dt
    return None


def finite_number(value: Any) -> float | None:
    """A JSON number as a finite float; None for anything else.

    JSON integers are unbounded (10**400 does not fit a float) and Python's
    parser accepts NaN and Infinity: a broken feed's number costs one datum.
    """
    if type(value) is float:  # most results (a JSON number with a point): no other check needed
        return value if math.isfinite(value) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):  # a tuple: cheaper than int | float
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def quantity(resource: Resource) -> tuple[float, str] | None:
    """(value, unit) of valueQuantity; unit from ``code`` then ``unit`` ('' if none)."""
    q = resource.get("valueQuantity")
    if not isinstance(q, dict):
        return None
    v = finite_number(q.get("value"))
    if v is None:
        return None
    unit = q.get("code") or q.get("unit") or ""
    return v, str(unit)


_POSITIVE = ("positive", "reactive", "detected", "present")
_NEGATIVE = ("negative", "non-reactive", "nonreactive", "not detected", "absent", "non reactive")
_INDETERMINATE = ("indeterminate", "equivocal", "borderline", "inconclusive")

# SNOMED CT result values (clinical-rules.md §3.4) and HL7 interpretation codes.
_SNOMED_RESULT = {"10828004": "positive", "260385009": "negative", "419984006": "indeterminate"}
_HL7_INTERPRETATION = {
    "POS": "positive", "DET": "positive", "A": None, "NEG": "negative", "ND": "negative",
    "IND": "indeterminate", "E": "indeterminate",
}


def _classify_text(text: str) -> str | None:
    t = text.strip().lower()
    if not t:
        return None
    # Check negatives first: "non-reactive" contains "reactive".
    if any(t.startswith(n) or t == n for n in _NEGATIVE):
        return "negative"
    if any(n in t for n in _INDETERMINATE):
        return "indeterminate"
    if any(t.startswith(p) for p in _POSITIVE):
        return "positive"
    return None


def qualitative_result(resource: Resource) -> str | None:
    """'positive', 'negative' or 'indeterminate' from a qualitative result.

    Reads valueCodeableConcept (SNOMED result codes, text), valueString,
    valueBoolean, then the interpretation.  None when it cannot tell.
    """
    vcc = resource.get("valueCodeableConcept")
    if vcc is not None:
        for _, code, display in codings(vcc):
            if code in _SNOMED_RESULT:
                return _SNOMED_RESULT[code]
            if display and (cls := _classify_text(display)):
                return cls
        if isinstance(vcc, dict) and isinstance(vcc.get("text"), str):
            if cls := _classify_text(vcc["text"]):
                return cls
    if isinstance(resource.get("valueString"), str):
        if cls := _classify_text(resource["valueString"]):
            return cls
    if isinstance(resource.get("valueBoolean"), bool):
        return "positive" if resource["valueBoolean"] else "negative"
    for _, code, display in codings(resource.get("interpretation")):
        if code in _HL7_INTERPRETATION and _HL7_INTERPRETATION[code]:
            return _HL7_INTERPRETATION[code]
        if display and (cls := _classify_text(display)):
            return cls
    return None


def reference_id(ref: Any) -> str | None:
    """'Type/id' of a Reference (or None)."""
    if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
        return ref["reference"]
    return None


def age_in_years(birth_date: Any, on: date) -> int | None:
    born = parse_datetime(birth_date)
    if born is None:
        return None
    b = born.date()
    return on.year - b.year - ((on.month, on.day) < (b.month, b.day))
