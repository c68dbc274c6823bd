#!/usr/bin/env bash
# Starts a PostgreSQL for the tests on this machine and prints the line that
# points them at it:
#
#   eval "$(bash .ci/postgres.sh)"    # sets GATEHOUSE_TEST_POSTGRES
#
# On a fresh Debian machine it installs Debian's postgresql, creates the
# distribution's cluster when there is none, starts it, and creates the role
# gatehouse (password gatehouse) and the database gatehouse_test. Running it
# again changes nothing and prints the same line. Only stdout's last line is
# meant for eval; progress goes to stderr. Needs root (or sudo).
set -euo pipefail

role=gatehouse
password=gatehouse
database=gatehouse_test

log() { echo "postgres.sh: $*" >&2; }

# as_root and as_postgres run a command as root or as the cluster owner.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

# server_version prints the newest major version whose server is installed
# (the client packages alone bring /usr/lib/postgresql/N/bin too).
server_version() {
  local bin
  for bin in /usr/lib/postgresql/*/bin/postgres; do
    [ -x "$bin" ] && basename "$(dirname "$(dirname "$bin")")"
  done | sort -V | tail -n 1
}

if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(server_version)" ]; then
  log "installing postgresql"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq >&2
  as_root apt-get install -y -qq postgresql >&2
fi

version=$(server_version) # e.g. 15
if [ -z "$version" ]; then
  log "no PostgreSQL server installed"
  exit 1
fi
cluster=main

# pg_lsclusters -h: version cluster port status owner datadir logfile.
if ! pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c { found = 1 } END { exit !found }'; then
  log "creating cluster $version/$cluster"
  as_root pg_createcluster "$version" "$cluster" >&2
fi
port=$(pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c { print $3 }')
status=$(pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c { print $4 }')
if [ "$status" != online ]; then
  log "starting cluster $version/$cluster on port $port"
  as_root pg_ctlcluster "$version" "$cluster" start >&2
fi

ready=
for _ in $(seq 1 60); do
  if pg_isready -q -h 127.0.0.1 -p "$port"; then
    ready=1
    break
  fi
  sleep 1
done
if [ -z "$ready" ]; then
  log "PostgreSQL on 127.0.0.1:$port is not ready after 60 s"
  exit 1
fi

# psql runs as the cluster owner over the Unix socket (peer authentication),
# from a directory that user may enter.
psql_admin() {
  (cd / && as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$port" -d postgres "$@")
}
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$role'")" != 1 ]; then
  log "creating role $role"
  psql_admin -c "CREATE ROLE $role LOGIN PASSWORD '$password'" >&2
else
  psql_admin -c "ALTER ROLE $role LOGIN PASSWORD '$password'" >&2
fi
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$database'")" != 1 ]; then
  log "creating database $database"
  psql_admin -c "CREATE DATABASE $database OWNER $role" >&2
fi

dsn="postgres://$role:$password@127.0.0.1:$port/$database?sslmode=disable"
if ! PGPASSWORD=$password psql -X -q -h 127.0.0.1 -p "$port" -U "$role" -d "$database" -tAc 'SELECT 1' >/dev/null; then
  log "cannot log in as $role on 127.0.0.1:$port"
  exit 1
fi
log "ready: $dsn"
echo "export GATEHOUSE_TEST_POSTGRES='$dsn'"
