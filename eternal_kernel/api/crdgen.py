"""Generate the CustomResourceDefinitions in crds/ from the typed API models.

`python -m eternal_kernel.api.crdgen --write crds` writes them; `--check crds` fails (exit 1)
when a file differs from what the models generate, so stale CRDs cannot be committed.

Pydantic's JSON schema is close to, but not, a Kubernetes structural schema; this module closes
the gap: `$ref`s are inlined, `Optional` unions collapse to their type, Decimal becomes `number`,
default factories are materialised in full (the API server checks a default against the CEL
rules before it applies nested defaults), and titles (which Kubernetes does not use) are dropped.
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic.json_schema import GenerateJsonSchema, NoDefault
from pydantic_core import core_schema

from .kinds import KINDS, KindInfo
from .v1alpha1 import GROUP, VERSION

Schema = dict[str, Any]


class _KubeSchemaGenerator(GenerateJsonSchema):
    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        factory = schema.get("default_factory")
        if factory is None:
            return super().get_default_value(schema)
        if schema.get("default_factory_takes_data"):
            return NoDefault
        return factory()  # type: ignore[call-arg]


def _resolve(node: Any, defs: dict[str, Schema]) -> Any:
    if isinstance(node, list):
        return [_resolve(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = dict(defs[node["$ref"].rsplit("/", 1)[-1]])
        # Field-level keywords (description, default) beside a $ref win over the target's.
        target.update({k: v for k, v in node.items() if k != "$ref"})
        return _resolve(target, defs)
    return {key: _resolve(value, defs) for key, value in node.items()}


def _collapse_any_of(node: Schema) -> Schema:
    variants = [v for v in node["anyOf"] if v.get("type") != "null"]
    types = {v.get("type") for v in variants}
    if types == {"number", "string"}:  # Decimal: accept the number form only
        chosen = next(v for v in variants if v.get("type") == "number")
    elif len(variants) == 1:
        chosen = variants[0]
    else:
        raise ValueError(f"cannot express anyOf {variants} as a structural schema")
    merged = {k: v for k, v in node.items() if k != "anyOf"}
    return {**chosen, **merged}


def _coerce_default(value: Any, schema: Schema) -> Any:
    """Shape a JSON default the way the schema types it (Decimal strings to numbers, no nulls)."""
    kind = schema.get("type")
    if kind == "number" and isinstance(value, str):
        number = Decimal(value)
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "object" and isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        return {
            key: _coerce_default(item, props.get(key) or (extra if isinstance(extra, dict) else {}))
            for key, item in value.items()
            if item is not None
        }
    if kind == "array" and isinstance(value, list):
        return [_coerce_default(item, schema.get("items", {})) for item in value]
    return value


def _structural(node: Any) -> Any:
    if isinstance(node, list):
        return [_structural(item) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("x-kubernetes-int-or-string"):
        keep = (
            "description", "default", "maxLength", "x-kubernetes-int-or-string",
            "x-kubernetes-validations",
        )  # fmt: skip
        return {k: v for k, v in node.items() if k in keep}
    if "anyOf" in node:
        node = _collapse_any_of(node)
    out: Schema = {}
    for key, value in node.items():
        if key in ("title", "additionalProperties") and not isinstance(value, dict):
            continue  # titles are noise; `additionalProperties: false` is what pruning does
        if key == "const":
            out["enum"] = [value]
            continue
        if key in ("exclusiveMinimum", "exclusiveMaximum"):  # JSON Schema 2020 -> OpenAPI 3.0
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            out[key] = True
            continue
        if key == "properties":
            out[key] = {name: _structural(prop) for name, prop in value.items()}
        elif key in ("items", "additionalProperties"):
            out[key] = _structural(value)
        else:
            out[key] = value
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    if out.get("default", 0) is None:
        del out["default"]  # an optional field: absent, not null
    elif "default" in out:
        out["default"] = _coerce_default(out["default"], out)
    return out


def kind_schema(info: KindInfo) -> Schema:
    """The openAPIV3Schema of one kind."""
    raw = info.model.model_json_schema(
        by_alias=True, mode="validation", schema_generator=_KubeSchemaGenerator
    )
    resolved = _resolve({k: v for k, v in raw.items() if k != "$defs"}, raw.get("$defs", {}))
    schema: Schema = _structural(resolved)
    props = schema["properties"]
    props["apiVersion"] = {"type": "string", "description": "The API version."}
    props["kind"] = {"type": "string", "description": "The kind."}
    props["metadata"] = {"type": "object"}
    if info.name_rules:  # the only metadata a CRD may restrict: name (and generateName)
        name = {
            "type": "string",
            "maxLength": 253,
            "description": f"The {info.kind}'s name; the names of what it owns derive from it.",
            "x-kubernetes-validations": list(info.name_rules),
        }
        props["metadata"]["properties"] = {"name": name}
    if "status" in props:
        props["status"].pop("default", None)
    schema["description"] = info.description
    schema["required"] = [name for name in schema.get("required", []) if name == "spec"]
    if not schema["required"]:
        del schema["required"]
    return schema


def crd(info: KindInfo) -> Schema:
    """The whole CustomResourceDefinition of one kind."""
    columns = [
        {
            "name": c.name,
            "type": c.type,
            "jsonPath": c.json_path,
            **({"description": c.description} if c.description else {}),
            **({"priority": c.priority} if c.priority else {}),
        }
        for c in info.columns
    ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": info.crd_name,
            "labels": {"app.kubernetes.io/part-of": "eternal-engine"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": info.kind,
                "listKind": f"{info.kind}List",
                "plural": info.plural,
                "singular": info.singular,
                "shortNames": list(info.short_names),
                "categories": ["eternal"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {"openAPIV3Schema": kind_schema(info)},
                }
            ],
        },
    }


HEADER = "# Generated from the API models by `make crds`; do not edit.\n"


def render(info: KindInfo) -> str:
    return HEADER + yaml.safe_dump(crd(info), sort_keys=False, width=100)


def file_name(info: KindInfo) -> str:
    return f"{GROUP}_{info.plural}.yaml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", metavar="DIR", type=Path, help="write the CRDs into DIR")
    mode.add_argument("--check", metavar="DIR", type=Path, help="fail if DIR is out of date")
    args = parser.parse_args(argv)
    folder: Path = args.write or args.check
    stale = []
    for info in KINDS:
        path = folder / file_name(info)
        text = render(info)
        if args.write:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        elif not path.exists() or path.read_text() != text:
            stale.append(str(path))
    if stale:
        print(f"stale CRDs (run `make crds`): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
