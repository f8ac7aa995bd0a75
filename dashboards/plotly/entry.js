// The plotly.js that Parklotse's pages load: the core (which brings the scatter trace) and the two
// other trace types they draw. Kiosk: scatter, heatmap; sensors page: bar and scatter; story.js:
// scatter. A page asking for another type gets Plotly's "unrecognised trace type" warning and an
// empty plot, so add the type here (and rebuild) before drawing it.
"use strict";

const Plotly = require("plotly.js/lib/core");

Plotly.register([require("plotly.js/lib/bar"), require("plotly.js/lib/heatmap")]);

module.exports = Plotly;
