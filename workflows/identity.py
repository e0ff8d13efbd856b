"""Checking what people type: national IDs, mobiles, e-mail, Arabic digits and names.

Every function that accepts a number accepts Eastern Arabic (٠–٩) and Persian (۰–۹) digits.
Each raises `InvalidInput` with a message that names the field and says what is wrong.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

from engine.errors import InvalidInput, error_code

#: A field (``field``) whose ``value`` is not a national ID: not 10 digits, a wrong first digit, a
#: wrong check digit; not a phone number, not a mobile one, not an e-mail address, not a whole number.
NATIONAL_ID_LENGTH = error_code("national_id_length", "field", "value")
NATIONAL_ID_START = error_code("national_id_start", "field", "value")
NATIONAL_ID_CHECK = error_code("national_id_check", "field", "value")
NOT_A_PHONE = error_code("not_a_phone", "field", "value")
NOT_A_MOBILE = error_code("not_a_mobile", "field", "value")
NOT_AN_EMAIL = error_code("not_an_email", "field", "value")
NOT_A_WHOLE_NUMBER = error_code("not_a_whole_number", "field", "value")

_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_TASHKEEL = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def ascii_digits(text: str) -> str:
    """``text`` with Eastern Arabic and Persian digits turned into 0–9."""
    return str(text).translate(_DIGITS)


def national_id(value: str, field: str = "national_id") -> str:
    """A valid Saudi national ID (first digit 1) or iqama (first digit 2), as 10 ASCII digits.

    Raises:
        InvalidInput: not 10 digits, wrong first digit, or a wrong check digit.
    """
    digits = re.sub(r"[\s-]", "", ascii_digits(value or ""))
    if not re.fullmatch(r"[0-9]{10}", digits):
        raise InvalidInput(f"{field}: a national ID or iqama has 10 digits; got {value!r}", code=NATIONAL_ID_LENGTH,
                           params={"field": field, "value": value})
    if digits[0] not in "12":
        raise InvalidInput(f"{field}: starts with 1 (citizen) or 2 (resident); got {digits[0]}",
                           code=NATIONAL_ID_START, params={"field": field, "value": digits})
    if not luhn_valid(digits):
        raise InvalidInput(f"{field}: {digits} is not a valid number (its check digit is wrong); please re-check it",
                           code=NATIONAL_ID_CHECK, params={"field": field, "value": digits})
    return digits


def luhn_valid(digits: str) -> bool:
    """The Luhn check the national ID and iqama numbers use."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def with_check_digit(first_nine: str) -> str:
    """The 10-digit number whose first nine digits are ``first_nine`` (for demo data and tests)."""
    for last in "0123456789":
        if luhn_valid(first_nine + last):
            return first_nine + last
    raise ValueError(first_nine)  # unreachable: one check digit always fits


def mobile(value: str, field: str = "mobile") -> str:
    """A mobile number in E.164 (``+9665…``); Saudi ``05…`` and ``5…`` forms are accepted.

    Raises:
        InvalidInput: not a valid mobile number.
    """
    text = ascii_digits(value or "").strip()
    try:
        number = phonenumbers.parse(text, "SA")
    except phonenumbers.NumberParseException:
        raise InvalidInput(f"{field}: {value!r} is not a phone number (write 05XXXXXXXX or +9665XXXXXXXX)",
                           code=NOT_A_PHONE, params={"field": field, "value": value}) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput(f"{field}: {value!r} is not a valid phone number (write 05XXXXXXXX or +9665XXXXXXXX)",
                           code=NOT_A_PHONE, params={"field": field, "value": value})
    kind = phonenumbers.number_type(number)
    if kind not in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        raise InvalidInput(f"{field}: {value!r} is not a mobile number", code=NOT_A_MOBILE,
                           params={"field": field, "value": value})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email(value: str, field: str = "email") -> str:
    """A plausible e-mail address, trimmed and lower-cased in its domain.

    Raises:
        InvalidInput: not of the form name@domain.tld.
    """
    text = (value or "").strip()
    if not _EMAIL.match(text) or len(text) > 320:
        raise InvalidInput(f"{field}: {value!r} is not an e-mail address", code=NOT_AN_EMAIL,
                           params={"field": field, "value": value})
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


def whole_number(value: object, field: str) -> int:
    """A whole number from what was typed (Arabic digits accepted).

    Raises:
        InvalidInput: naming the field.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = ascii_digits(str(value or "")).strip()
    if not re.fullmatch(r"-?[0-9]+", text):
        raise InvalidInput(f"{field}: {value!r} is not a whole number", code=NOT_A_WHOLE_NUMBER,
                           params={"field": field, "value": value})
    return int(text)


def search_key(*names: str | None) -> str:
    """Names normalised for search: no tashkeel or tatweel, one alef, ى→ي, ة→ه, lower case."""
    text = " ".join(n for n in names if n)
    text = unicodedata.normalize("NFKC", text)
    text = _TASHKEEL.sub("", text)
    text = re.sub("[أإآٱ]", "ا", text).replace("ى", "ي").replace("ة", "ه").replace("ؤ", "و").replace("ئ", "ي")
    text = re.sub(r"\bعبد\s+", "عبد", text)  # عبد الله and عبدالله are one name
    return " ".join(ascii_digits(text).lower().split())


#: The escape character of `name_pattern`'s LIKE pattern.
LIKE_ESCAPE = "\\"


def name_pattern(text: str) -> str:
    """A LIKE pattern finding ``text`` inside normalised names (its own % and _ match literally)."""
    key = search_key(text).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{key}%"
