// The counsellor console: plain DOM, no framework. Everything a child wrote is shown with
// textContent, never as HTML. The page listens to the helpline's events (/api/events, carried by
// Redis from whichever process made them) and refetches the queue or the open conversation when
// they change; a slow timer only keeps the waiting times current. Each message to the child shows
// its delivery state (waiting to be sent, sent, delivered, not delivered and why); a message that
// could not be delivered is also said out loud, so the counsellor can try another way.
"use strict";
const state = { csrf: "", ticket: null, events: null, timer: null, waiting: null, draft: null, told: new Set() };
const $ = (id) => document.getElementById(id);
const RISK = { 3: "Imminent", 2: "Abuse", 1: "Asked for a person" };

async function api(method, path, body) {
  const options = { method, headers: { "Content-Type": "application/json" }, credentials: "same-origin" };
  if (method !== "GET") { options.headers["X-CSRF-Token"] = state.csrf; options.body = JSON.stringify(body || {}); }
  const answer = await fetch(path, options);
  return { status: answer.status, data: await answer.json() };
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
}

async function refreshQueue() {
  const { status, data } = await api("GET", "/api/queue");
  if (status !== 200) return;
  const rows = $("queue-rows");
  // The rows are rebuilt: a keyboard user's focus stays on the same child's Claim button.
  const focused = rows.contains(document.activeElement) ? document.activeElement.dataset.ticket : null;
  rows.replaceChildren();
  for (const t of data.waiting) {
    const row = document.createElement("tr");
    cell(row, String(t.position));
    cell(row, RISK[t.risk] || String(t.risk), "risk-" + t.risk);
    cell(row, t.reason);
    cell(row, t.language);
    cell(row, t.channel);
    cell(row, Math.round(t.waiting_s / 60) + " min");
    cell(row, intakeText(t.intake));
    cell(row, t.last_messages.slice(-3).join(" / "));
    const td = document.createElement("td");
    const claim = document.createElement("button");
    claim.textContent = "Claim";
    claim.setAttribute("aria-label", "Claim conversation in place " + t.position);
    claim.dataset.ticket = t.id;
    claim.addEventListener("click", () => claimTicket(t.id));
    td.appendChild(claim);
    row.appendChild(td);
    rows.appendChild(row);
  }
  $("queue-table").hidden = data.waiting.length === 0;
  $("queue-empty").hidden = data.waiting.length !== 0;
  if (focused) {
    const same = [...rows.querySelectorAll("button")].find((b) => b.dataset.ticket === focused);
    (same || $("queue-title")).focus();  // claimed by someone else: back to the heading
  }
  if (state.waiting !== data.waiting.length) {  // said by screen readers, politely, when it changes
    state.waiting = data.waiting.length;
    $("queue-status").textContent = state.waiting === 1 ? "1 child waiting" : `${state.waiting} children waiting`;
  }
}

function intakeText(intake) {
  const parts = [];
  if (intake.who) parts.push("About: " + intake.who);
  if (intake.age) parts.push("Age: " + intake.age);
  if (intake.what) parts.push("What happened: " + intake.what);
  return parts.join("; ") || "—";
}

async function claimTicket(id) {
  const { status, data } = await api("POST", `/api/tickets/${id}/claim`);
  if (status !== 200) { $("chat-error").textContent = data.error; return; }
  state.ticket = id;
  $("chat-view").hidden = false;
  $("messages").replaceChildren();
  const t = data.ticket;
  $("chat-info").textContent = `${t.language} · ${t.channel} · ${t.reason} · ${intakeText(t.intake)}`;
  await loadCanned(id);
  await refreshChat();
  $("reply").focus();
}

async function loadCanned(id) {
  const { status, data } = await api("GET", `/api/tickets/${id}/canned`);
  const select = $("canned");
  select.replaceChildren(new Option("Choose a prepared reply…", ""));
  if (status !== 200) return;
  for (const r of data.replies) {
    const option = new Option(r.english, r.text);  // the counsellor reads English; the child gets their language
    select.appendChild(option);
  }
}

async function loadOutcomes() {
  const { status, data } = await api("GET", "/api/outcomes");
  if (status !== 200) return;
  $("outcome").replaceChildren(...data.outcomes.map((o) => new Option(o.label, o.code)));
}

