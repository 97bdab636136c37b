# shellcheck shell=bash
# Shared setup for the scripts of tests/bench and tests/valgrind/run.sh. Source it from the
# repository root after scripts/lib/packages.sh, scripts/lib/deps.sh and scripts/lib/pg.sh; the caller defines
# `die MESSAGE` (print and exit 1). Every function sets plain global variables, listed with it.
#
#   bench_build DIR TYPE           cmake (tests off) + build forumnet into DIR with CMAKE_BUILD_TYPE=TYPE
#                                  sets FORUMNET (the binary)
#   bench_pg_start                 throwaway PostgreSQL 15 under /tmp with scripts/test.sh's settings, database
#                                  `forumnet`; sets PG_BASE PG_DATA PG_SOCK PG_PORT DATABASE_URL PG_VERSION PG_SETTINGS
#                                  and defines psql_forumnet [psql args...]. BENCH_PG_EXTRA_SETTINGS (postgresql.conf
#                                  lines, newline separated) are added when set (the scale run preloads auto_explain).
#   bench_seed                     migrate, `seed --demo`, then 50 sites and 200 practitioners by SQL (they share the
#                                  demo admin's password hash); sets ADMIN_EMAIL ADMIN_PASSWORD PRACTITIONER_EMAIL
#                                  PRACTITIONER_PASSWORD SITE_ID MEMBER_ID; and bench_seed_discussions: a group of the
#                                  demo practitioner with 200 threads and 10 000 posts, sets DISCUSSION_GROUP_ID
#   bench_seed_scale N             after bench_seed: `forumnet seed --scale N` (seed 1; output in WORK/seed-scale.txt),
#                                  then VACUUM ANALYZE and CHECKPOINT (what autovacuum and the checkpointer would have
#                                  done before anyone measured); sets SCALE_PASSWORD SCALE_ADMIN_EMAIL
#                                  SCALE_MANAGER_EMAIL SCALE_MANAGER_SITES (array: the manager's sites, at most 4, by
#                                  id) SCALE_SEED_SECONDS SCALE_VACUUM_SECONDS
#   bench_explain_summaries OUT ADMIN_TOKEN MANAGER_TOKEN SITE_ID
#                                  needs a cluster started with BENCH_PG_EXTRA_SETTINGS=$BENCH_SCALE_PG_SETTINGS
#                                  (auto_explain preloaded, inactive until asked) and a running server: logs one GET /v1/sites/SITE_ID/summary (manager) and one
#                                  GET /v1/summaries/sites (admin) with auto_explain (ANALYZE, BUFFERS) and writes to
#                                  OUT the summary statement's text, its parameters and both plans, as the server ran
#                                  them; then times 5 more of each without auto_explain and sets EXPLAIN_SITE_MS and
#                                  EXPLAIN_PAGE_MS (the statement's durations in ms, space separated)
#   bench_serve [WRAPPER...]       start `[WRAPPER...] $FORUMNET serve` on a free port with SERVER_ENV (an array of
#                                  KEY=VALUE the caller may extend first; FORUMNET_* from the caller's environment are
#                                  not passed on) and wait up to BENCH_READY_SECONDS (10) for /readyz;
#                                  sets SERVER_PID SERVER_LOG HTTP_PORT BASE_URL (needs WORK, a scratch directory)
#   bench_pooler_role_settings ROLE  the README's ALTER ROLE ROLE IN DATABASE forumnet SET ... that
#                                  FORUMNET_DB_POOLER=transaction expects (statement and lock timeouts 5000 ms,
#                                  TimeZone UTC, jit off)
#   bench_login EMAIL PASSWORD     print an access token
#   bench_stop_server [SECONDS]    SIGTERM the server and wait (default 15 s, then SIGKILL); returns its exit status
#   bench_cleanup_pg               stop the cluster; remove PG_BASE unless BENCH_KEEP=1
#
# The scaffolding every bench script shares (run.sh, explain.sh, streams.sh, soak.sh, webhooks.sh):
#   bench_script NAME [ARGS...]    the calling script's arguments: --help prints its header comment; --scale N (or
#                                  --scale=N) sets BENCH_SCALE, checked (above 0, at most 10) when the script set
#                                  BENCH_TAKES_SCALE=1 and refused otherwise, as is any other argument (exit 2).
#                                  Defines step and die (die's messages start with "NAME:"); sets BENCH_NAME STARTED
#                                  BUILD_DIR (build-bench) and clears PG_BASE PG_DATA SERVER_PID SERVER_LOG WORK
#   bench_whole_numbers MIN KNOB... each KNOB (a variable's name) holds a whole number, at least MIN (0 or 1); else
#                                  "NAME: KNOB must be a whole number [above 0] (got 'VALUE')" and exit 2
#   bench_read_knob                READ (site, the default, or list) is a read run.sh measures; else exit 2
#   bench_read_path                after bench_seed: the path READ names: /v1/sites/$SITE_ID (site), or
#                                  /v1/sites?limit=50 (list: run.sh's list page of 50)
#   bench_traps                    EXIT runs bench_exit; INT and TERM exit 130 and 143 (through it)
#   bench_exit                     the EXIT trap: bench_stop_extras first when the script defines it (its own
#                                  background processes), then stops the server (bench_stop_server 10), shows the
#                                  end of its log when the script failed, stops the cluster, removes WORK unless
#                                  BENCH_KEEP=1, prints the time taken and exits with the script's status
#   bench_setup [PACKAGE...]       installs the build packages and PACKAGEs, builds the Release forumnet into BUILD_DIR,
#                                  makes WORK (a scratch directory), starts the throwaway cluster and seeds it
#                                  (bench_pg_start, bench_seed); sets what those set
#   bench_server_knobs             appends FORUMNET_HTTP_THREADS and FORUMNET_DB_POOL_SIZE to SERVER_ENV when set
#   bench_find_pgbench             sets PGBENCH (PostgreSQL's own pgbench, else the one on PATH)
#   bench_pgbench_init SCALE       after bench_pg_start and bench_find_pgbench: database `pgbench` in the throwaway
#                                  cluster, `pgbench -i -q -s SCALE` into it (its output in WORK/pgbench-init.txt)
#   bench_pgbench ARGS...          $PGBENCH against the throwaway cluster as its superuser (ARGS end with the database)
#   bench_pgbench_percentiles PREFIX  "p50 p95 p99" in ms of the transactions pgbench logged with --log
#                                  --log-prefix=PREFIX (one file per pgbench thread; the third field is the
#                                  latency in microseconds); nothing when no file has a line
#   bench_stop_pid PID             SIGTERM a background process of the script and wait for it; nothing when PID is empty
#
# shellcheck disable=SC2034 # the globals set here are read by the scripts that source this file
# auto_explain is loaded but logs nothing (log_min_duration -1) until bench_explain_summaries turns it on.
BENCH_SCALE_PG_SETTINGS="shared_preload_libraries = 'auto_explain'"
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
    PG_EXTRA_SETTINGS=$'fsync = off\nsynchronous_commit = off\nfull_page_writes = off'${BENCH_PG_EXTRA_SETTINGS:+$'\n'$BENCH_PG_EXTRA_SETTINGS} \
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
  bench_seed_discussions
}

