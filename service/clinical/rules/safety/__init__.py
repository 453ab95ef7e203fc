"""Pre-infusion safety work-up, one module per topic.

What the label requires (HBsAg + anti-HBc before initiating; CBC with
platelets before the first dose; no live vaccines; PCP prophylaxis in
GPA/MPA; not in severe active infection; contraception) is kept apart from
guideline or local policy (IgG before each course, TB screening, HCV).
Every module cites its sources in its docstring and in the cards; windows,
value sets and thresholds are in knowledge/safety.yaml.
"""

from service.clinical.rules.safety._common import cfg, months, order_of, test_codes
from service.clinical.rules.safety.cbc import blood_counts
from service.clinical.rules.safety.hbv import hepatitis_b
from service.clinical.rules.safety.hcv import hepatitis_c
from service.clinical.rules.safety.hypersensitivity import prior_reaction
from service.clinical.rules.safety.immunoglobulins import immunoglobulins
from service.clinical.rules.safety.infection import active_infection
from service.clinical.rules.safety.pneumocystis import pneumocystis_prophylaxis
from service.clinical.rules.safety.pregnancy import pregnancy
from service.clinical.rules.safety.tb import tuberculosis
from service.clinical.rules.safety.vaccination import live_vaccines

__all__ = [
    "active_infection", "blood_counts", "cfg", "hepatitis_b", "hepatitis_c", "immunoglobulins", "live_vaccines",
    "months", "order_of", "pneumocystis_prophylaxis", "pregnancy", "prior_reaction", "test_codes", "tuberculosis",
]
