// Staff page "Sensoren": every sensor of a site, its problems, a map with the problem bays marked, a
// sensor's messages and battery per hour. Reads GET /api/v1/sites/{site}/sensors (see docs/fleet.md);
// the staff token, if the staff page stored one, is sent along for installations with private reads,
// and lets staff break simulated sensors of a site a simulator runs (POST /api/v1/simulator, as the
// staff page's controls do).
"use strict";

const TEXT = {
  de: {
    title: "Parklotse – Sensoren", fleet: "Sensor-Zustand", map: "Karte", all: "alle",
    evaluated: "geprüft", no_problem: "alle Sensoren in Ordnung", dead_letters: "Abgewiesene Nachrichten",
    none: "keine", error: "Sensor-Zustand nicht erreichbar:", evaluating: "Die Sensoren werden seit dem Start zum ersten Mal geprüft …",
    cols: { bay: "Platz", zone: "Zone", device: "Gerät", status: "Status", last_message: "Letzte Nachricht",
      battery: "Batterie", radio: "Funk (RSSI / SNR)", problems: "Probleme" },
    codes: { silent: "stumm", stuck: "hängt", flapping: "flattert", battery_low: "Batterie schwach",
      battery_falling: "Batterie fällt", weak_radio: "Funk schwach", rejected: "abgewiesen" },
    faults_title: "Simulator: Sensoren kaputt machen",
    faults_help: "Für die Vorführung: der Simulator sendet für diese Plätze nichts mehr (stumm), immer denselben Status (hängt) oder wechselt ständig (flattert). Die Regeln oben finden stumme und flatternde nach wenigen Minuten, hängende nach 72 simulierten Stunden.",
    fault_kind: "Art", kind_silent: "stumm", kind_stuck: "hängt", kind_flapping: "flattert",
    fault_bays: "Plätze (Klick in Tabelle oder Karte fügt hinzu)", break_bays: "Diese kaputt machen",
    fault_random: "oder zufällig", break_random: "Ein paar zufällig", repair_all: "Alle reparieren",
    broken_now: "Vom Simulator kaputt:", broken_none: "Der Simulator lässt alle Sensoren arbeiten.",
    sent: "Gesendet.", token_needed: "Zum Steuern erst auf der Steuerungsseite (/staff) anmelden.",
    failed: "Fehler:", sim_tag: "simuliert", history: "Nachrichten und Batterie je Stunde (7 Tage)",
    messages: "Nachrichten", battery_v: "Batterie (V)", battery_pct: "Batterie (%)", no_history: "keine Daten",
  },
  en: {
    title: "Parklotse – sensors", fleet: "Sensor health", map: "Map", all: "all",
    evaluated: "checked", no_problem: "every sensor is fine", dead_letters: "Refused messages",
    none: "none", error: "Sensor health is not available:", evaluating: "The sensors are being checked for the first time since start-up …",
    cols: { bay: "Bay", zone: "Zone", device: "Device", status: "Status", last_message: "Last message",
      battery: "Battery", radio: "Radio (RSSI / SNR)", problems: "Problems" },
    codes: { silent: "silent", stuck: "stuck", flapping: "flapping", battery_low: "battery low",
      battery_falling: "battery falling", weak_radio: "weak radio", rejected: "rejected" },
    faults_title: "Simulator: break sensors",
    faults_help: "For the demo: the simulator sends nothing for these bays (silent), always the same status (stuck) or toggles all the time (flapping). The rules above find silent and flapping ones within minutes, stuck ones after 72 simulated hours.",
    fault_kind: "Kind", kind_silent: "silent", kind_stuck: "stuck", kind_flapping: "flapping",
    fault_bays: "Bays (a click in the table or map adds one)", break_bays: "Break these",
    fault_random: "or at random", break_random: "A few at random", repair_all: "Repair all",
    broken_now: "Broken by the simulator:", broken_none: "The simulator keeps every sensor working.",
    sent: "Sent.", token_needed: "Sign in on the control page (/staff) first.",
    failed: "Error:", sim_tag: "simulated", history: "Messages and battery per hour (7 days)",
    messages: "messages", battery_v: "battery (V)", battery_pct: "battery (%)", no_history: "no data",
  },
};
const params = new URLSearchParams(location.search);
let lang = params.get("lang") === "en" ? "en" : "de";
let site = params.get("site") || "showroom";
let filter = null;
let sortKey = "problems";
let sortDir = -1;
let data = null;
let geometry = null;
let selected = null;
let simulator = null;  // the site's simulator status while one runs (GET /api/v1/simulator)
const $ = (id) => document.getElementById(id);
const t = () => TEXT[lang];

