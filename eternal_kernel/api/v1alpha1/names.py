"""The names of the objects an Engine becomes, derived from its own name, and the one rule that
keeps every one of them valid.

The API server accepts any DNS-1123 subdomain (253 characters, dots allowed) as an Engine's
name, but the operator builds more from it: a Service `<name>-metrics` must be a DNS-1035 label
(a letter first, no dots, at most 63 characters) and the name itself goes into label values (at
most 63). `ENGINE_NAME_RULE` (CEL, in the Engine CRD) and `engine_name_problem` (Python) state
the strictest of those limits, computed from the suffixes below, so the CRD refuses a name the
operator could not build from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DNS_1035_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
"""A Service name: a lower-case letter first, letters, digits and '-', no dots."""
LABEL_MAX = 63
SUBDOMAIN_MAX = 253


@dataclass(frozen=True)
class Derived:
    """One object name built as `<engine><suffix>`, and the longest that kind of name may be."""

    suffix: str
    max_length: int
    what: str


CONFIG_MAP = Derived("-config", SUBDOMAIN_MAX, "ConfigMap")
RUNTIME = Derived("-runtime", SUBDOMAIN_MAX, "Deployment, ServiceAccount, Role and RoleBinding")
METRICS_SERVICE = Derived("-metrics", LABEL_MAX, "Service (a DNS-1035 label)")
CREDENTIALS_SECRET = Derived("-venue-credentials", SUBDOMAIN_MAX, "provisioned Secret")
LABEL_VALUE = Derived("", LABEL_MAX, "label value")

DERIVED = (CONFIG_MAP, RUNTIME, METRICS_SERVICE, CREDENTIALS_SECRET, LABEL_VALUE)

ENGINE_NAME_MAX = min(d.max_length - len(d.suffix) for d in DERIVED)
"""The longest Engine name every derived name fits (55: `<name>-metrics` within 63)."""

ENGINE_NAME_MESSAGE = (
    f"must be a DNS-1035 label of at most {ENGINE_NAME_MAX} characters (a lower-case letter "
    "first, then lower-case letters, digits and '-', no dots), so that the operator can name "
    f"the Service '<name>{METRICS_SERVICE.suffix}' and the labels after it"
)

ENGINE_NAME_RULE = f"size(self) <= {ENGINE_NAME_MAX} && self.matches('{DNS_1035_LABEL}')"
"""The CEL form of `engine_name_problem`, on `metadata.name` of the Engine CRD."""

_PATTERN = re.compile(DNS_1035_LABEL)


def engine_name_problem(name: str) -> str | None:
    """Why `name` cannot name an Engine (a message naming the field), or None when it can."""
    if len(name) <= ENGINE_NAME_MAX and _PATTERN.fullmatch(name):
        return None
    return f"metadata.name {name!r} {ENGINE_NAME_MESSAGE}"


def derived(engine_name: str, kind: Derived) -> str:
    """The name of one of the Engine's objects."""
    return f"{engine_name}{kind.suffix}"
