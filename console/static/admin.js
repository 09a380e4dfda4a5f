// The statistics admin page: plain DOM and inline SVG, no library. Everything comes from
// /api/stats, which answers only the published (suppressed) figures of the admin's own helpline,
// or of every helpline for a global admin. A suppressed figure has no count: it is drawn as text
// ("not shown"), never as a bar. Each chart is an image with a title and a description, followed
// by a table with the same numbers for screen readers.
"use strict";
const state = { csrf: "", me: null, countries: new Map() };
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const NOT_SHOWN = "not shown";
const DAY_MS = 86400000;

async function api(method, path, body) {
  const options = { method, headers: { "Content-Type": "application/json" }, credentials: "same-origin" };
  if (method !== "GET") { options.headers["X-CSRF-Token"] = state.csrf; options.body = JSON.stringify(body || {}); }
  const answer = await fetch(path, options);
  let data = {};
  try { data = await answer.json(); } catch (error) { data = { error: "the console did not answer" }; }
  return { status: answer.status, data };
}

// -- figures as words --------------------------------------------------------------------------

function amount(figure) {
  if (figure.count === null) return NOT_SHOWN;
  return figure.suppressed ? `${figure.count}+` : String(figure.count);
}

function amountInWords(figure, unit) {
  if (figure.count === null) return `${NOT_SHOWN} (small counts)`;
  const hidden = figure.suppressed ? `, plus ${figure.suppressed} small ${figure.suppressed === 1 ? "count" : "counts"} not shown` : "";
  return `${figure.count}${unit ? " " + unit : ""}${hidden}`;
}

function dayText(iso) {
  return new Date(iso + "T00:00:00Z").toLocaleDateString("en-GB", { day: "numeric", month: "short", timeZone: "UTC" });
}

