// Parklotse staff page: controls the demo simulator through the API and links the open-data endpoints.
// The control token is asked for once and kept in sessionStorage (gone when the tab closes).
"use strict";

const TEXT = {
  de: {
    title: "Parklotse – Steuerung", token_title: "Zugang", token_label: "Token für die Steuerung",
    token_save: "Anmelden", token_wrong: "Das Token wurde abgelehnt. Bitte erneut eingeben.", logout: "Token vergessen",
    sim_title: "Simulator", scenario: "Szenario", speed: "Zeitraffer", guidance: "Anteil mit Sensor-Lenkung",
    latency: "Verzögerung der Sensordaten (s)", start: "Start / Übernehmen", pause: "Pause", reset: "Zurücksetzen",
    running: "läuft", paused: "pausiert", stopped: "gestoppt", unavailable: "nicht erreichbar",
    not_available: "Die Simulator-Steuerung ist (noch) nicht verfügbar", sent: "Gesendet:", failed: "Fehler:",
    links_title: "Offene Daten und Seiten", kiosk: "Kiosk-Seite", kiosk_en: "Kiosk-Seite (englisch)",
    api_docs: "API-Dokumentation", lang: "EN",
    st_scenario: "Szenario", st_speed: "Zeitraffer", st_guidance: "Lenkungsanteil", st_latency: "Sensorverzögerung",
    st_time: "Simulationszeit",
  },
  en: {
    title: "Parklotse – controls", token_title: "Access", token_label: "Control token", token_save: "Sign in",
    token_wrong: "The token was refused. Please enter it again.", logout: "Forget token", sim_title: "Simulator",
    scenario: "Scenario", speed: "Time lapse", guidance: "Share of drivers guided by sensors",
    latency: "Sensor data delay (s)", start: "Start / apply", pause: "Pause", reset: "Reset",
    running: "running", paused: "paused", stopped: "stopped", unavailable: "unreachable",
    not_available: "Simulator control is not available (yet)", sent: "Sent:", failed: "Error:",
    links_title: "Open data and pages", kiosk: "Kiosk page", kiosk_en: "Kiosk page (English)",
    api_docs: "API documentation", lang: "DE",
    st_scenario: "Scenario", st_speed: "Time lapse", st_guidance: "Guided share", st_latency: "Sensor delay",
    st_time: "Simulated time",
  },
};
const TOKEN_KEY = "parklotse.token";
const POLL_MS = 3000;
const params = new URLSearchParams(location.search);
let lang = params.get("lang") === "en" ? "en" : "de";
let formFilled = false;
let lastStatus = null;
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

async function api(method, body) {
  const headers = { Accept: "application/json" };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  if (body) headers["Content-Type"] = "application/json";
  const response = await fetch("/api/v1/simulator", {
    method, headers, cache: "no-store", body: body ? JSON.stringify(body) : undefined,
  });
  let data = null;
  try { data = await response.json(); } catch (err) { data = null; }
  return { status: response.status, ok: response.ok, data };
}

function stateOf(status) {
  if (!status) return "unavailable";
  if (typeof status.state === "string") return status.state;
  if (status.running === true) return status.paused ? "paused" : "running";
  if (status.paused === true) return "paused";
  if (status.running === false) return "stopped";
  return "running";
}

function scenarioNames(status) {
  const list = status && (status.scenarios || status.available_scenarios);
  if (!Array.isArray(list)) return [];
  return list.map((s) => (typeof s === "string" ? s : s.name || s.id)).filter(Boolean);
}

function renderStatus(status) {
  const pill = $("sim-state");
  const state = stateOf(status);
  pill.textContent = t(state);
  pill.className = `pill ${state === "unavailable" ? "offline" : state}`;
  const dl = $("status");
  dl.replaceChildren();
  if (!status) return;
  const settings = status.settings || {};
  const rows = [
    ["st_scenario", status.scenario],
    ["st_speed", status.speed !== undefined && status.speed !== null ? `${status.speed}×` : null],
    ["st_guidance", pick(status.guidance_share, settings.guidance_share, (v) => `${Math.round(v * 100)} %`)],
    ["st_latency", pick(status.sensor_latency_s, settings.sensor_latency_s, (v) => `${v} s`)],
    ["st_time", status.sim_time],
  ];
  for (const [key, value] of rows) {
    if (value === undefined || value === null) continue;
    const dt = document.createElement("dt");
    dt.textContent = t(key);
    const dd = document.createElement("dd");
    dd.textContent = String(value);
    dl.append(dt, dd);
  }
}

