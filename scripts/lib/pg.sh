# shellcheck shell=bash
# A private PostgreSQL 15 cluster for scripts/run.sh, scripts/test.sh and tests/bench. Source it.
#
#   pg_start DATADIR SOCKDIR PORT [LISTEN]  initdb when DATADIR is new, (re)write its settings, start it unless
#                                           running. Listens on the unix socket SOCKDIR/.s.PGSQL.PORT only, or
#                                           also on LISTEN (e.g. 127.0.0.1) when given.
#   pg_stop DATADIR [MODE]                  stop it if running (MODE: fast (default) or immediate)
#   pg_running DATADIR                      exit 0 when running
#   pg_url SOCKDIR PORT DBNAME              print a libpq URL: postgresql:///DB?host=SOCKDIR&port=PORT&user=forumnet
#   pg_createdb SOCKDIR PORT DBNAME         create the database unless it exists
#   pg_control_scripts DATADIR DIR          write DIR/pg-start and DIR/pg-stop; set PG_START_CMD / PG_STOP_CMD
#                                           to shell command strings that run them (for system() in tests)
#   pg_free_port [FROM]                     print a TCP port on 127.0.0.1 that nothing listens on
#
# PostgreSQL refuses to run as root, so as root the server runs as an unprivileged user: the owner of an
# existing DATADIR, else FORUMNET_PG_USER, else `postgres` (created by Debian's postgresql package), else a
# `forumnet` system user created here. Every directory above DATADIR and SOCKDIR must be searchable by it.
#
# Authentication: `trust` on the unix socket only. The socket directory is mode 0700 and owned by the server's
# user, so only that user and root can connect. TCP (LISTEN) uses scram-sha-256 unless PG_HOST_AUTH=trust is set
# before the cluster is first created (acceptable for a throwaway test cluster, never for a kept one).
#
# Extra postgresql.conf lines for this start can be passed in PG_EXTRA_SETTINGS (newline separated).

PG_BIN=${FORUMNET_PG_BIN:-/usr/lib/postgresql/15/bin}
PG_SUPERUSER=forumnet # the cluster's superuser role (initdb -U); same name as in docker/compose.yaml

_pg_die() {
  echo "pg: $*" >&2
  return 1
}

