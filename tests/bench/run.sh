#!/usr/bin/env bash
# forumnet's repeatable benchmark (see tests/bench/README.md). From a clean clone, root or not: installs what is
# missing, builds a Release forumnet into build-bench/, starts a throwaway PostgreSQL 15, seeds it, starts
# `forumnet serve`, measures `pgbench -S -M prepared` and then each wrk scenario against the same cluster, and
# prints every scenario's requests/s as a ratio to pgbench's tps. The table also goes to tests/bench/last-results.md.
#
#   CONNS=32                    connections for pgbench and the wrk scenarios (login uses LOGIN_CONNS)
#   DURATION=10                 seconds per measurement (pgbench and each scenario)
#   LOGIN_CONNS=8               connections for the Argon2id-bound login scenario
#   WARMUP=1                    seconds of unrecorded wrk traffic before each scenario (0: none)
#   PGBENCH_SCALE=10            pgbench -i scale factor
#   FORUMNET_HTTP_THREADS       passed to `forumnet serve` when set (unset: the server's default)
#   FORUMNET_DB_POOL_SIZE       passed to `forumnet serve` when set (unset: the server's default)
#   BENCH_KEEP=1                keep the throwaway cluster's directory and the server log (paths are printed)
#
# Exit status: 0 for a valid run; 1 when setup failed or any scenario saw non-2xx responses or socket errors
# (the table is still printed and written, marked invalid).
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

CONNS=${CONNS:-32}
DURATION=${DURATION:-10}
LOGIN_CONNS=${LOGIN_CONNS:-8}
WARMUP=${WARMUP:-1}
PGBENCH_SCALE=${PGBENCH_SCALE:-10}
for knob in CONNS DURATION LOGIN_CONNS WARMUP PGBENCH_SCALE; do
  if ! [[ ${!knob} =~ ^[0-9]+$ ]]; then
    echo "bench: $knob must be a whole number (got '${!knob}')" >&2
    exit 2
  fi
done
if ((CONNS < 1 || LOGIN_CONNS < 1 || DURATION < 1 || PGBENCH_SCALE < 1)); then
  echo "bench: CONNS, LOGIN_CONNS, DURATION and PGBENCH_SCALE must be at least 1" >&2
  exit 2
fi

JOBS=$(nproc 2>/dev/null || echo 2)
STARTED=$SECONDS
BUILD_DIR=$ROOT/build-bench
RESULTS_FILE=$BENCH_DIR/last-results.md
PG_BASE=''
PG_DATA=''
SERVER_PID=''
SERVER_LOG=''
WORK=''

