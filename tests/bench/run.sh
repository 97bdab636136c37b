#!/usr/bin/env bash
# forumnet's repeatable benchmark (see tests/bench/README.md). From a clean clone, root or not: installs what is
# missing, builds a Release forumnet into build-bench/, starts a throwaway PostgreSQL 15, seeds it, starts
# `forumnet serve`, measures `pgbench -S -M prepared` and then each wrk scenario against the same cluster, and
# prints every scenario's requests/s as a ratio to pgbench's tps. The table also goes to tests/bench/last-results.md.
#
#   tests/bench/run.sh [--scale N]
#
#   --scale N (or BENCH_SCALE=N)  also `forumnet seed --scale N` (N=1: the national network of issue 6, ~40 s),
#                               VACUUM ANALYZE, and the manager-summary scenarios (site summary, overview page as
#                               JSON and CSV) with their p95 targets; writes the summary statement's
#                               EXPLAIN (ANALYZE, BUFFERS) to tests/bench/last-explain.md. Default: no scale data.
#   SUMMARY_CONNS=4             connections for the site summary (and the threads page) scenarios
#   OVERVIEW_CONNS=8            connections for the overview page scenarios (issue 18: 8 concurrent managers)
#   SUMMARY_ONLY=1              with --scale: pgbench and the summary scenarios only (before/after rounds)
#   SUMMARY_DURATION=20         seconds per summary scenario (they are slow: more seconds, more samples for p95/p99)
#   CONNS=32                    connections for pgbench and the wrk scenarios (login uses LOGIN_CONNS)
#   DURATION=10                 seconds per measurement (pgbench and each scenario)
#   LOGIN_CONNS=8               connections for the Argon2id-bound login scenario
#   WARMUP=3                    seconds of unrecorded wrk traffic before each scenario (0: none; why 3: README.md)
#   PGBENCH_SCALE=10            pgbench -i scale factor
#   FORUMNET_HTTP_THREADS       passed to `forumnet serve` when set (unset: the server's default)
#   FORUMNET_DB_POOL_SIZE       passed to `forumnet serve` when set (unset: the server's default)
#   FORUMNET_SLOW_THREADS       passed to `forumnet serve` when set (0: slow routes on the epoll workers)
#   HOL_CONNS=8, HOL_PAUSE_MS=1000  connections logging in beside the single reads in the head-of-line measurement,
#                               and each one's pause between logins
#   FORUMNET_DB_POOLER          passed to `forumnet serve` when set; `transaction` (unnamed statements, no startup
#                               options) also gives the role the README's settings first, to measure that mode's cost
#   BENCH_KEEP=1                keep the throwaway cluster's directory and the server log (paths are printed)
#
# Exit status: 0 for a valid run; 1 when setup failed or any scenario saw non-2xx responses or socket errors
# (the table is still printed and written, marked invalid). Latency targets are printed as PASS or MISS and never
# change the exit status: timings depend on the machine and its load.
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

BENCH_SCALE=${BENCH_SCALE:-}
BENCH_TAKES_SCALE=1
bench_script bench "$@"
CONNS=${CONNS:-32}
DURATION=${DURATION:-10}
LOGIN_CONNS=${LOGIN_CONNS:-8}
WARMUP=${WARMUP:-3}
PGBENCH_SCALE=${PGBENCH_SCALE:-10}
SUMMARY_CONNS=${SUMMARY_CONNS:-4}
OVERVIEW_CONNS=${OVERVIEW_CONNS:-8}
SUMMARY_DURATION=${SUMMARY_DURATION:-20}
SUMMARY_ONLY=${SUMMARY_ONLY:-0}
bench_whole_numbers 0 CONNS DURATION LOGIN_CONNS WARMUP PGBENCH_SCALE SUMMARY_CONNS OVERVIEW_CONNS SUMMARY_DURATION \
  SUMMARY_ONLY
if ((CONNS < 1 || LOGIN_CONNS < 1 || DURATION < 1 || PGBENCH_SCALE < 1 || SUMMARY_CONNS < 1 || OVERVIEW_CONNS < 1 ||
  SUMMARY_DURATION < 1)); then
  echo "bench: CONNS, LOGIN_CONNS, DURATION, PGBENCH_SCALE, SUMMARY_CONNS, OVERVIEW_CONNS and SUMMARY_DURATION must be" \
    "at least 1" >&2
  exit 2
fi

