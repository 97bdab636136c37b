#!/usr/bin/env bash
# Checks the exchanges the end-to-end suite logged (HARNESS_EXCHANGE_LOG, see tests/e2e/harness.h) against
# openapi/openapi.json with tools/validate-responses.mjs (Ajv, JSON Schema 2020-12). Installs the pinned
# npm tooling in tools/ first if needed (scripts/lib/tools.sh).
#
# Usage: tools/validate-responses.sh [--spec FILE] [--examples N] LOG.jsonl...
#   e.g. HARNESS_EXCHANGE_LOG=/tmp/x.jsonl scripts/test.sh; tools/validate-responses.sh /tmp/x.jsonl
# Exit status: 0 when every exchange conforms, 1 when any does not, 2 on a usage or input error.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib/tools.sh
. "$root/scripts/lib/tools.sh"

if (($# == 0)); then
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
tools_install || exit 2
exec node "$TOOLS_DIR/validate-responses.mjs" "$@"
