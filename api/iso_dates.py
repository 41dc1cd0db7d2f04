"""Dates and times in query strings as the OpenAPI document says them (``format: date`` and
``date-time``, ISO 8601) and nothing else: Pydantic would also read a bare number as seconds
since 1970 (``created_to=0.5`` as 1970-01-01T00:00:00.5), which no client means and the
document does not allow (schemathesis found it). A date and time is read in UTC: PostgreSQL
takes offsets up to 15:59 only, ISO 8601 up to 23:59 (``+22:34`` was a 500)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator


def _not_a_number(value: object) -> object:
    if isinstance(value, int | float) or (isinstance(value, str) and _is_number(value)):
        raise ValueError("an ISO 8601 date (2026-01-31) or date and time, not a number")
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


IsoDate = Annotated[date, BeforeValidator(_not_a_number)]


def _in_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment


IsoDateTime = Annotated[datetime, BeforeValidator(_not_a_number), AfterValidator(_in_utc)]
