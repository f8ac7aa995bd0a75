// Parklotse staff page: controls the demo simulator through the API and links the open-data endpoints.
// The control token is asked for once and kept in sessionStorage (gone when the tab closes).
"use strict";

const TEXT = {
  de: {
    title: "Parklotse – Steuerung", token_title: "Zugang", token_label: "Token für die Steuerung",
    token_save: "Anmelden", token_wrong: "Das Token wurde abgelehnt. Bitte erneut eingeben.", logout: "Token vergessen",
    token_help: "Das Token zeigt „parklotse demo“ beim Start an (PARKLOTSE_API_TOKEN).",
    sim_title: "Simulator", speed: "Zeitraffer", guidance: "Anteil der Fahrer, die der Lenkung folgen",
    latency: "Verzögerung der Sensordaten (s)", start: "Start", pause: "Pause", reset: "Zurücksetzen", apply: "Übernehmen",
    running: "läuft", paused: "pausiert", stopped: "gestoppt", unavailable: "nicht erreichbar", none: "kein Simulator",
    not_available: "Die Simulator-Steuerung ist nicht erreichbar", no_simulator: "Es läuft kein Simulator (z. B. ein Ort mit echten Sensoren).",
    sent: "Gesendet:", failed: "Fehler:",
    links_title: "Offene Daten und Seiten", kiosk: "Kiosk-Seite", kiosk_en: "Kiosk-Seite (englisch)",
    api_docs: "API-Dokumentation", lang: "EN",
    st_preset: "Geschichte", st_steering: "Lenkung", st_speed: "Zeitraffer", st_guidance: "folgen der Lenkung",
    st_latency: "Sensorverzögerung", st_time: "Simulierte Zeit",
    stories: "Geschichte wählen", stories_help: "Ein Klick startet den Tag neu mit dieser Nachfrage; der Bildschirm zeigt ihn sofort.",
    steering: "Wie gelenkt wird", steer_app: "App", steer_signs: "Schilder", steer_both: "Beides",
    steer_app_help: "Ein Teil der Fahrer bekommt per App einen freien Platz genannt.",
    steer_signs_help: "Parkleitsystem: Schilder an den Einfahrten zeigen freie Plätze je Zone oder „besetzt“ und schicken ins Parkhaus.",
    steer_both_help: "App und Schilder zusammen.",
    guidance_help: "0 %: beide Städte sind gleich, es wird nichts eingespart.",
    latency_help: "So alt sind die Daten, nach denen gelenkt wird; alte Daten schicken zu schon belegten Plätzen.",
    speed_help: "Simulierte Sekunden je echter Sekunde; 20–30× lässt sich gut zusehen.",
    hour: "Zu Uhrzeit springen", jump: "Springen",
    hour_help: "Der simulierte Tag beginnt zu dieser Uhrzeit neu (z. B. Markttag 11 Uhr: Spitze).",
    fc_title: "Prognose: gemessener Fehler",
    fc_help: "Modellrechnung, täglich aus der Geschichte des Ortes neu gelernt und an seinen letzten Tagen geprüft (nur mit Daten davor trainiert). Mittlerer absoluter Fehler in Prozentpunkten der Plätze, kleiner ist besser; daneben einfache Vergleichsprognosen auf denselben Fällen (n).",
    fc_horizon: "Vorlauf", fc_model: "Modell", fc_persistence: "letzter Wert", fc_week: "gleiche Zeit vor 1 Woche",
    fc_median: "Median Wochentag × Uhrzeit", fc_band: "im 10–90-%-Band", fc_next_day: "nächster Tag",
    fc_period: "Testzeitraum {from} bis {to}, Modell gelernt bis {trained}", fc_none: "keine Prognose:",
    fc_shown: "Kiosk zeigt „in 30 Min“: {yes}", yes: "ja", no: "nein (schlägt den letzten Wert nicht)",
  },
  en: {
    title: "Parklotse – controls", token_title: "Access", token_label: "Control token", token_save: "Sign in",
    token_wrong: "The token was refused. Please enter it again.", logout: "Forget token", sim_title: "Simulator",
    token_help: "“parklotse demo” prints the token when it starts (PARKLOTSE_API_TOKEN).",
    speed: "Time lapse", guidance: "Share of drivers who follow the guidance",
    latency: "Sensor data delay (s)", start: "Start", pause: "Pause", reset: "Reset", apply: "Apply",
    running: "running", paused: "paused", stopped: "stopped", unavailable: "unreachable", none: "no simulator",
    not_available: "Simulator control is unreachable", no_simulator: "No simulator is running (e.g. a site with real sensors).",
    sent: "Sent:", failed: "Error:",
    links_title: "Open data and pages", kiosk: "Kiosk page", kiosk_en: "Kiosk page (English)",
    api_docs: "API documentation", lang: "DE",
    st_preset: "Story", st_steering: "Steering", st_speed: "Time lapse", st_guidance: "follow the guidance",
    st_latency: "Sensor delay", st_time: "Simulated time",
    stories: "Pick a story", stories_help: "One click restarts the day with this demand; the screen shows it at once.",
    steering: "How drivers are steered", steer_app: "App", steer_signs: "Signs", steer_both: "Both",
    steer_app_help: "A share of the drivers is told a free bay by an app.",
    steer_signs_help: "Guidance signs at the entrances show free bays per zone or “full” and send drivers to the car park.",
    steer_both_help: "App and signs together.",
    guidance_help: "0 %: both towns are the same, nothing is saved.",
    latency_help: "How old the data behind the guidance are; old data send drivers to bays already taken.",
    speed_help: "Simulated seconds per real second; 20–30× is good to watch.",
    hour: "Jump to a time of day", jump: "Jump",
    hour_help: "The simulated day restarts at this hour (e.g. market day 11:00: the peak).",
    fc_title: "Forecast: measured error",
    fc_help: "A model estimate, refitted daily on the site's history and tested on its last days (trained only on the data before them). Mean absolute error in percentage points of the bays, lower is better; beside it simple forecasts on the same cases (n).",
    fc_horizon: "Ahead", fc_model: "Model", fc_persistence: "last value", fc_week: "same time a week ago",
    fc_median: "weekday × time median", fc_band: "inside the 10–90 % band", fc_next_day: "next day",
    fc_period: "Test period {from} to {to}, model trained until {trained}", fc_none: "no forecast:",
    fc_shown: "Kiosk shows “in 30 min”: {yes}", yes: "yes", no: "no (does not beat the last value)",
  },
};
const TOKEN_KEY = "parklotse.token";
const POLL_MS = 3000;
const params = new URLSearchParams(location.search);
let lang = params.get("lang") === "en" ? "en" : "de";
let formFilled = false;
let lastStatus = null;
let simulators = [];
let site = params.get("site");
let sites = [];
const $ = (id) => document.getElementById(id);
const t = (key) => TEXT[lang][key] ?? key;

