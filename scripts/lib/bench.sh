# Benchmark harness shared by scripts/bench_*.sh: failure list, teardown of the
# throw-away servers on exit or signal, time-limited children, and the servers'
# set-up. Sourced after common.sh; the script sets TMP, PG_DATADIR, REDIS_DIR,
# REDIS_PORT, LAVD_PID and (bench_store.sh) NGINX_PID as it starts things.
# shellcheck shell=bash disable=SC2034  # the variables it sets are the caller's

FAILED=()
fail() { FAILED+=("$1"); lav_err "$1"; }

# --- teardown ---------------------------------------------------------------------------
TMP="" PG_DATADIR="" REDIS_DIR="" REDIS_PORT="" LAVD_PID="" NGINX_PID="" CHILD=""

stop_pid() { # stop_pid PID SIGNAL: signal, wait up to 10 s, then KILL
	local pid=$1 sig=$2 i
	[[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
	kill "-$sig" "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# The original stdout/stderr, for the trap: a signal may arrive while a command runs
# with its output sent to /dev/null, and the trap runs inside that redirection.
exec 3>&1 4>&2

# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	exec 1>&3 2>&4
	stop_pid "$CHILD" TERM
	stop_pid "$LAVD_PID" TERM
	stop_pid "$NGINX_PID" TERM
	[[ -n "$REDIS_PORT" ]] && lav_redis_stop "$REDIS_DIR" "$REDIS_PORT"
	[[ -n "$PG_DATADIR" ]] && lav_pg_stop "$PG_DATADIR"
	if [[ -n "$TMP" ]]; then
		if [[ "${LAV_KEEP_TMP:-0}" == 1 ]]; then lav_log "kept $TMP"; else rm -rf "$TMP"; fi
	fi
	((rc != 0 && ${#FAILED[@]} == 0)) && FAILED+=("aborted (exit $rc)")
	if ((${#FAILED[@]})); then
		echo
		echo "FAILED:"
		printf '  - %s\n' "${FAILED[@]}"
		((rc == 0)) && rc=1
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs "$@" in the background under a time limit, so that a signal reaches our trap.
run_timed() {
	local secs=$1 rc=0; shift
	timeout --kill-after=10 "$secs" "$@" &
	CHILD=$!
	wait "$CHILD" || rc=$?
	CHILD=""
	return "$rc"
}

postmaster_pid() { head -n 1 "$PG_DATADIR/postmaster.pid"; }
# shellcheck disable=SC2046  # one pid per word
pg_pids() { local pm; pm=$(postmaster_pid); echo "$pm" $(pgrep -P "$pm"); }

# bench_servers N: N distinct free ports in PORTS (PostgreSQL, Redis, lavd, ...),
# then a durable PostgreSQL (no LAV_PG_FAST: fsync, synchronous_commit and
# full_page_writes stay on) and Redis under $TMP; sets PG_DSN, REDIS_URL, PSQL.
bench_servers() {
	local p
	PG_DATADIR="$TMP/pg"
	REDIS_DIR="$TMP/redis"
	PORTS=()
	while ((${#PORTS[@]} < $1)); do
		p=$(lav_free_port) || lav_die "no free port"
		[[ " ${PORTS[*]} " == *" $p "* ]] || PORTS+=("$p")
	done
	PG_PORT=${PORTS[0]} REDIS_PORT=${PORTS[1]} LAVD_PORT=${PORTS[2]}
	PG_DSN=$(LAV_PG_FAST=0 lav_pg_start "$PG_DATADIR" "$PG_PORT") || lav_die "PostgreSQL did not start"
	REDIS_URL=$(lav_redis_start "$REDIS_DIR" "$REDIS_PORT") || lav_die "Redis did not start"
	PSQL=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U lav -d lav)
}

# shellcheck disable=SC2120  # PREFIX is optional
# bench_start_lavd [PREFIX...]: starts $LAVD with LAV_ENV (under PREFIX, e.g. taskset)
# logging to $TMP/lavd.log; waits until it is ready with Redis connected (lavd writes
# the latest points through to it). Sets LAVD_PID and LAVD_URL.
bench_start_lavd() {
	local i ready=""
	env "${LAV_ENV[@]}" "$@" "$LAVD" >"$TMP/lavd.log" 2>&1 &
	LAVD_PID=$!
	LAVD_URL="http://127.0.0.1:$LAVD_PORT"
	for ((i = 0; i < 300; i++)); do
		kill -0 "$LAVD_PID" 2>/dev/null || { tail -n 30 "$TMP/lavd.log" >&2; lav_die "lavd exited at start"; }
		ready=$(curl -s "$LAVD_URL/readyz" 2>/dev/null || true)
		[[ "$ready" == *'"ready":true'* && "$ready" == *'"state":"connected"'* ]] && return 0
		sleep 0.1
	done
	printf '%s\n' "$ready" >&2
	lav_die "lavd (with Redis) not ready within 30 s"
}

# lavd still alive? If not, say how it died and stop.
check_lavd() {
	if ! kill -0 "$LAVD_PID" 2>/dev/null; then
		local rc=0
		wait "$LAVD_PID" || rc=$?
		LAVD_PID=""
		tail -n 40 "$TMP/lavd.log" >&2
		lav_die "lavd died during: $1 (exit status $rc; log above)"
	fi
}