function headers() {
  const token = sessionStorage.getItem("parklotse.token");
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function getJson(path) {
  const response = await fetch(path, { headers: headers() });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw Object.assign(new Error(body.detail || `HTTP ${response.status}`), { status: response.status });
  }
  return response.json();
}

function when(iso) {
  if (!iso) return "–";
  return new Date(iso).toLocaleString(lang === "de" ? "de-DE" : "en-GB", { dateStyle: "short", timeStyle: "short" });
}

function sortValue(sensor, key) {
  switch (key) {
    case "problems": return sensor.problems.length;
    case "battery": return sensor.battery_v ?? (sensor.battery_pct ?? 999);
    case "radio": return sensor.radio.rssi_median_dbm ?? 999;
    case "last_message": return sensor.last_message || "";
    default: return sensor[key] ?? "";
  }
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

function renderTable() {
  const head = document.querySelector("#table thead tr");
  head.replaceChildren(...Object.entries(t().cols).map(([key, label]) => {
    const th = document.createElement("th");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    if (key === sortKey) button.setAttribute("aria-sort", sortDir > 0 ? "ascending" : "descending");
    button.addEventListener("click", () => {
      sortDir = key === sortKey ? -sortDir : 1;
      sortKey = key;
      render();
    });
    th.append(button);
    return th;
  }));
  const rows = data.sensors
    .filter((s) => !filter || s.problems.some((p) => p.code === filter))
    .sort((a, b) => {
      const x = sortValue(a, sortKey), y = sortValue(b, sortKey);
      return (x < y ? -1 : x > y ? 1 : 0) * sortDir || a.bay.localeCompare(b.bay);
    })
    .map((s) => {
      const tr = document.createElement("tr");
      tr.dataset.bay = s.bay;
      if (s.problems.length) tr.classList.add("problem");
      if (s.bay === selected) tr.classList.add("selected");
      const battery = s.battery_v != null ? `${s.battery_v.toFixed(2)} V` : s.battery_pct != null ? `${Math.round(s.battery_pct)} %` : "–";
      const radio = s.radio.rssi_median_dbm != null ? `${Math.round(s.radio.rssi_median_dbm)} dBm / ${s.radio.snr_median_db?.toFixed(1) ?? "–"} dB` : "–";
      const codes = document.createElement("td");
      codes.className = "codes";
      for (const p of s.problems) {
        const tag = document.createElement("span");
        tag.textContent = t().codes[p.code] || p.code;
        tag.title = lang === "de" ? p.message_de : p.message_en;
        codes.append(tag);
      }
      const broken = simulator && simulator.sensor_faults ? simulator.sensor_faults[s.bay] : null;
      if (broken) {
        const tag = document.createElement("small");
        tag.className = "sim-fault";
        tag.textContent = `${t().sim_tag}: ${t()[`kind_${broken}`]}`;
        codes.append(tag);
      }
      tr.append(cell(s.bay), cell(s.zone), cell(s.device || "–"), cell(s.status), cell(when(s.last_message)),
        cell(battery), cell(radio), codes);
      tr.addEventListener("click", () => showDetail(s.bay));
      return tr;
    });
  document.querySelector("#table tbody").replaceChildren(...rows);
}

function renderCounts() {
  const buttons = [[null, t().all, data.summary.bays], ...Object.entries(data.summary.by_problem).map(([c, n]) => [c, t().codes[c] || c, n])];
  $("counts").replaceChildren(...buttons.map(([code, label, n]) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = `${label}: ${n}`;
    button.dataset.code = code || "";
    if (code === filter) button.classList.add("active");
    button.addEventListener("click", () => { filter = code; render(); });
    return button;
  }));
  $("site-problems").replaceChildren(...data.site_problems.map((p) => {
    const line = document.createElement("p");
    line.className = "site-problem";
    line.textContent = lang === "de" ? p.message_de : p.message_en;
    return line;
  }));
  $("evaluated").textContent = `${t().evaluated} ${when(data.evaluated_at)}` +
    (data.summary.bays_with_problems ? "" : ` – ${t().no_problem}`);
}

