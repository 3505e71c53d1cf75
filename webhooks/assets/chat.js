// The web chat page: shows the conversation (newest at the bottom), sends what the person
// types or presses, and follows new and updated messages as server-sent events. Plain
// JavaScript, no framework, nothing from outside; texts come from the page (data-*), so
// the page's language is the only one shown.
"use strict";

(function () {
  const history = document.getElementById("chat-history");
  const composer = document.getElementById("chat-composer");
  const input = document.getElementById("chat-text");
  const failure = document.getElementById("chat-error");
  if (!history || !composer || !input) {
    return;
  }
  const authors = {
    employee: history.dataset.you,
    frontdesk: history.dataset.frontdesk,
  };

  // One element per message id; an update replaces it where it stands.
  const shown = new Map();

  function paragraph(text) {
    const p = document.createElement("p");
    p.textContent = text;
    return p;
  }

  function renderBlock(block) {
    switch (block.type) {
      case "text":
        return paragraph(block.text);
      case "fields": {
        const list = document.createElement("dl");
        for (const field of block.fields) {
          const term = document.createElement("dt");
          term.textContent = field.label;
          const value = document.createElement("dd");
          value.textContent = field.value;
          list.append(term, value);
        }
        return list;
      }
      case "buttons": {
        const row = document.createElement("div");
        row.className = "chat-buttons";
        for (const button of block.buttons) {
          const element = document.createElement("button");
          element.type = "button";
          element.textContent = button.label;
          element.dataset.action = button.action;
          if (button.style !== "default") {
            element.classList.add(button.style);
          }
          row.append(element);
        }
        return row;
      }
      case "select": {
        // Choices are listed; picking them is for platforms with menus.
        const list = document.createElement("ul");
        for (const option of block.options) {
          const item = document.createElement("li");
          item.textContent = option.label;
          list.append(item);
        }
        return list;
      }
      case "image": {
        const image = document.createElement("img");
        image.src = block.url;
        image.alt = block.alt;
        return image;
      }
      default:
        return null;
    }
  }

  function renderMessage(message) {
    const item = document.createElement("li");
    item.className = "chat-message from-" + message.author;
    item.dataset.id = String(message.id);
    const author = document.createElement("span");
    author.className = "chat-author";
    author.textContent = authors[message.author] || "";
    item.append(author);
    for (const block of message.blocks) {
      const element = renderBlock(block);
      if (element) {
        item.append(element);
      }
    }
    return item;
  }

  // Adds or replaces a message, kept in id order (the order they were written).
  function show(message) {
    const element = renderMessage(message);
    const old = shown.get(message.id);
    shown.set(message.id, element);
    if (old) {
      old.replaceWith(element);
      return;
    }
    const atBottom = history.scrollHeight - history.scrollTop - history.clientHeight < 40;
    let next = null;
    for (const child of history.children) {
      if (Number(child.dataset.id) > message.id) {
        next = child;
        break;
      }
    }
    history.insertBefore(element, next);
    if (next === null && (atBottom || message.author === "employee")) {
      history.scrollTop = history.scrollHeight;
    }
  }

  async function post(path, body) {
    failure.hidden = true;
    try {
      const response = await fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        credentials: "same-origin",
        body: JSON.stringify(body),
      });
      if (response.status === 401) {
        // The session ended: the page shows the sign-in form.
        window.location.reload();
        return false;
      }
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      const answer = await response.json();
      answer.messages.forEach(show);
      return true;
    } catch (error) {
      failure.hidden = false;
      return false;
    }
  }

  composer.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (text === "") {
      return;
    }
    input.disabled = true;
    const sent = await post("/chat/messages", { text: text });
    input.disabled = false;
    if (sent) {
      input.value = "";
    }
    input.focus();
  });

  history.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (button) {
      post("/chat/actions", { action: button.dataset.action });
    }
  });

  // New and updated messages; the browser reconnects by itself with Last-Event-ID.
  const events = new EventSource("/chat/events");
  events.addEventListener("message", (event) => {
    show(JSON.parse(event.data));
  });
  window.addEventListener("pagehide", () => events.close());
})();
