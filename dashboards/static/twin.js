// Parklotse twin view: one town drawn twice on 2D canvases ("without" and "with sensors"), streets and
// bays on a cached base layer, the cars on the road on top, moved smoothly between position messages.
// No DOM work per frame: one drawImage and one path per car style. Colours are Okabe-Ito, and every
// car state has its own shape too, so the view reads without colour vision.
"use strict";

const TWIN_STYLE = {
  background: "#eef0ea", street: "#c9ccc4", streetEdge: "#b7bbb1",
  free: "#009E73", occupied: "#6d6f6b", sign: "#14304f", highlight: "#CC79A7",
  // state -> [colour, shape, size in px at scale 1, alpha]
  cars: {
    searching: ["#D55E00", "circle", 17, 1],
    guided: ["#009E73", "diamond", 17, 1],
    to_garage: ["#E69F00", "square", 15, 1],
    approaching: ["#0072B2", "arrow", 15, 1],
    leaving: ["#8C8C8C", "dot", 9, 0.75],
  },
};
// Drawing order: the states that tell the story last, on top.
const CAR_ORDER = ["leaving", "approaching", "to_garage", "guided", "searching"];

class TwinView {
  /** geometry: GET /api/v1/sites/{site}/figures/twin; twin: "without_sensors" | "with_sensors". */
  constructor(canvas, geometry, twin) {
    this.canvas = canvas;
    this.geo = geometry;
    this.twin = twin;
    this.ctx = canvas.getContext("2d", { alpha: false });
    this.base = document.createElement("canvas");
    this.baseDirty = true;
    this.bayIndex = new Map(geometry.bays.map((id, i) => [id, i]));
    this.occupied = "";          // one character per bay of the geometry, as in VehiclePositions
    this.orderKey = "";          // the message's bay list, when it differs from the geometry's order
    this.orderMap = null;        // message index -> geometry index
    this.cars = new Map();       // driver id -> {x0, y0, x1, y1, t0, t1, heading, state, seen}
    this.generation = 0;
    this.signs = [];
    this.highlights = new Map(); // geometry bay index -> until (ms)
    this.searching = null;
    this.resize();
  }