# Single-quotes one word for sh.
_pg_quote() {
  local s=${1//\'/\'\\\'\'}
  printf "'%s'" "$s"
}

# The OS user the server runs as (see the header). Creates the `forumnet` system user when needed.
pg_os_user() {
  local datadir=${1:-}
  if [[ $(id -u) -ne 0 ]]; then
    id -un
    return 0
  fi
  if [[ -n "$datadir" && -e "$datadir/PG_VERSION" ]]; then
    local owner
    owner=$(stat -c %U "$datadir")
    if [[ "$owner" != root && "$owner" != UNKNOWN ]]; then
      printf '%s\n' "$owner"
      return 0
    fi
  fi
  if [[ -n "${FORUMNET_PG_USER:-}" ]]; then
    id -u "$FORUMNET_PG_USER" >/dev/null 2>&1 || _pg_die "FORUMNET_PG_USER=$FORUMNET_PG_USER does not exist" || return 1
    printf '%s\n' "$FORUMNET_PG_USER"
  elif id -u postgres >/dev/null 2>&1; then
    echo postgres
  else
    if ! id -u forumnet >/dev/null 2>&1; then
      useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin forumnet >&2 ||
        _pg_die "could not create the system user forumnet" || return 1
    fi
    echo forumnet
  fi
}

# Runs "$@" as USER (root only switches user; anyone else is already the right user), from / so that a
# working directory the user cannot read does not matter.
_pg_as() {
  local user=$1
  shift
  if [[ $(id -u) -eq 0 ]]; then
    (cd / && runuser -u "$user" -- "$@")
  else
    (cd / && "$@")
  fi
}

# Creates DIR (and parents) owned by USER, mode 0700.
_pg_owned_dir() {
  local user=$1 dir=$2
  mkdir -p "$dir"
  if [[ $(id -u) -eq 0 ]]; then
    chown "$user:" "$dir"
  fi
  chmod 700 "$dir"
}

# Exit 0 when USER can reach DIR (every parent searchable).
pg_user_can_reach() {
  local user=$1 dir=$2
  [[ $(id -u) -ne 0 ]] && return 0
  runuser -u "$user" -- test -x "$dir" 2>/dev/null
}

pg_running() {
  local datadir=$1 user
  [[ -e "$datadir/PG_VERSION" ]] || return 1
  user=$(pg_os_user "$datadir") || return 1
  _pg_as "$user" "$PG_BIN/pg_ctl" -D "$datadir" status >/dev/null 2>&1
}

pg_start() {
  local datadir=$1 sockdir=$2 port=$3 listen=${4:-}
  local user
  [[ -x "$PG_BIN/pg_ctl" ]] || _pg_die "$PG_BIN/pg_ctl not found (install postgresql 15)" || return 1
  [[ "$datadir" == /* && "$sockdir" == /* ]] || _pg_die "pg_start needs absolute paths" || return 1
  # A unix socket path must fit in sockaddr_un.sun_path (108 bytes, with the terminating NUL).
  local sock="$sockdir/.s.PGSQL.$port"
  ((${#sock} <= 100)) || _pg_die "socket path too long (${#sock} > 100 bytes): $sock" || return 1
  user=$(pg_os_user "$datadir") || return 1

  mkdir -p "$(dirname "$datadir")" "$(dirname "$sockdir")"
  pg_user_can_reach "$user" "$(dirname "$datadir")" ||
    _pg_die "user $user cannot reach $(dirname "$datadir") (a parent directory is not searchable)" || return 1
  pg_user_can_reach "$user" "$(dirname "$sockdir")" ||
    _pg_die "user $user cannot reach $(dirname "$sockdir") (a parent directory is not searchable)" || return 1

  if [[ ! -e "$datadir/PG_VERSION" ]]; then
    _pg_owned_dir "$user" "$datadir"
    local out
    if ! out=$(_pg_as "$user" "$PG_BIN/initdb" -D "$datadir" -U "$PG_SUPERUSER" --encoding=UTF8 --locale=C.UTF-8 \
      --auth-local=trust --auth-host="${PG_HOST_AUTH:-scram-sha-256}" ${PG_INITDB_NOSYNC:+--no-sync} 2>&1); then
      printf '%s\n' "$out" >&2
      _pg_die "initdb failed for $datadir"
      return 1
    fi
    # Our settings live in their own file, rewritten on every start; postgresql.conf only includes it.
    printf "\n# Written by forumnet scripts/lib/pg.sh\ninclude_if_exists = 'forumnet.conf'\n" >>"$datadir/postgresql.conf"
  fi

  _pg_owned_dir "$user" "$sockdir"
  local conf="$datadir/forumnet.conf"
  {
    echo "# Rewritten by forumnet scripts/lib/pg.sh on every start."
    echo "unix_socket_directories = '${sockdir//\'/\'\'}'"
    echo "unix_socket_permissions = 0700"
    echo "port = $port"
    echo "listen_addresses = '${listen}'"
    echo "max_connections = ${PG_MAX_CONNECTIONS:-200}"
    if [[ -n "${PG_EXTRA_SETTINGS:-}" ]]; then printf '%s\n' "$PG_EXTRA_SETTINGS"; fi
  } >"$conf"
  if [[ $(id -u) -eq 0 ]]; then chown "$user:" "$conf"; fi
  chmod 600 "$conf"

  if pg_running "$datadir"; then
    # Already up (e.g. scripts/run.sh started it earlier): pick up changed settings where possible.
    _pg_as "$user" "$PG_BIN/pg_ctl" -D "$datadir" -s reload >/dev/null || true
    return 0
  fi
  if ! _pg_as "$user" "$PG_BIN/pg_ctl" -D "$datadir" -l "$datadir/server.log" -s -w -t 30 start; then
    tail -n 30 "$datadir/server.log" >&2 || true
    _pg_die "could not start PostgreSQL in $datadir (log: $datadir/server.log)"
    return 1
  fi
}

pg_stop() {
  local datadir=$1 mode=${2:-fast} user
  pg_running "$datadir" || return 0
  user=$(pg_os_user "$datadir") || return 1
  _pg_as "$user" "$PG_BIN/pg_ctl" -D "$datadir" -s -m "$mode" -w -t 30 stop
}

# Percent-encodes a string for a URL query value.
_pg_urlencode() {
  local s=$1 out='' c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case "$c" in
      [A-Za-z0-9/._~-]) out+=$c ;;
      *) out+=$(printf '%%%02X' "'$c") ;;
    esac
  done
  printf '%s' "$out"
}

pg_url() {
  local sockdir=$1 port=$2 db=$3
  printf 'postgresql:///%s?host=%s&port=%s&user=%s\n' "$db" "$(_pg_urlencode "$sockdir")" "$port" "$PG_SUPERUSER"
}

# Runs psql against the cluster as its superuser; extra arguments follow.
pg_psql() {
  local sockdir=$1 port=$2 db=$3
  shift 3
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$sockdir" -p "$port" -U "$PG_SUPERUSER" -d "$db" "$@"
}

pg_createdb() {
  local sockdir=$1 port=$2 db=$3 exists
  exists=$(pg_psql "$sockdir" "$port" postgres -At -c "SELECT 1 FROM pg_database WHERE datname = '${db//\'/\'\'}'")
  if [[ "$exists" == 1 ]]; then return 0; fi
  "$PG_BIN/createdb" -h "$sockdir" -p "$port" -U "$PG_SUPERUSER" "$db"
}

# Writes DIR/pg-start and DIR/pg-stop, small scripts that start and stop the cluster in DATADIR with the
# settings pg_start wrote, and sets PG_START_CMD / PG_STOP_CMD to commands that run them. The start script
# closes inherited file descriptors first, so a postmaster started from inside a test never holds the test's
# pipes or sockets open.
pg_control_scripts() {
  local datadir=$1 dir=$2 user prefix=''
  user=$(pg_os_user "$datadir") || return 1
  if [[ $(id -u) -eq 0 ]]; then prefix="runuser -u $(_pg_quote "$user") -- "; fi
  local pg_ctl dq
  pg_ctl=$(_pg_quote "$PG_BIN/pg_ctl")
  dq=$(_pg_quote "$datadir")
  cat >"$dir/pg-start" <<EOS
#!/usr/bin/env bash
# Generated by scripts/lib/pg.sh: start the PostgreSQL cluster in $datadir again.
for fd in /proc/self/fd/*; do
  fd=\${fd##*/}
  if [[ \$fd =~ ^[0-9]+\$ ]] && ((fd > 2)); then eval "exec \$fd>&-" 2>/dev/null || true; fi
done
cd /
exec ${prefix}${pg_ctl} -D ${dq} -l $(_pg_quote "$datadir/server.log") -s -w -t 30 start
EOS
  cat >"$dir/pg-stop" <<EOS
#!/usr/bin/env bash
# Generated by scripts/lib/pg.sh: stop the PostgreSQL cluster in $datadir (fast shutdown: clients are cut off).
cd /
exec ${prefix}${pg_ctl} -D ${dq} -s -m fast -w -t 30 stop
EOS
  chmod 755 "$dir/pg-start" "$dir/pg-stop"
  # shellcheck disable=SC2034 # read by the caller
  PG_START_CMD=$(_pg_quote "$dir/pg-start")
  # shellcheck disable=SC2034
  PG_STOP_CMD=$(_pg_quote "$dir/pg-stop")
}

pg_free_port() {
  local port=${1:-15432}
  while ((port < 65535)); do
    if ! (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      printf '%s\n' "$port"
      return 0
    fi
    ((port++))
  done
  _pg_die "no free TCP port found"
}
