# shellcheck shell=bash
# The pinned Node.js dev tooling in tools/ (tools/package.json + tools/package-lock.json): Redocly CLI for
# the OpenAPI lint and bundle, Redoc's standalone bundle for GET /docs, Ajv for tools/validate-responses.mjs.
# Source it; needs node ^18.19 or >= 20.17 and npm, and the npm registry the first time and whenever the lock changes.
#
#   tools_install      `npm ci` into tools/node_modules (git-ignored) unless it already matches the lock file;
#                      returns non-zero, with a message on stderr, when node/npm are missing or npm ci fails
#   TOOLS_DIR          absolute path of tools/
#   TOOLS_BIN          absolute path of tools/node_modules/.bin
#
# Every caller (scripts/lint_openapi.sh, scripts/run.sh, tools/validate-responses.sh) installs exactly the
# versions in the lock file, so every machine and CI run uses the same ones.

TOOLS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../tools" && pwd)
# shellcheck disable=SC2034 # used by whoever sources this file
TOOLS_BIN="$TOOLS_DIR/node_modules/.bin"

# Quiet and offline apart from the install: no telemetry, no update checks.
export REDOCLY_TELEMETRY=off
export REDOCLY_SUPPRESS_UPDATE_NOTICE=true
export NO_UPDATE_NOTIFIER=1

tools_err() { printf 'tools: %s\n' "$*" >&2; }

# Succeeds when node (^18.19 or >= 20.17: what Redocly CLI 1.34 and Spectral 6.16 both accept; Debian 12
# ships 18.20) and npm are on PATH.
tools_check_node() {
  if ! command -v node >/dev/null 2>&1; then
    tools_err "node is not installed (Debian: apt-get install nodejs npm)"
    return 1
  fi
  if ! command -v npm >/dev/null 2>&1; then
    tools_err "npm is not installed (Debian: apt-get install npm)"
    return 1
  fi
  if ! node -e '
    const [maj, min] = process.versions.node.split(".").map(Number);
    process.exit(maj > 20 || (maj === 20 && min >= 17) || (maj === 18 && min >= 19) ? 0 : 1);
  '; then
    tools_err "node $(node --version) is too old; the tools in tools/ need node ^18.19 or >= 20.17"
    return 1
  fi
}

tools_install() {
  tools_check_node || return 1
  local lock="$TOOLS_DIR/package-lock.json" stamp="$TOOLS_DIR/node_modules/.forumnet-lock.sha256" sum
  if [[ ! -f "$lock" ]]; then
    tools_err "missing $lock"
    return 1
  fi
  sum=$(sha256sum "$lock" | cut -d' ' -f1)
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$sum" ]]; then
    return 0
  fi
  tools_err "installing the pinned npm tooling into tools/node_modules (npm ci)"
  # --ignore-scripts: nothing in this tree needs an install script to work (the only one, core-js's
  # postinstall, prints a banner), and not running third-party code at install time is the safer default.
  if ! npm ci --prefix "$TOOLS_DIR" --ignore-scripts --no-audit --no-fund --loglevel=error </dev/null >&2; then
    tools_err "npm ci failed in tools/"
    return 1
  fi
  printf '%s\n' "$sum" >"$stamp"
}
