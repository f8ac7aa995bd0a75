// Parklotse kiosk: the panels that tell the story around the twin view (simulated clock, signs, the
// typical day's saving with its band, search time against occupancy, the visitor's own car), and the
// "what is measured" panel of a real-sensor site. Loaded before kiosk.js; uses its K, t, fmt, setText.
"use strict";

const STORY = { signsKey: "", curveKey: "", bandKey: "" };

// ---------------------------------------------------------------- simulated day and clock

function simParts(simTime) {
  // "2026-11-21T11:40:12+01:00": the town's own local time is in the string; no time zone maths.
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(simTime || "");
  if (!m) return null;
  const day = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  const weekday = new Intl.DateTimeFormat(K.lang === "de" ? "de-DE" : "en-GB", { weekday: "long", timeZone: "UTC" }).format(day);
  return { weekday, weekdayIndex: (day.getUTCDay() + 6) % 7, hm: `${m[4]}:${m[5]}`, hours: Number(m[4]) + Number(m[5]) / 60 };
}

function presetLabel(preset) {
  return t("presets")[preset] || preset || "";
}

function drawSimClock(simTime) {
  const parts = simParts(simTime);
  if (!parts) return;
  const box = $("sim-clock");
  if (box.hidden) box.hidden = false;
  K.simHours = parts.hours;
  setText($("sim-day"), parts.weekday);
  setText($("sim-hm"), parts.hm);
  const preset = K.status && K.status.preset;
  setText($("sim-label"), preset ? ` · ${presetLabel(preset)}` : "");
}

// ---------------------------------------------------------------- everything the status carries

function drawStory() {
  const status = K.status;
  if (status) drawSimClock(status.sim_time);
  const kpis = status && status.kpis;
  const today = kpis && kpis.today;
  const minutes = (g) => (g && g.mean_search_min !== null && g.mean_search_min !== undefined ? `≈ ${fmt(g.mean_search_min, 1)} ${t("min")}` : "–");
  setText($("mean-without"), minutes(today && today.without_sensors));
  setText($("mean-with"), minutes(today && today.with_sensors));
  // Until positions flow, the counts come from the status (the same figure the simulator counts).
  if (kpis && Date.now() - K.vehiclesAt > 3000) {
    setText($("n-search-without"), fmt(kpis.now.searching.without_sensors));
    setText($("n-search-with"), fmt(kpis.now.searching.with_sensors));
  }
  setText($("steering"), status ? `${t("steering")[status.steering] || status.steering} · ${t("guided_share", { p: fmt(100 * status.guidance_share) })}` : "–");
  const sources = storySources(status);
  document.querySelectorAll("#headline-card .sources, #curve-card .sources").forEach((el) => setText(el, sources));
  const signs = status ? status.signs || [] : [];
  const signsJson = JSON.stringify(signs);
  if (K.twins && signsJson !== STORY.mapSigns) {
    STORY.mapSigns = signsJson;
    for (const view of Object.values(K.twins)) view.setSigns(signs);
  }
  drawSigns(signs);
  drawHeadline(status);
  return drawCurve(status);
}

function storySources(status) {
  const factors = status && status.kpis ? Object.values(status.kpis.factors || {}) : [];
  const seen = [...new Set(factors.map((f) => f.source).filter(Boolean))];
  return seen.length ? seen.join(" · ") : "–";
}

// ---------------------------------------------------------------- the signs, as drivers read them

// One sign at a time, large enough to read from the room, the next every few seconds; the town
// map rings the sign shown.
const SIGN_MS = 6000;

function drawSigns(signs) {
  STORY.signs = signs;
  if (!STORY.signTimer) {
    STORY.signTimer = setInterval(() => { STORY.signIndex = (STORY.signIndex || 0) + 1; renderSign(); }, SIGN_MS);
  }
  renderSign();
}