step() { printf '\n==> %s\n' "$*"; }
die() {
  echo "bench: $*" >&2
  exit 1
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if ((status != 0)) && [[ -n "$SERVER_LOG" && -s "$SERVER_LOG" ]]; then
    echo "--- last lines of the forumnet log ($SERVER_LOG) ---" >&2
    tail -n 20 "$SERVER_LOG" >&2 || true
  fi
  if [[ -n "$PG_DATA" ]]; then
    pg_stop "$PG_DATA" immediate >/dev/null 2>&1 || true
  fi
  if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
    [[ -n "$PG_BASE" ]] && echo "kept the benchmark cluster's directory: $PG_BASE"
    [[ -n "$WORK" ]] && echo "kept the benchmark's work directory (server log, wrk output): $WORK"
  else
    [[ -n "$PG_BASE" ]] && rm -rf "$PG_BASE"
    [[ -n "$WORK" ]] && rm -rf "$WORK"
  fi
  printf '\nbench: finished in %ss (exit status %s)\n' "$((SECONDS - STARTED))" "$status"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- dependencies and build ---------------------------------------------------------------------------------
step "Debian packages"
# shellcheck disable=SC2086 # one package name per word
deps_install $FORUMNET_BUILD_PACKAGES $FORUMNET_TEST_PACKAGES || die "could not install the dependencies"
PGBENCH=$PG_BIN/pgbench
[[ -x "$PGBENCH" ]] || PGBENCH=$(command -v pgbench) || die "pgbench not found (install postgresql-contrib)"
command -v wrk >/dev/null || die "wrk not found"

step "Release build (build-bench/)"
bench_build "$BUILD_DIR" Release
echo "built $FORUMNET ($("$FORUMNET" version 2>/dev/null || echo '?'))"

WORK=$(mktemp -d /tmp/forumnet-bench-work.XXXXXX)

# --- throwaway PostgreSQL -----------------------------------------------------------------------------------
step "Throwaway PostgreSQL 15"
bench_pg_start
pg_createdb "$PG_SOCK" "$PG_PORT" pgbench
echo "PostgreSQL $PG_VERSION at $PG_SOCK (settings: $PG_SETTINGS)"

# --- schema and data ----------------------------------------------------------------------------------------
step "Migrate and seed"
SEED_START=$SECONDS
bench_seed
COUNTS=$(psql_forumnet -At -F ' ' -c 'SELECT (SELECT count(*) FROM sites), (SELECT count(*) FROM members)')
echo "seeded in $((SECONDS - SEED_START))s: $((${COUNTS% *})) sites, $((${COUNTS#* })) members (demo network + bulk)"

# --- forumnet serve -----------------------------------------------------------------------------------------
step "forumnet serve"
SERVER_ENV=()
for knob in FORUMNET_HTTP_THREADS FORUMNET_DB_POOL_SIZE; do
  if [[ -n "${!knob:-}" ]]; then SERVER_ENV+=("$knob=${!knob}"); fi
done
HTTP_THREADS_SHOWN=${FORUMNET_HTTP_THREADS:-default}
POOL_SHOWN=${FORUMNET_DB_POOL_SIZE:-default}
# shellcheck disable=SC2119 # no wrapper: run forumnet directly
bench_serve
echo "listening on $BASE_URL (FORUMNET_HTTP_THREADS=$HTTP_THREADS_SHOWN, FORUMNET_DB_POOL_SIZE=$POOL_SHOWN)"

ADMIN_TOKEN=$(bench_login "$ADMIN_EMAIL" "$ADMIN_PASSWORD")
PRACTITIONER_TOKEN=$(bench_login "$PRACTITIONER_EMAIL" "$PRACTITIONER_PASSWORD")
# For wrk Lua scripts (tests/bench/*.lua).
export BENCH_BASE_URL=$BASE_URL BENCH_ADMIN_TOKEN=$ADMIN_TOKEN BENCH_PRACTITIONER_TOKEN=$PRACTITIONER_TOKEN \
  BENCH_SITE_ID=$SITE_ID BENCH_MEMBER_ID=$MEMBER_ID BENCH_PRACTITIONER_EMAIL=$PRACTITIONER_EMAIL \
  BENCH_PRACTITIONER_PASSWORD=$PRACTITIONER_PASSWORD
echo "logged in as $ADMIN_EMAIL and $PRACTITIONER_EMAIL; site $SITE_ID, member $MEMBER_ID"

# --- pgbench ------------------------------------------------------------------------------------------------
step "pgbench -i -s $PGBENCH_SCALE (database pgbench, same cluster)"
pgbench_run() { "$PGBENCH" -h "$PG_SOCK" -p "$PG_PORT" -U "$PG_SUPERUSER" "$@"; }
pgbench_run -i -q -s "$PGBENCH_SCALE" pgbench >"$WORK/pgbench-init.txt" 2>&1 || {
  cat "$WORK/pgbench-init.txt" >&2
  die "pgbench -i failed"
}
PGBENCH_THREADS=$((CONNS < 2 ? CONNS : 2))
step "pgbench -S -M prepared -c $CONNS -j $PGBENCH_THREADS -T $DURATION"
pgbench_run -S -M prepared -c "$CONNS" -j "$PGBENCH_THREADS" -T "$DURATION" pgbench >"$WORK/pgbench.txt" 2>&1 || {
  cat "$WORK/pgbench.txt" >&2
  die "pgbench failed"
}
# "tps = 12345.678901 (without initial connection time)" (PostgreSQL 14+; older versions print two tps lines).
PGBENCH_TPS=$(awk '/^tps = / && !/including connections establishing/ { print $3; exit }' "$WORK/pgbench.txt")
PGBENCH_LAT=$(awk -F' = ' '/^latency average/ { print $2; exit }' "$WORK/pgbench.txt")
PGBENCH_FAILED=$(awk -F': ' '/^number of failed transactions/ { split($2, a, " "); print a[1]; exit }' \
  "$WORK/pgbench.txt")
[[ -n "$PGBENCH_TPS" ]] || {
  cat "$WORK/pgbench.txt" >&2
  die "could not read tps from pgbench's output"
}
printf 'pgbench: %.0f tps, latency average %s\n' "$PGBENCH_TPS" "${PGBENCH_LAT:-?}"

# --- wrk scenarios ------------------------------------------------------------------------------------------
# One line per scenario: add_scenario NAME CONNECTIONS AUTH METHOD+PATH [LUA_SCRIPT]
#   AUTH is admin, practitioner or none (sends "Authorization: Bearer <token>").
#   METHOD+PATH is "GET /v1/..."; for other methods or a body, give a Lua script in tests/bench/ that sets
#   wrk.method / wrk.body / wrk.headers (it can read the BENCH_* variables exported above with os.getenv).
SCENARIO_NAMES=()
SCENARIO_CONNS=()
SCENARIO_AUTH=()
SCENARIO_TARGET=()
SCENARIO_LUA=()
add_scenario() {
  SCENARIO_NAMES+=("$1")
  SCENARIO_CONNS+=("$2")
  SCENARIO_AUTH+=("$3")
  SCENARIO_TARGET+=("$4")
  SCENARIO_LUA+=("${5:-}")
}
add_scenario "GET /v1/sites/{id} (admin)" "$CONNS" admin "GET /v1/sites/$SITE_ID"
add_scenario "GET /v1/members/{id} (admin reads a practitioner)" "$CONNS" admin "GET /v1/members/$MEMBER_ID"
add_scenario "GET /v1/sites?limit=50 (admin, list page)" "$CONNS" admin "GET /v1/sites?limit=50"
add_scenario "POST /v1/auth/login (practitioner, Argon2id)" "$LOGIN_CONNS" none "POST /v1/auth/login" login.lua

# Converts a wrk duration ("812.00us", "1.23ms", "2.01s", "1.00m") to milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "ms") n = n; else if (u == "s") n *= 1000;
    else if (u == "m") n *= 60000; else if (u == "h") n *= 3600000; else { print "?"; exit }
    printf "%.2f", n
  }'
}

