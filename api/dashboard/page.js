
"use strict";
(function () {
  // The token lives in this closure only: never in storage, a cookie or a URL.
  let accessToken = null;
  let lastQuery = null;

  const SVG = "http://www.w3.org/2000/svg";
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

  async function fetchReport(query, accept) {
    const url = "/v1/reports/outcomes?" + new URLSearchParams(query).toString();
    const response = await fetch(url, {
      headers: { Authorization: "Bearer " + accessToken, Accept: accept },
      cache: "no-store",
    });
    if (response.status === 401) {
      accessToken = null;
      throw new Error("The token has expired or is not valid: paste a new one.");
    }
    if (!response.ok) {
      let detail = "";
      try {
        detail = (await response.json()).detail || "";
      } catch (error) {
        detail = "";
      }
      throw new Error("The report could not be read (" + response.status + "). " + detail);
    }
    return response;
  }

  function node(parent, name, attributes, text) {
    const element = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes || {})) {
      element.setAttribute(key, String(value));
    }
    if (text !== undefined) {
      element.textContent = text;
    }
    parent.appendChild(element);
    return element;
  }

  function clear(element) {
    while (element.firstChild) {
      element.removeChild(element.firstChild);
    }
  }

  function frame(svg, height) {
    clear(svg);
    const box = { left: 64, right: 744, top: 14, bottom: height - 34 };
    node(svg, "line", { class: "axis", x1: box.left, x2: box.right, y1: box.bottom, y2: box.bottom });
    node(svg, "line", { class: "axis", x1: box.left, x2: box.left, y1: box.top, y2: box.bottom });
    return box;
  }

  function yTicks(svg, box, max, format) {
    for (const fraction of [0, 0.5, 1]) {
      const y = box.bottom - fraction * (box.bottom - box.top);
      node(svg, "text", { x: box.left - 6, y: y + 4, "text-anchor": "end" }, format(max * fraction));
    }
  }

  function xLabels(svg, box, groups, step) {
    const every = Math.max(1, Math.ceil(groups.length / 12));
    groups.forEach((group, index) => {
      if (index % every === 0) {
        const x = box.left + step * (index + 0.5);
        node(svg, "text", { x: x, y: box.bottom + 16, "text-anchor": "middle", class: "period-label" },
          group.group);
      }
    });
  }

  function nothing(svg, box) {
    node(svg, "text", { class: "empty", x: (box.left + box.right) / 2, y: (box.top + box.bottom) / 2,
      "text-anchor": "middle" }, "No incidents in this period.");
  }

  const OUTCOME_SERIES = [
    ["s136_detentions", "s136 detention", (g) => g.s136_detentions],
    ["s136_considered_not_used", "s136 considered, not used", (g) => g.s136_considered_not_used],
    ["other_outcome", "Other outcome",
      (g) => g.with_outcome - g.s136_detentions - g.s136_considered_not_used],
    ["not_recorded", "No outcome yet", (g) => g.incidents - g.with_outcome],
  ];

  function drawOutcomes(groups) {
    const svg = $("outcomes-chart");
    const box = frame(svg, 280);
    const max = Math.max(0, ...groups.map((g) => g.incidents));
    const step = (box.right - box.left) / Math.max(1, groups.length);
    const scale = max > 0 ? (box.bottom - box.top) / max : 0;
    yTicks(svg, box, max, (value) => String(Math.round(value)));
    groups.forEach((group, index) => {
      const bar = node(svg, "g", { class: "period", "data-period": group.group });
      node(bar, "title", {}, group.group + ": " + group.incidents + " incidents");
      let y = box.bottom;
      for (const [series, , value] of OUTCOME_SERIES) {
        const count = value(group);
        if (count <= 0) {
          continue;
        }
        const height = count * scale;
        y -= height;
        node(bar, "rect", {
          class: "bar", "data-series": series, "data-value": count,
          x: (box.left + step * index + step * 0.15).toFixed(1), width: (step * 0.7).toFixed(1),
          y: y.toFixed(1), height: height.toFixed(1),
        });
      }
    });
    xLabels(svg, box, groups, step);
    if (max === 0) {
      nothing(svg, box);
    }
    const legend = $("outcomes-legend");
    clear(legend);
    for (const [series, label] of OUTCOME_SERIES) {
      const item = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = "swatch " + series;
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(label));
      legend.appendChild(item);
    }
  }

  function drawLines(svgId, height, groups, lines, format, axis, fixedMax) {
    const svg = $(svgId);
    const box = frame(svg, height);
    const values = groups.flatMap((g) => lines.map(([, pick]) => pick(g))).filter((v) => v !== null);
    const max = fixedMax || (values.length ? Math.max(...values) * 1.1 || 1 : 1);
    const step = (box.right - box.left) / Math.max(1, groups.length);
    yTicks(svg, box, max, axis);
    for (const [name, pick] of lines) {
      const points = [];
      groups.forEach((group, index) => {
        const value = pick(group);
        if (value === null) {
          return;
        }
        const x = box.left + step * (index + 0.5);
        const y = box.bottom - (value / max) * (box.bottom - box.top);
        points.push(x.toFixed(1) + "," + y.toFixed(1));
        const point = node(svg, "circle", {
          class: "point " + name, "data-period": group.group, "data-value": value,
          cx: x.toFixed(1), cy: y.toFixed(1), r: 3.5,
        });
        node(point, "title", {}, group.group + ": " + format(value));
      });
      if (points.length > 1) {
        node(svg, "polyline", { class: "line " + name, points: points.join(" ") });
      }
    }
    xLabels(svg, box, groups, step);
    if (!values.length) {
      nothing(svg, box);
    }
  }

  function percent(value) {
    return value === null ? "–" : (value * 100).toFixed(1) + "%";
  }

  function minutes(value) {
    return value === null ? "–" : value.toFixed(1) + " min";
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

  const COLUMNS = [
    ["group", "Period", (v) => v],
    ["incidents", "Incidents", String],
    ["s136_detentions", "s136", String],
    ["s136_detention_rate", "s136 rate", percent],
    ["s136_considered_not_used", "s136 avoided", String],
    ["conveyance_ambulance", "By ambulance", String],
    ["conveyance_police_vehicle", "By police vehicle", String],
    ["time_at_scene_median_minutes", "Scene median", minutes],
    ["time_at_scene_p90_minutes", "Scene p90", minutes],
    ["call_to_arrival_median_minutes", "Arrival median", minutes],
    ["repeat_contacts", "Repeat contacts", String],
    ["crisis_flag_consulted_share", "Flag consulted", percent],
    ["crisis_flag_changed_decision_share", "Flag changed decision", percent],
  ];

  function drawTable(report) {
    const table = $("figures");
    const head = table.tHead;
    const body = table.tBodies[0];
    clear(head);
    clear(body);
    const headRow = head.insertRow();
    for (const [, title] of COLUMNS) {
      const cell = document.createElement("th");
      cell.scope = "col";
      cell.textContent = title;
      headRow.appendChild(cell);
    }
    for (const group of [...report.groups, report.total]) {
      const row = body.insertRow();
      if (group === report.total) {
        row.className = "total";
      }
      for (const [key, , format] of COLUMNS) {
        row.insertCell().textContent = format(group[key]);
      }
    }
  }

  function draw(report) {
    const groups = report.groups;
    drawSummary(report.total);
    drawOutcomes(groups);
    // Rates on a fixed 0-100% scale, so months compare at a glance.
    drawLines("s136-chart", 240, groups, [["rate", (g) => g.s136_detention_rate]], percent,
      (value) => Math.round(value * 100) + "%", 1);
    drawLines("scene-chart", 240, groups, [
      ["median", (g) => g.time_at_scene_median_minutes],
      ["p90", (g) => g.time_at_scene_p90_minutes],
    ], minutes, (value) => Math.round(value) + " min");
    const legend = $("scene-legend");
    clear(legend);
    for (const [series, label] of [["median", "Median"], ["p90", "90th percentile"]]) {
      const item = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = "swatch " + series;
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(label));
      legend.appendChild(item);
    }
    drawTable(report);
  }

  async function load(event) {
    event.preventDefault();
    const field = $("token");
    const pasted = field.value.trim();
    field.value = "";
    try {
      if (pasted) {
        say("Checking the token…");
        accessToken = await accessTokenFrom(pasted);
      }
      if (!accessToken) {
        throw new Error("Paste a token first.");
      }
      lastQuery = { from: $("from").value, to: $("to").value, group_by: $("group-by").value };
      say("Loading…");
      const report = await (await fetchReport(lastQuery, "application/json")).json();
      draw(report);
      $("download").disabled = false;
      say("Showing " + report.organisation_code + ", " + report.period_start + " to " +
        report.period_end + " (" + report.time_zone + "), " + report.total.incidents + " incidents.");
    } catch (error) {
      say(error.message, true);
    }
  }

  async function download() {
    if (!accessToken || !lastQuery) {
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
    accessToken = null;
    $("token").value = "";
    $("download").disabled = true;
    say("Token forgotten.");
  }

  defaultPeriod();
  form.addEventListener("submit", load);
  $("download").addEventListener("click", download);
  $("forget").addEventListener("click", forget);
})();
