// Parklotse kiosk page. Draws every panel once, then keeps them live from the API's SSE stream.
// Drawing is throttled to at most twice a second, every buffer is bounded, and the stream
// reconnects by itself (an API restart ends in a fresh snapshot). No request leaves the host.
"use strict";

const TEXT = {
  de: {
    title: "Parken mit Sensoren", free: "frei", occupied: "belegt", unknown: "keine Meldung", closed: "gesperrt",
    free_of: "frei von", zone: "Zone", connecting: "verbinde …", live: "Live", last_report: "letzte Meldung vor",
    offline: "Verbindung unterbrochen – verbinde neu", no_reports: "noch keine Meldung",
    sensors_ok: "Sensoren: alle {n} melden", sensors_some: "Sensoren: {ok} von {n} melden",
    battery_low: "{n} × Batterie schwach", model_estimate: "Modellrechnung",
    without_sensors: "Ohne Sensoren", with_sensors: "Mit Sensoren", cars_searching: "Autos suchen einen Parkplatz", car_searching: "Auto sucht einen Parkplatz",
    per_search: "Ø Suche", min_search: "Minuten Suche", km_driven: "km Suchfahrt", kg_co2: "kg CO₂",
    estimate_note: "≈ Modellrechnung der Simulation, keine Messung.", source: "Quellen",
    no_data: "keine Daten", no_history: "keine Daten", now: "jetzt", computing: "wird berechnet …",
    occ_title: "Belegung, letzte 24 Stunden", occ_title_sim: "Belegung im Tagesverlauf",
    sim_reference: "simuliert:", today: "heute", day_types: { weekday: "Werktag", saturday: "Samstag", sunday: "Sonntag" },
    heat_title: "Typische Woche: Belegung je Tag und Stunde", heat_title_sim: "Typische Woche",
    occupancy: "Belegung", oclock: " Uhr", search_line: "ab etwa 85 % beginnt die Parksuche", lang: "EN",
    s: "s", min: "min", h: "h", d: "Tagen",
    weekdays: ["Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"],
    signs_title: "Parkleitsystem", besetzt: "besetzt", no_signs: "keine Schilder in diesem Modus",
    st_searching: "sucht", st_guided: "wird gelotst", st_to_garage: "zum Parkhaus", st_approaching: "fährt zum Ziel",
    st_leaving: "fährt weg",
    headline: {
      werktag: "Ein typischer Werktag mit Sensoren spart", markttag: "Ein typischer Markttag mit Sensoren spart",
      abend: "Ein typischer Abend mit Sensoren spart", ausfall: "Sensoren ausgefallen: ein typischer Tag spart",
      other: "Ein typischer Tag mit Sensoren spart",
    },
    presets: { werktag: "Werktag", markttag: "Markttag", abend: "Abend", ausfall: "Sensoren ausgefallen" },
    steering: { app: "Lenkung per App", signs: "Lenkung per Schilder", both: "App und Schilder" },
    guided_share: "{p} % der Fahrer folgen",
    band_note: "Mittel, 10–90 % von {n} simulierten Tagen", today_until: "heute bis {t}", typical_until: "typisch bis {t}",
    curve_title: "Suchzeit je Belegung", curve_note: "Mittlere Suche je Auto bei dieser Belegung (typischer Tag).",
    curve_x: "Belegung im Suchgebiet", curve_y: "Minuten Suche",
    your_car: "Ihr Auto: Platz {bay} belegt",
    measured_title: "Gemessen", occupied_now: "belegt, jetzt", too_few_reports: "zu wenige Meldungen: {n} von {of} Plätzen", above_85_today: "heute über 85 % belegt",
    curve_says: "Bei dieser Belegung sucht ein Auto im Mittel", curve_source: "Aus dem kalibrierten Innenstadt-Modell, keine Messung.",
    forecast_in: "in 30 Min: ~{n} frei", forecast_band: "({lo}–{hi})",
    forecast_note: "in 30 Min: Prognose (Modellrechnung, täglich neu gelernt). Mittlerer Fehler im Test: {e} Prozentpunkte; letzten Wert fortschreiben: {p}.",
  },
  en: {
    title: "Parking with sensors", free: "free", occupied: "occupied", unknown: "no report", closed: "closed",
    free_of: "free of", zone: "Zone", connecting: "connecting …", live: "Live", last_report: "last report",
    offline: "connection lost – reconnecting", no_reports: "no report yet",
    sensors_ok: "Sensors: all {n} reporting", sensors_some: "Sensors: {ok} of {n} reporting",
    battery_low: "{n} × battery low", model_estimate: "Model estimate",
    without_sensors: "Without sensors", with_sensors: "With sensors", cars_searching: "cars searching for a space", car_searching: "car searching for a space",
    per_search: "avg. search", min_search: "minutes searching", km_driven: "km driven searching", kg_co2: "kg CO₂",
    estimate_note: "≈ model estimate from the simulation, not a measurement.", source: "Sources",
    no_data: "no data", no_history: "no data", now: "now", computing: "computing …",
    occ_title: "Occupancy, last 24 hours", occ_title_sim: "Occupancy by hour",
    sim_reference: "simulated:", today: "today", day_types: { weekday: "weekday", saturday: "Saturday", sunday: "Sunday" },
    heat_title: "Typical week: occupancy by day and hour", heat_title_sim: "Typical week",
    occupancy: "Occupancy", oclock: ":00", search_line: "above about 85 % drivers start circling", lang: "DE",
    s: "s", min: "min", h: "h", d: "days",
    weekdays: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    signs_title: "Guidance signs", besetzt: "full", no_signs: "no signs in this mode",
    st_searching: "searching", st_guided: "guided", st_to_garage: "to the car park", st_approaching: "driving in",
    st_leaving: "leaving",
    headline: {
      werktag: "A typical weekday with sensors saves", markttag: "A typical market day with sensors saves",
      abend: "A typical evening with sensors saves", ausfall: "Sensors down: a typical day saves",
      other: "A typical day with sensors saves",
    },
    presets: { werktag: "Weekday", markttag: "Market day", abend: "Evening", ausfall: "Sensors down" },
    steering: { app: "guided by app", signs: "guided by signs", both: "app and signs" },
    guided_share: "{p} % of drivers follow",
    band_note: "mean, 10–90 % of {n} simulated days", today_until: "today until {t}", typical_until: "typical until {t}",
    curve_title: "Search time by occupancy", curve_note: "Mean search per car at this occupancy (typical day).",
    curve_x: "occupancy of the search area", curve_y: "minutes searching",
    your_car: "Your car: bay {bay} taken",
    measured_title: "Measured", occupied_now: "occupied now", too_few_reports: "too few reports: {n} of {of} bays", above_85_today: "above 85 % today",
    curve_says: "At this occupancy a car searches on average", curve_source: "From the calibrated town-centre model, not a measurement.",
    forecast_in: "in 30 min: ~{n} free", forecast_band: "({lo}–{hi})",
    forecast_note: "in 30 min: forecast (model estimate, refitted daily). Mean error in the back-test: {e} percentage points; carrying the last value forward: {p}.",
  },
};