function listen() {
  // EventSource reconnects by itself and sends Last-Event-ID, so nothing is missed.
  state.events = new EventSource("/api/events");
  for (const kind of ["opened", "changed", "message", "delivery"]) {
    state.events.addEventListener(kind, (event) => {
      const ticket = JSON.parse(event.data).ticket;
      if (kind !== "message" && kind !== "delivery") refreshQueue();
      if (ticket === state.ticket) refreshChat();
    });
  }
}

function endChat() {
  state.ticket = null;
  state.told = new Set();
  $("chat-view").hidden = true;
  $("messages").replaceChildren();
  $("queue-title").focus();  // the focused button was just hidden: keyboard users go on from the queue
}

async function refreshChat() {
  const ticket = state.ticket;
  if (!ticket) return;
  const { status, data } = await api("GET", `/api/tickets/${ticket}/messages`);
  if (status !== 200 || ticket !== state.ticket) return;  // an answer for a conversation since left
  const list = $("messages");
  // A conversation only grows: only the new messages are added, so the log (a live region) reads
  // out only those; an older answer that arrives late adds nothing. Delivery states change in place.
  for (const m of data.messages.slice(list.children.length)) {
    const item = document.createElement("li");
    item.className = m.author === "child" ? "child" : "counsellor";
    const who = m.author === "child" ? "Child: " : m.author === "bot" ? "Bot: " : "You: ";
    const said = document.createElement("span");
    said.textContent = who + m.text;
    const delivery = document.createElement("span");
    delivery.className = "delivery";
    item.append(said, delivery);
    list.appendChild(item);
  }
  data.messages.forEach((m, index) => {
    if (!m.delivery) return;
    const shown = list.children[index].querySelector(".delivery");
    const text = deliveryText(m.delivery);
    if (shown.textContent !== text) shown.textContent = text;
    shown.classList.toggle("error", m.delivery.state === "failed");
    if (m.delivery.state === "failed" && !state.told.has(index)) {
      state.told.add(index);
      $("chat-error").textContent = `A message could not be delivered: ${m.delivery.reason}. Try another way to reach the child.`;
    }
  });
  $("messages-box").scrollTop = $("messages-box").scrollHeight;
}

function deliveryText(delivery) {
  if (delivery.state === "failed") return ` — Not delivered: ${delivery.reason}. Try another way to reach the child.`;
  if (delivery.state === "delivered") return " — Delivered";
  if (delivery.state === "sent") return " — Sent";
  return delivery.reason ? ` — Not sent yet, trying again (${delivery.reason})` : " — Waiting to be sent";
}

function draftKey(text) {
  // One key per message written: a double click, or sending again after a failed request, sends it once.
  if (!state.draft || state.draft.text !== text) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    state.draft = { text, key: Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("") };
  }
  return state.draft.key;
}


$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const { status, data } = await api("POST", "/api/login", { username: $("username").value, password: $("password").value });
  if (status !== 200) { $("login-error").textContent = data.error; return; }
  state.csrf = data.csrf;
  if (data.role === "global_admin") { window.location.assign("/admin"); return; }  // no desk: their page is the statistics
  $("who").textContent = `${data.username} · helpline ${data.helpline}`;
  $("admin-link").hidden = data.role !== "admin";
  $("login-view").hidden = true;
  $("queue-view").hidden = false;
  listen();
  await loadOutcomes();
  await refreshQueue();
  $("queue-title").focus();  // the login form is gone: say where the counsellor now is
  state.timer = setInterval(refreshQueue, 30000);
});

$("canned").addEventListener("change", () => {
  if ($("canned").value) { $("reply").value = $("canned").value; $("reply").focus(); }
});

$("reply-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("reply").value;
  const { status, data } = await api("POST", `/api/tickets/${state.ticket}/reply`, { text, key: draftKey(text) });
  if (status !== 200) { $("chat-error").textContent = data.error; return; }
  state.draft = null;
  $("reply").value = "";
  await refreshChat();
});

$("close-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const { status, data } = await api("POST", `/api/tickets/${state.ticket}/close`, { outcome: $("outcome").value });
  if (status !== 200) { $("chat-error").textContent = data.error; return; }
  endChat();
});

$("handback").addEventListener("click", async () => {
  const { status, data } = await api("POST", `/api/tickets/${state.ticket}/handback`);
  if (status !== 200) { $("chat-error").textContent = data.error; return; }
  endChat();
});

$("transfer-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const { status, data } = await api("POST", `/api/tickets/${state.ticket}/transfer`, { to: $("transfer-to").value });
  if (status !== 200) { $("chat-error").textContent = data.error; return; }
  endChat();
});
