// The counsellor console: plain DOM, no framework. Everything a child wrote is shown with
// textContent, never as HTML. The queue and the open conversation refresh every 0.5 s.
"use strict";
const state = { csrf: "", ticket: null, timer: null, waiting: null };
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

async function claimTicket(id) {
  const { status, data } = await api("POST", `/api/tickets/${id}/claim`);
  if (status !== 200) { $("chat-error").textContent = data.error; return; }
  state.ticket = id;
  $("chat-view").hidden = false;
  $("messages").replaceChildren();
  $("chat-info").textContent = `${data.ticket.language} · ${data.ticket.channel} · ${data.ticket.reason}`;
  await refreshChat();
  $("reply").focus();
}

async function refreshChat() {
  const ticket = state.ticket;
  if (!ticket) return;
  const { status, data } = await api("GET", `/api/tickets/${ticket}/messages`);
  if (status !== 200 || ticket !== state.ticket) return;  // an answer for a conversation since left
  const list = $("messages");
  // A conversation only grows: only the new messages are added, so the log (a live region) reads
  // out only those; an older answer that arrives late adds nothing.
  for (const m of data.messages.slice(list.children.length)) {
    const item = document.createElement("li");
    item.className = m.author === "child" ? "child" : "counsellor";
    item.textContent = (m.author === "child" ? "Child: " : "You: ") + m.text;
    list.appendChild(item);
  }
  $("messages-box").scrollTop = $("messages-box").scrollHeight;
}

async function tick() { await refreshQueue(); await refreshChat(); }

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
  await tick();
  $("queue-title").focus();  // the login form is gone: say where the counsellor now is
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
  $("queue-title").focus();  // the focused button was just hidden: keyboard users go on from the queue
});

$("transfer-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const { status, data } = await api("POST", `/api/tickets/${state.ticket}/transfer`, { to: $("transfer-to").value });
  if (status !== 200) { $("chat-error").textContent = data.error; return; }
  state.ticket = null;
  $("chat-view").hidden = true;
  $("messages").replaceChildren();
  $("queue-title").focus();
});
