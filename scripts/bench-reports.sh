#!/usr/bin/env bash
# make bench-reports: the monthly report on a generated district, while check-ins continue.
#
#   BENCH_SCALE (1)         generator scale: 1 = 146,000 volunteers, ~10 M attendances
#   BENCH_SEED (1)          generator seed
#   BENCH_REQUESTS (200)    timed requests per report
#   BENCH_CHECKINS_PER_S (20)  paced background check-in + check-out pairs per second
#   BENCH_TIMEOUT (5400)    the whole run is bounded by this many seconds
#   BENCH_OUT (build/bench-reports.txt)  where the table goes
#   BENCH_KEEP              a directory that keeps the generated cluster between runs: the next
#                           run with the same scale and seed skips the generator (new migrations
#                           are still applied), for trying a change to the reports at scale 1
#   BENCH_EXTRA_SQL         SQL run after the generator, before the server starts (a what-if,
#                           e.g. a candidate index); named in the table
#
# Starts a private PostgreSQL 15 in a temporary directory (as `postgres` when run by root) on
# 127.0.0.1 and a free port, tuned modestly for a 2-core / 24 GiB machine: shared_buffers 2GB,
# effective_cache_size 12GB, work_mem 64MB, maintenance_work_mem 1GB, max_wal_size 16GB,
# checkpoint_timeout 30min, jit off; durability settings stay at their defaults (fsync and
# synchronous_commit on). Then: migrate, create-admin, `volunteerd gen-data`, `volunteerd serve`
# (2 workers, HTTP only), an event happening now whose sign-ups are checked in and out through
# the API in the background, the two reports timed (p50/p95/p99 over BENCH_REQUESTS each), and
# the same figures by a plain GROUP BY over the ledger in psql. The table goes to stdout and
# build/bench-reports.txt. Everything started is stopped on exit (trap), also on failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BIN=${VOLUNTEERD_BIN:-$ROOT/build/volunteerd}
PGBIN=/usr/lib/postgresql/15/bin
SCALE=${BENCH_SCALE:-1}
SEED=${BENCH_SEED:-1}
REQUESTS=${BENCH_REQUESTS:-200}
RATE=${BENCH_CHECKINS_PER_S:-20}
LIMIT=${BENCH_TIMEOUT:-5400}
OUT=${BENCH_OUT:-$ROOT/build/bench-reports.txt}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

[ -x "$BIN" ] || { echo "bench-reports: $BIN missing (make)" >&2; exit 1; }

# A watchdog: the whole run is bounded.
MAIN=$$
(sleep "$LIMIT" && echo "bench-reports: time limit of $LIMIT s reached" >&2 && kill -TERM "$MAIN") 2>/dev/null &
WATCHDOG=$!

DIR=$(mktemp -d /tmp/vd-bench.XXXXXX)
chmod 755 "$DIR"
KEEP=${BENCH_KEEP:-}
REUSE=0
if [ -n "$KEEP" ]; then
	mkdir -p "$KEEP"
	chmod 755 "$KEEP"
	KEEP=$(cd "$KEEP" && pwd)
	PGDIR=$KEEP/pg
	if [ "$(cat "$KEEP/generated" 2>/dev/null)" = "scale=$SCALE seed=$SEED" ] && [ -f "$PGDIR/data/PG_VERSION" ]; then
		REUSE=1
	else # nothing kept, or an unfinished or different generation: start again
		rm -rf "$PGDIR" "$KEEP/generated"
	fi
else
	PGDIR=$DIR/pg
