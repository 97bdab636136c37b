#!/usr/bin/env bash
# forumnet's bounded soak (issue 8, load): a Release forumnet under a mixed read/write wrk load (tests/bench/soak.lua)
# for SOAK_SECONDS, sampling the server's memory every SOAK_SAMPLE_SECONDS. From a clean clone, root or not. Uses the
# same setup as tests/bench/run.sh (tests/bench/lib.sh): a throwaway PostgreSQL 15, the demo network plus 50 sites and
# 200 practitioners.
#
#   SOAK_SECONDS=180         how long the load runs (at least 30)
#   SOAK_CONNS=16            wrk connections (one wrk thread each; every connection acts as its own member)
#   SOAK_SAMPLE_SECONDS=5    RSS sampling period
#   SOAK_WARMUP_SECONDS=60   RSS baseline: the sample at this time (default: 60, or a third of SOAK_SECONDS if shorter)
#   SOAK_RSS_GROWTH_PCT=10   largest RSS growth allowed from the baseline to the end
#   FORUMNET_HTTP_THREADS, FORUMNET_DB_POOL_SIZE   passed to `forumnet serve` when set
#   BENCH_KEEP=1             keep the cluster and the work directory (server log, wrk output)
#
# Prints the RSS table and a Markdown summary (also written to tests/bench/last-soak.md, not in git).
# Exit status: 0 when every response was 2xx, there were no socket errors, and RSS grew less than the bound after
# warm-up; 1 otherwise (or when setup failed); 2 for a bad knob.
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

bench_script soak "$@"
SOAK_SECONDS=${SOAK_SECONDS:-180}
SOAK_CONNS=${SOAK_CONNS:-16}
SOAK_SAMPLE_SECONDS=${SOAK_SAMPLE_SECONDS:-5}
SOAK_RSS_GROWTH_PCT=${SOAK_RSS_GROWTH_PCT:-10}
if [[ -z "${SOAK_WARMUP_SECONDS:-}" ]]; then
  SOAK_WARMUP_SECONDS=60
  if ((SOAK_SECONDS < 180)); then SOAK_WARMUP_SECONDS=$((SOAK_SECONDS / 3)); fi
fi
bench_whole_numbers 0 SOAK_SECONDS SOAK_CONNS SOAK_SAMPLE_SECONDS SOAK_WARMUP_SECONDS SOAK_RSS_GROWTH_PCT
if ((SOAK_SECONDS < 30 || SOAK_CONNS < 1 || SOAK_CONNS > 200 || SOAK_SAMPLE_SECONDS < 1 ||
  SOAK_WARMUP_SECONDS >= SOAK_SECONDS)); then
  echo "soak: need SOAK_SECONDS >= 30, 1 <= SOAK_CONNS <= 200, SOAK_SAMPLE_SECONDS >= 1 and" \
    "SOAK_WARMUP_SECONDS < SOAK_SECONDS" >&2
  exit 2
fi
RESULTS_FILE=$BENCH_DIR/last-soak.md
WRK_PID=''

bench_stop_extras() { bench_stop_pid "$WRK_PID"; }
bench_traps

bench_setup wrk

step "forumnet serve"
SERVER_ENV=()
bench_server_knobs
# shellcheck disable=SC2119 # no wrapper: run forumnet directly
bench_serve
echo "listening on $BASE_URL (pid $SERVER_PID; FORUMNET_HTTP_THREADS=${FORUMNET_HTTP_THREADS:-default}," \
  "FORUMNET_DB_POOL_SIZE=${FORUMNET_DB_POOL_SIZE:-default})"

# One member per connection: the bulk practitioners share the demo admin's password.
ADMIN_TOKEN=$(bench_login "$ADMIN_EMAIL" "$ADMIN_PASSWORD") || exit 1
TOKENS=()
for ((i = 1; i <= SOAK_CONNS; i++)); do
  token=$(bench_login "bench.member$i@bench.forumnet.test" "$ADMIN_PASSWORD") || exit 1
  TOKENS+=("$token")
