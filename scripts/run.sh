#!/usr/bin/env bash
# Runs forumnet locally. On a fresh Debian 12 machine (root or not) it installs missing packages, builds,
# starts a private PostgreSQL 15 cluster in .data/pg (kept between runs) unless FORUMNET_DATABASE_URL is
# set, migrates, seeds demo data on the first run, prints the demo logins and serves on
# http://127.0.0.1:8080 (FORUMNET_LISTEN). Stop the server with Ctrl-C; the database keeps running.
#
#   scripts/run.sh              build, prepare the database and serve
#   scripts/run.sh stop-db      stop the private PostgreSQL cluster
#   scripts/run.sh psql [ARGS]  open psql on the private cluster's database
#
#   FORUMNET_DATA_DIR   where the cluster, the JWT secret and the demo logins live (default: .data)
#   FORUMNET_PG_PORT    the private cluster's port; it only names the unix socket, no TCP (default: 5433)
#   FORUMNET_DEMO_SEED  1 to seed demo data into a FORUMNET_DATABASE_URL database too (default: only the private
#                       cluster is seeded)
#   FORUMNET_MAIL_DIR   where email is written as .eml files when FORUMNET_SMTP_URL is unset (default: .data/mail)
#   FORUMNET_DOCS_JS    Redoc's bundle for GET /docs (default: tools/node_modules/redoc/bundles/redoc.standalone.js,
#                       installed from tools/package-lock.json with npm ci)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
# shellcheck source=scripts/lib/packages.sh
. scripts/lib/packages.sh
# shellcheck source=scripts/lib/deps.sh
. scripts/lib/deps.sh
# shellcheck source=scripts/lib/pg.sh
. scripts/lib/pg.sh
# shellcheck source=scripts/lib/tools.sh
. scripts/lib/tools.sh

COMMAND=${1:-serve}
case "$COMMAND" in
  serve | stop-db | psql) ;;
  -h | --help | help)
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "usage: scripts/run.sh [serve|stop-db|psql]" >&2
    exit 2
    ;;
esac

say() { printf '==> %s\n' "$*"; }