JOBS=$(nproc 2>/dev/null || echo 2)
RESULTS_FILE=$BENCH_DIR/last-results.md
EXPLAIN_FILE=$BENCH_DIR/last-explain.md
# Issue 18's targets for the summary scenarios (milliseconds, p95, on the N=1 data set; issue 6 asked 50 and 200):
# the site summary, and the overview page at OVERVIEW_CONNS (8) concurrent managers.
SITE_SUMMARY_P95_TARGET=20
OVERVIEW_P95_TARGET=100
# Issue 15's page of 50 threads with unread counts (milliseconds, p95).
THREADS_P95_TARGET=50
bench_traps

# --- dependencies and build ---------------------------------------------------------------------------------
step "Debian packages"
# shellcheck disable=SC2086 # one package name per word
deps_install $FORUMNET_BUILD_PACKAGES $FORUMNET_TEST_PACKAGES || die "could not install the dependencies"
bench_find_pgbench
command -v wrk >/dev/null || die "wrk not found"

step "Release build (build-bench/)"
bench_build "$BUILD_DIR" Release
echo "built $FORUMNET ($("$FORUMNET" version 2>/dev/null || echo '?'))"

WORK=$(mktemp -d /tmp/forumnet-bench-work.XXXXXX)

# --- throwaway PostgreSQL -----------------------------------------------------------------------------------
step "Throwaway PostgreSQL 15"
if [[ -n "$BENCH_SCALE" ]]; then
  # auto_explain is loaded for tests/bench/last-explain.md but logs nothing until bench_explain_summaries asks.
  BENCH_PG_EXTRA_SETTINGS=$BENCH_SCALE_PG_SETTINGS
fi
bench_pg_start
echo "PostgreSQL $PG_VERSION at $PG_SOCK (settings: $PG_SETTINGS)"

