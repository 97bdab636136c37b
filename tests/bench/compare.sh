#!/usr/bin/env bash
# Compares the single-resource read of two builds of forumnet in one run: the working tree (B) against an
# earlier commit (A), each as a ratio to pgbench measured beside it, in interleaved rounds. With --pooler it
# compares the working tree with itself instead: A in the default session mode straight to PostgreSQL, B with
# FORUMNET_DB_POOLER=transaction through a PgBouncer 1.18 in transaction mode (the cost of pooler mode).
#
#   tests/bench/compare.sh REV              A = REV (a commit, branch or tag), B = the working tree
#   tests/bench/compare.sh --pooler         A = the working tree, session mode, direct; B = the same build, pooler
#                                           mode through PgBouncer (scripts/lib/pgbouncer.sh; its role has the
#                                           README's ALTER ROLE settings)
#   POOLER_VIA=direct tests/bench/compare.sh --pooler
#                                           B in pooler mode too, but straight to PostgreSQL as that role: the
#                                           cost of unnamed statements alone, without PgBouncer's hop
#   ROUNDS=7 DURATION=8 CONNS=32 tests/bench/compare.sh HEAD~3
#   READ=list tests/bench/compare.sh HEAD   the list page of 50 (GET /v1/sites?limit=50) instead of GET /v1/sites/{id}
#
# One throwaway cluster and data set (tests/bench/lib.sh's bench_seed) serve both builds; both servers run at
# once (an idle one costs nothing). Each round measures pgbench -S, then the read on A and on B (the
# order alternates between rounds, so neither always runs right after pgbench), and computes each build's ratio
# to that round's pgbench tps. It prints every round, then the median ratio of each build and B/A, with the load
# average before and after: on a shared machine compare medians, never single rounds.
#
# REV must have the same migrations as the working tree (sql/): the data set is migrated once, by B.
# The exit status is 0 for a valid run, 1 when setup failed or any measurement saw errors or non-2xx answers.
set -euo pipefail

REV=${1:-}
if [[ -z "$REV" || "$REV" == -h || "$REV" == --help ]]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
  [[ -n "$REV" ]] && exit 0
  exit 2
fi
POOLER=0
[[ "$REV" == --pooler ]] && POOLER=1
POOLER_VIA=${POOLER_VIA:-pgbouncer}
[[ $POOLER_VIA == pgbouncer || $POOLER_VIA == direct ]] || {
  echo "compare: POOLER_VIA must be pgbouncer or direct (got '$POOLER_VIA')" >&2
  exit 2
}
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
# shellcheck source=scripts/lib/packages.sh
. scripts/lib/packages.sh
# shellcheck source=scripts/lib/deps.sh
. scripts/lib/deps.sh
# shellcheck source=scripts/lib/pg.sh
. scripts/lib/pg.sh
# shellcheck source=scripts/lib/pgbouncer.sh
. scripts/lib/pgbouncer.sh
# shellcheck source=tests/bench/lib.sh
. tests/bench/lib.sh

BENCH_NAME=compare
bench_read_knob
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-8}
CONNS=${CONNS:-32}
WARMUP=${WARMUP:-1}
for knob in ROUNDS DURATION CONNS WARMUP; do
  if ! [[ ${!knob} =~ ^[0-9]+$ ]] || { [[ $knob != WARMUP ]] && ((${!knob} < 1)); }; then
    echo "compare: $knob must be a whole number (at least 1, WARMUP at least 0; got '${!knob}')" >&2
    exit 2
  fi
done