function token() { return sessionStorage.getItem(TOKEN_KEY); }

function applyLanguage() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  $("lang").textContent = t("lang");
  renderStatus(lastStatus);
  renderLinks();
}

function showLogin(message) {
  $("login").hidden = false;
  $("controls").hidden = true;
  const msg = $("login-msg");
  msg.textContent = message || "";
  msg.className = message ? "msg error" : "msg";
  $("token").focus();
}

function showControls() {
  $("login").hidden = true;
  $("controls").hidden = false;
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  if (body) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, cache: "no-store", body: body ? JSON.stringify(body) : undefined });
  let data = null;
  try { data = await response.json(); } catch (err) { data = null; }
  return { status: response.status, ok: response.ok, data };
}

function hm(hours) {
  const h = Math.floor(hours);
  const m = Math.round((hours - h) * 60);
  return `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}`;
}

function text(value) {
  // Preset titles and descriptions come as {de, en}.
  if (value && typeof value === "object") return value[lang] || value.de || "";
  return value === undefined || value === null ? "" : String(value);
}

function renderStatus(status) {
  const pill = $("sim-state");
  const state = status ? status.state || "running" : simulators.length ? "unavailable" : "none";
  pill.textContent = t(state);
  pill.className = `pill ${state === "unavailable" || state === "none" ? "offline" : state}`;
  const dl = $("status");
  dl.replaceChildren();
  renderPresets(status);
  if (!status) return;
  const preset = (status.presets || []).find((p) => p.name === status.preset);
  const rows = [
    ["st_time", `${status.day_label || ""} ${status.sim_time ? hm(Number(status.sim_time.slice(11, 13)) + Number(status.sim_time.slice(14, 16)) / 60) : ""}`.trim()],
    ["st_preset", preset ? text(preset.title) : status.preset],
    ["st_steering", status.steering ? t(`steer_${status.steering}`) : null],
    ["st_guidance", status.guidance_share !== undefined ? `${Math.round(status.guidance_share * 100)} %` : null],
    ["st_latency", status.sensor_latency_s !== undefined ? `${status.sensor_latency_s} s` : null],
    ["st_speed", status.speed ? `${status.speed}×` : null],
  ];
  for (const [key, value] of rows) {
    if (value === undefined || value === null || value === "") continue;
    const dt = document.createElement("dt");
    dt.textContent = t(key);
    const dd = document.createElement("dd");
    dd.textContent = String(value);
    dl.append(dt, dd);
  }
}

