#!/usr/bin/env bash
# What idle live streams cost (issue 14): p99 of GET /v1/sites/{id} under wrk with 0 and with STREAMS idle streams
# (GET /v1/me/notifications/stream) held open, in interleaved rounds (without, with, without, with, ...), and the
# server's resident memory per stream. From a clean clone, root or not; the same setup as tests/bench/run.sh
# (tests/bench/lib.sh: Release build, throwaway PostgreSQL 15, demo seed), with a pgbench -S baseline.
#
#   STREAMS=500     idle streams held by tests/bench/stream_holder.py (one member's token; each is a connection)
#   ROUNDS=3        interleaved rounds; the table reports each round and the medians
#   CONNS=32        wrk connections (and pgbench clients)
#   DURATION=10     seconds per wrk measurement (and pgbench)
#   FORUMNET_HTTP_THREADS, FORUMNET_DB_POOL_SIZE   passed to `forumnet serve` when set
#   BENCH_KEEP=1    keep the cluster and the work directory
#
# The server runs with FORUMNET_MAX_CONNECTIONS=STREAMS+CONNS+64: streams count against it (README "Live stream").
# Prints a Markdown table (also written to tests/bench/last-streams.md, not in git). Exit status 0 for a valid run
# (every response 2xx, no socket errors, every stream held to the end); 1 otherwise; 2 for a bad knob.
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

bench_script streams "$@"
STREAMS=${STREAMS:-500}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-32}
DURATION=${DURATION:-10}
bench_whole_numbers 1 STREAMS ROUNDS CONNS DURATION
RESULTS_FILE=$BENCH_DIR/last-streams.md
HOLDER_PID=''

stop_holder() {
  if [[ -n "$HOLDER_PID" ]] && kill -0 "$HOLDER_PID" 2>/dev/null; then
    kill -TERM "$HOLDER_PID" 2>/dev/null || true
  fi
  if [[ -n "$HOLDER_PID" ]]; then
    local status=0
    wait "$HOLDER_PID" 2>/dev/null || status=$?
    HOLDER_PID=''
    return "$status"
  fi
}
bench_stop_extras() { stop_holder; }
bench_traps

# shellcheck disable=SC2086 # one package name per word
bench_setup $FORUMNET_TEST_PACKAGES wrk
bench_find_pgbench

step "forumnet serve"
SERVER_ENV=("FORUMNET_MAX_CONNECTIONS=$((STREAMS + CONNS + 64))")
bench_server_knobs
# shellcheck disable=SC2119 # no wrapper: run forumnet directly
bench_serve
ADMIN_TOKEN=$(bench_login "$ADMIN_EMAIL" "$ADMIN_PASSWORD") || exit 1
STREAM_TOKEN=$(bench_login "bench.member1@bench.forumnet.test" "$ADMIN_PASSWORD") || exit 1
echo "listening on $BASE_URL (pid $SERVER_PID); site $SITE_ID"

step "pgbench -S -M prepared -c $CONNS -T $DURATION (baseline, same cluster)"
bench_pgbench_init 10
bench_pgbench -S -M prepared -c "$CONNS" -j 2 -T "$DURATION" pgbench >"$WORK/pgbench.txt" 2>&1 || die "pgbench failed"
PGBENCH_TPS=$(awk '/^tps = / && !/including connections establishing/ { printf "%.0f", $3; exit }' "$WORK/pgbench.txt")
echo "pgbench: $PGBENCH_TPS tps"

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status"; }
open_fds() { find "/proc/$SERVER_PID/fd" -mindepth 1 -maxdepth 1 | wc -l; }
# After the holder stops, the server closes its streams for a while: the next round without streams waits until
# it holds no more descriptors than before them (plus wrk's), so that it does not measure the closing (up to 60 s).
wait_streams_closed() {
  local _
  for _ in $(seq 1 600); do
    (($(open_fds) <= $1 + CONNS + 16)) && return 0
    sleep 0.1
  done
  echo "WARNING: the server still held $(open_fds) descriptors 60 s after the streams ended" >&2
}
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'; }
INVALID=0