# --- schema and data ----------------------------------------------------------------------------------------
step "Migrate and seed"
SEED_START=$SECONDS
bench_seed
COUNTS=$(psql_forumnet -At -F ' ' -c 'SELECT (SELECT count(*) FROM sites), (SELECT count(*) FROM members)')
echo "seeded in $((SECONDS - SEED_START))s: $((${COUNTS% *})) sites, $((${COUNTS#* })) members (demo network + bulk)"
if [[ -n "$BENCH_SCALE" ]]; then
  step "forumnet seed --scale $BENCH_SCALE, then VACUUM ANALYZE"
  bench_seed_scale "$BENCH_SCALE"
  sed -n '/^rows in each table now/,/^$/p' "$WORK/seed-scale.txt"
  echo "seeded in ${SCALE_SEED_SECONDS}s, VACUUM ANALYZE + CHECKPOINT in ${SCALE_VACUUM_SECONDS}s"
  # What the two summary scenarios read: the manager's site(s), and the admin's first page of sites (by creation,
  # as the API pages them: the generated sites are the oldest, so the page holds the scale data, not the demo's).
  SCALE_SITE_INFO=$(psql_forumnet -At -F ' ' -v site="${SCALE_MANAGER_SITES[0]}" <<'SQL'
SELECT s.slug, (SELECT count(*) FROM groups g WHERE g.site_id = s.id),
       (SELECT count(*) FROM members m WHERE m.home_site_id = s.id AND m.role = 'practitioner' AND m.status = 'active'),
       (SELECT count(*) FROM members m WHERE m.home_site_id = s.id AND m.status = 'active')
FROM sites s WHERE s.id = :'site';
SQL
  )
  read -r SCALE_SITE_SLUG SCALE_SITE_GROUPS SCALE_SITE_PRACTITIONERS SCALE_SITE_MEMBERS <<<"$SCALE_SITE_INFO"
  SCALE_PAGE_GENERATED=$(psql_forumnet -At -c "SELECT count(*) FILTER (WHERE slug LIKE 'scale-%') FROM
    (SELECT slug FROM sites WHERE archived_at IS NULL ORDER BY created_at, id LIMIT 50) p")
  SCALE_AVG_MEMBERS=$(psql_forumnet -At -c "SELECT round(avg(n)) FROM (SELECT count(*) AS n FROM members m
    JOIN sites s ON s.id = m.home_site_id WHERE s.slug LIKE 'scale-%' AND m.status = 'active' GROUP BY s.id) x")
  echo "manager $SCALE_MANAGER_EMAIL manages ${#SCALE_MANAGER_SITES[@]} site(s); the first, $SCALE_SITE_SLUG, has" \
    "$SCALE_SITE_GROUPS groups, $SCALE_SITE_MEMBERS active members ($SCALE_SITE_PRACTITIONERS practitioners; generated sites" \
    "average $SCALE_AVG_MEMBERS members)"
  echo "the admin's first page of 50 sites holds $SCALE_PAGE_GENERATED generated sites"
fi

# --- forumnet serve -----------------------------------------------------------------------------------------
step "forumnet serve"
SERVER_ENV=()
for knob in FORUMNET_HTTP_THREADS FORUMNET_DB_POOL_SIZE FORUMNET_DB_POOLER FORUMNET_SLOW_THREADS; do
  if [[ -n "${!knob:-}" ]]; then SERVER_ENV+=("$knob=${!knob}"); fi
done
if [[ "${FORUMNET_DB_POOLER:-}" == transaction ]]; then bench_pooler_role_settings CURRENT_USER; fi
# The login scenario sends LOGIN_CONNS concurrent logins of one e-mail from one address. Login claims an attempt
# before the (slow) Argon2id check and gives it back on success, so more concurrent logins of one account than
# FORUMNET_LOGIN_MAX_FAILURES (5) answer 429 in a few microseconds and the scenario measures the limiter, not
# Argon2id. Lift both limits for the benchmark only.
SERVER_ENV+=(FORUMNET_LOGIN_MAX_FAILURES=1000000 FORUMNET_LOGIN_MAX_FAILURES_PER_ADDRESS=1000000)
HTTP_THREADS_SHOWN=${FORUMNET_HTTP_THREADS:-default}
POOL_SHOWN=${FORUMNET_DB_POOL_SIZE:-default}
# shellcheck disable=SC2119 # no wrapper: run forumnet directly
bench_serve
echo "listening on $BASE_URL (FORUMNET_HTTP_THREADS=$HTTP_THREADS_SHOWN, FORUMNET_DB_POOL_SIZE=$POOL_SHOWN," \
  "FORUMNET_DB_POOLER=${FORUMNET_DB_POOLER:-session})"

ADMIN_TOKEN=$(bench_login "$ADMIN_EMAIL" "$ADMIN_PASSWORD")
PRACTITIONER_TOKEN=$(bench_login "$PRACTITIONER_EMAIL" "$PRACTITIONER_PASSWORD")
# For wrk Lua scripts (tests/bench/*.lua).
export BENCH_BASE_URL=$BASE_URL BENCH_ADMIN_TOKEN=$ADMIN_TOKEN BENCH_PRACTITIONER_TOKEN=$PRACTITIONER_TOKEN \
  BENCH_SITE_ID=$SITE_ID BENCH_MEMBER_ID=$MEMBER_ID BENCH_PRACTITIONER_EMAIL=$PRACTITIONER_EMAIL \
  BENCH_PRACTITIONER_PASSWORD=$PRACTITIONER_PASSWORD
echo "logged in as $ADMIN_EMAIL and $PRACTITIONER_EMAIL; site $SITE_ID, member $MEMBER_ID"
if [[ -n "$BENCH_SCALE" ]]; then
  SCALE_ADMIN_TOKEN=$(bench_login "$SCALE_ADMIN_EMAIL" "$SCALE_PASSWORD")
  SCALE_MANAGER_TOKEN=$(bench_login "$SCALE_MANAGER_EMAIL" "$SCALE_PASSWORD")
  echo "logged in as the generated admin $SCALE_ADMIN_EMAIL and manager $SCALE_MANAGER_EMAIL"
fi

# --- pgbench ------------------------------------------------------------------------------------------------
step "pgbench -i -s $PGBENCH_SCALE (database pgbench, same cluster)"
# Everything here shares the CPU with whatever else runs on the machine: note how busy it was.
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
bench_pgbench_init "$PGBENCH_SCALE"
PGBENCH_THREADS=$((CONNS < 2 ? CONNS : 2))
step "pgbench -S -M prepared -c $CONNS -j $PGBENCH_THREADS -T $DURATION"
# pgbench has no percentiles of its own: it logs one transaction in 10 (what it costs pgbench is small) and
# bench_pgbench_percentiles reads them, so the read's p99 (issue 18's target 1) has the database's own beside it.
bench_pgbench -S -M prepared -c "$CONNS" -j "$PGBENCH_THREADS" -T "$DURATION" \
  --log --sampling-rate=0.1 --log-prefix="$WORK/pgbench-log" pgbench >"$WORK/pgbench.txt" 2>&1 || {
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
read -r PGBENCH_P50 PGBENCH_P95 PGBENCH_P99 < <(bench_pgbench_percentiles "$WORK/pgbench-log") || true
printf 'pgbench: %.0f tps, latency average %s, p50/p95/p99 %s/%s/%s ms\n' "$PGBENCH_TPS" "${PGBENCH_LAT:-?}" \
  "${PGBENCH_P50:-?}" "${PGBENCH_P95:-?}" "${PGBENCH_P99:-?}"

# --- wrk scenarios ------------------------------------------------------------------------------------------
# One line per scenario:
#   add_scenario NAME CONNECTIONS AUTH "METHOD PATH [PATH...]" [LUA_SCRIPT] [HEADER] [P95_TARGET_MS] [SECONDS]
#                [RATIO_TARGET] [P99_TARGET_MS]
#   AUTH is admin, practitioner, none, or with --scale scale_admin or manager (the generated network's logins);
#   it sends "Authorization: Bearer <token>".
#   A GET needs no script: tests/bench/get.lua sends it as given, cycling through the paths when there are several,
#   and prints the p95 latency. For other methods or a body, give a Lua script in tests/bench/ that sets
#   wrk.method / wrk.body / wrk.headers (it can read the BENCH_* variables exported above with os.getenv) and
#   defines the same done() as get.lua. HEADER is one more request header ("Accept: text/csv"). P95_TARGET_MS
#   prints PASS or MISS against the 95th percentile. SECONDS overrides DURATION. RATIO_TARGET (a minimum ratio to
#   pgbench) and P99_TARGET_MS (a maximum) print PASS or MISS too (issue 18's targets 1 and 3: this run is one
#   round; tests/bench/peer.sh takes the medians of interleaved rounds for the single read).
SCENARIO_NAMES=()
SCENARIO_CONNS=()
SCENARIO_AUTH=()
SCENARIO_TARGET=()
SCENARIO_LUA=()
SCENARIO_HEADER=()
SCENARIO_P95_TARGET=()
SCENARIO_SECONDS=()
SCENARIO_RATIO_TARGET=()
SCENARIO_P99_TARGET=()
add_scenario() {
  SCENARIO_NAMES+=("$1")
  SCENARIO_CONNS+=("$2")
  SCENARIO_AUTH+=("$3")
  SCENARIO_TARGET+=("$4")
  SCENARIO_LUA+=("${5:-}")
  SCENARIO_HEADER+=("${6:-}")
  SCENARIO_P95_TARGET+=("${7:-}")
  SCENARIO_SECONDS+=("${8:-$DURATION}")
  SCENARIO_RATIO_TARGET+=("${9:-}")
  SCENARIO_P99_TARGET+=("${10:-}")
}
# Issue 18's targets 1 and 3 at CONNS connections: ratios to pgbench and p99 bounds (milliseconds).
SINGLE_READ_RATIO_TARGET=0.50
SINGLE_READ_P99_TARGET=5
LIST_RATIO_TARGET=0.20
LIST_P99_TARGET=20
if [[ -z "$BENCH_SCALE" || "$SUMMARY_ONLY" != 1 ]]; then
  add_scenario "GET /v1/sites/{id} (admin)" "$CONNS" admin "GET /v1/sites/$SITE_ID" "" "" "" "" \
    "$SINGLE_READ_RATIO_TARGET" "$SINGLE_READ_P99_TARGET"
  add_scenario "GET /v1/members/{id} (admin reads a practitioner)" "$CONNS" admin "GET /v1/members/$MEMBER_ID" \
    "" "" "" "" "$SINGLE_READ_RATIO_TARGET" "$SINGLE_READ_P99_TARGET"
  add_scenario "GET /v1/sites?limit=50 (admin, list page)" "$CONNS" admin "GET /v1/sites?limit=50" "" "" "" "" \
    "$LIST_RATIO_TARGET" "$LIST_P99_TARGET"
  add_scenario "POST /v1/auth/login (practitioner, Argon2id)" "$LOGIN_CONNS" none "POST /v1/auth/login" login.lua
  # Issue 15: a page of 50 threads with the caller's unread counts, on a group of 10 000 posts (bench_seed_discussions).
  add_scenario "GET /v1/groups/{id}/threads?limit=50 (member, 10 000 posts, unread counts)" "$SUMMARY_CONNS" \
    practitioner "GET /v1/groups/$DISCUSSION_GROUP_ID/threads?limit=50" "" "" "$THREADS_P95_TARGET"
fi
if [[ -n "$BENCH_SCALE" ]]; then
  # The targets are response times as a manager sees them. The overview runs at OVERVIEW_CONNS (issue 18: 8
  # concurrent managers); on a 2-core machine that is a queue for the CPU unless a page costs well under 25 ms.
  SUMMARY_PATHS=''
  for site in "${SCALE_MANAGER_SITES[@]}"; do SUMMARY_PATHS+=" /v1/sites/$site/summary"; done
  add_scenario "GET /v1/sites/{id}/summary (manager, ${#SCALE_MANAGER_SITES[@]} site(s))" "$SUMMARY_CONNS" manager \
    "GET$SUMMARY_PATHS" "" "" "$SITE_SUMMARY_P95_TARGET" "$SUMMARY_DURATION"
  add_scenario "GET /v1/summaries/sites (admin, first page of 50)" "$OVERVIEW_CONNS" scale_admin \
    "GET /v1/summaries/sites" "" "" "$OVERVIEW_P95_TARGET" "$SUMMARY_DURATION"
  add_scenario "GET /v1/summaries/sites, Accept: text/csv (admin, first page of 50)" "$OVERVIEW_CONNS" scale_admin \
    "GET /v1/summaries/sites" "" "Accept: text/csv" "$OVERVIEW_P95_TARGET" "$SUMMARY_DURATION"
  if ((OVERVIEW_CONNS > 1)); then
    # One connection: no queueing, so p95 is the page's own response time (what the rows above add to it is
    # waiting for a core).
    add_scenario "GET /v1/summaries/sites (admin, first page of 50, 1 connection)" 1 scale_admin \
      "GET /v1/summaries/sites" "" "" "$OVERVIEW_P95_TARGET" "$SUMMARY_DURATION"
  fi
fi

# Converts a wrk duration ("812.00us", "1.23ms", "2.01s", "1.00m") to milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "ms") n = n; else if (u == "s") n *= 1000;
    else if (u == "m") n *= 60000; else if (u == "h") n *= 3600000; else { print "?"; exit }
    printf "%.2f", n
  }'
}

