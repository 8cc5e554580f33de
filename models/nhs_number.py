"""NHS numbers: ten ASCII digits, the last a Modulus 11 check digit.

Only 0-9 count as digits. Python's `str.isdigit()` and `int()`, and the digit class of a Unicode
regular expression, also accept full-width, Arabic-Indic, Devanagari and other digits: such a
number passes the check digit yet never equals the same number typed in ASCII, so it would be
stored as a second person, and a known person would be answered "not known".
"""

import re
from typing import Annotated, Final

from pydantic import AfterValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"

# The form a number is stored, compared and sent to partners in.
_PLAIN = re.compile("[0-9]{10}")
# What people type: 3-3-4 grouped by single spaces or single hyphens, or not grouped. The
# backreference keeps one separator throughout, so "900 000-0009" is refused as a typing slip.
_WRITTEN = re.compile(r"([0-9]{3})([ -]?)([0-9]{3})\2([0-9]{4})")
# Stripped from the ends only; a non-ASCII space is refused like any other unexpected character.
_ASCII_WHITESPACE = " \t\n\r\f\v"
WRITTEN_PATTERN: Final = "^[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4}$"

# Messages name the rule, never the input: they reach clients and logs.
_NOT_WRITTEN = "must be 10 digits 0-9, optionally grouped 3-3-4 by single spaces or hyphens"
_NOT_VALID = "is not a valid NHS number"
_ALL_ZEROS = "0000000000"


def _check_digit_matches(digits: str) -> bool:
    total = sum(
        int(digit) * weight for digit, weight in zip(digits[:9], range(10, 1, -1), strict=True)
    )
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def is_valid_nhs_number(value: str) -> bool:
    """Exactly ten ASCII digits passing Modulus 11 (weights 10..2 on the first nine; 11 means 0,
    10 means invalid). Partner data must already be in this form, so no grouping is accepted.

    0000000000 passes the arithmetic but is no one's number, so it is refused too.
    """
    return (
        _PLAIN.fullmatch(value) is not None and value != _ALL_ZEROS and _check_digit_matches(value)
    )


def normalise_nhs_number(value: str) -> str:
    """The ten plain digits of a number as a person typed it; ValueError (whose message never
    repeats the number) if it is not a valid NHS number in an accepted form."""
    written = _WRITTEN.fullmatch(value.strip(_ASCII_WHITESPACE))
    if written is None:
        raise ValueError(_NOT_WRITTEN)
    digits = written[1] + written[3] + written[4]
    if not is_valid_nhs_number(digits):
        raise ValueError(_NOT_VALID)
    return digits


def _normalised(value: str) -> str:
    try:
        return normalise_nhs_number(value)
    except ValueError as error:
        # A code of its own for clients; pydantic's generic wrapper would prefix "Value error, ".
        raise PydanticCustomError("nhs_number", str(error)) from None


NhsNumber = Annotated[
    str,
    AfterValidator(_normalised),
    # Documentation only: pydantic-core's regex reads `\d` as any Unicode digit, so the decision
    # is the validator's, in Python, on ASCII 0-9.
    WithJsonSchema(
        {
            "type": "string",
            "pattern": WRITTEN_PATTERN,
            "description": (
                "An NHS number: 10 ASCII digits 0-9 passing the Modulus 11 check, optionally"
                " grouped 3-3-4 by single spaces or single hyphens (`943 476 5919`,"
                " `943-476-5919`). Answers and stored records always carry the plain 10 digits."
            ),
            "examples": ["9434765919"],
        }
    ),
]
