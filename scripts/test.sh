#!/usr/bin/env bash
# Installs what is missing (apt), builds build/ and build-asan/, runs the criterion unit
# suites on both, then the e2e suites against a real lavd with a throw-away PostgreSQL and
# Redis, and tears everything down. Exit status is non-zero if anything failed.
#
#   LAV_SKIP_DEPS=1      do not check/install Debian packages
#   LAV_KEEP_TMP=1       keep the temp dir (PG/Redis logs) after the run
#   LAV_PYTEST_ARGS      extra arguments for the main e2e pytest run (e.g. "-k ws -x")
#   LAV_ASAN_E2E=smoke   run only the smoke subset against the sanitizer build
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$REPO"
# shellcheck source=scripts/lib/common.sh
source "$REPO/scripts/lib/common.sh"

PY=$(lav_python)
FAILED=()          # names of failed stages
T_PASS=0 T_FAIL=0 T_SKIP=0

stage_fail() { FAILED+=("$1"); lav_err "stage failed: $1"; }

# Adds up criterion's per-binary "Synthesis" lines (or meson's per-test results when a test
# is not a criterion binary) from a meson testlog.json.
count_meson() {
	local log="$1/meson-logs/testlog.json"
	[[ -f "$log" ]] || { echo "0 0 0"; return; }
	"$PY" - "$log" <<'EOF'
import json, re, sys
p = f = s = 0
syn = re.compile(r"Synthesis: Tested: *(\d+) *\| *Passing: *(\d+) *\| *Failing: *(\d+) *\| *Crashing: *(\d+)")
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    line = line.strip()
    if not line:
        continue
    t = json.loads(line)
    out = re.sub(r"\x1b\[[0-9;]*m", "", (t.get("stdout") or "") + (t.get("stderr") or ""))
    m = syn.findall(out)
    if m:
        tested, passing, failing, crashing = map(int, m[-1])
        p += passing
        f += failing + crashing
        s += max(0, tested - passing - failing - crashing)
    elif t.get("result") in ("OK", "EXPECTEDFAIL"):
        p += 1
    elif t.get("result") == "SKIP":
        s += 1
    else:
        f += 1
print(p, f, s)
EOF
}

count_junit() {
	[[ -f "$1" ]] || { echo "0 0 0"; return; }
	"$PY" - "$1" <<'EOF'
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
suites = [r] if r.tag == "testsuite" else r.findall("testsuite")
t = f = s = 0
for x in suites:
    t += int(x.get("tests", 0)); s += int(x.get("skipped", 0))
    f += int(x.get("failures", 0)) + int(x.get("errors", 0))
print(t - f - s, f, s)
EOF
}

add_counts() {
	local p f s
	read -r p f s <<<"$1"
	T_PASS=$((T_PASS + p)) T_FAIL=$((T_FAIL + f)) T_SKIP=$((T_SKIP + s))
}

# --- teardown and summary (the summary is the last thing printed) ---------------------
TMP="" PG_DATADIR="" REDIS_DIR="" REDIS_PORT="" CHILD=""

# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	if [[ -n "$CHILD" ]] && kill -0 "$CHILD" 2>/dev/null; then
		lav_log "stopping the running test process"
		kill -TERM "$CHILD" 2>/dev/null
		wait "$CHILD" 2>/dev/null
	fi
	[[ -n "$REDIS_PORT" ]] && lav_redis_stop "$REDIS_DIR" "$REDIS_PORT"
	[[ -n "$PG_DATADIR" ]] && lav_pg_stop "$PG_DATADIR"
	if [[ -n "$TMP" ]]; then
		if [[ "${LAV_KEEP_TMP:-0}" == 1 ]]; then lav_log "kept $TMP"; else rm -rf "$TMP"; fi
	fi
	# Anything that ended the script early (set -e, a signal) is a failure too.
	((rc != 0 && ${#FAILED[@]} == 0)) && FAILED+=("aborted (exit $rc)")
	echo
	if ((${#FAILED[@]})); then
		echo "FAILED stages:"
		printf '  - %s\n' "${FAILED[@]}"
		# A failed stage with no failed test (build error, runner crash) still counts.
		((T_FAIL == 0)) && T_FAIL=${#FAILED[@]}
		((rc == 0)) && rc=1
	else
		echo "all stages passed"
	fi
	echo "total: $T_PASS passed, $T_FAIL failed, $T_SKIP skipped"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- 1. dependencies --------------------------------------------------------------------
lav_install_deps

# --- 2. build ---------------------------------------------------------------------------
BUILD_OK=1 ASAN_OK=1
lav_build build "${LAV_BUILD_OPTS[@]}" || { stage_fail "build build/"; BUILD_OK=0; }
lav_build build-asan "${LAV_BUILD_OPTS[@]}" -Db_sanitize=address,undefined -Db_lundef=false \
	|| { stage_fail "build build-asan/"; ASAN_OK=0; }

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# --- 3. unit suites ---------------------------------------------------------------------
if ((BUILD_OK)); then
	lav_log "unit suites (build/)"
	meson test -C build --suite unit --print-errorlogs || stage_fail "unit (build/)"
	add_counts "$(count_meson build)"
fi
if ((ASAN_OK)); then
	lav_log "unit suites (build-asan/, ASan+UBSan)"
	meson test -C build-asan --suite unit --print-errorlogs --timeout-multiplier 3 ||
		stage_fail "unit (build-asan/)"
	add_counts "$(count_meson build-asan)"
fi

# Alert rules (promtool check rules + test rules), the scrape config, and that every
# dashboard and rule queries only metrics lavd exports (docs/observability.md).
lav_log "Prometheus config, alert rule tests, Grafana dashboards"
if bash scripts/check_prometheus.sh; then
	add_counts "1 0 0"
else
	stage_fail "prometheus/ and grafana/ checks"
	add_counts "0 1 0"
fi

# --- 4. throw-away PostgreSQL and Redis -------------------------------------------------
TMP=$(mktemp -d /tmp/lav-test.XXXXXX)
chmod 0755 "$TMP"   # the PostgreSQL OS user (as root: 'lav') must traverse it
PG_DATADIR="$TMP/pg"
REDIS_DIR="$TMP/redis"

E2E_OK=1 PG_PORT="" PG_DSN="" REDIS_URL=""
if ((BUILD_OK || ASAN_OK)); then
	PG_PORT=$(lav_free_port)
	REDIS_PORT=$(lav_free_port)
	while [[ "$REDIS_PORT" == "$PG_PORT" ]]; do REDIS_PORT=$(lav_free_port); done
	PG_DSN=$(LAV_PG_FAST=1 lav_pg_start "$PG_DATADIR" "$PG_PORT") ||
		{ stage_fail "start PostgreSQL"; E2E_OK=0; }
	REDIS_URL=$(lav_redis_start "$REDIS_DIR" "$REDIS_PORT") || { stage_fail "start Redis"; E2E_OK=0; }
else
	E2E_OK=0
fi

# --- 5. e2e suites ----------------------------------------------------------------------
e2e_env=(
	"LAV_TEST_PG_DSN=$PG_DSN"
	"LAV_TEST_PG_DATADIR=$PG_DATADIR"
	"LAV_TEST_PG_BINDIR=$(lav_pg_bin)"
	"LAV_TEST_PG_PORT=$PG_PORT"
	"LAV_TEST_PG_SOCKDIR=$(lav_pg_sockdir "$PG_DATADIR")"
	"LAV_TEST_PG_USER_RUN=$(lav_pg_user_prefix)"
	"LAV_TEST_REDIS_URL=$REDIS_URL"
	"LAV_TEST_REDIS_PORT=$REDIS_PORT"
	"LAV_TEST_TMPDIR=$TMP"
	"LAV_TEST_ARTIFACTS=$REPO/build/test-artifacts"
	"LAV_REPO=$REPO"
)

# Runs "$@" under a time limit, in the background so that a Ctrl-C or TERM reaches our
# trap at once (cleanup then stops it, together with the lavd processes it started).
run_timed() {
	local secs=$1 rc=0; shift
	timeout --kill-after=30 "$secs" "$@" &
	CHILD=$!
	wait "$CHILD" || rc=$?
	CHILD=""
	return "$rc"
}

if ((E2E_OK && BUILD_OK)); then
	lav_log "e2e suites against build/lavd"
	rc=0
	# shellcheck disable=SC2086
	run_timed 1200 env "${e2e_env[@]}" LAV_BIN="$REPO/build/lavd" \
		"$PY" -m pytest -q --junitxml="$TMP/e2e.xml" ${LAV_PYTEST_ARGS:-} tests/e2e || rc=$?
	case $rc in
	0) ;;
	124) stage_fail "e2e (build/lavd): timed out after 20 min" ;;
	*) stage_fail "e2e (build/lavd): pytest exit $rc" ;;
	esac
	add_counts "$(count_junit "$TMP/e2e.xml")"
elif ((!BUILD_OK)); then
	lav_err "skipping e2e: build/ did not build"
fi

# The whole e2e suite again against the ASan+UBSan lavd: every bad input the suites send
# is also a memory-safety test of the server (LAV_ASAN_E2E=smoke runs the quick subset).
if ((E2E_OK && ASAN_OK)); then
	asan_sel=()
	[[ "${LAV_ASAN_E2E:-all}" == smoke ]] && asan_sel=(-m smoke)
	lav_log "e2e suites against build-asan/lavd ${asan_sel[*]}"
	rc=0
	run_timed 900 env "${e2e_env[@]}" LAV_BIN="$REPO/build-asan/lavd" \
		"$PY" -m pytest -q --junitxml="$TMP/asan.xml" "${asan_sel[@]}" tests/e2e || rc=$?
	case $rc in
	0) ;;
	5) lav_log "no tests collected (pytest exit 5): OK" ;;
	124) stage_fail "e2e (build-asan/lavd): timed out after 15 min" ;;
	*) stage_fail "e2e (build-asan/lavd): pytest exit $rc" ;;
	esac
	add_counts "$(count_junit "$TMP/asan.xml")"
elif ((!ASAN_OK)); then
	lav_err "skipping e2e on build-asan/: it did not build"
fi


exit 0
