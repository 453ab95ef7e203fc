"""Clinical knowledge as data: value sets, regimens, thresholds, citations.

Each YAML file in this folder is one topic; every entry names its source
(label section, guideline DOI, payer policy, or the research note
``shared/reference/clinical-rules.md`` section that verified a code).
Rules read these files through :func:`load`, never hard-code codes or
numbers.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml


@cache
def load(name: str) -> Any:
    """The parsed content of ``service/knowledge/<name>.yaml`` (cached)."""
    text = resources.files(__package__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)
