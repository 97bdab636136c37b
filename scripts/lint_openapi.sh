#!/usr/bin/env bash
# Lints openapi/openapi.yaml with Redocly CLI (rules in openapi/redocly.yaml).
#
# Redocly is a dev tool pinned in tools/package.json and tools/package-lock.json;
# it is installed with `npm ci` into tools/node_modules (git-ignored) the first
# time, and again whenever the lock file changes, so every machine and CI run
# lints with exactly the same version. Needs node >= 18.17 and npm, and the npm
# registry on first use.
#
# Usage: scripts/lint_openapi.sh [extra redocly lint arguments]
# Exit status: 0 when the document has no problems, non-zero otherwise.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools="$root/tools"
spec="$root/openapi/openapi.yaml"
config="$root/openapi/redocly.yaml"
redocly="$tools/node_modules/.bin/redocly"
stamp="$tools/node_modules/.forumnet-lock.sha256"

die() {
  printf 'lint_openapi: %s\n' "$*" >&2
  exit 1
}

command -v node >/dev/null 2>&1 || die "node is not installed (Debian: apt-get install nodejs npm)"
command -v npm >/dev/null 2>&1 || die "npm is not installed (Debian: apt-get install npm)"

# Redocly CLI 1.34 needs node 18.17 or later (Debian 12 ships 18.20).
node -e '
  const [maj, min] = process.versions.node.split(".").map(Number);
  process.exit(maj > 18 || (maj === 18 && min >= 17) ? 0 : 1);
' || die "node $(node --version) is too old; Redocly CLI needs node >= 18.17"

[ -f "$spec" ] || die "missing $spec"
[ -f "$tools/package-lock.json" ] || die "missing $tools/package-lock.json"

lock_sum=$(sha256sum "$tools/package-lock.json" | cut -d' ' -f1)
if [ ! -x "$redocly" ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sum" ]; then
  echo "lint_openapi: installing pinned npm tooling into tools/node_modules (npm ci)" >&2
  # --ignore-scripts: nothing in this tree needs an install script to work
  # (the only one, core-js's postinstall, prints a banner), and not running
  # third-party code at install time is the safer default.
  npm ci --prefix "$tools" --ignore-scripts --no-audit --no-fund --loglevel=error >&2 ||
    die "npm ci failed in tools/"
  printf '%s\n' "$lock_sum" >"$stamp"
fi

# Keep the run quiet and offline apart from the install above: no telemetry,
# no update check.
export REDOCLY_TELEMETRY=off
export REDOCLY_SUPPRESS_UPDATE_NOTICE=true
export NO_UPDATE_NOTIFIER=1

echo "lint_openapi: redocly $("$redocly" --version) lint ${spec#"$root"/}" >&2
exec "$redocly" lint --config "$config" "$@" "$spec"
