#!/usr/bin/env bash
# forumnet beside an idiomatic Node.js peer (issue 18, target 2): the same authenticated single read,
# GET /v1/sites/{id}, served by `forumnet serve` and by tests/bench/peer/server.mjs (Fastify 5, pg, fast-jwt with
# its cache on; the same SQL, the same pool size), measured with wrk in interleaved rounds (pgbench -S, forumnet,
# peer, pgbench -S, ...) against one throwaway PostgreSQL 15 (tests/bench/lib.sh: Release build, demo seed). Prints
# each round and the medians: requests/s, p99 (pgbench's from one transaction in 10 it logs), and the ratios
# forumnet/peer and forumnet/pgbench.
#
#   ROUNDS=3       interleaved rounds
#   CONNS=32       wrk connections (and pgbench clients)
#   DURATION=10    seconds per measurement
#   POOL_SIZE=8    database connections of both servers (FORUMNET_DB_POOL_SIZE, pg.Pool max)
#   BENCH_KEEP=1   keep the cluster and the work directory
#
# Needs Node.js 20 or later for the peer (Fastify 5, fast-jwt 6); its packages are installed from
# tests/bench/peer/package-lock.json (npm ci). The table also goes to tests/bench/last-peer.md (not in git).
# Exit status 0 for a valid run (every response 2xx, no socket errors); 1 otherwise; 2 for a bad knob.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
BENCH_DIR=$ROOT/tests/bench
# shellcheck source=scripts/lib/packages.sh
. scripts/lib/packages.sh
# shellcheck source=scripts/lib/deps.sh
. scripts/lib/deps.sh
# shellcheck source=scripts/lib/pg.sh
. scripts/lib/pg.sh
# shellcheck source=tests/bench/lib.sh
. tests/bench/lib.sh

bench_script peer "$@"
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-32}
DURATION=${DURATION:-10}
POOL_SIZE=${POOL_SIZE:-8}
bench_whole_numbers 1 ROUNDS CONNS DURATION POOL_SIZE
RESULTS_FILE=$BENCH_DIR/last-peer.md
PEER_PID=''
bench_stop_extras() { bench_stop_pid "$PEER_PID"; }
bench_traps

# shellcheck disable=SC2086 # one package name per word
bench_setup $FORUMNET_TEST_PACKAGES wrk
bench_find_pgbench
step "Node.js and the peer's npm packages"
deps_install_node || die "could not install Node.js"
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
((NODE_MAJOR >= 20)) || die "the peer needs Node.js 20 or later (Fastify 5, fast-jwt 6); this is $(node --version)"
npm ci --prefix "$BENCH_DIR/peer" --no-audit --no-fund >/dev/null || die "npm ci in tests/bench/peer failed"

step "forumnet serve and the peer"
SERVER_ENV=("FORUMNET_DB_POOL_SIZE=$POOL_SIZE")
bench_serve
TOKEN=$(bench_login "$ADMIN_EMAIL" "$ADMIN_PASSWORD") || exit 1
PEER_PORT=$(pg_free_port $((HTTP_PORT + 1)))
PEER_URL=http://127.0.0.1:$PEER_PORT
PEER_PORT=$PEER_PORT DATABASE_URL=$DATABASE_URL JWT_SECRET=$BENCH_JWT_SECRET POOL_SIZE=$POOL_SIZE \
  node "$BENCH_DIR/peer/server.mjs" >"$WORK/peer.log" 2>&1 &
PEER_PID=$!
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "$PEER_URL/readyz" 2>/dev/null && break
  kill -0 "$PEER_PID" 2>/dev/null || die "the peer exited: $(cat "$WORK/peer.log")"
  sleep 0.1
done
PATH_READ=/v1/sites/$SITE_ID
# Both must give the same answer before anything is timed.
curl -fsS -H "Authorization: Bearer $TOKEN" "$BASE_URL$PATH_READ" >"$WORK/forumnet.json" || die "forumnet's read failed"
curl -fsS -H "Authorization: Bearer $TOKEN" "$PEER_URL$PATH_READ" >"$WORK/peer.json" || die "the peer's read failed"
cmp -s "$WORK/forumnet.json" "$WORK/peer.json" || die "the two answers differ: $(cat "$WORK/forumnet.json") / $(cat "$WORK/peer.json")"
curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer x$TOKEN" "$PEER_URL$PATH_READ" | grep -q 401 ||
  die "the peer accepts a bad token"
echo "forumnet on $BASE_URL, the peer on $PEER_URL; both answer $(wc -c <"$WORK/forumnet.json") bytes"

step "pgbench database"
bench_pgbench_init 10

