#!/usr/bin/env bash
# Webhook deliveries per second (issue 17): N events of a trusted partner are created through the API by an
# instance that runs no jobs, so N `event.published` deliveries wait in the queue; then one instance with the job
# runner starts and delivers them to a receiver on loopback (tests/e2e/webhook_receiver.mjs, which verifies every
# request with the reference `standardwebhooks` package). Two figures: N / (seconds from that instance's start
# until the last delivery is recorded, polled every 50 ms), which includes the instance's start-up and the
# polling; and the sending rate, (N - 1) / (seconds from the first delivery recorded to the last, from the
# rows' last_attempt_at), which does not. Same setup as tests/bench/run.sh (tests/bench/lib.sh: Release build,
# throwaway PostgreSQL 15, demo seed).
#
#   EVENTS=1000        deliveries to make
#   INTERVAL_MS=50     FORUMNET_JOBS_INTERVAL_MS of the delivering instance
#   CONCURRENCY=       FORUMNET_WEBHOOK_CONCURRENCY of the delivering instance (unset: the server's default)
#   ENDPOINT_CONCURRENCY=  FORUMNET_WEBHOOK_ENDPOINT_CONCURRENCY likewise (the bench has one endpoint)
#   BENCH_KEEP=1       keep the cluster and the work directory
#
# Prints one line (also written to tests/bench/last-webhooks.md, not in git). Exit status 0 when every delivery
# arrived verified; 1 otherwise; 2 for a bad knob.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
# shellcheck source=scripts/lib/packages.sh
. scripts/lib/packages.sh
# shellcheck source=scripts/lib/deps.sh
. scripts/lib/deps.sh
# shellcheck source=scripts/lib/pg.sh
. scripts/lib/pg.sh
# shellcheck source=scripts/lib/tools.sh
. scripts/lib/tools.sh
# shellcheck source=tests/bench/lib.sh
. tests/bench/lib.sh

bench_script webhooks "$@"
EVENTS=${EVENTS:-1000}
INTERVAL_MS=${INTERVAL_MS:-50}
CONCURRENCY=${CONCURRENCY:-}
ENDPOINT_CONCURRENCY=${ENDPOINT_CONCURRENCY:-}
bench_whole_numbers 1 EVENTS INTERVAL_MS
RESULTS_FILE=$ROOT/tests/bench/last-webhooks.md
RECEIVER_PID=''
bench_stop_extras() { if [[ -n "$RECEIVER_PID" ]]; then kill -TERM "$RECEIVER_PID" 2>/dev/null || true; fi; }
bench_traps

step "Debian packages and the npm tooling (tools/, npm ci)"
# shellcheck disable=SC2086 # one package name per word
deps_install $FORUMNET_BUILD_PACKAGES || die "could not install the dependencies"
deps_install_node
tools_install || die "could not install tools/node_modules"

step "Release build (build-bench/)"
bench_build "$BUILD_DIR" Release
WORK=$(mktemp -d /tmp/forumnet-webhooks-work.XXXXXX)

step "Throwaway PostgreSQL 15, migrate and seed"
bench_pg_start
bench_seed

step "the receiver (tests/e2e/webhook_receiver.mjs)"
node tests/e2e/webhook_receiver.mjs "$WORK/receiver.port" "$ROOT/tools" >"$WORK/receiver.log" 2>&1 &
RECEIVER_PID=$!
for _ in $(seq 1 100); do [[ -s "$WORK/receiver.port" ]] && break; sleep 0.1; done
RECEIVER_PORT=$(cat "$WORK/receiver.port") || die "the receiver did not start: $(cat "$WORK/receiver.log")"

