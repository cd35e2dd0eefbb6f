"""Reading an Engine's API keys from its Secret, with problems that name the Secret and key.

Key values never leave this module in a message, a log line, an Event or a status field.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

from eternal_kernel.api.v1alpha1.engine_conditions import EngineReason as R
from eternal_operator.kube import KubeClient

from .status import Problem

_PRINTABLE_KEY = re.compile(r"^[\x21-\x7e]{4,256}$")


class UnknownKey(Exception):
    """The venue does not know the engine's API key: no order can have been placed with it."""


@dataclass(frozen=True)
class ApiKeys:
    api_key: str
    api_secret: str = field(repr=False)


@dataclass(frozen=True)
class SecretRef:
    namespace: str
    name: str
    api_key_key: str = "apiKey"
    api_secret_key: str = "apiSecret"

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


async def load(kube: KubeClient, ref: SecretRef) -> ApiKeys | Problem:
    secret = await kube.get_or_none("v1", "Secret", ref.namespace, ref.name)
    if secret is None:
        return Problem(R.SECRET_NOT_FOUND, f"Secret {ref} not found")
    data = secret.get("data") or {}
    values = []
    for key in (ref.api_key_key, ref.api_secret_key):
        if key not in data:
            return Problem(R.SECRET_KEY_MISSING, f"Secret {ref} has no key '{key}'")
        try:
            value = base64.b64decode(data[key], validate=True).decode("ascii").strip()
        except (binascii.Error, UnicodeDecodeError):
            value = ""
        if not _PRINTABLE_KEY.match(value):
            return Problem(
                R.SECRET_KEY_INVALID,
                f"Secret {ref} key '{key}' is empty or not a printable API key",
            )
        values.append(value)
    return ApiKeys(api_key=values[0], api_secret=values[1])


def secret_manifest(
    ref: SecretRef, keys: ApiKeys, metadata: dict[str, object]
) -> dict[str, object]:
    """A Secret holding provisioned keys (for simulator Engines), owned like the rest."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": metadata,
        "stringData": {ref.api_key_key: keys.api_key, ref.api_secret_key: keys.api_secret},
    }
