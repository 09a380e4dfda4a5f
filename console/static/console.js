// The counsellor console: plain DOM, no framework. Everything a child wrote is shown with
// textContent, never as HTML. The queue and the open conversation refresh every 0.5 s.
"use strict";
const state = { csrf: "", ticket: null, timer: null };
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
  rows.replaceChildren();
  for (const t of data.waiting) {
    const row = document.createElement("tr");
    cell(row, String(t.position));
    cell(row, RISK[t.risk] || String(t.risk), "risk-" + t.risk);
    cell(row, t.reason);
    cell(row, t.language);
    cell(row, t.channel);
    cell(row, Math.round(t.waiting_s / 60) + " min");
    cell(row, t.last_messages.slice(-3).join(" / "));
    const td = document.createElement("td");
    const claim = document.createElement("button");
    claim.textContent = "Claim";
    claim.setAttribute("aria-label", "Claim conversation in place " + t.position);
    claim.addEventListener("click", () => claimTicket(t.id));
    td.appendChild(claim);
    row.appendChild(td);
    rows.appendChild(row);
  }
  $("queue-table").hidden = data.waiting.length === 0;
  $("queue-empty").hidden = data.waiting.length !== 0;
}

async function claimTicket(id) {
  const { status, data } = await api("POST", `/api/tickets/${id}/claim`);
  if (status !== 200) { $("chat-error").textContent = data.error; return; }
  state.ticket = id;
  $("chat-view").hidden = false;
  $("chat-info").textContent = `${data.ticket.language} · ${data.ticket.channel} · ${data.ticket.reason}`;
  await refreshChat();
  $("reply").focus();
}

async function refreshChat() {
  if (!state.ticket) return;
  const { status, data } = await api("GET", `/api/tickets/${state.ticket}/messages`);
  if (status !== 200) return;
  const list = $("messages");
  if (list.children.length === data.messages.length) return;
  list.replaceChildren();
  for (const m of data.messages) {
    const item = document.createElement("li");
    item.className = m.author === "child" ? "child" : "counsellor";
    item.textContent = (m.author === "child" ? "Child: " : "You: ") + m.text;
    list.appendChild(item);
  }
  list.scrollTop = list.scrollHeight;
}

async function tick() { await refreshQueue(); await refreshChat(); }

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const { status, data } = await api("POST", "/api/login", { username: $("username").value, password: $("password").value });
  if (status !== 200) { $("login-error").textContent = data.error; return; }
  state.csrf = data.csrf;
  $("who").textContent = `${data.username} · helpline ${data.helpline}`;
  $("login-view").hidden = true;
  $("queue-view").hidden = false;
  await tick();
  state.timer = setInterval(tick, 500);
});

$("reply-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const { status, data } = await api("POST", `/api/tickets/${state.ticket}/reply`, { text: $("reply").value });
  if (status !== 200) { $("chat-error").textContent = data.error; return; }
  $("reply").value = "";
  await refreshChat();
});

$("close-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const { status, data } = await api("POST", `/api/tickets/${state.ticket}/close`, { outcome: $("outcome").value });
  if (status !== 200) { $("chat-error").textContent = data.error; return; }
  state.ticket = null;
  $("chat-view").hidden = true;
  $("messages").replaceChildren();
});

$("transfer-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const { status, data } = await api("POST", `/api/tickets/${state.ticket}/transfer`, { to: $("transfer-to").value });
  if (status !== 200) { $("chat-error").textContent = data.error; return; }
  state.ticket = null;
  $("chat-view").hidden = true;
});
