"""Laboratory results indexed once per record: by LOINC code, newest first.

Sibling codes for the same test (e.g. HBsAg 5195-3 and 5196-1) are matched
as a set, never a single code (clinical-rules.md §6.4).

One pass over the Observations files each under the LOINC codes the rules
read (knowledge/observation_codes.yaml, the list the prefetch template asks
for) and, when it has no LOINC code at all, under its test name.  A heavy
chart has thousands of vital signs no rule reads: they are passed over
without reading their status or parsing their dates.  A code outside that
list still gets its results, from a scan of its own.

Results of one date are listed in canonical_key() order (record.py), whatever
order the Observations came in: the index sorts the few results a rule asks
for, so the thousands of others need not be sorted at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from functools import cache

from service.clinical.fhir_values import (
    codings,
    concept_text,
    effective_datetime,
    finite_number,
    first_coding,
    is_entered_in_error,
    parse_datetime,
    status_of,
)
from service.clinical.findings import Evidence
from service.clinical.record import PatientRecord, Resource, canonical_key
from service.knowledge import load

LOINC = "http://loinc.org"
_EXCLUDED = {"entered-in-error", "cancelled", "registered"}


class Result:
    """One Observation with its parsed date (read-only by convention).

    A plain class with slots, not a frozen dataclass: a heavy chart's index hands out
    hundreds of these a call, and the frozen one costs about three times as much to
    build (each field set through object.__setattr__).  Compared by value, as before."""

    __slots__ = ("when", "resource")

    def __init__(self, when: datetime | None, resource: Resource) -> None:
        self.when = when
        self.resource = resource

    @property
    def id(self) -> str | None:
        return self.resource.get("id")

    def __eq__(self, other: object) -> bool:
        if type(other) is not Result:
            return NotImplemented
        return self.when == other.when and self.resource == other.resource

    __hash__ = None  # type: ignore[assignment]  # like the dataclass: it holds a dict

    def __repr__(self) -> str:
        return f"Result(when={self.when!r}, resource={self.resource!r})"


#: sorts undated results last when sorting newest first
UNDATED = datetime.min.replace(tzinfo=UTC)


def _newest(result: Result) -> datetime:
    """Sort key, newest first with reverse=True: undated results last."""
    return result.when or UNDATED


@cache
def indexed_codes() -> frozenset[str]:
    """The LOINC codes the rules read (knowledge/observation_codes.yaml)."""
    return frozenset(str(code) for code in load("observation_codes")["codes"])


def loinc_codes(concept: object) -> list[str] | None:
    """The LOINC (or system-less) codes of one Observation.code; None when it has none.

    codings() inlined, without its tuples: this runs once per Observation, and a
    heavy chart has thousands.  Same reading as codings(): a code must be a string,
    and a system that is empty or missing counts as LOINC."""
    if type(concept) is not dict:  # a broken feed's list of concepts, or nothing: the general walk
        read = [code for system, code, _ in codings(concept) if not system or system == LOINC]
        return read or None
    coding = concept.get("coding")
    if type(coding) is dict:
        coding = (coding,)
    elif type(coding) is not list:
        return None
    found: list[str] | None = None
    for c in coding:
        if type(c) is dict:
            value = c.get("code")
            if type(value) is str:
                system = c.get("system")
                if not system or system == LOINC:
                    if found is None:
                        found = [value]
                    else:
                        found.append(value)
    return found


def _usable(obs: Resource) -> bool:
    return status_of(obs) not in _EXCLUDED and not is_entered_in_error(obs)


class LabIndex:
    """The usable Observations of one record, by LOINC code and by local test name.

    Built once per record (see module docstring); the results of a set of codes
    get their dates parsed and sorted when first asked for, then are kept."""

    def __init__(self, observations: Iterable[Resource]) -> None:
        self._observations = observations
        #: the codes filed here (observation_codes.yaml); any other code is read by a scan of its own
        self._wanted = wanted = indexed_codes()
        #: code -> usable Observations in record order (one per coding, as codings() reads them)
        self._by_code: dict[str, list[Resource]] = {}
        #: Observations without a LOINC coding, by distinct lower-cased test name, with their place in the record
        self._by_text: dict[str, list[tuple[int, Resource]]] = {}
        #: codes asked for together -> their results, newest first, each once
        self._asked: dict[tuple[str, ...], list[Result]] = {}
        #: a date string read once per record: a panel's results share one
        self._dates: dict[str, datetime | None] = {}
        for place, obs in enumerate(observations):
            concept = obs.get("code")
            # The common shape (a dict code with a list of dict codings) read inline, as
            # loinc_codes() reads it: this loop runs once per Observation, thousands on a
            # heavy chart, and most of them (vital signs) carry a LOINC code no rule reads,
            # so only the wanted codes are collected (no list for the others).
            coding = concept.get("coding") if type(concept) is dict else None
            if type(coding) is list:
                loinc = False
                codes: list[str] | None = None
                for c in coding:
                    if type(c) is dict:
                        value = c.get("code")
                        if type(value) is str:
                            system = c.get("system")
                            if not system or system == LOINC:
                                loinc = True
                                if value in wanted:
                                    if codes is None:
                                        codes = [value]
                                    else:
                                        codes.append(value)
                if codes is None:
                    if not loinc:
                        self._file_by_name(place, obs, concept)
                    continue
            else:
                codes = loinc_codes(concept)
                if codes is None:
                    self._file_by_name(place, obs, concept)
                    continue
            self._file(obs, codes)

    def _file_by_name(self, place: int, obs: Resource, concept: object) -> None:
        """Files a usable Observation without a LOINC code under its test name, with its place in the record."""
        if _usable(obs):
            self._by_text.setdefault(concept_text(concept), []).append((place, obs))

    def _file(self, obs: Resource, codes: list[str]) -> None:
        """Files a usable Observation under each of its ``codes`` that the rules read."""
        usable: bool | None = None
        by_code = self._by_code
        for code in codes:
            if code in self._wanted:
                if usable is None:
                    usable = _usable(obs)
                if not usable:
                    return
                group = by_code.get(code)
                if group is None:
                    by_code[code] = [obs]
                elif group[-1] is not obs:  # a code written twice on one result: filed once
                    group.append(obs)

    def _when(self, obs: Resource) -> datetime | None:
        """effective_datetime(), with the common effectiveDateTime string parsed once per record."""
        value = obs.get("effectiveDateTime")
        if type(value) is not str:
            return effective_datetime(obs)
        if value in self._dates:
            when = self._dates[value]
        else:
            when = self._dates[value] = parse_datetime(value)
        return when if when is not None else effective_datetime(obs)

    def _unlisted(self, code: str) -> list[Resource]:
        """The usable Observations with a code the knowledge data does not list: a scan of the record for it alone."""
        return [obs for obs in self._observations if code in (loinc_codes(obs.get("code")) or ()) and _usable(obs)]

    def results(self, codes: Iterable[str]) -> list[Result]:
        """All results with any of ``codes``, newest first (undated last), each once.

        Results of one date come code by code, in the order of ``codes``, and each
        code's in canonical_key() order; only the Observations asked for get a Result
        and a parsed date."""
        key = codes if type(codes) is tuple else tuple(codes)
        out = self._asked.get(key)
        if out is None:
            wanted, by_code = self._wanted, self._by_code
            groups: list[list[Resource]] = []
            for code in key:  # a test's sibling codes: most have no result, one lookup each
                group = by_code.get(code) if code in wanted else self._unlisted(code)
                if group:
                    groups.append(group)
            out = self._asked[key] = self._newest_first(groups) if groups else []
        return list(out)  # the caller's own list: the index keeps its copy

    def _newest_first(self, groups: list[list[Resource]]) -> list[Result]:
        """The results of ``groups`` (one per code, in the order asked), each once, newest first.

        Ties (results of one date) go code by code, each code's in canonical_key() order.
        Most asks have none (one result per date): their results are sorted by date alone,
        without a canonical_key() per result; a heavy chart's long histories are asked so."""
        if len(groups) == 1:
            members = groups[0]
        else:
            seen: set[int] = set()
            members = []
            for group in groups:
                for obs in group:
                    if id(obs) not in seen:
                        seen.add(id(obs))
                        members.append(obs)
        if len(members) == 1:  # the usual answer on a seed chart
            return [Result(self._when(members[0]), members[0])]
        when = self._when
        found = [Result(when(obs), obs) for obs in members]
        if len({r.when for r in found}) < len(found):  # a tie: order it as the canonical record would
            rank = {id(obs): (place, *canonical_key(obs))  # from the last code: an Observation
                    for place in range(len(groups) - 1, -1, -1)  # ranks with the first that has it
                    for obs in groups[place]}
            found.sort(key=lambda r: rank[id(r.resource)])
        found.sort(key=_newest, reverse=True)
        return found

    def results_named(self, names: Iterable[str]) -> list[Result]:
        """Results with only local codes whose test name contains one of ``names``, newest first.

        Results of one date keep the order of a canonically sorted record: test by
        test, in the order each test first appears, then result by result."""
        if not self._by_text:  # every result has a LOINC code (the common chart)
            return []
        wanted = [n.lower() for n in names]
        tests = [sorted(group, key=_canonical_place)
                 for text, group in self._by_text.items() if any(w in text for w in wanted)]
        tests.sort(key=lambda group: _canonical_place(group[0]))
        found = [Result(self._when(obs), obs) for group in tests for _, obs in group]
        found.sort(key=_newest, reverse=True)
        return found


