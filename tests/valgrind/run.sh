#!/usr/bin/env bash
# Valgrind memcheck of `forumnet serve` under a short load (issue 8, item 1). From a clean clone, root or not:
# installs what is missing (valgrind, jq, wrk and the build packages), builds a Debug forumnet into build-valgrind/,
# starts a throwaway PostgreSQL 15 with the demo network (tests/bench/lib.sh, as the bench does), and runs
#
#   valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99
#            --suppressions=tests/valgrind/forumnet.supp forumnet serve
#
# while it drives the server for VALGRIND_LOAD_SECONDS:
#   - two tests/valgrind/drive.sh clients side by side: every route family with its success and error answers
#     (logins right and wrong, refresh rotation and reuse, writes with If-Match, 4xx of every kind, partner
#     tokens, idempotent replays, CSV and iCalendar, erasure);
#   - wrk (2 threads, 8 connections) on GET /v1/sites/{id} for concurrency through the workers;
# then a PostgreSQL restart (requests answered 503, then recovery), a client that disconnects in the middle of its
# headers, and SIGTERM. It fails when valgrind reports any error (invalid read or write, use of uninitialised
# memory, bad free, ...) or a definite leak that no documented suppression covers, when the server does not exit
# 0, or when a driver saw an answer it did not expect. The leak summary and the stacks of anything found are
# printed; the full log is $WORK/valgrind.log (kept with BENCH_KEEP=1).
#
#   VALGRIND_LOAD_SECONDS=20   how long the drivers and wrk run
#   BENCH_KEEP=1               keep the cluster and the work directory (valgrind log, server output)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
# shellcheck source=scripts/lib/packages.sh
. scripts/lib/packages.sh
# shellcheck source=scripts/lib/deps.sh
. scripts/lib/deps.sh
# shellcheck source=scripts/lib/pg.sh
. scripts/lib/pg.sh
# shellcheck source=tests/bench/lib.sh
. tests/bench/lib.sh

LOAD_SECONDS=${VALGRIND_LOAD_SECONDS:-20}
if ! [[ $LOAD_SECONDS =~ ^[0-9]+$ ]] || ((LOAD_SECONDS < 1)); then
  echo "valgrind: VALGRIND_LOAD_SECONDS must be a whole number >= 1" >&2
  exit 2
fi
STARTED=$SECONDS
BUILD_DIR=$ROOT/build-valgrind
SUPPRESSIONS=$ROOT/tests/valgrind/forumnet.supp
PG_BASE=''
PG_DATA=''
SERVER_PID=''
SERVER_LOG=''
WORK=''
PIDS=()

step() { printf '\n==> %s\n' "$*"; }
die() {
  echo "valgrind: $*" >&2
  exit 1
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  bench_stop_server 60 || true
  bench_cleanup_pg
  if [[ -n "$WORK" ]]; then
    if [[ "${BENCH_KEEP:-0}" == 1 ]]; then echo "kept the work directory: $WORK"; else rm -rf "$WORK"; fi
  fi
  printf '\nvalgrind: finished in %ss (exit status %s)\n' "$((SECONDS - STARTED))" "$status"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "Debian packages"
# shellcheck disable=SC2086 # one package name per word
deps_install $FORUMNET_BUILD_PACKAGES valgrind jq wrk || die "could not install the dependencies"

step "Debug build (build-valgrind/)"
bench_build "$BUILD_DIR" Debug
WORK=$(mktemp -d /tmp/forumnet-valgrind.XXXXXX)
VG_LOG=$WORK/valgrind.log

step "Throwaway PostgreSQL 15, migrate and seed"
bench_pg_start
bench_seed

step "forumnet serve under valgrind ($(valgrind --version))"
SERVER_ENV=("FORUMNET_LOG_REQUESTS=1" "FORUMNET_DB_CONNECT_TIMEOUT=2")
BENCH_READY_SECONDS=90 bench_serve valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect \
  --errors-for-leak-kinds=definite --error-exitcode=99 --num-callers=40 --fair-sched=try \
  --suppressions="$SUPPRESSIONS" --gen-suppressions=all --log-file="$VG_LOG"
echo "listening on $BASE_URL (pid $SERVER_PID); valgrind log $VG_LOG"

step "Load: 2 x drive.sh for ${LOAD_SECONDS}s, wrk -t2 -c8 GET /v1/sites/{id}"
ADMIN_TOKEN=$(bench_login "$ADMIN_EMAIL" "$ADMIN_PASSWORD") || exit 1
for d in 1 2; do
  tests/valgrind/drive.sh "$BASE_URL" "$LOAD_SECONDS" "$ADMIN_EMAIL" "$ADMIN_PASSWORD" >"$WORK/drive-$d.txt" 2>&1 &
  PIDS+=($!)
done
WRK_SECONDS=$((LOAD_SECONDS / 2 > 0 ? LOAD_SECONDS / 2 : 1))
wrk -t2 -c8 -d"${WRK_SECONDS}s" --timeout 30s -H "Authorization: Bearer $ADMIN_TOKEN" \
  "$BASE_URL/v1/sites/$SITE_ID" >"$WORK/wrk.txt" 2>&1 || die "wrk failed: $(cat "$WORK/wrk.txt")"
DRIVE_FAILED=0
for i in "${!PIDS[@]}"; do
  wait "${PIDS[$i]}" || DRIVE_FAILED=1
  echo "--- drive.sh $((i + 1)) ---"
  cat "$WORK/drive-$((i + 1)).txt"
done
PIDS=()
grep -E 'requests in|Non-2xx|Socket errors|Requests/sec' "$WORK/wrk.txt" || true

step "PostgreSQL restart under the running server"
pg_stop "$PG_DATA" fast || die "could not stop PostgreSQL"
for _ in 1 2 3; do
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -H "Authorization: Bearer $ADMIN_TOKEN" \
    "$BASE_URL/v1/sites/$SITE_ID" || echo 000)
  echo "while PostgreSQL is down: GET /v1/sites/{id} -> $code"
  [[ $code == 503 ]] || DRIVE_FAILED=1
