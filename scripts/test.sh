#!/usr/bin/env bash
# The one test command. On a fresh Debian 12 machine (root or not, no stdin needed) it installs what is
# missing, checks formatting, builds, runs cppcheck and the OpenAPI lint, starts a throwaway PostgreSQL 15,
# migrates it and runs every ctest test (unit and end-to-end). Its exit status is the verdict.
#
#   FORUMNET_SANITIZE=1   build with AddressSanitizer + UBSan into build-asan/ instead of build/
#   FORUMNET_TEST_KEEP=1  keep the throwaway cluster's directory (its path is printed) after the run
#   CTEST_ARGS="-R e2e"   extra arguments for ctest (e.g. run a subset)
#   FORUMNET_BUILD_DIR=d  build into d/ instead of build/ (or build-asan/), e.g. one per git worktree
#   FORUMNET_TEST_QUICK=1 a developer's inner loop: skip the Release build, the e2e run through PgBouncer,
#                         contract tests, scaleout, fuzzing and valgrind (CI never sets it)
#   FORUMNET_TEST_PGBOUNCER=1  run the e2e suite through PgBouncer in the plain pass too (the sanitizer pass
#                         always does: see "Each e2e suite runs once in each mode" below), even when quick
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
# shellcheck source=scripts/lib/packages.sh
. scripts/lib/packages.sh
# shellcheck source=scripts/lib/deps.sh
. scripts/lib/deps.sh
# shellcheck source=scripts/lib/pg.sh
. scripts/lib/pg.sh
# shellcheck source=scripts/lib/pgbouncer.sh
. scripts/lib/pgbouncer.sh

JOBS=$(nproc 2>/dev/null || echo 2)
STARTED=$SECONDS
RESULTS=()
FAILED=()
PG_BASE=''
PG_DATA=''
PGB_DIR=''

step() { printf '\n==> [%ss] %s\n' "$((SECONDS - STARTED))" "$*"; }
pass() { RESULTS+=("ok    $1${2:+ ($2)}"); }
fail() {
  RESULTS+=("FAIL  $1${2:+ ($2)}")
  FAILED+=("$1")
}
skip() { RESULTS+=("skip  $1${2:+ ($2)}"); }

summary() {
  local status=$1 line
  printf '\n==> Summary (%ss)\n' "$((SECONDS - STARTED))"
  for line in "${RESULTS[@]}"; do
    printf '  %s\n' "$line"
  done
  if [[ $status -eq 0 ]]; then
    echo "scripts/test.sh: PASSED"
  else
    local why=${FAILED[*]:-}
    if [[ $status -eq 130 || $status -eq 143 ]]; then why="${why:+$why, }interrupted"; fi
    echo "scripts/test.sh: FAILED${why:+ ($why)}"
  fi
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  # A signal can land while a command's output is redirected; report on the script's own stdout/stderr.
  exec 1>&7 2>&8
  if [[ -n "$PGB_DIR" ]]; then
    if [[ " ${FAILED[*]} " == *" pgbouncer "* && -f "$PGB_DIR/pgbouncer.log" ]]; then
      echo "--- last lines of the test PgBouncer log ($PGB_DIR/pgbouncer.log) ---"
      tail -n 20 "$PGB_DIR/pgbouncer.log" || true
    fi
    pgb_stop "$PGB_DIR" || true
  fi
  if [[ -n "$PG_DATA" ]]; then
    if [[ " ${FAILED[*]} " == *" ctest "* && -f "$PG_DATA/server.log" ]]; then
      echo "--- last lines of the test PostgreSQL log ($PG_DATA/server.log) ---"
      tail -n 20 "$PG_DATA/server.log" || true
    fi
    pg_stop "$PG_DATA" immediate >/dev/null 2>&1 || true
  fi
  if [[ -n "$PG_BASE" ]]; then
    if [[ "${FORUMNET_TEST_KEEP:-0}" == 1 ]]; then
      echo "kept the test cluster's directory: $PG_BASE"
    else
      rm -rf "$PG_BASE"
    fi
  fi
  summary "$status"
  exit "$status"
}
exec 7>&1 8>&2
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- dependencies -------------------------------------------------------------------------------------------
step "Debian packages"
if ! deps_install_test; then
  fail deps
  exit 1
fi
pass deps

