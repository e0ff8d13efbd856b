"""Form validation: Eastern Arabic digits in number and date fields, each wrong field named."""

import pytest

from workflows.forms import FormErrors, validate

SCHEMA = {
    "type": "object",
    "required": ["children", "income"],
    "properties": {
        "children": {"type": "integer", "minimum": 0, "x-label": {"ar": "عدد الأبناء", "en": "Children"}},
        "income": {"type": "number", "minimum": 0, "x-label": {"ar": "الدخل", "en": "Income"}},
        "visit": {"type": "string", "format": "date", "x-label": {"ar": "الزيارة", "en": "Visit"}},
    },
}


def test_eastern_arabic_and_persian_digits_are_numbers():
    data = validate(SCHEMA, {"children": "٣", "income": " ٤٥٠٠.٥ ", "visit": "٢٠٢٦-١١-٢٥"})
    assert data == {"children": 3, "income": 4500.5, "visit": "2026-11-25"}
    assert validate(SCHEMA, {"children": "۷", "income": "12"}) == {"children": 7, "income": 12.0}


def test_the_arabic_decimal_and_thousands_separators_are_accepted():
    assert validate(SCHEMA, {"children": "٣", "income": "٤٥٠٠٫٥"})["income"] == 4500.5
    assert validate(SCHEMA, {"children": "٣", "income": "٤٬٥٠٠٫٢٥"})["income"] == 4500.25
    assert validate(SCHEMA, {"children": "١٬٠٠٠", "income": "0"})["children"] == 1000
    with pytest.raises(FormErrors) as caught:
        validate(SCHEMA, {"children": "١٫٥", "income": "0"})  # a fraction is not a count of children
    assert set(caught.value.errors) == {"children"}


def test_every_wrong_field_is_named_at_once():
    with pytest.raises(FormErrors) as caught:
        validate(SCHEMA, {"children": "ثلاثة", "income": "-5", "visit": "2026-13-40"})
    assert set(caught.value.errors) == {"children", "income", "visit"}
    with pytest.raises(FormErrors) as caught:
        validate(SCHEMA, {})
    assert caught.value.errors == {"children": "is required", "income": "is required"}
