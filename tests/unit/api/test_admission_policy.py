"""The admission policy's list of Engine status parts only the operator writes is complete: a
status field added to the API model without protection fails here."""

from __future__ import annotations

import pytest

from eternal_kernel.api.v1alpha1 import EngineStatus
from eternal_operator.devtools.controlplane import ADMISSION_DIR

pytestmark = pytest.mark.unit


def test_the_policy_protects_every_part_of_the_engine_status_but_the_runtime_s() -> None:
    text = (ADMISSION_DIR / "policies.yaml").read_text()
    fields = [f.alias or name for name, f in EngineStatus.model_fields.items()]
    protected = [f for f in fields if f"object.?status.?{f} == oldObject.?status.?{f}" in text]
    assert sorted(protected) == sorted(f for f in fields if f != "runtime")
