"""NHS numbers: ten digits, the last a Modulus 11 check digit."""

from typing import Annotated

from pydantic import AfterValidator, StringConstraints

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"


def is_valid_nhs_number(value: str) -> bool:
    """Modulus 11: weights 10..2 on the first nine digits; 11 means 0, 10 means invalid.

    0000000000 passes the arithmetic but is no one's number, so it is refused too.
    """
    if len(value) != 10 or not value.isdigit() or value == "0000000000":
        return False
    total = sum(
        int(digit) * weight for digit, weight in zip(value[:9], range(10, 1, -1), strict=True)
    )
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(value[9])


def _checked(value: str) -> str:
    if not is_valid_nhs_number(value):
        # The message never repeats the number.
        raise ValueError("is not a valid NHS number")
    return value


NhsNumber = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^\d{10}$"),
    AfterValidator(_checked),
]
