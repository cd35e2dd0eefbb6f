"""Shared building blocks of the API models: camelCase wire names, frozen models, bounded types."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Annotated, Any, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel, to_snake


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

    @field_validator("*", mode="before")
    @classmethod
    def _json_as_the_server_reads_it(cls, value: Any, info: ValidationInfo) -> Any:
        # What the API server refuses by type, refused here too (pydantic alone would read
        # "yes" as true and "5" as 5); and every Decimal read as the server stores the number
        # (`as_stored`) before its bounds are checked, so both accept and refuse alike.
        decimal, boolean, integer = _kinds(cls, info.field_name or "")
        if decimal:
            return as_stored(value)
        if boolean and value is not None and not isinstance(value, bool):
            raise ValueError("must be of type boolean")
        if integer and isinstance(value, str | bool):
            raise ValueError("must be of type integer")
        return value


@cache
def _kinds(model: type[BaseModel], name: str) -> tuple[bool, bool, bool]:
    """Whether a field of `model` is declared a Decimal, a bool, an int (alone or in a union),
    looked up once per model and field: every field of every object read goes through
    `_json_as_the_server_reads_it`."""
    field = model.model_fields.get(name)
    kinds = (field.annotation, *get_args(field.annotation)) if field is not None else ()
    return Decimal in kinds, bool in kinds, int in kinds


snake = cache(to_snake)
"""A camelCase wire name (a params block's, say) as its Python field name, `to_camel` undone."""


def as_stored(value: Any) -> Any:
    """A number as the API server keeps it, so that Python compares what the server compares.

    The API server decodes a JSON number into a float64 (an int64 when integral) and checks
    bounds and CEL rules on that, so `0.05000000000000000001` is stored, compared and returned
    as `0.05`. Read the same way here (the shortest decimal of that double, which is the number
    as written for anything of 15 significant digits or fewer), the bounds and cross-field rules
    of the models decide as the server's do. Money keeps its digits: it is not that long.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        return value  # refused by the Decimal validation that follows
    if isinstance(value, int) and -(2**63) <= value < 2**63:
        return Decimal(value)
    try:
        number = float(value)
    except (ValueError, OverflowError, InvalidOperation):
        return value
    return Decimal(repr(number)) if number not in (float("inf"), float("-inf")) else value


Fraction = Annotated[Decimal, Field(ge=0, le=1)]
"""A share between 0 and 1 (weights, drawdowns, multipliers)."""

WEIGHTS_SUM_BOUND = 1.000001
"""Weights may sum to this much: CEL adds them as doubles, where 0.05 + 0.55 + 0.3 + 0.1 is
1.0000000000000002, so the bound leaves room for binary rounding (the allocation scales targets
that sum above 1 down to 1)."""

WEIGHTS_SUM_RULE = f"self.map(t, t.weight).sum() <= {WEIGHTS_SUM_BOUND}"
"""CEL on a list of `{weight}` objects; `weights_within_bound` is its Python twin."""


def weights_within_bound(weights: Iterable[Decimal]) -> bool:
    """WEIGHTS_SUM_RULE evaluated as CEL does: doubles added one by one in list order (not
    `sum()`, which compensates rounding from Python 3.12 on), against the same bound."""
    total = 0.0
    for weight in weights:
        total += float(weight)
    return total <= WEIGHTS_SUM_BOUND


def cel(rule: str, message: str, field_path: str | None = None) -> dict[str, Any]:
    """One `x-kubernetes-validations` entry; the same check is mirrored by a pydantic validator."""
    entry: dict[str, Any] = {"rule": rule, "message": message}
    if field_path:
        entry["fieldPath"] = field_path
    return entry


def rules(*entries: dict[str, Any]) -> dict[str, Any]:
    """`json_schema_extra` carrying CEL validation rules."""
    return {"x-kubernetes-validations": list(entries)}
