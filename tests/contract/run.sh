#!/usr/bin/env bash
# The contract tests: a TypeScript client generated from openapi/openapi.yaml walks the whole product
# against a real `forumnet serve`, then headless Chromium checks that /docs renders.
#
#   1. npm ci in tests/contract (skipped while node_modules matches package-lock.json)
#   2. npm run generate  -> src/api.d.ts from openapi/openapi.yaml (openapi-typescript; git-ignored)
#   3. tsc --noEmit (strict) over src/, then tsc to dist/
#   4. build/forumnet serve on a free 127.0.0.1 port, with a random JWT secret and Redoc's bundle
#   5. `forumnet admin create` makes a fresh admin (password on stdin)
#   6. dist/scenario.js, then dist/docs.js and dist/stream.js (Debian's /usr/bin/chromium through
#      playwright-core: /docs renders; an EventSource receives another member's notification on the
#      live stream and a reopened one replays exactly the missed ones)
#   7. SIGTERM the server; it must exit 0
#
# Needs FORUMNET_TEST_DATABASE_URL (scripts/test.sh exports it: a migrated, throwaway database), a built
# build/forumnet, node >= 18 (Debian 12 ships 18.19) and npm, and Debian's `chromium`. Optional:
#   FORUMNET_BIN        the server binary (default: build/forumnet)
#   FORUMNET_DOCS_JS    Redoc's redoc.standalone.js (default: tools/node_modules/redoc/bundles/..., which
#                       scripts/lib/tools.sh installs when missing)
#   CONTRACT_CHROMIUM   the browser (default: /usr/bin/chromium)
#   CONTRACT_SCREENSHOT where the docs screenshot goes (default: /tmp/forumnet-docs.png)
#   CONTRACT_SKIP_DOCS=1  skip the browser test (counted as skipped, not passed)
#   CONTRACT_BASE_URL   walk a server that is already running there (e.g. a load balancer in front of several
#                       instances, scripts/scaleout.sh) instead of starting one: steps 4, 5 and 7 are skipped,
#                       so CONTRACT_ADMIN_EMAIL and CONTRACT_ADMIN_PASSWORD must name an existing admin, and
#                       FORUMNET_TEST_DATABASE_URL and the binary are not needed. The checks are the same.
#   CONTRACT_REUSE_DIST=1 skip steps 1-3 when an earlier run of this script in the same tree built dist/
#                       (a second walk in one session, e.g. through another proxy)
# Prints TAP-like "ok"/"not ok" lines and closes with "contract: N passed, M failed"; exit status 0 only
# when nothing failed.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=${FORUMNET_BIN:-$ROOT/build/forumnet}
DOCS_JS=${FORUMNET_DOCS_JS:-$ROOT/tools/node_modules/redoc/bundles/redoc.standalone.js}
CHROMIUM=${CONTRACT_CHROMIUM:-/usr/bin/chromium}
export CONTRACT_SCREENSHOT=${CONTRACT_SCREENSHOT:-/tmp/forumnet-docs.png}
export CONTRACT_CHROMIUM=$CHROMIUM
# playwright-core never downloads a browser; say so anyway, and keep npm quiet and offline after `npm ci`.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 NO_UPDATE_NOTIFIER=1 npm_config_update_notifier=false

PASSED=0
FAILED=0
SKIPPED=0
SERVER_PID=''
WORK=$(mktemp -d /tmp/forumnet-contract.XXXXXX)
SERVER_LOG="$WORK/server.log"

ok() {
  PASSED=$((PASSED + 1))
  echo "ok - $*"
}
not_ok() {
  FAILED=$((FAILED + 1))
  echo "not ok - $*"
}

closing() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n "$SERVER_PID" ]]; then
    kill -KILL "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  if ((FAILED > 0)) && [[ -s "$SERVER_LOG" ]]; then
    echo "--- last lines of the server log ($SERVER_LOG) ---"
    tail -n 30 "$SERVER_LOG"
  fi
  if ((FAILED == 0 && status == 0)); then
    rm -rf "$WORK"
  elif ((FAILED == 0)); then
    FAILED=1 # interrupted or an unexpected error
  fi
  if ((SKIPPED > 0)); then
    echo "contract: $PASSED passed, $FAILED failed, $SKIPPED skipped"
  else
    echo "contract: $PASSED passed, $FAILED failed"
  fi
  ((FAILED == 0)) && exit 0
  exit 1
}
trap closing EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The server is our child: after it exits it stays a zombie until waited for, which kill -0 cannot tell.
server_alive() {
  local state
  state=$(awk '{print $3}' "/proc/$SERVER_PID/stat" 2>/dev/null) || return 1
  [[ -n "$state" && "$state" != Z ]]
}

