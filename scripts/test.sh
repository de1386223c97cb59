#!/usr/bin/env bash
# Runs the test suites and sums them up:  scripts/test.sh {lint|deps-floor|unit|...|all}
#
#   lint         `make check` and `make tidy`: clang-format, cppcheck, clang-tidy (one test)
#   deps-floor   scripts/deps-floor.sh: the runtime libraries at or above the fixed versions,
#                and build/sbom.txt (one test)
#   unit         every build/tests/test_* (cmocka), built by `make test` / `make test-unit`
#   integration  python3 -m pytest tests/integration (the real binary and a real PostgreSQL)
#   asan         both again, built with AddressSanitizer, LeakSanitizer and UBSan, which stop
#                at the first report (build/asan/, `make test-asan`): unit-asan runs
#                build/asan/tests/test_*, integration-asan the suite against build/asan/volunteerd
#   valgrind     the unit test programs again under memcheck (valgrind-unit), then
#                tests/integration/test_valgrind.py with every `serve` under memcheck
#                (integration-valgrind); an error or a definite leak fails
#   e2e          node --test in tests/e2e (browser tests; TAP summary)
#   fuzz         build/fuzz/fuzz_* (libFuzzer), FUZZ_SECONDS each (default 5)
#   contract     ../shared/contract/smoke.py --upto $(cat tests/contract-step), when present
#   bench        scripts/bench.sh --smoke: every step of the benchmark for a second (no targets)
#   all          all of them: lint, deps-floor, unit, fuzz, integration, asan, valgrind, e2e,
#                bench, contract
#
# Each suite's own output stays visible; the LAST line is always `N passed, N failed` (sums
# over the suites run).  The exit status is non-zero when a test failed or a suite could not
# run (a crash or a missing runner counts as one failure).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1

PASSED=0
FAILED=0
SUMMARY=()
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vd-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# Debian's python3 has python3-pytest and friends; a python3 earlier on PATH (pyenv, a venv)
# may not.  Prefer the first one that can import pytest.
PY=
for cand in /usr/bin/python3 python3; do
	if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import pytest' >/dev/null 2>&1; then
		PY=$cand
		break
	fi
done

add() { # suite passed failed [note]
	PASSED=$((PASSED + $2))
	FAILED=$((FAILED + $3))
	SUMMARY+=("$(printf '%-36s %4d passed, %4d failed%s' "$1" "$2" "$3" "${4:+  ($4)}")")
}

# The number before WORD in LINE ("3 passed, 1 failed in 2.0s" passed -> 3), or 0.
count() { # line word
	local n
	n=$(echo "$1" | grep -oE "[0-9]+ $2" | tail -n 1 | grep -oE '^[0-9]+')
	echo "${n:-0}"
}

# A command that run_unit puts before each test program (the valgrind suite sets it).
UNIT_RUNNER=()