done
# An event everyone sees, small enough that going / declined moves members on and off its waitlist.
EVENT_JSON=$(curl -fsS -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
  --data '{"kind":"seminar","title":"Soak seminar","starts_at":"2099-02-10T10:00:00Z","ends_at":"2099-02-10T16:00:00Z",
           "location":"Online","audience":{"scope":"network"},"capacity":4}' "$BASE_URL/v1/events") ||
  die "could not create the soak event"
# The first "id" is the event's own (later ones belong to nested objects).
EVENT_ID=$(grep -o '"id"[[:space:]]*:[[:space:]]*"[^"]*"' <<<"$EVENT_JSON" | head -n 1 | sed 's/.*"\([^"]*\)"$/\1/')
[[ -n "$EVENT_ID" ]] || die "no id in the event answer: $EVENT_JSON"
for g in 1 2 3; do
  curl -fsS -o /dev/null -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
    --data "{\"name\":\"Soak group $g\"}" "$BASE_URL/v1/groups" || die "could not create a group"
done
export SOAK_TOKENS="${TOKENS[*]}" SOAK_ADMIN_TOKEN=$ADMIN_TOKEN SOAK_EVENT_ID=$EVENT_ID SOAK_SITE_ID=$SITE_ID
echo "logged in $SOAK_CONNS members; event $EVENT_ID, site $SITE_ID"

