#!/usr/bin/env bash
# The runtime libraries we link, against the oldest versions that carry the security fixes we
# rely on (R46; ../shared/research/reliability-security-anchors.md, Part 3), and a software bill
# of materials.
#
#   scripts/deps-floor.sh          prints each library's installed version, checks the floors,
#                                  writes build/sbom.txt; exits 1 when one is below or missing
#   scripts/deps-floor.sh --below  prints only the packages below their floor (scripts/deps.sh
#                                  upgrades them)
#
# build/sbom.txt has one line per Debian package that a built binary loads (ldd, then dpkg -S
# for the owner): package, version, source package, and which of our binaries load it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# package  floor (the Debian security update that fixed the CVEs of Part 3).  libevent's three
# binary packages come from one source and carry the same fixes.
FLOORS=(
	"libevent-2.1-7 2.1.12-stable-8+deb12u1"
	"libevent-core-2.1-7 2.1.12-stable-8+deb12u1"
	"libevent-openssl-2.1-7 2.1.12-stable-8+deb12u1"
	"libssl3 3.0.22-1~deb12u2"
	"libcjson1 1.7.15-1+deb12u4"
	"libpq5 15.20-0+deb12u1"
)
# The other libraries volunteerd links directly: printed, no floor.
OTHERS=(libargon2-1 libqrencode4 libxlsxwriter4 libsystemd0)

installed_version() { # package -> its version, or nothing when it is not installed
	{ dpkg-query -W -f='${db:Status-Status} ${Version}' "$1" 2>/dev/null || true; } |
		sed -n 's/^installed //p'
}

floor_state() { # package floor -> "ok VERSION", "below VERSION" or "missing -"
	local v
	v=$(installed_version "$1")
	if [ -z "$v" ]; then
		echo "missing -"
	elif dpkg --compare-versions "$v" lt "$2"; then
		echo "below $v"
	else
		echo "ok $v"
	fi
}

if [ "${1:-}" = --below ]; then # the packages below their floor or missing, for deps.sh
	for line in "${FLOORS[@]}"; do
		read -r pkg floor <<<"$line"
		read -r state _ < <(floor_state "$pkg" "$floor")
		[ "$state" = ok ] || echo "$pkg"
	done
	exit 0
fi

check_floors() { # prints a line per library; returns 1 when one is below its floor
	local line pkg floor state v rc=0
	for line in "${FLOORS[@]}"; do
		read -r pkg floor <<<"$line"
		read -r state v < <(floor_state "$pkg" "$floor")
		case $state in
		ok) printf 'deps-floor: %-24s %-26s ok (floor %s)\n' "$pkg" "$v" "$floor" ;;
		below) printf 'deps-floor: %-24s %-26s BELOW: floor %s\n' "$pkg" "$v" "$floor" ;;
		*) printf 'deps-floor: %-24s %-26s BELOW: not installed (floor %s)\n' "$pkg" - "$floor" ;;
		esac
		[ "$state" = ok ] || rc=1
	done
	for pkg in "${OTHERS[@]}"; do
		v=$(installed_version "$pkg")
		printf 'deps-floor: %-24s %-26s (no floor)\n' "$pkg" "${v:-not installed}"
	done
	return "$rc"
}

# build/sbom.txt from the binaries that are built (volunteerd, and its ASan build if present).
# Debian 12 merged /lib into /usr/lib and dpkg knows each file under the path its package
# gave, so each library is looked up under both; one dpkg -S call answers them all.
write_sbom() {
	local bin lib f real pkg tmp
	local -A owner=() users=()
	mkdir -p build
	for bin in build/volunteerd build/asan/volunteerd; do
		[ -x "$bin" ] || continue
		while read -r lib; do
			users[$lib]+="${users[$lib]:+,}${bin#build/}"
		done < <(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }')
	done
	local candidates=()
	for lib in "${!users[@]}"; do
		real=$(readlink -f "$lib")
		candidates+=("$lib" "$real" "${real#/usr}" "/usr${real#/usr}")
	done
	while IFS= read -r f; do
		owner[${f#*: }]=${f%%: *}
	done < <(dpkg -S "${candidates[@]}" 2>/dev/null)
	tmp=$(mktemp build/sbom.XXXXXX)
	for lib in "${!users[@]}"; do
		real=$(readlink -f "$lib")
		pkg=unknown
		for f in "$lib" "$real" "${real#/usr}" "/usr${real#/usr}"; do
			if [ -n "${owner[$f]:-}" ]; then
				pkg=${owner[$f]}
				break
			fi
		done
		for bin in ${users[$lib]//,/ }; do
			echo "$pkg $bin"
		done
	done | sort -u | awk '{ if ($1 in b) b[$1] = b[$1] "," $2; else b[$1] = $2 }
	                      END { for (p in b) print p, b[p] }' | sort | while read -r pkg bin; do
		if [ "$pkg" = unknown ]; then
			echo "unknown - - $bin"
		else
			dpkg-query -W -f="\${binary:Package} \${Version} \${source:Package} $bin\n" "$pkg"
		fi
	done >"$tmp"
	{
		echo "# volunteerd SBOM, written by scripts/deps-floor.sh: the Debian packages our binaries load"
		echo "# package version source binaries"
		cat "$tmp"
	} >build/sbom.txt
	rm -f "$tmp"
	echo "deps-floor: build/sbom.txt: $(grep -vc '^#' build/sbom.txt) packages"
}

rc=0
check_floors || rc=1
write_sbom
exit "$rc"
