"""Umm al-Qura (Hijri) dates, as the society writes them beside Gregorian ones."""

from __future__ import annotations

from typing import Any

from hijridate import Gregorian


def hijri(day: Any) -> str:
    """The Umm al-Qura date of a Gregorian day, ISO style ("" beyond the tables, after 2077)."""
    try:
        return Gregorian(day.year, day.month, day.day).to_hijri().isoformat()
    except (OverflowError, ValueError):
        return ""
