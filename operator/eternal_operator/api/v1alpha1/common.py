"""Types shared by the three kinds: conditions, label selectors, Secret references, resources."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from .base import ApiModel

GROUP = "trading.eternal-engine.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"

ObjectName = Annotated[str, Field(pattern=DNS_SUBDOMAIN, min_length=1, max_length=253)]
EngineName = Annotated[str, Field(pattern=DNS_SUBDOMAIN, min_length=1, max_length=253)]
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


class SecretKeys(ApiModel):
    """Where an API key pair lives: a Secret in the object's namespace and the keys inside it."""

    secret_name: ObjectName = Field(description="Name of the Secret in the same namespace.")
    api_key_key: str = Field(
        default="apiKey", max_length=253, description="Key in the Secret holding the API key."
    )
    api_secret_key: str = Field(
        default="apiSecret",
        max_length=253,
        description="Key in the Secret holding the API secret.",
    )


Quantity = Annotated[
    int | str,
    Field(json_schema_extra={"x-kubernetes-int-or-string": True}),
]
"""A Kubernetes quantity: 1, "500m", "512Mi"."""


class Resources(ApiModel):
    """CPU and memory for the runtime container (Kubernetes quantities)."""

    requests: dict[str, Quantity] = Field(
        default_factory=dict, max_length=8, description="Requested resources, e.g. cpu: 100m."
    )
    limits: dict[str, Quantity] = Field(
        default_factory=dict, max_length=8, description="Resource limits, e.g. memory: 512Mi."
    )