const FLUSH_MS = 500;            // at most two redraws a second
const OCC_SAMPLE_MS = 60_000;    // live occupancy point every minute
const OCC_SAMPLE_SIM_MS = 10_000; // simulated time runs 20-30 times faster: a point every few simulated minutes
const OCC_LIVE_MAX = 24 * 60;    // bounded: one day of live points
const OCC_REFRESH_MS = 5 * 60_000;
const HEAT_REFRESH_MS = 30 * 60_000;
const STATUS_POLL_MS = 30_000;   // only while no `simulator` event arrives on the stream
const STALE_MS = 15 * 60_000;    // freshness badge turns amber
const LOW_BATTERY_PCT = 20;
const LOW_BATTERY_V = 3.2;
const HANDS_ON_MS = 12_000;      // how long "Ihr Auto: Platz A03 belegt" stays
const FRAMES_KEPT = 1200;        // frame-time ring for the benchmark (about 20 s at 60 fps)
const FONT = "DejaVu Sans, Liberation Sans, Arial, sans-serif";
// A share of occupied bays stands for a site or zone only when at least half of its open bays report
// (and the health badge turns red below it): with one sensor of sixteen reporting "occupied", 100 %
// would be that sensor, not the site.
const MIN_REPORTING = 0.5;
const COLORS = { free: "#009E73", occupied: "#D55E00", unknown: "#8C8C8C", closed: "#000000", blue: "#0072B2" };
const HEAT_SCALE = [[0, "#f7f4c8"], [0.25, "#fdd49e"], [0.5, "#fc8d59"], [0.75, "#d7301f"], [1, "#7f0000"]];

const params = new URLSearchParams(location.search);
const K = {
  lang: params.get("lang") === "en" ? "en" : "de",
  site: params.get("site"),
  siteName: "",
  mode: "loading",           // "twin": a simulator runs this site; "sensors": real sensors only
  sim: null,                 // the site's entry of GET /api/v1/simulators (twin mode)
  modelSite: null,           // the site whose streets the simulated cars drive
  fig: null,                 // the map figure from the API (sensors mode; mutated in place, redrawn with react)
  index: new Map(),          // bay id -> point index in the bay trace (sensors) or in the bay list (twin)
  zoneOf: new Map(),         // bay id -> zone
  zones: [],
  bays: new Map(),           // bay id -> latest bay state message
  dirty: { map: false, occ: false, heat: false, status: false, measured: false, text: false },
  flushTimer: null, lastFlush: 0, drawing: null, revision: 0, // drawing: the redraw under way (a promise)
  occHistory: null,          // {x: [], y: []} from the API, or null when it has none
  occLive: { x: [], y: [] }, // bounded ring of live samples
  occNowDrawn: undefined,    // the live occupancy the panel shows (redrawn when the bays change it)
  simHours: null,            // the simulated clock, hours since local midnight (twin mode)
  simDay: null,              // GET /simulated-day: the reference day and where simulated history ends
  heat: null,
  status: null, statusAt: 0, // SimulatorStatus (twin mode)
  curve: null,               // the shipped occupancy -> search-time curve (sensors mode)
  twins: null,               // {without: TwinView, with: TwinView}
  vehiclesAt: 0, positions: 0,
  realBays: new Set(), handsOnTimer: null,
  frames: { interval: new Float32Array(FRAMES_KEPT), draw: new Float32Array(FRAMES_KEPT), n: 0, last: 0 },
  es: null, connected: false, lostAt: null, retry: 0, retryTimer: null, connectingSince: 0,
  pending: 3, ready: false, updates: 0, events: 0,
  // The API's stale cutoff (PARKLOTSE_STALE_AFTER_S, sent with the site summary): a bay whose sensor
  // has been silent longer is shown as unknown, here as in every answer of the API.
  silentMs: Infinity, silentShown: 0,
};
const $ = (id) => document.getElementById(id);

