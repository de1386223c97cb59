#!/usr/bin/env bash
# shellcheck disable=SC2317 # the trap handlers are reached through `trap`, not called
# What `make run` runs after building: a database (the private cluster under var/pg unless
# DATABASE_URL is set), a secret and a certificate under var/, the migrations, an admin account
# (once), and then `volunteerd serve` in the foreground.  Ctrl-C or SIGTERM stops the server
# (it drains in-flight requests) and then the private PostgreSQL if this script started it.
# VOLUNTEERD_VAR puts var/ elsewhere (default: var/ in the checkout).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BIN=${VOLUNTEERD_BIN:-$ROOT/build/volunteerd}
[ -x "$BIN" ] || {
	echo "run: $BIN is missing; run 'make' first" >&2
	exit 1
}

started_db=0
server_pid=
stopping=0

stop_db() {
	if [ "$started_db" = 1 ]; then
		started_db=0
		bash "$ROOT/scripts/dev-db.sh" stop || true
	fi
}

# On INT/TERM: ask the server to drain (SIGTERM), then the EXIT trap stops the database once
# the server is gone.  A shell in a script ignores SIGINT for background children, so the
# server only hears about Ctrl-C through this forward.
on_signal() {
	stopping=1
	if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
		echo "run: stopping the server (pid $server_pid)" >&2
		kill -TERM "$server_pid" 2>/dev/null || true
	fi
}
on_exit() {
	if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	stop_db
}
trap on_signal INT TERM
trap on_exit EXIT

VAR=${VOLUNTEERD_VAR:-$ROOT/var}
export VOLUNTEERD_VAR=$VAR
mkdir -p "$VAR"

# 1. The database.
if [ -z "${DATABASE_URL:-}" ]; then
	if ! bash scripts/dev-db.sh status >/dev/null 2>&1; then
		started_db=1
	fi
	bash scripts/dev-db.sh start
	DATABASE_URL=$(bash scripts/dev-db.sh url)
	private_db=1
	echo "run: using the private PostgreSQL under $VAR/pg ($DATABASE_URL)"
else
	echo "run: using DATABASE_URL from the environment; no private PostgreSQL started"
fi
export DATABASE_URL

# 2. Key material for tokens, HMACs and ID-number encryption: 64 random bytes, made once.
if [ -z "${VOLUNTEERD_SECRET_FILE:-}" ]; then
	export VOLUNTEERD_SECRET_FILE="$VAR/secret"
	if [ ! -s "$VOLUNTEERD_SECRET_FILE" ]; then
		(
			umask 077
			head -c 64 /dev/urandom >"$VOLUNTEERD_SECRET_FILE.tmp"
		)
		mv "$VOLUNTEERD_SECRET_FILE.tmp" "$VOLUNTEERD_SECRET_FILE"
		echo "run: made $VOLUNTEERD_SECRET_FILE"
	fi
fi

# 3. A self-signed certificate for https://localhost.
if [ -z "${VOLUNTEERD_TLS_CERT:-}" ] && [ -z "${VOLUNTEERD_TLS_KEY:-}" ]; then
	bash scripts/cert.sh
	export VOLUNTEERD_TLS_CERT="$VAR/tls/cert.pem" VOLUNTEERD_TLS_KEY="$VAR/tls/key.pem"
fi

# 4. The schema.
"$BIN" migrate

# 4b. A small demo district (DESIGN §7) the first time, in the private database only: a real
#     database is never filled with made-up people.  seed-demo needs the cluster's superuser,
#     which the private cluster has; with --if-empty it does nothing (and prints nothing) once
#     the database holds data.
if [ -n "${private_db:-}" ] && [ -z "${VOLUNTEERD_NO_DEMO:-}" ]; then
	if demo_out=$("$BIN" seed-demo --if-empty 2>&1); then
		if [ -n "$demo_out" ]; then
			printf '%s\n' "$demo_out" >"$VAR/demo.log"
			echo "run: loaded a small demo district ($VAR/demo.log; VOLUNTEERD_NO_DEMO=1 skips this)"
		fi
	else
		printf '%s\n' "$demo_out" >"$VAR/demo.log"
		echo "run: the demo district could not be loaded (see $VAR/demo.log); continuing without it"
	fi
fi

# 5. The first admin, only once: with --if-missing the binary prints nothing when the login
#    exists, and the generated one-time password as the last line of stdout when it made one.
admin_out=$("$BIN" create-admin --login admin --if-missing)
if [ -n "$admin_out" ]; then
	password=$(printf '%s\n' "$admin_out" | tail -n 1)
	rest=$(printf '%s\n' "$admin_out" | sed '$d')
	[ -z "$rest" ] || printf '%s\n' "$rest"
	cat <<EOF

  ==================================================================
    Created the administrator account.
      login:    admin
      password: $password
    This password is shown only once: write it down now.
  ==================================================================

EOF
else
	echo "run: the admin account exists already (no new password)"
fi

# 6. Serve in the foreground until Ctrl-C / SIGTERM.
http_port=${VOLUNTEERD_HTTP_PORT:-8080}
https_port=${VOLUNTEERD_HTTPS_PORT:-8443}
echo "run: serving http://localhost:$http_port$([ "$https_port" != 0 ] && echo " and https://localhost:$https_port") (Ctrl-C stops)"
"$BIN" serve "$@" &
server_pid=$!

# `wait` returns early (status > 128) when a trapped signal arrives; keep waiting until the
# server has really exited, then report its own status.
set +e
while kill -0 "$server_pid" 2>/dev/null; do
	wait "$server_pid"
done
wait "$server_pid" # bash keeps a reaped child's status: this is the server's own
rc=$?
set -e
server_pid=
if [ "$stopping" = 1 ]; then
	echo "run: server exited with status $rc"
fi
stop_db
exit "$rc"
