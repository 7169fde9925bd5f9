#!/bin/sh
# Creates (first run) and upgrades (every run) Temporal's PostgreSQL schemas: the main store and
# SQL visibility. Safe to run again: `create` fails on an existing database and is then skipped,
# and update-schema only applies the versions not applied yet.
set -eu
: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${SQL_PASSWORD:?}"
PORT="${DB_PORT:-5432}"
SCHEMA_ROOT=/etc/temporal/schema/postgresql/v12

tool() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -u "$POSTGRES_USER" -p "$PORT" "$@"
}

until nc -z "$POSTGRES_SEEDS" "$PORT"; do
  echo "waiting for PostgreSQL at $POSTGRES_SEEDS:$PORT"
  sleep 1
done

for db in "${DBNAME:-temporal}:temporal" "${VISIBILITY_DBNAME:-temporal_visibility}:visibility"; do
  name="${db%%:*}"
  kind="${db##*:}"
  if tool --db "$name" create; then
    tool --db "$name" setup-schema -v 0.0
  else
    echo "database $name exists; upgrading only"
  fi
  tool --db "$name" update-schema -d "$SCHEMA_ROOT/$kind/versioned"
done
echo "temporal schema ready"
