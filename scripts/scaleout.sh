#!/usr/bin/env bash
# forumnet as several instances, proven with faults. From a clean clone on Debian 12 (root or not, no stdin
# needed) it installs what is missing (scripts/lib/packages.sh: FORUMNET_SCALEOUT_PACKAGES), builds forumnet
# and starts, as plain processes on 127.0.0.1 with free ports, all stopped by PID at exit:
#
#   clients -> HAProxy (deploy/haproxy.cfg)  -> forumnet x3 -> PgBouncer (deploy/pgbouncer.ini, transaction)
#              nginx   (deploy/nginx.conf)   -/               -> PostgreSQL 15 primary --streaming--> standby
#                                                               (migrations: directly to the primary)
#
# Then, through the balancer: the contract scenario (tests/contract, CONTRACT_BASE_URL), a read-your-writes
# check against the delayed replica, three faults under a bounded write load (tests/scaleout/load.mjs):
# SIGTERM one instance, SIGKILL another, stop the primary and promote the standby (PgBouncer repointed with
# RELOAD), each checked by tests/scaleout/check.mjs against the rows in the database; then the contract
# scenario through nginx, and wrk GET /v1/sites/{id} through HAProxy against one instance direct. Around the
# first walk a member holds two live streams (tests/scaleout/stream.mjs), one on instance 1 directly and one
# through HAProxy, for longer than HAProxy's timeouts; another member's invitations, sent to instance 2 and
# through HAProxy, must reach both within a second.
#
# Steps that need a server feature the binary lacks (the setting's name is not in the binary) print SKIP with
# the reason instead of failing; the instances get every setting anyway (forumnet ignores variables it does
# not know). Exit status 0 when nothing failed.
#
#   FORUMNET_BIN=path        use this server binary (e.g. scripts/test.sh's build) instead of building
#   FORUMNET_BUILD_DIR=d     build into d/ (default build/; an existing configured d/ is only rebuilt)
#   SCALEOUT_INSTANCES=3     how many forumnet instances
#   SCALEOUT_BENCH_SECONDS=3 wrk duration of each throughput measurement (0 skips them)
#   SCALEOUT_BENCH_ROUNDS=3  interleaved rounds of the throughput figures (HAProxy, nginx, one instance direct)
#   SCALEOUT_BENCH_CONNS=16  wrk connections for them
#   SCALEOUT_KEEP=1          keep the work directory (logs, configs, load records); its path is printed
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
# shellcheck source=scripts/lib/packages.sh
. scripts/lib/packages.sh
# shellcheck source=scripts/lib/deps.sh
. scripts/lib/deps.sh
# shellcheck source=scripts/lib/pg.sh
. scripts/lib/pg.sh

N=${SCALEOUT_INSTANCES:-3}
BENCH_SECONDS=${SCALEOUT_BENCH_SECONDS:-3}
BENCH_ROUNDS=${SCALEOUT_BENCH_ROUNDS:-3}
BENCH_CONNS=${SCALEOUT_BENCH_CONNS:-16}
STARTED=$SECONDS
RESULTS=()
FAILED=()
FIGURES=()
WORK=''
PIDS=()        # every long-running process we started (instances are in INST_PID too)
INST_PID=()    # index 1..N
PG1='' PG2=''  # data directories of the primary and the standby
HAPROXY_PID='' NGINX_PID='' PGB_PID='' LOAD_PID='' STREAM_PID=''

step() { printf '\n==> [%ss] %s\n' "$((SECONDS - STARTED))" "$*"; }
pass() { RESULTS+=("ok    $1${2:+ ($2)}"); }
fail() {
  RESULTS+=("FAIL  $1${2:+ ($2)}")
  FAILED+=("$1")
}
skip() {
  RESULTS+=("SKIP  $1${2:+ ($2)}")
  echo "SKIP $1: ${2:-}"
}
die() {
  echo "scaleout: $*" >&2
  exit 1
}

stop_pid() { # stop_pid PID [SIGNAL]: signal one process we started and reap it (5 s, then SIGKILL)
  local pid=$1 sig=${2:-TERM} i
  [[ -n "$pid" ]] || return 0
  kill -"$sig" "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do
    alive "$pid" || break
    sleep 0.1
  done
  alive "$pid" && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}

# Our children stay zombies until reaped, which kill -0 cannot tell.
alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n "$state" && "$state" != Z ]]
}

