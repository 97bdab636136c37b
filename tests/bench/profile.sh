#!/usr/bin/env bash
# Where a single read's time goes (issue 18): the whole machine sampled by `perf record -a` while wrk drives
# GET /v1/sites/{id} (the authenticated single read of run.sh and peer.sh), and again while `pgbench -S -M prepared`
# runs against the same cluster at the same concurrency. For each: operations a second, context switches per
# operation, and the CPU time per operation of each party (PostgreSQL, the load generator, forumnet, the kernel's
# share of each); then forumnet's own time by library and its top functions. The same setup as run.sh
# (tests/bench/lib.sh: Release build, whose symbol table names the functions; throwaway PostgreSQL 15, demo seed).
#
#   READ=site      what wrk reads: site (GET /v1/sites/{id}) or list (GET /v1/sites?limit=50, run.sh's list page)
#   CONNS=32       wrk connections and pgbench clients
#   DURATION=10    seconds sampled (the load runs 2 s longer: 1 s before and after)
#   FREQ=999       samples a second per CPU (perf record -F; cpu-clock, which every machine has)
#   TOP=25         forumnet's functions listed
#   BENCH_KEEP=1   keep the cluster, the work directory and the perf.data files (paths are printed)
#
# Prints a Markdown report (also written to tests/bench/last-profile.md, not in git). A profile is a reading of one
# run, not a verdict: exit status 0 when every response was 2xx and perf could sample; 1 otherwise; 2 for a bad knob.
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

bench_script profile "$@"
CONNS=${CONNS:-32}
DURATION=${DURATION:-10}
FREQ=${FREQ:-999}
TOP=${TOP:-25}
bench_whole_numbers 1 CONNS DURATION FREQ TOP
bench_read_knob
RESULTS_FILE=$BENCH_DIR/last-profile.md
LOAD_PID=''
bench_stop_extras() { bench_stop_pid "$LOAD_PID"; }
bench_traps

bench_setup wrk linux-perf
bench_find_pgbench
perf record -q -a -F "$FREQ" -e cpu-clock -o "$WORK/probe.data" -- sleep 0.2 >/dev/null 2>&1 ||
  die "perf cannot sample this machine (kernel.perf_event_paranoid, or a container without perf events)"

