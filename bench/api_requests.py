"""The API server's own count of the requests it served (`apiserver_request_total`), by verb and
resource, so a bench can say what a stretch of time cost it, reads and watches included (the
audit log holds the writes only)."""

from __future__ import annotations

import re
from collections import Counter

from eternal_operator.kube import KubeClient

Requests = Counter[tuple[str, str]]
"""(verb, resource[/subresource]) -> requests served."""

_SAMPLE = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')


async def requests_now(kube: KubeClient) -> Requests:
    """Every request the API server has served so far, by verb and resource."""
    response = await kube.http.get("/metrics", headers=kube.headers)
    response.raise_for_status()
    out: Requests = Counter()
    for row in response.text.splitlines():
        match = _SAMPLE.match(row)
        if match is None:
            continue
        labels = dict(_LABEL.findall(match["labels"]))
        resource = labels.get("resource", "")
        if labels.get("subresource"):
            resource += "/" + labels["subresource"]
        out[(labels.get("verb", ""), resource)] += int(float(match["value"]))
    return out


def requests_since(before: Requests, after: Requests) -> Requests:
    """What was served between two counts (only what grew)."""
    return Counter({k: v - before.get(k, 0) for k, v in after.items()
                    if v > before.get(k, 0)})  # fmt: skip
