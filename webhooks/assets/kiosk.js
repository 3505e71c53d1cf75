// The visitor kiosk (/kiosk/{location}): runs the page's screens against the kiosk API
// (/api/v1/kiosk/{location}/...). Plain JavaScript, no framework, nothing from outside.
//
// Texts come from the page (data-texts holds the kiosk's texts in Japanese and English), so
// the visitor switches language without a request. A check-in the server cannot take because
// it cannot be reached is kept in this browser with its Idempotency-Key and sent again (on the
// `online` event and on a timer) until the server has it: the key makes a repeat harmless.
// The service worker (/kiosk/service-worker.js) keeps the page and the kiosk's configuration,
// so the kiosk also starts without the server.
"use strict";

// A visitor's badge (/kiosk/{location}/badge/...): printed at once, with buttons to print
// again and to close the badge's window.
(function () {
  const badge = document.getElementById("badge");
  if (!badge) {
    return;
  }
  document.getElementById("badge-print-now").addEventListener("click", () => window.print());
  document.getElementById("badge-close").addEventListener("click", () => window.close());
  window.addEventListener("load", () => window.print(), { once: true });
})();

(function () {
  const root = document.getElementById("kiosk");
  if (!root) {
    return;
  }
  const slug = root.dataset.location;
  const catalogue = JSON.parse(root.dataset.texts);
  const api = "/api/v1/kiosk/" + encodeURIComponent(slug);
  const queueKey = "frontdesk.kiosk.queue." + slug;
  const startLanguage = document.documentElement.lang === "en" ? "en" : "ja";

  // How long a screen waits for the visitor before the kiosk goes back to welcome (ms).
  const IDLE_FORM = 90000;
  const IDLE_WAITING = 180000;
  const IDLE_ANSWERED = 60000;
  const IDLE_FINISHED = 15000;
  // A request that has not answered by then counts as the server being unreachable.
  const REQUEST_TIMEOUT = 10000;
  // How often kept check-ins are sent again, and the kiosk tries to start again.
  const RETRY_EVERY = 5000;
  const CODE_LENGTH = 6;
  const CATEGORY_TEXTS = {
    delivery: "page.kiosk.category.delivery",
    interview: "page.kiosk.category.interview",
    other: "page.kiosk.category.other",
  };

  let language = startLanguage;
  let config = null;
  // The check-in being put together: {kind: "code"|"host"|"category", body, about}.
  let draft = null;
  // The visit on the waiting screen, and its live stream.
  let visit = null;
  let events = null;
  let visitPoll = null;
  let screen = "loading";
  let idleFor = 0;
  let idleTimer = null;
  let offline = false;
  let termsChanged = false;
  let hostResults = [];
  let hostSearch = null;
  let hostTimer = null;
  let hostStatus = null;
  let checkoutDone = null;

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

  function applyLanguage() {
    document.documentElement.lang = language;
    document.title = t("page.kiosk.title") + " · Frontdesk";
    const heading = document.querySelector("main > h1");
    if (heading) {
      heading.textContent = t("page.kiosk.title");
    }
    for (const element of document.querySelectorAll("[data-t]")) {
      element.textContent = t(element.dataset.t);
    }
    for (const element of document.querySelectorAll("[data-t-aria-label]")) {
      element.setAttribute("aria-label", t(element.dataset.tAriaLabel));
    }
    for (const button of document.querySelectorAll(".kiosk-language")) {
      button.setAttribute("aria-pressed", String(button.dataset.lang === language));
    }
    renderConfig();
    renderVisitor();
    renderHosts();
    renderTerms();
    renderWaiting();
    renderOffline();
    renderBanner();
    renderCheckoutDone();
  }

  // ---- screens ----

  function show(name, focusId) {
    for (const section of root.querySelectorAll(".kiosk-screen")) {
      section.hidden = section.id !== "screen-" + name;
    }
    screen = name;
    root.dataset.screen = name;
    const target = (focusId && $(focusId)) || $("screen-" + name).querySelector("h2");
    if (target) {
      target.focus();
    }
    switch (name) {
      case "loading":
      case "pairing":
      case "welcome":
        idle(0);
        break;
      case "waiting":
        idle(IDLE_WAITING);
        break;
      case "offline":
        idle(IDLE_ANSWERED);
        break;
      default:
        idle(IDLE_FORM);
    }
  }

  // (Re)starts the wait after which the kiosk goes back to welcome; 0 stops it.
  function idle(ms) {
    idleFor = ms;
    clearTimeout(idleTimer);
    if (ms > 0) {
      idleTimer = setTimeout(restart, ms);
    }
  }

  function touched() {
    if (idleFor > 0) {
      idle(idleFor);
    }
  }

  // Back to welcome for the next visitor: nothing of this one stays on screen, and the
  // kiosk speaks its own language again.
  function restart() {
    language = startLanguage;
    home();
  }

  // Back to welcome, in the language the visitor chose (the visitor went back).
  function home() {
    closeEvents();
    draft = null;
    visit = null;
    termsChanged = false;
    hostResults = [];
    hostStatus = null;
    checkoutDone = null;
    for (const form of root.querySelectorAll("form")) {
      form.reset();
    }
    for (const error of root.querySelectorAll(".error, .field-error, #checkout-done")) {
      setText(error, "");
    }
    for (const input of root.querySelectorAll("[aria-invalid]")) {
      input.removeAttribute("aria-invalid");
    }
    $("visitor-extra").replaceChildren();
    applyLanguage();
    show(config ? "welcome" : "loading");
  }

  function busy(on) {
    root.setAttribute("aria-busy", String(on));
    for (const button of root.querySelectorAll(".kiosk-go")) {
      button.disabled = on;
    }
  }

  // ---- talking to the server ----

  class Unreachable extends Error {}

  // The server answered, but not with what was asked for; `problem` says why.
  class Refused extends Error {
    constructor(status, problem) {
      super("refused");
      this.status = status;
      this.problem = problem;
    }
  }

  // `path` under the kiosk's API; throws Unreachable when the server cannot be reached.
  async function request(method, path, options) {
    const opts = options || {};
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT);
    if (opts.signal) {
      opts.signal.addEventListener("abort", () => controller.abort());
    }
    const headers = Object.assign(
      { Accept: "application/json", "Accept-Language": language },
      opts.headers || {},
    );
    const init = { method, headers, credentials: "same-origin", signal: controller.signal };
    if (opts.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(opts.body);
    }
    let reply;
    try {
      reply = await fetch(api + path, init);
    } catch (err) {
      if (opts.signal && opts.signal.aborted) {
        throw err;
      }
      reachable(false);
      throw new Unreachable();
    } finally {
      clearTimeout(timer);
    }
    // A proxy's answer for a server that is down; the worker marks what it kept.
    if ([502, 503, 504].includes(reply.status)) {
      reachable(false);
      throw new Unreachable();
    }
    reachable(reply.headers.get("x-frontdesk-offline") === null);
    return reply;
  }

  async function problemOf(reply) {
    try {
      const problem = await reply.json();
      return problem && typeof problem === "object" ? problem : {};
    } catch (err) {
      return {};
    }
  }

  // The fields a 422 names (`field`, or `errors` as a list or an object).
  function fieldsOf(problem) {
    const names = [];
    if (typeof problem.field === "string") {
      names.push(problem.field);
    }
    const errors = problem.errors;
    if (Array.isArray(errors)) {
      for (const error of errors) {
        if (typeof error === "string") {
          names.push(error);
        } else if (error && typeof error.field === "string") {
          names.push(error.field);
        }
      }
    } else if (errors && typeof errors === "object") {
      names.push(...Object.keys(errors));
    }
    return names;
  }

  // What a person should read about `problem`: for a field, what is wrong with it (the
  // detail without the field's name); otherwise its title, which says what to do.
  function problemText(problem) {
    const detail = typeof problem.detail === "string" ? problem.detail : "";
    if (typeof problem.field === "string" && detail) {
      const prefix = problem.field + ": ";
      return detail.startsWith(prefix) ? detail.slice(prefix.length) : detail;
    }
    return problem.title || detail || t("page.kiosk.error.failed");
  }

  function reachable(yes) {
    const was = offline;
    offline = !yes;
    renderBanner();
    if (was && yes) {
      sendKept();
    }
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) {
      return crypto.randomUUID();
    }
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }

  // ---- starting: pairing and the configuration ----

  async function loadConfig() {
    const reply = await request("GET", "");
    if (reply.status === 401) {
      return false;
    }
    if (!reply.ok) {
      throw new Refused(reply.status, await problemOf(reply));
    }
    config = await reply.json();
    applyLanguage();
    return true;
  }

  async function boot() {
    for (;;) {
      try {
        if (await loadConfig()) {
          $("loading-unreachable").hidden = true;
          setText($("loading-problem"), "");
          show("welcome");
          sendKept();
        } else {
          show("pairing", "pairing-code");
        }
        return;
      } catch (err) {
        show("loading");
        // A location that does not exist says so; a server out of reach is tried again.
        const refused = err instanceof Refused;
        const unknown = refused && err.status === 404;
        setText(
          $("loading-problem"),
          unknown ? t("page.kiosk.unknown_location") : refused ? problemText(err.problem) : "",
        );
        $("loading-unreachable").hidden = refused;
        await new Promise((resolve) => setTimeout(resolve, RETRY_EVERY));
      }
    }
  }

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

  async function pair(code) {
    const error = $("pairing-error");
    setText(error, "");
    const typed = code.replace(/[\s-]/g, "").toUpperCase();
    if (!typed) {
      setText(error, t("page.kiosk.visitor.required"));
      show("pairing", "pairing-code");
      return;
    }
    let reply;
    try {
      reply = await request("POST", "/pairing", { body: { code: typed } });
    } catch (err) {
      setText(error, t("page.kiosk.error.unreachable"));
      show("pairing", "pairing-code");
      return;
    }
    if (reply.ok) {
      $("pairing-code").value = "";
      await boot();
      return;
    }
    setText(error, problemText(await problemOf(reply)));
    show("pairing", "pairing-code");
  }

  function renderConfig() {
    if (!config) {
      return;
    }
    $("kiosk-location").textContent = (config.location && config.location.name) || "";
    const categories = Array.isArray(config.categories) ? config.categories : [];
    $("choose-category").hidden = categories.length === 0;
    for (const button of root.querySelectorAll("[data-category]")) {
      button.hidden = !categories.includes(button.dataset.category);
    }
    const last = config.terms ? "page.kiosk.next" : "page.kiosk.check_in";
    $("code-submit").dataset.t = extraFields().length ? "page.kiosk.next" : last;
    $("code-submit").textContent = t($("code-submit").dataset.t);
    $("visitor-submit").dataset.t = last;
    $("visitor-submit").textContent = t(last);
  }

  function extraFields() {
    return (config && Array.isArray(config.extra_fields)) ? config.extra_fields : [];
  }

  // ---- the reception code ----

  // Digits however they are typed (full-width from a Japanese keyboard too), at most six.
  function digits(text) {
    return text
      .replace(/[\uff10-\uff19]/g, (d) => String.fromCharCode(d.charCodeAt(0) - 0xfee0))
      .replace(/\D/g, "")
      .slice(0, CODE_LENGTH);
  }

  function startCode() {
    draft = { kind: "code", body: {}, about: null };
    $("code-input").value = "";
    setText($("code-error"), "");
    show("code", "code-input");
  }

  function submitCode() {
    const code = digits($("code-input").value);
    $("code-input").value = code;
    if (code.length !== CODE_LENGTH) {
      setText($("code-error"), t("page.kiosk.code.incomplete"));
      $("code-input").focus();
      return;
    }
    setText($("code-error"), "");
    draft = { kind: "code", body: { reception_code: code }, about: null };
    if (extraFields().length) {
      startVisitor();
    } else {
      proceed();
    }
  }

  // ---- finding the host ----

  function startHost() {
    draft = { kind: "host", body: {}, about: null };
    $("host-query").value = "";
    hostResults = [];
    hostStatus = null;
    renderHosts();
    show("host", "host-query");
  }

  function searchSoon() {
    clearTimeout(hostTimer);
    hostTimer = setTimeout(searchHosts, 200);
  }

  async function searchHosts() {
    const query = $("host-query").value.trim();
    if (hostSearch) {
      hostSearch.abort();
    }
    if (!query) {
      hostResults = [];
      hostStatus = null;
      renderHosts();
      return;
    }
    const search = new AbortController();
    hostSearch = search;
    let found;
    try {
      const reply = await request("GET", "/hosts?q=" + encodeURIComponent(query), { signal: search.signal });
      if (reply.status === 401) {
        show("pairing", "pairing-code");
        return;
      }
      const body = reply.ok ? await reply.json() : { hosts: [] };
      found = Array.isArray(body.hosts) ? body.hosts : [];
    } catch (err) {
      if (search.signal.aborted) {
        return;
      }
      hostResults = [];
      hostStatus = "page.kiosk.host.offline";
      renderHosts();
      return;
    }
    if (hostSearch !== search) {
      return;
    }
    hostResults = found;
    hostStatus = found.length ? "page.kiosk.host.found" : "page.kiosk.host.none";
    renderHosts();
  }

  function renderHosts() {
    $("host-status").textContent = hostStatus ? t(hostStatus, { count: hostResults.length }) : "";
    const list = $("host-results");
    list.replaceChildren(
      ...hostResults.map((host, index) => {
        const item = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.className = "kiosk-host";
        button.dataset.index = String(index);
        const name = document.createElement("span");
        name.className = "kiosk-host-name";
        name.textContent = host.name;
        button.append(name);
        const details = [language === "ja" ? host.name_kana : "", host.department].filter(Boolean);
        if (details.length) {
          const detail = document.createElement("span");
          detail.className = "kiosk-host-detail";
          detail.textContent = details.join(" · ");
          button.append(" ", detail);
        }
        item.append(button);
        return item;
      }),
    );
  }

  function chooseHost(host) {
    draft = { kind: "host", body: { host: host.id }, about: { label: "page.kiosk.visitor.visiting", name: host.name } };
    startVisitor();
  }

  // ---- a category ----

  function chooseCategory(category) {
    draft = { kind: "category", body: { category }, about: { label: "page.kiosk.visitor.reason", text: CATEGORY_TEXTS[category] } };
    startVisitor();
  }

  // ---- the visitor's details ----

  function startVisitor() {
    const extra = $("visitor-extra");
    extra.replaceChildren();
    for (const field of extraFields()) {
      const id = "extra-" + field.key;
      const label = document.createElement("label");
      label.htmlFor = id;
      label.dataset.field = field.key;
      const input = document.createElement("input");
      input.type = "text";
      input.id = id;
      input.name = field.key;
      input.autocomplete = "off";
      input.maxLength = 500;
      input.required = Boolean(field.required);
      input.setAttribute("aria-describedby", id + "-error");
      const error = document.createElement("p");
      error.id = id + "-error";
      error.className = "field-error";
      error.hidden = true;
      extra.append(label, input, error);
    }
    for (const error of $("screen-visitor").querySelectorAll(".error, .field-error")) {
      setText(error, "");
    }
    renderVisitor();
    const byCode = draft.kind === "code";
    const first = byCode ? (extraFields().length ? "extra-" + extraFields()[0].key : null) : "visitor-name";
    show("visitor", first);
  }

  function renderVisitor() {
    if (!draft) {
      return;
    }
    const byCode = draft.kind === "code";
    $("visitor-identity").hidden = byCode;
    $("visitor-name").disabled = byCode;
    $("visitor-company").disabled = byCode;
    $("visitor-about").hidden = !draft.about;
    if (draft.about) {
      $("visitor-about-label").textContent = t(draft.about.label);
      $("visitor-about-text").textContent = draft.about.name || t(draft.about.text);
    }
    for (const label of $("visitor-extra").querySelectorAll("label")) {
      const field = extraFields().find((f) => f.key === label.dataset.field);
      if (field) {
        const text = language === "en" ? field.label_en : field.label_ja;
        label.textContent = field.required ? text : text + " " + t("page.kiosk.visitor.optional");
      }
    }
  }

  function fieldError(input, message) {
    const error = $(input.id + "-error");
    if (message) {
      input.setAttribute("aria-invalid", "true");
    } else {
      input.removeAttribute("aria-invalid");
    }
    if (error) {
      setText(error, message);
    }
  }

  function submitVisitor() {
    setText($("visitor-error"), "");
    const byCode = draft.kind === "code";
    const inputs = byCode ? [] : [$("visitor-name")];
    inputs.push(...$("visitor-extra").querySelectorAll("input"));
    let firstBad = null;
    for (const input of inputs) {
      const bad = input.required && !input.value.trim();
      fieldError(input, bad ? t("page.kiosk.visitor.required") : "");
      if (bad && !firstBad) {
        firstBad = input;
      }
    }
    if (byCode) {
      fieldError($("visitor-company"), "");
    }
    if (firstBad) {
      firstBad.focus();
      return;
    }
    if (!byCode) {
      draft.body.visitor_name = $("visitor-name").value.trim();
      const company = $("visitor-company").value.trim();
      if (company) {
        draft.body.visitor_company = company;
      } else {
        delete draft.body.visitor_company;
      }
    }
    const fields = {};
    for (const input of $("visitor-extra").querySelectorAll("input")) {
      if (input.value.trim()) {
        fields[input.name] = input.value.trim();
      }
    }
    if (Object.keys(fields).length) {
      draft.body.fields = fields;
    } else {
      delete draft.body.fields;
    }
    proceed();
  }

  // ---- the entrance terms, then the check-in ----

  function proceed() {
    if (config && config.terms) {
      termsChanged = false;
      renderTerms();
      show("terms");
    } else {
      send();
    }
  }

  function renderTerms() {
    const terms = config && config.terms;
    $("terms-text").textContent = terms ? (language === "en" ? terms.text_en : terms.text_ja) : "";
    $("terms-changed").hidden = !termsChanged;
  }

  function acceptTerms() {
    draft.body.accept_terms = config.terms.version;
    send();
  }

  async function send() {
    const body = Object.assign({}, draft.body, { language });
    const key = newKey();
    busy(true);
    let reply;
    try {
      reply = await request("POST", "/checkins", { body, headers: { "Idempotency-Key": key } });
    } catch (err) {
      busy(false);
      keep({ key, body });
      showOffline();
      return;
    }
    busy(false);
    if (reply.ok) {
      showWaiting(await reply.json());
      return;
    }
    const problem = await problemOf(reply);
    if (reply.status === 401) {
      show("pairing", "pairing-code");
      return;
    }
    const fields = fieldsOf(problem);
    if (reply.status === 422 && fields.includes("accept_terms")) {
      // The terms changed since this kiosk read them (or were just set): the new ones.
      try {
        await loadConfig();
      } catch (err) {
        // The terms this kiosk has are shown again.
      }
      if (config.terms) {
        delete draft.body.accept_terms;
        termsChanged = true;
        renderTerms();
        show("terms");
        return;
      }
    }
    sendFailed(reply.status, problem, fields);
  }

  // Shows why a check-in was refused where the visitor can put it right.
  function sendFailed(status, problem, fields) {
    const message = problemText(problem);
    if (draft.kind === "code" && (status === 404 || status === 429 || fields.includes("reception_code"))) {
      $("code-input").value = "";
      setText($("code-error"), message);
      show("code", "code-input");
      return;
    }
    const ids = { visitor_name: "visitor-name", visitor_company: "visitor-company" };
    const field = fields.find((name) => ids[name] || name.startsWith("fields."));
    if (field) {
      if (screen !== "visitor") {
        startVisitor();
      }
      const input = $(ids[field] || "extra-" + field.slice("fields.".length));
      if (input) {
        fieldError(input, message);
        input.focus();
        return;
      }
      setText($("visitor-error"), message);
      return;
    }
    const error = $(screen + "-error") || $("visitor-error");
    setText(error, message);
  }

  // ---- waiting for the host ----

  function showWaiting(reply) {
    visit = {
      id: reply.visit_id,
      status: reply.status,
      delay: reply.delay_minutes == null ? null : reply.delay_minutes,
      host: reply.host ? reply.host.name : null,
      visitor: reply.visitor ? reply.visitor.name : "",
      badge: reply.badge_url || null,
    };
    renderWaiting();
    show("waiting", "waiting-title");
    follow();
  }

  function follow() {
    closeEvents();
    if (!window.EventSource || !visit) {
      return;
    }
    const id = visit.id;
    const stream = new EventSource(api + "/visits/" + encodeURIComponent(id) + "/events");
    events = stream;
    stream.addEventListener("visit", (event) => {
      try {
        updateVisit(id, JSON.parse(event.data));
      } catch (err) {
        // Not a visit: nothing to show.
      }
    });
    // A stream the server refused (or a proxy broke) is not retried by the browser: the
    // visit is asked for a while later, and the stream opened again.
    stream.addEventListener("error", () => {
      if (events === stream && stream.readyState === EventSource.CLOSED) {
        events = null;
        clearTimeout(visitPoll);
        visitPoll = setTimeout(() => askVisit(id), RETRY_EVERY);
      }
    });
  }

  async function askVisit(id) {
    if (!visit || visit.id !== id || screen !== "waiting") {
      return;
    }
    try {
      const reply = await request("GET", "/visits/" + encodeURIComponent(id));
      if (reply.ok) {
        updateVisit(id, await reply.json());
      }
    } catch (err) {
      // Still out of reach: the stream, opened again, waits for the server.
    }
    if (visit && visit.id === id && visit.status !== "checked_out" && screen === "waiting") {
      follow();
    }
  }

  function updateVisit(id, data) {
    if (!visit || !data || data.visit_id !== id) {
      return;
    }
    const answered = data.status !== visit.status && data.status !== "waiting";
    visit.status = data.status;
    visit.delay = data.delay_minutes == null ? null : data.delay_minutes;
    if (data.host && data.host.name) {
      visit.host = data.host.name;
    }
    renderWaiting();
    if (answered) {
      idle(IDLE_ANSWERED);
    }
    if (data.status === "checked_out") {
      closeEvents();
    }
  }

  function closeEvents() {
    clearTimeout(visitPoll);
    if (events) {
      events.close();
      events = null;
    }
  }

  function waitingText() {
    const host = visit.host;
    const minutes = visit.delay == null ? 5 : visit.delay;
    switch (visit.status) {
      case "host_coming":
        return host ? t("page.kiosk.waiting.coming", { host }) : t("page.kiosk.waiting.coming_staff");
      case "host_delayed":
        return host
          ? t("page.kiosk.waiting.delayed", { host, minutes })
          : t("page.kiosk.waiting.delayed_staff", { minutes });
      case "host_unavailable":
        return host ? t("page.kiosk.waiting.unavailable", { host }) : t("page.kiosk.waiting.unavailable_staff");
      case "checked_out":
        return t("page.kiosk.waiting.checked_out");
      default:
        return host ? t("page.kiosk.waiting.told", { host }) : t("page.kiosk.waiting.told_staff");
    }
  }

  function renderWaiting() {
    if (!visit) {
      return;
    }
    $("waiting-title").textContent = visit.visitor
      ? t("page.kiosk.waiting.title", { name: visit.visitor })
      : t("page.kiosk.offline.title");
    const status = $("waiting-status");
    status.dataset.status = visit.status;
    status.textContent = waitingText();
    const badge = $("badge-print");
    badge.hidden = !visit.badge;
    badge.href = visit.badge || "#";
  }

  // ---- check-ins kept while the server cannot be reached ----

  function kept() {
    try {
      const list = JSON.parse(localStorage.getItem(queueKey) || "[]");
      return Array.isArray(list) ? list : [];
    } catch (err) {
      return [];
    }
  }

  function setKept(list) {
    if (list.length) {
      localStorage.setItem(queueKey, JSON.stringify(list));
    } else {
      localStorage.removeItem(queueKey);
    }
    root.dataset.pending = String(list.length);
    renderBanner();
  }

  function keep(item) {
    const list = kept();
    if (!list.some((k) => k.key === item.key)) {
      list.push(item);
    }
    setKept(list);
  }

  let sending = false;

  // Sends the kept check-ins in order, each with its own key, until one cannot be sent.
  async function sendKept() {
    if (sending || !kept().length) {
      return;
    }
    sending = true;
    try {
      for (const item of kept()) {
        let reply;
        try {
          reply = await request("POST", "/checkins", { body: item.body, headers: { "Idempotency-Key": item.key } });
        } catch (err) {
          return;
        }
        if (reply.status === 401 || reply.status === 408 || reply.status === 429 || reply.status >= 500) {
          return;
        }
        if (!reply.ok) {
          // Refused for good (a code that was wrong): sending it again would not help.
          console.warn("a kept check-in was refused", reply.status, await problemOf(reply));
        }
        setKept(kept().filter((k) => k.key !== item.key));
      }
    } finally {
      sending = false;
    }
  }

  function showOffline() {
    renderOffline();
    show("offline", "offline-title");
  }

  function renderOffline() {
    const message = (config && config.offline_message) || {};
    setText($("offline-message"), (language === "en" ? message.en : message.ja) || "");
  }

  function renderBanner() {
    const count = kept().length;
    root.dataset.pending = String(count);
    $("kiosk-offline").hidden = !offline && count === 0;
    setText($("kiosk-pending"), count ? t("page.kiosk.offline.pending", { count }) : "");
  }

  // ---- check-out ----

  function startCheckout() {
    $("badge-input").value = "";
    setText($("checkout-error"), "");
    checkoutDone = null;
    renderCheckoutDone();
    show("checkout", "badge-input");
  }

  async function submitCheckout() {
    const input = $("badge-input");
    const badge = input.value.trim();
    setText($("checkout-error"), "");
    checkoutDone = null;
    renderCheckoutDone();
    if (!badge) {
      setText($("checkout-error"), t("page.kiosk.visitor.required"));
      input.focus();
      return;
    }
    busy(true);
    let reply;
    try {
      reply = await request("POST", "/checkouts", { body: { badge } });
    } catch (err) {
      busy(false);
      setText($("checkout-error"), t("page.kiosk.error.unreachable"));
      return;
    } finally {
      input.value = "";
      input.focus();
    }
    busy(false);
    if (!reply.ok) {
      setText($("checkout-error"), problemText(await problemOf(reply)));
      return;
    }
    const done = await reply.json();
    checkoutDone = { name: done.visitor && done.visitor.name };
    renderCheckoutDone();
    idle(IDLE_FINISHED);
  }

  function renderCheckoutDone() {
    const text = !checkoutDone
      ? ""
      : checkoutDone.name
        ? t("page.kiosk.checkout.done", { name: checkoutDone.name })
        : t("page.kiosk.waiting.checked_out");
    setText($("checkout-done"), text);
  }

  // ---- the service worker ----

  function installOffline() {
    if (!("serviceWorker" in navigator)) {
      return;
    }
    navigator.serviceWorker
      .register("/kiosk/service-worker.js")
      .then(() => {
        if (navigator.serviceWorker.controller) {
          root.dataset.offlineReady = "true";
        } else {
          navigator.serviceWorker.addEventListener("controllerchange", keepForOffline, { once: true });
        }
      })
      .catch((err) => console.warn("the kiosk cannot work offline", err));
  }

  // This page and its configuration were fetched before the worker took control: fetched
  // again through it, they are kept for a start without the server.
  async function keepForOffline() {
    try {
      const [page, settings] = await Promise.all([
        fetch(window.location.pathname, { credentials: "same-origin" }),
        fetch(api, { credentials: "same-origin", headers: { Accept: "application/json" } }),
      ]);
      if (page.ok && settings.ok) {
        root.dataset.offlineReady = "true";
      }
    } catch (err) {
      // Kept on the next start instead.
    }
  }

  // ---- wiring ----

  document.addEventListener("pointerdown", touched, true);
  document.addEventListener("keydown", touched, true);
  document.addEventListener("input", touched, true);

  // A scanner (a keyboard to the page) reading the invitation's QR code types the reception
  // code; one reading a badge types its address. On the welcome screen either goes straight
  // to its screen, first character included, and the rest is typed there (Enter sends).
  document.addEventListener("keydown", (event) => {
    if (screen !== "welcome" || event.ctrlKey || event.metaKey || event.altKey || event.key.length !== 1) {
      return;
    }
    if (/[0-9\uff10-\uff19]/.test(event.key)) {
      event.preventDefault();
      startCode();
      $("code-input").value = digits(event.key);
    } else if (event.key === "h" || event.key === "/") {
      event.preventDefault();
      startCheckout();
      $("badge-input").value = event.key;
    }
  });

  for (const button of document.querySelectorAll(".kiosk-language")) {
    button.addEventListener("click", () => {
      language = button.dataset.lang === "en" ? "en" : "ja";
      applyLanguage();
    });
  }

  root.addEventListener("click", (event) => {
    const target = event.target.closest("button");
    if (!target || !root.contains(target)) {
      return;
    }
    if (target.classList.contains("kiosk-back")) {
      if (screen === "visitor" && draft && draft.kind === "host") {
        show("host", "host-query");
      } else if (screen === "visitor" && draft && draft.kind === "category") {
        show("category");
      } else if (screen === "visitor" && draft && draft.kind === "code") {
        show("code", "code-input");
      } else if (screen === "terms" && draft && draft.kind !== "code") {
        show("visitor");
      } else if (screen === "terms" && extraFields().length) {
        show("visitor");
      } else if (screen === "terms") {
        show("code", "code-input");
      } else {
        home();
      }
    } else if (target.classList.contains("kiosk-done")) {
      restart();
    } else if (target.classList.contains("kiosk-host")) {
      const host = hostResults[Number(target.dataset.index)];
      if (host) {
        chooseHost(host);
      }
    } else if (target.dataset.category) {
      chooseCategory(target.dataset.category);
    } else if (target.dataset.digit) {
      const input = $("code-input");
      input.value = digits(input.value + target.dataset.digit);
      setText($("code-error"), "");
    } else if (target.dataset.key === "delete") {
      const input = $("code-input");
      input.value = input.value.slice(0, -1);
    } else if (target.dataset.key === "clear") {
      $("code-input").value = "";
    }
  });

  $("choose-code").addEventListener("click", startCode);
  $("choose-host").addEventListener("click", startHost);
  $("choose-category").addEventListener("click", () => {
    draft = null;
    show("category");
  });
  $("choose-checkout").addEventListener("click", startCheckout);

  $("pairing-form").addEventListener("submit", (event) => {
    event.preventDefault();
    pair($("pairing-code").value);
  });
  $("code-input").addEventListener("input", () => {
    const input = $("code-input");
    const clean = digits(input.value);
    if (clean !== input.value) {
      input.value = clean;
    }
    setText($("code-error"), "");
  });
  $("code-form").addEventListener("submit", (event) => {
    event.preventDefault();
    submitCode();
  });
  $("host-query").addEventListener("input", searchSoon);
  $("host-form").addEventListener("submit", (event) => {
    event.preventDefault();
    // Enter picks the first person found.
    clearTimeout(hostTimer);
    if (hostResults.length) {
      chooseHost(hostResults[0]);
    } else {
      searchHosts();
    }
  });
  // A field's complaint goes as soon as the visitor types in it.
  $("visitor-form").addEventListener("input", (event) => {
    if (event.target.matches("input[aria-invalid]")) {
      fieldError(event.target, "");
    }
  });
  $("visitor-form").addEventListener("submit", (event) => {
    event.preventDefault();
    submitVisitor();
  });
  $("terms-accept").addEventListener("click", acceptTerms);
  $("checkout-form").addEventListener("submit", (event) => {
    event.preventDefault();
    submitCheckout();
  });

  window.addEventListener("online", sendKept);
  setInterval(sendKept, RETRY_EVERY);

  applyLanguage();
  installOffline();
  const code = codeFromFragment();
  if (code !== null) {
    $("pairing-code").value = code;
    pair(code);
  } else {
    boot();
  }
})();
