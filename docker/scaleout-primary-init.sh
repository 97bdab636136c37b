#!/bin/sh
# Run once by the postgres:15 image when db-primary's volume is new (docker/compose.yaml, profile scaleout).
# The same settings scripts/scaleout.sh gives its primary: replication over the network for the standby, and
# synchronous commit to it, and the forumnet role's settings set per role because PgBouncer (transaction mode) passes no startup options.
set -eu
echo "host replication all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" <<SQL
ALTER ROLE $POSTGRES_USER IN DATABASE $POSTGRES_DB SET statement_timeout = '5s';
ALTER ROLE $POSTGRES_USER IN DATABASE $POSTGRES_DB SET lock_timeout = '5s';
ALTER ROLE $POSTGRES_USER IN DATABASE $POSTGRES_DB SET "TimeZone" = 'UTC';
ALTER ROLE $POSTGRES_USER IN DATABASE $POSTGRES_DB SET jit = off;
-- In force from the real start on (the image restarts the server after its initialisation).
ALTER SYSTEM SET synchronous_standby_names = '*';
SQL
