// The booking page (/b/{link}) and a guest's manage page (/b/{link}/bookings/{id}?t=…):
// runs the page's steps against the public booking API (/api/v1/public/...). Plain
// JavaScript, no framework, nothing from outside.
//
// Book: a month calendar (a month of free slots fetched at a time, days with slots marked)
// → a day's times, in the guest's time zone → the guest's details → the confirmation.
// Manage: the booking → a new time from the same calendar → moved; or cancel, confirmed.
// Texts come from the page in Japanese and English (data-texts): the guest switches
// language in place, and the choice is kept in the `fd_lang` cookie, so the server answers
// (and mails) in it too. Every POST carries an Idempotency-Key: the same request sent twice
// books once.
"use strict";

(function () {
  const root = document.getElementById("booking");
  if (!root) {
    return;
  }
  const catalogue = JSON.parse(root.dataset.texts);
  const mode = root.dataset.mode;
  const slug = root.dataset.link;
  const offer = JSON.parse(root.dataset.offer);
  let booking = JSON.parse(root.dataset.booking);
  let token = root.dataset.token || "";
  // The server's now: the calendar's today is the server's, whatever this device's clock says.
  const now = new Date(root.dataset.now);
  const api = "/api/v1/public";
  const REQUEST_TIMEOUT = 15000;
  const DAY_MS = 86400000;
  // Zones offered in the picker, besides this device's, the hosts' and the booking's.
  const COMMON_ZONES = [
    "Asia/Tokyo", "Asia/Seoul", "Asia/Shanghai", "Asia/Taipei", "Asia/Singapore",
    "Asia/Bangkok", "Asia/Kolkata", "Asia/Dubai", "Europe/London", "Europe/Paris",
    "Europe/Berlin", "America/New_York", "America/Chicago", "America/Denver",
    "America/Los_Angeles", "America/Sao_Paulo", "Australia/Sydney", "Pacific/Auckland", "UTC",
  ];
  const PLACE_TEXTS = {
    google_meet: "booking_page.place.google_meet",
    teams: "booking_page.place.teams",
    in_person: "booking_page.place.in_person",
    phone: "booking_page.place.phone",
  };

  let language = document.documentElement.lang === "en" ? "en" : "ja";
  const detectedZone = detectZone();
  let zone = detectedZone;
  // Minutes: the link's first duration, or the booking's own when moving it.
  let duration = booking
    ? Math.round((Date.parse(booking.end) - Date.parse(booking.start)) / 60000)
    : offer && offer.durations_minutes.length > 0
      ? offer.durations_minutes[0]
      : 30;
  let step = "loading";
  // The month shown ({year, month} with month 0–11) and its slots by day ("YYYY-MM-DD").
  let shown = null;
  let slotsByDay = new Map();
  let monthState = "loading"; // loading | ready | failed
  // Answers that arrive after another month or zone was asked for are dropped.
  let generation = 0;
  let chosenDay = null;
  let chosenSlot = null;
  // The guest has not moved yet: an empty first month moves on to the next by itself.
  let findFirstFree = true;
  let sending = false;
  let lastBody = null;
  let lastKey = null;
  // What the banners say: {key, values} or {text} (a server's words), or null.
  let alertMessage = null;
  let noticeMessage = null;
  let cancelAsked = false;

  const $ = (id) => document.getElementById(id);

  // ---- texts and formats ----

  function t(key, values) {
    let text = (catalogue[language] && catalogue[language][key]) || key;
    for (const [name, value] of Object.entries(values || {})) {
      text = text.split("{" + name + "}").join(String(value));
    }
    return text;
  }

  function locale() {
    return language === "ja" ? "ja-JP" : "en-GB";
  }

  function validZone(name) {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: name });
      return true;
    } catch (err) {
      return false;
    }
  }

  function detectZone() {
    try {
      const found = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (found && validZone(found)) {
        return found;
      }
    } catch (err) {
      // An old browser: the hosts' zone below.
    }
    return (offer && offer.time_zone) || "UTC";
  }

  const dayFormats = new Map();
  // The day ("YYYY-MM-DD") an instant falls on in `name`.
  function dayIn(instant, name) {
    let format = dayFormats.get(name);
    if (!format) {
      format = new Intl.DateTimeFormat("en-US", {
        timeZone: name, year: "numeric", month: "2-digit", day: "2-digit",
      });
      dayFormats.set(name, format);
    }
    const parts = {};
    for (const part of format.formatToParts(instant)) {
      parts[part.type] = part.value;
    }
    return parts.year + "-" + parts.month + "-" + parts.day;
  }

  function pad(n) {
    return String(n).padStart(2, "0");
  }

  function dayKey(year, month, day) {
    return year + "-" + pad(month + 1) + "-" + pad(day);
  }

  // A calendar day as a Date at noon UTC, to be formatted in UTC (no zone shifts it).
  function calendarDate(key) {
    const [year, month, day] = key.split("-").map(Number);
    return new Date(Date.UTC(year, month - 1, day, 12));
  }

  function formatDay(key, style) {
    return new Intl.DateTimeFormat(locale(), Object.assign({ timeZone: "UTC" }, style))
      .format(calendarDate(key));
  }

  function longDay(key) {
    return formatDay(key, { weekday: "long", year: "numeric", month: "long", day: "numeric" });
  }

  function formatTime(instant) {
    return new Intl.DateTimeFormat(locale(), {
      timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    }).format(instant);
  }

  // "Wednesday, 25 November 2026 10:00–10:30 (Asia/Tokyo)" in the page's language and zone.
  function formatRange(start, end) {
    const from = new Date(start);
    const to = new Date(end);
    return longDay(dayIn(from, zone)) + " " + formatTime(from) + "–" + formatTime(to) +
      " (" + zone + ")";
  }

  function offsetOf(name) {
    try {
      const parts = new Intl.DateTimeFormat("en-US", {
        timeZone: name, timeZoneName: "longOffset",
      }).formatToParts(now);
      const part = parts.find((p) => p.type === "timeZoneName");
      return part ? part.value.replace("GMT", "UTC") : "";
    } catch (err) {
      return "";
    }
  }

  function setText(element, text) {
    element.textContent = text || "";
    element.hidden = !text;
  }

  function messageText(message) {
    if (!message) {
      return "";
    }
    return message.text !== undefined ? message.text : t(message.key, message.values);
  }

  // ---- the page around the steps ----

  function applyLanguage() {
    document.documentElement.lang = language;
    const title = mode === "manage" ? t("booking_page.manage.title") : (offer ? offer.title : "");
    document.title = title + " · Frontdesk";
    const heading = document.querySelector("main > h1");
    if (heading) {
      heading.textContent = title;
    }
    for (const element of document.querySelectorAll("[data-t]")) {
      element.textContent = t(element.dataset.t);
    }
    for (const element of document.querySelectorAll("[data-t-aria-label]")) {
      element.setAttribute("aria-label", t(element.dataset.tAriaLabel));
    }
    for (const button of document.querySelectorAll(".booking-language")) {
      button.setAttribute("aria-pressed", String(button.dataset.lang === language));
    }
    renderZones();
    renderAbout();
    renderDurations();
    renderCalendar();
    renderDay();
    renderChosen();
    renderQuestions();
    renderBooking();
    renderBanners();
  }

  function renderZones() {
    const select = $("zone");
    const names = [detectedZone];
    for (const name of [offer && offer.time_zone, booking && booking.guest_time_zone, zone]
      .concat(COMMON_ZONES)) {
      if (name && !names.includes(name) && validZone(name)) {
        names.push(name);
      }
    }
    select.replaceChildren();
    for (const name of names) {
      const option = document.createElement("option");
      option.value = name;
      const offset = offsetOf(name);
      const label = offset && offset !== name ? name + " (" + offset + ")" : name;
      option.textContent = name === detectedZone
        ? t("booking_page.time_zone.detected", { zone: label })
        : label;
      option.selected = name === zone;
      select.append(option);
    }
  }

  function placeText(place) {
    const key = PLACE_TEXTS[place];
    if (!key) {
      return "";
    }
    // A booking whose link takes no more bookings comes without the offer (and its place).
    if (place === "in_person" && !(offer && offer.location)) {
      return t("booking_page.place.in_person_plain");
    }
    return t(key, { location: offer.location });
  }

  function listOf(names) {
    return names.join(language === "ja" ? "、" : ", ");
  }

  // "With Alice Sato · 30 min · In person at Head office" under the title.
  function renderAbout() {
    const about = $("booking-about");
    if (mode !== "book" || !offer) {
      setText(about, "");
      return;
    }
    const parts = [];
    if (offer.hosts.length > 0) {
      parts.push(t("booking_page.with", { hosts: listOf(offer.hosts) }));
    }
    if (offer.durations_minutes.length === 1) {
      parts.push(t("booking_page.minutes", { minutes: offer.durations_minutes[0] }));
    }
    parts.push(placeText(offer.place));
    setText(about, parts.filter(Boolean).join(" · "));
  }

  function renderBanners() {
    setText($("booking-alert"), messageText(alertMessage));
    setText($("booking-notice"), messageText(noticeMessage));
  }

  function alert(message) {
    alertMessage = message;
    noticeMessage = null;
    renderBanners();
  }

  function notice(message) {
    noticeMessage = message;
    alertMessage = null;
    renderBanners();
  }

  function show(name, focusId) {
    step = name;
    root.dataset.step = name;
    for (const section of root.querySelectorAll(".booking-step")) {
      section.hidden = section.id !== "step-" + name;
    }
    if (focusId) {
      const target = $(focusId);
      if (target) {
        target.focus();
      }
    }
  }

  function busy(on) {
    sending = on;
    root.setAttribute("aria-busy", String(on));
    for (const id of ["details-submit", "move-yes", "cancel-yes"]) {
      $(id).disabled = on;
    }
    $("details-submit").textContent = on
      ? t("booking_page.busy")
      : t("booking_page.details.submit");
  }

  // ---- talking to the server ----

  class Unreachable extends Error {}

  function newKey() {
    if (window.crypto && crypto.randomUUID) {
      return crypto.randomUUID();
    }
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function request(method, path, body) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT);
    const headers = { Accept: "application/json" };
    const init = { method, headers, credentials: "same-origin", signal: controller.signal };
    if (body !== undefined) {
      const text = JSON.stringify(body);
      // A repeat of the same request (a double click, a retry) keeps its key.
      if (text !== lastBody) {
        lastBody = text;
        lastKey = newKey();
      }
      headers["Content-Type"] = "application/json";
      headers["Idempotency-Key"] = lastKey;
      init.body = text;
    }
    try {
      return await fetch(api + path, init);
    } catch (err) {
      throw new Unreachable();
    } finally {
      clearTimeout(timer);
    }
  }

  async function jsonOf(reply) {
    try {
      const value = await reply.json();
      return value && typeof value === "object" ? value : {};
    } catch (err) {
      return {};
    }
  }

  // What a person should read about `problem`: for a field, what is wrong with it;
  // otherwise its title, which says what to do.
  function problemText(problem) {
    const detail = typeof problem.detail === "string" ? problem.detail : "";
    if (typeof problem.field === "string" && detail) {
      const prefix = problem.field + ": ";
      return detail.startsWith(prefix) ? detail.slice(prefix.length) : detail;
    }
    return problem.title || detail || t("booking_page.failed");
  }

  // ---- durations ----

  function renderDurations() {
    const fieldset = $("durations");
    const choices = $("duration-choices");
    const several = mode === "book" && offer && offer.durations_minutes.length > 1;
    fieldset.hidden = !several;
    choices.replaceChildren();
    if (!several) {
      return;
    }
    for (const minutes of offer.durations_minutes) {
      const id = "duration-" + minutes;
      const label = document.createElement("label");
      label.className = "booking-choice";
      label.htmlFor = id;
      const input = document.createElement("input");
      input.type = "radio";
      input.name = "duration";
      input.id = id;
      input.value = String(minutes);
      input.checked = minutes === duration;
      input.addEventListener("change", () => {
        duration = minutes;
        chosenDay = null;
        loadMonth();
      });
      label.append(input, " " + t("booking_page.minutes", { minutes }));
      choices.append(label);
    }
  }

  // ---- the calendar ----

  function today() {
    return dayIn(now, zone);
  }

  // The last day a guest may book, in the guest's zone.
  function lastDay() {
    const days = offer ? offer.window_days : 60;
    return dayIn(new Date(now.getTime() + days * DAY_MS), zone);
  }

  function monthOf(key) {
    const [year, month] = key.split("-").map(Number);
    return { year, month: month - 1 };
  }

  function monthKey(month) {
    return dayKey(month.year, month.month, 1).slice(0, 7);
  }

  function addMonths(month, n) {
    const date = new Date(Date.UTC(month.year, month.month + n, 1));
    return { year: date.getUTCFullYear(), month: date.getUTCMonth() };
  }

  function daysIn(month) {
    return new Date(Date.UTC(month.year, month.month + 1, 0)).getUTCDate();
  }

  async function loadMonth() {
    const asked = ++generation;
    const first = dayKey(shown.year, shown.month, 1);
    const last = dayKey(shown.year, shown.month, daysIn(shown));
    const from = first < today() ? today() : first;
    const to = last > lastDay() ? lastDay() : last;
    slotsByDay = new Map();
    monthState = "loading";
    renderCalendar();
    renderDay();
    if (from > to) {
      monthState = "ready";
      renderCalendar();
      return;
    }
    const query = "?from=" + from + "&to=" + to + "&tz=" + encodeURIComponent(zone) +
      "&duration=" + duration;
    let reply;
    try {
      reply = await request("GET", "/links/" + encodeURIComponent(slug) + "/slots" + query);
    } catch (err) {
      if (asked === generation) {
        monthState = "failed";
        renderCalendar();
        alert({ key: "booking_page.unreachable" });
      }
      return;
    }
    const answer = await jsonOf(reply);
    if (asked !== generation) {
      return;
    }
    if (reply.status === 404 || reply.status === 410) {
      // The link was turned off or used meanwhile: the page says so.
      window.location.reload();
      return;
    }
    if (!reply.ok) {
      monthState = "failed";
      renderCalendar();
      alert({ text: problemText(answer) });
      return;
    }
    for (const slot of answer.slots || []) {
      const key = dayIn(new Date(slot.start), zone);
      if (!slotsByDay.has(key)) {
        slotsByDay.set(key, []);
      }
      slotsByDay.get(key).push(slot);
    }
    monthState = "ready";
    if (findFirstFree && slotsByDay.size === 0 && canGoNext()) {
      shown = addMonths(shown, 1);
      loadMonth();
      return;
    }
    findFirstFree = false;
    if (chosenDay && !slotsByDay.has(chosenDay)) {
      chosenDay = null;
    }
    renderCalendar();
    renderDay();
  }

  function canGoBack() {
    return monthKey(shown) > today().slice(0, 7);
  }

  function canGoNext() {
    return monthKey(addMonths(shown, 1)) <= lastDay().slice(0, 7);
  }

  function weekdayNames() {
    const names = [];
    // 2024-01-01 was a Monday: weeks start on Monday.
    for (let i = 0; i < 7; i++) {
      const key = dayKey(2024, 0, 1 + i);
      names.push({
        short: formatDay(key, { weekday: "short" }),
        long: formatDay(key, { weekday: "long" }),
      });
    }
    return names;
  }

  function renderCalendar() {
    if (!shown) {
      return;
    }
    const monthName = formatDay(dayKey(shown.year, shown.month, 1), { year: "numeric", month: "long" });
    $("month-label").textContent = monthName;
    $("month-prev").disabled = !canGoBack();
    $("month-next").disabled = !canGoNext();

    const head = $("weekdays");
    head.replaceChildren();
    for (const name of weekdayNames()) {
      const cell = document.createElement("th");
      cell.scope = "col";
      const abbr = document.createElement("abbr");
      abbr.title = name.long;
      abbr.textContent = name.short;
      cell.append(abbr);
      head.append(cell);
    }

    const body = $("days");
    body.replaceChildren();
    const firstWeekday = (calendarDate(dayKey(shown.year, shown.month, 1)).getUTCDay() + 6) % 7;
    let row = document.createElement("tr");
    for (let i = 0; i < firstWeekday; i++) {
      row.append(document.createElement("td"));
    }
    const loading = monthState !== "ready";
    for (let day = 1; day <= daysIn(shown); day++) {
      const key = dayKey(shown.year, shown.month, day);
      const free = !loading && slotsByDay.has(key);
      const cell = document.createElement("td");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "calendar-day" + (free ? " free" : "") + (key === today() ? " today" : "");
      button.dataset.day = key;
      button.textContent = String(day);
      button.disabled = !free;
      button.setAttribute("aria-label", t(free ? "booking_page.calendar.free" : "booking_page.calendar.none", { date: longDay(key) }));
      button.setAttribute("aria-pressed", String(key === chosenDay));
      // One day of the month is in the Tab order; the arrow keys move between free days.
      button.tabIndex = -1;
      button.addEventListener("click", () => chooseDay(key));
      button.addEventListener("keydown", (event) => {
        if (moveAmongDays(key, event.key)) {
          event.preventDefault();
        }
      });
      cell.append(button);
      row.append(cell);
      if (row.children.length === 7) {
        body.append(row);
        row = document.createElement("tr");
      }
    }
    if (row.children.length > 0) {
      while (row.children.length < 7) {
        row.append(document.createElement("td"));
      }
      body.append(row);
    }
    root.querySelector(".calendar-grid").setAttribute("aria-busy", String(loading));
    const freeDays = [...body.querySelectorAll("button.calendar-day.free")];
    const entry = freeDays.find((b) => b.dataset.day === chosenDay) || freeDays[0];
    if (entry) {
      entry.tabIndex = 0;
    }

    let status = "";
    if (monthState === "loading") {
      status = t("booking_page.loading");
    } else if (monthState === "ready") {
      status = slotsByDay.size > 0
        ? t("booking_page.calendar.month", { month: monthName, count: slotsByDay.size })
        : t(canGoNext() ? "booking_page.calendar.empty_month" : "booking_page.calendar.empty_window", { month: monthName });
    }
    $("calendar-status").textContent = status;
  }

  // The day `days` after `key` (negative: before), as a key.
  function addDays(key, days) {
    const date = calendarDate(key);
    date.setUTCDate(date.getUTCDate() + days);
    return dayKey(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate());
  }

  // Moves the focus from day `key` as the arrow, Home and End keys ask, among the month's
  // free days (the grid pattern: left and right to the previous or next free day, up and
  // down a week, Home and End to the first and last). Whether the key was one of them.
  function moveAmongDays(key, pressed) {
    const free = [...$("days").querySelectorAll("button.calendar-day.free")];
    const at = free.findIndex((b) => b.dataset.day === key);
    let target;
    switch (pressed) {
      case "ArrowRight":
        target = free[at + 1];
        break;
      case "ArrowLeft":
        target = at > 0 ? free[at - 1] : undefined;
        break;
      case "ArrowDown":
        target = free.find((b) => b.dataset.day >= addDays(key, 7));
        break;
      case "ArrowUp":
        target = free.filter((b) => b.dataset.day <= addDays(key, -7)).pop();
        break;
      case "Home":
        target = free[0];
        break;
      case "End":
        target = free[free.length - 1];
        break;
      default:
        return false;
    }
    if (target) {
      for (const day of free) {
        day.tabIndex = day === target ? 0 : -1;
      }
      target.focus();
    }
    return true;
  }

  function chooseDay(key) {
    chosenDay = key;
    renderCalendar();
    renderDay();
    $("day-title").focus();
  }

  function renderDay() {
    const section = $("day");
    const slots = chosenDay ? slotsByDay.get(chosenDay) : null;
    section.hidden = !slots;
    const list = $("slots");
    list.replaceChildren();
    if (!slots) {
      return;
    }
    $("day-title").textContent = t("booking_page.slots.title", {
      date: formatDay(chosenDay, { weekday: "long", month: "long", day: "numeric" }),
    });
    $("day-hint").textContent = t("booking_page.slots.hint", { zone });
    for (const slot of slots) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "slot";
      button.dataset.start = slot.start;
      button.textContent = formatTime(new Date(slot.start));
      button.setAttribute("aria-label", formatRange(slot.start, slot.end));
      button.addEventListener("click", () => chooseSlot(slot));
      item.append(button);
      list.append(item);
    }
  }

  function chooseSlot(slot) {
    chosenSlot = slot;
    alert(null);
    renderChosen();
    if (mode === "manage") {
      show("move", "move-title");
    } else {
      show("details", "details-title");
    }
  }

  function renderChosen() {
    const text = chosenSlot ? formatRange(chosenSlot.start, chosenSlot.end) : "";
    $("chosen-when").textContent = text;
    $("move-when").textContent = text;
    $("move-from").textContent = booking ? formatRange(booking.start, booking.end) : "";
  }

  function showCalendar(focus) {
    show("when", focus ? "when-title" : null);
    $("when-back").hidden = mode !== "manage";
    if (!shown) {
      shown = monthOf(today());
      findFirstFree = true;
      loadMonth();
    }
  }

  // ---- the guest's details ----

  function renderQuestions() {
    const box = $("questions");
    const kept = {};
    for (const input of box.querySelectorAll("input")) {
      kept[input.dataset.key] = input.value;
    }
    box.replaceChildren();
    $("phone-field").hidden = !(offer && offer.place === "phone");
    if (!offer) {
      return;
    }
    offer.questions.forEach((question, index) => {
      const id = "question-" + index;
      const field = document.createElement("div");
      field.className = "field";
      const label = document.createElement("label");
      label.htmlFor = id;
      label.textContent = language === "ja" ? question.label_ja : question.label_en;
      if (!question.required) {
        const optional = document.createElement("span");
        optional.className = "optional";
        optional.textContent = " " + t("booking_page.details.optional");
        label.append(optional);
      }
      const input = document.createElement("input");
      input.type = "text";
      input.id = id;
      input.name = id;
      input.maxLength = 500;
      input.dataset.key = question.key;
      input.value = kept[question.key] || "";
      if (question.required) {
        input.required = true;
        input.setAttribute("aria-required", "true");
      }
      input.setAttribute("aria-describedby", id + "-error");
      const error = document.createElement("p");
      error.id = id + "-error";
      error.className = "field-error";
      error.hidden = true;
      field.append(label, input, error);
      box.append(field);
    });
  }

  // The input a problem's `field` names ("name", "answers.topic", …).
  function inputFor(field) {
    if (["name", "email", "company", "phone"].includes(field)) {
      return $(field);
    }
    if (field.startsWith("answers.")) {
      const key = field.slice("answers.".length);
      return Array.from($("questions").querySelectorAll("input"))
        .find((input) => input.dataset.key === key) || null;
    }
    return null;
  }

  function fieldError(input, text) {
    const error = $(input.id + "-error");
    setText(error, text);
    if (text) {
      input.setAttribute("aria-invalid", "true");
    } else {
      input.removeAttribute("aria-invalid");
    }
  }

  function clearFieldErrors() {
    for (const input of $("details-form").querySelectorAll("input[aria-describedby]")) {
      fieldError(input, "");
    }
  }

  // Required fields left empty, named where they are; the first one gets the focus.
  function missingFields() {
    const required = [$("name"), $("email")];
    if (!$("phone-field").hidden) {
      required.push($("phone"));
    }
    required.push(...$("questions").querySelectorAll("input[required]"));
    const missing = required.filter((input) => !input.value.trim());
    for (const input of missing) {
      fieldError(input, t("booking_page.details.required"));
    }
    return missing;
  }

  async function submitDetails(event) {
    event.preventDefault();
    if (sending || !chosenSlot) {
      return;
    }
    clearFieldErrors();
    alert(null);
    const missing = missingFields();
    if (missing.length > 0) {
      missing[0].focus();
      return;
    }
    const answers = {};
    for (const input of $("questions").querySelectorAll("input")) {
      if (input.value.trim()) {
        answers[input.dataset.key] = input.value.trim();
      }
    }
    const body = {
      start: chosenSlot.start,
      duration_minutes: duration,
      name: $("name").value.trim(),
      email: $("email").value.trim(),
      tz: zone,
      answers,
      language,
      website: $("website").value,
    };
    if ($("company").value.trim()) {
      body.company = $("company").value.trim();
    }
    if (!$("phone-field").hidden) {
      body.phone = $("phone").value.trim();
    }
    busy(true);
    let reply;
    try {
      reply = await request("POST", "/links/" + encodeURIComponent(slug) + "/bookings", body);
    } catch (err) {
      busy(false);
      alert({ key: "booking_page.unreachable" });
      return;
    }
    const answer = await jsonOf(reply);
    busy(false);
    if (reply.ok) {
      booked(answer, body.email);
    } else if (reply.status === 409) {
      taken();
    } else if (reply.status === 404 || reply.status === 410) {
      window.location.reload();
    } else if (reply.status === 422 && typeof answer.field === "string" && inputFor(answer.field)) {
      const input = inputFor(answer.field);
      fieldError(input, problemText(answer));
      input.focus();
    } else {
      alert({ text: problemText(answer) });
    }
  }

  // The slot went to someone else meanwhile: say so kindly, and show the times still free.
  function taken() {
    chosenSlot = null;
    renderChosen();
    show("when", "when-title");
    alert({ key: "booking_page.taken" });
    loadMonth();
  }

  function booked(answer, email) {
    booking = answer;
    if (answer.manage_url) {
      try {
        token = new URL(answer.manage_url, window.location.href).searchParams.get("t") || "";
      } catch (err) {
        token = "";
      }
    }
    $("done-mail").dataset.email = email;
    renderBooking();
    show("done", "done-title");
  }

  // ---- a booking: the confirmation and the manage page ----

  function bookingPath(suffix) {
    return "/b/" + encodeURIComponent(slug) + "/bookings/" + encodeURIComponent(booking.id) +
      suffix + "?t=" + encodeURIComponent(token);
  }

  function compactInstant(iso) {
    return new Date(iso).toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "");
  }

  function query(params) {
    return Object.entries(params)
      .map(([name, value]) => name + "=" + encodeURIComponent(value))
      .join("&");
  }

  function safeUrl(url) {
    return typeof url === "string" && /^https:\/\//.test(url) ? url : null;
  }

  function row(list, label, content) {
    const term = document.createElement("dt");
    term.textContent = label;
    const value = document.createElement("dd");
    value.append(content);
    list.append(term, value);
    return value;
  }

  function link(href, text, external) {
    const anchor = document.createElement("a");
    anchor.href = href;
    anchor.textContent = text;
    if (external) {
      anchor.target = "_blank";
      anchor.rel = "noopener noreferrer";
    }
    return anchor;
  }

  function summary() {
    const box = document.createDocumentFragment();
    const cancelled = booking.status === "cancelled";
    const list = document.createElement("dl");
    list.className = "booking-summary";
    row(list, t("booking_page.when"), formatRange(booking.start, booking.end)).id = "summary-when";
    row(list, t("booking_page.hosts"), listOf(booking.hosts)).id = "summary-hosts";
    row(list, t("booking_page.place"), placeText(booking.place));
    const video = safeUrl(booking.conference_url);
    if (!cancelled && (booking.place === "google_meet" || booking.place === "teams")) {
      row(list, t("booking_page.video"), video
        ? link(video, t("booking_page.video.join"), true)
        : t("booking_page.video.pending"));
    }
    box.append(list);

    if (!cancelled && booking.reception_code) {
      const code = document.createElement("div");
      code.className = "booking-code";
      const label = document.createElement("p");
      label.className = "booking-code-label";
      label.textContent = t("booking_page.code");
      const value = document.createElement("p");
      value.className = "booking-code-value";
      value.id = "reception-code";
      value.textContent = booking.reception_code;
      code.append(label, value);
      if (token) {
        const qr = document.createElement("img");
        qr.className = "booking-code-qr";
        qr.src = bookingPath("/code.svg");
        qr.alt = t("booking_page.code.qr", { code: booking.reception_code });
        qr.width = 160;
        qr.height = 160;
        code.append(qr);
      }
      const hint = document.createElement("p");
      hint.className = "hint";
      hint.textContent = t("booking_page.code.hint");
      code.append(hint);
      box.append(code);
    }

    if (!cancelled && token) {
      const heading = document.createElement("h3");
      heading.textContent = t("booking_page.add.title");
      const details = [t("booking_page.with", { hosts: listOf(booking.hosts) })];
      if (booking.reception_code) {
        details.push(t("booking_page.add.details", { code: booking.reception_code }));
      }
      if (video) {
        details.push(video);
      }
      const where = video || (booking.place === "in_person" && offer && offer.location) || "";
      const google = "https://calendar.google.com/calendar/render?" + query({
        action: "TEMPLATE",
        text: booking.title,
        dates: compactInstant(booking.start) + "/" + compactInstant(booking.end),
        details: details.join("\n"),
        location: where,
      });
      const outlook = "https://outlook.office.com/calendar/0/deeplink/compose?" + query({
        subject: booking.title,
        startdt: booking.start,
        enddt: booking.end,
        body: details.join("\n"),
        location: where,
      });
      const adds = document.createElement("ul");
      adds.className = "booking-add";
      const ics = link(bookingPath("/invite.ics"), t("booking_page.add.ics"), false);
      ics.id = "add-ics";
      ics.setAttribute("download", "invite.ics");
      const googleLink = link(google, t("booking_page.add.google"), true);
      googleLink.id = "add-google";
      const outlookLink = link(outlook, t("booking_page.add.outlook"), true);
      outlookLink.id = "add-outlook";
      for (const anchor of [ics, googleLink, outlookLink]) {
        const item = document.createElement("li");
        item.append(anchor);
        adds.append(item);
      }
      box.append(heading, adds);
      if (mode === "book") {
        const manage = document.createElement("p");
        const anchor = link(bookingPath(""), t("booking_page.manage_link"), false);
        anchor.id = "manage-link";
        manage.append(anchor);
        box.append(manage);
      }
    }
    return box;
  }

  function renderBooking() {
    if (!booking) {
      return;
    }
    if (mode === "manage") {
      $("manage-title").textContent = booking.title;
      $("manage-summary").replaceChildren(summary());
      const cancelled = booking.status === "cancelled";
      $("manage-actions").hidden = cancelled || cancelAsked;
      // Without the link's offer there are no times to move to; cancelling still works.
      $("manage-reschedule").hidden = !offer;
      $("cancel-confirm").hidden = cancelled || !cancelAsked;
      if (cancelled && !noticeMessage) {
        noticeMessage = { key: "booking_page.manage.cancelled" };
      }
    } else {
      const mail = $("done-mail");
      setText(mail, mail.dataset.email ? t("booking_page.done.mail", { email: mail.dataset.email }) : "");
      $("done-summary").replaceChildren(summary());
    }
  }

  // ---- managing ----

  async function manageRequest(path, body) {
    busy(true);
    let reply;
    try {
      reply = await request("POST", "/bookings/" + encodeURIComponent(booking.id) + path, body);
    } catch (err) {
      busy(false);
      alert({ key: "booking_page.unreachable" });
      return null;
    }
    const answer = await jsonOf(reply);
    busy(false);
    if (reply.status === 404) {
      window.location.reload();
      return null;
    }
    return { reply, answer };
  }

  async function move() {
    if (sending || !chosenSlot) {
      return;
    }
    const done = await manageRequest("/reschedule", { t: token, start: chosenSlot.start });
    if (!done) {
      return;
    }
    if (done.reply.ok) {
      booking = done.answer;
      chosenSlot = null;
      chosenDay = null;
      shown = null;
      renderBooking();
      show("manage", "manage-title");
      notice({ key: "booking_page.manage.moved" });
    } else if (done.reply.status === 409) {
      taken();
    } else {
      alert({ text: problemText(done.answer) });
    }
  }

  async function cancel() {
    if (sending) {
      return;
    }
    const done = await manageRequest("/cancel", { t: token });
    if (!done) {
      return;
    }
    if (done.reply.ok) {
      booking = done.answer;
      cancelAsked = false;
      renderBooking();
      show("manage", "manage-title");
      notice({ key: "booking_page.manage.done_cancel" });
    } else if (done.reply.status === 409) {
      window.location.reload();
    } else {
      alert({ text: problemText(done.answer) });
    }
  }

  function askCancel(asked) {
    cancelAsked = asked;
    alertMessage = null;
    noticeMessage = null;
    renderBanners();
    renderBooking();
    $(asked ? "cancel-question" : "manage-cancel").focus();
  }

  // ---- wiring ----

  for (const button of document.querySelectorAll(".booking-language")) {
    button.addEventListener("click", () => {
      language = button.dataset.lang;
      const secure = window.location.protocol === "https:" ? "; Secure" : "";
      document.cookie = "fd_lang=" + language + "; path=/; max-age=31536000; SameSite=Lax" + secure;
      applyLanguage();
    });
  }
  $("zone").addEventListener("change", () => {
    zone = $("zone").value;
    renderChosen();
    renderBooking();
    if (shown) {
      chosenDay = null;
      loadMonth();
    }
  });
  $("month-prev").addEventListener("click", () => {
    if (canGoBack()) {
      findFirstFree = false;
      shown = addMonths(shown, -1);
      chosenDay = null;
      loadMonth();
    }
  });
  $("month-next").addEventListener("click", () => {
    if (canGoNext()) {
      findFirstFree = false;
      shown = addMonths(shown, 1);
      chosenDay = null;
      loadMonth();
    }
  });
  $("details-change").addEventListener("click", () => {
    show("when", "day-title");
    if (!chosenDay) {
      $("when-title").focus();
    }
  });
  $("details-form").addEventListener("submit", submitDetails);
  // What was said about a field goes once the guest changes it.
  $("details-form").addEventListener("input", (event) => {
    if (event.target.getAttribute("aria-invalid") === "true") {
      fieldError(event.target, "");
    }
  });
  $("when-back").addEventListener("click", () => show("manage", "manage-title"));
  $("move-back").addEventListener("click", () => show("when", "day-title"));
  $("move-yes").addEventListener("click", move);
  $("manage-reschedule").addEventListener("click", () => {
    alert(null);
    noticeMessage = null;
    renderBanners();
    showCalendar(true);
  });
  $("manage-cancel").addEventListener("click", () => askCancel(true));
  $("cancel-keep").addEventListener("click", () => askCancel(false));
  $("cancel-yes").addEventListener("click", cancel);

  applyLanguage();
  if (mode === "manage") {
    renderBooking();
    renderBanners();
    show("manage");
  } else {
    showCalendar(false);
  }
})();