function renderPresets(status) {
  const box = $("presets");
  box.replaceChildren();
  for (const preset of (status && status.presets) || []) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = `preset${preset.name === status.preset ? " active" : ""}`;
    button.dataset.preset = preset.name;
    const title = document.createElement("b");
    title.textContent = text(preset.title);
    const line = document.createElement("small");
    line.textContent = text(preset.description);
    button.append(title, line);
    button.addEventListener("click", () => send({ action: "start", preset: preset.name }));
    box.appendChild(button);
  }
}

function fillForm(status) {
  const hour = $("hour");
  if (Array.isArray(status.window_hours)) {
    hour.min = String(Math.floor(status.window_hours[0]));
    hour.max = String(Math.max(Number(hour.min), Math.ceil(status.window_hours[1]) - 0.5));
  }
  if (formFilled) return;
  formFilled = true;
  const steering = document.querySelector(`input[name=steering][value="${status.steering}"]`);
  if (steering) steering.checked = true;
  if (status.guidance_share !== undefined) $("guidance").value = String(Math.round(status.guidance_share * 100));
  if (status.sensor_latency_s !== undefined) $("latency").value = String(status.sensor_latency_s);
  if (status.speed) {
    const speed = $("speed");
    if (![...speed.options].some((o) => Number(o.value) === Number(status.speed))) {
      speed.add(new Option(`${status.speed}×`, String(status.speed)));
    }
    speed.value = String(status.speed);
  }
  if (status.sim_time) hour.value = String(Math.floor(Number(status.sim_time.slice(11, 13))));
  updateOutputs();
}

async function poll() {
  try {
    // The list always answers 200; a site's status is asked for only when its simulator runs.
    const list = await api("GET", "/api/v1/simulators");
    if (!list.ok) { lastStatus = null; renderStatus(null); say(`${t("not_available")} (HTTP ${list.status}).`, true); return; }
    simulators = list.data || [];
    renderSites();
    if (!simulators.length) { lastStatus = null; renderStatus(null); say(t("no_simulator")); return; }
    const result = await api("GET", `/api/v1/simulator?site=${encodeURIComponent(site)}`);
    if (result.status === 401 || result.status === 403) { showLogin(token() ? t("token_wrong") : ""); return; }
    if (!result.ok) { lastStatus = null; renderStatus(null); say(`${t("not_available")} (HTTP ${result.status}).`, true); return; }
    lastStatus = result.data;
    renderStatus(result.data);
    fillForm(result.data || {});
  } catch (err) {
    lastStatus = null;
    renderStatus(null);
  }
}