  resize() {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(this.canvas.clientWidth * dpr));
    const h = Math.max(1, Math.round(this.canvas.clientHeight * dpr));
    if (w === this.canvas.width && h === this.canvas.height && this.scale) return;
    this.canvas.width = w;
    this.canvas.height = h;
    this.base.width = w;
    this.base.height = h;
    this.dpr = dpr;
    const [lon0, lat0, lon1, lat1] = this.geo.bbox;
    const [mx, my] = this.geo.m_per_deg;
    const pad = 18 * dpr;
    const wm = Math.max(1, (lon1 - lon0) * mx);
    const hm = Math.max(1, (lat1 - lat0) * my);
    this.scale = Math.min((w - 2 * pad) / wm, (h - 2 * pad) / hm); // px per metre, metres square
    this.ox = (w - wm * this.scale) / 2;
    this.oy = (h - hm * this.scale) / 2;
    this.lon0 = lon0;
    this.lat1 = lat1;
    this.kx = mx * this.scale;
    this.ky = my * this.scale;
    this.bx = this.geo.lon.map((lon) => this.x(lon));
    this.by = this.geo.lat.map((lat) => this.y(lat));
    // A car or bay is drawn a little larger on a small town, never larger than its room.
    this.unit = dpr * Math.min(1.25, Math.max(0.7, this.scale / 1.1));
    // About a car length, less where bays are closer than that; never smaller than 3 px.
    this.baySize = Math.max(3 * dpr, Math.min(26 * dpr, Math.min(4.5, 0.7 * (this.geo.bay_spacing_m || 6)) * this.scale));
    this.baseDirty = true;
  }

  x(lon) { return this.ox + (lon - this.lon0) * this.kx; }
  y(lat) { return this.oy + (this.lat1 - lat) * this.ky; }

  /** Bay occupancy ("1"/"0" per bay) in the order of `bays` (the message's bay list). */
  setBays(bays, occupied) {
    let string = occupied;
    if (bays.length !== this.geo.bays.length || bays[0] !== this.geo.bays[0] || bays[bays.length - 1] !== this.geo.bays[this.geo.bays.length - 1]) {
      const key = `${bays.length}:${bays[0]}:${bays[bays.length - 1]}`;
      if (key !== this.orderKey) {
        this.orderKey = key;
        this.orderMap = bays.map((id) => this.bayIndex.get(id) ?? -1);
      }
      const chars = new Array(this.geo.bays.length).fill("0");
      this.orderMap.forEach((g, i) => { if (g >= 0) chars[g] = occupied[i]; });
      string = chars.join("");
    }
    if (string !== this.occupied) { this.occupied = string; this.baseDirty = true; }
  }

  setSigns(signs) { this.signs = signs || []; this.baseDirty = true; }

  /** The sign the side panel shows now, ringed on the map. */
  setActiveSign(id) { if (id !== this.activeSign) { this.activeSign = id; this.baseDirty = true; } }

  /** Start moving every car from where it is drawn now to its new position over `intervalS`. */
  setCars(vehicles, intervalS, now) {
    const gen = ++this.generation;
    const t1 = now + Math.max(0.1, Math.min(5, intervalS)) * 1000;
    let searching = 0;
    for (const v of vehicles) {
      const id = v[0];
      const x = this.x(v[1]);
      const y = this.y(v[2]);
      const state = v[4];
      if (state === "searching") searching += 1;
      let car = this.cars.get(id);
      if (car === undefined) {
        car = { x0: x, y0: y, x1: x, y1: y, t0: now, t1, heading: v[3], state, seen: gen, born: now };
        this.cars.set(id, car);
        continue;
      }
      const f = car.t1 > car.t0 ? Math.min(1, Math.max(0, (now - car.t0) / (car.t1 - car.t0))) : 1;
      car.x0 = car.x0 + (car.x1 - car.x0) * f;
      car.y0 = car.y0 + (car.y1 - car.y0) * f;
      car.x1 = x;
      car.y1 = y;
      car.t0 = now;
      car.t1 = t1;
      car.heading = v[3];
      car.state = state;
      car.seen = gen;
    }
    for (const [id, car] of this.cars) if (car.seen !== gen) this.cars.delete(id);
    this.searching = searching;
  }

  /** Ring a bay (geometry bay id) until `until` (ms, performance.now clock). */
  highlight(bayId, until) {
    const i = this.bayIndex.get(bayId);
    if (i !== undefined) this.highlights.set(i, until);
  }

  drawBase() {
    const g = this.base.getContext("2d", { alpha: false });
    const s = this.scale;
    g.fillStyle = TWIN_STYLE.background;
    g.fillRect(0, 0, this.base.width, this.base.height);
    g.lineCap = "round";
    g.lineJoin = "round";
    for (const [colour, metres] of [[TWIN_STYLE.streetEdge, 11], [TWIN_STYLE.street, 9]]) {
      g.strokeStyle = colour;
      g.lineWidth = Math.max(3 * this.dpr, metres * s);
      g.beginPath();
      for (const line of this.geo.streets) {
        line.forEach(([lon, lat], i) => (i ? g.lineTo(this.x(lon), this.y(lat)) : g.moveTo(this.x(lon), this.y(lat))));
      }
      g.stroke();
    }
    const b = this.baySize;
    const half = b / 2;
    const occ = this.occupied;
    for (const [colour, want] of [[TWIN_STYLE.occupied, "1"], [TWIN_STYLE.free, "0"]]) {
      g.fillStyle = colour;
      g.beginPath();
      for (let i = 0; i < this.bx.length; i++) {
        if ((occ[i] || "0") === want) g.rect(this.bx[i] - half, this.by[i] - half, b, b);
      }
      g.fill();
    }
    // The signs of the Parkleitsystem, where drivers pass them (only the town with sensors has them).
    if (this.twin === "with_sensors") {
      const size = 22 * this.unit;
      g.font = `bold ${Math.round(size * 0.8)}px DejaVu Sans, Liberation Sans, Arial, sans-serif`;
      g.textAlign = "center";
      g.textBaseline = "middle";
      for (const sign of this.signs) {
        const x = this.x(sign.lon);
        const y = this.y(sign.lat);
        g.fillStyle = TWIN_STYLE.sign;
        g.fillRect(x - size / 2, y - size / 2, size, size);
        g.strokeStyle = "#fff";
        g.lineWidth = 2 * this.dpr;
        g.strokeRect(x - size / 2, y - size / 2, size, size);
        g.fillStyle = "#fff";
        g.fillText("P", x, y + this.dpr);
        if (sign.id === this.activeSign) {
          g.strokeStyle = TWIN_STYLE.sign;
          g.lineWidth = 4 * this.dpr;
          g.beginPath();
          g.arc(x, y, size * 1.1, 0, 2 * Math.PI);
          g.stroke();
        }
      }
    }
    this.baseDirty = false;
  }

  /** Draw one frame at time `now` (performance.now clock). */
  frame(now) {
    if (this.baseDirty) this.drawBase();
    const g = this.ctx;
    g.drawImage(this.base, 0, 0);
    const u = this.unit;
    for (const state of CAR_ORDER) {
      const [colour, shape, size, alpha] = TWIN_STYLE.cars[state];
      const r = (size * u) / 2;
      g.globalAlpha = alpha;
      g.fillStyle = colour;
      g.strokeStyle = "#1d1d1b";
      g.lineWidth = 2 * this.dpr;
      g.beginPath();
      let any = false;
      for (const car of this.cars.values()) {
        if (car.state !== state) continue;
        any = true;
        const f = car.t1 > car.t0 ? Math.min(1, Math.max(0, (now - car.t0) / (car.t1 - car.t0))) : 1;
        const x = car.x0 + (car.x1 - car.x0) * f;
        const y = car.y0 + (car.y1 - car.y0) * f;
        if (shape === "circle" || shape === "dot") {
          g.moveTo(x + r, y);
          g.arc(x, y, r, 0, 2 * Math.PI);
        } else if (shape === "diamond") {
          g.moveTo(x, y - r * 1.15); g.lineTo(x + r, y); g.lineTo(x, y + r * 1.15); g.lineTo(x - r, y); g.closePath();
        } else if (shape === "square") {
          g.rect(x - r * 0.85, y - r * 0.85, r * 1.7, r * 1.7);
        } else {
          // An arrow pointing where the car drives (heading: degrees clockwise from north).
          const a = (car.heading * Math.PI) / 180;
          const sx = Math.sin(a);
          const cy = -Math.cos(a);
          g.moveTo(x + sx * r * 1.2, y + cy * r * 1.2);
          g.lineTo(x - sx * r * 0.8 + cy * r * 0.8, y - cy * r * 0.8 - sx * r * 0.8);
          g.lineTo(x - sx * r * 0.3, y - cy * r * 0.3);
          g.lineTo(x - sx * r * 0.8 - cy * r * 0.8, y - cy * r * 0.8 + sx * r * 0.8);
          g.closePath();
        }
      }
      if (!any) continue;
      g.fill();
      g.stroke();
      if (state === "searching") {
        // A white hub: a searching car reads as a ring even in grey.
        g.fillStyle = "#fff";
        g.beginPath();
        for (const car of this.cars.values()) {
          if (car.state !== state) continue;
          const f = car.t1 > car.t0 ? Math.min(1, Math.max(0, (now - car.t0) / (car.t1 - car.t0))) : 1;
          const x = car.x0 + (car.x1 - car.x0) * f;
          const y = car.y0 + (car.y1 - car.y0) * f;
          g.moveTo(x + r * 0.35, y);
          g.arc(x, y, r * 0.35, 0, 2 * Math.PI);
        }
        g.fill();
      }
    }
    g.globalAlpha = 1;
    if (this.highlights.size) {
      // The visitor's bay: a pulsing reddish-purple ring.
      const pulse = 1 + 0.25 * Math.sin(now / 160);
      g.strokeStyle = TWIN_STYLE.highlight;
      g.lineWidth = 5 * this.dpr;
      for (const [i, until] of this.highlights) {
        if (until < now) { this.highlights.delete(i); continue; }
        g.beginPath();
        g.arc(this.bx[i], this.by[i], (this.baySize + 16 * this.dpr) * pulse, 0, 2 * Math.PI);
        g.stroke();
      }
    }
  }
}

window.TwinView = TwinView;
window.TWIN_STYLE = TWIN_STYLE;
