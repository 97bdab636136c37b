#!/usr/bin/env bash
# A streaming replica of scripts/test.sh's throwaway cluster, for e2e_replica_reads_serial.c.
#
#   replica.sh start DIR [APPLY_DELAY]  pg_basebackup -R -X stream from the test cluster into DIR/pg, then
#                                       start it as a hot standby on the unix socket DIR/run/.s.PGSQL.5433
#                                       with recovery_min_apply_delay = APPLY_DELAY (default 0); waits until
#                                       it accepts connections. DIR is created (it must be under /tmp or
#                                       another place PostgreSQL's user can reach).
#   replica.sh stop DIR                 fast shutdown (start it again with `start`: no new base backup)
#   replica.sh destroy DIR              immediate shutdown, then DIR is removed
#
# The test cluster is found through FORUMNET_TEST_PG_HOST (its socket directory) and FORUMNET_TEST_PG_PORT,
# which scripts/test.sh exports; its superuser may replicate over the unix socket (initdb --auth-local=trust).
# No replication slot: the replica lives for one test only, and a slot left behind would keep WAL forever.
set -euo pipefail
# shellcheck source=scripts/lib/pg.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/pg.sh"

REPLICA_PORT=5433 # only names the socket file in DIR/run; no TCP

cmd=${1:?usage: replica.sh start|stop|destroy DIR [APPLY_DELAY]}
dir=${2:?usage: replica.sh start|stop|destroy DIR [APPLY_DELAY]}
[[ "$dir" == /* ]] || _pg_die "DIR must be an absolute path" || exit 1
data="$dir/pg"

case "$cmd" in
  start)
    delay=${3:-0}
    mkdir -p "$dir"
    chmod 755 "$dir"
    if [[ ! -e "$data/PG_VERSION" ]]; then
      : "${FORUMNET_TEST_PG_HOST:?set by scripts/test.sh}" "${FORUMNET_TEST_PG_PORT:?set by scripts/test.sh}"
      user=$(pg_os_user "$data")
      _pg_owned_dir "$user" "$data"
      _pg_as "$user" "$PG_BIN/pg_basebackup" -h "$FORUMNET_TEST_PG_HOST" -p "$FORUMNET_TEST_PG_PORT" \
        -U "$PG_SUPERUSER" -D "$data" -R -X stream -c fast --no-sync
      rm -f "$data/server.log" # the primary's, copied with its data directory
    fi
    PG_EXTRA_SETTINGS=$'hot_standby = on\nhot_standby_feedback = on\nfsync = off\n'"recovery_min_apply_delay = '$delay'" \
      pg_start "$data" "$dir/run" "$REPLICA_PORT"
    ;;
  stop)
    pg_stop "$data" fast
    ;;
  destroy)
    pg_stop "$data" immediate || true
    rm -rf "$dir"
    ;;
  *)
    _pg_die "unknown command $cmd"
    exit 1
    ;;
esac
