"""Types shared by the three kinds: conditions, label selectors, Secret references, resources."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from . import quantity
from .base import ApiModel, cel, rules
from .names import DNS_1035_LABEL, ENGINE_NAME_MAX

GROUP = "trading.eternal-engine.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"

ObjectName = Annotated[str, Field(pattern=DNS_SUBDOMAIN, min_length=1, max_length=253)]
EngineName = Annotated[str, Field(pattern=DNS_1035_LABEL, min_length=1, max_length=ENGINE_NAME_MAX)]
"""A name an Engine can have (see names.py)."""
DecimalString = Annotated[str, Field(pattern=r"^-?[0-9]+(\.[0-9]+)?$", max_length=40)]
"""Money in status is a decimal string (as Bybit sends it), never a float."""


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(ApiModel):
    """A standard Kubernetes condition (the shape of metav1.Condition)."""

    type: str = Field(max_length=64, description="Condition type, e.g. Ready.")
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(
        max_length=128,
        pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
        description="Typed, CamelCase reason for the last transition.",
    )
    message: str = Field(default="", max_length=2048, description="Human-readable detail.")
    last_transition_time: datetime = Field(description="When the status last changed.")
    observed_generation: int | None = Field(
        default=None, ge=0, description="The .metadata.generation this condition was set for."
    )


Conditions = Annotated[
    list[Condition],
    Field(
        max_length=16,
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
        },
    ),
]


class SelectorOperator(StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class LabelSelectorRequirement(ApiModel):
    """One requirement of a label selector."""

    key: str = Field(max_length=317, description="The label key the requirement applies to.")
    operator: SelectorOperator = Field(description="In, NotIn, Exists or DoesNotExist.")
    values: list[Annotated[str, Field(max_length=63)]] = Field(
        default_factory=list,
        max_length=32,
        description="Values for In and NotIn; empty for Exists and DoesNotExist.",
    )


class LabelSelector(ApiModel):
    """A Kubernetes label selector; an empty selector selects every Engine in the namespace."""

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether an object with these labels is selected, as Kubernetes decides it."""
        if any(labels.get(key) != value for key, value in self.match_labels.items()):
            return False
        for req in self.match_expressions:
            present, value = req.key in labels, labels.get(req.key)
            if req.operator == SelectorOperator.IN and value not in req.values:
                return False
            if req.operator == SelectorOperator.NOT_IN and present and value in req.values:
                return False
            if req.operator == SelectorOperator.EXISTS and not present:
                return False
            if req.operator == SelectorOperator.DOES_NOT_EXIST and present:
                return False
        return True

    match_labels: dict[str, Annotated[str, Field(max_length=63)]] = Field(
        default_factory=dict,
        max_length=32,
        description="Labels an Engine must carry, all of them.",
    )
    match_expressions: list[LabelSelectorRequirement] = Field(
        default_factory=list,
        max_length=16,
        description="Requirements an Engine's labels must meet, all of them.",
    )


SecretKey = Annotated[str, Field(pattern=r"^[-._a-zA-Z0-9]+$", min_length=1, max_length=253)]
"""A key of a Secret's data, as Kubernetes allows them (the runtime's env refers to it)."""


class SecretKeys(ApiModel):
    """Where an API key pair lives: a Secret in the object's namespace and the keys inside it."""

    secret_name: ObjectName = Field(description="Name of the Secret in the same namespace.")
    api_key_key: SecretKey = Field(
        default="apiKey", description="Key in the Secret holding the API key."
    )
    api_secret_key: SecretKey = Field(
        default="apiSecret", description="Key in the Secret holding the API secret."
    )


def _quantity(value: int | str) -> int | str:
    if not quantity.is_quantity(value):
        raise ValueError(quantity.QUANTITY_MESSAGE)
    return value


def _resource_names(values: dict[str, int | str]) -> dict[str, int | str]:
    unknown = sorted(set(values) - set(quantity.RESOURCE_NAMES))
    if unknown:
        raise ValueError(f"unknown resources {unknown}: {_NAMES_MESSAGE}")
    return values


_NAMES_MESSAGE = "keys must be " + ", ".join(quantity.RESOURCE_NAMES[:-1])
_NAMES_MESSAGE += f" or {quantity.RESOURCE_NAMES[-1]}"

Quantity = Annotated[
    int | str,
    AfterValidator(_quantity),
    Field(
        json_schema_extra={
            "x-kubernetes-int-or-string": True,
            "maxLength": quantity.QUANTITY_MAX_LENGTH,
            **rules(cel(quantity.VALUE_RULE, quantity.QUANTITY_MESSAGE)),
        }
    ),
]
"""A Kubernetes quantity: 1, "500m", "512Mi" (quantity.py says which)."""

ResourceList = Annotated[dict[str, Quantity], AfterValidator(_resource_names)]
_RESOURCE_NAMES_RULES = rules(cel(quantity.NAMES_RULE, _NAMES_MESSAGE))

_WITHIN_LIMITS_MESSAGE = "a request must not exceed the limit of the same resource"


class Resources(ApiModel):
    """CPU, memory and ephemeral storage for the runtime container (Kubernetes quantities).

    A resource given in neither map keeps the operator's default (cpu 100m requested, memory
    256Mi requested and 512Mi limited)."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            cel(quantity.WITHIN_LIMITS_RULE, _WITHIN_LIMITS_MESSAGE, ".requests")
        )
    )

    requests: ResourceList = Field(
        default_factory=dict,
        max_length=len(quantity.RESOURCE_NAMES),
        description="Requested resources, e.g. cpu: 100m.",
        json_schema_extra=_RESOURCE_NAMES_RULES,
    )
    limits: ResourceList = Field(
        default_factory=dict,
        max_length=len(quantity.RESOURCE_NAMES),
        description="Resource limits, e.g. memory: 512Mi.",
        json_schema_extra=_RESOURCE_NAMES_RULES,
    )

    @model_validator(mode="after")
    def _within_limits(self) -> Resources:
        for name, requested in self.requests.items():
            limit = self.limits.get(name)
            if limit is not None and quantity.parse(requested) > quantity.parse(limit):
                raise ValueError(f"requests.{name}: {_WITHIN_LIMITS_MESSAGE}")
        return self