cleanup() {
  local status=$? pid i
  trap - EXIT INT TERM
  set +e # stop everything, whatever fails on the way
  [[ -n "$LOAD_PID" ]] && stop_pid "$LOAD_PID"
  [[ -n "$STREAM_PID" ]] && stop_pid "$STREAM_PID"
  for ((i = 1; i <= N; i++)); do stop_pid "${INST_PID[i]:-}"; done
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  [[ -n "$PG1" ]] && pg_stop "$PG1" immediate >/dev/null 2>&1
  [[ -n "$PG2" ]] && pg_stop "$PG2" immediate >/dev/null 2>&1
  if ((${#FAILED[@]} > 0 || status != 0)) && [[ -n "$WORK" ]]; then
    for f in "$WORK"/log/*.log; do
      [[ -s "$f" ]] || continue
      echo "--- last lines of $f ---"
      tail -n 8 "$f"
    done
  fi
  if [[ -n "$WORK" ]]; then
    if [[ "${SCALEOUT_KEEP:-0}" == 1 ]]; then echo "kept the work directory: $WORK"; else rm -rf "$WORK"; fi
  fi
  printf '\n==> scaleout summary (%ss)\n' "$((SECONDS - STARTED))"
  local line
  for line in "${RESULTS[@]}"; do printf '  %s\n' "$line"; done
  if ((${#FIGURES[@]} > 0)); then
    echo "  figures:"
    for line in "${FIGURES[@]}"; do printf '    %s\n' "$line"; done
  fi
  if ((status == 0 && ${#FAILED[@]} == 0)); then
    echo "scripts/scaleout.sh: PASSED"
    exit 0
  fi
  echo "scripts/scaleout.sh: FAILED${FAILED[*]:+ (${FAILED[*]})}"
  exit 1
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Writes TEMPLATE to OUT with each @KEY@ replaced by its value (KEY=VALUE arguments). Fails when a placeholder is left.
render() {
  local template=$1 out=$2 text kv
  shift 2
  text=$(<"$template")
  for kv in "$@"; do text=${text//"@${kv%%=*}@"/${kv#*=}}; done
  printf '%s\n' "$text" >"$out"
  if grep -q '@[A-Z_]*@' "$out"; then die "unfilled placeholder in $out: $(grep -o '@[A-Z_]*@' "$out" | head -n 1)"; fi
}

# Waits up to SECONDS for URL to answer 200.
wait_200() {
  local url=$1 seconds=${2:-15} i
  for ((i = 0; i < seconds * 10; i++)); do
    [[ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$url" 2>/dev/null)" == 200 ]] && return 0
    sleep 0.1
  done
  return 1
}

now_ms() { date +%s%3N; }

# --- 1. packages and the binary ------------------------------------------------------------------------------
step "Debian packages (build + $FORUMNET_SCALEOUT_PACKAGES)"
deps_install_scaleout || die "could not install the packages"
pass deps

if [[ -n "${FORUMNET_BIN:-}" ]]; then
  [[ -x "$FORUMNET_BIN" ]] || die "FORUMNET_BIN=$FORUMNET_BIN is not an executable"
  BIN=$FORUMNET_BIN
  pass build "FORUMNET_BIN=$BIN"
else
  BUILD_DIR=${FORUMNET_BUILD_DIR:-build}
  step "Build ($BUILD_DIR)"
  if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
    cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFORUMNET_TESTS=OFF >/dev/null || die "cmake failed"
  fi
  cmake --build "$BUILD_DIR" -j"$(nproc 2>/dev/null || echo 2)" --target forumnet >/dev/null || die "build failed"
  BIN=$ROOT/$BUILD_DIR/forumnet
  pass build "$BIN"
fi

# The features of issue 13 this run exercises, found by their settings' names in the binary.
has() { grep -qaF "$1" "$BIN"; }
HAS_POOLER=0 HAS_PROXIES=0 HAS_DRAIN=0 HAS_READ=0 HAS_DIRECT=0 HAS_STREAM=0
has FORUMNET_DB_POOLER && HAS_POOLER=1
has FORUMNET_TRUSTED_PROXIES && HAS_PROXIES=1
has FORUMNET_DRAIN_MS && HAS_DRAIN=1
has FORUMNET_DATABASE_READ_URL && HAS_READ=1
has FORUMNET_DATABASE_DIRECT_URL && HAS_DIRECT=1
has FORUMNET_STREAM_HEARTBEAT_MS && HAS_STREAM=1
echo "features in $BIN: pooler=$HAS_POOLER trusted-proxies=$HAS_PROXIES drain=$HAS_DRAIN replica-reads=$HAS_READ" \
  "direct-url=$HAS_DIRECT stream=$HAS_STREAM"

# --- 2. PostgreSQL primary and streaming standby -------------------------------------------------------------
step "PostgreSQL 15 primary and streaming standby"
# Under /tmp: as root the servers run as another user, who must be able to reach it.
WORK=$(mktemp -d /tmp/forumnet-scaleout.XXXXXX)
chmod 755 "$WORK"
mkdir -p "$WORK/log" "$WORK/load" "$WORK/etc"
PG1=$WORK/pg1
PG2=$WORK/pg2
PG_USER=$(pg_os_user "$PG1")
P1=$(pg_free_port 25432)
P2=$(pg_free_port $((P1 + 1)))
DB_PASSWORD=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
# Durability off as in scripts/test.sh (the clusters are deleted at exit); a crash of the postmaster still
# keeps what the kernel has. Synchronous replication is turned on once the standby streams.
PG_COMMON=$'fsync = off\nfull_page_writes = off\nwal_level = replica\nmax_wal_senders = 5\nmax_replication_slots = 5\nhot_standby = on'
PG_INITDB_NOSYNC=1 PG_MAX_CONNECTIONS=200 PG_EXTRA_SETTINGS=$PG_COMMON \
  pg_start "$PG1" "$WORK/run1" "$P1" 127.0.0.1 || die "could not start the primary"
psql1() { pg_psql "$WORK/run1" "$P1" "$@"; }
pg_createdb "$WORK/run1" "$P1" forumnet
# The role's settings for pooler mode (no startup options through PgBouncer); harmless otherwise.
psql1 postgres -c "ALTER ROLE $PG_SUPERUSER PASSWORD '$DB_PASSWORD'" \
  -c "ALTER ROLE $PG_SUPERUSER IN DATABASE forumnet SET statement_timeout = '5s'" \
  -c "ALTER ROLE $PG_SUPERUSER IN DATABASE forumnet SET lock_timeout = '5s'" \
  -c "ALTER ROLE $PG_SUPERUSER IN DATABASE forumnet SET \"TimeZone\" = 'UTC'" \
  -c "ALTER ROLE $PG_SUPERUSER IN DATABASE forumnet SET jit = off"
tcp_url() { printf 'postgresql://%s:%s@127.0.0.1:%s/forumnet' "$PG_SUPERUSER" "$DB_PASSWORD" "$1"; }
# Direct connections try both servers and take the one that accepts writes: after the promotion too.
DIRECT_URL="postgresql://$PG_SUPERUSER:$DB_PASSWORD@127.0.0.1:$P1,127.0.0.1:$P2/forumnet?target_session_attrs=read-write"

if ! FORUMNET_DATABASE_URL=$(tcp_url "$P1") "$BIN" migrate </dev/null >"$WORK/log/migrate.log" 2>&1; then
  cat "$WORK/log/migrate.log"
  die "forumnet migrate (directly to the primary) failed"
fi
ADMIN_EMAIL=scaleout-admin@scaleout.forumnet.test
ADMIN_PASSWORD="scaleout $(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$ADMIN_PASSWORD" | FORUMNET_DATABASE_URL=$(tcp_url "$P1") FORUMNET_JWT_SECRET=unused-unused-unused-unused-unused \
  "$BIN" admin create --email "$ADMIN_EMAIL" --role admin --name "Scaleout Admin" --password-stdin \
  >"$WORK/log/admin.log" 2>&1 || {
  cat "$WORK/log/admin.log"
  die "forumnet admin create failed"
}
pass migrate "once, directly to the primary on port $P1"

# The standby: a base backup with a replication slot, streaming WAL (-X stream), standby.signal and
# primary_conninfo written by -R.
_pg_owned_dir "$PG_USER" "$PG2"
_pg_as "$PG_USER" "$PG_BIN/pg_basebackup" -h "$WORK/run1" -p "$P1" -U "$PG_SUPERUSER" -D "$PG2" \
  -R -X stream -C -S scaleout_standby -c fast --no-sync >"$WORK/log/basebackup.log" 2>&1 || {
  cat "$WORK/log/basebackup.log"
  die "pg_basebackup failed"
}
STANDBY_SETTINGS=$PG_COMMON
if ((HAS_READ)); then
  # Replays lag 2 s behind: a read that the replica would answer before the caller's own write is visible
  # must go to the primary (read-your-writes check below).
  STANDBY_SETTINGS+=$'\nrecovery_min_apply_delay = 2s'
fi
PG_MAX_CONNECTIONS=200 PG_EXTRA_SETTINGS=$STANDBY_SETTINGS pg_start "$PG2" "$WORK/run2" "$P2" 127.0.0.1 ||
  die "could not start the standby"
streaming=''
for ((i = 0; i < 100; i++)); do
  streaming=$(psql1 postgres -At -c "SELECT state FROM pg_stat_replication WHERE state = 'streaming' LIMIT 1")
  [[ "$streaming" == streaming ]] && break
  sleep 0.1
done
[[ "$streaming" == streaming ]] || die "the standby does not stream"
# Synchronous commit to the standby: an acknowledged write is on both servers, so promoting the standby after
# the primary crashed loses none.
psql1 postgres -c "ALTER SYSTEM SET synchronous_standby_names = '*'" -c "SELECT pg_reload_conf()" >/dev/null
pass postgres "primary :$P1, standby :$P2 (slot scaleout_standby, synchronous)"

# --- 3. PgBouncer ----------------------------------------------------------------------------------------------
step "PgBouncer (transaction pooling)"
PGB_PORT=$(pg_free_port $((P2 + 1)))
PGB_ADMIN=pgbouncer_admin
PGB_ADMIN_PASSWORD=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
PGB_RUN=$WORK/pgbouncer
_pg_owned_dir "$PG_USER" "$PGB_RUN"
printf '"%s" "%s"\n"%s" "%s"\n' "$PG_SUPERUSER" "$DB_PASSWORD" "$PGB_ADMIN" "$PGB_ADMIN_PASSWORD" >"$PGB_RUN/userlist.txt"
write_pgbouncer_ini() {
  render deploy/pgbouncer.ini "$PGB_RUN/pgbouncer.ini" PRIMARY_HOST=127.0.0.1 PRIMARY_PORT="$1" \
    LISTEN_ADDR=127.0.0.1 LISTEN_PORT="$PGB_PORT" RUN_DIR="$PGB_RUN" ADMIN_USER="$PGB_ADMIN"
  if [[ $(id -u) -eq 0 ]]; then chown "$PG_USER:" "$PGB_RUN/pgbouncer.ini" "$PGB_RUN/userlist.txt"; fi
  chmod 600 "$PGB_RUN/userlist.txt"
}
write_pgbouncer_ini "$P1"
# PgBouncer refuses to run as root: as root it runs as the PostgreSQL user (setpriv execs, so $! is its pid).
AS_PG=()
if [[ $(id -u) -eq 0 ]]; then AS_PG=(setpriv --reuid="$PG_USER" --regid="$PG_USER" --init-groups); fi
(cd / && exec "${AS_PG[@]}" /usr/sbin/pgbouncer "$PGB_RUN/pgbouncer.ini") </dev/null >"$WORK/log/pgbouncer.log" 2>&1 &
PGB_PID=$!
PIDS+=("$PGB_PID")
pgb_admin() { PGPASSWORD=$PGB_ADMIN_PASSWORD "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PGB_PORT" -U "$PGB_ADMIN" pgbouncer "$@"; }
POOLER_URL="postgresql://$PG_SUPERUSER:$DB_PASSWORD@127.0.0.1:$PGB_PORT/forumnet"
ok=0
for ((i = 0; i < 50; i++)); do
  if [[ "$("$PG_BIN/psql" -X -At "$POOLER_URL" -c 'SHOW statement_timeout' 2>/dev/null)" == 5s ]]; then
    ok=1
    break
  fi
  sleep 0.1
done
((ok)) || die "PgBouncer on :$PGB_PORT does not pass queries to the primary with the role's settings"
pass pgbouncer ":$PGB_PORT, pool_mode=transaction, settings from ALTER ROLE (statement_timeout=5s)"

# --- 4. forumnet instances -------------------------------------------------------------------------------------
step "forumnet x$N"
JWT_SECRET=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
if ((HAS_POOLER)); then
  APP_URL=$POOLER_URL
  pass pooler-path "instances -> PgBouncer (FORUMNET_DB_POOLER=transaction)"
else
  # Without pooler mode PgBouncer rejects forumnet's startup options: the instances connect directly.
  APP_URL=$DIRECT_URL
  skip pooler-path "the binary has no FORUMNET_DB_POOLER: instances connect to PostgreSQL directly (multi-host URL)"
fi
# Clear any FORUMNET_* of the caller's environment, then the instances' settings. Every issue 13 setting is set
# whether or not the binary knows it (forumnet ignores unknown variables): the same lines work once merged.
UNSET=()
while IFS='=' read -r name _; do [[ "$name" == FORUMNET_* ]] && UNSET+=(-u "$name"); done < <(env)
INSTANCE_ENV=(
  env "${UNSET[@]}"
  FORUMNET_DATABASE_URL="$APP_URL"
  FORUMNET_DB_POOLER=transaction                # issue 13: pooler mode (ignored by a binary without it)
  FORUMNET_DATABASE_DIRECT_URL="$DIRECT_URL"    # issue 13: migrations/admin CLI bypass PgBouncer
  FORUMNET_DATABASE_READ_URL="$(tcp_url "$P2")" # issue 13: summaries on the replica when it caught up
  FORUMNET_DB_READ_POOL_SIZE=2
  "FORUMNET_TRUSTED_PROXIES=127.0.0.1/32,::1/128" # issue 13: HAProxy and nginx run on loopback
  FORUMNET_DRAIN_MS=1500                        # issue 13: /readyz 503 for 1.5 s after SIGTERM (> 2 checks)
  FORUMNET_DB_RECONNECT_BACKOFF_MS=250
  FORUMNET_JWT_SECRET="$JWT_SECRET"
  FORUMNET_DB_POOL_SIZE=6
  FORUMNET_DB_ACQUIRE_TIMEOUT_MS=1000
  FORUMNET_LOG_REQUESTS=1
  FORUMNET_LOGIN_MAX_FAILURES_PER_ADDRESS=100000
)
INST_PORT=()
port=$((PGB_PORT + 1))
for ((i = 1; i <= N; i++)); do
  port=$(pg_free_port "$port")
  INST_PORT[i]=$port
  port=$((port + 1))
done
start_instance() {
  local i=$1
  "${INSTANCE_ENV[@]}" FORUMNET_LISTEN="127.0.0.1:${INST_PORT[i]}" "$BIN" serve </dev/null >>"$WORK/log/forumnet$i.log" 2>&1 &
  INST_PID[i]=$!
  wait_200 "http://127.0.0.1:${INST_PORT[i]}/readyz" 15 || die "instance $i did not become ready (log: $WORK/log/forumnet$i.log)"
}
for ((i = 1; i <= N; i++)); do start_instance "$i"; done
pass instances "$N on :${INST_PORT[*]}"

# --- 5. HAProxy --------------------------------------------------------------------------------------------------
step "HAProxy"
HP_PORT=$(pg_free_port $((port + 1)))
HP_STATS=$(pg_free_port $((HP_PORT + 1)))
SERVERS=''
for ((i = 1; i <= N; i++)); do SERVERS+="  server f$i 127.0.0.1:${INST_PORT[i]} check"$'\n'; done
render deploy/haproxy.cfg "$WORK/etc/haproxy.cfg" BIND="127.0.0.1:$HP_PORT" STATS_BIND="127.0.0.1:$HP_STATS" \
  SERVERS="${SERVERS%$'\n'}"
haproxy -c -q -f "$WORK/etc/haproxy.cfg" || die "haproxy -c rejects $WORK/etc/haproxy.cfg"
haproxy -db -f "$WORK/etc/haproxy.cfg" </dev/null >"$WORK/log/haproxy.log" 2>&1 &
HAPROXY_PID=$!
PIDS+=("$HAPROXY_PID")
LB=http://127.0.0.1:$HP_PORT
# Prints how many servers HAProxy has UP.
servers_up() { curl -s -m 1 "http://127.0.0.1:$HP_STATS/stats;csv" 2>/dev/null | awk -F, '$1 == "forumnet" && $2 ~ /^f[0-9]+$/ && $18 == "UP"' | wc -l; }
wait_up() { # wait_up COUNT SECONDS
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    (($(servers_up) >= $1)) && return 0
    sleep 0.1
  done
  return 1
}
wait_up "$N" 15 || die "HAProxy does not see $N servers UP"
pass haproxy "$LB, $N servers UP on /readyz"

# /metrics: denied at the proxy, served by each instance directly.
m_lb=$(curl -s -o /dev/null -w '%{http_code}' "$LB/metrics")
m_enc=$(curl -s -o /dev/null -w '%{http_code}' --path-as-is "$LB//%6Detrics")
m_direct=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${INST_PORT[1]}/metrics")
if [[ "$m_lb" == 404 && "$m_enc" == 404 && "$m_direct" == 200 ]]; then
  pass metrics-denied "through HAProxy 404 (also //%6Detrics), direct 200"
else
  fail metrics-denied "through HAProxy $m_lb, //%6Detrics $m_enc, direct $m_direct"
fi

# X-Forwarded-For: HAProxy appends the peer's address; forumnet trusts 127.0.0.1 (the proxies) only. A client on
# another loopback address (127.0.0.2) forges a left-most entry; the instance's request log must name 127.0.0.2.
# (e2e_trusted_proxies.c proves the rule in detail against a single server.)
# logged_client BASE_URL TAG: the "client" of the request log line of a request sent through BASE_URL.
logged_client() {
  local id="scaleout-xff-$2-$$" i line=''
  curl -s -o /dev/null --interface 127.0.0.2 -H "X-Request-Id: $id" -H 'X-Forwarded-For: 203.0.113.9' "$1/v1/me" || true
  for _ in $(seq 20); do
    line=$(grep -h "\"$id\"" "$WORK"/log/forumnet*.log 2>/dev/null | head -1) && [[ -n "$line" ]] && break
    sleep 0.1
  done
  i=$(sed -n 's/.*"client":"\([^"]*\)".*/\1/p' <<<"$line")
  echo "${i:-none}"
}
if [[ "$HAS_PROXIES" == 1 ]]; then
  xff_client=$(logged_client "$LB" haproxy)
  if [[ "$xff_client" == 127.0.0.2 ]]; then
    pass trusted-proxies "through HAProxy the log names the client 127.0.0.2, not the forged 203.0.113.9"
  else
    fail trusted-proxies "through HAProxy the log names the client $xff_client (expected 127.0.0.2)"
  fi
else
  skip trusted-proxies "the binary has no FORUMNET_TRUSTED_PROXIES"
fi

# --- 6. the contract scenario through HAProxy, live streams held meanwhile ----------------------------------------
# The streams (default 25 s heartbeats) are held while the walk and the read-your-writes check run, for at
# least 32 s: past HAProxy's 30 s timeouts, so a config that cuts an SSE stream between heartbeats fails here.
if ((HAS_STREAM)); then
  step "Live streams opened (instance 1 direct, HAProxy), held during the contract walk"
  STREAM_OUT=$WORK/log/stream.log
  STREAM_LB_URL=$LB STREAM_DIRECT_URL="http://127.0.0.1:${INST_PORT[1]}" STREAM_OTHER_URL="http://127.0.0.1:${INST_PORT[2]}" \
    STREAM_ADMIN_EMAIL=$ADMIN_EMAIL STREAM_ADMIN_PASSWORD=$ADMIN_PASSWORD STREAM_READY_FILE=$WORK/stream.ready \
    node tests/scaleout/stream.mjs </dev/null >"$STREAM_OUT" 2>&1 &
  STREAM_PID=$!
  for ((i = 0; i < 100; i++)); do
    [[ -e "$WORK/stream.ready" ]] || ! alive "$STREAM_PID" && break
    sleep 0.1
  done
fi
step "Contract scenario through HAProxy"
contract() { # contract NAME BASE_URL [VAR=VALUE...]
  local name=$1 base=$2
  shift 2
  if env "$@" CONTRACT_BASE_URL="$base" CONTRACT_ADMIN_EMAIL="$ADMIN_EMAIL" CONTRACT_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
    CONTRACT_SKIP_DOCS=1 bash tests/contract/run.sh </dev/null >"$WORK/log/$name.log" 2>&1; then
    pass "$name" "$(tail -n 1 "$WORK/log/$name.log")"
  else
    grep '^not ok' "$WORK/log/$name.log" | head -n 20 || true
    tail -n 3 "$WORK/log/$name.log"
    fail "$name" "$(tail -n 1 "$WORK/log/$name.log")"
  fi
}
contract contract-haproxy "$LB"

# An admin's token for what follows.
login() { # login BASE_URL -> prints an access token
  curl -s -m 10 -X POST "$1/v1/auth/login" -H 'Content-Type: application/json' \
    -d "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PASSWORD\"}" |
    sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p'
}
TOKEN=$(login "$LB")
[[ -n "$TOKEN" ]] || die "could not log in as $ADMIN_EMAIL through HAProxy"
AUTH="Authorization: Bearer $TOKEN"

# --- 7. read-your-writes against the delayed replica -------------------------------------------------------------
step "Read-your-writes (replica replays 2 s late)"
if ((HAS_READ)); then
  ryw_bad=0
  for ((k = 1; k <= 5; k++)); do
    body=$(curl -s -m 5 -X POST "$LB/v1/sites" -H "$AUTH" -H 'Content-Type: application/json' \
      -d "{\"slug\":\"so-ryw-$k-$RANDOM\",\"name\":\"RYW $k\",\"organisation\":\"Scaleout\"}")
    id=$(sed -n 's/.*"id" *: *"\([^"]*\)".*/\1/p' <<<"$body" | head -n 1)
    code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 "$LB/v1/sites/$id/summary" -H "$AUTH")
    [[ -n "$id" && "$code" == 200 ]] || {
      echo "site $k (${id:-not created}): summary answered $code right after the write"
      ryw_bad=$((ryw_bad + 1))
    }
  done
  lag=$(pg_psql "$WORK/run2" "$P2" forumnet -At -c "SELECT coalesce(round(extract(epoch FROM now() - pg_last_xact_replay_timestamp())::numeric, 1)::text, '?')")
  if ((ryw_bad == 0)); then
    pass read-your-writes "5 of 5 summaries of just-created sites answered 200 (replica ${lag} s behind)"
  else
    fail read-your-writes "$ryw_bad of 5 summaries of just-created sites did not answer 200"
  fi
else
  skip read-your-writes "the binary has no FORUMNET_DATABASE_READ_URL (every read goes to the primary)"
fi

# --- 7b. the live streams: another member's invitations, made on instance 2 and through HAProxy ----------------
if ((HAS_STREAM)); then
  step "Live stream across instances (waits for the streams' 32 s hold)"
  wait "$STREAM_PID" && stream_status=0 || stream_status=$?
  STREAM_PID=''
  grep -E '^(not )?ok ' "$STREAM_OUT" || true
  # Which instance served the invitation sent through HAProxy (its X-Request-Id in the instances' logs).
  lb_req=$(awk '$1 == "request" && $2 == "haproxy" { print $3 }' "$STREAM_OUT")
  lb_inst=$(grep -l "\"${lb_req:-none}\"" "$WORK"/log/forumnet*.log 2>/dev/null | sed -n 's/.*forumnet\([0-9]*\)\.log$/\1/p' | head -n 1)
  delays=$(awk '$1 == "delay" { printf "%s%s<-%s %s ms (%s ms)", sep, $2, $3, $4, $5; sep = ", " }' "$STREAM_OUT")
  beats=$(awk '$1 == "heartbeats" { printf "%s%s %s", sep, $2, $3; sep = ", " }' "$STREAM_OUT")
  FIGURES+=("live stream, invitation's answer (its request) -> event on the member's stream (stream<-action; negative: the event came before the answer): ${delays:-none}; the HAProxy action was served by instance ${lb_inst:-?}; heartbeats during the hold: ${beats:-?}")
  if ((stream_status == 0)); then
    pass stream-across-instances "membership.invited made on instance 2 and through HAProxy reached streams on instance 1 and through HAProxy within 1 s (${delays})"
  else
    tail -n 5 "$STREAM_OUT"
    fail stream-across-instances "$(grep -m 1 '^not ok' "$STREAM_OUT" || echo "stream.mjs exited $stream_status")"
  fi
else
  skip stream-across-instances "the binary has no FORUMNET_STREAM_HEARTBEAT_MS (no live stream)"
fi

# --- 8. faults under bounded load ----------------------------------------------------------------------------
# Which server answers writes now (the rows are counted there, after the promotion on the new primary).
load_start() { # load_start NAME
  LOAD_URL=$LB LOAD_TOKEN=$TOKEN LOAD_PREFIX="so-$1" LOAD_OUT="$WORK/load/$1.jsonl" LOAD_WORKERS=4 \
    LOAD_PAUSE_MS=10 LOAD_SECONDS=60 node tests/scaleout/load.mjs </dev/null >"$WORK/log/load-$1.log" 2>&1 &
  LOAD_PID=$!
}
load_stop() {
  kill -TERM "$LOAD_PID" 2>/dev/null
  wait "$LOAD_PID" || echo "load generator: exit status $?"
  LOAD_PID=''
}
declare -A FAULT_AT FAULT_END

step "Fault 1: SIGTERM instance 1 under load (drain, exit, restart)"
if ((!HAS_DRAIN)); then
  echo "note: the binary has no FORUMNET_DRAIN_MS: HAProxy learns of the stop from refused connections only"
fi
load_start sigterm
sleep 1.5
FAULT_AT[sigterm]=$(now_ms)
kill -TERM "${INST_PID[1]}"
wait "${INST_PID[1]}" && term_status=0 || term_status=$?
fault_at=${FAULT_AT[sigterm]}
term_ms=$(($(now_ms) - fault_at))
start_instance 1
wait_up "$N" 10 || echo "HAProxy did not see instance 1 UP again within 10 s"
sleep 1
load_stop
if ((term_status == 0)); then
  pass sigterm-exit "instance 1 exited 0 in ${term_ms} ms and came back"
else
  fail sigterm-exit "instance 1 exited with status $term_status"
fi

step "Fault 2: SIGKILL instance 2 under load (restart)"
load_start sigkill
sleep 1.5
FAULT_AT[sigkill]=$(now_ms)
kill -KILL "${INST_PID[2]}"
wait "${INST_PID[2]}" 2>/dev/null || true
# Reaped: its sockets are closed. Until then a connection could still land in its listen queue and be reset,
# so a request sent before this moment was in flight on the killed instance (check.mjs).
FAULT_END[sigkill]=$(now_ms)
sleep 0.5
start_instance 2
wait_up "$N" 10 || echo "HAProxy did not see instance 2 UP again within 10 s"
sleep 1
load_stop
pass sigkill-restart "instance 2 killed and back"

step "Fault 3: stop the primary (immediate), promote the standby, repoint PgBouncer"
load_start promote
sleep 1.5
FAULT_AT[promote]=$(now_ms)
pg_stop "$PG1" immediate || die "could not stop the primary"
t_stop=$(now_ms)
_pg_as "$PG_USER" "$PG_BIN/pg_ctl" -D "$PG2" -s -w -t 30 promote || die "pg_ctl promote failed"
t_promoted=$(now_ms)
write_pgbouncer_ini "$P2"
pgb_admin -c RELOAD || die "PgBouncer RELOAD failed"
t_repointed=$(now_ms)
# PgBouncer now reaches the new primary (its server connections to the old one were closed by the RELOAD).
pgb_primary=''
for ((i = 0; i < 50; i++)); do
  pgb_primary=$("$PG_BIN/psql" -X -At "$POOLER_URL" -c 'SELECT pg_is_in_recovery()' 2>/dev/null) && [[ "$pgb_primary" == f ]] && break
  sleep 0.1
done
# The writes succeed again: wait for one 201 after the repoint.
recovered=''
for ((i = 0; i < 100; i++)); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -m 2 -X POST "$LB/v1/sites" -H "$AUTH" -H 'Content-Type: application/json' \
    -d "{\"slug\":\"so-probe-$i-$RANDOM\",\"name\":\"probe\",\"organisation\":\"Scaleout\"}")
  if [[ "$code" == 201 ]]; then
    recovered=$(now_ms)
    break
  fi
  sleep 0.1
done
wait_up "$N" 10 || echo "HAProxy does not see $N servers UP after the promotion"
sleep 1
load_stop
if [[ "$pgb_primary" != f ]]; then
  fail promote "PgBouncer does not reach a writable primary after the RELOAD (pg_is_in_recovery: ${pgb_primary:-no answer})"
elif [[ -n "$recovered" ]]; then
  pass promote "primary stopped, standby promoted in $((t_promoted - t_stop)) ms, PgBouncer repointed (reaches the new primary), writes back $((recovered - t_stop)) ms after the stop"
else
  fail promote "no write succeeded within 10 s of the repoint"
fi

# The rows, counted on the new primary (also proves the acknowledged writes of faults 1 and 2 survived it).
step "Acknowledged writes against the database (new primary)"
for fault in sigterm sigkill promote; do
  rule=$fault
  if [[ $fault == sigterm ]] && ((!HAS_DRAIN)); then
    # Without a drain delay an answer in flight at the SIGTERM can be cut (seen: the write committed, the
    # client got a reset): judged like a SIGKILL until FORUMNET_DRAIN_MS exists.
    rule=sigterm-nodrain
    skip sigterm-no-errors "the binary has no FORUMNET_DRAIN_MS: requests in flight at the SIGTERM may lose their answer"
  fi
  pg_psql "$WORK/run2" "$P2" forumnet -At -c "SELECT slug FROM sites WHERE slug LIKE 'so-$fault-%'" >"$WORK/load/$fault.rows"
  if CHECK_WINDOW_FILE=$WORK/load/$fault.window CHECK_FAULT_END_MS=${FAULT_END[$fault]:-} \
    node tests/scaleout/check.mjs "$rule" "$WORK/load/$fault.jsonl" \
    "$WORK/load/$fault.rows" "${FAULT_AT[$fault]}" >"$WORK/load/$fault.check"; then
    pass "fault-$fault" "$(head -n 1 "$WORK/load/$fault.check")"
  else
    cat "$WORK/load/$fault.check"
    fail "fault-$fault" "$(head -n 1 "$WORK/load/$fault.check")"
  fi
done
FIGURES+=("promotion window (first to last non-2xx write through HAProxy): $(cat "$WORK/load/promote.window" 2>/dev/null || echo '?')")
FIGURES+=("promotion: primary stopped -> standby promoted $((t_promoted - t_stop)) ms, -> PgBouncer repointed $((t_repointed - t_stop)) ms")

# --- 9. nginx, the alternative front --------------------------------------------------------------------------
step "nginx (the documented alternative) and the contract scenario through it"
NG_PORT=$(pg_free_port $((HP_STATS + 1)))
NG_DIR=$WORK/nginx
mkdir -p "$NG_DIR"
SERVERS=''
for ((i = 1; i <= N; i++)); do SERVERS+="    server 127.0.0.1:${INST_PORT[i]} max_fails=1 fail_timeout=2s;"$'\n'; done
render deploy/nginx.conf "$NG_DIR/nginx.conf" BIND="127.0.0.1:$NG_PORT" RUN_DIR="$NG_DIR" SERVERS="${SERVERS%$'\n'}"
nginx -q -t -p "$NG_DIR" -e stderr -c "$NG_DIR/nginx.conf" 2>"$WORK/log/nginx-t.log" || {
  cat "$WORK/log/nginx-t.log"
  die "nginx -t rejects $NG_DIR/nginx.conf"
}
nginx -p "$NG_DIR" -e stderr -c "$NG_DIR/nginx.conf" </dev/null >"$WORK/log/nginx.log" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
NG=http://127.0.0.1:$NG_PORT
wait_200 "$NG/readyz" 10 || die "nginx does not answer on $NG"
ng_metrics=$(curl -s -o /dev/null -w '%{http_code}' "$NG/metrics")
if [[ "$ng_metrics" == 404 ]]; then pass nginx "$NG, /metrics 404"; else fail nginx "/metrics answered $ng_metrics through nginx"; fi
if [[ "$HAS_PROXIES" == 1 ]]; then
  xff_client=$(logged_client "$NG" nginx)
  if [[ "$xff_client" == 127.0.0.2 ]]; then
    pass trusted-proxies-nginx "through nginx the log names the client 127.0.0.2, not the forged 203.0.113.9"
  else
    fail trusted-proxies-nginx "through nginx the log names the client $xff_client (expected 127.0.0.2)"
  fi
fi
# The client was generated and type-checked by the first walk: this one only walks.
contract contract-nginx "$NG" CONTRACT_REUSE_DIST=1

# --- 10. throughput ---------------------------------------------------------------------------------------------
# Interleaved rounds, each measuring the three fronts in a rotating order (so none always runs first or last):
# the figure is the ratio balancer/direct, the median of the rounds' ratios. The absolute req/s (medians) are
# printed too, but on a shared machine only the ratio between fronts measured side by side means something.
step "Throughput: GET /v1/sites/{id}, $BENCH_ROUNDS rounds of wrk -c$BENCH_CONNS ${BENCH_SECONDS} s through HAProxy, nginx and one instance direct"
if ((BENCH_SECONDS > 0 && BENCH_ROUNDS > 0)); then
  SITE_ID=$(pg_psql "$WORK/run2" "$P2" forumnet -At -c "SELECT id FROM sites ORDER BY created_at LIMIT 1")
  TOKEN=$(login "$LB")
  bench() { # bench URL -> prints requests/s; fails on errors or non-2xx
    local out
    out=$(wrk -t2 -c"$BENCH_CONNS" -d"${BENCH_SECONDS}s" -H "Authorization: Bearer $TOKEN" "$1/v1/sites/$SITE_ID" 2>&1) ||
      return 1
    if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
      echo "$out" >&2
      return 1
    fi
    awk '/^Requests\/sec:/ { printf "%.0f\n", $2 }' <<<"$out"
  }
  median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
  FRONT_NAME=(HAProxy nginx direct)
  FRONT_URL=("$LB" "$NG" "http://127.0.0.1:${INST_PORT[1]}")
  RPS_HAPROXY=() RPS_NGINX=() RPS_DIRECT=() RATIO_HAPROXY=() RATIO_NGINX=()
  # Where each log stands now: when wrk sees a non-2xx answer (it does not say which), what the instances logged
  # from here on names the statuses and routes, and HAProxy's log the servers it marked down.
  LOG_MARK=()
  for ((i = 1; i <= N; i++)); do LOG_MARK[i]=$(stat -c %s "$WORK/log/forumnet$i.log"); done
  LOG_MARK[0]=$(stat -c %s "$WORK/log/haproxy.log")
  throughput_errors() {
    local i
    for ((i = 1; i <= N; i++)); do
      echo "instance $i, answers other than 2xx during the throughput step (count, then the last 5):"
      tail -c +$((LOG_MARK[i] + 1)) "$WORK/log/forumnet$i.log" | grep -E '"status":[^2][0-9][0-9]' >"$WORK/log/non2xx$i.log" || true
      grep -oE '"status":[0-9]+' "$WORK/log/non2xx$i.log" | sort | uniq -c || true
      tail -n 5 "$WORK/log/non2xx$i.log"
    done
    echo "HAProxy's log during the throughput step (last 20 lines):"
    tail -c +$((LOG_MARK[0] + 1)) "$WORK/log/haproxy.log" | tail -n 20
  }
  load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  bench_ok=1
  for ((r = 0; r < BENCH_ROUNDS && bench_ok; r++)); do
    rps=()
    for ((k = 0; k < 3; k++)); do
      f=$(((r + k) % 3))
      rps[f]=$(bench "${FRONT_URL[f]}") || {
        bench_ok=0
        break
      }
    done
    ((bench_ok)) || break
    RPS_HAPROXY+=("${rps[0]}") RPS_NGINX+=("${rps[1]}") RPS_DIRECT+=("${rps[2]}")
    RATIO_HAPROXY+=("$(awk -v a="${rps[0]}" -v d="${rps[2]}" 'BEGIN { printf "%.3f", a / d }')")
    RATIO_NGINX+=("$(awk -v a="${rps[1]}" -v d="${rps[2]}" 'BEGIN { printf "%.3f", a / d }')")
    printf 'round %d (order %s, %s, %s): HAProxy %s, nginx %s, direct %s req/s; HAProxy/direct %s, nginx/direct %s\n' \
      $((r + 1)) "${FRONT_NAME[r % 3]}" "${FRONT_NAME[(r + 1) % 3]}" "${FRONT_NAME[(r + 2) % 3]}" \
      "${rps[0]}" "${rps[1]}" "${rps[2]}" "${RATIO_HAPROXY[r]}" "${RATIO_NGINX[r]}"
  done
  load_after=$(cut -d' ' -f1-3 /proc/loadavg)
  if ((bench_ok)); then
    med_lb=$(printf '%s\n' "${RPS_HAPROXY[@]}" | median)
    med_ng=$(printf '%s\n' "${RPS_NGINX[@]}" | median)
    med_one=$(printf '%s\n' "${RPS_DIRECT[@]}" | median)
    ratio_lb=$(printf '%s\n' "${RATIO_HAPROXY[@]}" | median)
    ratio_ng=$(printf '%s\n' "${RATIO_NGINX[@]}" | median)
    FIGURES+=("GET /v1/sites/{id}, wrk -t2 -c$BENCH_CONNS, $BENCH_ROUNDS interleaved rounds of ${BENCH_SECONDS} s on $(nproc) cores, medians: HAProxy -> $N instances $med_lb req/s, nginx -> $N instances $med_ng req/s, one instance direct $med_one req/s; HAProxy/direct $ratio_lb, nginx/direct $ratio_ng (median of the rounds' ratios); load average before $load_before, after $load_after")
    pass throughput "HAProxy/direct $ratio_lb, nginx/direct $ratio_ng (medians of $BENCH_ROUNDS rounds)"
  else
    throughput_errors
    fail throughput "wrk saw errors"
  fi
else
  skip throughput "SCALEOUT_BENCH_SECONDS=0 or SCALEOUT_BENCH_ROUNDS=0"
fi

((${#FAILED[@]} == 0))
