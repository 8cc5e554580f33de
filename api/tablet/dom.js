// Small helpers for building the screens from the API's JSON, always as text, never as markup.

export const $ = (id) => document.getElementById(id);

export function clear(element) {
  while (element.firstChild) {
    element.removeChild(element.firstChild);
  }
}

/** An element with attributes (data-testid as `testid`) and children (strings become text). */
export function el(name, attributes, ...children) {
  const element = document.createElement(name);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) {
      continue;
    }
    if (key === "testid") {
      element.dataset.testid = value;
    } else if (key === "className") {
      element.className = value;
    } else if (key.startsWith("data-") || key.startsWith("aria-") || key === "role" ||
      key === "href" || key === "type" || key === "id" || key === "for" || key === "value" ||
      key === "name" || key === "lang") {
      element.setAttribute(key, value === true ? "" : String(value));
    } else {
      element[key] = value;
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    element.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return element;
}

/** A date and time in the tablet's own zone, as officers read it: "Sat 21 Nov, 02:14". */
export function when(value) {
  if (!value) {
    return "";
  }
  return new Date(value).toLocaleString("en-GB", {
    weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
  });
}

export function day(value) {
  return value ? new Date(value + (value.length === 10 ? "T00:00:00" : "")).toLocaleDateString(
    "en-GB", { day: "numeric", month: "short", year: "numeric" }) : "";
}

/** `datetime-local` value for now (or a given date), in the tablet's zone. */
export function localInput(date) {
  const at = date || new Date();
  const shifted = new Date(at.getTime() - at.getTimezoneOffset() * 60000);
  return shifted.toISOString().slice(0, 16);
}

/** A `datetime-local` value as an instant with its offset, which the API requires. */
export function instant(value) {
  return value ? new Date(value).toISOString() : null;
}