# Stops here: the steps that follow need what failed.
give_up() {
  not_ok "$*"
  exit 1
}

# Runs a node program that prints "ok ..."/"not ok ..." lines and adds them to the tally.
run_tap() {
  local name=$1 out="$WORK/$1.out" status
  shift
  "$@" 2>&1 | tee "$out"
  status=${PIPESTATUS[0]}
  local p f
  p=$(grep -c '^ok ' "$out")
  f=$(grep -c '^not ok ' "$out")
  PASSED=$((PASSED + p))
  FAILED=$((FAILED + f))
  if ((status != 0 && f == 0)); then
    not_ok "$name exited with status $status"
  elif ((status == 0 && p == 0)); then
    not_ok "$name ran no check"
  fi
}

cd "$HERE" || exit 1

# --- prerequisites --------------------------------------------------------------------------------------
EXTERNAL=${CONTRACT_BASE_URL:-}
if [[ -n "$EXTERNAL" ]]; then
  [[ -n "${CONTRACT_ADMIN_EMAIL:-}" && -n "${CONTRACT_ADMIN_PASSWORD:-}" ]] ||
    give_up "CONTRACT_BASE_URL needs CONTRACT_ADMIN_EMAIL and CONTRACT_ADMIN_PASSWORD (an existing admin)"
else
  [[ -n "${FORUMNET_TEST_DATABASE_URL:-}" ]] ||
    give_up "FORUMNET_TEST_DATABASE_URL is not set (scripts/test.sh exports it)"
  [[ -x "$BIN" ]] || give_up "no server binary at $BIN (build first: cmake --build build)"
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  give_up "node and npm are needed (Debian: apt-get install nodejs npm)"
fi
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' ||
  give_up "node $(node --version) is too old: the contract tools need node >= 18"

if [[ "${CONTRACT_REUSE_DIST:-0}" == 1 && -f dist/scenario.js && dist/scenario.js -nt ../../openapi/openapi.yaml ]]; then
  ok "dist/ reused (CONTRACT_REUSE_DIST=1: generated and type-checked by an earlier run)"
else
  # --- 1. npm ci ------------------------------------------------------------------------------------------
  LOCK_SUM=$(sha256sum package-lock.json | cut -d' ' -f1)
  STAMP=node_modules/.forumnet-lock.sha256
  if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$LOCK_SUM" ]]; then
    ok "npm ci (node_modules already matches package-lock.json)"
  else
    # --ignore-scripts: no package here needs an install script (playwright-core has none and downloads nothing).
    if npm ci --ignore-scripts --no-audit --no-fund --loglevel=error </dev/null; then
      printf '%s\n' "$LOCK_SUM" >"$STAMP"
      ok "npm ci"
    else
      give_up "npm ci in tests/contract"
    fi
  fi

  # --- 2-3. generate the client types and type-check ------------------------------------------------------
  if npm run --silent generate </dev/null; then
    ok "openapi-typescript generated src/api.d.ts from openapi/openapi.yaml"
  else
    give_up "npm run generate"
  fi
  if node_modules/.bin/tsc --noEmit --pretty false -p tsconfig.json </dev/null; then
    ok "tsc --noEmit (strict) over src/"
  else
    give_up "tsc --noEmit: the scenario does not type-check against the generated client"
  fi
  rm -rf dist
  node_modules/.bin/tsc -p tsconfig.json </dev/null >/dev/null || give_up "tsc could not build dist/"
fi

if [[ -n "$EXTERNAL" ]]; then
  BASE=${EXTERNAL%/}
  ADMIN_EMAIL=$CONTRACT_ADMIN_EMAIL
  ADMIN_PASSWORD=$CONTRACT_ADMIN_PASSWORD
  ok "walking the running server at $BASE (CONTRACT_BASE_URL; no server started here)"