run_unit() { # [suite] [directory of the test programs] [label in the summary]
	local suite=${1:-unit} dir=${2:-build/tests} label=${3:-} bins=() b out rc p f
	label=${label:-${dir#build/}}
	shopt -s nullglob
	for b in "$dir"/test_*; do
		[ -x "$b" ] && [ -f "$b" ] && [[ "$b" != *.d ]] && bins+=("$b")
	done
	local srcs=(tests/unit/test_*.c)
	shopt -u nullglob
	echo "=== $suite: ${#bins[@]} test programs"
	if [ ${#bins[@]} -eq 0 ]; then
		if [ ${#srcs[@]} -gt 0 ]; then
			add "$suite" 0 1 "tests/unit has sources but $dir has no binaries: run make test"
		else
			add "$suite" 0 0 "no unit tests yet"
		fi
		return
	fi
	for b in "${bins[@]}"; do
		out="$TMP/$(basename "$b").out"
		CMOCKA_MESSAGE_OUTPUT=stdout timeout 300 "${UNIT_RUNNER[@]}" "$b" >"$out" 2>&1
		rc=$?
		cat "$out"
		# cmocka: "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s), listed below:"
		p=$(grep -E '^\[  PASSED  \] [0-9]+ test' "$out" | tail -n 1 | grep -oE '[0-9]+' | head -n 1)
		f=$(grep -E '^\[  FAILED  \] [0-9]+ test' "$out" | tail -n 1 | grep -oE '[0-9]+' | head -n 1)
		p=${p:-0}
		f=${f:-0}
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			echo "$suite: $b exited with status $rc without reporting a failed test: counted as one failure"
			f=1
		fi
		if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
			echo "$suite: $b reported no results: counted as one failure"
			f=1
		fi
		PASSED=$((PASSED + p))
		FAILED=$((FAILED + f))
		SUMMARY+=("$(printf '%-36s %4d passed, %4d failed' "$label/$(basename "$b")" "$p" "$f")")
	done
}

# pytest on DIR, counted from its summary line ("3 passed, 1 failed, 2 errors in 4.1s").
run_pytest() { # suite dir
	local suite=$1 dir=$2 out="$TMP/$1.out" rc p f e line
	echo "=== $suite: pytest $dir"
	if [ -z "$PY" ]; then
		add "$suite" 0 1 "no python3 with pytest: run scripts/deps.sh"
		return
	fi
	timeout -k 10 1800 "$PY" -m pytest -q -p no:cacheprovider "$dir" </dev/null 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	if [ "$rc" -eq 5 ]; then # no tests collected
		add "$suite" 0 0 "no tests"
		return
	fi
	line=$(grep -E '[0-9]+ (passed|failed|errors?|skipped|deselected).* in [0-9.]+s' "$out" | tail -n 1)
	p=$(count "$line" passed)
	f=$(count "$line" failed)
	e=$(count "$line" error)
	f=$((f + e))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		add "$suite" "$p" 1 "pytest exited with status $rc"
		return
	fi
	add "$suite" "$p" "$f"
}

run_integration() {
	if [ -d tests/integration ]; then
		run_pytest integration tests/integration
	else
		add integration 0 0 "no tests/integration"
	fi
}

# The sanitizer builds (R46): a report aborts the process, so a unit test program fails and a
# server's log holds the report (the integration fixtures fail the session on one).  Leaks are
# reported too, at every exit: of the test programs, of `serve`'s processes and of the
# subcommands the tests run.
run_asan() {
	if [ ! -x build/asan/volunteerd ]; then
		add asan 0 1 "build/asan/volunteerd is missing: run make test (or make test-asan)"
		return
	fi
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
	run_unit unit-asan build/asan/tests
	VOLUNTEERD_BIN=$ROOT/build/asan/volunteerd run_pytest integration-asan tests/integration
	unset ASAN_OPTIONS UBSAN_OPTIONS
}

# valgrind's memcheck (R46), which sees what the sanitizers' build does not: the normal -O2
# binary and uninitialised reads.  The unit programs run under it directly; the integration
# subset sets VOLUNTEERD_VALGRIND, and helpers.py starts every `serve` under it with a log per
# process, failing the session on an error or a definite leak.  Leaks of the kinds "possibly"
# and "still reachable" are not errors: libraries keep their tables until exit.
run_valgrind() {
	if ! command -v valgrind >/dev/null 2>&1; then
		add valgrind 0 1 "valgrind is missing: run scripts/deps.sh"
		return
	fi
	UNIT_RUNNER=(valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite
		--show-leak-kinds=definite --suppressions=tests/valgrind.supp)
	run_unit valgrind-unit build/tests "valgrind tests"
	UNIT_RUNNER=()
	VOLUNTEERD_VALGRIND=1 run_pytest integration-valgrind tests/integration/test_valgrind.py
}

# A command counted as one test: passed when it exits 0, else failed with the hint.
run_as_one_test() { # suite hint command...
	local suite=$1 hint=$2
	shift 2
	echo "=== $suite: $*"
	if "$@"; then
		add "$suite" 1 0
	else
		add "$suite" 0 1 "$hint"
	fi
}

# `make check` (clang-format, the log-format check and cppcheck) and `make tidy` (clang-tidy),
# so that CI gates on them.
run_lint() { run_as_one_test lint "make check or make tidy failed: see above" make -s -j2 check tidy; }

# The runtime libraries' versions against the fixed ones, and build/sbom.txt.
run_deps_floor() {
	run_as_one_test deps-floor "a library is below its floor: run scripts/deps.sh" \
		bash scripts/deps-floor.sh
}

# The browser tests: node --test in tests/e2e (playwright-core driving Debian's chromium),
# counted from the TAP summary ("# pass N", "# fail N").  Its launcher starts its own
# PostgreSQL and server.  node_modules comes from scripts/deps.sh (npm ci).
run_e2e() {
	local out="$TMP/e2e.out" rc p f
	if [ ! -f tests/e2e/package.json ]; then
		echo "=== e2e: no tests yet"
		add e2e 0 0 "no tests yet"
		return
	fi
	echo "=== e2e: node --test tests/e2e"
	if ! command -v node >/dev/null 2>&1 || [ ! -d tests/e2e/node_modules ]; then
		add e2e 0 1 "node or tests/e2e/node_modules missing: run scripts/deps.sh"
		return
	fi
	(cd tests/e2e && PYTHON="${PY:-/usr/bin/python3}" timeout -k 10 1200 \
		node --test --test-reporter=tap --test-concurrency=1 </dev/null) 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	p=$(grep -E '^# pass [0-9]+' "$out" | tail -n 1 | grep -oE '[0-9]+')
	f=$(grep -E '^# fail [0-9]+' "$out" | tail -n 1 | grep -oE '[0-9]+')
	p=${p:-0}
	f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		add e2e "$p" 1 "node --test exited with status $rc"
		return
	fi
	add e2e "$p" "$f"
}

# The shared contract smoke test: it builds (a no-op after make), starts its own PostgreSQL
# and server, and ends with "contract: N passed, N failed".
run_contract() {
	local smoke="$ROOT/../shared/contract/smoke.py" step out="$TMP/contract.out" rc p f line
	if [ ! -f "$smoke" ]; then
		echo "=== contract: ../shared/contract/smoke.py not present, skipped"
		return
	fi
	step=$(tr -d ' \t\r\n' <tests/contract-step 2>/dev/null)
	step=${step:-health}
	echo "=== contract: smoke.py --upto $step"
	timeout -k 10 900 "${PY:-python3}" "$smoke" --upto "$step" </dev/null 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
	p=$(count "$line" passed)
	f=$(count "$line" failed)
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		add contract "$p" 1 "smoke.py exited with status $rc"
		return
	fi
	add contract "$p" "$f"
}

# libFuzzer targets (built by `make test` / `make fuzz`): each runs FUZZ_SECONDS (5 in
# `make test`, so they cannot rot; `make fuzz` gives them a minute); a crash fails it.
run_fuzz() {
	local f out
	shopt -s nullglob
	local bins=(build/fuzz/fuzz_*)
	shopt -u nullglob
	echo "=== fuzz: ${#bins[@]} targets, ${FUZZ_SECONDS:-5} s each"
	for f in "${bins[@]}"; do
		out="$TMP/$(basename "$f").out"
		mkdir -p "build/fuzz/corpus-$(basename "$f")"
		if timeout -k 5 $((${FUZZ_SECONDS:-5} + 60)) "$f" -max_total_time="${FUZZ_SECONDS:-5}" \
			-artifact_prefix="build/fuzz/" "build/fuzz/corpus-$(basename "$f")" >"$out" 2>&1; then
			echo "$(basename "$f"): $(grep -E '^Done' "$out" | tail -n 1)"
			add "$(basename "$f")" 1 0
		else
			tail -n 30 "$out"
			add "$(basename "$f")" 0 1 "crash: see build/fuzz/"
		fi
	done
}

# A few seconds of `make bench` (scripts/bench.sh --smoke: every step, no targets), so that the
# benchmark cannot rot; it ends with its own "N passed, N failed".
run_bench() {
	local out="$TMP/bench.out" rc p f line
	echo "=== bench: scripts/bench.sh --smoke"
	timeout -k 10 600 bash scripts/bench.sh --smoke </dev/null 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
	p=$(count "$line" passed)
	f=$(count "$line" failed)
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		add bench-smoke "$p" 1 "bench.sh --smoke exited with status $rc"
		return
	fi
	add bench-smoke "$p" "$f" "$(sed -n 's/^bench: failed checks: //p' "$out" | tail -n 1)"
}

what=${1:-all}
case "$what" in
unit) run_unit ;;
integration) run_integration ;;
e2e) run_e2e ;;
contract) run_contract ;;
bench) run_bench ;;
fuzz) run_fuzz ;;
asan) run_asan ;;
valgrind) run_valgrind ;;
lint) run_lint ;;
deps-floor) run_deps_floor ;;
all)
	run_lint
	run_deps_floor
	run_unit
	run_fuzz
	run_integration
	run_asan
	run_valgrind
	run_e2e
	run_bench
	run_contract
	;;
*)
	echo "usage: $0 {lint|deps-floor|unit|fuzz|integration|asan|valgrind|e2e|contract|bench|all}" >&2
	echo "0 passed, 1 failed"
	exit 2
	;;
esac

echo "=== summary"
for line in "${SUMMARY[@]}"; do
	echo "  $line"
done
echo "$PASSED passed, $FAILED failed"
# Kept for .ci/run, which repeats it after make's own error line so that it stays the last.
mkdir -p build && echo "$PASSED passed, $FAILED failed" > build/test-summary.txt
[ "$FAILED" -eq 0 ]