# measure LABEL: one wrk run of GET /v1/sites/{id}; prints "rps p99_ms".
measure() {
  local out=$WORK/wrk-$1.txt rps p99 non2xx sockerr
  wrk -t2 -c"$CONNS" -d1s -H "Authorization: Bearer $ADMIN_TOKEN" "$BASE_URL/v1/sites/$SITE_ID" >/dev/null 2>&1 || true
  wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency --timeout 10s -H "Authorization: Bearer $ADMIN_TOKEN" \
    "$BASE_URL/v1/sites/$SITE_ID" >"$out" 2>&1 || die "wrk failed"
  rps=$(awk '/^[[:space:]]*Requests\/sec:/ { printf "%.0f", $2; exit }' "$out")
  p99=$(awk '/^[[:space:]]*Latency Distribution/ { d = 1; next } d && $1 == "99%" { print $2; exit }' "$out")
  non2xx=$(awk -F': *' '/Non-2xx or 3xx responses/ { print $2 + 0; exit }' "$out")
  sockerr=$(awk '/Socket errors:/ { print 1; exit }' "$out")
  if [[ -n "${non2xx:-}" || -n "${sockerr:-}" ]]; then
    echo "WARNING: $1 saw non-2xx answers or socket errors" >&2
    INVALID=1
  fi
  echo "$rps $(to_ms "$p99")"
}

ROWS=()
P99_0=()
P99_1=()
RPS_0=()
RPS_1=()
RSS_PER=()
RSS_WITH=()
for ((r = 1; r <= ROUNDS; r++)); do
  step "round $r: without streams"
  read -r rps0 p990 < <(measure "r$r-0")
  echo "  $rps0 requests/s, p99 $p990 ms"
  rss_before=$(rss_kb)
  fds_before=$(open_fds)
  step "round $r: with $STREAMS idle streams"
  python3 "$BENCH_DIR/stream_holder.py" "$BASE_URL" "$STREAM_TOKEN" "$STREAMS" >"$WORK/holder-$r.txt" 2>&1 &
  HOLDER_PID=$!
  for _ in $(seq 1 600); do
    grep -q '^ready' "$WORK/holder-$r.txt" && break
    kill -0 "$HOLDER_PID" 2>/dev/null || die "the stream holder failed: $(cat "$WORK/holder-$r.txt")"
    sleep 0.1
  done
  grep -q '^ready' "$WORK/holder-$r.txt" || die "the $STREAMS streams did not open within 60 s"
  sleep 1
  rss_with=$(rss_kb)
  per=$(awk -v a="$rss_before" -v b="$rss_with" -v n="$STREAMS" 'BEGIN { printf "%.1f", (b - a) / n }')
  read -r rps1 p991 < <(measure "r$r-1")
  echo "  $rps1 requests/s, p99 $p991 ms; RSS $rss_before -> $rss_with KiB ($per KiB per stream)"
  stop_holder || {
    echo "WARNING: a stream ended early (holder: $(tail -n 1 "$WORK/holder-$r.txt"))" >&2
    INVALID=1
  }
  wait_streams_closed "$fds_before"
  ROWS+=("| $r | $rps0 | $p990 | $rps1 | $p991 | $per |")
  RSS_PER+=("$per")
  RSS_WITH+=("$rss_with")
  P99_0+=("$p990")
  P99_1+=("$p991")
  RPS_0+=("$rps0")
  RPS_1+=("$rps1")
done

P99_RATIOS=()
for i in "${!P99_0[@]}"; do P99_RATIOS+=("$(awk -v a="${P99_1[$i]}" -v b="${P99_0[$i]}" 'BEGIN { printf "%.3f", a / b }')"); done
# Issue 18's target 5: the instance's RSS with the streams open, and the single read's p99 beside them.
bench_target "RSS of one instance holding $STREAMS idle streams (median)" \
  "$(awk -v k="$(bench_median "${RSS_WITH[@]}")" 'BEGIN { printf "%.0f", k / 1024 }')" '<' 200 ' MiB'
bench_target "p99 with $STREAMS streams / p99 without (median of the rounds' ratios)" \
  "$(bench_median "${P99_RATIOS[@]}")" '<=' 1.10
{
  echo "GET /v1/sites/{id}, wrk $CONNS connections, ${DURATION}s a run; $STREAMS idle streams; pgbench -S $PGBENCH_TPS tps;"
  echo "$(nproc) cores, load before: $(cut -d' ' -f1-3 /proc/loadavg); commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo
  echo "| Round | req/s, 0 streams | p99 ms, 0 streams | req/s, $STREAMS streams | p99 ms, $STREAMS streams | RSS KiB per stream |"
  echo "|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${ROWS[@]}"
  echo "| **median** | $(bench_median "${RPS_0[@]}") | $(bench_median "${P99_0[@]}") | $(bench_median "${RPS_1[@]}") | $(bench_median "${P99_1[@]}") | $(bench_median "${RSS_PER[@]}") |"
  bench_target_table
  ((INVALID == 0)) || echo "(invalid run: see the warnings)"
} | tee "$RESULTS_FILE"
((INVALID == 0))