ROWS=()
INVALID=()
for i in "${!SCENARIO_NAMES[@]}"; do
  name=${SCENARIO_NAMES[$i]}
  conns=${SCENARIO_CONNS[$i]}
  threads=$((conns < 2 ? conns : 2))
  target=${SCENARIO_TARGET[$i]}
  path=${target#* }
  hdr=()
  case ${SCENARIO_AUTH[$i]} in
    admin) hdr=(-H "Authorization: Bearer $ADMIN_TOKEN") ;;
    practitioner) hdr=(-H "Authorization: Bearer $PRACTITIONER_TOKEN") ;;
    none) ;;
    *) die "scenario '$name': unknown AUTH '${SCENARIO_AUTH[$i]}'" ;;
  esac
  args=(-t"$threads" -c"$conns" --latency --timeout 10s "${hdr[@]}")
  if [[ -n "${SCENARIO_LUA[$i]}" ]]; then
    [[ -f "$BENCH_DIR/${SCENARIO_LUA[$i]}" ]] || die "scenario '$name': no tests/bench/${SCENARIO_LUA[$i]}"
    args+=(-s "$BENCH_DIR/${SCENARIO_LUA[$i]}")
  fi
  step "wrk $name: -t$threads -c$conns -d${DURATION}s"
  code=''
  if [[ -z "${SCENARIO_LUA[$i]}" ]]; then
    # One request first: a scenario that cannot succeed once is not worth timing without a warning.
    code=$(curl -s -o /dev/null -w '%{http_code}' -X "${target%% *}" "${hdr[@]}" "$BASE_URL$path" || true)
    [[ $code == 2?? ]] || echo "WARNING: a single $target answered HTTP $code" >&2
  fi
  if ((WARMUP > 0)); then
    wrk "${args[@]}" -d"${WARMUP}s" "$BASE_URL$path" >/dev/null 2>&1 || true
  fi
  out=$WORK/wrk-$i.txt
  wrk "${args[@]}" -d"${DURATION}s" "$BASE_URL$path" >"$out" 2>&1 || {
    cat "$out" >&2
    die "wrk failed for scenario '$name'"
  }
  rps=$(awk '/^[[:space:]]*Requests\/sec:/ { print $2; exit }' "$out")
  p50=$(awk '/^[[:space:]]*Latency Distribution/ { d = 1; next } d && $1 == "50%" { print $2; exit }' "$out")
  p99=$(awk '/^[[:space:]]*Latency Distribution/ { d = 1; next } d && $1 == "99%" { print $2; exit }' "$out")
  total=$(awk '/requests in/ { print $1; exit }' "$out")
  non2xx=$(awk -F': *' '/Non-2xx or 3xx responses/ { print $2 + 0; exit }' "$out")
  sockerr=$(awk '/Socket errors:/ { s = 0; for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) s += $i + 0; print s; exit }' "$out")
  non2xx=${non2xx:-0}
  sockerr=${sockerr:-0}
  if [[ -z "$rps" || -z "$p50" || -z "$p99" ]]; then
    cat "$out" >&2
    die "could not parse wrk's output for scenario '$name'"
  fi
  p50_ms=$(to_ms "$p50")
  p99_ms=$(to_ms "$p99")
  # Three decimals; two significant digits for tiny ratios (login) so they do not print as 0.000.
  ratio=$(awk -v r="$rps" -v t="$PGBENCH_TPS" 'BEGIN { x = r / t; if (x >= 0.01) printf "%.3f", x; else printf "%.2g", x }')
  printf '%s: %.1f requests/s (%s requests), p50 %s ms, p99 %s ms, non-2xx %s, socket errors %s, ratio %s\n' \
    "$name" "$rps" "${total:-?}" "$p50_ms" "$p99_ms" "$non2xx" "$sockerr" "$ratio"
  if ((non2xx > 0 || sockerr > 0)); then
    echo "WARNING: scenario '$name' had $non2xx non-2xx responses and $sockerr socket errors: its figures are" \
      "not valid" >&2
    INVALID+=("$name")
    flag=' (INVALID)'
  else
    flag=''
  fi
  ROWS+=("$(printf '| %s%s | %s | %.1f | %s | %s | %s | %s | %s |' "$name" "$flag" "$conns" "$rps" "$p50_ms" "$p99_ms" \
    "$non2xx" "$sockerr" "$ratio")")