# wrk_read FILE NAME: reads one wrk run's figures into rps, total, p50_ms, p95_ms and p999_ms (get.lua's lines),
# p99_ms, max_ms, non2xx and sockerr; stops the bench when wrk printed no figures.
wrk_read() {
  local p50 p99 p95_us p999_us
  rps=$(awk '/^[[:space:]]*Requests\/sec:/ { print $2; exit }' "$1")
  p50=$(awk '/^[[:space:]]*Latency Distribution/ { d = 1; next } d && $1 == "50%" { print $2; exit }' "$1")
  p99=$(awk '/^[[:space:]]*Latency Distribution/ { d = 1; next } d && $1 == "99%" { print $2; exit }' "$1")
  p95_us=$(awk '/^p95 latency:/ { print $3; exit }' "$1")
  p999_us=$(awk '/^p99.9 latency:/ { print $3; exit }' "$1")
  max_ms=$(to_ms "$(awk '$1 == "Latency" && NF >= 4 { print $4; exit }' "$1")")
  total=$(awk '/requests in/ { print $1; exit }' "$1")
  non2xx=$(awk -F': *' '/Non-2xx or 3xx responses/ { print $2 + 0; exit }' "$1")
  sockerr=$(awk '/Socket errors:/ { s = 0; for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) s += $i + 0; print s; exit }' "$1")
  non2xx=${non2xx:-0}
  sockerr=${sockerr:-0}
  if [[ -z "$rps" || -z "$p50" || -z "$p99" ]]; then
    cat "$1" >&2
    die "could not parse wrk's output for scenario '$2'"
  fi
  p50_ms=$(to_ms "$p50")
  p99_ms=$(to_ms "$p99")
  p95_ms=$(awk -v u="${p95_us:-}" 'BEGIN { if (u == "") print "?"; else printf "%.2f", u / 1000 }')
  p999_ms=$(awk -v u="${p999_us:-}" 'BEGIN { if (u == "") print "?"; else printf "%.2f", u / 1000 }')
}

