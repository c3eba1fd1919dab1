#!/usr/bin/env bash
# Tags vX.Y.Z on HEAD, moves the major tag vX to it, pushes both and creates the GitHub release with
# the CHANGELOG.md section of that version. Usage: scripts/release.sh X.Y.Z [--dry-run]
#
# Releases only from main, at the commit origin/main points to. `git tag -a` needs an identity,
# which a fresh runner does not have: when none is configured, the tags are made by
# github-actions[bot]. A tag ruleset that restricts updates of `v*` blocks moving the major tag:
# target only `v*.*.*` (see the README, "Releasing").
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:-}"
dry="${2:-}"
if ! [[ "$version" =~ ^([0-9]+)\.[0-9]+\.[0-9]+$ ]]; then
  echo "release: give a version as X.Y.Z (got '$version')" >&2
  exit 2
fi
major="v${BASH_REMATCH[1]}"
tag="v$version"

branch="$(git symbolic-ref --short -q HEAD || true)"
if [ "$branch" != "main" ]; then
  echo "release: releases are made from main only (HEAD is ${branch:-detached})" >&2
  exit 1
fi
if upstream="$(git rev-parse -q --verify refs/remotes/origin/main)" && [ "$upstream" != "$(git rev-parse HEAD)" ]; then
  echo "release: HEAD is not origin/main; push or pull first, then release what is on main" >&2
  exit 1
fi

pkg_version="$(node -p "require('./package.json').version")"
if [ "$pkg_version" != "$version" ]; then
  echo "release: package.json says $pkg_version; set it to $version first" >&2
  exit 1
fi
notes="$(awk -v v="$version" '$0 ~ "^## \\[?"v"\\]?" {on=1; next} on && /^## / {exit} on {print}' CHANGELOG.md)"
if [ -z "${notes//[[:space:]]/}" ]; then
  echo "release: CHANGELOG.md has no section for $version" >&2
  exit 1
fi
if git rev-parse -q --verify "refs/tags/$tag" >/dev/null; then
  echo "release: $tag exists already" >&2
  exit 1
fi

# An annotated tag records a tagger: without user.name / user.email (a fresh runner has neither)
# git refuses ("empty ident name ... not allowed"). Use the Actions bot where none is configured.
if [ -z "${GIT_COMMITTER_NAME:-}" ] && [ -z "$(git config user.name || true)" ]; then
  export GIT_COMMITTER_NAME='github-actions[bot]'
fi
if [ -z "${GIT_COMMITTER_EMAIL:-}" ] && [ -z "$(git config user.email || true)" ]; then
  export GIT_COMMITTER_EMAIL='41898282+github-actions[bot]@users.noreply.github.com'
fi

bash scripts/check-dist.sh
run() { if [ "$dry" = "--dry-run" ]; then echo "+ $*"; else "$@"; fi; }
run git tag -a "$tag" -m "$tag"
run git tag -f -a "$major" -m "$major (currently $tag)"
run git push origin "refs/tags/$tag"
run git push -f origin "refs/tags/$major"
run gh release create "$tag" --title "$tag" --notes "$notes" --verify-tag
echo "release: $tag published; $major points to it."