else
  # --- 4. the server --------------------------------------------------------------------------------------
  if [[ "${CONTRACT_SKIP_DOCS:-0}" != 1 && ! -f "$DOCS_JS" && -z "${FORUMNET_DOCS_JS:-}" && -f "$ROOT/scripts/lib/tools.sh" ]]; then
    # shellcheck source=../../scripts/lib/tools.sh
    . "$ROOT/scripts/lib/tools.sh"
    tools_install || true
  fi
  [[ -f "$DOCS_JS" ]] || echo "# warning: no Redoc bundle at $DOCS_JS; /docs cannot render"

  PORT=$(node -e '
    const s = require("net").createServer();
    s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')
  BASE="http://127.0.0.1:$PORT"
  JWT_SECRET=$(node -e 'console.log(require("crypto").randomBytes(48).toString("base64url"))')

  # The server's environment: ours without any FORUMNET_* setting, then the test's own.
  UNSET=()
  while IFS='=' read -r name _; do
    [[ "$name" == FORUMNET_* ]] && UNSET+=(-u "$name")
  done < <(env)
  SERVER_ENV=(
    env "${UNSET[@]}"
    FORUMNET_DATABASE_URL="$FORUMNET_TEST_DATABASE_URL"
    FORUMNET_JWT_SECRET="$JWT_SECRET"
    FORUMNET_LISTEN="127.0.0.1:$PORT"
    FORUMNET_DOCS_JS="$DOCS_JS"
    FORUMNET_AUTO_MIGRATE=1
    FORUMNET_LOG_REQUESTS=1
    FORUMNET_SUPPRESSION_THRESHOLD=3
    # The scenario fails a few logins on purpose (spent one-time passwords), all from 127.0.0.1; reruns on a
    # kept database within the window must not reach the per-address limit.
    FORUMNET_LOGIN_MAX_FAILURES_PER_ADDRESS=100000
  )

  "${SERVER_ENV[@]}" "$BIN" serve </dev/null >"$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
  ready=0
  for _ in $(seq 1 200); do
    server_alive || break
    if [[ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$BASE/healthz" 2>/dev/null)" == 200 ]]; then
      ready=1
      break
    fi
    sleep 0.05
  done
  ((ready)) || give_up "forumnet serve did not answer GET /healthz on $BASE (log: $SERVER_LOG)"
  ok "forumnet serve is up on $BASE (pid $SERVER_PID)"

  # --- 5. an admin ----------------------------------------------------------------------------------------
  ADMIN_EMAIL="contract-admin-$(node -e 'console.log(require("crypto").randomBytes(6).toString("hex"))')@contract.forumnet.test"
  ADMIN_PASSWORD=$(node -e 'console.log("contract " + require("crypto").randomBytes(18).toString("base64url"))')
  if printf '%s\n' "$ADMIN_PASSWORD" |
    "${SERVER_ENV[@]}" "$BIN" admin create --email "$ADMIN_EMAIL" --role admin --name "Contract Admin" \
      --password-stdin >"$WORK/admin-create.log" 2>&1; then
    ok "forumnet admin create --email $ADMIN_EMAIL --role admin --password-stdin"
  else
    cat "$WORK/admin-create.log"
    give_up "forumnet admin create"
  fi

fi

# --- 6. the scenario and the docs page ------------------------------------------------------------------
export CONTRACT_BASE_URL=$BASE CONTRACT_ADMIN_EMAIL=$ADMIN_EMAIL CONTRACT_ADMIN_PASSWORD=$ADMIN_PASSWORD
run_tap scenario node dist/scenario.js
if [[ "${CONTRACT_SKIP_DOCS:-0}" == 1 ]]; then
  SKIPPED=$((SKIPPED + 1))
  echo "ok - docs # SKIP CONTRACT_SKIP_DOCS=1"
elif [[ ! -x "$CHROMIUM" ]]; then
  not_ok "no browser at $CHROMIUM (Debian: apt-get install chromium)"
else
  run_tap docs node dist/docs.js
  run_tap stream node dist/stream.js
fi

# --- 7. a clean stop ------------------------------------------------------------------------------------
[[ -n "$EXTERNAL" ]] && exit 0
kill -TERM "$SERVER_PID"
stopped=0
for _ in $(seq 1 200); do
  if ! server_alive; then
    stopped=1
    break
  fi
  sleep 0.05
done
if ((stopped)); then
  wait "$SERVER_PID"
  code=$?
  SERVER_PID=''
  if ((code == 0)); then
    ok "forumnet serve exited 0 on SIGTERM"
  else
    not_ok "forumnet serve exited with status $code on SIGTERM"
  fi
else
  not_ok "forumnet serve did not exit within 10 s of SIGTERM (killed)"
fi
