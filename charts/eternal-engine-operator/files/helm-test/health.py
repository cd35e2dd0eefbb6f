"""`helm test`: the operator answers its health endpoints through its Service.

Run by the chart's test Pod (templates/tests/health.yaml) with the operator's own image:
/healthz and /readyz must answer 200 through the Service, and with leader election on, the
replica that answers must know a holder of the Lease (some replica leads). Retries for a
while, so a test run right after an install or an upgrade waits for the pods to come up.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request


def get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - http in-cluster
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def check(base: str) -> str | None:
    """None when the operator is healthy, else what is wrong."""
    for path in ("/healthz", "/readyz"):
        status, body = get(base + path)
        print(f"GET {path}: {status} {json.dumps(body)}", flush=True)
        if status != 200:
            return f"{path} answered {status}"
    if body.get("leaderElection", True) and not body.get("holder"):
        return "no replica holds the Lease"
    return None


def main() -> int:
    base = os.environ["EE_TEST_URL"].rstrip("/")
    attempts = int(os.environ.get("EE_TEST_ATTEMPTS", "24"))
    delay = float(os.environ.get("EE_TEST_DELAY_SECONDS", "5"))
    problem: str | None = "not tried"
    for attempt in range(1, attempts + 1):
        try:
            problem = check(base)
        except (OSError, ValueError) as error:
            problem = f"no answer: {error}"
        if problem is None:
            print("the operator answers through its Service", flush=True)
            return 0
        print(f"attempt {attempt}/{attempts}: {problem}", flush=True)
        if attempt < attempts:
            time.sleep(delay)
    print(f"FAILED: {problem}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