step() { printf '\n==> %s\n' "$*"; }
die() {
  echo "compare: $*" >&2
  exit 1
}
PG_BASE='' PG_DATA='' WORK='' SRC_A='' PID_A='' PID_B='' PGB_DIR=''
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  for pid in "$PID_A" "$PID_B"; do
    [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  [[ -n "$PGB_DIR" ]] && pgb_stop "$PGB_DIR"
  bench_cleanup_pg
  [[ -n "$SRC_A" ]] && rm -rf "$SRC_A"
  [[ -n "$WORK" && "${BENCH_KEEP:-0}" != 1 ]] && rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ((POOLER)); then
  NAME_A="session mode, direct" NAME_B="pooler mode, PgBouncer"
  [[ $POOLER_VIA == direct ]] && NAME_B="pooler mode, direct"
else
  git rev-parse --verify --quiet "$REV^{commit}" >/dev/null || die "no such commit: $REV"
  git diff --quiet "$REV" -- 'sql/[0-9]*.sql' || die "$REV has other migrations than the working tree (sql/0NN_*.sql): not comparable on one data set"
  NAME_A=$(git rev-parse --short "$REV") NAME_B="working tree"
fi

step "Debian packages"
# shellcheck disable=SC2086 # one package name per word
deps_install $FORUMNET_BUILD_PACKAGES $FORUMNET_TEST_PACKAGES || die "could not install the dependencies"
bench_find_pgbench
command -v wrk >/dev/null || die "wrk not found"

if ((POOLER)); then
  command -v pgbouncer >/dev/null || die "pgbouncer not found"
  step "Release build of the working tree (A and B)"
else
  step "Release builds: A = $REV ($NAME_A), B = the working tree"
  SRC_A=$(mktemp -d /tmp/forumnet-compare-src.XXXXXX)
  git archive "$REV" | tar -x -C "$SRC_A"
  (cd "$SRC_A" && bench_build "$SRC_A/build" Release)
  BIN_A=$SRC_A/build/forumnet
fi
bench_build "$ROOT/build-bench" Release
BIN_B=$FORUMNET
((POOLER)) && BIN_A=$BIN_B

step "Throwaway PostgreSQL 15, data set"
WORK=$(mktemp -d /tmp/forumnet-compare-work.XXXXXX)
bench_pg_start
bench_seed
bench_pgbench_init 10

if ((POOLER)); then
  # README "Behind a transaction-mode pooler": PgBouncer logs in as a role of its own whose settings come from
  # ALTER ROLE (the superuser's, which pgbench and session mode use, stay as they are).
  psql_forumnet -q -c "CREATE ROLE forumnet_pooled LOGIN SUPERUSER" || die "CREATE ROLE failed"
  bench_pooler_role_settings forumnet_pooled
  if [[ $POOLER_VIA == direct ]]; then
    POOLER_URL=${DATABASE_URL%user=*}user=forumnet_pooled
  else
    step "PgBouncer 1.18 (transaction pooling) as role forumnet_pooled"
    PGB_DIR=$PG_BASE/pgbouncer
    PGB_PORT=6432 # only names the socket file in our private socket directory; no TCP
    pgb_start "$PGB_DIR" "$PG_SOCK" "$PG_PORT" forumnet forumnet_pooled "$PGB_PORT" || die "PgBouncer did not start"
    POOLER_URL=$(pgb_url "$PGB_DIR" "$PGB_PORT" forumnet)
    echo "$(pgbouncer --version | head -n 1) on $PGB_DIR/run, pool_mode = transaction, default_pool_size = 40"
  fi
fi

step "forumnet serve, twice"
# bench_serve runs $FORUMNET and logs to $WORK/forumnet.log: each server gets its own WORK.
mkdir -p "$WORK/a" "$WORK/b"
WORK=$WORK/a FORUMNET=$BIN_A bench_serve
PID_A=$SERVER_PID URL_A=$BASE_URL SERVER_LOG_A=$SERVER_LOG
if ((POOLER)); then
  SERVER_ENV=(FORUMNET_DB_POOLER=transaction "FORUMNET_DATABASE_DIRECT_URL=$DATABASE_URL")
  DATABASE_URL=$POOLER_URL WORK=$WORK/b FORUMNET=$BIN_B bench_serve
  SERVER_ENV=()
else
  WORK=$WORK/b FORUMNET=$BIN_B bench_serve
fi
PID_B=$SERVER_PID URL_B=$BASE_URL
TOKEN=$(bench_login "$ADMIN_EMAIL" "$ADMIN_PASSWORD") # both servers share BENCH_JWT_SECRET
PATH_READ=$(bench_read_path)
for url in "$URL_A" "$URL_B"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$url$PATH_READ")
  [[ "$code" == 200 ]] || die "GET $PATH_READ on $url answered $code (logs: $SERVER_LOG_A, $SERVER_LOG)"
done
if ((POOLER)); then # B's connections must be PgBouncer's role's (or that role's own with POOLER_VIA=direct)
  pooled=$(psql_forumnet -At -c "SELECT count(*) FROM pg_stat_activity WHERE usename = 'forumnet_pooled'")
  ((pooled > 0)) || die "no connection of the role forumnet_pooled: B does not use it"
fi
echo "A ($NAME_A): $URL_A ($BIN_A); B ($NAME_B): $URL_B ($BIN_B); site $SITE_ID"

pgbench_tps() {
  bench_pgbench -S -M prepared -c "$CONNS" -j 2 -T "$DURATION" pgbench \
    >"$WORK/pgbench.txt" 2>&1 || die "pgbench failed"
  awk '/^tps = / && !/including connections establishing/ { print $3; exit }' "$WORK/pgbench.txt"
}
# Prints requests/s of GET $PATH_READ on $1; dies on socket errors or non-2xx answers.
wrk_rps() {
  local out=$WORK/wrk.txt
  if ((WARMUP > 0)); then
    wrk -t2 -c"$CONNS" -d"${WARMUP}s" -H "Authorization: Bearer $TOKEN" "$1$PATH_READ" >/dev/null 2>&1 || true
  fi
  wrk -t2 -c"$CONNS" -d"${DURATION}s" --timeout 10s -H "Authorization: Bearer $TOKEN" "$1$PATH_READ" \
    >"$out" 2>&1 || die "wrk failed on $1"
  ! grep -qE 'Non-2xx|Socket errors' "$out" || {
    cat "$out" >&2
    die "errors while measuring $1"
  }
  awk '/^[[:space:]]*Requests\/sec:/ { print $2; exit }' "$out"
}

step "$ROUNDS interleaved rounds: pgbench -S -c$CONNS, then wrk -c$CONNS GET $PATH_READ on A and B (${DURATION}s each)"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
RATIOS_A=() RATIOS_B=() RPS_A=() RPS_B=() TPS=()
printf '| round | pgbench tps | A req/s | B req/s | A ratio | B ratio |\n|---:|---:|---:|---:|---:|---:|\n'
for ((r = 1; r <= ROUNDS; r++)); do
  tps=$(pgbench_tps)
  if ((r % 2)); then
    rps_a=$(wrk_rps "$URL_A")
    rps_b=$(wrk_rps "$URL_B")
  else
    rps_b=$(wrk_rps "$URL_B")
    rps_a=$(wrk_rps "$URL_A")
  fi
  ratio_a=$(awk -v a="$rps_a" -v t="$tps" 'BEGIN { printf "%.3f", a / t }')
  ratio_b=$(awk -v b="$rps_b" -v t="$tps" 'BEGIN { printf "%.3f", b / t }')
  RATIOS_A+=("$ratio_a")
  RATIOS_B+=("$ratio_b")
  RPS_A+=("$rps_a") RPS_B+=("$rps_b") TPS+=("$tps")
  printf '| %d | %.0f | %.0f | %.0f | %s | %s |\n' "$r" "$tps" "$rps_a" "$rps_b" "$ratio_a" "$ratio_b"
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
MED_A=$(bench_median "${RATIOS_A[@]}")
MED_B=$(bench_median "${RATIOS_B[@]}")
QUOTIENT=B/A
((POOLER)) && QUOTIENT=pooler/session
printf '\nmedian ratio to pgbench: A (%s) %s, B (%s) %s, %s %s\n' "$NAME_A" "$MED_A" "$NAME_B" "$MED_B" "$QUOTIENT" \
  "$(awk -v a="$MED_A" -v b="$MED_B" 'BEGIN { printf "%.3f", b / a }')"
printf 'median req/s: A %.0f, B %.0f; median pgbench tps %.0f\n' "$(bench_median "${RPS_A[@]}")" \
  "$(bench_median "${RPS_B[@]}")" "$(bench_median "${TPS[@]}")"
printf 'machine: %s, %s cores; load average before %s, after %s\n' \
  "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)" "$(nproc)" "$LOAD_BEFORE" "$LOAD_AFTER"