done
PG_INITDB_NOSYNC=1 PG_MAX_CONNECTIONS=200 \
  PG_EXTRA_SETTINGS=$'fsync = off\nsynchronous_commit = off\nfull_page_writes = off' \
  pg_start "$PG_DATA" "$PG_SOCK" "$PG_PORT" || die "could not start PostgreSQL again"
code=000
for _ in $(seq 1 60); do
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -H "Authorization: Bearer $ADMIN_TOKEN" \
    "$BASE_URL/v1/sites/$SITE_ID" || echo 000)
  [[ $code == 200 ]] && break
  sleep 0.5
done
echo "after PostgreSQL is back: GET /v1/sites/{id} -> $code"
[[ $code == 200 ]] || DRIVE_FAILED=1

step "A client that leaves in the middle of its headers"
exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT"
printf 'GET /v1/sites HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bea' >&3
sleep 1
exec 3>&-

step "SIGTERM and valgrind's verdict"
SERVER_STATUS=0
bench_stop_server 120 || SERVER_STATUS=$?
echo "forumnet serve (under valgrind) exited with status $SERVER_STATUS"
awk '/HEAP SUMMARY/ { show = 1 } /LEAK SUMMARY/ { show = 1 } show { print } /total heap usage/ { show = 0 }' "$VG_LOG" |
  sed 's/^==[0-9]*== //'
ERRORS=$(awk '/ERROR SUMMARY:/ { print $4; exit }' "$VG_LOG")
DEFINITE=$(awk '/definitely lost:/ { gsub(",", "", $4); print $4; exit }' "$VG_LOG")
if [[ -z "$ERRORS" ]]; then
  tail -n 30 "$VG_LOG" >&2
  die "no ERROR SUMMARY in the valgrind log (did the server exit normally?)"
fi
# The errors and leak stacks themselves (with the suppression valgrind proposes for each), if any.
if ((ERRORS > 0)); then
  echo
  echo "--- what valgrind found (from $VG_LOG) ---"
  awk '/^==[0-9]+== (Invalid|Conditional|Use of uninitialised|Syscall param|Mismatched|Source and destination|[0-9,]+ bytes in [0-9,]+ blocks are definitely)/ { show = 1 }
       show { print } /^==[0-9]+== $/ { show = 0 }
       /^\{/ { sup = 1 } sup { print } /^\}/ { sup = 0 }' "$VG_LOG" | sed 's/^==[0-9]*== //' | head -n 400
fi

FAILED=()
((SERVER_STATUS == 0)) || FAILED+=("forumnet serve exited with status $SERVER_STATUS (99: valgrind found errors)")
((ERRORS == 0)) || FAILED+=("$ERRORS valgrind errors")
((${DEFINITE:-0} == 0)) || FAILED+=("${DEFINITE} bytes definitely lost")
((DRIVE_FAILED == 0)) || FAILED+=("unexpected answers during the load or the restart (see above)")
if ((${#FAILED[@]} > 0)); then
  for f in "${FAILED[@]}"; do echo "valgrind: FAILED: $f" >&2; done
  exit 1
fi
echo "valgrind: PASSED (0 errors, 0 bytes definitely lost)"
