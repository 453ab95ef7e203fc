"""What a rule reports: a Finding with its evidence, gaps and sources.

cards/ turns findings into CDS cards; it never re-reads the record, so
everything a card says must be carried here (evidence, what was looked for
and not found, citation ids, tests to order).
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

#: What a finding means for the prescriber, from the clinician's point of view
#: (DESIGN.md "Indicators"): ``pass`` produces no card of its own but feeds the
#: medical-necessity summary; the other three map to the card indicator.
Severity = Literal["critical", "warning", "info", "pass"]

TOPICS: tuple[str, ...] = (
    "indication",
    "dosing",
    "hbv",
    "immunoglobulins",
    "tb",
    "hcv",
    "cbc",
    "vaccination",
    "hypersensitivity",
    "pregnancy",
    "infection",
    "course-schedule",
    "data-access",
)


class Evidence(NamedTuple):
    """One datum a rule used, as the card will show it.

    A named tuple rather than a frozen dataclass: as immutable, hashable (cards
    deduplicate evidence with ``dict.fromkeys``) and read by attribute, but built
    as one tuple, without an ``object.__setattr__`` call per field (a call makes
    two dozen of these).  Change one with ``evidence._replace(label=...)``.
    """

    resource_type: str
    resource_id: str | None
    label: str  # e.g. "HBsAg", "Dermatomyositis (M33.10)"
    value: str | None = None  # e.g. "Negative", "350 mg/dL"
    date: str | None = None  # ISO date of the result/onset/administration
    code: str | None = None  # "system|code" of the matched coding
    origin: str | None = None  # "prefetch", "query" or "order"


class OrderSuggestion(NamedTuple):
    """A test the rule suggests ordering (becomes a ServiceRequest create)."""

    code: str  # LOINC code
    display: str
    system: str = "http://loinc.org"
    reason: str | None = None


class MedicationSuggestion(NamedTuple):
    """A drug the rule suggests prescribing (becomes a draft MedicationRequest create).

    Only where a cited source names the drug and its dose; ``recommended``
    only where that source says "recommended" (CDS Hooks ``isRecommended``).
    """

    rxnorm: str
    display: str
    dosage_text: str
    dose_value: float
    dose_unit: str
    times_per_period: int
    period_days: int
    route: str
    reason: str | None = None
    recommended: bool = False


class ReferralSuggestion(NamedTuple):
    """A specialist the rule suggests involving (becomes a referral ServiceRequest)."""

    specialty: str  # e.g. "hepatology"
    display: str  # e.g. "Referral to hepatology"
    reason: str | None = None


class _FindingFields(NamedTuple):
    """Finding's fields, in order (Finding adds the defaults and the checks)."""

    rule_id: str
    rule_version: str
    topic: str
    severity: Severity
    summary: str
    facts: dict[str, Any]
    evidence: tuple[Evidence, ...]
    missing: tuple[str, ...]
    citations: tuple[str, ...]
    orders: tuple[OrderSuggestion, ...]
    medications: tuple[MedicationSuggestion, ...]
    referrals: tuple[ReferralSuggestion, ...]
    override_reasons: tuple[str, ...]


_SEVERITIES = frozenset(("critical", "warning", "info", "pass"))


class Finding(_FindingFields):
    """The outcome of one rule for one patient (and order, if any).

    ``facts`` holds the structured values a card template renders (numbers,
    dates, names); ``missing`` says what was looked for and not found, in
    words a clinician understands; ``citations`` are ids of
    ``knowledge/citations.yaml``; ``override_reasons`` are codes of
    ``knowledge/override_reasons.yaml`` that make sense for this finding.

    Immutable and read by attribute, like Evidence a named tuple (a call builds
    a dozen findings; a frozen dataclass sets each of 13 fields through
    ``object.__setattr__``); ``__new__`` checks topic and severity.
    """

    __slots__ = ()

    def __new__(
        cls,
        rule_id: str,
        rule_version: str,
        topic: str,
        severity: Severity,
        summary: str,
        facts: dict[str, Any] | None = None,
        evidence: tuple[Evidence, ...] = (),
        missing: tuple[str, ...] = (),
        citations: tuple[str, ...] = (),
        orders: tuple[OrderSuggestion, ...] = (),
        medications: tuple[MedicationSuggestion, ...] = (),
        referrals: tuple[ReferralSuggestion, ...] = (),
        override_reasons: tuple[str, ...] = (),
    ) -> Finding:
        if topic not in TOPICS:
            raise ValueError(f"unknown topic {topic!r}")
        if severity not in _SEVERITIES:
            raise ValueError(f"unknown severity {severity!r}")
        return tuple.__new__(cls, (rule_id, rule_version, topic, severity, summary, {} if facts is None else facts,
                                   evidence, missing, citations, orders, medications, referrals, override_reasons))
