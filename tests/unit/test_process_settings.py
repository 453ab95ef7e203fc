"""What create_app sets for the whole process: the garbage collector's start-up freeze and young threshold."""

from __future__ import annotations

import subprocess
import sys


def test_create_app_freezes_start_up_objects_and_raises_the_young_threshold():
    code = """
import gc
from service import YOUNG_COLLECTION_THRESHOLD, create_app
from tests.conftest import make_settings
assert gc.get_threshold() == (700, 10, 10)
create_app(make_settings())
frozen = gc.get_freeze_count()
assert frozen > 10_000, frozen  # modules, knowledge data, the app
assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, 10, 10) == (50_000, 10, 10)
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]
