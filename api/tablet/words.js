// Every value of the API said in words. "Could not check" is always said as such: the card never
// turns a source that did not answer into "no", "none" or a blank (the worst hazard of the scene).

export const ROLE_NAMES = {
  officer: "police officer",
  mh_practitioner: "mental health practitioner",
  supervisor: "supervisor",
  ig_officer: "information governance officer",
};

export const SIGN_IN_RESULTS = {
  failed: "Sign-in did not work. Try again; if it keeps failing, tell your administrator.",
  cancelled: "Sign-in was cancelled.",
  expired: "Sign-in took too long and has expired. Try again.",
  refused: "Your account was recognised, but its role or organisation may not use this " +
    "service. Ask your administrator.",
};

export const KNOWN = {
  yes: { word: "Known", sentence: "Known to mental health services", tone: "known" },
  no: {
    word: "Not known",
    sentence: "Not known to mental health services: every source answered and holds nothing",
    tone: "not-known",
  },
  unknown: {
    word: "Could not check",
    sentence: "Could not check whether known to mental health services",
    tone: "unknown",
  },
};

export const PLAN = {
  present: { word: "Crisis plan held", tone: "known" },
  absent: { word: "No crisis plan held", tone: "not-known" },
  unknown: { word: "Could not check for a crisis plan", tone: "unknown" },
};

export const ALERT_CATEGORIES = [
  ["risk_to_self", "Risk to self"],
  ["risk_to_others", "Risk to others"],
  ["risk_from_others", "Risk from others"],
];

// Level in words, with a symbol, so colour is never the only signal.
export const ALERT_LEVELS = {
  high: { word: "HIGH", symbol: "▲▲▲" },
  medium: { word: "MEDIUM", symbol: "▲▲" },
  low: { word: "LOW", symbol: "▲" },
  not_recorded: { word: "No alert recorded", symbol: "–" },
  unknown: { word: "COULD NOT CHECK", symbol: "?" },
};

export const IDENTIFICATION = {
  verified: "Identity confirmed by PDS",
  probable: "Probable match only",
  unverified: "Identity not verified",
  not_found: "PDS does not know this number",
  ambiguous: "Several people match",
  no_match: "No one matches these details",
  not_traced: "No one was identified",
};

export const CALL_NOW = {
  always_answered: "Answered 24 hours",
  in_hours: "Open now",
  out_of_hours: "Office closed now: out-of-hours line",
  out_of_hours_no_number: "Office closed now, and no number to call: read the out-of-hours advice",
  hours_unknown: "Opening hours unknown: try these numbers",
};

export const SOURCE_STATUS = {
  found: "answered: holds records",
  not_found: "answered: holds nothing",
  unavailable: "did not answer",
  error: "answered with data that could not be read",
};

export const SOURCE_NAMES = {
  pds: "PDS (national demographics)",
  nrl: "National Record Locator",
  local: "Crisis plans written in this service",
};

export const RISK_LEVELS = [
  ["none", "None"], ["low", "Low"], ["medium", "Medium"], ["high", "High"],
];

export const POLICE_POWERS = [
  ["section_136", "Section 136"], ["section_135", "Section 135"], ["arrest", "Arrest"],
  ["mental_capacity_act", "Mental Capacity Act"], ["breach_of_the_peace", "Breach of the peace"],
  ["search", "Search"], ["use_of_force", "Use of force"],
];

export const OUTCOME_CODES = [
  ["s136_detention", "s136 detention"],
  ["s136_considered_not_used", "s136 considered, not used"],
  ["informal_admission", "Informal (voluntary) admission"],
  ["mha_assessment_arranged", "MHA assessment arranged"],
  ["referral_crisis_team", "Referral: crisis team"],
  ["referral_cmht", "Referral: community mental health team"],
  ["referral_gp", "Referral: GP"],
  ["referral_other_agency", "Referral: other agency"],
  ["advice_and_support", "Advice and support"],
  ["left_at_home_with_support", "Left at home with support"],
  ["handed_to_carer", "Handed to a carer"],
  ["conveyed_to_emergency_department", "Conveyed to A&E"],
  ["ambulance_required", "Ambulance required"],
  ["arrested", "Arrested"],
];

export const ATTENDANCE = {
  risk_to_life_or_serious_harm: "risk to life or serious harm",
  crime: "crime",
  other: "other reason",
};
