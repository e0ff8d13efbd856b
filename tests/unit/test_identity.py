"""National IDs, mobiles, e-mail, Arabic digits and names."""

import pytest

from engine.errors import InvalidInput
from workflows import identity


def test_valid_national_id_and_iqama():
    citizen = identity.with_check_digit("107654321")
    resident = identity.with_check_digit("234567890")
    assert identity.national_id(citizen) == citizen
    assert identity.national_id(resident) == resident
    assert identity.national_id(citizen[:3] + " " + citizen[3:]) == citizen  # spaces are fine


def test_national_id_in_arabic_digits():
    citizen = identity.with_check_digit("107654321")
    arabic = citizen.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    assert identity.national_id(arabic) == citizen


@pytest.mark.parametrize(
    "value, message",
    [
        ("12345", "has 10 digits"),
        ("abcdefghij", "has 10 digits"),
        ("3076543210", r"starts with 1 \(citizen\) or 2 \(resident\); got 3"),
    ],
)
def test_bad_national_ids_are_explained(value, message):
    with pytest.raises(InvalidInput, match=message):
        identity.national_id(value)


def test_wrong_check_digit_is_explained():
    good = identity.with_check_digit("107654321")
    bad = good[:9] + str((int(good[9]) + 1) % 10)
    with pytest.raises(InvalidInput, match="check digit is wrong"):
        identity.national_id(bad)


def test_luhn():
    assert identity.luhn_valid("79927398713")
    assert not identity.luhn_valid("79927398710")


@pytest.mark.parametrize("value", ["0501234567", "501234567", "+966501234567", "٠٥٠١٢٣٤٥٦٧", "00966501234567"])
def test_saudi_mobiles(value):
    assert identity.mobile(value) == "+966501234567"


@pytest.mark.parametrize("value", ["12", "0111234567", "not a phone"])
def test_bad_mobiles(value):
    with pytest.raises(InvalidInput, match="mobile"):
        identity.mobile(value)


def test_email():
    assert identity.email(" Sara@Example.ORG ") == "Sara@example.org"
    with pytest.raises(InvalidInput, match="not an e-mail address"):
        identity.email("sara@")


def test_whole_numbers_in_arabic_digits():
    assert identity.whole_number("١٢", "count") == 12
    with pytest.raises(InvalidInput, match="count: 'x' is not a whole number"):
        identity.whole_number("x", "count")


def test_search_key_unifies_arabic_spellings():
    assert identity.search_key("أحمد") == identity.search_key("احمد")
    assert identity.search_key("فاطمة") == identity.search_key("فاطمه")
    assert identity.search_key("مُحَمَّد") == identity.search_key("محمد")
    assert identity.search_key("Noura", "نورة") == "noura نوره"