ROWS=()
INVALID=()
for i in "${!SCENARIO_NAMES[@]}"; do
  name=${SCENARIO_NAMES[$i]}
  conns=${SCENARIO_CONNS[$i]}
  seconds=${SCENARIO_SECONDS[$i]}
  threads=$((conns < 2 ? conns : 2))
  target=${SCENARIO_TARGET[$i]}
  method=${target%% *}
  read -r -a paths <<<"${target#* }"
  path=${paths[0]}
  hdr=()
  case ${SCENARIO_AUTH[$i]} in
    admin) hdr=(-H "Authorization: Bearer $ADMIN_TOKEN") ;;
    practitioner) hdr=(-H "Authorization: Bearer $PRACTITIONER_TOKEN") ;;
    scale_admin) hdr=(-H "Authorization: Bearer ${SCALE_ADMIN_TOKEN:?scale_admin needs --scale}") ;;
    manager) hdr=(-H "Authorization: Bearer ${SCALE_MANAGER_TOKEN:?manager needs --scale}") ;;
    none) ;;
    *) die "scenario '$name': unknown AUTH '${SCENARIO_AUTH[$i]}'" ;;
  esac
  if [[ -n "${SCENARIO_HEADER[$i]}" ]]; then hdr+=(-H "${SCENARIO_HEADER[$i]}"); fi
  lua=${SCENARIO_LUA[$i]:-get.lua}
  [[ -f "$BENCH_DIR/$lua" ]] || die "scenario '$name': no tests/bench/$lua"
  args=(-t"$threads" -c"$conns" --latency --timeout 10s "${hdr[@]}" -s "$BENCH_DIR/$lua")
  step "wrk $name: -t$threads -c$conns -d${seconds}s"
  if [[ -z "${SCENARIO_LUA[$i]}" ]]; then
    # One request per path first: a scenario that cannot succeed once is not worth timing without a warning.
    for p in "${paths[@]}"; do
      reply=$(curl -s -o /dev/null -w '%{http_code} %{content_type}' -X "$method" "${hdr[@]}" "$BASE_URL$p" || true)
      [[ $reply == 2??\ * ]] || echo "WARNING: a single $method $p answered HTTP ${reply%% *}" >&2
      if [[ "${SCENARIO_HEADER[$i]}" == "Accept: text/csv" && "${reply#* }" != text/csv* ]]; then
        echo "WARNING: $method $p with Accept: text/csv answered Content-Type '${reply#* }'" >&2
      fi
    done
  fi
  export BENCH_PATHS="${paths[*]}"
  if ((WARMUP > 0)); then
    wrk "${args[@]}" -d"${WARMUP}s" "$BASE_URL$path" >/dev/null 2>&1 || true
  fi
  out=$WORK/wrk-$i.txt
  wrk "${args[@]}" -d"${seconds}s" "$BASE_URL$path" >"$out" 2>&1 || {
    cat "$out" >&2
    die "wrk failed for scenario '$name'"
  }
  unset BENCH_PATHS
  wrk_read "$out" "$name"
  # Three decimals; two significant digits for tiny ratios (login, summaries) so they do not print as 0.000.
  ratio=$(awk -v r="$rps" -v t="$PGBENCH_TPS" 'BEGIN {
    x = r / t; if (x >= 0.01 || x <= 0) { printf "%.3f", x; exit }
    d = 2; for (y = x; y < 0.1; y *= 10) d++; printf "%." d "f", x }')
  printf '%s: %.1f requests/s (%s requests), p50 %s ms, p95 %s ms, p99 %s ms, non-2xx %s, socket errors %s, ratio %s\n' \
    "$name" "$rps" "${total:-?}" "$p50_ms" "$p95_ms" "$p99_ms" "$non2xx" "$sockerr" "$ratio"
  if ((non2xx > 0 || sockerr > 0)); then
    echo "WARNING: scenario '$name' had $non2xx non-2xx responses and $sockerr socket errors: its figures are" \
      "not valid" >&2
    INVALID+=("$name")
    flag=' (INVALID)'
  else
    flag=''
  fi
  ROWS+=("$(printf '| %s%s | %s | %.1f | %s | %s | %s | %s | %s | %s |' "$name" "$flag" "$conns" "$rps" "$p50_ms" \
    "$p95_ms" "$p99_ms" "$non2xx" "$sockerr" "$ratio")")
  [[ -z "${SCENARIO_P95_TARGET[$i]}" ]] ||
    bench_target "$name$flag, p95 at $conns connection(s)" "$p95_ms" '<' "${SCENARIO_P95_TARGET[$i]}" ' ms'
  [[ -z "${SCENARIO_RATIO_TARGET[$i]}" ]] ||
    bench_target "$name$flag, ratio to pgbench at $conns connections" "$ratio" '>=' "${SCENARIO_RATIO_TARGET[$i]}"
  [[ -z "${SCENARIO_P99_TARGET[$i]}" ]] ||
    bench_target "$name$flag, p99 at $conns connections" "$p99_ms" '<=' "${SCENARIO_P99_TARGET[$i]}" ' ms'
