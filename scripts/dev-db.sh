#!/usr/bin/env bash
# A private PostgreSQL cluster for development under var/pg: `start`, `stop`, `status`, `url`.
# VOLUNTEERD_VAR puts var/ elsewhere (the tests use a directory of their own).
#
# The cluster is made once (initdb, trust authentication for local connections, UTF-8) and
# listens on a Unix socket in var/pg and on 127.0.0.1:${VOLUNTEERD_PG_PORT:-54320} only.
# PostgreSQL refuses to run as root, so when this script runs as root it runs every PostgreSQL
# program as Debian's `postgres` user, gives var/pg to that user and makes sure the directories
# above it can be traversed.  As an ordinary user it runs PostgreSQL as that user.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
VAR=${VOLUNTEERD_VAR:-$ROOT/var}
PGDIR="$VAR/pg"
DATA="$PGDIR/data"
LOG="$PGDIR/postgres.log"
PORT=${VOLUNTEERD_PG_PORT:-54320}
DB=volunteerd

die() {
	echo "dev-db: $*" >&2
	exit 1
}

as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

running() {
	[ -f "$DATA/PG_VERSION" ] && as_pg "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

# Lets the postgres user reach var/pg when the checkout lives under directories that only
# root can enter (o+x on each parent; nothing is made readable).
open_parents() {
	local d=$VAR
	while [ "$d" != / ]; do
		if ! runuser -u postgres -- test -x "$d"; then
			chmod o+x "$d"
		fi
		d=$(dirname "$d")
	done
}

prepare_dir() {
	mkdir -p "$PGDIR"
	if [ "$(id -u)" -eq 0 ]; then
		id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' user (apt-get install postgresql)"
		chown postgres:postgres "$PGDIR"
		open_parents
	fi
	chmod 700 "$PGDIR"
}

init_cluster() {
	[ -x "$PGBIN/initdb" ] || die "$PGBIN/initdb not found (run scripts/deps.sh)"
	echo "dev-db: creating a cluster in $DATA" >&2
	as_pg "$PGBIN/initdb" -D "$DATA" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$PGDIR/initdb.log" 2>&1 ||
		{
			cat "$PGDIR/initdb.log" >&2
			die "initdb failed"
		}
}

start() {
	prepare_dir
	[ -f "$DATA/PG_VERSION" ] || init_cluster
	if running; then
		echo "dev-db: already running ($(url))" >&2
	else
		# pg_ctl -w waits until the server accepts connections (or fails).
		as_pg "$PGBIN/pg_ctl" -D "$DATA" -w -t 60 -l "$LOG" \
			-o "-p $PORT -k $PGDIR -c listen_addresses=127.0.0.1" start >/dev/null ||
			{
				tail -n 20 "$LOG" >&2 || true
				die "pg_ctl start failed"
			}
		echo "dev-db: started on port $PORT, socket in $PGDIR" >&2
	fi
	local have
	have=$(as_pg "$PGBIN/psql" -h "$PGDIR" -p "$PORT" -U postgres -d postgres -Atqc \
		"SELECT 1 FROM pg_database WHERE datname = '$DB'")
	if [ "$have" != 1 ]; then
		as_pg "$PGBIN/psql" -h "$PGDIR" -p "$PORT" -U postgres -d postgres -qc "CREATE DATABASE $DB" ||
			die "CREATE DATABASE $DB failed"
		echo "dev-db: created database $DB" >&2
	fi
}

stop() {
	if running; then
		as_pg "$PGBIN/pg_ctl" -D "$DATA" -w -t 60 -m fast stop >/dev/null
		echo "dev-db: stopped" >&2
	else
		echo "dev-db: not running" >&2
	fi
}

status() {
	if running; then
		echo "running: $(url)"
	else
		echo "not running"
		return 3
	fi
}

url() {
	echo "postgresql://postgres@/$DB?host=$PGDIR&port=$PORT"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
url) url ;;
*)
	echo "usage: $0 {start|stop|status|url}" >&2
	exit 2
	;;
esac