function renderSign() {
  const signs = STORY.signs || [];
  const index = signs.length ? (STORY.signIndex || 0) % signs.length : 0;
  const sign = signs[index];
  const key = `${K.lang}|${signs.length}|${index}|${JSON.stringify(sign || null)}`;
  if (key === STORY.signsKey) return;
  STORY.signsKey = key;
  const box = $("signs");
  box.replaceChildren();
  box.dataset.count = String(signs.length);
  if (K.twins) K.twins.with.setActiveSign(sign ? sign.id : null);
  if (!sign) {
    const none = document.createElement("div");
    none.className = "no-signs";
    none.textContent = t("no_signs");
    box.appendChild(none);
    return;
  }
  const el = document.createElement("div");
  el.className = "sign";
  el.dataset.sign = sign.id;
  const head = document.createElement("div");
  head.className = "sign-head";
  head.innerHTML = '<span class="p">P</span><span class="sid"></span>';
  head.querySelector(".sid").textContent = sign.id.replace(/[-_]/g, " ");
  el.appendChild(head);
  for (const line of sign.lines) {
    const row = document.createElement("div");
    row.className = `sign-line${line.full ? " full" : ""}`;
    row.innerHTML = '<span class="z"></span><span class="v"></span>';
    row.querySelector(".z").textContent = zoneLabel(line.zone);
    row.querySelector(".v").textContent = line.full ? t("besetzt") : String(line.free);
    el.appendChild(row);
  }
  box.appendChild(el);
  if (signs.length > 1) {
    const dots = document.createElement("div");
    dots.className = "sign-dots";
    dots.textContent = signs.map((_, i) => (i === index ? "●" : "○")).join(" ");
    box.appendChild(dots);
  }
}

// ---------------------------------------------------------------- the typical day's saving, with its band

const BAND_KEYS = [["search_min", 0], ["km", 1], ["co2_kg", 1]];

function typicalUntil(typical, hours) {
  // Sum of the hourly means up to this simulated time (the mean of a sum is the sum of the means):
  // today's live value so far is compared with this, like with like.
  let total = { search_min: 0, km: 0, co2_kg: 0 };
  for (const h of typical.per_hour) {
    const share = Math.max(0, Math.min(1, hours - h.hour));
    if (share <= 0) continue;
    for (const [key] of BAND_KEYS) total[key] += share * h[key].mean;
  }
  return total;
}

function drawHeadline(status) {
  const card = $("headline-card");
  const typical = status && status.typical_day;
  card.dataset.state = typical ? "ok" : "nodata";
  setText($("headline-title"), (t("headline")[status && status.preset] || t("headline").other));
  // While the typical day is computed (seconds, in the background) the panels say how far it got.
  const progress = status && !typical && status.typical_day_progress !== null && status.typical_day_progress !== undefined
    ? `${fmt(100 * status.typical_day_progress)} %` : "";
  document.querySelectorAll("#headline-card .progress, #curve-card .progress").forEach((el) => setText(el, progress));
  if (!typical) return;
  const parts = simParts(status.sim_time);
  const saved = status.kpis && status.kpis.today ? status.kpis.today.saved : null;
  const until = parts ? typicalUntil(typical, parts.hours) : null;
  for (const [key, digits] of BAND_KEYS) {
    const band = typical.per_day[key];
    const row = card.querySelector(`.band-row[data-key="${key}"]`);
    const d = key === "search_min" && Math.abs(band.mean) < 10 ? 1 : digits;
    setText(row.querySelector(".band-num b"), `≈ ${fmt(band.mean, d)}`);
    drawBand(row.querySelector(".band-bar"), band, saved ? saved[key] : null, until ? until[key] : null, d);
  }
  setText($("band-note"), t("band_note", { n: fmt(typical.days) }));
  setText($("today-note"), parts ? t("today_until", { t: parts.hm }) : "–");
  setText($("sofar-note"), parts ? t("typical_until", { t: parts.hm }) : "–");
}

