# shellcheck shell=bash
# Shared setup for tests/bench/run.sh, tests/bench/soak.sh and tests/valgrind/run.sh. Source it from the
# repository root after scripts/lib/packages.sh, scripts/lib/deps.sh and scripts/lib/pg.sh; the caller defines
# `die MESSAGE` (print and exit 1). Every function sets plain global variables, listed with it.
#
#   bench_build DIR TYPE           cmake (tests off) + build forumnet into DIR with CMAKE_BUILD_TYPE=TYPE
#                                  sets FORUMNET (the binary)
#   bench_pg_start                 throwaway PostgreSQL 15 under /tmp with scripts/test.sh's settings, database
#                                  `forumnet`; sets PG_BASE PG_DATA PG_SOCK PG_PORT DATABASE_URL PG_VERSION PG_SETTINGS
#                                  and defines psql_forumnet [psql args...]
#   bench_seed                     migrate, `seed --demo`, then 50 sites and 200 practitioners by SQL (they share the
#                                  demo admin's password hash); sets ADMIN_EMAIL ADMIN_PASSWORD PRACTITIONER_EMAIL
#                                  PRACTITIONER_PASSWORD SITE_ID MEMBER_ID
#   bench_serve [WRAPPER...]       start `[WRAPPER...] $FORUMNET serve` on a free port with SERVER_ENV (an array of
#                                  KEY=VALUE the caller may extend first; FORUMNET_* from the caller's environment are
#                                  not passed on) and wait up to BENCH_READY_SECONDS (10) for /readyz;
#                                  sets SERVER_PID SERVER_LOG HTTP_PORT BASE_URL (needs WORK, a scratch directory)
#   bench_login EMAIL PASSWORD     print an access token
#   bench_stop_server [SECONDS]    SIGTERM the server and wait (default 15 s, then SIGKILL); returns its exit status
#   bench_cleanup_pg               stop the cluster; remove PG_BASE unless BENCH_KEEP=1
#
# shellcheck disable=SC2034 # the globals set here are read by the scripts that source this file
# The JWT secret is random per run and kept in BENCH_JWT_SECRET (tests may forge tokens with it).

bench_build() {
  local dir=$1 type=$2 jobs
  jobs=$(nproc 2>/dev/null || echo 2)
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" -DFORUMNET_TESTS=OFF >/dev/null || die "cmake configure failed"
  cmake --build "$dir" -j"$jobs" -- --no-print-directory >/dev/null 2>"$dir/bench-build.err" || {
    cat "$dir/bench-build.err" >&2
    die "build failed"
  }
  FORUMNET=$dir/forumnet
}

bench_pg_start() {
  # Under /tmp rather than $TMPDIR: as root the server runs as another user, who must be able to reach it.
  PG_BASE=$(mktemp -d /tmp/forumnet-bench.XXXXXX)
  chmod 755 "$PG_BASE"
  PG_DATA=$PG_BASE/pg
  PG_SOCK=$PG_BASE/run
  PG_PORT=5432 # only names the socket file in our private socket directory; no TCP
  # The same settings as scripts/test.sh: durability off (the cluster is deleted at exit).
  PG_INITDB_NOSYNC=1 PG_MAX_CONNECTIONS=200 \
    PG_EXTRA_SETTINGS=$'fsync = off\nsynchronous_commit = off\nfull_page_writes = off' \
    pg_start "$PG_DATA" "$PG_SOCK" "$PG_PORT" || die "could not start PostgreSQL"
  pg_createdb "$PG_SOCK" "$PG_PORT" forumnet
  DATABASE_URL=$(pg_url "$PG_SOCK" "$PG_PORT" forumnet)
  PG_VERSION=$(psql_forumnet -At -c 'SHOW server_version')
  PG_SETTINGS=$(psql_forumnet -At -F ' = ' -c "SELECT name, current_setting(name) FROM pg_settings
    WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'max_connections', 'shared_buffers')
    ORDER BY name" | paste -sd ';' | sed 's/;/; /g')
}

psql_forumnet() { pg_psql "$PG_SOCK" "$PG_PORT" forumnet "$@"; }