# A network-wide group whose convener is the demo practitioner, with 200 threads of 50 posts each (10 000 posts,
# by four authors) and the practitioner's read position on about half of them: what a page of 50 threads with
# unread counts reads (API.md section 11). Sets DISCUSSION_GROUP_ID.
bench_seed_discussions() {
  DISCUSSION_GROUP_ID=$(psql_forumnet -At -v email="$PRACTITIONER_EMAIL" <<'SQL'
WITH p AS (SELECT id FROM members WHERE email = :'email'),
 a AS (SELECT array_agg(id) AS ids FROM (SELECT id FROM members WHERE email LIKE 'bench.member%' ORDER BY email LIMIT 3) x),
 g AS (INSERT INTO groups (name, status, member_count, min_members, max_members, created_by)
       SELECT 'Bench discussions', 'active', 4, 2, 8, p.id FROM p RETURNING id),
 gm AS (INSERT INTO group_memberships (group_id, member_id, state, role, joined_at)
        SELECT g.id, m, 'active', CASE WHEN m = p.id THEN 'convener' ELSE 'member' END, now()
        FROM g, p, a, unnest(a.ids || p.id) AS m),
 t AS (INSERT INTO threads (group_id, title, created_by, created_at, last_post_at, post_count)
       SELECT g.id, 'Bench thread ' || i, p.id, now() - make_interval(hours => i),
              now() - make_interval(hours => i) + make_interval(mins => 50), 50
       FROM g, p, generate_series(1, 200) AS i RETURNING id, created_at),
 ps AS (INSERT INTO posts (thread_id, seq, author_id, body, created_at)
        SELECT t.id, s, CASE WHEN s % 4 = 0 THEN p.id ELSE a.ids[1 + s % 3] END,
               'Bench post ' || s || ' about caseloads, supervision and the waiting list',
               t.created_at + make_interval(mins => s)
        FROM t, p, a, generate_series(1, 50) AS s),
 r AS (INSERT INTO thread_reads (thread_id, member_id, read_upto)
       SELECT t.id, p.id, 25 FROM t, p WHERE hashtext(t.id::text) % 2 = 0)
SELECT id FROM g;
SQL
  ) || die "could not seed the discussions"
  psql_forumnet -q -c 'ANALYZE threads; ANALYZE posts; ANALYZE thread_reads' || die "ANALYZE failed"
}