function drawBand(bar, band, today, typicalSoFar, digits) {
  // One horizontal axis from 0 (or below, if a figure is negative) to a little past the largest value.
  const values = [0, band.p10, band.p90, band.mean, today, typicalSoFar].filter((v) => v !== null && v !== undefined);
  const lo = Math.min(...values);
  const hi = Math.max(...values) * 1.08 || 1;
  const pos = (v) => `${(100 * (v - lo)) / (hi - lo)}%`;
  if (!bar.firstChild) {
    bar.innerHTML = '<div class="zero"></div><div class="band"></div><div class="mean"></div><div class="sofar"></div><div class="today"></div><span class="lab p10"></span><span class="lab p90"></span>';
  }
  const [zero, bandEl, mean, sofar, dot, p10, p90] = bar.children;
  zero.style.left = pos(0);
  bandEl.style.left = pos(band.p10);
  bandEl.style.width = `${(100 * (band.p90 - band.p10)) / (hi - lo)}%`;
  mean.style.left = pos(band.mean);
  p10.style.left = pos(band.p10);
  p90.style.left = pos(band.p90);
  setText(p10, fmt(band.p10, digits));
  setText(p90, fmt(band.p90, digits));
  sofar.hidden = typicalSoFar === null || typicalSoFar === undefined;
  if (!sofar.hidden) sofar.style.left = pos(typicalSoFar);
  dot.hidden = today === null || today === undefined;
  if (!dot.hidden) dot.style.left = pos(today);
}

// ---------------------------------------------------------------- search time against occupancy

function drawCurve(status) {
  const card = $("curve-card");
  const typical = status && status.typical_day;
  const points = typical ? typical.curve.filter((p) => p.searches >= 20) : [];
  card.dataset.state = points.length ? "ok" : "nodata";
  if (!points.length) return Promise.resolve();
  const now = status.kpis ? status.kpis.now.search_area_occupancy : null;
  const nowPct = now ? Math.round(100 * now.without_sensors) : null;
  const key = `${K.lang}|${typical.computed_at}|${nowPct}`;
  if (key === STORY.curveKey) return Promise.resolve();
  STORY.curveKey = key;
  const x = points.map((p) => 100 * p.occupancy);
  const trace = (name, field, colour, dash, symbol) => ({
    type: "scatter", mode: "lines+markers", name, x, y: points.map((p) => p[field]), connectgaps: true,
    line: { color: colour, width: 5, dash, shape: "spline" }, marker: { size: 11, color: colour, symbol, line: { color: "#1d1d1b", width: 1.5 } },
    hoverinfo: "skip",
  });
  // "With" first: the dashed "without" line on top lets both show where they run together.
  const data = [
    trace(t("with_sensors"), "with_sensors_min", COLORS.free, "solid", "diamond"),
    trace(t("without_sensors"), "without_sensors_min", COLORS.occupied, "dash", "circle"),
  ];
  const layout = {
    margin: { l: 58, r: 14, t: 30, b: 48 }, font: { family: FONT, size: 17, color: "#1d1d1b" },
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", hovermode: false,
    showlegend: true, legend: { orientation: "h", x: 0, y: 1.02, xanchor: "left", yanchor: "bottom", font: { size: 16 },
                                traceorder: "reversed" },
    xaxis: { range: [Math.max(0, Math.min(...x) - 3), 100], ticksuffix: " %", fixedrange: true, showgrid: false, linecolor: "#999",
             title: { text: t("curve_x"), font: { size: 16 }, standoff: 6 } },
    yaxis: { rangemode: "tozero", fixedrange: true, gridcolor: "#d8d8d8", title: { text: t("curve_y"), font: { size: 16 }, standoff: 4 } },
    shapes: nowPct === null ? [] : [{ type: "line", x0: nowPct, x1: nowPct, yref: "paper", y0: 0, y1: 1,
                                      line: { color: COLORS.blue, width: 4 } }],
    annotations: nowPct === null ? [] : [{ x: nowPct, yref: "paper", y: 1, yanchor: "top", xanchor: nowPct > 65 ? "right" : "left",
                                           showarrow: false, text: `<b>${t("now")} ${nowPct} %</b>`, font: { size: 18, color: COLORS.blue },
                                           bgcolor: "rgba(251,251,248,0.9)" }],
    datarevision: ++K.revision,
  };
  return Plotly.react("curve", data, layout, { displayModeBar: false, staticPlot: true, responsive: true });
}