INVALID=0
# measure URL LABEL: one wrk run of the read (after a second of warm-up); prints "rps p99_ms".
measure() {
  local out=$WORK/wrk-$2.txt rps p99
  wrk -t2 -c"$CONNS" -d1s -H "Authorization: Bearer $TOKEN" "$1$PATH_READ" >/dev/null 2>&1 || true
  wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency --timeout 10s -H "Authorization: Bearer $TOKEN" "$1$PATH_READ" \
    >"$out" 2>&1 || die "wrk failed"
  if grep -qE 'Non-2xx or 3xx responses|Socket errors' "$out"; then
    echo "WARNING: $2 saw non-2xx answers or socket errors" >&2
    INVALID=1
  fi
  rps=$(awk '/^[[:space:]]*Requests\/sec:/ { printf "%.0f", $2; exit }' "$out")
  p99=$(awk '/^[[:space:]]*Latency Distribution/ { d = 1; next } d && $1 == "99%" { print $2; exit }' "$out")
  echo "$rps $(awk -v v="$p99" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[^m]s$/) n *= 1000; printf "%.2f", n }')"
}

ROWS=()
PG=()
PG_P99=()
FN=()
PEER=()
FN_P99=()
PEER_P99=()
for ((r = 1; r <= ROUNDS; r++)); do
  step "round $r of $ROUNDS (load $(cut -d' ' -f1-3 /proc/loadavg))"
  bench_pgbench -S -M prepared -c "$CONNS" -j 2 -T "$DURATION" --log --sampling-rate=0.1 \
    --log-prefix="$WORK/pgbench-log-$r" pgbench >"$WORK/pgbench-$r.txt" 2>&1 || die "pgbench failed"
  tps=$(awk '/^tps = / { printf "%.0f", $3; exit }' "$WORK/pgbench-$r.txt")
  read -r _ _ pg_p99 < <(bench_pgbench_percentiles "$WORK/pgbench-log-$r") || die "pgbench logged no transaction"
  read -r fn_rps fn_p99 < <(measure "$BASE_URL" "forumnet-$r")
  read -r peer_rps peer_p99 < <(measure "$PEER_URL" "peer-$r")
  echo "  pgbench $tps tps (p99 $pg_p99 ms); forumnet $fn_rps req/s (p99 $fn_p99 ms); peer $peer_rps req/s (p99 $peer_p99 ms)"
  ROWS+=("| $r | $tps | $pg_p99 | $fn_rps | $fn_p99 | $peer_rps | $peer_p99 | $(awk -v a="$fn_rps" -v b="$peer_rps" 'BEGIN { printf "%.2f", a / b }') | $(awk -v a="$fn_rps" -v b="$tps" 'BEGIN { printf "%.3f", a / b }') |")
  PG+=("$tps")
  PG_P99+=("$pg_p99")
  FN+=("$fn_rps")
  PEER+=("$peer_rps")
  FN_P99+=("$fn_p99")
  PEER_P99+=("$peer_p99")
done

ratio_median() { # the median of the rounds' ratios a[i]/b[i]
  local -n a=$1 b=$2
  local i out=()
  for i in "${!a[@]}"; do out+=("$(awk -v x="${a[$i]}" -v y="${b[$i]}" 'BEGIN { printf "%.3f", x / y }')"); done
  bench_median "${out[@]}"
}
FN_PER_PEER=$(ratio_median FN PEER)
FN_PER_PG=$(ratio_median FN PG)
FN_P99_MEDIAN=$(bench_median "${FN_P99[@]}")
# Issue 18's targets 1 and 2, on the medians of the interleaved rounds.
bench_target "GET /v1/sites/{id} / pgbench -S (median of $ROUNDS rounds)" "$FN_PER_PG" '>=' 0.50
bench_target "GET /v1/sites/{id} p99 at $CONNS connections (median)" "$FN_P99_MEDIAN" '<=' 5 ' ms'
bench_target "forumnet / Node.js peer (median of $ROUNDS rounds)" "$FN_PER_PEER" '>=' 2.5
{
  echo "GET /v1/sites/{id}: forumnet and a Fastify 5 + pg + fast-jwt peer (tests/bench/peer/), wrk $CONNS connections,"
  echo "${DURATION}s a run, pool $POOL_SIZE each; $(nproc) cores, load at the end $(cut -d' ' -f1-3 /proc/loadavg);"
  echo "Node.js $(node --version); commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo
  echo "| Round | pgbench -S tps | pgbench p99 ms | forumnet req/s | forumnet p99 ms | peer req/s | peer p99 ms | forumnet/peer | forumnet/pgbench |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${ROWS[@]}"
  echo "| **median** | $(bench_median "${PG[@]}") | $(bench_median "${PG_P99[@]}") | $(bench_median "${FN[@]}") | $FN_P99_MEDIAN | $(bench_median "${PEER[@]}") | $(bench_median "${PEER_P99[@]}") | $FN_PER_PEER | $FN_PER_PG |"
  bench_target_table
  ((INVALID == 0)) || echo "(invalid run: see the warnings)"
} | tee "$RESULTS_FILE"
((INVALID == 0))