function pick(a, b, format) {
  const v = a ?? b;
  return v === undefined || v === null ? null : format(v);
}

function fillForm(status) {
  const select = $("scenario");
  const names = scenarioNames(status);
  if (status.scenario && !names.includes(status.scenario)) names.unshift(status.scenario);
  if (names.length) {
    select.replaceChildren(...names.map((n) => new Option(n, n, false, n === status.scenario)));
  }
  if (formFilled) return;
  formFilled = true;
  const settings = status.settings || {};
  const share = status.guidance_share ?? settings.guidance_share;
  if (share !== undefined && share !== null) $("guidance").value = String(Math.round(share * 100));
  const latency = status.sensor_latency_s ?? settings.sensor_latency_s;
  if (latency !== undefined && latency !== null) $("latency").value = String(latency);
  if (status.speed) {
    const speed = $("speed");
    if (![...speed.options].some((o) => Number(o.value) === Number(status.speed))) {
      speed.add(new Option(`${status.speed}×`, String(status.speed)));
    }
    speed.value = String(status.speed);
  }
  updateGuidanceOut();
}

async function poll() {
  try {
    const result = await api("GET");
    if (result.status === 401 || result.status === 403) { showLogin(token() ? t("token_wrong") : ""); return; }
    if (!result.ok) {
      lastStatus = null;
      renderStatus(null);
      say(`${t("not_available")} (HTTP ${result.status}).`, true);
      return;
    }
    lastStatus = result.data;
    renderStatus(result.data);
    fillForm(result.data || {});
  } catch (err) {
    lastStatus = null;
    renderStatus(null);
  }
}

function say(text, error = false) {
  const msg = $("msg");
  msg.textContent = text;
  msg.className = error ? "msg error" : "msg";
}

async function send(action) {
  const body = { action };
  if (action === "start" || action === "reset") {
    if ($("scenario").value) body.scenario = $("scenario").value;
  }
  if (action === "start") {
    body.speed = Number($("speed").value);
    body.guidance_share = Number($("guidance").value) / 100;
    body.sensor_latency_s = Number($("latency").value);
  }
  try {
    const result = await api("POST", body);
    if (result.status === 401 || result.status === 403) {
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin(t("token_wrong"));
      return;
    }
    if (!result.ok) {
      const detail = result.data && result.data.detail ? `: ${result.data.detail}` : "";
      say(`${t("failed")} HTTP ${result.status}${detail}`, true);
      return;
    }
    say(`${t("sent")} ${JSON.stringify(body)}`);
    if (result.data && typeof result.data === "object") { lastStatus = result.data; renderStatus(result.data); }
    poll();
  } catch (err) {
    say(`${t("failed")} ${err.message}`, true);
  }
}

function updateGuidanceOut() { $("guidance-out").textContent = `${$("guidance").value} %`; }

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

async function loadSites() {
  try {
    const response = await fetch("/api/v1/sites", { cache: "no-store" });
    if (response.ok) sites = await response.json();
  } catch (err) {
    sites = [];
  }
  renderLinks();
}

function init() {
  applyLanguage();
  $("lang").addEventListener("click", () => {
    lang = lang === "de" ? "en" : "de";
    const url = new URL(location.href);
    if (lang === "en") url.searchParams.set("lang", "en"); else url.searchParams.delete("lang");
    history.replaceState(null, "", url);
    applyLanguage();
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
  $("guidance").addEventListener("input", updateGuidanceOut);
  $("btn-start").addEventListener("click", () => send("start"));
  $("btn-pause").addEventListener("click", () => send("pause"));
  $("btn-reset").addEventListener("click", () => send("reset"));
  if (token()) { showControls(); poll(); } else { showLogin(); }
  loadSites();
  setInterval(() => { if (token() && !document.hidden) poll(); }, POLL_MS);
}

init();