bench_seed_scale() {
  local scale=$1 out=${WORK:?bench_seed_scale needs WORK}/seed-scale.txt start
  start=$SECONDS
  FORUMNET_DATABASE_URL=$DATABASE_URL "$FORUMNET" seed --scale "$scale" </dev/null >"$out" 2>&1 || {
    cat "$out" >&2
    die "forumnet seed --scale $scale failed"
  }
  SCALE_SEED_SECONDS=$((SECONDS - start))
  # "logins (every generated member has this password, shown once: PASSWORD)", then "  admin     EMAIL" and
  # "  manager   EMAIL (site scale-s1-1)".
  SCALE_PASSWORD=$(sed -n 's/.*shown once: \([^ )]*\))$/\1/p' "$out")
  SCALE_ADMIN_EMAIL=$(awk '$1 == "admin" && $2 ~ /@/ { print $2; exit }' "$out")
  SCALE_MANAGER_EMAIL=$(awk '$1 == "manager" && $2 ~ /@/ { print $2; exit }' "$out")
  [[ -n "$SCALE_PASSWORD" && -n "$SCALE_ADMIN_EMAIL" && -n "$SCALE_MANAGER_EMAIL" ]] || {
    cat "$out" >&2
    die "could not find the logins in the output of forumnet seed --scale $scale"
  }
  start=$SECONDS
  # VACUUM sets hint bits and the visibility map (index-only scans) as autovacuum would after a bulk load, and
  # ANALYZE refreshes the statistics; the checkpoint writes the load's dirty buffers now rather than during a
  # measurement.
  psql_forumnet -c 'VACUUM (ANALYZE)' -c 'CHECKPOINT' || die "VACUUM ANALYZE after the scale seed failed"
  SCALE_VACUUM_SECONDS=$((SECONDS - start))
  mapfile -t SCALE_MANAGER_SITES < <(psql_forumnet -At -v email="$SCALE_MANAGER_EMAIL" <<'SQL'
SELECT sm.site_id FROM site_managers sm JOIN members m ON m.id = sm.member_id JOIN sites s ON s.id = sm.site_id
WHERE m.email = :'email' AND s.archived_at IS NULL ORDER BY s.created_at, s.id LIMIT 4;
SQL
  )
  ((${#SCALE_MANAGER_SITES[@]} > 0)) || die "the scale manager $SCALE_MANAGER_EMAIL manages no open site"
}

# Reads a slice of the cluster's log (stdin) and prints what the server's summary statement left in it: the
# parameters of its execution and auto_explain's plan. A log record is a timestamped line and the
# tab-indented lines after it.
_bench_summary_records() {
  awk -v marker='json_array_elements_text($1::json) WITH ORDINALITY' '
    function flush() {
      if (rec == "") return
      if (want_detail && rec ~ /DETAIL:  parameters:/) {
        sub(/^.*DETAIL:  /, "", rec); params = rec; want_detail = 0
      } else if (index(rec, marker)) {
        if (rec ~ /  plan:\n/) {
          n = split(rec, lines, "\n"); d = lines[1]; sub(/^.*duration: /, "", d); sub(/  plan:$/, "", d)
          plan = "auto_explain: duration " d "\n"
          for (i = 2; i <= n; i++) {
            l = lines[i]; sub(/^\t/, "", l)
            if (l ~ /^Query Text: /) { sub(/^Query Text: /, "", l); text = l; continue }
            plan = plan l "\n"
          }
        } else if (rec ~ /summaries_figures/) {
          want_detail = 1
        }
      }
      rec = ""
    }
    /^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] / { flush(); rec = $0; next }
    { rec = rec "\n" $0 }
    END {
      flush()
      print "-- " (params == "" ? "parameters: (not logged)" : params)
      printf "%s", plan
      print "-- QUERY TEXT " text
    }'
}

# ALTER SYSTEM SET (or RESET) each NAME=VALUE, then reload. Backends apply it before their next statement.
_bench_pg_set() {
  local sql='' kv
  for kv in "$@"; do
    if [[ $kv == *=* ]]; then sql+="ALTER SYSTEM SET ${kv%%=*} = '${kv#*=}';"$'\n'; else sql+="ALTER SYSTEM RESET $kv;"$'\n'; fi
  done
  psql_forumnet >/dev/null <<<"${sql}SELECT pg_reload_conf();"
  sleep 1 # the postmaster forwards the reload signal to every backend
}

# GET PATH with TOKEN, warning unless 200.
_bench_get() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $2" "$BASE_URL$1")
  [[ $code == 200 ]] || echo "WARNING: GET $1 (for the explain) answered HTTP $code" >&2
  sleep 0.3 # lets the log catch up before the next mark
}

# Waits (up to 60 s) until no other session runs a statement: requests a load generator left queued in forumnet
# must not land in the log slices below.
_bench_wait_idle() {
  local i busy
  for ((i = 0; i < 300; i++)); do
    busy=$(psql_forumnet -At -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'
      AND state <> 'idle' AND pid <> pg_backend_pid()")
    [[ $busy == 0 ]] && return 0
    sleep 0.2
  done
  echo "WARNING: the database is still busy; the explain may mix in other requests" >&2
}

_bench_log_size() { stat -c %s "$PG_DATA/server.log"; }
_bench_log_slice() { dd if="$PG_DATA/server.log" iflag=skip_bytes,count_bytes skip="$1" count="$(($2 - $1))" status=none; }
# "duration: 12.345 ms  execute summaries_figures: ..." lines: the durations, space separated.
_bench_durations() { grep -o 'duration: [0-9.]* ms  execute summaries_figures' | awk '{ printf "%s%s", sep, $2; sep = " " }'; }

bench_explain_summaries() {
  local out=$1 admin_token=$2 manager_token=$3 site_id=$4 a b c i site page text site_ms page_ms
  local site_path=/v1/sites/$site_id/summary page_path=/v1/summaries/sites
  _bench_wait_idle
  # One request of each with auto_explain on (every statement of every session is logged with its plan, and with
  # log_min_duration_statement its parameters), then five of each with only the durations logged: auto_explain's
  # per-node timing slows the statement down (by about a third for the page of 50 sites), the durations do not.
  _bench_pg_set auto_explain.log_min_duration=0 auto_explain.log_analyze=on auto_explain.log_buffers=on \
    auto_explain.log_timing=on auto_explain.log_nested_statements=off auto_explain.log_settings=on \
    log_min_duration_statement=0 || die "could not turn auto_explain on (is it in shared_preload_libraries?)"
  a=$(_bench_log_size)
  _bench_get "$site_path" "$manager_token"
  b=$(_bench_log_size)
  _bench_get "$page_path" "$admin_token"
  c=$(_bench_log_size)
  site=$(_bench_log_slice "$a" "$b" | _bench_summary_records)
  page=$(_bench_log_slice "$b" "$c" | _bench_summary_records)
  _bench_pg_set auto_explain.log_min_duration auto_explain.log_analyze auto_explain.log_buffers \
    auto_explain.log_timing auto_explain.log_nested_statements auto_explain.log_settings ||
    die "could not turn auto_explain off"
  a=$(_bench_log_size)
  for i in 1 2 3 4 5; do _bench_get "$site_path" "$manager_token"; done
  b=$(_bench_log_size)
  for i in 1 2 3 4 5; do _bench_get "$page_path" "$admin_token"; done
  c=$(_bench_log_size)
  site_ms=$(_bench_log_slice "$a" "$b" | _bench_durations)
  page_ms=$(_bench_log_slice "$b" "$c" | _bench_durations)
  _bench_pg_set log_min_duration_statement || die "could not turn statement logging off"
  # Each slice must hold its own request's execution: the site's alone, then a page of several.
  grep -qF "\$1 = '[\"$site_id\"]'" <<<"$site" ||
    echo "WARNING: the one-site plan in the log is not for [\"$site_id\"] alone; see $out" >&2
  grep -q "\$1 = '\[\"[^\"]*\", " <<<"$page" || echo "WARNING: the page plan in the log is not for several sites; see $out" >&2
  text=$(sed -n 's/^-- QUERY TEXT //p' <<<"$site")
  [[ -n "$text" ]] || text=$(sed -n 's/^-- QUERY TEXT //p' <<<"$page")
  EXPLAIN_SITE_MS=$site_ms
  EXPLAIN_PAGE_MS=$page_ms
  {
    echo "# The summary statement (summaries_figures) as forumnet ran it"
    echo
    echo "PostgreSQL $PG_VERSION, $(date -u '+%Y-%m-%d %H:%M UTC'). Captured with auto_explain (log_analyze, log_buffers,"
    echo "log_timing) on the server's own pooled connections, which run with jit=off (src/db/pool.c; see"
    echo "\"Settings\" under each plan). Those connections had run the statement before, so these are the plans"
    echo "the plan cache settled on (a generic plan shows \$2/\$3 in its conditions, a custom one the values)."
    echo
    echo "Statement durations without auto_explain (log_min_duration_statement, 5 requests each):"
    echo "one site ${site_ms:-?} ms; page of sites ${page_ms:-?} ms."
    echo
    echo "## One site: GET $site_path (manager)"
    echo
    grep -v '^-- QUERY TEXT ' <<<"$site"
    echo
    echo "## A page of sites: GET $page_path (admin, first page, default limit 50)"
    echo
    grep -v '^-- QUERY TEXT ' <<<"$page"
    echo
    echo "## Statement text (line breaks added before each LATERAL figure)"
    echo
    sed 's/ CROSS JOIN LATERAL /\n CROSS JOIN LATERAL /g; s/ JOIN sites si /\n JOIN sites si /' <<<"$text"
  } >"$out"
  [[ -n "$text" ]] || die "no plan of the summary statement in the PostgreSQL log ($PG_DATA/server.log)"
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

# README "Behind a transaction-mode pooler": with FORUMNET_DB_POOLER=transaction the settings come from the role.
bench_pooler_role_settings() {
  local role=$1 setting
  for setting in "statement_timeout = '5000ms'" "lock_timeout = '5000ms'" "TimeZone = 'UTC'" "jit = off"; do
    psql_forumnet -q -c "ALTER ROLE $role IN DATABASE forumnet SET $setting" || die "ALTER ROLE $role failed"
  done
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

bench_script() {
  BENCH_NAME=$1
  shift
  local script=tests/bench/${BASH_SOURCE[1]##*/}
  while (($# > 0)); do
    case $1 in
      --scale | --scale=*)
        if [[ ${BENCH_TAKES_SCALE:-0} != 1 ]]; then
          echo "$BENCH_NAME: unknown argument '$1' (see --help)" >&2
          exit 2
        elif [[ $1 == --scale=* ]]; then
          BENCH_SCALE=${1#--scale=}
          shift
        elif (($# >= 2)); then
          BENCH_SCALE=$2
          shift 2
        else
          echo "$BENCH_NAME: --scale needs a value" >&2
          exit 2
        fi
        ;;
      -h | --help)
        sed -n '2,/^set -euo/p' "$script" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
      *)
        echo "$BENCH_NAME: unknown argument '$1' (see --help)" >&2
        exit 2
        ;;
    esac
  done
  if [[ ${BENCH_TAKES_SCALE:-0} == 1 && -n "${BENCH_SCALE:-}" ]] &&
    { ! [[ $BENCH_SCALE =~ ^[0-9]*\.?[0-9]+$ ]] || awk -v n="$BENCH_SCALE" 'BEGIN { exit !(n <= 0 || n > 10) }'; }; then
    echo "$BENCH_NAME: --scale must be a number above 0 and at most 10, as forumnet seed --scale takes" \
      "(got '$BENCH_SCALE')" >&2
    exit 2
  fi
  STARTED=$SECONDS
  BUILD_DIR=$PWD/build-bench
  PG_BASE=''
  PG_DATA=''
  SERVER_PID=''
  SERVER_LOG=''
  WORK=''
  # shellcheck disable=SC2317 # called by the script after bench_script returns
  step() { printf '\n==> %s\n' "$*"; }
  # shellcheck disable=SC2317
  die() {
    echo "$BENCH_NAME: $*" >&2
    exit 1
  }
}

bench_read_knob() {
  READ=${READ:-site}
  [[ $READ == site || $READ == list ]] || {
    echo "$BENCH_NAME: READ must be site or list (got '$READ')" >&2
    exit 2
  }
}

bench_read_path() {
  if [[ $READ == list ]]; then echo '/v1/sites?limit=50'; else echo "/v1/sites/$SITE_ID"; fi
}

bench_whole_numbers() {
  local min=$1 knob above=''
  shift
  ((min == 0)) || above=" above $((min - 1))"
  for knob in "$@"; do
    if ! [[ ${!knob} =~ ^[0-9]+$ ]] || ((${!knob} < min)); then
      echo "$BENCH_NAME: $knob must be a whole number$above (got '${!knob}')" >&2
      exit 2
    fi
  done
}

# bench_median NUMBER...: the median (the mean of the middle two for an even count).
bench_median() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
    END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# bench_target LABEL VALUE OP GOAL [UNIT]: one of issue 18's targets. Prints ">>> TARGET LABEL OP GOAL: PASS|MISS
# (VALUE)", appends a table row to BENCH_TARGET_ROWS and counts misses in BENCH_TARGET_MISSES. OP is >=, <= or <;
# a VALUE of '?' (not measured) is a MISS. Timings are information: no script's exit status depends on them.
BENCH_TARGET_ROWS=()
BENCH_TARGET_MISSES=0
bench_target() {
  local label=$1 value=$2 op=$3 goal=$4 unit=${5:-} verdict=MISS
  if [[ $value != '?' ]] && awk -v v="$value" -v g="$goal" -v op="$op" \
    'BEGIN { exit !((op == ">=" && v >= g) || (op == "<=" && v <= g) || (op == "<" && v < g)) }'; then
    verdict=PASS
  else
    BENCH_TARGET_MISSES=$((BENCH_TARGET_MISSES + 1))
  fi
  printf '>>> TARGET %s %s %s%s: %s (%s%s)\n' "$label" "$op" "$goal" "$unit" "$verdict" "$value" "$unit"
  BENCH_TARGET_ROWS+=("| $label | $value$unit | $op $goal$unit | **$verdict** |")
}

# bench_target_table: the rows bench_target collected, as a Markdown table (nothing when there are none).
bench_target_table() {
  ((${#BENCH_TARGET_ROWS[@]} > 0)) || return 0
  echo
  echo "| Target (issue 18) | Measured | Goal | |"
  echo "|---|---:|---:|---|"
  printf '%s\n' "${BENCH_TARGET_ROWS[@]}"
}

bench_exit() {
  local status=$?
  trap - EXIT INT TERM
  if declare -F bench_stop_extras >/dev/null; then bench_stop_extras || true; fi
  bench_stop_server 10 || true
  if ((status != 0)) && [[ -n "$SERVER_LOG" && -s "$SERVER_LOG" ]]; then
    echo "--- last lines of the forumnet log ($SERVER_LOG) ---" >&2
    tail -n 20 "$SERVER_LOG" >&2 || true
  fi
  bench_cleanup_pg
  if [[ -n "$WORK" ]]; then
    if [[ "${BENCH_KEEP:-0}" == 1 ]]; then echo "kept the work directory: $WORK"; else rm -rf "$WORK"; fi
  fi
  printf '\n%s: finished in %ss (exit status %s)\n' "$BENCH_NAME" "$((SECONDS - STARTED))" "$status"
  exit "$status"
}

bench_traps() {
  trap bench_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

bench_setup() {
  step "Debian packages"
  # shellcheck disable=SC2086 # one package name per word
  deps_install $FORUMNET_BUILD_PACKAGES "$@" || die "could not install the dependencies"
  step "Release build (build-bench/)"
  bench_build "$BUILD_DIR" Release
  WORK=$(mktemp -d "/tmp/forumnet-$BENCH_NAME-work.XXXXXX")
  step "Throwaway PostgreSQL 15, migrate and seed"
  bench_pg_start
  bench_seed
  echo "PostgreSQL $PG_VERSION at $PG_SOCK (settings: $PG_SETTINGS)"
}

bench_server_knobs() {
  local knob
  for knob in FORUMNET_HTTP_THREADS FORUMNET_DB_POOL_SIZE; do
    if [[ -n "${!knob:-}" ]]; then SERVER_ENV+=("$knob=${!knob}"); fi
  done
}

bench_find_pgbench() {
  PGBENCH=$PG_BIN/pgbench
  [[ -x "$PGBENCH" ]] || PGBENCH=$(command -v pgbench) || die "pgbench not found (install postgresql-contrib)"
}

bench_pgbench() { "$PGBENCH" -h "$PG_SOCK" -p "$PG_PORT" -U "$PG_SUPERUSER" "$@"; }

bench_pgbench_init() {
  pg_createdb "$PG_SOCK" "$PG_PORT" pgbench
  bench_pgbench -i -q -s "$1" pgbench >"$WORK/pgbench-init.txt" 2>&1 || {
    cat "$WORK/pgbench-init.txt" >&2
    die "pgbench -i failed"
  }
}

bench_pgbench_percentiles() {
  cat "$1".* 2>/dev/null | awk '{ print $3 }' | sort -n | awk '
    { v[NR] = $1 }
    function at(q,  i) { i = int(NR * q + 0.999999); if (i < 1) i = 1; return v[i] / 1000 }
    END { if (NR > 0) printf "%.2f %.2f %.2f\n", at(0.50), at(0.95), at(0.99) }'
}

bench_stop_pid() {
  if [[ -n "$1" ]]; then
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}
