#!/usr/bin/env bash
# Installs the Debian packages that building, running and testing volunteerd need, and only
# those that are missing, and upgrades the runtime libraries that are below the versions with
# the security fixes we rely on (scripts/deps-floor.sh holds that list).  Idempotent: when
# everything is present and recent enough it runs no apt-get at all and prints one short line.
# Works as root (CI) and as an ordinary user (through sudo when it is there; otherwise it
# prints the apt-get line to run and fails).
set -euo pipefail

PACKAGES=(
	build-essential pkg-config
	libevent-dev libssl-dev libpq-dev libcjson-dev libargon2-dev libcmocka-dev
	libqrencode-dev libxlsxwriter-dev libsystemd-dev
	postgresql postgresql-contrib openssl
	python3 python3-pytest python3-requests python3-psycopg2 python3-openpyxl
	python3-cryptography
	chromium fonts-wqy-microhei
	prometheus clang-format curl clang libclang-rt-14-dev
	valgrind cppcheck clang-tidy
)

missing=()
for p in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$p")
done

# The browser tests' npm packages (pinned in tests/e2e/package-lock.json), only when
# node_modules is missing, so that a machine without the registry still runs when they are
# there.  Called at the end of every run below, and at once when no apt-get is needed.
e2e_npm() {
	local dir
	dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/e2e"
	if [ -f "$dir/package-lock.json" ] && [ ! -d "$dir/node_modules" ]; then
		if ! command -v npm >/dev/null 2>&1; then
			echo "deps: npm not found (Node.js 20 with npm runs the browser tests)" >&2
			return 1
		fi
		echo "deps: npm ci in tests/e2e"
		(cd "$dir" && npm ci --no-audit --no-fund)
	fi
}

floor="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/deps-floor.sh"
mapfile -t below < <(bash "$floor" --below)

if [ ${#missing[@]} -eq 0 ] && [ ${#below[@]} -eq 0 ]; then
	echo "deps: all ${#PACKAGES[@]} packages present"
	e2e_npm
	exit 0
fi

[ ${#missing[@]} -eq 0 ] || echo "deps: installing ${missing[*]}"

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=(sudo)
	else
		echo "deps: not root and no sudo; as root run:" >&2
		[ ${#missing[@]} -eq 0 ] ||
			echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
		[ ${#below[@]} -eq 0 ] ||
			echo "  apt-get update && apt-get install -y --only-upgrade ${below[*]}" >&2
		exit 1
	fi
fi

export DEBIAN_FRONTEND=noninteractive
# A container without systemd cannot start the services that postgresql and prometheus bring;
# a temporary policy-rc.d tells invoke-rc.d not to try (exit 101 = action forbidden).  We never
# use those system services: dev-db.sh and the tests run private clusters.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
	if printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null &&
		"${SUDO[@]}" chmod 755 "$policy"; then
		made_policy=1
	fi
fi
cleanup() { if [ "$made_policy" = 1 ]; then "${SUDO[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT

apt_install() { # apt-get install's arguments
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" </dev/null
}

"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

# The libraries below their floor (asked again: the packages just installed may have brought
# them), upgraded alone.  One that apt cannot bring up to its floor is reported, not fatal:
# the deps-floor step of scripts/test.sh fails on it.
mapfile -t below < <(bash "$floor" --below)
if [ ${#below[@]} -ne 0 ]; then
	echo "deps: upgrading ${below[*]} to their security floor"
	apt_install --only-upgrade "${below[@]}"
	mapfile -t below < <(bash "$floor" --below)
	[ ${#below[@]} -eq 0 ] || echo "deps: still below the floor: ${below[*]} (scripts/deps-floor.sh)" >&2
fi

# Check again: a package that apt-get reported installed but dpkg does not know is an error.
still=()
for p in "${missing[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || still+=("$p")
done
if [ ${#still[@]} -ne 0 ]; then
	echo "deps: still missing after apt-get: ${still[*]}" >&2
	exit 1
fi
e2e_npm
echo "deps: done"
