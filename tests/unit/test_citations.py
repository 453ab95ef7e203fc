"""Every source a card shows is a page a clinician can open: no API, search URL, mirror or marketing copy."""

from __future__ import annotations

import re
from importlib import resources
from urllib.parse import parse_qs, urlparse

import pytest

from service.knowledge import citations

#: hosts that are authoritative, human-readable pages (label, DOI, publisher, guideline body, registry, CMS)
ALLOWED_HOSTS = {
    "dailymed.nlm.nih.gov", "doi.org", "pubmed.ncbi.nlm.nih.gov", "pmc.ncbi.nlm.nih.gov", "clinicaltrials.gov",
    "www.cms.gov", "clinicalinfo.hiv.gov", "jamanetwork.com", "f1000research.com", "ard.bmj.com",
    "www.thelancet.com", "www.uhc.com", "www.hl7.org", "loinc.org",
}
#: query strings allowed only where they name one page (a DailyMed setid, an LCD id)
ALLOWED_QUERIES = {("dailymed.nlm.nih.gov", "setid"), ("www.cms.gov", "lcdid")}
#: FHIR code system identifiers (CodeSystem.url values): identifiers, not links
CODE_SYSTEMS = {"http://hl7.org/fhir/sid/icd-10-cm", "http://hl7.org/fhir/sid/ndc", "http://loinc.org",
                "http://snomed.info/sct", "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
                "http://www.nlm.nih.gov/research/umls/rxnorm", "http://hl7.org/fhir/request-intent",
                "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"}
URL = re.compile(r"https?://[^\s\"'),]+")


def _knowledge_urls() -> list[str]:
    urls = []
    for entry in resources.files("service.knowledge").iterdir():
        if entry.name.endswith(".yaml"):
            urls += URL.findall(entry.read_text(encoding="utf-8"))
    return [u for u in urls if u not in CODE_SYSTEMS]


@pytest.mark.parametrize("url", sorted(set(_knowledge_urls())))
def test_every_knowledge_url_is_a_page_a_clinician_can_open(url):
    parsed = urlparse(url)
    assert parsed.scheme == "https", url
    assert parsed.hostname in ALLOWED_HOSTS, f"{url}: not an authoritative host (mirror, marketing or API?)"
    for key in parse_qs(parsed.query):
        assert (parsed.hostname, key) in ALLOWED_QUERIES, f"{url}: a search or API query"
    assert not parsed.path.endswith((".json", ".txt")), url
    assert "search" not in parsed.path and "api." not in parsed.hostname, url


@pytest.mark.parametrize("bad", ["https://api.fda.gov/drug/label.json?search=x", "http://vortuxi.com/indications.html",
                                 "https://www.readkong.com/page/x", "https://pubmed.ncbi.nlm.nih.gov/?term=x",
                                 "http://ard.bmjjournals.com/content/70/6/909.full.txt"])
def test_the_check_rejects_what_the_review_found(bad):
    with pytest.raises(AssertionError):
        test_every_knowledge_url_is_a_page_a_clinician_can_open(bad)


def test_every_citation_links_somewhere_or_says_why_not():
    for cid, c in citations().items():
        assert c.get("url") or c.get("doi") or "policy" in c["title"].lower(), cid
