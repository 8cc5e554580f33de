// NHS numbers: ten digits, the last a Modulus 11 check digit over the first nine (weights 10..2).

export const NHS_NUMBER_LENGTH = 10;

/** Whether ten digits pass the check; 0000000000 passes it and is still no one's number. */
export function validNhsNumber(digits) {
  if (!/^[0-9]{10}$/.test(digits) || digits === "0000000000") {
    return false;
  }
  let sum = 0;
  for (let index = 0; index < 9; index += 1) {
    sum += Number(digits[index]) * (10 - index);
  }
  const check = 11 - (sum % 11);
  if (check === 10) {
    return false;
  }
  return (check === 11 ? 0 : check) === Number(digits[9]);
}

/** The usual 3-3-4 grouping, as the number is read aloud and printed on letters. */
export function groupNhsNumber(digits) {
  return [digits.slice(0, 3), digits.slice(3, 6), digits.slice(6, 10)].filter(Boolean).join(" ");
}