fi
mkdir -p "$PGDIR"
SERVER_PID=
JOB_PID=  # the generator or the measuring client, in its own process group
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
cleanup() {
	set +e
	if [ -n "$JOB_PID" ] && kill -0 "$JOB_PID" 2>/dev/null; then
		kill -TERM -- -"$JOB_PID" 2>/dev/null
		sleep 1
		kill -KILL -- -"$JOB_PID" 2>/dev/null
	fi
	if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null
		for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL -- -"$SERVER_PID" 2>/dev/null
	fi
	if [ -f "$PGDIR/data/postmaster.pid" ]; then
		as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -w -t 60 -m fast stop >/dev/null 2>&1 ||
			as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1
	fi
	kill "$WATCHDOG" 2>/dev/null
	# keep the server's and PostgreSQL's logs next to the table
	[ -f "$DIR/server.log" ] && cp "$DIR/server.log" "$ROOT/build/bench-reports-server.log" 2>/dev/null
	[ -f "$PGDIR/log" ] && cp "$PGDIR/log" "$ROOT/build/bench-reports-postgres.log" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
# Long steps run in the background in their own process group, so that a signal (or the
# watchdog) interrupts the wait at once and cleanup can stop the whole step.
run_job() {
	setsid "$@" &
	JOB_PID=$!
	wait "$JOB_PID"
}

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PGPORT=$(free_port)
HTTP_PORT=$(free_port)

echo "bench-reports: PostgreSQL in $PGDIR on 127.0.0.1:$PGPORT"
if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$PGDIR"; fi
chmod 700 "$PGDIR"
[ $REUSE = 1 ] || as_pg "$PGBIN/initdb" -D "$PGDIR/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -w -t 60 -l "$PGDIR/log" -o "-p $PGPORT -k $PGDIR \
 -c listen_addresses=127.0.0.1 -c log_min_duration_statement=1000 -c log_lock_waits=on -c shared_buffers=2GB -c effective_cache_size=12GB -c work_mem=64MB \
 -c maintenance_work_mem=1GB -c max_wal_size=16GB -c checkpoint_timeout=30min -c jit=off" start >/dev/null
URL="postgresql://postgres@/vd?host=$PGDIR&port=$PGPORT"
[ $REUSE = 1 ] || psql -X -q "postgresql://postgres@/postgres?host=$PGDIR&port=$PGPORT" -c "CREATE DATABASE vd"

SECRET=${KEEP:-$DIR}/secret
[ $REUSE = 1 ] || head -c 64 /dev/urandom >"$SECRET"
chmod 600 "$SECRET"
export DATABASE_URL=$URL VOLUNTEERD_BIND=127.0.0.1 VOLUNTEERD_HTTP_PORT=$HTTP_PORT VOLUNTEERD_HTTPS_PORT=0 \
	VOLUNTEERD_SECRET_FILE=$SECRET VOLUNTEERD_WORKERS=2 VOLUNTEERD_TZ=Asia/Shanghai
"$BIN" migrate >"$DIR/migrate.log" 2>&1 || { cat "$DIR/migrate.log" >&2; exit 1; }
if [ $REUSE = 1 ]; then
	ADMIN_PASSWORD=$(cat "$KEEP/admin-password")
	GEN_SECONDS=$(cat "$KEEP/gen-seconds")
	echo "bench-reports: reusing the data generated in $KEEP (scale $SCALE, seed $SEED)"
else
	ADMIN_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')A1-
	printf '%s\n' "$ADMIN_PASSWORD" | "$BIN" create-admin --login admin --password-stdin >"$DIR/admin.log" 2>&1 ||
		{ cat "$DIR/admin.log" >&2; exit 1; }
	GEN_START=$(date +%s)
	run_job "$BIN" gen-data --scale "$SCALE" --seed "$SEED"
	GEN_SECONDS=$(($(date +%s) - GEN_START))
	if [ -n "$KEEP" ]; then
		(umask 077 && printf '%s\n' "$ADMIN_PASSWORD" >"$KEEP/admin-password")
		echo "$GEN_SECONDS" >"$KEEP/gen-seconds"
		echo "scale=$SCALE seed=$SEED" >"$KEEP/generated"
	fi
fi
if [ -n "${BENCH_EXTRA_SQL:-}" ]; then
	echo "bench-reports: extra SQL: $BENCH_EXTRA_SQL"
	psql -X -q -v ON_ERROR_STOP=1 "$URL" -c "$BENCH_EXTRA_SQL"
fi

setsid "$BIN" serve >"$DIR/server.log" 2>&1 </dev/null &
SERVER_PID=$!
for _ in $(seq 1 200); do
	curl -fsS "http://127.0.0.1:$HTTP_PORT/livez" >/dev/null 2>&1 && break
	kill -0 "$SERVER_PID" 2>/dev/null || { cat "$DIR/server.log" >&2; exit 1; }
	sleep 0.1
done
curl -fsS "http://127.0.0.1:$HTTP_PORT/livez" >/dev/null || { echo "bench-reports: server did not start" >&2; exit 1; }

mkdir -p "$ROOT/build"
ADMIN_PASSWORD=$ADMIN_PASSWORD BENCH_DIR=$DIR BENCH_GEN_SECONDS=$GEN_SECONDS BENCH_SCALE=$SCALE \
	BENCH_REQUESTS=$REQUESTS BENCH_CHECKINS_PER_S=$RATE PSQL_URL=$URL \
	run_job "$PY" "$ROOT/scripts/bench_reports.py" "http://127.0.0.1:$HTTP_PORT" "$OUT"
if grep -q 'ERROR\|level=error' "$DIR/server.log"; then
	echo "bench-reports: the server logged errors:" >&2
	grep 'ERROR\|level=error' "$DIR/server.log" | tail -5 >&2
fi