done

if [[ -z "$BENCH_SCALE" || "$SUMMARY_ONLY" != 1 ]]; then
  # Issue 18, target 3: a slow request must never stall fast ones on the same worker. The single read runs again at
  # CONNS connections, alone and then beside HOL_CONNS (8) more connections that each log in once every
  # HOL_PAUSE_MS (1000) (Argon2id: tens of milliseconds of CPU, the slowest route of the run; about one core's
  # worth in all, the same whichever thread hashes). The login connections open first, so that they spread over
  # the workers the reads then share (a worker busy with a login accepts no new connection). A read on a worker
  # busy with a login waits for the rest of it. Such reads are few in wrk's percentiles, since a connection waits
  # for its answer before it sends again (a stuck connection sends less): the sign is the slowest read. Target: no
  # read waited as long as a typical login, the reads' maximum beside the logins under the login's median.
  HOL_CONNS=${HOL_CONNS:-8}
  HOL_PAUSE_MS=${HOL_PAUSE_MS:-1000}
  bench_whole_numbers 1 HOL_CONNS HOL_PAUSE_MS
  step "head-of-line: GET /v1/sites/{id} at $CONNS connections, alone, then beside $HOL_CONNS logging in every $HOL_PAUSE_MS ms"
  fast=(-t2 -c"$CONNS" --latency --timeout 10s -H "Authorization: Bearer $ADMIN_TOKEN" -s "$BENCH_DIR/get.lua")
  wrk "${fast[@]}" -d"${DURATION}s" "$BASE_URL/v1/sites/$SITE_ID" >"$WORK/hol-alone.txt" 2>&1 || die "wrk failed"
  wrk_read "$WORK/hol-alone.txt" "head-of-line, reads alone"
  HOL_ALONE_P99=$p99_ms
  HOL_ALONE_P999=$p999_ms
  HOL_ALONE_MAX=$max_ms
  BENCH_LOGIN_PAUSE_MS=$HOL_PAUSE_MS wrk -t1 -c"$HOL_CONNS" --latency --timeout 10s -s "$BENCH_DIR/login.lua" \
    -d"$((DURATION + 2))s" "$BASE_URL/v1/auth/login" >"$WORK/hol-slow.txt" 2>&1 &
  HOL_SLOW_PID=$!
  sleep 1
  wrk "${fast[@]}" -d"${DURATION}s" "$BASE_URL/v1/sites/$SITE_ID" >"$WORK/hol-fast.txt" 2>&1 || die "wrk failed"
  wait "$HOL_SLOW_PID" || die "wrk failed for the slow requests"
  wrk_read "$WORK/hol-fast.txt" "head-of-line, reads beside slow requests"
  HOL_FAST_P99=$p99_ms
  HOL_FAST_P999=$p999_ms
  HOL_FAST_MAX=$max_ms
  HOL_FAST_RPS=$rps
  ((non2xx == 0 && sockerr == 0)) || INVALID+=("head-of-line reads")
  wrk_read "$WORK/hol-slow.txt" "head-of-line, slow requests"
  ((non2xx == 0 && sockerr == 0)) || INVALID+=("head-of-line slow requests")
  HOL_SLOW_P50=$p50_ms
  printf 'reads alone: p99 %s ms, p99.9 %s ms, max %s ms; beside the logins: %.1f requests/s, p99 %s ms, p99.9 %s ms, max %s ms; the logins: p50 %s ms, %.1f requests/s\n' \
    "$HOL_ALONE_P99" "$HOL_ALONE_P999" "$HOL_ALONE_MAX" "$HOL_FAST_RPS" "$HOL_FAST_P99" "$HOL_FAST_P999" \
    "$HOL_FAST_MAX" "$HOL_SLOW_P50" "$rps"
  bench_target "GET /v1/sites/{id} slowest read beside $HOL_CONNS connection(s) logging in (the login's p50)" \
    "$HOL_FAST_MAX" '<' "$HOL_SLOW_P50" ' ms'
