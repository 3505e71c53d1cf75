// Meeting rooms: the room page (/r/{room}) and its door display (/r/{room}/door), one
// script with a mode, against the rooms API (/api/v1/rooms/{room}/...); the print button of
// a room's QR code (/r/{room}/qr); and the rooms admin page (/admin/rooms). Plain
// JavaScript, no framework, nothing from outside.
//
// The room's status comes live from the API's event stream; when the stream fails, the
// status is asked for every 30 seconds until the stream is back. Texts come from the page
// (data-texts holds them in Japanese and English), so the language switches in place; an
// error the API answers with is shown in the page's language by its problem type.
"use strict";

// A room's QR code to print: the print button.
(function () {
  const print = document.getElementById("room-qr-print");
  if (!print) {
    return;
  }
  print.addEventListener("click", () => window.print());
})();

// The language a person chose, kept for every page of this server (the server reads it
// before Accept-Language).
function rememberLanguage(language) {
  const secure = window.location.protocol === "https:" ? "; Secure" : "";
  document.cookie = "fd_lang=" + language + "; path=/; max-age=31536000; SameSite=Lax" + secure;
}

// What the server answered as a problem (application/problem+json), or {}.
async function problemOf(reply) {
  try {
    const problem = await reply.json();
    return problem && typeof problem === "object" ? problem : {};
  } catch (err) {
    return {};
  }
}

// The rooms admin page: the language switch (the page again, in the other language),
// signing in, and adding a door display, whose pairing code, link and QR code are shown.
// The page is in one language; its texts for the script are in #room-admin's attributes.
(function () {
  const admin = document.getElementById("room-admin");
  if (!admin) {
    return;
  }
  const language = document.documentElement.lang === "en" ? "en" : "ja";

  function setText(element, text) {
    element.textContent = text;
    element.hidden = !text;
  }

  function post(path, body) {
    return fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "Content-Type": "application/json", "Accept-Language": language },
      body: JSON.stringify(body),
    });
  }

  // A door display revoked: its tablet stops showing the room at once (its open stream is
  // told), and the list says so in place of the button. The first press asks again: a
  // revoked tablet has to be paired anew at the door.
  for (const item of admin.querySelectorAll(".door-item")) {
    const button = item.querySelector(".door-revoke");
    const error = item.querySelector(".door-item-error");
    button.addEventListener("click", async () => {
      if (!button.dataset.confirming) {
        button.dataset.confirming = "yes";
        button.textContent = admin.dataset.revokeConfirm;
        return;
      }
      button.disabled = true;
      setText(error, "");
      const state = item.querySelector(".door-item-state");
      let reply;
      try {
        reply = await fetch("/api/v1/door-displays/" + encodeURIComponent(item.dataset.door), {
          method: "DELETE",
          credentials: "same-origin",
          headers: { Accept: "application/json", "Accept-Language": language },
        });
      } catch (err) {
        setText(error, admin.dataset.unreachable);
        button.disabled = false;
        return;
      }
      if (!reply.ok) {
        const problem = await problemOf(reply);
        setText(error, [admin.dataset.revokeFailed, problem.detail || problem.title].filter(Boolean).join(" "));
        button.disabled = false;
        return;
      }
      state.textContent = admin.dataset.revoked;
      item.classList.add("door-revoked");
      button.remove();
    });
  }

  for (const button of document.querySelectorAll(".room-language")) {
    button.addEventListener("click", () => {
      rememberLanguage(button.dataset.lang === "en" ? "en" : "ja");
      window.location.reload();
    });
  }

  const signIn = document.getElementById("admin-sign-in");
  if (signIn) {
    signIn.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = document.getElementById("sign-in-error");
      setText(error, "");
      const body = {
        tenant: signIn.elements.tenant.value.trim(),
        email: signIn.elements.email.value.trim(),
        password: signIn.elements.password.value,
      };
      let reply;
      try {
        reply = await post("/api/v1/auth/login", body);
      } catch (err) {
        setText(error, admin.dataset.unreachable);
        return;
      }
      if (reply.ok) {
        window.location.reload();
        return;
      }
      const problem = await problemOf(reply);
      setText(error, [problem.title, problem.detail].filter(Boolean).join(" "));
      signIn.elements.password.value = "";
    });
  }

  for (const form of admin.querySelectorAll(".door-form")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = form.querySelector(".error");
      const button = form.querySelector("button[type='submit']");
      setText(error, "");
      button.disabled = true;
      const path = "/api/v1/rooms/" + encodeURIComponent(form.dataset.room) + "/door-displays";
      let reply;
      try {
        reply = await post(path, { name: form.elements.name.value.trim() });
      } catch (err) {
        setText(error, admin.dataset.unreachable);
        return;
      } finally {
        button.disabled = false;
      }
      if (!reply.ok) {
        const problem = await problemOf(reply);
        setText(error, [admin.dataset.failed, problem.detail || problem.title].filter(Boolean).join(" "));
        return;
      }
      const pairing = await reply.json();
      form.querySelector(".door-pairing-code").textContent = pairing.pairing_code;
      const link = form.querySelector(".door-pairing-url");
      link.href = pairing.pairing_url;
      link.textContent = pairing.pairing_url;
      // The QR code is this server's SVG, parsed as SVG (not HTML) and put in place.
      const svg = new DOMParser().parseFromString(pairing.pairing_qr_svg, "image/svg+xml").documentElement;
      const qr = form.querySelector(".door-pairing-qr");
      qr.replaceChildren();
      if (svg.nodeName === "svg") {
        qr.append(document.importNode(svg, true));
      }
      const expires = new Date(pairing.expires_at).toLocaleString(language === "ja" ? "ja-JP" : "en-GB", {
        dateStyle: "medium",
        timeStyle: "short",
      });
      form.querySelector(".door-pairing-expires").textContent = admin.dataset.expires.split("{time}").join(expires);
      form.querySelector(".door-pairing").hidden = false;
    });
  }
})();