// ---------------------------------------------------------------- the visitor's own car

function handsOn(bay) {
  const box = $("hands-on");
  setText($("hands-on-text"), t("your_car", { bay }));
  box.dataset.bay = bay;
  box.hidden = false;
  const views = K.twins ? Object.values(K.twins) : [];
  const viewBays = (K.status && K.status.view_bays) || {};
  const townBay = viewBays[bay] || bay;
  const until = performance.now() + HANDS_ON_MS;
  for (const view of views) view.highlight(townBay, until);
  clearTimeout(K.handsOnTimer);
  K.handsOnTimer = setTimeout(() => { box.hidden = true; }, HANDS_ON_MS);
}

// ---------------------------------------------------------------- a real-sensor site: what is measured

function searchMinutesAt(curve, occupancy) {
  // Linear between the curve's bins; below the first bin there is no search in the model either.
  const pts = curve.points;
  if (!pts.length || occupancy === null) return null;
  if (occupancy <= pts[0].occupancy) return pts[0].mean_search_min;
  for (let i = 1; i < pts.length; i++) {
    const a = pts[i - 1];
    const b = pts[i];
    if (occupancy <= b.occupancy) {
      return a.mean_search_min + ((occupancy - a.occupancy) / (b.occupancy - a.occupancy)) * (b.mean_search_min - a.mean_search_min);
    }
  }
  return pts[pts.length - 1].mean_search_min;
}

function minutesAbove85Today() {
  // From the 15-minute history: the intervals since local midnight at or above 85 %.
  if (!K.occHistory) return null;
  const midnight = new Date();
  midnight.setHours(0, 0, 0, 0);
  let n = 0;
  K.occHistory.x.forEach((x, i) => { if (x >= midnight && K.occHistory.y[i] !== null && K.occHistory.y[i] >= 85) n += 1; });
  return 15 * n;
}

function drawMeasured() {
  const card = $("measured-card");
  const { total, zones } = countStatuses();
  const occ = occupiedShare(total);
  card.dataset.state = "ok";
  setText($("m-occ"), occ === null ? "–" : `${fmt(occ)} %`);
  const open = total.free + total.occupied + total.unknown;
  setText($("m-occ-label"), occ === null && open > 0 ? t("too_few_reports", { n: fmt(total.free + total.occupied), of: fmt(open) }) : t("occupied_now"));
  const above = minutesAbove85Today();
  setText($("m-above"), above === null ? "–" : above >= 60 ? `${fmt(Math.floor(above / 60))} ${t("h")} ${fmt(above % 60)} ${t("min")}` : `${fmt(above)} ${t("min")}`);
  const box = $("m-zones");
  if (box.childElementCount !== zones.size) {
    box.replaceChildren();
    for (const zone of zones.keys()) {
      const row = document.createElement("div");
      row.className = "m-zone";
      row.dataset.zone = zone;
      row.innerHTML = '<span class="mz-name"></span><span class="mz-bar"><i></i><b class="mark85"></b></span><span class="mz-val"></span>';
      box.appendChild(row);
    }
  }
  for (const [zone, c] of zones) {
    const row = box.querySelector(`.m-zone[data-zone="${CSS.escape(zone)}"]`);
    const share = occupiedShare(c);
    setText(row.querySelector(".mz-name"), zoneLabel(zone));
    setText(row.querySelector(".mz-val"), share === null ? "–" : `${fmt(share)} %`);
    row.querySelector("i").style.width = `${share || 0}%`;
    row.classList.toggle("high", share !== null && share >= 85);
  }
  const curve = K.curve;
  const minutes = curve && occ !== null ? searchMinutesAt(curve, occ / 100) : null;
  setText($("m-search"), minutes === null ? "–" : `≈ ${fmt(minutes, 1)} ${t("min")}`);
  setText($("m-source"), curve ? curve.source : "–");
}
