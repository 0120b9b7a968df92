"""Timestamps as stored: integer microseconds since the Unix epoch, UTC (the same in every backend)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

__all__ = ["day_start_us", "from_us", "now", "to_us"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def to_us(ts: datetime) -> int:
    """Microseconds since the epoch. Naive datetimes are refused: their zone would be a guess."""
    if ts.tzinfo is None:
        raise ValueError(f"timestamp {ts.isoformat()} has no time zone; pass an aware datetime")
    return (ts - _EPOCH) // timedelta(microseconds=1)


def from_us(us: int) -> datetime:
    """The UTC datetime for a stored timestamp."""
    return _EPOCH + timedelta(microseconds=us)


def day_start_us(day: date) -> int:
    """The first microsecond of a UTC day."""
    return to_us(datetime(day.year, day.month, day.day, tzinfo=UTC))