// The room page and the door display.
(function () {
  const root = document.getElementById("room");
  if (!root) {
    return;
  }
  const slug = root.dataset.room;
  const door = root.dataset.mode === "door";
  const catalogue = JSON.parse(root.dataset.texts);
  const api = "/api/v1/rooms/" + encodeURIComponent(slug);
  const startLanguage = document.documentElement.lang === "en" ? "en" : "ja";

  // While the stream is down, the status is asked for this often (ms).
  const POLL_EVERY = 30000;
  // How often the other rooms free now are looked up again.
  const OTHERS_EVERY = 60000;
  // A request that has not answered by then counts as the server being unreachable.
  const REQUEST_TIMEOUT = 10000;
  // While the room cannot be loaded at all, it is tried again this often.
  const RETRY_EVERY = 5000;
  // A meeting can be checked in to this long before it starts (the API's rule).
  const EARLY_CHECK_IN = 10 * 60 * 1000;
  // The door display speaks its own language again after this long.
  const DOOR_LANGUAGE_FOR = 120000;
  const STATE_TEXTS = {
    free: "room_page.state.free",
    booked: "room_page.state.booked",
    in_use: "room_page.state.in_use",
  };
  const EQUIPMENT_TEXTS = {
    display: "room_page.equipment.display",
    video: "room_page.equipment.video",
    whiteboard: "room_page.equipment.whiteboard",
  };
  // The problems (urn:frontdesk:problem:<kind>) whose titles the page carries.
  const PROBLEM_TEXTS = {
    "room-not-free": "error.room_not_free",
    "no-meeting-now": "error.no_meeting_now",
    "meeting-released": "error.meeting_released",
    "room-sign-in-needed": "error.room_sign_in_needed",
    "device-not-paired": "error.device_not_paired",
    "wrong-pairing-code": "error.wrong_pairing_code",
    "not-found": "error.not_found",
    invalid: "error.invalid",
    throttled: "error.throttled",
  };

  let language = startLanguage;
  let languageTimer = null;
  let screen = "loading";
  // The room's status as the API last said it, and the room's time zone.
  let status = null;
  let zone = "UTC";
  // Rooms free now other than this one (null: not known, or not allowed to look).
  let others = null;
  let othersTimer = null;
  let events = null;
  let pollTimer = null;
  let busyNow = false;
  // What went wrong, kept as {key} or {problem} so it is shown again in another language.
  let actionError = null;
  let loadingError = null;
  let pairingError = null;

  const $ = (id) => document.getElementById(id);

  // ---- texts ----

  function t(key, values) {
    let text = (catalogue[language] && catalogue[language][key]) || key;
    for (const [name, value] of Object.entries(values || {})) {
      text = text.split("{" + name + "}").join(String(value));
    }
    return text;
  }

  function setText(element, text) {
    element.textContent = text;
    element.hidden = !text;
  }

  // What a person reads about `error`: the page's own text for it, else the server's.
  function errorText(error) {
    if (!error) {
      return "";
    }
    if (error.key) {
      return t(error.key);
    }
    const problem = error.problem || {};
    const kind = typeof problem.type === "string" ? problem.type.split(":").pop() : "";
    const key = PROBLEM_TEXTS[kind];
    if (key) {
      return t(key);
    }
    return problem.title || problem.detail || t("room_page.error.failed");
  }

  function renderErrors() {
    setText($("room-error"), errorText(actionError));
    setText($("loading-problem"), errorText(loadingError));
    setText($("pairing-error"), errorText(pairingError));
  }

  // "10:30" in the room's time zone (or `timeZone`'s).
  function clock(iso, timeZone) {
    const format = new Intl.DateTimeFormat(language === "ja" ? "ja-JP" : "en-GB", {
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
      timeZone: timeZone || zone,
    });
    return format.format(new Date(iso));
  }

  // The room's day of `iso`, to tell today's meetings from tomorrow's.
  function dayOf(iso) {
    return new Intl.DateTimeFormat("en-CA", { timeZone: zone }).format(new Date(iso));
  }

  // "10:30–11:00", with the day in front when it is not today.
  function span(meeting) {
    let text = clock(meeting.start) + "–" + clock(meeting.end);
    if (status && dayOf(meeting.start) !== dayOf(status.now)) {
      const day = new Intl.DateTimeFormat(language === "ja" ? "ja-JP" : "en-GB", {
        weekday: "short",
        month: "short",
        day: "numeric",
        timeZone: zone,
      }).format(new Date(meeting.start));
      text = day + " " + text;
    }
    return text;
  }

  // A meeting's title and organizer; a private one is only that.
  function meetingText(meeting) {
    if (meeting.private) {
      return t("room_page.private");
    }
    const title = meeting.title || t("room_page.untitled");
    return meeting.organizer ? title + " · " + meeting.organizer : title;
  }

  // "6 seats · Display, Whiteboard · Floor 3"
  function about(details) {
    const parts = [t("room_page.seats", { count: details.capacity })];
    const equipment = (details.equipment || []).map((word) => (EQUIPMENT_TEXTS[word] ? t(EQUIPMENT_TEXTS[word]) : word));
    if (equipment.length) {
      parts.push(equipment.join(language === "ja" ? "、" : ", "));
    }
    if (details.floor !== null && details.floor !== undefined) {
      parts.push(t("room_page.floor", { floor: details.floor }));
    }
    return parts.join(" · ");
  }

  function applyLanguage() {
    document.documentElement.lang = language;
    for (const element of document.querySelectorAll("[data-t]")) {
      element.textContent = t(element.dataset.t);
    }
    for (const element of document.querySelectorAll("[data-t-aria-label]")) {
      element.setAttribute("aria-label", t(element.dataset.tAriaLabel));
    }
    for (const button of document.querySelectorAll(".room-language")) {
      button.setAttribute("aria-pressed", String(button.dataset.lang === language));
    }
    for (const button of root.querySelectorAll("[data-extend]")) {
      button.textContent = t("room_page.action.minutes", { minutes: button.dataset.extend });
      button.setAttribute("aria-label", t("room_page.action.extend_by", { minutes: button.dataset.extend }));
    }
    for (const button of root.querySelectorAll("[data-book]")) {
      button.textContent = t("room_page.action.minutes", { minutes: button.dataset.book });
      button.setAttribute("aria-label", t("room_page.action.book_for", { minutes: button.dataset.book }));
    }
    renderTitle();
    render();
    renderOthers();
    renderErrors();
  }

  function renderTitle() {
    const name = status && status.details ? status.details.name : t("room_page.title");
    document.title = name + " · Frontdesk";
    const heading = document.querySelector("main > h1");
    if (heading) {
      heading.textContent = name;
    }
  }

  function show(name) {
    for (const section of root.querySelectorAll(".room-screen")) {
      section.hidden = section.id !== "screen-" + name;
    }
    screen = name;
    root.dataset.screen = name;
    if (name !== "room") {
      root.dataset.state = "";
      $("room-details").textContent = "";
    }
  }

  // ---- the room ----

  function render() {
    if (!status || screen !== "room") {
      return;
    }
    const details = status.details || {};
    zone = details.time_zone || "UTC";
    renderTitle();
    $("room-details").textContent = about(details);
    root.dataset.state = status.state;
    $("room-state-label").textContent = t(STATE_TEXTS[status.state] || STATE_TEXTS.free);
    const current = status.current || null;
    setText($("room-current"), current ? meetingText(current) : "");
    let when;
    if (current) {
      when = t("room_page.until", { time: clock(current.end) });
    } else if (status.free_until) {
      when = t("room_page.free_until", { time: clock(status.free_until) });
    } else {
      when = t("room_page.free_on");
    }
    $("room-when").textContent = when;
    const releasing = current && !current.checked_in && current.release_at;
    setText($("room-release"), releasing ? t("room_page.release_at", { time: clock(current.release_at) }) : "");

    const next = status.next || [];
    const startingSoon =
      status.state === "free" && next.length > 0 && Date.parse(next[0].start) - Date.parse(status.now) <= EARLY_CHECK_IN;
    $("room-check-in").hidden = !(status.state === "booked" || startingSoon);
    $("room-end").hidden = status.state !== "in_use";
    $("room-extend").hidden = status.state !== "in_use";
    $("room-book").hidden = status.state !== "free";

    const list = $("room-next");
    list.replaceChildren();
    for (const meeting of next) {
      const item = document.createElement("li");
      const time = document.createElement("span");
      time.className = "room-meeting-time";
      time.textContent = span(meeting);
      const what = document.createElement("span");
      what.className = "room-meeting-what";
      what.textContent = meetingText(meeting);
      item.append(time, " ", what);
      list.append(item);
    }
    $("room-next-none").hidden = next.length > 0;
  }

  // A status from the API (an answer or the stream). An error shown goes when the room's
  // state changes: what it was about is over.
  function update(next) {
    if (!next || next.room !== slug) {
      return;
    }
    if (status && status.state !== next.state) {
      actionError = null;
      renderErrors();
    }
    status = next;
    loadingError = null;
    if (screen !== "room") {
      show("room");
    }
    render();
    renderErrors();
  }

  // ---- talking to the server ----

  class Unreachable extends Error {}

  class Refused extends Error {
    constructor(problem) {
      super("refused");
      this.problem = problem;
    }
  }

  async function request(method, path, body) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT);
    const headers = { Accept: "application/json", "Accept-Language": language };
    const init = { method, headers, credentials: "same-origin", signal: controller.signal };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    try {
      return await fetch(path, init);
    } catch (err) {
      throw new Unreachable();
    } finally {
      clearTimeout(timer);
    }
  }

  // This browser may not use the room: the page says how to sign in; the door display
  // that it is not paired (yet, or any more).
  function refused() {
    closeStream();
    stopPolling();
    status = null;
    renderTitle();
    if (door) {
      show("pairing");
      $("pairing-code").focus();
    } else {
      show("sign-in");
    }
  }

  // Asks for the room's status: true when it is shown; false when this browser may not
  // see it, or there is no such room (a screen says which).
  async function load() {
    const reply = await request("GET", api + "/status");
    if (reply.ok) {
      update(await reply.json());
      return true;
    }
    if (reply.status === 401) {
      refused();
      return false;
    }
    if (reply.status === 404) {
      closeStream();
      stopPolling();
      show("missing");
      return false;
    }
    throw new Refused(await problemOf(reply));
  }

  async function boot() {
    for (;;) {
      try {
        if (await load()) {
          follow();
          loadOthers();
        }
        return;
      } catch (err) {
        loadingError = err instanceof Refused ? { problem: err.problem } : { key: "room_page.error.unreachable" };
        show("loading");
        renderErrors();
        await new Promise((resolve) => setTimeout(resolve, RETRY_EVERY));
      }
    }
  }

  // The room's changes as they happen. The browser opens the stream again by itself
  // (the server ends each after a while); meanwhile, and when the server refuses it, the
  // status is asked for every POLL_EVERY, and the stream tried again. A door display
  // revoked while it watches is told at once (event "refused").
  function follow() {
    closeStream();
    if (!window.EventSource) {
      startPolling();
      return;
    }
    const stream = new EventSource(api + "/events");
    events = stream;
    stream.addEventListener("status", (event) => {
      if (events !== stream) {
        return;
      }
      stopPolling();
      root.dataset.live = "stream";
      try {
        update(JSON.parse(event.data));
      } catch (err) {
        // Not a status: nothing to show.
      }
    });
    stream.addEventListener("refused", () => {
      if (events === stream) {
        refused();
      }
    });
    stream.addEventListener("error", () => {
      if (events !== stream) {
        return;
      }
      if (stream.readyState === EventSource.CLOSED) {
        events = null;
      }
      startPolling();
    });
  }

  function closeStream() {
    if (events) {
      events.close();
      events = null;
    }
  }

  function startPolling() {
    root.dataset.live = "poll";
    if (pollTimer === null) {
      pollTimer = setInterval(poll, POLL_EVERY);
    }
  }

  function stopPolling() {
    if (pollTimer !== null) {
      clearInterval(pollTimer);
      pollTimer = null;
    }
  }

  async function poll() {
    try {
      if ((await load()) && !events) {
        follow();
      }
    } catch (err) {
      // Asked again at the next poll.
    }
  }

  function busy(on) {
    busyNow = on;
    root.setAttribute("aria-busy", String(on));
    for (const button of root.querySelectorAll(".room-go")) {
      button.disabled = on;
    }
  }

  // Check in, end, extend or book: the answer is the room's new status.
  async function act(path, body) {
    if (busyNow) {
      return;
    }
    actionError = null;
    renderErrors();
    busy(true);
    let reply;
    try {
      reply = await request("POST", api + path, body);
    } catch (err) {
      actionError = { key: "room_page.error.unreachable" };
      renderErrors();
      return;
    } finally {
      busy(false);
    }
    if (reply.ok) {
      update(await reply.json());
      loadOthers();
      return;
    }
    if (reply.status === 401) {
      refused();
      return;
    }
    actionError = { problem: await problemOf(reply) };
    renderErrors();
  }

  // ---- other rooms free now (the room page only) ----

  async function loadOthers() {
    if (door || !$("room-others")) {
      return;
    }
    clearTimeout(othersTimer);
    othersTimer = setTimeout(loadOthers, OTHERS_EVERY);
    let reply;
    try {
      reply = await request("GET", "/api/v1/rooms/free?seats=1&minutes=30");
    } catch (err) {
      return;
    }
    if (!reply.ok) {
      others = null;
    } else {
      const found = await reply.json();
      others = (found.rooms || []).filter((room) => room.slug !== slug);
    }
    renderOthers();
  }

  function renderOthers() {
    const section = $("room-others");
    if (!section) {
      return;
    }
    section.hidden = others === null;
    const list = $("room-others-list");
    list.replaceChildren();
    for (const room of others || []) {
      const link = document.createElement("a");
      link.href = "/r/" + encodeURIComponent(room.slug);
      const name = document.createElement("span");
      name.className = "room-other-name";
      name.textContent = room.name;
      const until = room.free_until
        ? t("room_page.free_until", { time: clock(room.free_until, room.time_zone) })
        : t("room_page.free_on");
      const detail = document.createElement("span");
      detail.className = "room-other-about";
      detail.textContent = t("room_page.seats", { count: room.capacity }) + " · " + until;
      link.append(name, " ", detail);
      const item = document.createElement("li");
      item.append(link);
      list.append(item);
    }
    $("room-others-none").hidden = others === null || others.length > 0;
  }

  // ---- pairing the door display ----

  // The pairing code an admin's QR code put in the URL (`#pair=CODE`), taken out of it so
  // that it is neither bookmarked nor shown.
  function codeFromFragment() {
    const fragment = new URLSearchParams(window.location.hash.slice(1));
    const code = fragment.get("pair");
    if (code !== null) {
      history.replaceState(null, "", window.location.pathname + window.location.search);
    }
    return code;
  }

  // Pairs this browser as the room's door display, then loads the page again as one.
  async function pair(code) {
    pairingError = null;
    renderErrors();
    const typed = code.replace(/[\s-]/g, "").toUpperCase();
    if (!typed) {
      pairingError = { key: "room_page.pairing.required" };
      renderErrors();
      show("pairing");
      return;
    }
    let reply;
    try {
      reply = await request("POST", api + "/pairing", { code: typed });
    } catch (err) {
      pairingError = { key: "room_page.error.unreachable" };
      renderErrors();
      show("pairing");
      return;
    }
    if (reply.ok) {
      window.location.reload();
      return;
    }
    pairingError = { problem: await problemOf(reply) };
    show("pairing");
    renderErrors();
    $("pairing-code").focus();
  }

  // A door display keeps its screen on while it shows the room (where the browser can).
  async function keepAwake() {
    if (!door || !navigator.wakeLock || document.visibilityState !== "visible") {
      return;
    }
    try {
      await navigator.wakeLock.request("screen");
    } catch (err) {
      // Not allowed here: the tablet's own settings decide.
    }
  }

  // ---- wiring ----

  for (const button of document.querySelectorAll(".room-language")) {
    button.addEventListener("click", () => {
      language = button.dataset.lang === "en" ? "en" : "ja";
      if (door) {
        // A shared tablet: the next person finds it in its own language.
        clearTimeout(languageTimer);
        if (language !== startLanguage) {
          languageTimer = setTimeout(() => {
            language = startLanguage;
            applyLanguage();
          }, DOOR_LANGUAGE_FOR);
        }
      } else {
        rememberLanguage(language);
      }
      applyLanguage();
    });
  }

  $("room-check-in").addEventListener("click", () => act("/check-in"));
  $("room-end").addEventListener("click", () => act("/check-out"));
  for (const button of root.querySelectorAll("[data-extend]")) {
    button.addEventListener("click", () => act("/extend", { minutes: Number(button.dataset.extend) }));
  }
  for (const button of root.querySelectorAll("[data-book]")) {
    button.addEventListener("click", () => act("/book-now", { minutes: Number(button.dataset.book) }));
  }
  $("pairing-form").addEventListener("submit", (event) => {
    event.preventDefault();
    pair($("pairing-code").value);
  });
  document.addEventListener("visibilitychange", keepAwake);

  applyLanguage();
  const code = door ? codeFromFragment() : null;
  if (code !== null) {
    $("pairing-code").value = code;
    pair(code);
  } else {
    boot();
    keepAwake();
  }
})();