DATA_DIR=${FORUMNET_DATA_DIR:-$ROOT/.data}
[[ "$DATA_DIR" == /* ]] || DATA_DIR="$ROOT/$DATA_DIR"
PG_PORT=${FORUMNET_PG_PORT:-5433}
PG_DATA="$DATA_DIR/pg"
PG_SOCK="$DATA_DIR/run"
DB_NAME=forumnet

# Picks where the private cluster lives. Normally .data/pg and .data/run; when run as root from a directory
# PostgreSQL's unprivileged user cannot reach (e.g. under /root), or when the socket path would be too long
# for a unix socket, fall back to fixed places outside the checkout, named after it so checkouts don't clash.
choose_cluster_dirs() {
  local key fallback
  key=$(printf '%s' "$DATA_DIR" | sha256sum | cut -c1-12)
  fallback="/var/lib/forumnet/$key"
  mkdir -p "$DATA_DIR"
  if [[ ! -e "$PG_DATA/PG_VERSION" ]]; then
    local use_fallback=0
    if [[ -e "$fallback/pg/PG_VERSION" ]]; then
      use_fallback=1
    elif [[ $(id -u) -eq 0 ]]; then
      local user
      user=$(pg_os_user "$PG_DATA")
      if ! pg_user_can_reach "$user" "$DATA_DIR"; then
        say "user $user cannot reach $DATA_DIR; keeping the cluster in $fallback"
        use_fallback=1
      fi
    fi
    if [[ $use_fallback == 1 ]]; then
      mkdir -p "$fallback"
      chmod 755 /var/lib/forumnet "$fallback"
      PG_DATA="$fallback/pg"
      PG_SOCK="$fallback/run"
    fi
  fi
  local sock="$PG_SOCK/.s.PGSQL.$PG_PORT"
  if ((${#sock} > 100)); then
    PG_SOCK="/tmp/forumnet-$(id -u)-$key"
  fi
}

if [[ "$COMMAND" == stop-db ]]; then
  choose_cluster_dirs
  if pg_running "$PG_DATA"; then
    pg_stop "$PG_DATA"
    say "stopped the PostgreSQL cluster in $PG_DATA"
  else
    say "no PostgreSQL cluster running in $PG_DATA"
  fi
  exit 0
fi

if [[ "$COMMAND" == psql ]]; then
  choose_cluster_dirs
  exec "$PG_BIN/psql" "$(pg_url "$PG_SOCK" "$PG_PORT" "$DB_NAME")" "${@:2}"
fi

say "Debian packages"
deps_install_build

say "Build (build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc 2>/dev/null || echo 2)"
FORUMNET_BIN="$ROOT/build/forumnet"

# GET /docs renders openapi/openapi.json with Redoc, whose script forumnet serves from this file. Without
# it the server still runs; only the docs page's script answers 503.
if [[ -z "${FORUMNET_DOCS_JS:-}" ]]; then
  say "Redoc for /docs (tools/, npm ci)"
  DOCS_JS="$TOOLS_DIR/node_modules/redoc/bundles/redoc.standalone.js"
  if deps_install_node && tools_install && [[ -f "$DOCS_JS" ]]; then
    export FORUMNET_DOCS_JS="$DOCS_JS"
  else
    say "warning: no Redoc bundle, so /docs will not render (needs node, npm and the npm registry once)"
  fi
fi

LOCAL_CLUSTER=0
if [[ -z "${FORUMNET_DATABASE_URL:-}" ]]; then
  LOCAL_CLUSTER=1
  choose_cluster_dirs
  say "PostgreSQL 15 in $PG_DATA (unix socket in $PG_SOCK, port $PG_PORT)"
  pg_start "$PG_DATA" "$PG_SOCK" "$PG_PORT"
  pg_createdb "$PG_SOCK" "$PG_PORT" "$DB_NAME"
  FORUMNET_DATABASE_URL=$(pg_url "$PG_SOCK" "$PG_PORT" "$DB_NAME")
  export FORUMNET_DATABASE_URL
  say "FORUMNET_DATABASE_URL=$FORUMNET_DATABASE_URL"
else
  mkdir -p "$DATA_DIR"
  say "using FORUMNET_DATABASE_URL from the environment"
fi

if [[ -z "${FORUMNET_JWT_SECRET:-}" && "${FORUMNET_JWT_ALG:-HS256}" == HS256 ]]; then
  SECRET_FILE="$DATA_DIR/jwt_secret"
  if [[ ! -s "$SECRET_FILE" ]]; then
    (
      umask 077
      od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$SECRET_FILE"
    )
    say "generated a JWT signing secret in $SECRET_FILE"
  fi
  chmod 600 "$SECRET_FILE"
  FORUMNET_JWT_SECRET=$(cat "$SECRET_FILE")
  export FORUMNET_JWT_SECRET
fi

say "forumnet migrate"
"$FORUMNET_BIN" migrate

LOGINS="$DATA_DIR/demo-logins.txt"
if [[ "$LOCAL_CLUSTER" == 1 || "${FORUMNET_DEMO_SEED:-0}" == 1 ]]; then
  # The marker belongs to the private cluster; an external database is seeded whenever asked (seed is idempotent).
  if [[ "$LOCAL_CLUSTER" == 0 || ! -e "$DATA_DIR/seeded" ]]; then
    say "forumnet seed --demo"
    (
      umask 077
      "$FORUMNET_BIN" seed --demo >"$LOGINS.new"
    )
    # An idempotent second seed may print nothing; keep the logins from the first one then.
    if [[ -s "$LOGINS.new" ]]; then
      mv "$LOGINS.new" "$LOGINS"
    else
      rm -f "$LOGINS.new"
    fi
    if [[ "$LOCAL_CLUSTER" == 1 ]]; then
      touch "$DATA_DIR/seeded"
    fi
  fi
  if [[ -s "$LOGINS" ]]; then
    say "Demo logins (also in $LOGINS)"
    cat "$LOGINS"
  fi
fi

export FORUMNET_LISTEN=${FORUMNET_LISTEN:-127.0.0.1:8080}
# Email (password reset links, invitations): with no SMTP server configured, each message is written as an
# RFC 5322 file <id>.eml into the mail directory, where a newcomer can read the link.
if [[ -z "${FORUMNET_SMTP_URL:-}" ]]; then
  export FORUMNET_MAIL_DIR=${FORUMNET_MAIL_DIR:-$DATA_DIR/mail}
  mkdir -p "$FORUMNET_MAIL_DIR"
  say "email (password reset links) is written as .eml files into $FORUMNET_MAIL_DIR"
else
  say "email is sent by SMTP (FORUMNET_SMTP_URL)"
fi
say "forumnet serve on http://$FORUMNET_LISTEN (Ctrl-C stops it; 'scripts/run.sh stop-db' stops PostgreSQL)"
exec "$FORUMNET_BIN" serve
