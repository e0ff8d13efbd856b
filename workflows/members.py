"""Members and their contacts on every channel (P4, P11): the checks and the lookups.

The writes (register, correct, log a contact) are operations (`workflows.operations.members`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from engine.errors import (
    NO_SUCH,
    NOT_A_CHOICE,
    SEVERAL,
    TOO_LONG,
    Conflict,
    InvalidInput,
    NotFound,
    error_code,
)
from workflows import identity
from workflows.models import Contact, Counter, Member

#: A field given that members do not have (``field``).
UNKNOWN_FIELD = error_code("unknown_field", "field")
#: A field holding a NUL character (``field``).
NUL_IN_FIELD = error_code("nul_in_field", "field")
#: A field (``field``) whose ``value`` is not a date.
NOT_A_DATE = error_code("not_a_date", "field", "value")
#: A national ID or membership number (``field``, ``value``) already registered to ``member``.
ALREADY_REGISTERED = error_code("already_registered", "field", "value", "member")

MEMBER_STATUSES = ("applicant", "active", "suspended", "ended")
DIRECTIONS = ("inbound", "outbound")
_FIELDS = ("national_id", "name_ar", "name_en", "mobile", "email", "membership_no", "status", "joined_on", "language")


def clean_member_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Check and normalise member fields; every problem is named, all at once.

    Raises:
        InvalidInput: listing each field that is wrong.
    """
    unknown = set(fields) - set(_FIELDS)
    problems = [InvalidInput(f"unknown field {name!r}", code=UNKNOWN_FIELD, params={"field": name})
                for name in sorted(unknown)]
    # PostgreSQL cannot hold a NUL in text: name the field rather than fail at the database.
    problems += [InvalidInput(f"{name}: contains a NUL character (\\0)", code=NUL_IN_FIELD, params={"field": name})
                 for name in sorted(set(fields) & set(_FIELDS))
                 if isinstance(fields[name], str) and "\x00" in fields[name]]
    clean: dict[str, Any] = {}

    def check(name: str, convert: Any) -> None:
        value = fields.get(name)
        if value is None or (isinstance(value, str) and (not value.strip() or "\x00" in value)):
            return
        try:
            clean[name] = convert(value)
        except InvalidInput as exc:
            problems.append(exc)

    check("national_id", identity.national_id)
    check("mobile", identity.mobile)
    check("email", identity.email)
    limits = {"name_ar": 200, "name_en": 200, "membership_no": 30}
    for name, limit in limits.items():
        check(name, lambda v, n=name, lim=limit: _at_most(n, " ".join(str(v).split()), lim))
    if "membership_no" in clean:
        clean["membership_no"] = identity.ascii_digits(clean["membership_no"])
    check("status", lambda v: _one_of("status", str(v).strip(), MEMBER_STATUSES))
    check("language", lambda v: _one_of("language", str(v).strip(), ("ar", "en")))
    check("joined_on", _date)
    if problems:
        raise several(problems)
    return clean


def several(problems: list[InvalidInput]) -> InvalidInput:
    """One refusal holding ``problems`` (its message theirs joined; params their codes and params).

    A problem that holds several itself is flattened into this one's list.
    """
    listed: list[tuple[str | None, dict[str, Any]]] = []
    for problem in problems:
        listed += problem.params["problems"] if problem.code == SEVERAL else [(problem.code, problem.params)]
    return InvalidInput("; ".join(p.message for p in problems), code=SEVERAL, params={"problems": listed})


def _at_most(field: str, value: str, limit: int) -> str:
    if len(value) > limit:
        raise InvalidInput(f"{field}: at most {limit} characters (this one has {len(value)})", code=TOO_LONG,
                           params={"field": field, "limit": limit})
    return value


def _one_of(field: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidInput(f"{field}: {value!r} is not one of {', '.join(allowed)}", code=NOT_A_CHOICE,
                           params={"field": field, "value": value, "allowed": list(allowed)})
    return value


def _date(value: Any) -> date:
    if isinstance(value, date):
        return value
    text = identity.ascii_digits(str(value)).strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"joined_on: {value!r} is not a date (write YYYY-MM-DD)", code=NOT_A_DATE,
                           params={"field": "joined_on", "value": str(value)}) from None


def refuse_duplicates(session: Session, clean: Mapping[str, Any], member_id: int | None = None) -> None:
    """Refuse a national ID or membership number registered to another member.

    Raises:
        Conflict: naming the member who has it.
    """
    for name in ("national_id", "membership_no"):
        if name not in clean:
            continue
        found = session.scalars(select(Member).where(getattr(Member, name) == clean[name])).first()
        if found is not None and found.id != member_id:
            raise Conflict(f"{name} {clean[name]} is already registered to member {found.id} ({found.name_ar})",
                           code=ALREADY_REGISTERED, params={"field": name, "value": clean[name], "member": found.id})


def get_member(session: Session, member_id: int) -> Member:
    """The member ``member_id``.

    Raises:
        NotFound: no such member.
    """
    member = session.get(Member, member_id)
    if member is None:
        raise NotFound(f"no member {member_id}", code=NO_SUCH, params={"what": "member", "ident": member_id})
    return member


def search_members(session: Session, text: str, limit: int = 50) -> list[Member]:
    """Members matching ``text`` by name, national ID, membership number or mobile.

    Names match whatever the spelling of alef, yaa or taa marbuta, with or without tashkeel.
    """
    query = select(Member).order_by(Member.name_ar).limit(limit)
    text = (text or "").strip()
    if text:
        digits = identity.ascii_digits(text).replace(" ", "")
        conditions = [Member.search_name.like(identity.name_pattern(text), escape=identity.LIKE_ESCAPE),
                      Member.membership_no == identity.ascii_digits(text).strip().upper()]
        if digits.lstrip("+").isdigit():
            conditions += [Member.national_id.like(f"{digits}%"), Member.membership_no == digits,
                           Member.mobile.like(f"%{digits[-9:]}")]
        query = query.where(or_(*conditions))
    return list(session.scalars(query))


def next_number(session: Session, name: str) -> int:
    """The next value of the counter ``name`` (1 for a new one); atomic under concurrency."""
    table = Counter.__table__
    result = session.connection().execute(
        update(table).where(table.c.name == name).values(value=table.c.value + 1).returning(table.c.value)
    ).first()
    if result is not None:
        return int(result[0])
    session.connection().execute(table.insert().values(name=name, value=1))
    return 1


def member_contacts(session: Session, member_id: int) -> list[Contact]:
    """All contacts with a member, newest first."""
    return list(session.scalars(select(Contact).where(Contact.member_id == member_id)
                                .order_by(Contact.at.desc(), Contact.id.desc())))
