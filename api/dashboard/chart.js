"use strict";
// Charts as inline SVG: axes whose ticks follow the data, bars, lines and points. No data of its
// own; page.js hands it the report's rows.
const Chart = (function () {
  const SVG = "http://www.w3.org/2000/svg";
  const WIDTH = 760;
  const MULTIPLIERS = [1, 2, 2.5, 5, 10];

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

  // The fewest decimals that write `step` exactly (0.25 -> 2, 2.5 -> 1, 5 -> 0), so every
  // multiple of it has a label of its own.
  function decimalsOf(step) {
    for (let places = 0; places < 8; places += 1) {
      const scaled = step * 10 ** places;
      if (Math.abs(scaled - Math.round(scaled)) < 1e-9 * Math.max(1, scaled)) {
        return places;
      }
    }
    return 8;
  }

  // Ticks from 0 to at least `max`, about `wanted` of them, a "nice" step apart (1, 2, 2.5 or 5
  // times a power of ten; whole numbers for counts). Labels never repeat: each is a distinct
  // multiple of the step written with the step's own decimals.
  function ticks(max, options) {
    const integer = Boolean(options && options.integer);
    const wanted = (options && options.wanted) || 4;
    const highest = max > 0 ? max : 1;
    const raw = highest / wanted;
    const power = 10 ** Math.floor(Math.log10(raw));
    let step = MULTIPLIERS.map((m) => m * power).find((candidate) => candidate >= raw * 0.999);
    if (integer) {
      step = Math.max(1, Math.ceil(step));
    }
    const count = Math.ceil(highest / step - 1e-9);
    const places = decimalsOf(step);
    const values = [];
    for (let index = 0; index <= count; index += 1) {
      values.push(Number((index * step).toFixed(places)));
    }
    return { top: values[values.length - 1], values: values, places: places };
  }

  function frame(svg, height, bottomMargin) {
    clear(svg);
    svg.setAttribute("viewBox", "0 0 " + WIDTH + " " + height);
    const box = { left: 64, right: WIDTH - 16, top: 14, bottom: height - bottomMargin };
    node(svg, "line", { class: "axis", x1: box.left, x2: box.right, y1: box.bottom, y2: box.bottom });
    node(svg, "line", { class: "axis", x1: box.left, x2: box.left, y1: box.top, y2: box.bottom });
    return box;
  }

  function yAxis(svg, box, scale, label) {
    for (const value of scale.values) {
      const y = box.bottom - (value / scale.top) * (box.bottom - box.top);
      if (value > 0) {
        node(svg, "line", { class: "grid", x1: box.left, x2: box.right, y1: y, y2: y });
      }
      node(svg, "text", { class: "tick", x: box.left - 6, y: y + 4, "text-anchor": "end" },
        label(value, scale.places));
    }
  }

  // Period labels thinned to about twelve; category labels (outcomes, modes, areas) all shown,
  // slanted so long names do not run into each other.
  function xLabels(svg, box, groups, step, slanted, name) {
    const every = slanted ? 1 : Math.max(1, Math.ceil(groups.length / 12));
    groups.forEach((group, index) => {
      if (index % every !== 0) {
        return;
      }
      const x = box.left + step * (index + 0.5);
      const y = box.bottom + 16;
      const attributes = { class: "group-label", x: x, y: y, "text-anchor": slanted ? "end" : "middle" };
      if (slanted) {
        attributes.transform = "rotate(-30 " + x.toFixed(1) + " " + y + ")";
      }
      node(svg, "text", attributes, name(group.group));
    });
  }

  function legend(list, entries) {
    clear(list);
    for (const [series, label] of entries) {
      const item = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = "swatch " + series;
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(label));
      list.appendChild(item);
    }
  }

  return { node, clear, ticks, frame, yAxis, xLabels, legend };
})();