function t(key, vars) {
  let s = TEXT[K.lang][key] ?? TEXT.de[key] ?? key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.replace(`{${k}}`, v);
  return s;
}
function fmt(value, digits = 0) {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return "–";
  return new Intl.NumberFormat(K.lang === "de" ? "de-DE" : "en-GB",
    { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(Number(value));
}
function setText(el, text) { if (el && el.textContent !== text) el.textContent = text; }
const enc = (site) => encodeURIComponent(site);

async function getJSON(url) {
  const response = await fetch(url, { cache: "no-store" });
  if (!response.ok) {
    const error = new Error(`${url}: HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

// ---------------------------------------------------------------- start-up

// This script runs before plotly.min.js (deferred) has even downloaded: the data are fetched while the
// browser compiles Plotly, and drawing starts once the document and Plotly are ready.
// Which layout the site gets is known from two lists that always answer 200 (sites and running
// simulators), so a site without a simulator never asks for simulator figures (no failed request).
function prefetch() {
  const sites = getJSON("/api/v1/sites");
  const simulators = getJSON("/api/v1/simulators");
  const site = sites.then((list) => {
    if (!list.length) throw new Error("the API knows no sites");
    const wanted = list.find((s) => s.id === K.site) || list.find((s) => s.id === "showroom") || list[0];
    K.site = wanted.id;
    return wanted;
  });
  const mode = Promise.all([site, simulators]).then(([, sims]) => {
    K.sim = (Array.isArray(sims) ? sims : []).find((s) => s.site === K.site) || null;
    K.modelSite = K.sim ? K.sim.model_site || K.site : null;
    K.mode = K.sim ? "twin" : "sensors";
    return K.mode;
  });
  const when = (wanted, load) => mode.then((m) => (m === wanted ? load() : null));
  const occupancy = mode.then(() => fetchOccupancy()).catch((err) => err);
  return {
    site,
    mode,
    bays: site.then(() => getJSON(`/api/v1/sites/${enc(K.site)}/bays`)),
    figure: when("sensors", () => getJSON(`/api/v1/sites/${enc(K.site)}/figures/map`)),
    twin: when("twin", () => getJSON(`/api/v1/sites/${enc(K.modelSite)}/figures/twin`)),
    status: when("twin", () => getJSON(`/api/v1/simulator?site=${enc(K.site)}`)).catch((err) => err),
    curve: when("sensors", () => getJSON("/api/v1/figures/search-curve")).catch((err) => err),
    occupancy,
    // A simulated site's typical week ends where its simulated history ends (simulated-day says where).
    heatmap: mode.then((m) => (m === "twin" ? occupancy.then((d) => fetchHeatmap(d && d.heatmap_end)) : fetchHeatmap()))
      .catch((err) => err),
  };
}
const BOOT = prefetch();
// The promises that only feed optional panels must not count as unhandled while we wait for Plotly.
for (const key of ["site", "mode", "bays", "figure", "twin"]) BOOT[key].catch(() => {});

async function start() {
  applyLanguage();
  $("lang").addEventListener("click", toggleLanguage);
  const summary = await BOOT.site;
  K.siteName = summary.name;
  K.silentMs = summary.stale_after_s * 1000;
  setText($("site-name"), summary.name);
  const mode = await BOOT.mode;
  document.body.dataset.mode = mode;
  applyLanguage();
  const bays = await BOOT.bays;
  for (const bay of bays) {
    K.zoneOf.set(bay.bay, bay.zone);
    K.bays.set(bay.bay, bay);
  }
  K.zones = summary.zones.length ? summary.zones.map((z) => z.zone) : [...new Set(bays.map((b) => b.zone))].sort();
  if (mode === "sensors") {
    buildZoneTiles();
    const figure = await BOOT.figure;
    K.fig = figure;
    figure.data[figure.bay_trace].customdata.forEach((bay, i) => K.index.set(bay, i));
    figure.layout.datarevision = 0;
    await Plotly.newPlot("map", figure.data, figure.layout, figure.config);
    drawCounts();
  } else {
    bays.forEach((bay, i) => K.index.set(bay.bay, i));
    startTwins(await BOOT.twin);
  }
  connect();
  // The optional panels load on their own; each shows "keine Daten" until its endpoint answers.
  loadOccupancy(BOOT.occupancy).finally(settled);
  loadHeatmap(BOOT.heatmap).finally(settled);
  if (mode === "twin") {
    loadStatus(BOOT.status).finally(settled);
    setInterval(() => { if (Date.now() - K.statusAt > STATUS_POLL_MS) loadStatus(); }, STATUS_POLL_MS);
  } else {
    loadCurve(BOOT.curve).finally(settled);
  }
  sampleOccupancy();
  setInterval(sampleOccupancy, mode === "twin" ? OCC_SAMPLE_SIM_MS : OCC_SAMPLE_MS);
  setInterval(loadOccupancy, OCC_REFRESH_MS);
  setInterval(loadHeatmap, HEAT_REFRESH_MS);
  loadForecasts();
  setInterval(loadForecasts, FORECAST_REFRESH_MS);
  setInterval(tick, 1000);
  tick();
}

function settled() {
  K.pending -= 1;
  if (K.pending === 0) {
    // Ready once every panel has drawn once (with data or with "keine Daten").
    drawnOnce().then(() => {
      K.ready = true;
      performance.mark("kiosk-ready");
      document.body.dataset.ready = "1";
    });
  }
}

// Every loader has marked its panel dirty by now. A redraw already under way may have passed a panel
// before its loader marked it: let that one finish, then a redraw that starts after this point draws
// every panel still waiting. The twins' canvases draw in animation frames.
async function drawnOnce() {
  if (K.drawing) await K.drawing;
  await flush();
  if (K.twins) await K.firstFrame;
}

// ---------------------------------------------------------------- language

function applyLanguage() {
  document.documentElement.lang = K.lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => setText(el, t(el.dataset.i18n)));
  setText($("lang"), t("lang"));
  setText($("occ-title"), t(K.mode === "twin" ? "occ_title_sim" : "occ_title"));
  setText($("heat-title"), t(K.mode === "twin" ? "heat_title_sim" : "heat_title"));
  drawSearching();
  for (const key of Object.keys(K.dirty)) K.dirty[key] = true;
  K.dirty.map = K.fig !== null;
  if (K.fig) buildZoneTiles();
  if (K.ready || K.fig || K.twins) scheduleFlush();
  tick();
}

function toggleLanguage() {
  K.lang = K.lang === "de" ? "en" : "de";
  const url = new URL(location.href);
  if (K.lang === "en") url.searchParams.set("lang", "en"); else url.searchParams.delete("lang");
  history.replaceState(null, "", url);
  applyLanguage();
}

// ---------------------------------------------------------------- live stream

function connect() {
  clearTimeout(K.retryTimer);
  if (K.es) K.es.close();
  K.connectingSince = Date.now();
  // EventSource sends Last-Event-ID when it reconnects by itself; after an API restart the id is
  // from another epoch and the API answers with a fresh snapshot. Positions only where they are drawn.
  const vehicles = K.mode === "twin" ? "" : "&vehicles=false";
  const es = new EventSource(`/api/v1/stream?site=${enc(K.site)}${vehicles}`);
  K.es = es;
  es.addEventListener("open", () => { K.connected = true; K.lostAt = null; K.retry = 0; tick(); });
  es.addEventListener("snapshot", (e) => onSnapshot(JSON.parse(e.data)));
  es.addEventListener("bay", (e) => onBay(JSON.parse(e.data)));
  if (K.mode === "twin") {
    es.addEventListener("vehicles", (e) => onVehicles(JSON.parse(e.data)));
    es.addEventListener("simulator", (e) => onStatus(JSON.parse(e.data)));
  }
  es.onerror = () => {
    K.connected = false;
    if (K.lostAt === null) K.lostAt = Date.now();
    tick();
    // A network error while reconnecting leaves it CONNECTING (the browser retries); an HTTP error
    // closes it for good, so we retry ourselves, backing off to ten seconds.
    if (es.readyState === EventSource.CLOSED) scheduleReconnect();
  };
}

function scheduleReconnect() {
  clearTimeout(K.retryTimer);
  const delay = Math.min(10_000, 500 * 2 ** K.retry);
  K.retry = Math.min(K.retry + 1, 5);
  K.retryTimer = setTimeout(connect, delay);
}

function onSnapshot(data) {
  let unknownBay = false;
  K.bays.clear();
  for (const bay of data.bays) {
    if (bay.site && bay.site !== K.site) continue;
    if (!K.index.has(bay.bay)) unknownBay = true;
    K.bays.set(bay.bay, bay);
  }
  // The site's bays changed under us (new site file after a restart): start over.
  if (unknownBay) { location.reload(); return; }
  K.connected = true;
  K.lostAt = null;
  touch();
}

function onBay(bay) {
  if (bay.site && bay.site !== K.site) return;
  if (!K.index.has(bay.bay)) return;
  const before = K.bays.get(bay.bay);
  K.bays.set(bay.bay, bay);
  K.events += 1;
  if (bay.status === "occupied" && (!before || before.status !== "occupied") && K.realBays.has(bay.bay)) {
    handsOn(bay.bay);
  }
  touch();
}

function touch() {
  K.dirty.map = K.fig !== null;
  K.dirty.measured = K.mode === "sensors";
  scheduleFlush();
}

function scheduleFlush() {
  if (K.flushTimer !== null || K.mode === "loading") return;
  const wait = Math.max(0, K.lastFlush + FLUSH_MS - performance.now());
  K.flushTimer = setTimeout(() => { K.flushTimer = null; flush(); }, wait);
}

function flush() {
  if (K.drawing) { scheduleFlush(); return K.drawing; }
  K.drawing = drawDirty().finally(() => { K.drawing = null; });
  return K.drawing;
}

async function drawDirty() {
  K.lastFlush = performance.now();
  try {
    if (K.dirty.map && K.fig) {
      K.dirty.map = false;
      await drawMap();
      drawCounts();
    }
    // The occupancy panel's big figure and "now" marker follow the bays, not only the minute samples.
    if (liveOccupancy() !== K.occNowDrawn) K.dirty.occ = true;
    if (K.dirty.occ) { K.dirty.occ = false; await drawOccupancy(); }
    if (K.dirty.heat) { K.dirty.heat = false; await drawHeatmap(); }
    if (K.mode === "twin" && K.dirty.status) { K.dirty.status = false; await drawStory(); }
    if (K.mode === "sensors" && K.dirty.measured) { K.dirty.measured = false; drawMeasured(); }
    K.updates += 1;
    document.body.dataset.updates = String(K.updates);
  } catch (err) {
    console.error(err);
  }
}

// ---------------------------------------------------------------- twin view (simulated sites)

function startTwins(geometry) {
  K.twins = {
    without: new TwinView($("cv-without"), geometry, "without_sensors"),
    with: new TwinView($("cv-with"), geometry, "with_sensors"),
  };
  window.addEventListener("resize", () => { for (const v of Object.values(K.twins)) v.resize(); });
  K.firstFrame = new Promise((resolve) => { K.framed = resolve; });
  requestAnimationFrame(frameLoop);
}

function frameLoop(ts) {
  const began = performance.now();
  K.twins.without.frame(ts);
  K.twins.with.frame(ts);
  const f = K.frames;
  if (f.last) {
    const i = f.n % FRAMES_KEPT;
    f.interval[i] = ts - f.last;
    f.draw[i] = performance.now() - began;
    f.n += 1;
  }
  f.last = ts;
  if (K.framed) { K.framed(); K.framed = null; }
  requestAnimationFrame(frameLoop);
}

function onVehicles(msg) {
  if (!K.twins || msg.site !== K.modelSite) return;
  const now = performance.now();
  const { without, with: withS } = K.twins;
  without.setCars(msg.without_sensors, msg.interval_s, now);
  withS.setCars(msg.with_sensors, msg.interval_s, now);
  without.setBays(msg.bays, msg.occupied_without_sensors);
  withS.setBays(msg.bays, msg.occupied_with_sensors);
  K.vehiclesAt = Date.now();
  K.positions += 1;
  drawSearching();
  drawSimClock(msg.sim_time);
}

function drawSearching() {
  // "1 Auto sucht", "2 Autos suchen": the word follows the count in both languages
  for (const side of ["without", "with"]) {
    const n = K.twins ? K.twins[side].searching : null;
    if (n !== null) setText($(`n-search-${side}`), fmt(n));
    setText($(`word-search-${side}`), t(n === 1 ? "car_searching" : "cars_searching"));
  }
}

function drawSimulatedDay(current, hist) {
  const now = K.simHours;
  const ref = K.simDay && K.simDay.reference;
  const refName = ref ? t("day_types")[ref.day_type] || ref.day_type : "";
  const data = [
    { type: "scatter", mode: "lines", x: hist.x, y: hist.y, name: `${t("sim_reference")} ${refName}`, fill: "tozeroy",
      line: { color: "#8C8C8C", width: 3 }, fillcolor: "rgba(140,140,140,0.18)", hoverinfo: "skip" },
    { type: "scatter", mode: "lines", x: K.occLive.x, y: K.occLive.y, name: t("today"),
      line: { color: COLORS.blue, width: 5 }, hoverinfo: "skip" },
    { type: "scatter", mode: "markers", x: current === null || now === null ? [] : [now], y: current === null || now === null ? [] : [current],
      name: t("now"), showlegend: false, marker: { size: 18, color: COLORS.blue, line: { color: "#fff", width: 3 } }, hoverinfo: "skip" },
  ];
  const layout = {
    margin: { l: 60, r: 14, t: 30, b: 34 }, showlegend: true, font: { family: FONT, size: 17, color: "#1d1d1b" },
    legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom", font: { size: 15 } },
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", hovermode: false,
    xaxis: { range: [0, 24], tickvals: [0, 6, 12, 18, 24], ticktext: [0, 6, 12, 18, 24].map((h) => `${h}${t("oclock")}`),
             showgrid: false, fixedrange: true, linecolor: "#999" },
    yaxis: { range: [0, 104], tickvals: [0, 50, 85], ticktext: ["0 %", "50 %", "85 %"], gridcolor: "#d8d8d8", fixedrange: true },
    shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: 85, y1: 85, line: { color: COLORS.occupied, width: 2, dash: "dash" } }],
    datarevision: ++K.revision,
  };
  return Plotly.react("occupancy", data, layout, { displayModeBar: false, staticPlot: true, responsive: true });
}

function frameStats(reset = false) {
  const f = K.frames;
  const n = Math.min(f.n, FRAMES_KEPT);
  const out = { interval: Array.from(f.interval.slice(0, n)), draw: Array.from(f.draw.slice(0, n)), total: f.n };
  if (reset) { f.n = 0; f.last = 0; }
  return out;
}

// ---------------------------------------------------------------- map, counts, zones, badges

// As the API shows a bay (api/current.py): free or occupied only while its sensor is heard.
function shownStatus(bay, now) {
  if (!bay) return "unknown";
  const seen = Date.parse(bay.last_seen || "") || 0;
  if ((bay.status === "free" || bay.status === "occupied") && seen && now - seen > K.silentMs) return "unknown";
  return bay.status;
}

function statusOf(bayId) {
  return shownStatus(K.bays.get(bayId), Date.now());
}

function drawMap() {
  const fig = K.fig;
  const style = fig.status_style;
  const trace = fig.data[fig.bay_trace];
  const n = trace.customdata.length;
  const colors = new Array(n);
  const symbols = new Array(n);
  const rings = {};
  for (const status of Object.keys(fig.fill_traces)) rings[status] = { x: [], y: [] };
  for (let i = 0; i < n; i++) {
    const bayId = trace.customdata[i];
    const status = style[statusOf(bayId)] ? statusOf(bayId) : "unknown";
    colors[i] = style[status].color;
    symbols[i] = style[status].symbol;
    const polygon = fig.polygons[bayId];
    const ring = rings[status];
    if (polygon && ring) {
      if (ring.x.length) { ring.x.push(null); ring.y.push(null); }
      for (let j = 0; j < polygon.x.length; j++) { ring.x.push(polygon.x[j]); ring.y.push(polygon.y[j]); }
    }
  }
  trace.marker.color = colors;
  trace.marker.symbol = symbols;
  for (const [status, index] of Object.entries(fig.fill_traces)) {
    fig.data[index].x = rings[status].x;
    fig.data[index].y = rings[status].y;
  }
  fig.layout.datarevision = ++K.revision;
  return Plotly.react("map", fig.data, fig.layout, fig.config);
}

function countStatuses() {
  const total = { free: 0, occupied: 0, unknown: 0, closed: 0 };
  const zones = new Map(K.zones.map((z) => [z, { free: 0, occupied: 0, unknown: 0, closed: 0, total: 0 }]));
  for (const bayId of K.index.keys()) {
    const status = statusOf(bayId);
    total[status] = (total[status] || 0) + 1;
    const zone = zones.get(K.zoneOf.get(bayId));
    if (zone) { zone[status] = (zone[status] || 0) + 1; zone.total += 1; }
  }
  return { total, zones };
}

function drawCounts() {
  const { total, zones } = countStatuses();
  setText($("n-free"), fmt(total.free));
  setText($("n-total"), fmt(K.index.size));
  setText($("n-occupied"), fmt(total.occupied));
  setText($("n-unknown"), fmt(total.unknown));
  for (const [zone, c] of zones) {
    const tile = document.querySelector(`.zone[data-zone="${CSS.escape(zone)}"]`);
    if (!tile) continue;
    setText(tile.querySelector(".zfree"), fmt(c.free));
    setText(tile.querySelector(".ztotal"), `/ ${fmt(c.total)}`);
    tile.classList.toggle("full", c.free === 0 && occupiedShare(c) !== null);
    for (const status of ["free", "occupied", "unknown", "closed"]) {
      const width = c.total ? `${(100 * c[status]) / c.total}%` : "0%";
      const seg = tile.querySelector(`.seg.${status}`);
      if (seg.style.width !== width) seg.style.width = width;
    }
  }
  tickHealth();
}

function zoneLabel(zone) {
  // Short codes ("A", "B2") read better as "Zone A"; names ("Innenstadt") stand alone.
  return /^[A-Z0-9]{1,3}$/.test(zone) ? `${t("zone")} ${zone}` : zone;
}

function buildZoneTiles() {
  const box = $("zones");
  box.replaceChildren();
  box.classList.toggle("many", K.zones.length > 4);
  for (const zone of K.zones) {
    const tile = document.createElement("div");
    tile.className = "zone";
    tile.dataset.zone = zone;
    tile.innerHTML = `<div class="zname"></div>
      <div class="zcount"><span class="zfree">–</span> <span class="ztotal">/ –</span> <span class="zword"></span></div>
      <div class="zbar"><div class="seg free"></div><div class="seg occupied"></div><div class="seg unknown"></div><div class="seg closed"></div></div>`;
    tile.querySelector(".zname").textContent = zoneLabel(zone);
    tile.querySelector(".zword").textContent = t("free");
    tile.appendChild(Object.assign(document.createElement("div"), { className: "zforecast" }));
    box.appendChild(tile);
  }
  if (K.fig) drawCounts();
  drawForecasts();
}

// ---------------------------------------------------------------- forecast on the zone tiles

const FORECAST_REFRESH_MS = 5 * 60_000;  // the API computes them every five minutes
const FORECAST_AHEAD_MS = 30 * 60_000;
K.forecasts = new Map();                 // zone -> the API's forecast (or absent: nothing shown)

// A zone's tile shows "in 30 Min: ~N frei" only where the site's back-test says the model beat
// carrying the last value forward at 30 minutes; otherwise the current count is the better guess.
async function loadForecasts() {
  if (K.mode !== "sensors") return;
  // The list always answers 200: a site without a (good enough) forecast is never asked for one.
  const states = await getJSON("/api/v1/forecasts").catch(() => []);
  const mine = states.find((s) => s.site === K.site);
  if (!mine || mine.state !== "ready" || !mine.beats_persistence_at_30_min) {
    K.forecasts.clear();
    drawForecasts();
    return;
  }
  await Promise.all(K.zones.map(async (zone) => {
    try {
      const url = `/api/v1/sites/${enc(K.site)}/forecast?zone=${encodeURIComponent(zone)}&horizon=60`;
      K.forecasts.set(zone, await getJSON(url));
    } catch {
      K.forecasts.delete(zone);  // e.g. no recent readings in this zone: nothing to show
    }
  }));
  drawForecasts();
}

function forecastLine(body) {
  const row = ((body.backtest || {}).horizons || []).find((h) => h.horizon_min === 30);
  if (!row || !row.model_beats_persistence) return null;
  const target = Date.now() + FORECAST_AHEAD_MS;
  const point = body.points.reduce((best, p) =>
    Math.abs(Date.parse(p.time) - target) < Math.abs(Date.parse(best.time) - target) ? p : best);
  if (Math.abs(Date.parse(point.time) - target) > 10 * 60_000) return null;  // too old to say "in 30 min"
  return {
    text: `${t("forecast_in", { n: fmt(Math.round(point.free)) })} ${t("forecast_band", {
      lo: fmt(Math.round(point.free_low)), hi: fmt(Math.round(point.free_high)) })}`,
    note: t("forecast_note", { e: fmt(row.model, 1), p: fmt(row.persistence, 1) }),
  };
}

function drawForecasts() {
  let shown = 0;
  for (const tile of document.querySelectorAll(".zone[data-zone]")) {
    const body = K.forecasts.get(tile.dataset.zone);
    const line = body ? forecastLine(body) : null;
    const el = tile.querySelector(".zforecast");
    if (!el) continue;
    setText(el, line ? line.text : "");
    el.title = line ? line.note : "";
    if (line) shown += 1;
  }
  $("zones").classList.toggle("forecasting", shown > 0);
  setText($("forecast-note"), shown ? forecastLineNote() : "");
}

function forecastLineNote() {
  for (const body of K.forecasts.values()) {
    const line = forecastLine(body);
    if (line) return line.note;
  }
  return "";
}

function newestReportMs() {
  let newest = 0;
  for (const bay of K.bays.values()) {
    const seen = Date.parse(bay.last_seen || bay.since || "") || 0;
    if (seen > newest) newest = seen;
  }
  return newest;
}

function ago(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s} ${t("s")}`;
  if (s < 90 * 60) return `${Math.round(s / 60)} ${t("min")}`;
  if (s < 48 * 3600) return `${Math.round(s / 3600)} ${t("h")}`;
  return `${Math.round(s / 86400)} ${t("d")}`;
}

function badge(el, level, text) {
  if (el.dataset.level !== level) { el.className = `badge ${level}`; el.dataset.level = level; }
  setText(el.querySelector(".txt"), text);
}

function tickFreshness() {
  const el = $("freshness");
  if (!K.connected) {
    // A short blip stays "connecting"; after three seconds without the stream the screen says so.
    const lost = K.lostAt !== null && Date.now() - K.lostAt > 3000;
    badge(el, lost ? "bad" : "connecting", lost ? t("offline") : t("connecting"));
    return;
  }
  const newest = newestReportMs();
  if (!newest) { badge(el, "warn", `${t("live")} · ${t("no_reports")}`); return; }
  const age = Date.now() - newest;
  const text = K.lang === "de" ? `${t("live")} · ${t("last_report")} ${ago(age)}` : `${t("live")} · ${t("last_report")} ${ago(age)} ago`;
  badge(el, age > STALE_MS ? "warn" : "ok", text);
}

function tickHealth() {
  const now = Date.now();
  let reporting = 0;
  let lowBattery = 0;
  let silent = 0;
  for (const bayId of K.index.keys()) {
    const bay = K.bays.get(bayId);
    if (!bay) continue;
    const seen = Date.parse(bay.last_seen || "") || 0;
    if (bay.status !== "unknown" && seen && now - seen <= K.silentMs) reporting += 1;
    if (shownStatus(bay, now) !== bay.status) silent += 1;
    const pct = bay.battery_pct;
    const volts = bay.battery_v;
    if ((pct !== null && pct !== undefined && pct < LOW_BATTERY_PCT)
        || ((pct === null || pct === undefined) && volts !== null && volts !== undefined && volts < LOW_BATTERY_V)) {
      lowBattery += 1;
    }
  }
  // A sensor fell silent (or spoke again) without any event: redraw map and counts.
  if (silent !== K.silentShown) { K.silentShown = silent; touch(); }
  const n = K.index.size;
  let text = reporting === n ? t("sensors_ok", { n: fmt(n) }) : t("sensors_some", { ok: fmt(reporting), n: fmt(n) });
  if (lowBattery) text += ` · ${t("battery_low", { n: fmt(lowBattery) })}`;
  const level = reporting < n * MIN_REPORTING ? "bad" : reporting < n || lowBattery ? "warn" : "ok";
  badge($("health"), level, text);
}

function tick() {
  setText($("clock"), new Date().toLocaleTimeString(K.lang === "de" ? "de-DE" : "en-GB", { hour: "2-digit", minute: "2-digit" }));
  tickFreshness();
  if (K.fig) tickHealth();
  // A stream stuck connecting for half a minute is replaced by a new one.
  const now = Date.now();
  if (K.es && !K.connected && K.es.readyState === EventSource.CONNECTING && K.lostAt !== null
      && now - K.lostAt > 30_000 && now - K.connectingSince > 30_000) {
    connect();
  }
}

// ---------------------------------------------------------------- staff only: problem sensors
// With the staff token in this tab (the staff page keeps it in sessionStorage), a badge links the count
// of sensors with a problem to the page "Sensoren". A visitor's screen (no token) asks for nothing more
// and looks as before.
const FLEET_POLL_MS = 60_000;
const FLEET_TEXT = {
  de: { some: "Sensoren mit Problem: {n}", none: "Sensoren: alle in Ordnung" },
  en: { some: "Sensors with a problem: {n}", none: "Sensors: all fine" },
};
async function staffFleet() {
  const token = sessionStorage.getItem("parklotse.token");
  if (!token || !K.site) return;
  try {
    const response = await fetch(`/api/v1/sites/${enc(K.site)}/sensors`,
      { cache: "no-store", headers: { Authorization: `Bearer ${token}` } });
    if (!response.ok) return;
    const n = (await response.json()).summary.bays_with_problems;
    let link = $("fleet-link");
    if (!link) {
      link = document.createElement("a");
      link.id = "fleet-link";
      Object.assign(link.style, { color: "inherit", textDecoration: "none" });
      link.append(Object.assign(document.createElement("i"), { className: "dot" }),
        Object.assign(document.createElement("span"), { className: "txt" }));
      $("health").after(link);
    }
    link.href = `/staff/sensors?site=${enc(K.site)}${K.lang === "en" ? "&lang=en" : ""}`;
    link.className = `badge ${n ? "warn" : "ok"}`;
    link.dataset.problems = String(n);
    setText(link.querySelector(".txt"), (n ? FLEET_TEXT[K.lang].some : FLEET_TEXT[K.lang].none).replace("{n}", fmt(n)));
  } catch (err) { /* the next poll tries again */ }
}
if (sessionStorage.getItem("parklotse.token")) {
  BOOT.site.then(() => { staffFleet(); setInterval(staffFleet, FLEET_POLL_MS); }).catch(() => {});
}

// ---------------------------------------------------------------- occupancy (last 24 h)

// An endpoint that failed (503 while its rollup is built, 404 before it exists) is asked again in a
// minute instead of at its regular refresh; one pending retry per loader.
const RETRY_MS = 60_000;
const retries = new Map();
function retrySoon(loader) {
  if (retries.has(loader)) return;
  retries.set(loader, setTimeout(() => { retries.delete(loader); loader(); }, RETRY_MS));
}

function fetchOccupancy() {
  // A simulated site plots the simulated clock: its wall-clock history holds dozens of copies of the
  // few simulated hours the demo loops. The API answers its latest whole simulated day of this kind.
  if (K.mode === "twin") return getJSON(`/api/v1/sites/${enc(K.site)}/simulated-day?every=15m`);
  const end = new Date();
  const startAt = new Date(end.getTime() - 24 * 3600_000);
  const q = new URLSearchParams({ start: startAt.toISOString(), end: end.toISOString(), every: "15m" });
  return getJSON(`/api/v1/sites/${enc(K.site)}/occupancy?${q}`);
}

async function loadOccupancy(pending) {
  try {
    const data = await (pending || fetchOccupancy());
    if (data instanceof Error) throw data;
    const x = [];
    const y = [];
    if (K.mode === "twin") {
      K.simDay = data;
      for (const p of (data.reference && data.reference.points) || []) {
        x.push(p.hour);
        y.push(p.occupancy === null || p.occupancy === undefined ? null : 100 * p.occupancy);
      }
      K.occHistory = y.some((v) => v !== null) ? { x, y } : null;
    } else {
      // an interval in which too few bays reported is a gap, as the live figure is (occupiedShare)
      const enough = MIN_REPORTING * K.index.size;
      for (const p of data.points || []) {
        x.push(new Date(p.time));
        const known = p.occupancy !== null && p.occupancy !== undefined && !(p.reporting < enough);
        y.push(known ? 100 * p.occupancy : null);
      }
      K.occHistory = y.some((v) => v !== null) ? { x, y } : null;
      if (K.occHistory) {
        // Live samples the history now covers are dropped, so the two lines never overlap.
        const last = x[x.length - 1].getTime();
        while (K.occLive.x.length && K.occLive.x[0].getTime() <= last) { K.occLive.x.shift(); K.occLive.y.shift(); }
      }
    }
  } catch (err) {
    K.occHistory = null;
    retrySoon(loadOccupancy);
  }
  K.dirty.occ = true;
  scheduleFlush();
}

function occupiedShare(c) {
  // c: bays counted by status (countStatuses); closed bays are not part of the share
  const reporting = c.free + c.occupied;
  return reporting > 0 && reporting >= MIN_REPORTING * (reporting + c.unknown) ? (100 * c.occupied) / reporting : null;
}

function liveOccupancy() {
  return occupiedShare(countStatuses().total);
}

function sampleOccupancy() {
  const value = liveOccupancy();
  if (value === null) return;
  if (K.mode === "twin") {
    if (K.simHours === null) return;
    // The demo loops its hours: when the clock jumps back, today's line starts again.
    const last = K.occLive.x[K.occLive.x.length - 1];
    if (last !== undefined && K.simHours < last - 0.05) { K.occLive.x.length = 0; K.occLive.y.length = 0; }
    K.occLive.x.push(K.simHours);
  } else {
    K.occLive.x.push(new Date());
  }
  K.occLive.y.push(value);
  if (K.occLive.x.length > OCC_LIVE_MAX) { K.occLive.x.shift(); K.occLive.y.shift(); }
  K.dirty.occ = true;
  scheduleFlush();
}

function drawOccupancy() {
  const now = Date.now();
  const current = liveOccupancy();
  K.occNowDrawn = current;
  setText($("occ-now"), current === null ? "–" : `${fmt(current)} %`);
  const hasHistory = K.occHistory !== null;
  $("occ-card").dataset.state = hasHistory || K.occLive.x.length > 1 ? "ok" : "nodata";
  const hist = K.occHistory || { x: [], y: [] };
  if (K.mode === "twin") return drawSimulatedDay(current, hist);
  const data = [
    { type: "scatter", mode: "lines", x: hist.x, y: hist.y, name: "history", fill: "tozeroy", connectgaps: false,
      line: { color: COLORS.blue, width: 4 }, fillcolor: "rgba(0,114,178,0.18)", hoverinfo: "skip" },
    { type: "scatter", mode: "lines", x: K.occLive.x, y: K.occLive.y, name: "live", fill: "tozeroy",
      line: { color: COLORS.blue, width: 4 }, fillcolor: "rgba(0,114,178,0.18)", hoverinfo: "skip" },
    { type: "scatter", mode: "markers", x: current === null ? [] : [new Date(now)], y: current === null ? [] : [current],
      name: "now", marker: { size: 18, color: COLORS.blue, line: { color: "#fff", width: 3 } }, hoverinfo: "skip" },
  ];
  const layout = {
    margin: { l: 70, r: 20, t: 10, b: 40 }, showlegend: false, font: { family: FONT, size: 18, color: "#1d1d1b" },
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", hovermode: false,
    xaxis: { type: "date", range: [new Date(now - 24 * 3600_000), new Date(now + 10 * 60_000)], tickformat: "%H:%M",
             dtick: 4 * 3600_000, showgrid: false, fixedrange: true, linecolor: "#999" },
    yaxis: { range: [0, 104], tickvals: [0, 50, 85], ticktext: ["0 %", "50 %", "85 %"], gridcolor: "#d8d8d8", fixedrange: true },
    // The 85 % line: above it drivers start circling (research note §0/§7).
    shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: 85, y1: 85, line: { color: COLORS.occupied, width: 2, dash: "dash" } }],
    annotations: [{ xref: "paper", x: 0.01, y: 85, yanchor: "bottom", xanchor: "left", showarrow: false, text: t("search_line"),
                    font: { size: 16, color: "#a33f00" }, bgcolor: "rgba(251,251,248,0.85)" }],
    datarevision: ++K.revision,
  };
  return Plotly.react("occupancy", data, layout, { displayModeBar: false, staticPlot: true, responsive: true });
}

// ---------------------------------------------------------------- weekday × hour heatmap

function fetchHeatmap(end) {
  const until = end || (K.simDay && K.simDay.heatmap_end);
  return getJSON(`/api/v1/sites/${enc(K.site)}/heatmap?weeks=4${until ? `&end=${encodeURIComponent(until)}` : ""}`);
}

async function loadHeatmap(pending) {
  try {
    const data = await (pending || fetchHeatmap());
    if (data instanceof Error) throw data;
    const values = (data.values || []).map((row) => row.map((v) => (v === null || v === undefined ? null : 100 * v)));
    const any = values.some((row) => row.some((v) => v !== null));
    K.heat = any ? { values, hours: data.hours || [...Array(24).keys()], weeks: data.weeks } : null;
  } catch (err) {
    K.heat = null;
    retrySoon(loadHeatmap);
  }
  K.dirty.heat = true;
  scheduleFlush();
}

function drawHeatmap() {
  const card = $("heat-card");
  card.dataset.state = K.heat ? "ok" : "nodata";
  const days = t("weekdays");
  const heat = K.heat || { values: days.map(() => new Array(24).fill(null)), hours: [...Array(24).keys()] };
  // The cell of now: the simulated clock on a simulated site, the wall clock elsewhere.
  const sim = K.mode === "twin" && K.status ? simParts(K.status.sim_time) : null;
  const now = new Date();
  const today = sim ? sim.weekdayIndex : (now.getDay() + 6) % 7; // Monday first, as the API sends it
  const hourNow = sim ? Math.floor(sim.hours) : now.getHours();
  // The twin layout's heatmap is a third as wide: fewer hour labels, a slimmer colour bar.
  const narrow = K.mode === "twin";
  const hours = narrow ? [0, 6, 12, 18] : [0, 3, 6, 9, 12, 15, 18, 21];
  const data = [{
    type: "heatmap", z: heat.values, x: heat.hours, y: days.slice(0, heat.values.length), zmin: 0, zmax: 100,
    colorscale: HEAT_SCALE, xgap: 2, ygap: 2, hoverinfo: "skip",
    colorbar: { thickness: narrow ? 12 : 18, len: 1, tickvals: [0, 50, 100], ticktext: ["0 %", "50 %", "100 %"], tickfont: { size: narrow ? 14 : 16 }, outlinewidth: 0 },
  }];
  const layout = {
    margin: { l: 60, r: 10, t: 6, b: 36 }, font: { family: FONT, size: 18, color: "#1d1d1b" },
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    xaxis: { tickvals: hours, ticktext: hours.map((h) => (narrow ? String(h) : `${h}${t("oclock")}`)), tickangle: 0, fixedrange: true, showgrid: false },
    yaxis: { autorange: "reversed", fixedrange: true, showgrid: false, dtick: 1, ticksuffix: " " },
    // This hour of this weekday, framed.
    shapes: K.heat === null ? [] : [{ type: "rect", x0: hourNow - 0.5, x1: hourNow + 0.5, y0: today - 0.5, y1: today + 0.5,
               line: { color: COLORS.blue, width: 4 } }],
    datarevision: ++K.revision,
  };
  return Plotly.react("heatmap", data, layout, { displayModeBar: false, staticPlot: true, responsive: true });
}

// ---------------------------------------------------------------- simulator status and the shipped curve

async function loadStatus(pending) {
  try {
    const data = await (pending || getJSON(`/api/v1/simulator?site=${enc(K.site)}`));
    if (data instanceof Error) throw data;
    onStatus(data);
  } catch (err) {
    // The simulator stopped since the page asked: the story panels say "wird berechnet" until it returns.
    K.dirty.status = true;
    scheduleFlush();
  }
}

function onStatus(status) {
  if (status.site && status.site !== K.site) return;
  K.status = status;
  K.statusAt = Date.now();
  K.realBays = new Set(status.real_bays || []);
  seedToday(status.today_occupancy);
  K.dirty.status = true;
  scheduleFlush();
}

// A screen opened mid-loop starts the day's line ("heute") with what the simulator published since
// its loop began; the screen's own samples follow (twin mode: the measured view has its history).
function seedToday(points) {
  if (K.mode !== "twin" || K.occLive.x.length > 0 || !Array.isArray(points) || points.length < 2) return;
  for (const [hour, share] of points) {
    K.occLive.x.push(hour);
    K.occLive.y.push(100 * share);
  }
  K.dirty.occ = true;
}

async function loadCurve(pending) {
  try {
    const data = await pending;
    if (data instanceof Error) throw data;
    K.curve = data;
  } catch (err) {
    K.curve = null;
  }
  K.dirty.measured = true;
  scheduleFlush();
}

// ---------------------------------------------------------------- test and bench hooks

window.kiosk = {
  state: K,
  flush: () => flush(),
  applyBay: onBay,
  applyVehicles: onVehicles,
  applyStatus: onStatus,
  frameStats,
  sampleOccupancy,
  ready: () => K.ready,
};

document.addEventListener("DOMContentLoaded", () => {
  start().catch((err) => {
    console.warn("kiosk start failed, retrying:", err.message);
    badge($("freshness"), "bad", t("offline"));
    setTimeout(() => location.reload(), 5000);
  });
});
