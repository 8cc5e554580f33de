"""NHS numbers: ASCII digits only, 3-3-4 grouping accepted and normalised, Modulus 11."""

import json
import re

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from models.nhs_number import NhsNumber, is_valid_nhs_number, normalise_nhs_number

ADAPTER: TypeAdapter[str] = TypeAdapter(NhsNumber)
# Fixed texts: a message that never varies cannot repeat the number.
MESSAGES = {
    "must be 10 digits 0-9, optionally grouped 3-3-4 by single spaces or hyphens",
    "is not a valid NHS number",
}


def in_digits_of(zero: str, number: str) -> str:
    """`number` written in the digit family whose zero is `zero` (families are contiguous)."""
    return "".join(chr(ord(zero) + int(digit)) for digit in number)


# Each of these passes `str.isdigit()`, and all but the superscripts pass `int()` too.
DIGIT_FAMILIES = {
    "full-width": "\uff10",
    "arabic-indic": "\u0660",
    "extended-arabic-indic": "\u06f0",
    "devanagari": "\u0966",
    "bengali": "\u09e6",
    "thai": "\u0e50",
    "mathematical-bold": "\U0001d7ce",
}
NON_ASCII_SPACES = {
    "no-break": "\u00a0",
    "ideographic": "\u3000",
    "thin": "\u2009",
    "narrow-no-break": "\u202f",
    "figure": "\u2007",
    "em": "\u2003",
}
NON_ASCII_HYPHENS = {
    "hyphen": "\u2010",
    "non-breaking-hyphen": "\u2011",
    "en-dash": "\u2013",
    "minus": "\u2212",
    "full-width-hyphen-minus": "\uff0d",
}

VALID = {
    "plain": ("9000000009", "9000000009"),
    "spaces": ("900 000 0009", "9000000009"),
    "hyphens": ("900-000-0009", "9000000009"),
    "surrounding-whitespace": ("  943 476 5919\t\n", "9434765919"),
    "check-digit-0": ("9000000033", "9000000033"),
    "another-valid": ("943-476-5919", "9434765919"),
}

INVALID = {
    "empty": "",
    "only-spaces": "   ",
    "nine-digits": "900000000",
    "eleven-digits": "90000000091",
    "all-zeros": "0000000000",
    "all-zeros-grouped": "000 000 0000",
    "check-digit-would-be-10": "9000000000",
    "wrong-check-digit": "9000000008",
    "often-quoted-9876544321": "9876544321",
    "often-quoted-9999999991": "9999999991",
    "wrong-check-digit-grouped": "987 654 4321",
    "grouped-4-6": "9000 000009",
    "grouped-2-8": "90 00000009",
    "grouped-3-7": "900 0000009",
    "grouped-6-4": "900000 0009",
    "grouped-3-3-2-2": "900 000 00 09",
    "mixed-separators": "900 000-0009",
    "double-spaces": "900  000  0009",
    "double-hyphens": "900--000--0009",
    "tabs-between-groups": "900\t000\t0009",
    "dots": "900.000.0009",
    "slashes": "900/000/0009",
    "underscores": "900_000_0009",
    "letter": "90000000O9",
    "prefix": "NHS9000000009",
    "plus-sign": "+9000000009",
    "embedded-newline": "90000\n00009",
    "nul": "9000000009\x00",
    **{f"{name}-digits": in_digits_of(zero, "9000000009") for name, zero in DIGIT_FAMILIES.items()},
    **{
        f"{name}-digits-grouped": in_digits_of(zero, "900") + " 000 0009"
        for name, zero in DIGIT_FAMILIES.items()
    },
    "one-full-width-digit": "900000000\uff19",
    "superscript-digits": "\u2079\u2070\u2070\u2070\u2070\u2070\u2070\u2070\u2070\u2079",
    **{
        f"{name}-space-separators": f"900{space}000{space}0009"
        for name, space in NON_ASCII_SPACES.items()
    },
    **{
        f"{name}-space-around": f"{space}9000000009{space}"
        for name, space in NON_ASCII_SPACES.items()
    },
    **{
        f"{name}-separators": f"900{hyphen}000{hyphen}0009"
        for name, hyphen in NON_ASCII_HYPHENS.items()
    },
    "zero-width-space": "900\u200b000\u200b0009",
}


@pytest.mark.parametrize(("written", "digits"), VALID.values(), ids=VALID.keys())
def test_accepted_forms_normalise_to_ten_plain_digits(written: str, digits: str) -> None:
    assert normalise_nhs_number(written) == digits
    assert ADAPTER.validate_python(written) == digits
    assert ADAPTER.validate_json(json.dumps(written)) == digits
    assert is_valid_nhs_number(digits)


@pytest.mark.parametrize("written", INVALID.values(), ids=INVALID.keys())
def test_everything_else_is_refused_without_repeating_the_number(written: str) -> None:
    with pytest.raises(ValueError) as raised:
        normalise_nhs_number(written)
    with pytest.raises(ValidationError) as refused:
        ADAPTER.validate_python(written)
    [error] = refused.value.errors(include_input=False, include_url=False)
    assert error["type"] == "nhs_number"
    assert {str(raised.value), error["msg"]} <= MESSAGES
    assert not is_valid_nhs_number(written)


def test_the_two_kinds_of_refusal_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match=r"^must be 10 digits 0-9, optionally grouped 3-3-4"):
        normalise_nhs_number("\uff19000000009")
    with pytest.raises(ValueError, match=r"^is not a valid NHS number$"):
        normalise_nhs_number("900 000 0008")


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("9000000009", True),
        ("9434765919", True),
        ("900 000 0009", False),  # partners must send the plain form
        (" 9000000009", False),
        ("9000000009\n", False),
        ("0000000000", False),
        ("9876544321", False),
        ("9999999991", False),
        *((in_digits_of(zero, "9000000009"), False) for zero in DIGIT_FAMILIES.values()),
    ],
)
def test_partner_data_is_valid_only_as_ten_plain_ascii_digits(value: str, valid: bool) -> None:
    assert is_valid_nhs_number(value) is valid


@pytest.mark.parametrize("value", [9000000009, 9000000009.0, None, ["9000000009"]])
def test_only_strings_are_numbers(value: object) -> None:
    with pytest.raises(ValidationError):
        ADAPTER.validate_python(value)


class _Body(BaseModel):
    nhs_number: NhsNumber | None = None


def test_the_schema_documents_ascii_digits_and_grouping() -> None:
    schema = ADAPTER.json_schema()
    assert schema["type"] == "string"
    assert "ASCII" in schema["description"]
    assert "3-3-4" in schema["description"]
    pattern = schema["pattern"]
    assert "\\d" not in pattern
    # The documented pattern agrees with the validator on the forms people type.
    for written, _ in VALID.values():
        assert re.search(pattern, written.strip()) is not None
    for written in ("\uff19000000009", "900\u00a0000\u00a00009", "9000 000009", "900.000.0009"):
        assert re.search(pattern, written) is None
    [documented, _] = _Body.model_json_schema()["properties"]["nhs_number"]["anyOf"]
    assert documented["pattern"] == pattern


def test_optional_numbers_are_normalised_too() -> None:
    assert _Body(nhs_number="900-000-0009").nhs_number == "9000000009"
    assert _Body().nhs_number is None
    with pytest.raises(ValidationError):
        _Body(nhs_number="\uff19000000009")
