"""Test modules have unique basenames: pytest imports them by basename (rootdir-relative
packages are not used), so a second test_x.py anywhere stops the whole collection."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit


def test_no_two_test_modules_share_a_basename() -> None:
    tests = Path(__file__).resolve().parents[1]
    names = Counter(p.name for p in tests.rglob("test_*.py"))
    assert [n for n, count in names.items() if count > 1] == []
