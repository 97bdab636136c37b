#!/usr/bin/env bash
# EXPLAIN (ANALYZE, BUFFERS) of the manager-summary statement (summaries_figures in src/resources/summaries_db.c)
# on the generated national network, for one site and for a page of 50 sites. From a clean clone, root or not; the
# same setup as tests/bench/run.sh --scale (tests/bench/lib.sh): a Release build, a throwaway PostgreSQL 15 with
# scripts/test.sh's settings, migrate, the demo network plus the bench's 50 sites, `forumnet seed --scale N`,
# VACUUM ANALYZE, `forumnet serve`.
#
# The plans are the server's own, not a reconstruction: the cluster preloads auto_explain, and for one
# GET /v1/sites/{id}/summary (the generated manager) and one GET /v1/summaries/sites (the generated admin) it logs
# every statement's plan with ANALYZE, BUFFERS and timing, on the server's pooled connections (jit=off, as
# src/db/pool.c sets it). Before that, a few seconds of both requests on every pooled connection put the plan
# cache where the benchmark finds it. Then five more of each are timed without auto_explain, whose per-node
# timing slows the statement down.
#
#   tests/bench/explain.sh [--scale N]    N as for forumnet seed --scale (default 1, or BENCH_SCALE)
#   BENCH_KEEP=1                          keep the cluster and the work directory (server and seed logs)
#
# Prints the plans and writes them to tests/bench/last-explain.md (not in git); tests/bench/run.sh --scale N writes
# the same file after its measurements. Takes about two minutes at N=1.
set -euo pipefail

BENCH_SCALE=${BENCH_SCALE:-1}
while (($# > 0)); do
  case $1 in
    --scale)
      (($# >= 2)) || {
        echo "explain: --scale needs a value" >&2
        exit 2
      }
      BENCH_SCALE=$2
      shift 2
      ;;
    --scale=*)
      BENCH_SCALE=${1#--scale=}
      shift
      ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "explain: unknown argument '$1' (see --help)" >&2
      exit 2
      ;;
  esac
done
if ! [[ $BENCH_SCALE =~ ^[0-9]*\.?[0-9]+$ ]] || awk -v n="$BENCH_SCALE" 'BEGIN { exit !(n <= 0 || n > 10) }'; then
  echo "explain: --scale must be a number above 0 and at most 10 (got '$BENCH_SCALE')" >&2
  exit 2
fi

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

STARTED=$SECONDS
BUILD_DIR=$ROOT/build-bench
EXPLAIN_FILE=$BENCH_DIR/last-explain.md
PG_BASE=''
PG_DATA=''
SERVER_PID=''
SERVER_LOG=''
WORK=''

step() { printf '\n==> %s\n' "$*"; }
die() {
  echo "explain: $*" >&2
  exit 1
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  bench_stop_server 10 || true
  if ((status != 0)) && [[ -n "$SERVER_LOG" && -s "$SERVER_LOG" ]]; then
    echo "--- last lines of the forumnet log ($SERVER_LOG) ---" >&2
    tail -n 20 "$SERVER_LOG" >&2 || true
  fi
  bench_cleanup_pg
  if [[ -n "$WORK" ]]; then
    if [[ "${BENCH_KEEP:-0}" == 1 ]]; then echo "kept the work directory: $WORK"; else rm -rf "$WORK"; fi
  fi
  printf '\nexplain: finished in %ss (exit status %s)\n' "$((SECONDS - STARTED))" "$status"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "Debian packages"
# shellcheck disable=SC2086 # one package name per word
deps_install $FORUMNET_BUILD_PACKAGES wrk || die "could not install the dependencies"

step "Release build (build-bench/)"
bench_build "$BUILD_DIR" Release
WORK=$(mktemp -d /tmp/forumnet-explain-work.XXXXXX)

step "Throwaway PostgreSQL 15 (auto_explain preloaded), migrate, seed --demo"
BENCH_PG_EXTRA_SETTINGS=$BENCH_SCALE_PG_SETTINGS
bench_pg_start
bench_seed
echo "PostgreSQL $PG_VERSION at $PG_SOCK (settings: $PG_SETTINGS)"

step "forumnet seed --scale $BENCH_SCALE, then VACUUM ANALYZE"
bench_seed_scale "$BENCH_SCALE"
echo "seeded in ${SCALE_SEED_SECONDS}s, VACUUM ANALYZE + CHECKPOINT in ${SCALE_VACUUM_SECONDS}s"

step "forumnet serve"
SERVER_ENV=()
for knob in FORUMNET_HTTP_THREADS FORUMNET_DB_POOL_SIZE; do
  if [[ -n "${!knob:-}" ]]; then SERVER_ENV+=("$knob=${!knob}"); fi
done
# shellcheck disable=SC2119 # no wrapper: run forumnet directly
bench_serve
ADMIN_TOKEN=$(bench_login "$SCALE_ADMIN_EMAIL" "$SCALE_PASSWORD")
MANAGER_TOKEN=$(bench_login "$SCALE_MANAGER_EMAIL" "$SCALE_PASSWORD")
SITE=${SCALE_MANAGER_SITES[0]}
echo "listening on $BASE_URL; admin $SCALE_ADMIN_EMAIL, manager $SCALE_MANAGER_EMAIL (site $SITE)"

step "Warm-up: both requests on every pooled connection"
# More connections than the pool (8 by default) for a few seconds: every pooled connection runs the statement more
# than five times, after which PostgreSQL may switch a prepared statement to its generic plan, as it does during
# the benchmark.
wrk -t2 -c16 -d3s -H "Authorization: Bearer $MANAGER_TOKEN" "$BASE_URL/v1/sites/$SITE/summary" >/dev/null
wrk -t2 -c16 -d5s --timeout 10s -H "Authorization: Bearer $ADMIN_TOKEN" "$BASE_URL/v1/summaries/sites" >/dev/null

step "auto_explain: one request of each"
bench_explain_summaries "$EXPLAIN_FILE" "$ADMIN_TOKEN" "$MANAGER_TOKEN" "$SITE"
cat "$EXPLAIN_FILE"
echo
echo "written to ${EXPLAIN_FILE#"$ROOT"/}"