fi

if [[ -n "$BENCH_SCALE" ]]; then
  step "EXPLAIN (ANALYZE, BUFFERS) of the summary statement (auto_explain, one request of each)"
  bench_explain_summaries "$EXPLAIN_FILE" "$SCALE_ADMIN_TOKEN" "$SCALE_MANAGER_TOKEN" "${SCALE_MANAGER_SITES[0]}"
  echo "statement durations without auto_explain: one site ${EXPLAIN_SITE_MS:-?} ms; page of 50 ${EXPLAIN_PAGE_MS:-?} ms"
  echo "plans written to ${EXPLAIN_FILE#"$ROOT"/}"
fi

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
  echo "| Load average (1, 5, 15 min) | $LOAD_BEFORE before measuring (setup included); $(cut -d' ' -f1-3 /proc/loadavg) at the end |"
  echo "| PostgreSQL | $PG_VERSION ($PG_SETTINGS) |"
  echo "| forumnet | $COMMIT, Release build; FORUMNET_HTTP_THREADS=$HTTP_THREADS_SHOWN, FORUMNET_DB_POOL_SIZE=$POOL_SHOWN, FORUMNET_SLOW_THREADS=${FORUMNET_SLOW_THREADS:-default} |"
  echo "| Load generators | pgbench -S -M prepared -c $CONNS -j $PGBENCH_THREADS -T $DURATION (scale $PGBENCH_SCALE); wrk -t2 --latency, ${DURATION}s per scenario after ${WARMUP}s warm-up, same machine |"
  echo
  echo "| Scenario | Connections | Requests/s | p50 (ms) | p95 (ms) | p99 (ms) | Non-2xx | Socket errors | ÷ pgbench tps |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '| pgbench -S -M prepared (transactions/s) | %s | %.1f | %s | %s | %s | %s failed | | 1.000 |\n' "$CONNS" \
    "$PGBENCH_TPS" "${PGBENCH_P50:-}" "${PGBENCH_P95:-}" "${PGBENCH_P99:-}" "${PGBENCH_FAILED:-0}"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "pgbench's percentiles are of one transaction in 10 (--sampling-rate=0.1); its latency average was ${PGBENCH_LAT:-?}."
  echo "Login runs with $LOGIN_CONNS connections: every request is a full Argon2id verification, bound by CPU and memory,"
  echo "not by the database."
  echo "Issue 2's target is a ratio of at least 0.35 for the authenticated single-resource GETs."
  if [[ -n "$BENCH_SCALE" ]]; then
    echo
    echo "### Manager summaries on \`forumnet seed --scale $BENCH_SCALE\`"
    echo
    echo "Seeded in ${SCALE_SEED_SECONDS}s, then VACUUM ANALYZE and CHECKPOINT (${SCALE_VACUUM_SECONDS}s). Site summary: the generated"
    echo "manager's site $SCALE_SITE_SLUG ($SCALE_SITE_GROUPS groups, $SCALE_SITE_MEMBERS active members, $SCALE_SITE_PRACTITIONERS of them"
    echo "practitioners; generated sites average $SCALE_AVG_MEMBERS active members). Overview: the generated admin's first"
    echo "page of 50 sites ($SCALE_PAGE_GENERATED of them generated), as JSON and as CSV. ${SUMMARY_DURATION}s per scenario; their"
    echo "ratios are to pgbench at $CONNS connections."
    echo
    [[ "$BENCH_SCALE" == 1 ]] || echo "The targets are set for N=1; this run used N=$BENCH_SCALE."
    echo "The summary statement alone (PostgreSQL's log, no auto_explain): one site ${EXPLAIN_SITE_MS:-?} ms;"
    echo "page of 50 ${EXPLAIN_PAGE_MS:-?} ms. Plans: tests/bench/last-explain.md. Timings are information: a MISS"
    echo "does not fail the run. Machine load when the report was written: $(cut -d' ' -f1-3 /proc/loadavg)."
  fi
  bench_target_table
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

if ((BENCH_TARGET_MISSES > 0)); then
  echo "bench: $BENCH_TARGET_MISSES target(s) MISSED (see the table above; information only, the exit status ignores it)"
fi
if ((${#INVALID[@]} > 0)); then
  echo "bench: WARNING: the run is not valid (non-2xx responses or socket errors); see above" >&2
  exit 1
fi
