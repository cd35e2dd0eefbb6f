"""The keys of each Engine whose claim the operator has confirmed, kept for the calls it makes
on the venue itself (a halt's flatten, a quiet runtime's equity, a halt deadline's check).

Those calls come in bursts: every governed account at once when a halt is published, and every
second for each engine whose runtime has gone quiet (a fleet-wide outage makes that every
engine). Reading the claim's Lease and the Secret again for each would put two API reads per
engine on the API server exactly when it is busiest. What is kept:

- the claim: once an Engine (by uid) holds its subaccount, it holds it until it is deleted (a
  claim is only taken over from a holder that no longer exists, `claims.claim`);
- the keys: every reconcile of the Engine (its resync at least) reads the Secret again and keeps
  what it found, or forgets the Engine when the claim is refused or the keys cannot be loaded;
  a call the venue refuses with kept keys is tried again once with the Secret's keys if they
  have changed since (`measure.on_account`).

Kept only for the subaccount and Secret it was confirmed for: an Engine whose spec names
another is read afresh. Key values stay in memory, as the reconcile's own copy does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .claims import Subaccount
from .credentials import ApiKeys, SecretRef


@dataclass(frozen=True)
class _Confirmed:
    subaccount: Subaccount
    secret: SecretRef
    keys: ApiKeys


@dataclass
class Accounts:
    """Confirmed claims and their keys, by Engine uid."""

    _by_uid: dict[str, _Confirmed] = field(default_factory=dict)

    def keys(self, uid: str, subaccount: Subaccount, secret: SecretRef) -> ApiKeys | None:
        """The kept keys, if they were confirmed for this subaccount and Secret."""
        known = self._by_uid.get(uid)
        if known is None or known.subaccount != subaccount or known.secret != secret:
            return None
        return known.keys

    def keep(self, uid: str, subaccount: Subaccount, secret: SecretRef, keys: ApiKeys) -> None:
        self._by_uid[uid] = _Confirmed(subaccount, secret, keys)

    def forget(self, uid: str) -> None:
        self._by_uid.pop(uid, None)
