// Parklotse kiosk page: draws the bay map once, then applies live changes from the SSE stream,
// redrawing at most twice a second. No request leaves the host.
"use strict";

const TEXT = {
  de: { title: "Parken mit Sensoren", free: "frei", occupied: "belegt", unknown: "ohne Meldung",
        connecting: "verbinde …", live: "live", stale: "keine Daten seit", minutes: "min", lang: "EN" },
  en: { title: "Parking with sensors", free: "free", occupied: "occupied", unknown: "no report",
        connecting: "connecting …", live: "live", stale: "no data for", minutes: "min", lang: "DE" },
};
const params = new URLSearchParams(location.search);
let lang = params.get("lang") === "en" ? "en" : "de";
const state = { site: params.get("site"), bays: new Map(), index: new Map(), style: {}, trace: 0,
                dirty: false, lastEvent: 0, source: null };

function t(key) { return TEXT[lang][key] || key; }

function applyLanguage() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.getElementById("lang").textContent = t("lang");
  updateFreshness();
}

async function getJSON(url) {
  const response = await fetch(url, { cache: "no-store" });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

async function start() {
  applyLanguage();
  document.getElementById("lang").addEventListener("click", () => { lang = lang === "de" ? "en" : "de"; applyLanguage(); });
  const sites = await getJSON("/api/v1/sites");
  if (!state.site) state.site = (sites.find((s) => s.id === "showroom") || sites[0]).id;
  const site = sites.find((s) => s.id === state.site);
  document.getElementById("site-name").textContent = site ? site.name : state.site;
  const figure = await getJSON(`/api/v1/sites/${encodeURIComponent(state.site)}/figures/map`);
  state.style = figure.status_style;
  state.trace = figure.data.length - 1;
  figure.data[state.trace].customdata.forEach((bay, i) => state.index.set(bay, i));
  await Plotly.newPlot("map", figure.data, figure.layout, figure.config);
  connect();
  setInterval(flush, 500);
  setInterval(updateFreshness, 5000);
}

function connect() {
  // EventSource reconnects by itself and sends Last-Event-ID, so an API restart heals on its own.
  const source = new EventSource(`/api/v1/stream?site=${encodeURIComponent(state.site)}`);
  source.addEventListener("snapshot", (e) => {
    state.bays.clear();
    for (const bay of JSON.parse(e.data).bays) state.bays.set(bay.bay, bay);
    touch();
  });
  source.addEventListener("bay", (e) => { const bay = JSON.parse(e.data); state.bays.set(bay.bay, bay); touch(); });
  source.onerror = () => { document.getElementById("freshness").textContent = t("connecting"); };
  state.source = source;
}

function touch() { state.dirty = true; state.lastEvent = Date.now(); }

function flush() {
  if (!state.dirty) return;
  state.dirty = false;
  const n = state.index.size;
  const colors = new Array(n).fill(state.style.unknown.color);
  const symbols = new Array(n).fill(state.style.unknown.symbol);
  const counts = { free: 0, occupied: 0, unknown: 0, closed: 0 };
  for (const [bay, i] of state.index) {
    const status = (state.bays.get(bay) || { status: "unknown" }).status;
    counts[status] = (counts[status] || 0) + 1;
    colors[i] = state.style[status].color;
    symbols[i] = state.style[status].symbol;
  }
  Plotly.restyle("map", { "marker.color": [colors], "marker.symbol": [symbols] }, [state.trace]);
  for (const key of ["free", "occupied", "unknown"]) document.getElementById(`n-${key}`).textContent = counts[key];
  document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  updateFreshness();
}

function updateFreshness() {
  const badge = document.getElementById("freshness");
  if (!state.lastEvent) { badge.textContent = t("connecting"); return; }
  const newest = Math.max(...[...state.bays.values()].map((b) => Date.parse(b.last_seen || 0) || 0), 0);
  const ageMin = newest ? (Date.now() - newest) / 60000 : Infinity;
  const stale = ageMin > 15;
  badge.classList.toggle("stale", stale);
  badge.textContent = stale && Number.isFinite(ageMin) ? `${t("stale")} ${Math.round(ageMin)} ${t("minutes")}` : t("live");
}

start().catch((err) => { console.error(err); setTimeout(() => location.reload(), 5000); });
