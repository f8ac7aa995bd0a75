#!/bin/sh
# Rebuilds plotly-kiosk.min.js, the plotly.js that Parklotse's pages load, from the npm packages pinned
# in package-lock.json (plotly.js 4.1.1, esbuild), in a temporary folder so that no node_modules lands
# in the tree. Needs node >= 18, npm and the npm registry; the API, the wheel and the image only use
# the committed result.
#   ./build.sh           build; keep the bundle, plotly.js's licence and the bundle's sha256 here
#   ./build.sh --check   build and compare with the kept bundle and its recorded sha256 (exit 1 if not equal)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$here/package-lock.json" "$here/entry.js" "$here/build.mjs" "$work/"
cd "$work"
# --ignore-scripts: nothing from the registry runs at install (esbuild finds its binary without it).
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
node build.mjs plotly-kiosk.min.js
if [ "${1:-}" = "--check" ]; then
  (cd "$here" && sha256sum --check --quiet plotly-kiosk.min.js.sha256)
  cmp plotly-kiosk.min.js "$here/plotly-kiosk.min.js"
  echo "build.sh: the kept bundle is what the pinned sources build"
  exit 0
fi
cp plotly-kiosk.min.js "$here/plotly-kiosk.min.js"
cp node_modules/plotly.js/LICENSE "$here/plotly-kiosk.min.js.LICENSE"
(cd "$here" && sha256sum plotly-kiosk.min.js > plotly-kiosk.min.js.sha256)
cat "$here/plotly-kiosk.min.js.sha256"
