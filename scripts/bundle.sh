#!/usr/bin/env bash
# Bundles the action (dist/index.js) and the rescue tool (dist/rescue/index.js) with ncc.
# Usage: scripts/bundle.sh [OUTDIR]   (default: dist)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-dist}"
rm -rf "$out"
npx ncc build src/index.ts -o "$out" --minify --quiet
node scripts/licenses.mjs "$out/licenses.txt"
npx ncc build src/rescue/cli.ts -o "$out/rescue" --minify --quiet
chmod +x "$out/rescue/index.js"
