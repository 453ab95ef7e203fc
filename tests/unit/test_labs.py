"""The lab index (clinical/labs.py): one pass over the Observations, read by code and by test name."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from service.clinical import labs
from service.clinical.record import canonical_key
from tests.records import obs, record


def test_a_code_the_knowledge_data_does_not_list_is_still_found() -> None:
    """The index files only the codes of observation_codes.yaml; any other code is read by a scan of its own."""
    assert "1234-5" not in labs.indexed_codes()
    old, new = obs("1234-5", 30, 1.0), obs("1234-5", 2, 2.0)
    rec = record(old, obs("2465-3", 1, 900, "mg/dL"), new)
    assert [r.id for r in labs.results(rec, ["1234-5"])] == [new["id"], old["id"]]


def test_results_of_sibling_codes_newest_first_each_once_and_withdrawn_results_left_out() -> None:
    twice = obs("5195-3", 10, concept="260385009")
    twice["code"]["coding"].append({"system": labs.LOINC, "code": "5196-1"})  # both sibling codes on one result
    withdrawn = obs("5196-1", 1)
    withdrawn["status"] = "entered-in-error"
    newer = obs("5196-1", 5)
    rec = record(twice, withdrawn, newer, obs("8302-2", 3, 170, "cm"))
    assert [r.id for r in labs.results(rec, ["5195-3", "5196-1"])] == [newer["id"], twice["id"]]


def test_a_result_with_only_a_local_code_is_found_by_its_name() -> None:
    local = obs("LOCAL-HBSAG", 4)
    local["code"] = {"coding": [{"system": "http://lab.example/codes", "code": "HBS"}], "text": "Hep B surface Ag"}
    coded = obs("5195-3", 8)
    rec = record(coded, local)
    assert [r.id for r in labs.results_named(rec, ["surface ag"])] == [local["id"]]
    assert [r.id for r in labs.results(rec, ["5195-3"])] == [coded["id"]]


_LOCAL_NAMES = ["hep b surface ag", "surface ag screen", "igg total"]


@st.composite
def _observations(draw: st.DrawFn) -> list[dict[str, Any]]:
    ids = draw(st.lists(st.integers(0, 60), min_size=1, max_size=14, unique=True))
    out = []
    for n in ids:
        o = obs(draw(st.sampled_from(["5195-3", "5196-1", "2465-3", "1234-5"])), draw(st.sampled_from([1, 2, 40])))
        o["id"] = f"o{n}"
        if draw(st.booleans()):
            o["code"] = {"coding": [{"system": "http://lab.example", "code": "L"}], "text": draw(st.sampled_from(_LOCAL_NAMES))}
        out.append(o)
    return out


@settings(max_examples=200, deadline=None)
@given(_observations(), st.randoms(use_true_random=False))
def test_results_come_in_one_order_whatever_order_the_observations_came_in(observations, rnd) -> None:
    """gather leaves Observations as the server sent them: the index breaks ties between results of one date."""
    shuffled = list(observations)
    rnd.shuffle(shuffled)
    a, b = record(*sorted(observations, key=canonical_key)), record(*shuffled)
    for codes in (["5195-3", "5196-1"], ["2465-3"], ["1234-5"]):
        assert [r.id for r in labs.results(a, codes)] == [r.id for r in labs.results(b, codes)]
    for names in (["surface ag"], ["igg"], ["surface ag", "igg"]):
        assert [r.id for r in labs.results_named(a, names)] == [r.id for r in labs.results_named(b, names)]


_ODD_SCALAR = st.sampled_from([None, 0, 2, "", "x", labs.LOINC])
_ODD_CODING = st.fixed_dictionaries(
    {"code": st.sampled_from(["5195-3", "2465-3", "x", 5, None])},
    optional={"system": st.sampled_from([None, "", 0, labs.LOINC, "http://local", "http://loinc.org/"]),
              "display": _ODD_SCALAR},
) | _ODD_SCALAR
_ODD_CONCEPT = st.fixed_dictionaries({}, optional={"coding": st.lists(_ODD_CODING, max_size=3) | _ODD_CODING,
                                                   "text": _ODD_SCALAR})


@settings(max_examples=300, deadline=None)
@given(st.lists(_ODD_CONCEPT | st.lists(_ODD_CONCEPT, max_size=2) | _ODD_SCALAR, min_size=1, max_size=6))
def test_the_index_files_each_observation_under_the_codes_codings_reads(concepts: list[Any]) -> None:
    """LabIndex reads the common code shape inline: on any shape, a code finds what codings() says has it."""
    observations = []
    for n, concept in enumerate(concepts):
        o = obs("5195-3", n + 1)
        o["code"] = concept
        observations.append(o)
    rec = record(*observations)
    for code in ("5195-3", "2465-3"):
        expected = sorted((o for o in observations
                           if code in [c for s, c, _ in labs.codings(o["code"]) if not s or s == labs.LOINC]),
                          key=lambda o: o["effectiveDateTime"], reverse=True)
        assert [r.id for r in labs.results(rec, [code])] == [o["id"] for o in expected]


@st.composite
def _coded_observations(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Results with one to three codings (some repeated), several on one date, some withdrawn."""
    ids = draw(st.lists(st.integers(0, 60), min_size=1, max_size=12, unique=True))
    out = []
    for n in ids:
        codes = draw(st.lists(st.sampled_from(["5195-3", "5196-1", "1234-5"]), min_size=1, max_size=3))
        o = obs(codes[0], draw(st.sampled_from([1, 2, 40])))
        o["id"] = f"o{n}"
        o["code"]["coding"] = [{"system": labs.LOINC, "code": c} for c in codes]
        if draw(st.integers(0, 5)) == 0:
            o["status"] = "entered-in-error"
        out.append(o)
    return out


@settings(max_examples=300, deadline=None)
@given(_coded_observations(), st.permutations(["5196-1", "5195-3", "1234-5"]), st.integers(1, 3))
def test_results_of_several_codes_answer_like_a_scan_of_the_record(observations, order, n) -> None:
    """results() merges the codes' filed lists; a plain scan of the record says what it must answer:
    each code's usable results in canonical order, code by code, each once, then newest first (stable)."""
    codes = order[:n]
    expected: list[dict[str, Any]] = []
    for code in codes:
        for o in sorted(observations, key=canonical_key):
            if (o["status"] != "entered-in-error" and all(o is not e for e in expected)
                    and code in [c for _, c, _ in labs.codings(o["code"])]):
                expected.append(o)
    expected.sort(key=lambda o: labs.parse_datetime(o["effectiveDateTime"]), reverse=True)
    rec = record(*observations)
    assert [r.id for r in labs.results(rec, codes)] == [o["id"] for o in expected]
    assert [r.id for r in labs.results(rec, tuple(codes))] == [o["id"] for o in expected]  # asked again: kept
