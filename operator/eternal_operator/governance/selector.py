"""Kubernetes label-selector matching, for a policy's engines."""

from __future__ import annotations

from collections.abc import Mapping

from eternal_operator.api.v1alpha1 import LabelSelector
from eternal_operator.api.v1alpha1.common import SelectorOperator


def matches(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    if any(labels.get(key) != value for key, value in selector.match_labels.items()):
        return False
    for req in selector.match_expressions:
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