bench_seed() {
  local seed_out
  FORUMNET_DATABASE_URL=$DATABASE_URL "$FORUMNET" migrate </dev/null >/dev/null || die "forumnet migrate failed"
  seed_out=$(FORUMNET_DATABASE_URL=$DATABASE_URL "$FORUMNET" seed --demo </dev/null) || die "forumnet seed --demo failed"
  ADMIN_EMAIL=admin@demo.forumnet.test
  PRACTITIONER_EMAIL=practitioner.hackney@demo.forumnet.test
  ADMIN_PASSWORD=$(awk -v e="$ADMIN_EMAIL" '$2 == e { print $3 }' <<<"$seed_out")
  PRACTITIONER_PASSWORD=$(awk -v e="$PRACTITIONER_EMAIL" '$2 == e { print $3 }' <<<"$seed_out")
  [[ -n "$ADMIN_PASSWORD" && -n "$PRACTITIONER_PASSWORD" ]] ||
    die "could not find the demo passwords in the output of forumnet seed --demo"
  # Bulk data straight into the tables (the API would spend ~0.1 s of Argon2id per member). The members share the
  # admin's password hash.
  psql_forumnet <<'SQL'
INSERT INTO sites (slug, name, organisation, region)
SELECT 'bench-' || g, 'Bench Site ' || g, 'Bench Organisation ' || g, 'Region ' || (1 + g % 9)
FROM generate_series(1, 50) AS g;
INSERT INTO members (email, display_name, role, discipline, home_site_id, password_hash)
SELECT 'bench.member' || g || '@bench.forumnet.test', 'Bench Member ' || g, 'practitioner', 'Social work',
       (SELECT id FROM sites WHERE slug = 'bench-' || (1 + g % 50)),
       (SELECT password_hash FROM members WHERE email = 'admin@demo.forumnet.test')
FROM generate_series(1, 200) AS g;
ANALYZE;
SQL
  SITE_ID=$(psql_forumnet -At -c "SELECT id FROM sites WHERE slug = 'bench-25'")
  MEMBER_ID=$(psql_forumnet -At -c "SELECT id FROM members WHERE email = 'bench.member100@bench.forumnet.test'")
}

# shellcheck disable=SC2120 # callers pass a wrapper or nothing
bench_serve() {
  [[ -n "${WORK:-}" ]] || die "bench_serve needs WORK"
  HTTP_PORT=$(pg_free_port 18080)
  BASE_URL=http://127.0.0.1:$HTTP_PORT
  SERVER_LOG=$WORK/forumnet.log
  : "${BENCH_JWT_SECRET:=bench-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
  local env_args=(
    "FORUMNET_DATABASE_URL=$DATABASE_URL"
    "FORUMNET_LISTEN=127.0.0.1:$HTTP_PORT"
    "FORUMNET_JWT_SECRET=$BENCH_JWT_SECRET"
    "FORUMNET_LOG_REQUESTS=0"
    ${SERVER_ENV[@]+"${SERVER_ENV[@]}"}
  )
  local unset_args=() name
  while IFS='=' read -r name _; do
    [[ $name == FORUMNET_* ]] && unset_args+=(-u "$name")
  done < <(env)
  env "${unset_args[@]}" "${env_args[@]}" "$@" "$FORUMNET" serve </dev/null >"$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
  local deadline=$((SECONDS + ${BENCH_READY_SECONDS:-10}))
  while ((SECONDS < deadline)); do
    if curl -fsS -o /dev/null "$BASE_URL/readyz" 2>/dev/null; then return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || die "forumnet serve exited early (log: $SERVER_LOG)"
    sleep 0.1
  done
  curl -fsS -o /dev/null "$BASE_URL/readyz" || die "forumnet serve did not become ready at $BASE_URL"
}

bench_login() {
  local body token
  body=$(curl -fsS -H 'Content-Type: application/json' \
    --data "{\"email\":\"$1\",\"password\":\"$2\"}" "$BASE_URL/v1/auth/login") || die "login as $1 failed"
  token=$(sed -n 's/.*"access_token"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' <<<"$body")
  [[ -n "$token" ]] || die "no access_token in the login response for $1"
  printf '%s\n' "$token"
}

bench_stop_server() {
  local limit=${1:-15} status=0 i
  [[ -n "${SERVER_PID:-}" ]] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for ((i = 0; i < limit * 10; i++)); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  wait "$SERVER_PID" 2>/dev/null || status=$?
  SERVER_PID=''
  return "$status"
}

bench_cleanup_pg() {
  if [[ -n "${PG_DATA:-}" ]]; then
    pg_stop "$PG_DATA" immediate >/dev/null 2>&1 || true
  fi
  if [[ -n "${PG_BASE:-}" ]]; then
    if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
      echo "kept the cluster's directory: $PG_BASE"
    else
      rm -rf "$PG_BASE"
    fi
  fi
}
