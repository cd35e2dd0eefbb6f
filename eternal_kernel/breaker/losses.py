"""Daily and weekly loss limits on NAV per unit, from the period's opening value."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal


def day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def week_start(now: datetime) -> datetime:
    return day_start(now) - timedelta(days=now.weekday())


@dataclass(frozen=True)
class PeriodOpen:
    day: datetime
    day_nav: Decimal
    week: datetime
    week_nav: Decimal

    @classmethod
    def at(cls, now: datetime, nav: Decimal) -> PeriodOpen:
        return cls(day_start(now), nav, week_start(now), nav)

    def rolled(self, now: datetime, nav: Decimal) -> PeriodOpen:
        """Start a new day or week at `nav` when the calendar has moved on."""
        opened = self
        if day_start(now) != self.day:
            opened = replace(opened, day=day_start(now), day_nav=nav)
        if week_start(now) != self.week:
            opened = replace(opened, week=week_start(now), week_nav=nav)
        return opened

    def losses(self, nav: Decimal) -> tuple[Decimal, Decimal]:
        """(daily, weekly) loss as fractions of the period's opening NAV per unit, >= 0."""

        def loss(opening: Decimal) -> Decimal:
            return max(Decimal(0), 1 - nav / opening) if opening > 0 else Decimal(0)

        return loss(self.day_nav), loss(self.week_nav)