def _canonical_place(entry: tuple[int, Resource]) -> tuple[int, str, int]:
    """canonical_key(), then the place in the record (a stable sort's tie-break)."""
    place, obs = entry
    return (*canonical_key(obs), place)


def lab_index(record: PatientRecord) -> LabIndex:
    """The record's LabIndex, built on first use."""
    return record.memo("labs", lambda: LabIndex(record.observations))


def results(record: PatientRecord, codes: Iterable[str]) -> list[Result]:
    """All results with any of ``codes``, newest first (undated last), each once."""
    return lab_index(record).results(codes)


def results_named(record: PatientRecord, names: Iterable[str]) -> list[Result]:
    """Results with only local codes whose test name contains one of ``names``, newest first.

    LOINC-coded results are found by code (results()); names are the fallback
    for labs that send local codes only (indications.yaml)."""
    return lab_index(record).results_named(names)


def test_name(obs: Resource) -> str:
    code = obs.get("code") or {}
    if isinstance(code, dict) and isinstance(code.get("text"), str):
        return code["text"]
    first = first_coding(code)
    return (first[2] or first[1]) if first else "result"


def value_text(obs: Resource) -> str | None:
    """The result as displayed on a card ('350 mg/dL', 'Negative')."""
    q = obs.get("valueQuantity")
    if isinstance(q, dict) and (value := finite_number(q.get("value"))) is not None:
        unit = q.get("unit") or q.get("code") or ""
        if isinstance(unit, str):
            unit = unit.replace("[", "").replace("]", "")  # UCUM annotations read "[IU]/mL": show "IU/mL"
        return f"{value:g} {unit}".strip()
    vcc = obs.get("valueCodeableConcept")
    if isinstance(vcc, dict):
        text = vcc.get("text")
        if isinstance(text, str) and text:
            return text
        first = first_coding(vcc)
        return (first[2] or first[1]) if first else None
    for key in ("valueString", "valueBoolean", "valueInteger"):
        if key in obs:
            return str(obs[key])
    return None


def evidence(record: PatientRecord, result: Result, label: str | None = None) -> Evidence:
    """Card evidence for one lab result."""
    first = first_coding(result.resource.get("code"))
    code = f"{first[0] or LOINC}|{first[1]}" if first else None
    return Evidence(
        resource_type="Observation",
        resource_id=result.id,
        label=label or test_name(result.resource),
        value=value_text(result.resource),
        date=result.when.date().isoformat() if result.when else None,
        code=code,
        origin=record.origin_of("Observation"),
    )
