# shellcheck shell=bash
# A private PgBouncer (Debian's pgbouncer 1.18) in transaction mode in front of a cluster that scripts/lib/pg.sh
# started. Source pg.sh first, then this file.
#
#   pgb_start DIR PG_SOCKDIR PG_PORT DBNAME ROLE PORT  write DIR/pgbouncer.ini and start PgBouncer as the cluster's OS
#                                                      user, listening on the unix socket DIR/run/.s.PGSQL.PORT only;
#                                                      it logs in to DBNAME (or any other database the client
#                                                      names) as ROLE whatever user the client names
#   pgb_stop DIR                                       stop it by the PID in DIR/pgbouncer.pid (if running)
#   pgb_url DIR PORT DBNAME                            print the libpq URL of the pooled database
#
# No TCP and auth_type = any: like the cluster's own socket, the socket directory is mode 0700 and owned by the
# server's user, so only that user and root can connect (a throwaway test setup, never a production one).

pgb_start() {
  local dir=$1 pg_sock=$2 pg_port=$3 db=$4 role=$5 port=$6 user
  command -v pgbouncer >/dev/null 2>&1 || _pg_die "pgbouncer not found (install pgbouncer)" || return 1
  user=$(pg_os_user) || return 1
  _pg_owned_dir "$user" "$dir"
  _pg_owned_dir "$user" "$dir/run"
  cat >"$dir/pgbouncer.ini" <<EOF
; Written by forumnet scripts/lib/pgbouncer.sh.
[databases]
$db = host=$pg_sock port=$pg_port dbname=$db user=$role
; any other database of the cluster by its own name (the e2e suites that use a database of their own)
* = host=$pg_sock port=$pg_port user=$role

[pgbouncer]
pool_mode = transaction
listen_addr =
listen_port = $port
unix_socket_dir = $dir/run
unix_socket_mode = 0700
auth_type = any
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
max_client_conn = 1000
default_pool_size = 40
EOF
  if [[ $(id -u) -eq 0 ]]; then chown "$user:" "$dir/pgbouncer.ini"; fi
  _pg_as "$user" pgbouncer -d -q "$dir/pgbouncer.ini" || _pg_die "pgbouncer did not start (log: $dir/pgbouncer.log)" ||
    return 1
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -S "$dir/run/.s.PGSQL.$port" ]] && return 0
    sleep 0.1
  done
  _pg_die "pgbouncer does not listen on $dir/run/.s.PGSQL.$port (log: $dir/pgbouncer.log)"
}

pgb_stop() {
  local dir=$1 pid i
  [[ -s "$dir/pgbouncer.pid" ]] || return 0
  pid=$(<"$dir/pgbouncer.pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  kill "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

pgb_url() {
  local dir=$1 port=$2 db=$3
  printf 'postgresql:///%s?host=%s&port=%s&user=%s\n' "$db" "$(_pg_urlencode "$dir/run")" "$port" "$PG_SUPERUSER"
}