# --- the soak -----------------------------------------------------------------------------------------------
step "wrk -t$SOAK_CONNS -c$SOAK_CONNS -d${SOAK_SECONDS}s -s tests/bench/soak.lua, RSS every ${SOAK_SAMPLE_SECONDS}s"
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0; }
threads_of() { awk '/^Threads:/ { print $2 }' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0; }
fds_of() { find "/proc/$SERVER_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
WRK_OUT=$WORK/wrk.txt
wrk -t"$SOAK_CONNS" -c"$SOAK_CONNS" -d"${SOAK_SECONDS}s" --latency --timeout 10s -s "$BENCH_DIR/soak.lua" \
  "$BASE_URL" >"$WRK_OUT" 2>&1 &
WRK_PID=$!
T0=$SECONDS
SAMPLES_T=()
SAMPLES_RSS=()
printf '%8s %10s %8s %6s\n' 'time (s)' 'RSS (MiB)' 'threads' 'fds'
# Bounded: wrk ends after SOAK_SECONDS; give it 60 s more before giving up.
while kill -0 "$WRK_PID" 2>/dev/null && ((SECONDS - T0 <= SOAK_SECONDS + 60)); do
  t=$((SECONDS - T0))
  rss=$(rss_kb)
  SAMPLES_T+=("$t")
  SAMPLES_RSS+=("$rss")
  printf '%8d %10.1f %8s %6s\n' "$t" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$(threads_of)" "$(fds_of)"
  sleep "$SOAK_SAMPLE_SECONDS"
done
END_RSS=$(rss_kb)
if kill -0 "$WRK_PID" 2>/dev/null; then
  die "wrk did not finish within $((SOAK_SECONDS + 60)) s"
fi
WRK_STATUS=0
wait "$WRK_PID" || WRK_STATUS=$?
WRK_PID=''
((WRK_STATUS == 0)) || {
  cat "$WRK_OUT" >&2
  die "wrk failed (exit status $WRK_STATUS)"
}
kill -0 "$SERVER_PID" 2>/dev/null || die "forumnet serve died during the soak"
printf '%8d %10.1f %8s %6s   (after the load)\n' "$((SECONDS - T0))" "$(awk -v k="$END_RSS" 'BEGIN { print k / 1024 }')" \
  "$(threads_of)" "$(fds_of)"

# --- verdict ------------------------------------------------------------------------------------------------
cat "$WRK_OUT"
total=$(awk '/requests in/ { print $1; exit }' "$WRK_OUT")
rps=$(awk '/^[[:space:]]*Requests\/sec:/ { print $2; exit }' "$WRK_OUT")
p50=$(awk '/^[[:space:]]*Latency Distribution/ { d = 1; next } d && $1 == "50%" { print $2; exit }' "$WRK_OUT")
p99=$(awk '/^[[:space:]]*Latency Distribution/ { d = 1; next } d && $1 == "99%" { print $2; exit }' "$WRK_OUT")
non2xx=$(awk -F': *' '/Non-2xx or 3xx responses/ { print $2 + 0; exit }' "$WRK_OUT")
sockerr=$(awk '/Socket errors:/ { s = 0; for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) s += $i + 0; print s; exit }' \
  "$WRK_OUT")
non2xx=${non2xx:-0}
sockerr=${sockerr:-0}
statuses=$(awk '/^status [0-9]+: / { printf "%s%s %s", sep, $2, $3; sep = ", " }' "$WRK_OUT" | sed 's/: / /g')
[[ -n "$total" && -n "$rps" ]] || die "could not parse wrk's output"

# The baseline is the first sample at or after the warm-up; growth is measured from it to the end.
BASE_RSS=''
BASE_T=''
for i in "${!SAMPLES_T[@]}"; do
  if ((SAMPLES_T[i] >= SOAK_WARMUP_SECONDS)); then
    BASE_RSS=${SAMPLES_RSS[$i]}
    BASE_T=${SAMPLES_T[$i]}
    break
  fi
done
[[ -n "$BASE_RSS" && "$BASE_RSS" -gt 0 ]] || die "no RSS sample after the warm-up"
FIRST_RSS=${SAMPLES_RSS[0]}
MAX_RSS=$END_RSS
for r in "${SAMPLES_RSS[@]}"; do ((r > MAX_RSS)) && MAX_RSS=$r; done
GROWTH=$(awk -v a="$BASE_RSS" -v b="$END_RSS" 'BEGIN { printf "%.1f", (b - a) * 100 / a }')
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

FAILURES=()
((non2xx == 0)) || FAILURES+=("$non2xx non-2xx responses (statuses: $statuses)")
((sockerr == 0)) || FAILURES+=("$sockerr socket errors")
if awk -v g="$GROWTH" -v m="$SOAK_RSS_GROWTH_PCT" 'BEGIN { exit !(g >= m) }'; then
  FAILURES+=("RSS grew by $GROWTH% after warm-up (bound: $SOAK_RSS_GROWTH_PCT%)")
fi

COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ "$COMMIT" != unknown ]] && [[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
  COMMIT+=" (with uncommitted changes)"
fi
CPU_MODEL=$(awk -F': *' '/^(model name|Hardware|cpu model)/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
REPORT=$WORK/soak.md
{
  echo "## forumnet soak, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "${CPU_MODEL:-unknown CPU}, $(nproc 2>/dev/null || echo '?') cores; PostgreSQL $PG_VERSION; forumnet $COMMIT" \
    "(Release; FORUMNET_HTTP_THREADS=${FORUMNET_HTTP_THREADS:-default}, FORUMNET_DB_POOL_SIZE=${FORUMNET_DB_POOL_SIZE:-default})."
  echo "wrk -t$SOAK_CONNS -c$SOAK_CONNS for ${SOAK_SECONDS}s, tests/bench/soak.lua: 7 reads and 3 writes in every 10" \
    "requests, each connection its own member."
  echo
  echo "| Requests | Requests/s | p50 | p99 | Non-2xx | Socket errors | RSS at start | RSS at ${BASE_T}s | RSS at end | Peak RSS | Growth after warm-up |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  echo "| $total | $rps | $p50 | $p99 | $non2xx | $sockerr | $(mib "$FIRST_RSS") MiB | $(mib "$BASE_RSS") MiB |" \
    "$(mib "$END_RSS") MiB | $(mib "$MAX_RSS") MiB | $GROWTH% |"
  echo
  echo "Statuses: $statuses."
  if ((${#FAILURES[@]} > 0)); then
    echo
    echo "**Failed:** $(
      IFS=';'
      echo "${FAILURES[*]}"
    )."
  fi
} >"$REPORT"
cp "$REPORT" "$RESULTS_FILE"
step "Results (also in ${RESULTS_FILE#"$ROOT"/})"
cat "$REPORT"

bench_stop_server 15 || die "forumnet serve did not exit 0 on SIGTERM after the soak"
if ((${#FAILURES[@]} > 0)); then
  for f in "${FAILURES[@]}"; do echo "soak: FAILED: $f" >&2; done
  exit 1
fi
echo "soak: PASSED"
