"""The operator's calls on a master account are paced so that Bybit never has to refuse one:
whatever the kind, sent as fast as the pacing lets them go, no rolling window of Bybit's ever
holds more than its limit."""

from __future__ import annotations

import pytest

from eternal_operator.venue_actions import MASTER_LIMITS, _master_pacing

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("kind", sorted(MASTER_LIMITS))
def test_no_window_of_bybits_sees_more_than_its_limit(kind: str) -> None:
    count, window = MASTER_LIMITS[kind]
    bucket = _master_pacing().buckets[kind]
    now, sent = bucket.updated, []
    while len(sent) < 3 * count:  # a queue of requests, each sent the moment it may go
        wait = bucket.wait_s(now)
        if wait > 0:
            now += wait
            continue
        sent.append(now)
    busiest = max(sum(1 for t in sent if start <= t < start + window) for start in sent)
    assert busiest <= count
    # ... and the pace is not needlessly slow: a window's worth goes out within two windows,
    # and where the window is long (transfers: 20 a minute), a few go out together
    assert sent[count - 1] - sent[0] < 2 * window
    if window > 1:
        assert sent[count // 2 - 1] == sent[0]
