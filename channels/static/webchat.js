// The web chat page: sends the child's messages, shows the replies, and fetches what a
// counsellor writes (a long poll of the inbox). The chat's token is issued by the server in the
// answer to the first message, so messages go one at a time: each uses the token the answer
// before it gave. The token and what the page shows live in sessionStorage only, so a reload
// keeps the chat and closing the tab ends it; "Leave this page quickly" forgets both at once.
"use strict";
(() => {
  const TOKEN = "helpline-chat-token", CURSOR = "helpline-chat-cursor", SHOWN = "helpline-chat-shown";
  const KEPT = 100; // messages a reload shows again
  const hints = JSON.parse(document.body.dataset.hints || "{}");
  const list = document.getElementById("messages");
  const form = document.getElementById("write");
  const box = document.getElementById("message");
  const problem = document.getElementById("problem");
  const seen = new Set();
  let polling = null;
  let sending = Promise.resolve(); // the messages still on their way, one after another

  function randomId(bytes) {
    const values = crypto.getRandomValues(new Uint8Array(bytes));
    return Array.from(values, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function headers() {
    const token = sessionStorage.getItem(TOKEN);
    return Object.assign({ "Content-Type": "application/json" }, token ? { "Authorization": "Bearer " + token } : {});
  }

  // The server names the chat: a first message (or one whose token it refused) gets a new token.
  function keep(token) {
    if (!token || token === sessionStorage.getItem(TOKEN)) return;
    sessionStorage.setItem(TOKEN, token);
    sessionStorage.setItem(CURSOR, "0-0");
    if (polling) polling.abort();
    poll();
  }

  function shown() {
    try {
      return JSON.parse(sessionStorage.getItem(SHOWN) || "[]");
    } catch (error) {
      return [];
    }
  }

  function show(message, who) {
    if (message.id) {
      if (seen.has(message.id)) return;
      seen.add(message.id);
    }
    sessionStorage.setItem(SHOWN, JSON.stringify(shown().concat([{ message, who }]).slice(-KEPT)));
    render(message, who);
  }

  function render(message, who) {
    if (message.id) seen.add(message.id);
    const item = document.createElement("li");
    item.className = who;
    item.textContent = message.text; // text, never HTML
    if (message.buttons && message.buttons.length) {
      const choices = document.createElement("div");
      choices.className = "choices";
      for (const choice of message.buttons) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = choice.title;
        button.addEventListener("click", () => send(choice.payload, choice.title));
        choices.appendChild(button);
      }
      item.appendChild(choices);
    }
    list.appendChild(item);
    item.scrollIntoView({ block: "end" });
  }

  function send(text, label) {
    problem.hidden = true;
    show({ text: label || text }, "child");
    sending = sending.then(() => post(text));
  }

  async function post(text) {
    try {
      const answer = await fetch("webhook", {
        method: "POST", headers: headers(),
        body: JSON.stringify({ message: text, id: randomId(16), metadata: hints }),
      });
      if (!answer.ok) throw new Error(String(answer.status));
      const reply = await answer.json();
      if (reply.erased) startOver();
      else keep(reply.token);
      for (const message of reply.messages) show(message, "bot");
    } catch (error) {
      problem.textContent = document.body.dataset.notSent;
      problem.hidden = false;
    }
  }

  // After "delete my data": nothing of the old chat stays on the page or in the browser; the next
  // message starts a new chat with a new token.
  function startOver() {
    sessionStorage.removeItem(TOKEN);
    sessionStorage.removeItem(CURSOR);
    sessionStorage.removeItem(SHOWN);
    list.replaceChildren();
    seen.clear();
    if (polling) polling.abort();
  }

  async function poll() {
    const stop = (polling = new AbortController());
    while (!stop.signal.aborted) {
      try {
        const cursor = sessionStorage.getItem(CURSOR) || "0-0";
        const answer = await fetch("inbox?after=" + encodeURIComponent(cursor), { headers: headers(), signal: stop.signal });
        if (answer.status === 401) return; // a token this server no longer takes: the next message gets a new one
        if (!answer.ok) throw new Error(String(answer.status));
        const inbox = await answer.json();
        for (const message of inbox.messages) show(message, "bot");
        sessionStorage.setItem(CURSOR, inbox.cursor);
      } catch (error) {
        if (stop.signal.aborted) return;
        await new Promise((resume) => setTimeout(resume, 3000));
      }
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = box.value.trim();
    if (!text) return;
    box.value = "";
    send(text);
  });
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  document.getElementById("leave").addEventListener("click", () => {
    sessionStorage.clear();
    location.replace("https://www.google.com/");
  });
  for (const entry of shown()) render(entry.message, entry.who);
  if (sessionStorage.getItem(TOKEN)) poll(); // a reload of a chat under way
})();
