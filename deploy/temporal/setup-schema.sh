#!/bin/sh
# Creates (first run) and upgrades (every run) Temporal's PostgreSQL schemas: the main store and
# SQL visibility, from the schema files built into temporal-sql-tool, so they are the versions of
# the server release the image runs. Compose starts this job once PostgreSQL is healthy. Every step
# is safe to repeat: `create` leaves an existing database alone, `setup-schema -v 0.0` keeps a
# version already set, and update-schema applies only the versions not applied yet. The password
# travels in SQL_PASSWORD, never in argv.
set -eu
: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${SQL_PASSWORD:?}"

tool() {
  temporal-sql-tool --plugin "${DB:-postgres12}" --ep "$POSTGRES_SEEDS" -u "$POSTGRES_USER" -p "${DB_PORT:-5432}" "$@"
}

for db in "${DBNAME:-temporal}:temporal" "${VISIBILITY_DBNAME:-temporal_visibility}:visibility"; do
  name="${db%%:*}"
  kind="${db##*:}"
  tool --db "$name" create
  tool --db "$name" setup-schema -v 0.0
  tool --db "$name" update-schema --schema-name "postgresql/v12/$kind"
done
echo "temporal schema ready"
