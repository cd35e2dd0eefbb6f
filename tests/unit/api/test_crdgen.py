"""The generated CRDs: current, structural, described, and carrying the cross-field rules."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from eternal_kernel.api import crdgen
from eternal_kernel.api.kinds import KINDS, KindInfo
from eternal_kernel.api.v1alpha1.engine import PARAMS_BLOCKS

pytestmark = pytest.mark.unit

CRD_DIR = Path(__file__).resolve().parents[3] / "crds"


def schema_of(info: KindInfo) -> dict[str, Any]:
    return dict(crdgen.crd(info)["spec"]["versions"][0]["schema"]["openAPIV3Schema"])


def walk(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for name, prop in node.get("properties", {}).items():
        yield from walk(prop, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}{{}}")


def test_committed_crds_are_current() -> None:
    assert crdgen.main(["--check", str(CRD_DIR)]) == 0


def test_check_fails_on_stale_or_missing_file(tmp_path: Path) -> None:
    assert crdgen.main(["--write", str(tmp_path)]) == 0
    assert crdgen.main(["--check", str(tmp_path)]) == 0
    target = tmp_path / crdgen.file_name(KINDS[0])
    target.write_text(target.read_text().replace("Hard risk limits", "Soft risk limits"))
    assert crdgen.main(["--check", str(tmp_path)]) == 1
    shutil.rmtree(tmp_path)
    assert crdgen.main(["--check", str(tmp_path)]) == 1


@pytest.mark.parametrize("info", KINDS, ids=lambda k: k.kind)
def test_schema_is_structural(info: KindInfo) -> None:
    for path, node in walk(schema_of(info)):
        for banned in ("$ref", "$defs", "anyOf", "oneOf", "allOf", "title", "const"):
            assert banned not in node, f"{info.kind}{path} has {banned}"
        is_int_or_string = node.get("x-kubernetes-int-or-string")
        assert "type" in node or is_int_or_string, f"{info.kind}{path} has no type"
        if "exclusiveMinimum" in node:
            assert node["exclusiveMinimum"] is True
            assert "minimum" in node


@pytest.mark.parametrize("info", KINDS, ids=lambda k: k.kind)
def test_every_field_is_described(info: KindInfo) -> None:
    for path, node in walk(schema_of(info)):
        if path in (".apiVersion", ".kind", ".metadata") or path.endswith(("[]", "{}")):
            continue
        assert node.get("description"), f"{info.kind}{path} has no description"


@pytest.mark.parametrize("info", KINDS, ids=lambda k: k.kind)
def test_numeric_defaults_are_numbers(info: KindInfo) -> None:
    for path, node in walk(schema_of(info)):
        if node.get("type") in ("number", "integer") and "default" in node:
            assert isinstance(node["default"], int | float), f"{info.kind}{path}"


def test_policy_defaults_are_the_four_levels() -> None:
    levels = schema_of(KINDS[2])["properties"]["spec"]["properties"]["levels"]["default"]
    assert [(lvl["level"], lvl["drawdown"]) for lvl in levels] == [
        (1, 0.1), (2, 0.15), (3, 0.2), (4, 0.25),
    ]  # fmt: skip
    assert [lvl.get("halt", False) for lvl in levels] == [False, False, False, True]


def test_cross_field_rules_are_in_the_schema() -> None:
    engine_spec = schema_of(KINDS[0])["properties"]["spec"]
    rules = [r["rule"] for r in engine_spec["x-kubernetes-validations"]]
    assert "self.venue != 'mainnet' || has(self.credentials)" in rules
    assert sum("has(self.params." in r for r in rules) == len(PARAMS_BLOCKS)
    grid = engine_spec["properties"]["params"]["properties"]["grid"]
    assert [r["rule"] for r in grid["x-kubernetes-validations"]] == [
        "double(self.levels) * self.spacingPct < 1.0",
        "self.maxInventory <= self.maxExposure",
    ]
    targets = schema_of(KINDS[1])["properties"]["spec"]["properties"]["targets"]
    assert "sum()" in targets["x-kubernetes-validations"][0]["rule"]
    assert targets["x-kubernetes-list-map-keys"] == ["engine"]


def test_status_is_a_subresource_with_columns() -> None:
    for info in KINDS:
        version = crdgen.crd(info)["spec"]["versions"][0]
        assert version["subresources"] == {"status": {}}
        assert [c["name"] for c in version["additionalPrinterColumns"]][-1] == "Age"
    engine_columns = crdgen.crd(KINDS[0])["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [c["name"].upper() for c in engine_columns] == [
        "STRATEGY", "VENUE", "PHASE", "EQUITY", "ALLOC", "DRAWDOWN", "LEVEL", "AGE",
    ]  # fmt: skip


def test_rendered_file_is_yaml_with_header() -> None:
    text = crdgen.render(KINDS[0])
    assert text.startswith(crdgen.HEADER)
    assert yaml.safe_load(text)["metadata"]["name"] == "engines.trading.eternal-engine.io"
