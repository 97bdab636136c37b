#!/usr/bin/env bash
# Lints openapi/openapi.yaml with Redocly CLI (rules in openapi/redocly.yaml) and with Spectral and the
# OWASP API Security ruleset (rules in openapi/.spectral.yaml; any error fails), then bundles it to
# openapi/openapi.json: the same document as JSON (key order kept, 2-space indent), which the server
# embeds at build time and serves at GET /openapi.json, and which tools/validate-responses.mjs and the
# generated client read. openapi.yaml is the source; openapi.json is committed and never edited by hand.
#
# Redocly and Spectral are dev tools pinned in tools/package.json and tools/package-lock.json, installed
# with `npm ci` into tools/node_modules (scripts/lib/tools.sh) the first time and whenever the lock file
# changes. Needs node >= 18.18 and npm, and the npm registry on first use.
#
# Usage: scripts/lint_openapi.sh [--check] [extra redocly lint arguments]
#   (default)  lint, then write openapi/openapi.json from openapi.yaml (only touched when it changes)
#   --check    lint, then fail if the committed openapi/openapi.json differs from a fresh bundle
#              (scripts/test.sh uses this; nothing is written)
# Exit status: 0 when the document has no problems (and, with --check, openapi.json is current).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
spec="$root/openapi/openapi.yaml"
json="$root/openapi/openapi.json"
config="$root/openapi/redocly.yaml"
spectral_rules="$root/openapi/.spectral.yaml"
# shellcheck source=scripts/lib/tools.sh
. "$root/scripts/lib/tools.sh"
redocly="$TOOLS_BIN/redocly"
spectral="$TOOLS_BIN/spectral"

die() {
  printf 'lint_openapi: %s\n' "$*" >&2
  exit 1
}

check=0
if [[ "${1:-}" == --check ]]; then
  check=1
  shift
fi

[ -f "$spec" ] || die "missing $spec"
tools_install || die "cannot install the npm tooling in tools/"

echo "lint_openapi: redocly $("$redocly" --version) lint ${spec#"$root"/}" >&2
"$redocly" lint --config "$config" "$@" "$spec" || exit

# Spectral: any error fails, and is printed with its place; warnings (each rule left at warning has its
# reason in the ruleset) are counted per rule. SPECTRAL_VERBOSE=1 prints every warning too.
echo "lint_openapi: spectral $("$spectral" --version) lint ${spec#"$root"/} (${spectral_rules#"$root"/})" >&2
spectral_out=$("$spectral" lint --ruleset "$spectral_rules" --fail-severity error --format text --quiet \
  "$spec" 2>&1) || {
  printf '%s\n' "$spectral_out" >&2
  die "spectral found errors in ${spec#"$root"/} (rules: ${spectral_rules#"$root"/})"
}
[[ "${SPECTRAL_VERBOSE:-0}" == 1 && -n "$spectral_out" ]] && printf '%s\n' "$spectral_out" >&2
echo "lint_openapi: spectral: 0 errors, $(grep -c ' warning ' <<<"$spectral_out" || true) warnings" >&2
grep ' warning ' <<<"$spectral_out" | awk '{print $3}' | sort | uniq -c | sed 's/^ */lint_openapi:   /' >&2 || true

# Bundle into a private directory: redocly picks the output's extension itself, so the file is named
# openapi.json there.
tmpdir=$(mktemp -d)
trap 'rm -rf "$tmpdir"' EXIT
tmp="$tmpdir/openapi.json"
"$redocly" bundle --config "$config" "$spec" --ext json -o "$tmp" >"$tmpdir/log" 2>&1 || {
  cat "$tmpdir/log" >&2
  die "redocly bundle failed"
}
[[ -s "$tmp" ]] || die "redocly bundle wrote nothing to $tmp"
# Redocly writes no final newline; add one so that the file is a well-formed text file.
[[ -z "$(tail -c1 "$tmp")" ]] || printf '\n' >>"$tmp"

if [[ $check == 1 ]]; then
  if [[ ! -f "$json" ]]; then
    die "openapi/openapi.json is missing: run scripts/lint_openapi.sh to refresh openapi/openapi.json"
  fi
  if ! cmp -s "$tmp" "$json"; then
    diff -u --label "openapi/openapi.json (committed)" --label "openapi/openapi.json (from openapi.yaml)" \
      "$json" "$tmp" | head -n 40 | cut -c1-240 >&2 || true
    die "openapi/openapi.json is out of date with openapi/openapi.yaml: run scripts/lint_openapi.sh to refresh openapi/openapi.json"
  fi
  echo "lint_openapi: openapi/openapi.json matches openapi/openapi.yaml" >&2
elif cmp -s "$tmp" "$json"; then
  echo "lint_openapi: openapi/openapi.json is up to date" >&2
else
  # Through a temporary name beside the target, so a reader never sees half a file.
  cp "$tmp" "$json.new.$$"
  chmod 644 "$json.new.$$"
  mv -f "$json.new.$$" "$json"
  echo "lint_openapi: wrote openapi/openapi.json (rebuild to serve it at GET /openapi.json)" >&2
fi