function isoDay(date) {  // the local calendar day, as YYYY-MM-DD
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

function countryName(code) {
  return state.countries.get(code) || code;
}

// -- drawing -----------------------------------------------------------------------------------

function el(name, attributes, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function niceMax(value) {
  if (value <= 5) return 5;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

// A suppressed figure's mark: its text, and a tooltip saying which figure it is.
function hiddenMark(tip, text) {
  const group = el("g", { class: "not-shown" });
  group.appendChild(el("title", {}, tip));
  group.appendChild(text);
  return group;
}

function chartSvg(id, width, height, title, description) {
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": `${id}-t ${id}-d`, id });
  svg.appendChild(el("title", { id: `${id}-t` }, title));
  svg.appendChild(el("desc", { id: `${id}-d` }, description));
  return svg;
}

// Vertical bars, one per item ({label, count, suppressed, tip}); a suppressed item gets text instead.
function columnChart(id, items, { title, description, xTitle, yTitle }) {
  const width = 760, height = 310, left = 70, right = 16, top = 28, bottom = 62;
  const plotW = width - left - right, plotH = height - top - bottom;
  const svg = chartSvg(id, width, height, title, description);
  const max = niceMax(Math.max(0, ...items.map((i) => i.count || 0)));
  const y = (value) => top + plotH - (value / max) * plotH;
  for (let k = 0; k <= 5; k++) {
    const value = (max / 5) * k;
    svg.appendChild(el("line", { class: "grid", x1: left, x2: left + plotW, y1: y(value), y2: y(value), "aria-hidden": "true" }));
    svg.appendChild(el("text", { x: left - 8, y: y(value) + 4, "text-anchor": "end" }, Number.isInteger(value) ? value : value.toFixed(1)));
  }
  const band = plotW / Math.max(items.length, 1);
  const every = Math.ceil(46 / band);  // x labels that would overlap are skipped (the table has them all)
  const bars = el("g", { class: "bars" });
  items.forEach((item, index) => {
    const x = left + band * index, middle = x + band / 2;
    if (item.count !== null) {
      const rect = el("rect", { class: "bar", x: middle - band * 0.32, width: band * 0.64, y: y(item.count),
                                height: Math.max(0, top + plotH - y(item.count)), "data-count": item.count });
      rect.appendChild(el("title", {}, item.tip));
      bars.appendChild(rect);
      if (band >= 26) svg.appendChild(el("text", { class: "value", x: middle, y: y(item.count) - 6, "text-anchor": "middle" }, amount(item)));
    } else {
      svg.appendChild(hiddenMark(item.tip, el("text", { class: "hidden-value", x: middle, y: top + plotH - 8,
        "text-anchor": band >= 70 ? "middle" : "start", ...(band >= 70 ? {} : { transform: `rotate(-90 ${middle + 4} ${top + plotH - 8})` }) }, NOT_SHOWN)));
    }
    if (index % every === 0) svg.appendChild(el("text", { x: middle, y: top + plotH + 20, "text-anchor": "middle" }, item.label));
  });
  svg.appendChild(bars);
  svg.appendChild(el("line", { class: "axis", x1: left, x2: left + plotW, y1: top + plotH, y2: top + plotH }));
  svg.appendChild(el("line", { class: "axis", x1: left, x2: left, y1: top, y2: top + plotH }));
  svg.appendChild(el("text", { class: "axis-title", x: left + plotW / 2, y: height - 10, "text-anchor": "middle" }, xTitle));
  svg.appendChild(el("text", { class: "axis-title", x: 18, y: top + plotH / 2, "text-anchor": "middle",
                               transform: `rotate(-90 18 ${top + plotH / 2})` }, yTitle));
  return svg;
}

// Horizontal bars: each item's label above its bar, the value after it.
function barChart(id, items, { title, description, xTitle }) {
  const width = 760, row = 42, left = 8, right = 90, top = 8, bottom = 52;
  const plotW = width - left - right, height = top + row * items.length + bottom;
  const svg = chartSvg(id, width, height, title, description);
  const max = niceMax(Math.max(0, ...items.map((i) => i.count || 0)));
  const x = (value) => left + (value / max) * plotW;
  const base = top + row * items.length;
  for (let k = 0; k <= 4; k++) {
    const value = (max / 4) * k;
    svg.appendChild(el("line", { class: "grid", x1: x(value), x2: x(value), y1: top, y2: base, "aria-hidden": "true" }));
    svg.appendChild(el("text", { x: x(value), y: base + 18, "text-anchor": k === 0 ? "start" : "middle" }, Number.isInteger(value) ? value : value.toFixed(1)));
  }
  const bars = el("g", { class: "bars" });
  items.forEach((item, index) => {
    const y = top + row * index;
    svg.appendChild(el("text", { x: left, y: y + 14 }, item.label));
    if (item.count !== null) {
      const rect = el("rect", { class: "bar", x: left, y: y + 20, height: 14, width: Math.max(0, x(item.count) - left), "data-count": item.count });
      rect.appendChild(el("title", {}, item.tip));
      bars.appendChild(rect);
      svg.appendChild(el("text", { class: "value", x: x(item.count) + 6, y: y + 32 }, amount(item)));
    } else {
      svg.appendChild(hiddenMark(item.tip, el("text", { class: "hidden-value", x: left, y: y + 32 }, `${NOT_SHOWN} (small counts)`)));
    }
  });
  svg.appendChild(bars);
  svg.appendChild(el("line", { class: "axis", x1: left, x2: left, y1: top, y2: base }));
  svg.appendChild(el("line", { class: "axis", x1: left, x2: left + plotW, y1: base, y2: base }));
  svg.appendChild(el("text", { class: "axis-title", x: left + plotW / 2, y: height - 10, "text-anchor": "middle" }, xTitle));
  return svg;
}

function fillTable(table, caption, head, rows) {
  table.replaceChildren();
  const cap = document.createElement("caption");
  cap.textContent = caption;
  table.appendChild(cap);
  const thead = table.createTHead().insertRow();
  for (const text of head) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = text;
    thead.appendChild(th);
  }
  const body = table.createTBody();
  for (const cells of rows) {
    const tr = body.insertRow();
    cells.forEach((text, index) => {
      const cell = document.createElement(index === 0 ? "th" : "td");
      if (index === 0) cell.scope = "row";
      cell.textContent = text;
      tr.appendChild(cell);
    });
  }
}

// -- the three charts --------------------------------------------------------------------------

function drawContacts(data) {
  const running = new Set(data.weeks.filter((w) => !w.ended).map((w) => w.week));
  const monday = new Map(data.weeks.map((w) => [w.week, w.monday]));
  const items = data.contacts_per_week.map((w) => ({
    ...w, label: dayText(monday.get(w.week)) + (running.has(w.week) ? " *" : ""),
    tip: `Week of ${monday.get(w.week)}: ${amountInWords(w, "contacts")}`,
  }));
  const shown = items.filter((i) => i.count !== null).length;
  $("contacts-figure").replaceChildren(columnChart("contacts-svg", items, {
    title: `Contacts per week, ${data.weeks.length} weeks from ${data.weeks[0].monday}`,
    description: `Bar chart: ${shown} of ${items.length} weeks have a published count; the table after the chart lists every week.`,
    xTitle: "Week starting (Monday)", yTitle: "Contacts",
  }));
  const notes = [];
  const hidden = items.filter((i) => i.count === null).length;
  if (hidden) notes.push(`${hidden} ${hidden === 1 ? "week is" : "weeks are"} not shown: fewer than 5 contacts, or a count that would give one back.`);
  if (items.some((i) => i.count !== null && i.suppressed)) notes.push("“+”: some helplines' counts that week are small and not shown.");
  if (running.size) notes.push("* This week is not over: its figures will still change.");
  $("contacts-notes").textContent = notes.join(" ");
  const countries = data.countries.length > 1 ? data.countries : [];
  fillTable($("contacts-table"), "Contacts per week", ["Week starting", "Contacts", ...countries.map((c) => c.name)],
    data.contacts_per_week.map((w) => [monday.get(w.week) + (running.has(w.week) ? " (not over)" : ""), amountInWords(w, "contacts"),
      ...countries.map((c) => { const f = w.countries.find((x) => x.country === c.code); return f ? amountInWords(f, "") : "0"; })]));
}

function drawNeeds(data) {
  const figure = $("needs-figure");
  figure.replaceChildren();
  const rows = [];
  if (!data.needs_by_country.length) {
    const p = document.createElement("p");
    p.textContent = "No contacts in these weeks.";
    figure.appendChild(p);
  }
  for (const country of data.needs_by_country) {
    const heading = document.createElement("h4");
    heading.textContent = `${country.name} (${country.country})`;
    figure.appendChild(heading);
    const items = country.categories.map((c) => ({ ...c, tip: `${country.name}, ${c.label}: ${amountInWords(c, "contacts")}` }));
    const hidden = items.filter((i) => i.count === null).length;
    figure.appendChild(barChart(`needs-svg-${country.country}`, items, {
      title: `Needs in ${country.name}`,
      description: `Horizontal bar chart of ${items.length} needs; ${hidden} not shown because their counts are small. The numbers are in the table after the charts.`,
      xTitle: "Contacts",
    }));
    for (const c of items) rows.push([`${country.name}: ${c.label}`, amountInWords(c, "contacts")]);
  }
  fillTable($("needs-table"), "Contacts by need and country", ["Country and need", "Contacts"], rows);
}

function drawHandoff(data) {
  const handoff = data.handoff;
  const items = handoff.claim_times.map((b) => ({ ...b, label: b.label, tip: `Claimed ${b.label}: ${amountInWords(b, "conversations")}` }));
  const total = handoff.figures.opened;
  $("handoff-figure").replaceChildren(columnChart("handoff-svg", items, {
    title: "Time until a counsellor took the conversation",
    description: `Bar chart of ${items.length} waiting times; the table after the chart has the numbers. Tickets opened: ${amountInWords(total, "")}.`,
    xTitle: "Time the child waited until a counsellor took the conversation", yTitle: "Conversations",
  }));
  const share = handoff.share_handed_off;
  $("handoff-share").textContent = share.share === null
    ? "Share handed off to a counsellor: not shown (too few conversations to publish)."
    : `Share handed off to a counsellor: ${(share.share * 100).toFixed(1)}% of conversations (${share.opened} of ${share.conversations}` +
      (share.rows < share.of_rows ? `, from the ${share.rows} of ${share.of_rows} week and channel figures that publish both)` : ")") + ".";
  const f = handoff.figures;
  // The published "claimed" rows and the buckets' rows are suppressed apart: each sum is a lower bound.
  const buckets = items.reduce((sum, b) => sum + (b.count || 0), 0);
  const hiddenClaims = f.claimed.suppressed || items.some((b) => b.suppressed);
  const claimed = hiddenClaims ? `at least ${Math.max(f.claimed.count || 0, buckets)}` : String(f.claimed.count);
  $("handoff-notes").textContent = `Handed off: ${amountInWords(f.opened, "")}. Taken by a counsellor: ${claimed}. ` +
    `Abandoned (nobody took it in time, or the child left first): ${amountInWords(f.abandoned, "")}.`;
  fillTable($("handoff-table"), "Handoffs by time until a counsellor took the conversation", ["Figure", "Conversations"], [
    ...items.map((b) => [`Claimed ${b.label}`, amountInWords(b, "")]),
    ["Handed off (tickets opened)", amountInWords(f.opened, "")], ["Taken by a counsellor", claimed],
    ["Abandoned", amountInWords(f.abandoned, "")], ["Conversations", amountInWords(f.conversations, "")],
  ]);
}

// -- the page ----------------------------------------------------------------------------------

async function loadStatistics() {
  const params = new URLSearchParams({ from: $("from").value, to: $("to").value });
  if ($("country").value) params.set("country", $("country").value);
  $("stats-error").textContent = "";
  $("stats-status").textContent = "Loading…";
  const { status, data } = await api("GET", "/api/stats?" + params);
  if (status !== 200) { $("stats-status").textContent = ""; $("stats-error").textContent = data.error; return; }
  for (const c of data.countries) state.countries.set(c.code, c.name);
  if (state.me.statistics === "all") fillCountries();
  const scope = data.helpline === "all" ? "all helplines" : `${countryName(data.helpline)} (${data.helpline})`;
  $("stats-title").textContent = `Statistics for ${scope}`;
  drawContacts(data);
  drawNeeds(data);
  drawHandoff(data);
  $("stats-status").textContent = `Showing ${data.weeks.length} weeks from ${data.weeks[0].monday} for ${scope}.`;
}

function fillCountries() {
  const select = $("country"), chosen = select.value;
  const codes = [...state.countries.keys()].sort((a, b) => (a === "unknown") - (b === "unknown") || a.localeCompare(b));
  select.replaceChildren(new Option("All helplines", ""), ...codes.map((code) => new Option(`${countryName(code)} (${code})`, code)));
  select.value = chosen;
  $("country-box").hidden = false;
}

function defaultRange() {
  const today = new Date();
  const monday = new Date(today.getTime() - ((today.getDay() + 6) % 7) * DAY_MS);
  $("from").value = isoDay(new Date(monday.getTime() - 7 * 7 * DAY_MS));  // this week and the 7 before it
  $("to").value = isoDay(today);
}

async function loadLanguages() {
  const { status, data } = await api("GET", "/api/languages");
  if (status !== 200) { $("languages-status").textContent = data.error; return; }
  const reviewed = data.languages.filter((l) => l.reviewed > 0).length;
  $("languages-status").textContent = `${data.languages.length} languages; ${reviewed} with texts reviewed by a native speaker.`;
  fillTable($("languages-table"), "Languages, their tier and who checked their texts",
    ["Language", "Code", "Tier", "Texts reviewed", "Review"],
    data.languages.map((l) => [l.name, l.code, l.tier, `${l.reviewed} of ${l.texts}`, l.state]));
}

async function start(me, focus) {
  state.me = me;
  state.csrf = me.csrf;
  $("who").textContent = me.helpline ? `${me.username} · helpline ${me.helpline} · ${me.role}` : `${me.username} · all helplines`;
  $("console-link").hidden = !me.helpline;  // a global admin has no desk
  $("logout-box").hidden = false;
  $("login-view").hidden = true;
  if (!me.statistics) {
    $("denied-view").hidden = false;
    if (focus) $("denied-title").focus();
    return;
  }
  $("stats-view").hidden = false;
  defaultRange();
  if (focus) $("stats-title").focus();  // the login form is gone: say where the admin now is
  await Promise.all([loadStatistics(), loadLanguages()]);
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const { status, data } = await api("POST", "/api/login", { username: $("username").value, password: $("password").value });
  if (status !== 200) { $("login-error").textContent = data.error; return; }
  const me = await api("GET", "/api/me");
  if (me.status === 200) await start(me.data, true);
});

$("range-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  await loadStatistics();
});

$("logout").addEventListener("click", async () => {
  await api("POST", "/api/logout");
  window.location.reload();
});

(async () => {  // a session from the console carries over; otherwise, log in here
  const { status, data } = await api("GET", "/api/me");
  if (status === 200) { await start(data, false); return; }
  $("login-view").hidden = false;
})();
