
"use strict";
(function () {
  // Tokens live in this closure only: never in storage, a cookie or a URL. One minted from the
  // sign-in session is renewed 30 s before it expires; a pasted one is used until forgotten.
  let grant = null;
  let signedIn = false;
  let providersListed = false;
  let lastQuery = null;

  const RENEW_BEFORE_EXPIRY_MS = 30 * 1000;
  // Every call that uses the sign-in session says so in a header a cross-site form cannot send.
  const SESSION_HEADERS = { "X-Triage-Session": "1" };
  const ROLE_NAMES = {
    officer: "police officer",
    mh_practitioner: "mental health practitioner",
    supervisor: "supervisor",
    ig_officer: "information governance officer",
  };
  const SIGN_IN_RESULTS = {
    failed: "Sign-in did not work. Try again; if it keeps failing, tell your administrator.",
    cancelled: "Sign-in was cancelled.",
    expired: "Sign-in took too long and has expired. Try again.",
    refused: "Your account was recognised, but its role or organisation may not use this " +
      "service. Ask your administrator.",
  };
  const $ = (id) => document.getElementById(id);
  const form = $("report-form");
  const status = $("status");

  function say(message, isError) {
    status.textContent = message;
    status.className = isError ? "error" : "";
  }

  function isoDay(date) {
    return date.toISOString().slice(0, 10);
  }

  function defaultPeriod() {
    const now = new Date();
    const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
    const start = new Date(Date.UTC(now.getUTCFullYear() - 1, now.getUTCMonth() + 1, 1));
    $("from").value = isoDay(start);
    $("to").value = isoDay(end);
  }

  async function detailOf(response) {
    try {
      return (await response.json()).detail || "";
    } catch (error) {
      return "";
    }
  }

  // The account

  function showAccount(session) {
    signedIn = session !== null;
    $("checking").hidden = true;
    $("signed-in").hidden = !signedIn;
    $("signed-out").hidden = signedIn;
    if (session !== null) {
      $("who-name").textContent = session.name;
      $("who-role").textContent = ROLE_NAMES[session.role] || session.role;
      $("who-organisation").textContent = session.organisation_code;
    }
  }

  async function listProviders() {
    let providers = [];
    try {
      const response = await fetch("/auth/providers", { cache: "no-store" });
      providers = response.ok ? (await response.json()).providers : [];
    } catch (error) {
      providers = [];
    }
    const list = $("providers");
    clear(list);
    for (const provider of providers) {
      const link = document.createElement("a");
      link.className = "sign-in";
      // The dashboard is the supervisors': someone who also holds another role signs in as one.
      const query = { provider: provider.id, return_to: "/dashboard", role: "supervisor" };
      link.href = "/auth/login?" + new URLSearchParams(query).toString();
      link.textContent = "Sign in with " + provider.title;
      link.dataset.testid = "sign-in-" + provider.id;
      list.appendChild(document.createElement("li")).appendChild(link);
    }
    if (!providers.length) {
      list.appendChild(document.createElement("li")).textContent =
        "No sign-in is set up here: ask your administrator.";
    }
  }

  async function showSignedOut() {
    if (grant !== null && !grant.pasted) {
      grant = null;
    }
    showAccount(null);
    if (!providersListed) {
      providersListed = true;
      await listProviders();
    }
  }

  async function checkSession() {
    try {
      const response = await fetch("/auth/session", { cache: "no-store" });
      if (response.ok) {
        showAccount(await response.json());
        return;
      }
      if (response.status !== 401) {
        say("Your sign-in could not be checked (" + response.status + ").", true);
      }
    } catch (error) {
      say("Your sign-in could not be checked: the service did not answer.", true);
    }
    await showSignedOut();
  }

  function sayHowSignInWent() {
    const query = new URLSearchParams(location.search);
    const result = query.get("sign_in");
    if (result === null) {
      return;
    }
    // Said once: a reload, a bookmark or a shared link must not say it again.
    query.delete("sign_in");
    const rest = query.toString();
    history.replaceState(null, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
    const known = Object.hasOwn(SIGN_IN_RESULTS, result) ? result : "failed";
    say(SIGN_IN_RESULTS[known], known !== "cancelled");
  }

  function webAddress(value) {
    try {
      const url = new URL(value);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (error) {
      return null;
    }
  }

  async function signOut() {
    say("Signing out…");
    let response;
    try {
      response = await fetch("/auth/logout", { method: "POST", headers: SESSION_HEADERS });
    } catch (error) {
      say("Signing out did not work: the service did not answer. Try again.", true);
      return;
    }
    // 401: the session had already ended, which is what signing out wants.
    if (!response.ok && response.status !== 401) {
      say("Signing out did not work (" + response.status + "). Try again.", true);
      return;
    }
    grant = null;
    clearReport();
    const ended = response.ok ? await response.json() : {};
    const providerSignOut = ended.provider_sign_out_url ? webAddress(ended.provider_sign_out_url) : null;
    if (providerSignOut !== null) {
      // The identity provider's own session ends too, or its next sign-in would be silent.
      location.assign(providerSignOut);
      return;
    }
    await showSignedOut();
    say("Signed out.");
    const first = $("providers").querySelector("a");
    (first || $("account-title")).focus();
  }

  // Tokens

  function tokenType(token) {
    try {
      const header = token.split(".")[0].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(header)).typ || "";
    } catch (error) {
      return "";
    }
  }

  async function accessTokenFrom(token) {
    if (tokenType(token).toLowerCase() === "at+jwt") {
      return token;
    }
    const body = new URLSearchParams({
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      subject_token: token,
      subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
      purpose: "supervision",
      scope: "report:read",
    });
    const response = await fetch("/v1/token", { method: "POST", body: body });
    if (!response.ok) {
      throw new Error("The token was not accepted for supervision (" + response.status + ").");
    }
    return (await response.json()).access_token;
  }

  async function supervisionToken() {
    if (grant !== null && (grant.pasted || Date.now() < grant.renewAt)) {
      return grant.token;
    }
    grant = null;
    if (!signedIn) {
      throw new Error("Sign in first.");
    }
    const response = await fetch("/auth/session/token", {
      method: "POST",
      headers: { ...SESSION_HEADERS, "Content-Type": "application/json" },
      body: JSON.stringify({ purpose: "supervision", scope: "report:read" }),
      cache: "no-store",
    });
    if (response.status === 401) {
      await showSignedOut();
      throw new Error("Your sign-in has ended: sign in again.");
    }
    if (!response.ok) {
      throw new Error("Your sign-in does not give access to the report (" + response.status +
        "). " + (await detailOf(response)));
    }
    const minted = await response.json();
    grant = {
      token: minted.access_token,
      renewAt: Date.now() + minted.expires_in * 1000 - RENEW_BEFORE_EXPIRY_MS,
      pasted: false,
    };
    return grant.token;
  }

  async function fetchReport(query, accept) {
    const url = "/v1/reports/outcomes?" + new URLSearchParams(query).toString();
    const get = async () => fetch(url, {
      headers: { Authorization: "Bearer " + (await supervisionToken()), Accept: accept },
      cache: "no-store",
    });
    let response = await get();
    if (response.status === 401 && grant !== null && !grant.pasted) {
      // Refused before its time (ended by a sign-out in another tab, say): mint once more, which
      // finds out whether the session itself still stands.
      grant = null;
      response = await get();
    }
    if (response.status === 401) {
      const pasted = grant !== null && grant.pasted;
      grant = null;
      throw new Error("The token has expired or is not valid: " +
        (pasted ? "paste a new one." : "sign in again."));
    }
    if (!response.ok) {
      throw new Error("The report could not be read (" + response.status + "). " +
        (await detailOf(response)));
    }
    return response;
  }

  // The report

  const node = Chart.node;
  const clear = Chart.clear;
  // A median or 90th percentile over fewer incidents than this says more about one incident than
  // about the period: the chart says so instead of drawing it.
  const FEWEST_TIMED = 3;
  const GROUPINGS = {
    month: { column: "Month", title: "by month", periods: true },
    week: { column: "Week from", title: "by week", periods: true },
    outcome: { column: "Outcome", title: "by outcome", periods: false },
    triage_mode: { column: "Triage mode", title: "by triage mode", periods: false },
    area: { column: "Area", title: "by area", periods: false },
  };
  const GROUP_NAMES = {
    s136_detention: "s136 detention",
    s136_considered_not_used: "s136 considered, not used",
    informal_admission: "Informal admission",
    mha_assessment_arranged: "MHA assessment arranged",
    referral_crisis_team: "Referral: crisis team",
    referral_cmht: "Referral: CMHT",
    referral_gp: "Referral: GP",
    referral_other_agency: "Referral: other agency",
    advice_and_support: "Advice and support",
    left_at_home_with_support: "Left at home with support",
    handed_to_carer: "Handed to carer",
    conveyed_to_emergency_department: "Conveyed to A&E",
    ambulance_required: "Ambulance required",
    arrested: "Arrested",
    not_recorded: "No outcome yet",
    face_to_face: "Face to face",
    phone: "Phone",
    control_room: "Control room",
    no_area_code: "No area code",
    total: "Total",
  };

  function groupName(group) {
    return Object.hasOwn(GROUP_NAMES, group) ? GROUP_NAMES[group] : group;
  }

  function plural(count, word) {
    return count + " " + word + (count === 1 ? "" : "s");
  }

  function percent(value) {
    return value === null ? "–" : (value * 100).toFixed(1) + "%";
  }

  function minutes(value) {
    return value === null ? "–" : value.toFixed(1) + " min";
  }

  function decimal(value) {
    return value === null ? "–" : value.toFixed(2);
  }

  // Why a chart has nothing to draw, in words; null when it has something.
  function whyEmpty(total, needs) {
    const incidents = plural(total.incidents, "incident");
    if (total.incidents === 0) {
      return "No incidents in this period.";
    }
    // Times recorded for `timed` of the incidents: enough for a median and a 90th percentile?
    const tooFew = (timed, what) => {
      if (timed >= FEWEST_TIMED) {
        return null;
      }
      const which = timed === total.incidents
        ? "Only " + incidents + " in this period"
        : "Only " + timed + " of the " + incidents + " in this period " +
          (timed === 1 ? "has " : "have ") + what;
      return which + ": too few for a median and 90th percentile.";
    };
    switch (needs) {
      case "outcome":
        return total.with_outcome === 0
          ? incidents + " in this period, but none has an outcome recorded yet: no rate to show."
          : null;
      case "scene":
        if (total.time_at_scene_count === 0) {
          return total.call_to_arrival_count === 0
            ? incidents + " in this period, but no arrival time was recorded for any: time at " +
              "scene runs from arrival to leaving."
            : incidents + " in this period, but none has both an arrival and a leaving time " +
              "recorded.";
        }
        return tooFew(total.time_at_scene_count, "both an arrival and a leaving time");
      case "arrival":
        if (total.call_to_arrival_count === 0) {
          return incidents + " in this period, but no arrival time was recorded for any " +
            "(incidents handled by phone or from the control room have none).";
        }
        return tooFew(total.call_to_arrival_count, "an arrival time");
      case "lookups":
        return total.lookups === 0
          ? incidents + " in this period, but no crisis flag lookup was recorded for any."
          : null;
      default:
        return null;
    }
  }

  // Shows the chart, or hides it and says why it is empty.
  function explain(id, reason) {
    const message = $(id + "-empty");
    message.textContent = reason || "";
    message.hidden = reason === null;
    // An <svg> has no `hidden` property: the attribute itself is set.
    $(id + "-chart").toggleAttribute("hidden", reason !== null);
    const list = $(id + "-legend");
    if (list !== null) {
      list.hidden = reason !== null;
    }
    if (reason !== null) {
      clear($(id + "-chart"));
    }
    return reason === null;
  }

  function layout(groups, periods) {
    // Category names are slanted under the axis and need more room than dates.
    const bottom = periods ? 34 : 96;
    return { bottom: bottom, slanted: !periods };
  }

  const OUTCOME_SERIES = [
    ["s136_detentions", "s136 detention", (g) => g.s136_detentions],
    ["s136_considered_not_used", "s136 considered, not used", (g) => g.s136_considered_not_used],
    ["other_outcome", "Other outcome",
      (g) => g.with_outcome - g.s136_detentions - g.s136_considered_not_used],
    ["not_recorded", "No outcome yet", (g) => g.incidents - g.with_outcome],
  ];

  function drawOutcomes(report, grouping) {
    const groups = report.groups;
    $("outcomes-title").textContent = "Incidents and outcomes " + grouping.title;
    Chart.legend($("outcomes-legend"), OUTCOME_SERIES);
    if (!explain("outcomes", whyEmpty(report.total, "incidents"))) {
      return;
    }
    const svg = $("outcomes-chart");
    const shape = layout(groups, grouping.periods);
    const box = Chart.frame(svg, 280 + shape.bottom - 34, shape.bottom);
    const max = Math.max(0, ...groups.map((g) => g.incidents));
    const scale = Chart.ticks(max, { integer: true });
    const step = (box.right - box.left) / Math.max(1, groups.length);
    const unit = (box.bottom - box.top) / scale.top;
    Chart.yAxis(svg, box, scale, (value) => String(value));
    groups.forEach((group, index) => {
      const bar = node(svg, "g", { class: "period", "data-period": group.group });
      node(bar, "title", {}, groupName(group.group) + ": " + plural(group.incidents, "incident"));
      let y = box.bottom;
      for (const [series, , value] of OUTCOME_SERIES) {
        const count = value(group);
        if (count <= 0) {
          continue;
        }
        const height = count * unit;
        y -= height;
        node(bar, "rect", {
          class: "bar", "data-series": series, "data-value": count,
          x: (box.left + step * index + step * 0.15).toFixed(1), width: (step * 0.7).toFixed(1),
          y: y.toFixed(1), height: height.toFixed(1),
        });
      }
    });
    Chart.xLabels(svg, box, groups, step, shape.slanted, groupName);
  }

  // Points (joined by a line when the groups are periods) for each series; a null is a gap.
  function drawLines(id, groups, grouping, lines, format, scale, label) {
    const svg = $(id + "-chart");
    const shape = layout(groups, grouping.periods);
    const box = Chart.frame(svg, 240 + shape.bottom - 34, shape.bottom);
    const step = (box.right - box.left) / Math.max(1, groups.length);
    Chart.yAxis(svg, box, scale, label);
    for (const [name, pick] of lines) {
      const points = [];
      groups.forEach((group, index) => {
        const value = pick(group);
        if (value === null) {
          return;
        }
        const x = box.left + step * (index + 0.5);
        const y = box.bottom - (value / scale.top) * (box.bottom - box.top);
        points.push(x.toFixed(1) + "," + y.toFixed(1));
        const point = node(svg, "circle", {
          class: "point " + name, "data-period": group.group, "data-value": value,
          cx: x.toFixed(1), cy: y.toFixed(1), r: 3.5,
        });
        node(point, "title", {}, groupName(group.group) + ": " + format(value));
      });
      if (grouping.periods && points.length > 1) {
        node(svg, "polyline", { class: "line " + name, points: points.join(" ") });
      }
    }
    Chart.xLabels(svg, box, groups, step, shape.slanted, groupName);
  }

  function minuteLabel(value, places) {
    return value.toFixed(places) + " min";
  }

  function drawTimes(id, report, grouping, needs, median, p90) {
    Chart.legend($(id + "-legend"), [["median", "Median"], ["p90", "90th percentile"]]);
    if (!explain(id, whyEmpty(report.total, needs))) {
      return;
    }
    const lines = [["median", median], ["p90", p90]];
    const values = report.groups.flatMap((g) => lines.map(([, pick]) => pick(g)))
      .filter((value) => value !== null);
    drawLines(id, report.groups, grouping, lines, minutes, Chart.ticks(Math.max(...values)),
      minuteLabel);
  }

  function drawRate(report, grouping) {
    if (!explain("s136", whyEmpty(report.total, "outcome"))) {
      return;
    }
    // Rates on a fixed 0-100% scale, so groups compare at a glance.
    const scale = { top: 1, values: [0, 0.25, 0.5, 0.75, 1], places: 0 };
    drawLines("s136", report.groups, grouping, [["rate", (g) => g.s136_detention_rate]], percent,
      scale, (value) => Math.round(value * 100) + "%");
  }

  // Lookups per incident, one bar per group; a group without incidents has no bar.
  function drawLookups(id, report, grouping) {
    if (!explain(id, whyEmpty(report.total, "lookups"))) {
      return;
    }
    const groups = report.groups;
    const svg = $(id + "-chart");
    const shape = layout(groups, grouping.periods);
    const box = Chart.frame(svg, 240 + shape.bottom - 34, shape.bottom);
    const max = Math.max(0, ...groups.map((g) => g.lookups_per_incident || 0));
    const scale = Chart.ticks(max);
    const step = (box.right - box.left) / Math.max(1, groups.length);
    Chart.yAxis(svg, box, scale, (value, places) => value.toFixed(places));
    groups.forEach((group, index) => {
      if (group.lookups_per_incident === null) {
        return;
      }
      const height = (group.lookups_per_incident / scale.top) * (box.bottom - box.top);
      const bar = node(svg, "rect", {
        class: "bar lookups", "data-period": group.group, "data-value": group.lookups_per_incident,
        x: (box.left + step * index + step * 0.2).toFixed(1), width: (step * 0.6).toFixed(1),
        y: (box.bottom - height).toFixed(1), height: height.toFixed(1),
      });
      node(bar, "title", {}, groupName(group.group) + ": " +
        decimal(group.lookups_per_incident) + " lookups per incident (" +
        plural(group.lookups, "lookup") + ", " + plural(group.incidents, "incident") + ")");
    });
    Chart.xLabels(svg, box, groups, step, shape.slanted, groupName);
  }

  function drawSummary(total) {
    const summary = $("summary");
    clear(summary);
    const tiles = [
      ["Incidents", String(total.incidents)],
      ["s136 detention rate", percent(total.s136_detention_rate)],
      ["s136 considered, not used", String(total.s136_considered_not_used)],
      ["Median time at scene", minutes(total.time_at_scene_median_minutes)],
      ["Median call to arrival", minutes(total.call_to_arrival_median_minutes)],
      ["Repeat contacts", String(total.repeat_contacts)],
      ["Crisis flag consulted", percent(total.crisis_flag_consulted_share)],
      ["Lookups per incident", decimal(total.lookups_per_incident)],
    ];
    for (const [name, value] of tiles) {
      const tile = document.createElement("div");
      tile.className = "tile";
      const strong = document.createElement("span");
      strong.className = "value";
      strong.textContent = value;
      const label = document.createElement("span");
      label.className = "name";
      label.textContent = name;
      tile.appendChild(strong);
      tile.appendChild(label);
      summary.appendChild(tile);
    }
    summary.hidden = false;
  }

  function number(value) {
    return value === null ? "–" : value.toFixed(1);
  }

  function withRate(count, rate) {
    return rate === null ? String(count) : count + " (" + percent(rate) + ")";
  }

  // Eleven columns fit a 1024 px screen: a count shares its cell with its rate, a median with
  // its 90th percentile, and units go in the headings. The CSV has every figure on its own.
  const COLUMNS = [
    [null, (g) => groupName(g.group)],
    ["Incidents", (g) => String(g.incidents)],
    ["With outcome", (g) => String(g.with_outcome)],
    ["s136 detentions (rate)", (g) => withRate(g.s136_detentions, g.s136_detention_rate)],
    ["s136 considered, not used", (g) => withRate(g.s136_considered_not_used,
      g.s136_considered_not_used_rate)],
    ["Conveyed: ambulance / police", (g) => g.conveyance_ambulance + " / " +
      g.conveyance_police_vehicle],
    ["At scene, median / p90 (min)", (g) => number(g.time_at_scene_median_minutes) + " / " +
      number(g.time_at_scene_p90_minutes)],
    ["Call to arrival, median (min)", (g) => number(g.call_to_arrival_median_minutes)],
    ["Repeat contacts", (g) => String(g.repeat_contacts)],
    ["Crisis flag consulted / changed decision", (g) => percent(g.crisis_flag_consulted_share) +
      " / " + percent(g.crisis_flag_changed_decision_share)],
    ["Lookups per incident", (g) => decimal(g.lookups_per_incident)],
  ];

  function drawTable(report, grouping) {
    const table = $("figures");
    const head = table.tHead;
    const body = table.tBodies[0];
    clear(head);
    clear(body);
    const headRow = head.insertRow();
    for (const [title] of COLUMNS) {
      const cell = document.createElement("th");
      cell.scope = "col";
      cell.textContent = title === null ? grouping.column : title;
      headRow.appendChild(cell);
    }
    for (const group of [...report.groups, report.total]) {
      const row = body.insertRow();
      row.dataset.group = group.group;
      if (group === report.total) {
        row.className = "total";
      }
      COLUMNS.forEach(([, format], index) => {
        if (index === 0) {
          const header = document.createElement("th");
          header.scope = "row";
          header.textContent = format(group);
          row.appendChild(header);
        } else {
          row.insertCell().textContent = format(group);
        }
      });
    }
  }

  function draw(report, byOutcome) {
    const grouping = GROUPINGS[report.group_by];
    drawSummary(report.total);
    drawOutcomes(report, grouping);
    drawRate(report, grouping);
    drawTimes("scene", report, grouping, "scene", (g) => g.time_at_scene_median_minutes,
      (g) => g.time_at_scene_p90_minutes);
    drawTimes("arrival", report, grouping, "arrival", (g) => g.call_to_arrival_median_minutes,
      (g) => g.call_to_arrival_p90_minutes);
    $("lookups-title").textContent = "Crisis flag lookups per incident " + grouping.title;
    drawLookups("lookups", report, grouping);
    drawLookups("lookups-outcome", byOutcome, GROUPINGS.outcome);
    drawTable(report, grouping);
    for (const section of document.querySelectorAll(".chart")) {
      section.hidden = false;
    }
    // Grouped by outcome, the chart above is this one already.
    $("lookups-outcome-chart").closest("section").hidden = report.group_by === "outcome";
  }

  const CHARTS = ["outcomes", "s136", "scene", "arrival", "lookups", "lookups-outcome"];

  function clearReport() {
    clear($("summary"));
    for (const id of CHARTS) {
      clear($(id + "-chart"));
      $(id + "-empty").hidden = true;
      const list = $(id + "-legend");
      if (list !== null) {
        clear(list);
      }
    }
    for (const section of document.querySelectorAll(".chart")) {
      section.hidden = true;
    }
    clear($("figures").tHead);
    clear($("figures").tBodies[0]);
    $("summary").hidden = true;
    $("download").disabled = true;
    lastQuery = null;
  }

  async function load(event) {
    event.preventDefault();
    const field = $("token");
    const pasted = field.value.trim();
    field.value = "";
    try {
      if (pasted) {
        say("Checking the token…");
        grant = { token: await accessTokenFrom(pasted), renewAt: Infinity, pasted: true };
      }
      lastQuery = { from: $("from").value, to: $("to").value, group_by: $("group-by").value };
      say("Loading…");
      const report = await (await fetchReport(lastQuery, "application/json")).json();
      // Lookups per outcome is a chart of its own, whatever the grouping asked for.
      const byOutcome = report.group_by === "outcome" ? report : await (await fetchReport(
        { ...lastQuery, group_by: "outcome" }, "application/json")).json();
      draw(report, byOutcome);
      $("download").disabled = false;
      say("Showing " + report.organisation_code + ", " + report.period_start + " to " +
        report.period_end + " (" + report.time_zone + "), " +
        plural(report.total.incidents, "incident") + ".");
    } catch (error) {
      say(error.message, true);
    }
  }

  async function download() {
    if (!lastQuery) {
      return;
    }
    try {
      const blob = await (await fetchReport(lastQuery, "text/csv")).blob();
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = "outcomes-" + lastQuery.from + "-" + lastQuery.to + ".csv";
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 1000);
    } catch (error) {
      say(error.message, true);
    }
  }

  function forget() {
    grant = null;
    $("token").value = "";
    $("download").disabled = true;
    say(signedIn ? "Token forgotten: your sign-in is used again." : "Token forgotten.");
  }

  defaultPeriod();
  sayHowSignInWent();
  form.addEventListener("submit", load);
  $("download").addEventListener("click", download);
  $("forget").addEventListener("click", forget);
  $("sign-out").addEventListener("click", signOut);
  checkSession();
})();
