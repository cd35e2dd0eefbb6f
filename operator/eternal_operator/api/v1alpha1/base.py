"""Shared building blocks of the API models: camelCase wire names, frozen models, bounded types."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    """Base of every API object part: camelCase on the wire, snake_case in Python, frozen.

    Unknown fields are refused, so a typo in a manifest fails loudly in Python exactly as the
    API server's structural schema prunes or rejects it.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        extra="forbid",
        use_enum_values=False,
    )


Fraction = Annotated[Decimal, Field(ge=0, le=1)]
"""A share between 0 and 1 (weights, drawdowns, multipliers)."""


def cel(rule: str, message: str, field_path: str | None = None) -> dict[str, Any]:
    """One `x-kubernetes-validations` entry; the same check is mirrored by a pydantic validator."""
    entry: dict[str, Any] = {"rule": rule, "message": message}
    if field_path:
        entry["fieldPath"] = field_path
    return entry


def rules(*entries: dict[str, Any]) -> dict[str, Any]:
    """`json_schema_extra` carrying CEL validation rules."""
    return {"x-kubernetes-validations": list(entries)}