function renderMap() {
  const svg = $("bays");
  if (!geometry) return;
  const points = geometry.features.filter((f) => f.properties.bay).map((f) => {
    const ring = f.geometry.type === "Point" ? [f.geometry.coordinates] : f.geometry.coordinates[0];
    const lon = ring.reduce((a, p) => a + p[0], 0) / ring.length, lat = ring.reduce((a, p) => a + p[1], 0) / ring.length;
    return { bay: f.properties.bay, lon, lat };
  });
  const lons = points.map((p) => p.lon), lats = points.map((p) => p.lat);
  const [x0, x1, y0, y1] = [Math.min(...lons), Math.max(...lons), Math.min(...lats), Math.max(...lats)];
  const scale = Math.min(960 / ((x1 - x0) || 1e-6), 320 / ((y1 - y0) || 1e-6));
  svg.setAttribute("viewBox", "-20 -20 1000 360");
  const byBay = Object.fromEntries(data.sensors.map((s) => [s.bay, s]));
  const ns = "http://www.w3.org/2000/svg";
  svg.replaceChildren(...points.map((p) => {
    const sensor = byBay[p.bay];
    const dot = document.createElementNS(ns, "circle");
    dot.setAttribute("cx", ((p.lon - x0) * scale).toFixed(1));
    dot.setAttribute("cy", ((y1 - p.lat) * scale).toFixed(1));
    dot.setAttribute("r", points.length > 500 ? "3" : "9");
    const bad = sensor && sensor.problems.length && (!filter || sensor.problems.some((q) => q.code === filter));
    dot.setAttribute("fill", bad ? "#D55E00" : "#009E73");
    dot.dataset.bay = p.bay;
    const title = document.createElementNS(ns, "title");
    title.textContent = `${p.bay}${sensor && sensor.problems.length ? ": " + sensor.problems.map((q) => t().codes[q.code]).join(", ") : ""}`;
    dot.append(title);
    dot.addEventListener("click", () => showDetail(p.bay));
    return dot;
  }));
}

async function showDetail(bay) {
  selected = bay;
  renderTable();
  addFaultBay(bay);
  const detail = await getJson(`/api/v1/sites/${encodeURIComponent(site)}/sensors/${encodeURIComponent(bay)}`);
  const box = $("detail");
  const heading = document.createElement("h2");
  heading.textContent = `${detail.bay} (${detail.device || "–"}, ${detail.codec || "–"})`;
  const problems = document.createElement("ul");
  problems.replaceChildren(...detail.problems.map((p) => {
    const li = document.createElement("li");
    li.textContent = lang === "de" ? p.message_de : p.message_en;
    return li;
  }));
  const lettersHead = document.createElement("h3");
  lettersHead.textContent = t().dead_letters;
  const letters = document.createElement("ul");
  letters.replaceChildren(...(detail.dead_letters.length ? detail.dead_letters.map((d) => {
    const li = document.createElement("li");
    li.textContent = `${when(d.received_at)} ${d.reason}: ${d.detail}`;
    return li;
  }) : [Object.assign(document.createElement("li"), { textContent: t().none })]));
  const chartHead = document.createElement("h3");
  chartHead.textContent = t().history;
  const chart = document.createElement("div");
  chart.id = "chart";
  box.replaceChildren(heading, problems, chartHead, chart, lettersHead, letters);
  box.hidden = false;
  drawHistory(bay, chart).catch((error) => { chart.textContent = `${t().failed} ${error.message}`; });
}

// The sensor's messages per hour (bars) and battery (line, right axis); plotly is served by the API.
async function drawHistory(bay, chart) {
  const history = await getJson(`/api/v1/sites/${encodeURIComponent(site)}/sensors/${encodeURIComponent(bay)}/history?days=7`);
  if (selected !== bay) return;
  const x = history.hours.map((h) => h.start);
  const volts = history.hours.map((h) => h.battery_v);
  const percent = history.hours.map((h) => h.battery_pct);
  const usePercent = volts.every((v) => v === null) && percent.some((v) => v !== null);
  const battery = usePercent ? percent : volts;
  chart.dataset.hours = String(history.hours.length);
  chart.dataset.messages = String(history.hours.reduce((a, h) => a + h.messages, 0));
  if (!window.Plotly) { chart.textContent = t().no_history; return; }
  const traces = [
    { type: "bar", x, y: history.hours.map((h) => h.messages), name: t().messages, marker: { color: "#0072B2" } },
    { type: "scatter", mode: "lines+markers", x, y: battery, name: usePercent ? t().battery_pct : t().battery_v,
      yaxis: "y2", connectgaps: false, line: { color: "#D55E00" }, marker: { size: 4 } },
  ];
  const layout = {
    margin: { l: 40, r: 50, t: 10, b: 30 }, height: 240, showlegend: true, legend: { orientation: "h", y: 1.15 },
    yaxis: { title: { text: t().messages }, rangemode: "tozero" },
    yaxis2: { title: { text: usePercent ? "%" : "V" }, overlaying: "y", side: "right", showgrid: false },
    font: { family: "DejaVu Sans, Liberation Sans, Arial, sans-serif", size: 12 },
  };
  await window.Plotly.react(chart, traces, layout, { displayModeBar: false, responsive: true, staticPlot: false });
  chart.dataset.drawn = "1";
}

