"""How `stellwerk models` shows a catalogue price and its age (prices are data; they go stale)."""

from __future__ import annotations

import datetime as dt

from models.catalogue import PRICE_MAX_AGE_DAYS, ModelEntry

__all__ = ["price_json", "price_line", "stale_warning"]


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def price_line(entry: ModelEntry, today: dt.date) -> str:
    """'in 2 / cached 0.1 / write 2.5 / out 10 USD per Mtok, read 2026-12-03 (0 days ago)'."""
    p = entry.pricing
    text = (f"in {_rate(p.input_per_mtok)} / cached {_rate(p.cached_input_per_mtok)} / "
            f"write {_rate(p.cache_write_per_mtok)} / out {_rate(p.output_per_mtok)} {p.currency} per Mtok")
    age = p.age_days(today)
    if age is None:
        return text + (", price date unknown" if not entry.is_local else "")
    return f"{text}, read {p.as_of} ({age} days ago)"


def stale_warning(entry: ModelEntry, today: dt.date) -> str | None:
    """A warning for a remote price older than `PRICE_MAX_AGE_DAYS`, or None."""
    if entry.is_local or not entry.pricing.is_stale(today):
        return None
    return (f"WARNING: the price of {entry.id} was read {entry.pricing.age_days(today)} days ago "
            f"(more than {PRICE_MAX_AGE_DAYS}); check {entry.pricing.source or 'the provider'} and update "
            "models/catalogue.yaml")


def price_json(entry: ModelEntry, today: dt.date) -> dict[str, object]:
    p = entry.pricing
    return {"currency": p.currency, "input_per_mtok": p.input_per_mtok,
            "cached_input_per_mtok": p.cached_input_per_mtok, "cache_write_per_mtok": p.cache_write_per_mtok,
            "output_per_mtok": p.output_per_mtok, "as_of": None if p.as_of is None else p.as_of.isoformat(),
            "age_days": p.age_days(today), "stale": not entry.is_local and p.is_stale(today),
            "source": p.source}
