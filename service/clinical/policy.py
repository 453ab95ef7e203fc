"""Local policy the rules read: settings that change what a rule concludes.

Built from Settings by the service layer; rules take it as a plain value so
they stay free of the environment.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    #: CDS_TB_SCREENING: required -> warning when missing, advisory -> info, off -> nothing
    tb_screening: str = "advisory"
    #: CDS_PREFER_BIOSIMILAR: advise a biosimilar when the reference product is ordered
    prefer_biosimilar: bool = False
