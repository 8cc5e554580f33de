"use strict";
(function () {
  // The agreement in words, from GET /v1/agreement: nothing here is written twice.
  const ROLE = {
    officer: "Police officers",
    mh_practitioner: "Mental health practitioners",
    supervisor: "Supervisors",
    ig_officer: "Information governance officers",
  };
  const KIND = { police_force: "of a police force", nhs_trust: "of an NHS trust" };
  const DATA = {};
  const $ = (id) => document.getElementById(id);

  function item(list, text) {
    const li = document.createElement("li");
    li.textContent = text;
    list.appendChild(li);
    return li;
  }

  function years(days) {
    return days >= 365 && days % 365 === 0 ? days / 365 + " years (" + days + " days)"
      : days + " days";
  }

  function render(agreement) {
    for (const dataClass of agreement.data_classes) {
      DATA[dataClass.name] = dataClass.description;
    }
    const purposes = Object.fromEntries(agreement.purposes.map((p) => [p.name, p]));
    const bases = Object.fromEntries(agreement.legal_basis.map((b) => [b.code, b.text]));
    $("version").textContent = agreement.title + ", version " + agreement.version +
      ", in force from " + agreement.effective_from + ", to be reviewed by " +
      agreement.review_by + ".";

    const told = $("told");
    const retention = agreement.retention;
    item(told, "Every lookup, every read of a person's record and every change is recorded in " +
      "the audit trail: who (name, role, organisation), when, for which purpose and incident, " +
      "and what was shown. Refusals are recorded too. The trail is kept " +
      years(retention.audit_event_days) + " and is read by each organisation's information " +
      "governance officers.");
    item(told, "When you look someone up, every organisation holding a crisis plan for them is " +
      "told: your name, role and organisation, when, the incident's CAD reference and the " +
      "purpose. They see the last 25 such accesses.");
    const breakGlass = purposes["break-glass"];
    if (breakGlass) {
      item(told, "Emergency access to another trust's plan (break-glass) needs a written " +
        "reason, lasts " + Math.round(breakGlass.token_lifetime_seconds / 60) + " minutes, and " +
        "is reviewed afterwards by information governance.");
    }
    item(told, "On the tablet, answers and unsent changes are kept for the open incident only, " +
      "and wiped when it is closed or you sign out.");

    const body = $("access").tBodies[0];
    for (const rule of agreement.access) {
      const row = body.insertRow();
      row.dataset.testid = "access-" + rule.organisation_kind + "-" + rule.role;
      row.insertCell().textContent = (ROLE[rule.role] || rule.role) + " " +
        (KIND[rule.organisation_kind] || rule.organisation_kind);
      row.insertCell().textContent = rule.purposes
        .map((name) => (purposes[name] ? purposes[name].title : name)).join("; ");
      const list = document.createElement("ul");
      for (const name of rule.data_classes) {
        item(list, DATA[name] || name);
      }
      row.insertCell().appendChild(list);
    }

    const purposeBox = $("purposes");
    for (const purpose of agreement.purposes) {
      const heading = document.createElement("h3");
      heading.textContent = purpose.title;
      const text = document.createElement("p");
      text.textContent = purpose.description + " Access lasts " +
        Math.round(purpose.token_lifetime_seconds / 60) + " minutes at a time.";
      const list = document.createElement("ul");
      list.dataset.testid = "basis-" + purpose.name;
      for (const code of purpose.legal_basis) {
        item(list, bases[code] || code);
      }
      purposeBox.append(heading, text, list);
    }

    const kept = $("retention");
    item(kept, "Incidents, assessments and outcomes: " + years(retention.incident_days) +
      ", then deleted, keeping only figures that name no one.");
    item(kept, "The audit trail: " + years(retention.audit_event_days) + ".");
    item(kept, "Notifications to the organisations holding plans: " +
      years(retention.notification_days) + ".");

    const limits = $("limits");
    const quotas = agreement.lookup_quotas;
    item(limits, "Each person may make at most " + quotas.per_user_per_hour +
      " lookups an hour; each organisation " + quotas.per_organisation_per_day + " a day.");
    item(limits, "At most " + quotas.people_per_incident + " different people may be looked up " +
      "on one incident.");

    const parties = $("parties");
    for (const organisation of agreement.organisations) {
      item(parties, organisation.name + " (" + organisation.code + "), " +
        (organisation.kind === "nhs_trust" ? "NHS trust" : "police force"));
    }
    $("agreement").hidden = false;
    $("status").textContent = "";
  }

  fetch("/v1/agreement", { cache: "no-store" })
    .then((response) => {
      if (!response.ok) {
        throw new Error(String(response.status));
      }
      return response.json();
    })
    .then(render)
    .catch(() => {
      $("status").textContent = "The agreement could not be read just now. Try again when " +
        "there is a signal.";
    });
})();