// ---------------------------------------------------------------- simulated faults (staff, simulator sites)

function staffToken() { return sessionStorage.getItem("parklotse.token"); }

function addFaultBay(bay) {
  const input = $("fault-bays");
  if ($("faults").hidden || !input) return;
  const bays = input.value.split(/[\s,;]+/).filter(Boolean);
  if (!bays.includes(bay)) input.value = [...bays, bay].join(", ");
}

function faultSay(message, error = false) {
  $("fault-msg").textContent = message;
  $("fault-msg").className = error ? "msg error" : "msg";
}

async function sendFault(body) {
  if (!staffToken()) { faultSay(t().token_needed, true); return; }
  const response = await fetch("/api/v1/simulator", {
    method: "POST", cache: "no-store",
    headers: { ...headers(), "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ site, ...body }),
  });
  if (response.status === 401 || response.status === 403) { faultSay(t().token_needed, true); return; }
  if (!response.ok) {
    const detail = await response.json().catch(() => ({}));
    faultSay(`${t().failed} HTTP ${response.status} ${typeof detail.detail === "string" ? detail.detail : ""}`, true);
    return;
  }
  faultSay(t().sent);
  setTimeout(loadSimulator, 1500);
}

function renderFaults() {
  const box = $("faults");
  box.hidden = !simulator;
  if (!simulator) return;
  const broken = Object.entries(simulator.sensor_faults || {});
  $("fault-state").textContent = broken.length
    ? `${t().broken_now} ${broken.map(([bay, kind]) => `${bay} (${t()[`kind_${kind}`]})`).join(", ")}`
    : t().broken_none;
  if (simulator.error) faultSay(`${t().failed} ${simulator.error}`, true);
}

async function loadSimulator() {
  // Only a site a simulator runs has sensors to break; the list always answers 200.
  const running = await getJson("/api/v1/simulators").catch(() => []);
  simulator = Array.isArray(running) && running.some((s) => s.site === site)
    ? await getJson(`/api/v1/simulator?site=${encodeURIComponent(site)}`).catch(() => null)
    : null;
  renderFaults();
  if (data) renderTable();
}

function render() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t()[el.dataset.i18n];
  $("lang").textContent = lang === "de" ? "EN" : "DE";
  renderFaults();
  if (!data) return;
  renderCounts();
  renderTable();
  renderMap();
}

async function load() {
  try {
    data = await getJson(`/api/v1/sites/${encodeURIComponent(site)}/sensors`);
    geometry = geometry || await getJson(`/api/v1/sites/${encodeURIComponent(site)}/geojson`);
    $("msg").textContent = "";
    render();
  } catch (error) {
    if (error.status === 503 && !data) {
      // The monitor's first report since the API started: not a fault, ask again soon (Retry-After: 5).
      $("msg").textContent = t().evaluating;
      $("msg").className = "msg";
      setTimeout(load, 5000);
      return;
    }
    $("msg").textContent = `${t().error} ${error.message}`;
    $("msg").className = "msg error";
  }
}

async function start() {
  const sites = await getJson("/api/v1/sites").catch(() => []);
  $("site").replaceChildren(...sites.map((s) => Object.assign(document.createElement("option"), { value: s.id, textContent: s.name })));
  $("site").value = site;
  $("site").addEventListener("change", () => {
    site = $("site").value; geometry = null; selected = null; $("fault-bays").value = ""; load(); loadSimulator();
  });
  $("btn-break").addEventListener("click", () => {
    const bays = $("fault-bays").value.split(/[\s,;]+/).filter(Boolean);
    if (bays.length) sendFault({ break_sensors: { kind: $("fault-kind").value, bays } });
  });
  $("btn-random").addEventListener("click", () => {
    sendFault({ break_sensors: { kind: $("fault-kind").value, random: Number($("fault-random").value) || 1 } });
  });
  $("btn-repair").addEventListener("click", () => sendFault({ repair_sensors: true }));
  $("lang").addEventListener("click", () => { lang = lang === "de" ? "en" : "de"; render(); });
  render();
  await Promise.all([load(), loadSimulator()]);
  setInterval(() => { load(); loadSimulator(); }, 15000);
}

start();
