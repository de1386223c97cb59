#!/usr/bin/env bash
# Installs what `make bench` needs beyond scripts/deps.sh: wrk and nginx-light (pgbench comes
# with PostgreSQL).  Only what is missing; nginx's own service is never started (policy-rc.d),
# the benchmark runs a private nginx.
set -euo pipefail

PACKAGES=(wrk nginx-light)
missing=()
for p in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "bench-deps: all ${#PACKAGES[@]} packages present"
	exit 0
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || {
		echo "bench-deps: as root run: apt-get install -y ${missing[*]}" >&2
		exit 1
	}
	SUDO=(sudo)
fi
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null && "${SUDO[@]}" chmod 755 "$policy" && made_policy=1
fi
cleanup() { if [ "$made_policy" = 1 ]; then "${SUDO[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT
echo "bench-deps: installing ${missing[*]}"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	"${missing[@]}" </dev/null