step "forumnet serve"
bench_serve
TOKEN=$(bench_login "$ADMIN_EMAIL" "$ADMIN_PASSWORD") || exit 1
PATH_READ=$(bench_read_path)
# The server's threads by name (libmicrohttpd names its workers), to tell its samples from the others'.
SERVER_COMMS=$(sort -u /proc/"$SERVER_PID"/task/*/comm | paste -sd, -)
curl -fsS -o /dev/null -H "Authorization: Bearer $TOKEN" "$BASE_URL$PATH_READ" || die "the read failed"

step "pgbench database"
bench_pgbench_init 10

# sample NAME: `perf record -a` and `perf stat -a` (context switches) for DURATION s while the load started just
# before runs; writes $WORK/NAME.data and $WORK/NAME.stat.
sample() {
  sleep 1
  perf stat -a -x, -e context-switches -o "$WORK/$1.stat" -- sleep "$DURATION" &
  local stat_pid=$!
  perf record -q -a -F "$FREQ" -e cpu-clock -o "$WORK/$1.data" -- sleep "$DURATION" >/dev/null 2>&1 ||
    die "perf record failed"
  wait "$stat_pid" || die "perf stat failed"
}

INVALID=0
step "profile: pgbench -S -M prepared, $CONNS clients (load $(cut -d' ' -f1-3 /proc/loadavg))"
bench_pgbench -S -M prepared -c "$CONNS" -j 2 -T $((DURATION + 2)) pgbench >"$WORK/pgbench.txt" 2>&1 &
LOAD_PID=$!
sample pgbench
wait "$LOAD_PID" || die "pgbench failed: $(tail -3 "$WORK/pgbench.txt")"
LOAD_PID=''
PG_OPS=$(awk '/^tps = / { printf "%.0f", $3; exit }' "$WORK/pgbench.txt")

step "profile: GET $PATH_READ, wrk $CONNS connections (load $(cut -d' ' -f1-3 /proc/loadavg))"
wrk -t2 -c"$CONNS" -d1s -H "Authorization: Bearer $TOKEN" "$BASE_URL$PATH_READ" >/dev/null 2>&1 || true
wrk -t2 -c"$CONNS" -d$((DURATION + 2))s --timeout 10s -H "Authorization: Bearer $TOKEN" "$BASE_URL$PATH_READ" \
  >"$WORK/wrk.txt" 2>&1 &
LOAD_PID=$!
sample read
wait "$LOAD_PID" || die "wrk failed"
LOAD_PID=''
if grep -qE 'Non-2xx or 3xx responses|Socket errors' "$WORK/wrk.txt"; then
  echo "WARNING: the read saw non-2xx answers or socket errors" >&2
  INVALID=1
fi
FN_OPS=$(awk '/^[[:space:]]*Requests\/sec:/ { printf "%.0f", $2; exit }' "$WORK/wrk.txt")

CPUS=$(nproc)
# rows NAME: every (percent of all samples, comm, dso, party) of NAME.data, "|"-separated; the party is db
# (PostgreSQL), load (pgbench, wrk), server (forumnet's threads), idle or other.
rows() {
  perf report -i "$WORK/$1.data" --stdio --no-children -q --percentage absolute --sort comm,dso -t '|' 2>/dev/null |
    awk -F'|' -v server="$SERVER_COMMS" '
      BEGIN { n = split(server, s, ","); for (i = 1; i <= n; i++) is_server[s[i]] = 1 }
      NF >= 3 { for (i = 1; i <= 3; i++) gsub(/^[ \t]+|[ \t%]+$/, "", $i)
        party = $2 == "postgres" ? "db" : ($2 == "wrk" || $2 == "pgbench") ? "load" : ($2 in is_server) ? "server" : \
          $2 == "swapper" ? "idle" : "other"
        print $1 "|" $2 "|" $3 "|" party }'
}
rows pgbench >"$WORK/pgbench.rows"
rows read >"$WORK/read.rows"
# parties NAME OPS: "total (kernel)" of db, load and server, then idle and other, "|"-separated, in microseconds of
# one core per operation.
parties() {
  awk -F'|' -v ops="$2" -v cpus="$CPUS" '
    { all[$4] += $1; if ($3 == "[kernel.kallsyms]") kernel[$4] += $1 }
    function us(x) { return sprintf("%.1f", x / 100 * cpus * 1e6 / ops) }
    END { printf "%s (%s)|%s (%s)|%s (%s)|%s|%s\n", us(all["db"]), us(kernel["db"]), us(all["load"]), us(kernel["load"]),
            us(all["server"]), us(kernel["server"]), us(all["idle"]), us(all["other"]) }' "$WORK/$1.rows"
}
IFS='|' read -r PG_DB PG_LOAD _ PG_IDLE PG_OTHER < <(parties pgbench "$PG_OPS")
IFS='|' read -r FN_DB FN_LOAD FN_SERVER FN_IDLE FN_OTHER < <(parties read "$FN_OPS")
switches() {
  awk -F, -v ops="$2" -v s="$DURATION" '$3 == "context-switches" { printf "%.2f", $1 / (ops * s) }' "$WORK/$1.stat"
}
# top NAME COMMS: the TOP functions of those threads (self time, percent of all samples).
top() {
  perf report -i "$WORK/$1.data" --stdio --no-children -q --percentage absolute --comms "$2" --sort dso,sym \
    2>/dev/null | awk -v top="$TOP" '$1 ~ /%$/ && ++n <= top'
}

{
  echo "Where a single read's time goes: \`perf record -a -F $FREQ -e cpu-clock\`, ${DURATION}s each, $CONNS connections;"
  echo "$CPUS cores, load at the end $(cut -d' ' -f1-3 /proc/loadavg); PostgreSQL $PG_VERSION;" \
    "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo
  echo "CPU time per operation, in microseconds of one core (the kernel's part in brackets):"
  echo
  echo "| | pgbench -S -M prepared | GET ${PATH_READ/$SITE_ID/\{id\}} (wrk) |"
  echo "|---|---:|---:|"
  echo "| operations a second | $PG_OPS | $FN_OPS ($(awk -v a="$FN_OPS" -v b="$PG_OPS" 'BEGIN { printf "%.3f", a / b }') of pgbench) |"
  echo "| context switches per operation (whole machine) | $(switches pgbench "$PG_OPS") | $(switches read "$FN_OPS") |"
  echo "| PostgreSQL backends | $PG_DB | $FN_DB |"
  echo "| load generator (pgbench / wrk) | $PG_LOAD | $FN_LOAD |"
  echo "| forumnet (threads: $SERVER_COMMS) | | $FN_SERVER |"
  echo "| anything else | $PG_OTHER | $FN_OTHER |"
  echo "| idle | $PG_IDLE | $FN_IDLE |"
  echo
  echo "forumnet's time by library (microseconds of one core per read):"
  echo
  echo "| Library | µs per read |"
  echo "|---|---:|"
  awk -F'|' -v ops="$FN_OPS" -v cpus="$CPUS" '
    $4 == "server" { by[$3] += $1 }
    END { for (d in by) if (by[d] / 100 * cpus * 1e6 / ops >= 0.1) printf "%.1f|%s\n", by[d] / 100 * cpus * 1e6 / ops, d }' \
    "$WORK/read.rows" | sort -t'|' -k1,1gr | awk -F'|' '{ printf "| %s | %s |\n", $2, $1 }'
  echo
  echo "forumnet's top $TOP functions during the reads (self time, percent of all samples):"
  echo
  echo '```'
  top read "$SERVER_COMMS"
  echo '```'
  echo
  echo "PostgreSQL's top $TOP functions during the reads (self time, percent of all samples):"
  echo
  echo '```'
  top read postgres
  echo '```'
  ((INVALID == 0)) || echo "(invalid run: see the warnings)"
} | tee "$RESULTS_FILE"
if [[ "${BENCH_KEEP:-0}" == 1 ]]; then echo "perf data: $WORK/pgbench.data $WORK/read.data"; fi
((INVALID == 0))