function renderSites() {
  const select = $("site");
  const names = simulators.map((s) => s.site);
  if (!names.includes(site)) site = names.includes("showroom") ? "showroom" : names[0] || null;
  select.hidden = names.length < 2;
  if (select.options.length !== names.length || [...select.options].some((o, i) => o.value !== names[i])) {
    select.replaceChildren(...names.map((n) => new Option(n, n)));
  }
  if (site) select.value = site;
}

function say(message, error = false) {
  const msg = $("msg");
  msg.textContent = message;
  msg.className = error ? "msg error" : "msg";
}

function settings() {
  const steering = document.querySelector("input[name=steering]:checked");
  const body = {
    guidance_share: Number($("guidance").value) / 100,
    sensor_latency_s: Number($("latency").value),
    speed: Number($("speed").value),
  };
  if (steering) body.steering = steering.value;
  return body;
}

async function send(command) {
  const body = { ...command };
  if (site) body.site = site;
  try {
    const result = await api("POST", "/api/v1/simulator", body);
    if (result.status === 401 || result.status === 403) {
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin(t("token_wrong"));
      return;
    }
    if (!result.ok) {
      const detail = result.data && result.data.detail ? `: ${typeof result.data.detail === "string" ? result.data.detail : JSON.stringify(result.data.detail)}` : "";
      say(`${t("failed")} HTTP ${result.status}${detail}`, true);
      return;
    }
    say(`${t("sent")} ${JSON.stringify(body)}`);
    poll();
  } catch (err) {
    say(`${t("failed")} ${err.message}`, true);
  }
}

function updateOutputs() {
  $("guidance-out").textContent = `${$("guidance").value} %`;
  $("hour-out").textContent = hm(Number($("hour").value));
}

function link(href, label) {
  const li = document.createElement("li");
  const a = document.createElement("a");
  a.href = href;
  a.textContent = label;
  const code = document.createElement("code");
  code.textContent = ` ${href}`;
  li.append(a, code);
  return li;
}

function renderLinks() {
  const box = $("links");
  box.replaceChildren();
  const general = document.createElement("ul");
  general.append(
    link(lang === "de" ? "/" : "/?lang=en", t("kiosk")),
    link("/api/v1/datex2/parking-publication-light", "DATEX II Parking Publication Light"),
    link("/docs", t("api_docs")),
    link("/openapi.json", "OpenAPI"),
  );
  box.append(general);
  for (const site of sites) {
    const h = document.createElement("h3");
    h.textContent = `${site.name} (${site.id})`;
    const enc = encodeURIComponent(site.id);
    const ul = document.createElement("ul");
    ul.append(
      link(`/?site=${enc}${lang === "en" ? "&lang=en" : ""}`, t("kiosk")),
      link(`/api/v1/sites/${enc}/fiware/parking-spots`, "FIWARE ParkingSpot (NGSI-LD)"),
      link(`/api/v1/sites/${enc}/parkapi/parking-sites`, "ParkAPI v3"),
      link(`/api/v1/sites/${enc}/history.csv`, "CSV"),
      link(`/api/v1/sites/${enc}/geojson`, "GeoJSON"),
    );
    box.append(h, ul);
  }
}

// ---------------------------------------------------------------- the forecast's back-test

function fill(key, vars) {
  let s = t(key);
  for (const [k, v] of Object.entries(vars)) s = s.replace(`{${k}}`, v);
  return s;
}

function day(iso) { return new Date(iso).toLocaleString(lang === "de" ? "de-DE" : "en-GB", { dateStyle: "short", timeStyle: "short" }); }

function cell(tag, content) {
  const el = document.createElement(tag);
  el.textContent = content;
  return el;
}

