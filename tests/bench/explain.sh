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

BENCH_SCALE=${BENCH_SCALE:-1}
BENCH_TAKES_SCALE=1
bench_script explain "$@"
EXPLAIN_FILE=$BENCH_DIR/last-explain.md
bench_traps

# auto_explain preloaded, inactive until bench_explain_summaries asks
BENCH_PG_EXTRA_SETTINGS=$BENCH_SCALE_PG_SETTINGS
bench_setup wrk

step "forumnet seed --scale $BENCH_SCALE, then VACUUM ANALYZE"
bench_seed_scale "$BENCH_SCALE"
echo "seeded in ${SCALE_SEED_SECONDS}s, VACUUM ANALYZE + CHECKPOINT in ${SCALE_VACUUM_SECONDS}s"

step "forumnet serve"
SERVER_ENV=()
bench_server_knobs
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
