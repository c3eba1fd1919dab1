#!/usr/bin/env bash
# Tags vX.Y.Z on HEAD, moves the major tag vX to it, pushes both and creates the GitHub release with
# the CHANGELOG.md section of that version. Usage: scripts/release.sh X.Y.Z [--dry-run]
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
bash scripts/check-dist.sh
run() { if [ "$dry" = "--dry-run" ]; then echo "+ $*"; else "$@"; fi; }
run git tag -a "$tag" -m "$tag"
run git tag -f -a "$major" -m "$major (currently $tag)"
run git push origin "$tag"
run git push -f origin "$major"
run gh release create "$tag" --title "$tag" --notes "$notes" --verify-tag
echo "release: $tag published; $major points to it."
