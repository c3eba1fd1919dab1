#!/usr/bin/env bash
# Fails when the committed dist/ differs from a fresh bundle of src/ (run `npm run bundle` and commit).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
bash scripts/bundle.sh "$tmp/dist"
if ! diff -r -q dist "$tmp/dist"; then
  echo "check-dist: dist/ is not the bundle of src/: run 'npm run bundle' and commit dist/." >&2
  exit 1
fi
echo "check-dist: dist/ matches src/."