# --- formatting ---------------------------------------------------------------------------------------------
step "clang-format check"
mapfile -t SOURCES < <(find src include tests -type f \( -name '*.c' -o -name '*.h' \) 2>/dev/null | sort)
if ((${#SOURCES[@]} == 0)); then
  skip format "no C files"
else
  FORMAT_LOG=$(mktemp)
  if clang-format --dry-run --Werror "${SOURCES[@]}" >"$FORMAT_LOG" 2>&1; then
    pass format "${#SOURCES[@]} files"
  else
    head -n 60 "$FORMAT_LOG"
    mapfile -t UNFORMATTED < <(grep -oE '^[^:]+\.(c|h):[0-9]+:[0-9]+: (error|warning)' "$FORMAT_LOG" | cut -d: -f1 | sort -u)
    echo "Files that differ from .clang-format: ${UNFORMATTED[*]:-?}"
    echo "Fix with: clang-format -i ${UNFORMATTED[*]:-<files>}"
    fail format "${#UNFORMATTED[@]} files differ"
  fi
  rm -f "$FORMAT_LOG"
fi

# --- build --------------------------------------------------------------------------------------------------
QUICK=${FORUMNET_TEST_QUICK:-0}
if [[ "${FORUMNET_SANITIZE:-0}" == 1 ]]; then
  BUILD_DIR=${FORUMNET_BUILD_DIR:-build-asan}
  SANITIZE=ON
  : "${UBSAN_OPTIONS:=print_stacktrace=1:halt_on_error=1}"
  : "${ASAN_OPTIONS:=detect_leaks=1:strict_string_checks=1}"
  export UBSAN_OPTIONS ASAN_OPTIONS
else
  BUILD_DIR=${FORUMNET_BUILD_DIR:-build}
  SANITIZE=OFF
fi
step "Build ($BUILD_DIR, FORUMNET_SANITIZE=$SANITIZE)"
if ! cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFORUMNET_TESTS=ON -DFORUMNET_SANITIZE="$SANITIZE" ||
  ! cmake --build "$BUILD_DIR" -j"$JOBS"; then
  fail build
  exit 1
fi
pass build "$BUILD_DIR"
FORUMNET_BIN="$ROOT/$BUILD_DIR/forumnet"

# The standard Release build (-O2 turns on warnings such as -Wformat-truncation that -O0/-Og miss), tests
# included, so that `cmake -DCMAKE_BUILD_TYPE=Release` as the README shows it cannot break unnoticed.
if [[ "$SANITIZE" == OFF && "$QUICK" != 1 ]]; then
  step "Release build (build-release)"
  if cmake -S . -B "$BUILD_DIR-release" -DCMAKE_BUILD_TYPE=Release -DFORUMNET_TESTS=ON >/dev/null &&
    cmake --build "$BUILD_DIR-release" -j"$JOBS" >"$BUILD_DIR-release.log" 2>&1; then
    pass release-build "$BUILD_DIR-release"
  else
    tail -n 40 "$BUILD_DIR-release.log" 2>/dev/null || true
    fail release-build
  fi
fi

# --- static analysis ----------------------------------------------------------------------------------------
step "cppcheck src/"
if cppcheck --enable=warning,performance,portability --error-exitcode=1 --inline-suppr --std=c11 -I include \
  --suppress=missingIncludeSystem --quiet -j"$JOBS" src; then
  pass cppcheck
else
  fail cppcheck
fi

# --- OpenAPI lint (before ctest, so that ctest's summary stays near the end of the output) --------------------
step "OpenAPI lint"
if [[ -f scripts/lint_openapi.sh ]]; then
  # --check: also fails when openapi/openapi.json (served by the binary) is not the bundle of the YAML
  if bash scripts/lint_openapi.sh --check </dev/null; then
    pass openapi-lint
  else
    fail openapi-lint
  fi
else
  skip openapi-lint "no scripts/lint_openapi.sh"
fi

# --- throwaway PostgreSQL -----------------------------------------------------------------------------------
step "Throwaway PostgreSQL 15"
# Under /tmp rather than $TMPDIR: as root the server runs as another user, who must be able to reach it.
PG_BASE=$(mktemp -d /tmp/forumnet-test.XXXXXX)
chmod 755 "$PG_BASE"
PG_DATA="$PG_BASE/pg"
PG_SOCK="$PG_BASE/run"
PG_PORT=5432 # only names the socket file in our private socket directory; no TCP
# Durability is pointless for a cluster that is deleted at exit; dropping it makes the tests faster.
if ! PG_INITDB_NOSYNC=1 PG_MAX_CONNECTIONS=200 \
  PG_EXTRA_SETTINGS=$'fsync = off\nsynchronous_commit = off\nfull_page_writes = off' \
  pg_start "$PG_DATA" "$PG_SOCK" "$PG_PORT" ||
  ! pg_createdb "$PG_SOCK" "$PG_PORT" forumnet ||
  ! pg_control_scripts "$PG_DATA" "$PG_BASE"; then
  fail postgres
  exit 1
fi
FORUMNET_TEST_DATABASE_URL=$(pg_url "$PG_SOCK" "$PG_PORT" forumnet)
FORUMNET_TEST_PG_STOP=$PG_STOP_CMD
FORUMNET_TEST_PG_START=$PG_START_CMD
FORUMNET_TEST_PG_BIN=$PG_BIN
FORUMNET_TEST_PG_HOST=$PG_SOCK
FORUMNET_TEST_PG_PORT=$PG_PORT
FORUMNET_TEST_PG_USER=$PG_SUPERUSER
export FORUMNET_TEST_DATABASE_URL FORUMNET_TEST_PG_STOP FORUMNET_TEST_PG_START FORUMNET_TEST_PG_BIN \
  FORUMNET_TEST_PG_HOST FORUMNET_TEST_PG_PORT FORUMNET_TEST_PG_USER
echo "FORUMNET_TEST_DATABASE_URL=$FORUMNET_TEST_DATABASE_URL"
pass postgres "$PG_BASE"

step "forumnet migrate"
if ! FORUMNET_DATABASE_URL=$FORUMNET_TEST_DATABASE_URL "$FORUMNET_BIN" migrate </dev/null; then
  fail migrate
  exit 1
fi
pass migrate

# --- tests --------------------------------------------------------------------------------------------------
# Every exchange of the e2e suite is logged and afterwards validated against openapi/openapi.json.
export HARNESS_EXCHANGE_LOG=${HARNESS_EXCHANGE_LOG:-$PG_BASE/exchanges.jsonl}
: >"$HARNESS_EXCHANGE_LOG"
if [[ -z "${FORUMNET_DOCS_JS:-}" && -f tools/node_modules/redoc/bundles/redoc.standalone.js ]]; then
  export FORUMNET_DOCS_JS="$ROOT/tools/node_modules/redoc/bundles/redoc.standalone.js"
fi

# Each e2e suite runs once in each mode of a deployment, one of them under the sanitizers: the plain pass runs
# everything straight against PostgreSQL (session mode, the default), the sanitizer pass runs the e2e suites with
# every server behind PgBouncer in transaction mode (FORUMNET_DB_POOLER=transaction, README "Behind a
# transaction-mode pooler"; psql, migrations and `forumnet admin` stay direct) and only the unit tests and the
# suites PgBouncer cannot serve straight against PostgreSQL. A pooler changes little of forumnet's code (every
# statement unnamed, db/exec.c; the role's settings checked on each new connection, db/pool.c; LISTEN on the direct
# URL, db/listener.c), so every route still runs under ASan/UBSan, and every route in each mode. The server logs in
# to PgBouncer as its own role, whose settings the README's ALTER ROLE statements make, so the shared superuser's
# stay as they are; made for the role in every database (the README names one), since suites with a database of
# their own (harness_use_own_database) reach theirs through the same PgBouncer. Left out of PgBouncer, and why:
#   e2e_admins, e2e_fault_pool_serial            each starts a server with its own FORUMNET_STATEMENT_TIMEOUT_MS,
#                                                which in transaction mode is the role's (one value for the run)
#   e2e_db_outage_serial, e2e_fault_pg_restart_serial  stop PostgreSQL and assert how forumnet's own connections
#                                                break and recover; behind PgBouncer what breaks is PgBouncer's
#                                                server connections while forumnet's stay up, another fault with
#                                                other timings (the scale-out script's primary outage covers it)
# FORUMNET_TEST_QUICK=1 skips PgBouncer (so its ctest step runs everything direct); FORUMNET_TEST_PGBOUNCER=1 runs
# it in either pass (after the whole suite direct, in the plain pass).
PGB_EXCLUDED='e2e_admins$|e2e_fault_pool_serial|e2e_db_outage_serial|e2e_fault_pg_restart_serial'
PGB_RUN=0
if [[ ("$SANITIZE" == ON && "$QUICK" != 1) || "${FORUMNET_TEST_PGBOUNCER:-0}" == 1 ]]; then
  PGB_RUN=1
fi
DIRECT_SELECT=()
DIRECT_WHAT="every test"
if [[ "$SANITIZE" == ON && "$PGB_RUN" == 1 ]]; then
  DIRECT_SELECT=(-R "^unit_|$PGB_EXCLUDED")
  DIRECT_WHAT="the unit tests and the suites left out of PgBouncer"
fi

step "ctest ($BUILD_DIR, -j$JOBS): $DIRECT_WHAT"
# shellcheck disable=SC2086 # CTEST_ARGS is a list of words
if ctest --test-dir "$BUILD_DIR" --output-on-failure --no-tests=error -j"$JOBS" "${DIRECT_SELECT[@]}" ${CTEST_ARGS:-} \
  </dev/null; then
  pass ctest "$DIRECT_WHAT"
else
  fail ctest
fi

step "e2e through PgBouncer in transaction mode"
if [[ "$PGB_RUN" != 1 ]]; then
  if [[ "$QUICK" == 1 ]]; then
    skip pgbouncer "FORUMNET_TEST_QUICK=1 (FORUMNET_TEST_PGBOUNCER=1 runs it)"
  else
    skip pgbouncer "the sanitizer pass runs the e2e suites through PgBouncer (FORUMNET_TEST_PGBOUNCER=1 runs it here)"
  fi
else
  PGB_DIR="$PG_BASE/pgbouncer"
  PGB_PORT=6432 # only names the socket file in our private socket directory; no TCP
  PGB_ROLE=forumnet_pooled
  if ! pg_psql "$PG_SOCK" "$PG_PORT" forumnet -c "CREATE ROLE $PGB_ROLE LOGIN SUPERUSER" \
    -c "ALTER ROLE $PGB_ROLE SET statement_timeout = '5000ms'" \
    -c "ALTER ROLE $PGB_ROLE SET lock_timeout = '5000ms'" \
    -c "ALTER ROLE $PGB_ROLE SET TimeZone = 'UTC'" \
    -c "ALTER ROLE $PGB_ROLE SET jit = off" ||
    ! pgb_start "$PGB_DIR" "$PG_SOCK" "$PG_PORT" forumnet "$PGB_ROLE" "$PGB_PORT"; then
    fail pgbouncer "setup"
  else
    # shellcheck disable=SC2086 # CTEST_ARGS is a list of words
    if FORUMNET_TEST_POOLER_URL=$(pgb_url "$PGB_DIR" "$PGB_PORT" forumnet) \
      ctest --test-dir "$BUILD_DIR" --output-on-failure --no-tests=error -j"$JOBS" -L e2e -E "$PGB_EXCLUDED" \
      ${CTEST_ARGS:-} </dev/null; then
      pass pgbouncer "e2e, 4 left out"
    else
      fail pgbouncer
    fi
  fi
fi

step "Contract tests (generated TypeScript client; /docs in Chromium)"
if [[ "$QUICK" == 1 ]]; then
  skip contract "FORUMNET_TEST_QUICK=1"
elif FORUMNET_BIN="$FORUMNET_BIN" bash tests/contract/run.sh </dev/null; then
  pass contract
else
  fail contract
fi

# Three instances behind HAProxy and nginx, PgBouncer, a streaming standby, faults under load (its own clusters
# on free ports; it installs haproxy, pgbouncer and nginx-light when missing). The contract client that the step
# above built is walked again (CONTRACT_REUSE_DIST=1; rebuilt when missing or older than the OpenAPI document).
step "Several instances (scripts/scaleout.sh)"
if [[ "$QUICK" == 1 ]]; then
  skip scaleout "FORUMNET_TEST_QUICK=1"
elif [[ "$SANITIZE" == ON ]]; then
  skip scaleout "FORUMNET_SANITIZE=1 (run once, on the plain build)"
elif FORUMNET_BIN="$FORUMNET_BIN" CONTRACT_REUSE_DIST=1 bash scripts/scaleout.sh </dev/null; then
  pass scaleout
else
  fail scaleout
fi

# A short bounded fuzzing run (libFuzzer + ASan/UBSan); longer runs: FUZZ_SECONDS=300 tests/fuzz/run.sh.
# Skipped in the sanitizer pass: the fuzzers are sanitizer builds already.
if [[ "$SANITIZE" == OFF && "$QUICK" != 1 ]]; then
  step "Fuzzing (tests/fuzz, ${FUZZ_SECONDS:-5} s per harness)"
  if FUZZ_SECONDS=${FUZZ_SECONDS:-5} bash tests/fuzz/run.sh </dev/null; then
    pass fuzz
  else
    fail fuzz
  fi
fi

# Valgrind memcheck of the server under a short mixed load (its own Debug build and PostgreSQL).
if [[ "$SANITIZE" == OFF && "$QUICK" != 1 ]]; then
  step "Valgrind memcheck (tests/valgrind)"
  if bash tests/valgrind/run.sh </dev/null; then
    pass valgrind
  else
    fail valgrind
  fi
fi

step "e2e responses against openapi/openapi.json"
if [[ ! -s "$HARNESS_EXCHANGE_LOG" ]]; then
  skip openapi-responses "no exchanges logged"
elif bash tools/validate-responses.sh "$HARNESS_EXCHANGE_LOG" </dev/null; then
  pass openapi-responses "$(wc -l <"$HARNESS_EXCHANGE_LOG") exchanges"
else
  fail openapi-responses
fi

((${#FAILED[@]} == 0))