done

# --- report -------------------------------------------------------------------------------------------------
CPU_MODEL=$(awk -F': *' '/^(model name|Hardware|cpu model)/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
if [[ -z "$CPU_MODEL" ]] && command -v lscpu >/dev/null; then
  CPU_MODEL=$(lscpu | awk -F': *' '/^Model name/ { print $2; exit }')
fi
MEM_GB=$(awk '/^MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo 2>/dev/null || echo '?')
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ "$COMMIT" != unknown ]] && [[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
  COMMIT+=" (with uncommitted changes)"
fi
REPORT=$WORK/report.md
{
  echo "## forumnet benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "| Machine | |"
  echo "|---|---|"
  echo "| CPU | ${CPU_MODEL:-unknown} |"
  echo "| nproc | $JOBS |"
  echo "| Memory | $MEM_GB GiB |"
  echo "| Kernel | $(uname -sr) |"
  echo "| PostgreSQL | $PG_VERSION ($PG_SETTINGS) |"
  echo "| forumnet | $COMMIT, Release build; FORUMNET_HTTP_THREADS=$HTTP_THREADS_SHOWN, FORUMNET_DB_POOL_SIZE=$POOL_SHOWN |"
  echo "| Load generators | pgbench -S -M prepared -c $CONNS -j $PGBENCH_THREADS -T $DURATION (scale $PGBENCH_SCALE); wrk -t2 --latency, ${DURATION}s per scenario after ${WARMUP}s warm-up, same machine |"
  echo
  echo "| Scenario | Connections | Requests/s | p50 (ms) | p99 (ms) | Non-2xx | Socket errors | ÷ pgbench tps |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  printf '| pgbench -S -M prepared (transactions/s) | %s | %.1f | | | %s failed | | 1.000 |\n' "$CONNS" \
    "$PGBENCH_TPS" "${PGBENCH_FAILED:-0}"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "pgbench reports no percentiles; its latency average was ${PGBENCH_LAT:-?}. Login runs with $LOGIN_CONNS"
  echo "connections: every request is a full Argon2id verification, bound by CPU and memory, not by the database."
  echo "Issue 2's target is a ratio of at least 0.35 for the authenticated single-resource GETs."
  if ((${#INVALID[@]} > 0)); then
    echo
    echo "**Invalid run:** non-2xx responses or socket errors in: $(
      IFS=,
      echo "${INVALID[*]}"
    )."
  fi
} >"$REPORT"
cp "$REPORT" "$RESULTS_FILE"
step "Results (also in ${RESULTS_FILE#"$ROOT"/})"
cat "$REPORT"

if ((${#INVALID[@]} > 0)); then
  echo "bench: WARNING: the run is not valid (non-2xx responses or socket errors); see above" >&2
  exit 1
fi
