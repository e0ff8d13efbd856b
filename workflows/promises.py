"""The date promised to the member: when the research committee will have answered (P16).

The policy tells the member that their request goes to the research committee, which answers
"within two weeks". The promise is made once, when the request is submitted complete (the check
found nothing missing and the applicant acknowledged the data, P13 and P15), counted in working
days on the society's calendar (``requests.committee_answer_days`` in ``config.yaml``, 10 by
default), and kept on the request: the case page, every task of the case and the decision
notice show that one date.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from engine.errors import ConfigError
from workflows.models import ServiceRequest

if TYPE_CHECKING:
    from engine.context import CaseEngine

#: Two weeks of a Sunday-to-Thursday week.
DEFAULT_ANSWER_DAYS = 10


def answer_days(settings: Mapping[str, Any]) -> int:
    """The working days the committee's answer is promised within (``requests.committee_answer_days``).

    Raises:
        ConfigError: not a whole number of days from 1 to 60.
    """
    value = (settings.get("requests") or {}).get("committee_answer_days", DEFAULT_ANSWER_DAYS)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 60:
        raise ConfigError(f"requests.committee_answer_days must be a whole number of working days from 1 to 60, "
                          f"not {value!r}")
    return value


def promise_answer(engine: CaseEngine, request: ServiceRequest, now: datetime) -> date:
    """Promise the committee's answer on ``request``, counted from ``now``; the promise already made, if any.

    Idempotent: a retried service task, or a request that comes back to the check, keeps the
    first promise (the member was told that date).
    """
    if request.answer_promised_on is None:
        calendar = engine.calendars.get()
        today = now.astimezone(calendar.tz).date()
        request.answer_promised_on = calendar.add_business_days(today, answer_days(engine.settings))
    return request.answer_promised_on