function backtestTable(body) {
  const table = document.createElement("table");
  table.className = "backtest";
  const head = document.createElement("tr");
  for (const key of ["fc_horizon", "fc_model", "fc_persistence", "fc_week", "fc_median", "n", "fc_band"]) head.append(cell("th", t(key)));
  table.append(head);
  const number = (v, digits = 2) => (v === null ? "–" : v.toLocaleString(lang === "de" ? "de-DE" : "en-GB", { minimumFractionDigits: digits, maximumFractionDigits: digits }));
  for (const row of body.backtest.horizons) {
    const tr = document.createElement("tr");
    const best = Math.min(...["model", "persistence", "same_slot_last_week", "weekday_slot_median"].map((k) => row[k] ?? Infinity));
    tr.append(cell("td", row.horizon_min === 1440 ? t("fc_next_day") : `${row.horizon_min} min`));
    for (const key of ["model", "persistence", "same_slot_last_week", "weekday_slot_median"]) {
      const td = cell("td", number(row[key]));
      if (row[key] === best) td.className = "best";
      tr.append(td);
    }
    tr.append(cell("td", number(row.n, 0)), cell("td", row.band_10_90_coverage === null ? "–" : `${Math.round(row.band_10_90_coverage * 100)} %`));
    table.append(tr);
  }
  return table;
}

async function loadForecasts() {
  const box = $("forecast-tables");
  const parts = [];
  const headers = token() ? { Authorization: `Bearer ${token()}` } : {};
  // The list always answers 200; a site's forecast is only asked for once it is there.
  const states = await fetch("/api/v1/forecasts", { cache: "no-store", headers })
    .then((r) => (r.ok ? r.json() : [])).catch(() => []);
  for (const s of sites) {
    const h = cell("h3", `${s.name} (${s.id})`);
    const state = states.find((x) => x.site === s.id);
    if (!state || state.state !== "ready") {
      parts.push(h, cell("p", `${t("fc_none")} ${state ? state.detail : "–"}`));
      continue;
    }
    try {
      const response = await fetch(`/api/v1/sites/${encodeURIComponent(s.id)}/forecast?horizon=15`, { cache: "no-store", headers });
      const body = await response.json();
      if (!response.ok) { parts.push(h, cell("p", `${t("fc_none")} ${body.detail}`)); continue; }
      if (!body.backtest) { parts.push(h, cell("p", `${t("fc_none")} ${body.backtest_note}`)); continue; }
      const thirty = body.backtest.horizons.find((r) => r.horizon_min === 30);
      parts.push(
        h,
        cell("p", fill("fc_period", { from: day(body.backtest.test_from), to: day(body.backtest.test_to), trained: day(body.trained_to) })),
        backtestTable(body),
        cell("p", fill("fc_shown", { yes: thirty && thirty.model_beats_persistence ? t("yes") : t("no") })),
      );
    } catch (err) {
      parts.push(h, cell("p", `${t("fc_none")} ${err.message}`));
    }
  }
  box.replaceChildren(...parts);
}

async function loadSites() {
  try {
    const response = await fetch("/api/v1/sites", { cache: "no-store" });
    if (response.ok) sites = await response.json();
  } catch (err) {
    sites = [];
  }
  renderLinks();
  loadForecasts();
}

function init() {
  applyLanguage();
  $("lang").addEventListener("click", () => {
    lang = lang === "de" ? "en" : "de";
    const url = new URL(location.href);
    if (lang === "en") url.searchParams.set("lang", "en"); else url.searchParams.delete("lang");
    history.replaceState(null, "", url);
    applyLanguage();
    loadForecasts();
  });
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const value = $("token").value.trim();
    if (!value) return;
    sessionStorage.setItem(TOKEN_KEY, value);
    $("token").value = "";
    showControls();
    poll();
  });
  $("logout").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); showLogin(); });
  $("site").addEventListener("change", () => { site = $("site").value; formFilled = false; poll(); });
  $("guidance").addEventListener("input", updateOutputs);
  $("hour").addEventListener("input", updateOutputs);
  $("btn-apply").addEventListener("click", () => send({ action: "set", ...settings() }));
  $("btn-jump").addEventListener("click", () => send({ action: "start", hour: Number($("hour").value) }));
  $("btn-start").addEventListener("click", () => send({ action: "start" }));
  $("btn-pause").addEventListener("click", () => send({ action: "pause" }));
  $("btn-reset").addEventListener("click", () => send({ action: "reset" }));
  if (token()) { showControls(); poll(); } else { showLogin(); }
  loadSites();
  setInterval(() => { if (token() && !document.hidden) poll(); }, POLL_MS);
}

init();
