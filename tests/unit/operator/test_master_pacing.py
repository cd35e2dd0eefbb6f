"""The operator's calls on a master account are paced so that Bybit never has to refuse one:
whatever the kind, sent as fast as the pacing lets them go, no rolling window of Bybit's ever
holds more than its limit, and the pace is as fast as that allows, less one per window."""

from __future__ import annotations

import pytest

from eternal_operator.venue_actions import MASTER_LIMITS, _master_pacing

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("kind", sorted(MASTER_LIMITS))
def test_no_window_of_bybits_sees_more_than_its_limit(kind: str) -> None:
    count, window = MASTER_LIMITS[kind]
    pacing = _master_pacing()[kind]
    now, sent = 1000.0, []
    while len(sent) < 3 * count:  # a queue of requests, each sent the moment it may go
        wait = pacing.wait_s(now)
        if wait > 0:
            now += wait
            continue
        sent.append(now)
    busiest = max(sum(1 for t in sent if start <= t < start + window) for start in sent)
    assert busiest <= count
    # ... and not needlessly slow: all but one of a window's worth go at once, and the next
    # as soon as the first of them has left the window
    assert sent[count - 2] == sent[0]
    assert sent[count - 1] - sent[0] <= window + 0.1
    assert sent[2 * (count - 1)] - sent[0] <= 2 * (window + 0.1)  # and so on, window by window