json_field() { sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p"; }
api() { curl -fsS -H 'Content-Type: application/json' "$@"; }

step "$EVENTS events through an instance without jobs (their deliveries queue up)"
SERVER_ENV=("FORUMNET_JOBS=0" "FORUMNET_WEBHOOK_ALLOW_PRIVATE=1")
# shellcheck disable=SC2119 # no wrapper: run forumnet directly
bench_serve
ADMIN_TOKEN=$(bench_login "$ADMIN_EMAIL" "$ADMIN_PASSWORD") || exit 1
PARTNER=$(api -H "Authorization: Bearer $ADMIN_TOKEN" "$BASE_URL/v1/partners" \
  -d '{"name":"Bench partner","trusted":true,"scopes":["events:write","webhooks:manage"]}') || die "POST /v1/partners failed"
PARTNER_ID=$(json_field id <<<"$PARTNER")
CLIENT_ID=$(json_field client_id <<<"$PARTNER")
CLIENT_SECRET=$(json_field client_secret <<<"$PARTNER")
PTOKEN=$(api "$BASE_URL/v1/auth/token" -d "{\"grant_type\":\"client_credentials\",\"client_id\":\"$CLIENT_ID\",
  \"client_secret\":\"$CLIENT_SECRET\",\"scope\":\"events:write webhooks:manage\"}" | json_field access_token)
HOOK=$(api -H "Authorization: Bearer $PTOKEN" "$BASE_URL/v1/partners/$PARTNER_ID/webhooks" \
  -d "{\"url\":\"http://127.0.0.1:$RECEIVER_PORT/ok/bench\",\"events\":[\"event.published\"]}") ||
  die "POST /v1/partners/{id}/webhooks failed"
SECRET=$(json_field secret <<<"$HOOK")
curl -fsS -o /dev/null "http://127.0.0.1:$RECEIVER_PORT/_secrets" -d "{\"prefix\":\"/ok/bench\",\"secrets\":[\"$SECRET\"]}"
STARTS=$(date -u -d '+30 days' +%Y-%m-%dT%H:00:00Z)
ENDS=$(date -u -d '+30 days +1 hour' +%Y-%m-%dT%H:00:00Z)
for ((i = 1; i <= EVENTS; i++)); do
  printf '{"kind":"seminar","title":"Bench event %d","starts_at":"%s","ends_at":"%s","audience":{"scope":"network"}}\n' \
    "$i" "$STARTS" "$ENDS"
done | while read -r body; do
  api -o /dev/null -H "Authorization: Bearer $PTOKEN" "$BASE_URL/v1/events" -d "$body" || exit 1
done || die "creating the events failed"
QUEUED=$(psql_forumnet -At -c "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'")
echo "$QUEUED deliveries queued"
bench_stop_server 10 || die "the first instance did not stop cleanly"

step "one instance with the job runner (FORUMNET_JOBS_INTERVAL_MS=$INTERVAL_MS) delivers them"
SERVER_ENV=("FORUMNET_JOBS=1" "FORUMNET_JOBS_INTERVAL_MS=$INTERVAL_MS" "FORUMNET_WEBHOOK_ALLOW_PRIVATE=1")
[[ -z "$CONCURRENCY" ]] || SERVER_ENV+=("FORUMNET_WEBHOOK_CONCURRENCY=$CONCURRENCY")
[[ -z "$ENDPOINT_CONCURRENCY" ]] || SERVER_ENV+=("FORUMNET_WEBHOOK_ENDPOINT_CONCURRENCY=$ENDPOINT_CONCURRENCY")
T0=$(date +%s.%N)
bench_serve
DELIVERED=0
for _ in $(seq 1 6000); do
  DELIVERED=$(psql_forumnet -At -c "SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'")
  ((DELIVERED >= QUEUED)) && break
  sleep 0.05
done
T1=$(date +%s.%N)
((DELIVERED >= QUEUED)) || die "only $DELIVERED of $QUEUED delivered within 5 minutes"
VERIFIED=$(curl -fsS "http://127.0.0.1:$RECEIVER_PORT/_log" | grep -o '"verified":\[0\]' | wc -l)
((VERIFIED >= QUEUED)) || die "the receiver verified $VERIFIED of $QUEUED requests"
SPAN=$(psql_forumnet -At -c "SELECT extract(epoch FROM max(last_attempt_at) - min(last_attempt_at))
  FROM webhook_deliveries WHERE status = 'delivered'")
{
  awk -v n="$QUEUED" -v a="$T0" -v b="$T1" -v s="$SPAN" -v v="$VERIFIED" -v c="$(nproc)" \
    -v l="$(cut -d' ' -f1-3 /proc/loadavg)" -v rev="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    'BEGIN { printf "%d deliveries in %.2f s: %.0f deliveries/s from the start, %.0f/s sending (first to last in %.2f s) (one instance, Release, %d cores, load %s, commit %s; receiver verified %d)\n", n, b - a, n / (b - a), (s > 0 ? (n - 1) / s : 0), s, c, l, rev, v }'
  # Issue 18's target 6, from the instance's start (its start-up and first poll included).
  bench_target "webhook deliveries a second to a local receiver" \
    "$(awk -v n="$QUEUED" -v a="$T0" -v b="$T1" 'BEGIN { printf "%.0f", n / (b - a) }')" '>=' 1000 '/s'
} | tee "$RESULTS_FILE"
