// A trust's number is its own free text: "0113 496 0000 ext 204", "+44 (0)113 …", two numbers
// in one. Only one plain UK number (or a national short code) becomes a number to dial; anything
// else is shown as written, to be read, never dialled wrongly.

const UK_NUMBER = /^(?:0\d{9,10}|\+44\d{9,10}|999|112|111|116\d{3})$/;

/** `tel:` and the digits of one dialable UK number, or null. */
export function dialable(number) {
  if (typeof number !== "string" || /[A-Za-z]/.test(number)) {
    return null;
  }
  const digits = number.replace("+44 (0)", "+44").replace("+44(0)", "+44")
    .replace(/[\s().-]/g, "");
  return UK_NUMBER.test(digits) ? "tel:" + digits : null;
}
