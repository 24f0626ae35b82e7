#!/usr/bin/env bash
# Semáforo benchmarks (DESIGN.md section 5, docs/semaforo.md): each lav figure beside a
# reference measured in the same run on this machine, then a table. It prints figures and
# asserts nothing: the exit status is non-zero only when something failed to run (a tool,
# a server, a crash), or when lav and its reference did not compute the same thing (then
# the ratio would mean nothing).
#
# The data: bench/bench_regime builds the 9 feeds of config/liquidity.feeds.json with the
# catalog's cadence and publication delays (3 hourly, 4 daily, 2 weekly; some points
# revised once or twice) over a year of hourly grid points plus the 187 days a grid point
# reads (180d window + 7d trend lookback) plus a day: about 42,500 rows. lavd gets the
# very same rows through POST /api/features/v1/publish.
#
#   1. One grid evaluation (lav_regime_eval, in process, default parameters), the median of
#      BENCH_REPS runs, against PostgreSQL computing the 9 window statistics of that grid
#      point (count, avg, stddev_samp over (T - 180d, T], each ts at its latest revision
#      with available_at <= T) in one query: pgbench, prepared, 1 client, median latency.
#      The statistics of both sides are compared first.
#   2. The year's 8760 hourly grid points evaluated in order, in process (no reference).
#   3. POST /api/liquidity/v1/replay over the same year, end to end (PostgreSQL load,
#      evaluation, 4 x 8760 feature points and 8760 regime_history rows written durably,
#      reply after COMMIT): wall time of the request, against psql \copy of the very rows
#      the replay stored (exported after it) into empty scratch tables of the same shape,
#      best of BENCH_ROUNDS. The replay's rounds are not alike, so each kind is a figure of
#      its own: round 1 writes a range nothing was stored for (one measurement per run);
#      rounds 2.. replay it again, replacing every row with an identical one (re-evaluating
#      a range), best of those rounds.
#
# Throw-away PostgreSQL (fsync on), Redis and lavd (a release build in build-release/), all
# on 127.0.0.1, torn down on exit. Nothing is pinned. About a minute on 2 cores.
#
#   BENCH_REPS (2000)        repetitions of the in-process grid evaluation
#   BENCH_ROUNDS (3)         rounds of the in-process year, the replay and the COPY
#   BENCH_SECS (5)           duration of the measured pgbench run (after a 1 s warm-up)
#   LAV_SKIP_DEPS=1          do not check/install Debian packages
#   LAV_KEEP_TMP=1           keep the temp dir (logs, data, outputs) after the run
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$REPO"
# shellcheck source=scripts/lib/common.sh
source "$REPO/scripts/lib/common.sh"

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
REPS=${BENCH_REPS:-2000}
ROUNDS=${BENCH_ROUNDS:-3}
SECS=${BENCH_SECS:-5}
PY=$(lav_python)
HELPER="$REPO/scripts/bench/semaforo.py"

# shellcheck source=scripts/lib/bench.sh
source "$REPO/scripts/lib/bench.sh"

# --- dependencies and build -------------------------------------------------------------
lav_install_deps || lav_die "installing Debian packages failed"
command -v curl >/dev/null 2>&1 || lav_die "curl not found"
PG_BIN=$(lav_pg_bin) || lav_die "no PostgreSQL server"
[[ -x "$PG_BIN/pgbench" ]] || lav_die "pgbench not found in $PG_BIN"

lav_build build-release -Dbuildtype=release || lav_die "release build failed"
LAVD="$REPO/build-release/lavd"
BENCH_REGIME="$REPO/build-release/bench/bench_regime"
[[ -x "$BENCH_REGIME" ]] || lav_die "$BENCH_REGIME was not built"

TMP=$(mktemp -d /tmp/lav-bench-semaforo.XXXXXX)
chmod 0755 "$TMP" # the PostgreSQL OS user (as root: 'lav') must traverse it

# --- helpers ----------------------------------------------------------------------------
RESULTS="$TMP/results.tsv"
: >"$RESULTS"
row() { printf '%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.3f", a / b; else print "n/a" }'; }
# the value of KEY in a file of key=value lines
kv() { sed -n "s|^$2=||p" "$1" | head -n 1; }
ms_of() { awk -v ns="$1" 'BEGIN { printf "%.1f", ns / 1e6 }'; }
min_of() { tr ' ' '\n' | awk 'NF && (m == "" || $1 + 0 < m + 0) { m = $1 } END { print m }'; }
# CPU seconds (user + system) used so far by processes PID... (those that still exist).
cpu_secs() {
	local hz pid
	hz=$(getconf CLK_TCK)
	for pid in "$@"; do cat "/proc/$pid/stat" 2>/dev/null; done | sed 's/^.*) //' |
		awk -v hz="$hz" '{ s += $12 + $13 } END { printf "%.2f", s / hz }'
}
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# The year: grid points UNTIL - 8760 h ... UNTIL - 1 h, UNTIL an hour before the current
# hour (lavd replays only grid points its live evaluation has passed); the data reaches UNTIL.
NOW=$(date -u +%s)
UNTIL=$((NOW / 3600 * 3600 - 3600))
SINCE=$((UNTIL - 8760 * 3600))
T1=$((UNTIL - 3600)) # the grid point of figure 1: the newest of the year

# ===== 1a, 2. in process =====================================================================
lav_log "1/3 bench_regime: in-process grid evaluation ($REPS reps) and year ($ROUNDS rounds)"
BR_OUT="$TMP/bench_regime.out"
run_timed 300 "$BENCH_REGIME" --end "$UNTIL" --reps "$REPS" --rounds "$ROUNDS" \
	--dump "$TMP/feeds.tsv" >"$BR_OUT" 2>"$TMP/bench_regime.err" ||
	{ cat "$TMP/bench_regime.err" >&2; lav_die "bench_regime failed"; }
GRID_US=$(kv "$BR_OUT" grid_eval_us)
YEAR_MS=$(kv "$BR_OUT" year_eval_ms)
[[ -n "$GRID_US" && -n "$YEAR_MS" ]] || { cat "$BR_OUT" >&2; lav_die "bench_regime printed no figures"; }
NROWS=$(wc -l <"$TMP/feeds.tsv")
mapfile -t FEED_IDS < <(sed -n 's|^feed\.\([^=]*\)=.*|\1|p' "$BR_OUT")

# --- throw-away servers -----------------------------------------------------------------
bench_servers 3 # durable on purpose
DURABILITY=$("${PSQL[@]}" -tAc "SELECT 'fsync=' || current_setting('fsync') ||
	', synchronous_commit=' || current_setting('synchronous_commit') ||
	', full_page_writes=' || current_setting('full_page_writes')")
PG_VERSION=$("${PSQL[@]}" -tAc "SHOW server_version")

LAV_ENV=(
	LAV_LISTEN="127.0.0.1:$LAVD_PORT" LAV_PG_DSN="$PG_DSN" LAV_REDIS_URL="$REDIS_URL"
	LAV_CONFIG_DIR=config ORACLE_SOURCE_MODE=off LAV_LOG_LEVEL=warn
	FEATURE_API_RATE_LIMIT_RPM=100000000 FEATURE_STORE_RETENTION_DAYS=800
)
env "${LAV_ENV[@]}" "$LAVD" migrate >"$TMP/migrate.log" 2>&1 ||
	{ cat "$TMP/migrate.log" >&2; lav_die "lavd migrate failed"; }
lav_log "starting lavd on 127.0.0.1:$LAVD_PORT"
bench_start_lavd # unpinned

lav_log "publishing the same $NROWS rows of ${#FEED_IDS[@]} feeds through POST /api/features/v1/publish"
PUB=$(run_timed 300 "$PY" "$HELPER" publish "$LAVD_URL" "$TMP/feeds.tsv") || lav_die "publishing failed"
read -r _ PUB_REQS PUB_SECS <<<"$PUB"
check_lavd "publish"
IDS_SQL=$(printf "'%s'," "${FEED_IDS[@]}")
IDS_SQL=${IDS_SQL%,}
stored=$("${PSQL[@]}" -tAc "SELECT count(*) FROM features_values WHERE entity = '' AND feature_id IN ($IDS_SQL)")
((stored == NROWS)) || lav_die "publish: $stored rows in features_values, expected $NROWS"
"${PSQL[@]}" -c "VACUUM ANALYZE features_values" >/dev/null

# ===== 1b. reference: the window statistics in PostgreSQL ======================================
"$PY" "$HELPER" windowsql "$T1" "${FEED_IDS[@]}" >"$TMP/window.sql"
"${PSQL[@]}" -tA -F '|' -f "$TMP/window.sql" >"$TMP/window.out" || lav_die "the window query failed"
if ! STATCHECK=$("$PY" "$HELPER" statcheck "$BR_OUT" "$TMP/window.out"); then
	fail "PostgreSQL's window statistics differ from lav's: $STATCHECK"
fi
lav_log "1/3 reference: the window query, pgbench -M prepared -c 1, ${SECS}s"
PGB=("$PG_BIN/pgbench" -n -M prepared -c 1 -j 1 -f "$TMP/window.sql" -h 127.0.0.1 -p "$PG_PORT" -U lav lav)
run_timed 60 "${PGB[@]}" -T 1 >/dev/null 2>&1 || true
mkdir -p "$TMP/pgb"
PG_US="" PG_TPS=""
if run_timed $((SECS + 60)) "${PGB[@]}" -T "$SECS" -l --log-prefix="$TMP/pgb/log" >"$TMP/pgbench.out" 2>&1; then
	read -r PG_US PG_P10 PG_P90 PG_N <<<"$("$PY" "$HELPER" median "$TMP/pgb/log")" || fail "pgbench: no figures"
	PG_TPS=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$TMP/pgbench.out" | head -n 1)
	grep -q "number of failed transactions: [1-9]" "$TMP/pgbench.out" && fail "pgbench: failed transactions"
else
	cat "$TMP/pgbench.out" >&2
	fail "pgbench failed"
fi

# ===== 3. replay, end to end ================================================================
REPLAY_ALL="" REPLAY_FIRST_MS="" REPLAY_FIRST_CPU="" REPLAY_MS="" REPLAY_CPU=""
YEAR_VALID=$(kv "$BR_OUT" year_valid) YEAR_FLIPS=$(kv "$BR_OUT" year_flips)
for ((round = 1; round <= ROUNDS; round++)); do
	"${PSQL[@]}" -c CHECKPOINT >/dev/null
	lav_log "3/3 POST /api/liquidity/v1/replay, 8760 grid points, round $round/$ROUNDS ($DURABILITY)"
	PGP=$(pg_pids)
	# shellcheck disable=SC2086
	L0=$(cpu_secs "$LAVD_PID") P0=$(cpu_secs $PGP)
	if ! r=$(run_timed 300 "$PY" "$HELPER" replay "$LAVD_URL" "$SINCE" "$UNTIL"); then
		fail "replay round $round failed"
		check_lavd "replay"
		continue
	fi
	# shellcheck disable=SC2086
	cpu="lavd $(sub "$L0" "$(cpu_secs "$LAVD_PID")") s, PostgreSQL $(sub "$P0" "$(cpu_secs $PGP)") s"
	check_lavd "replay"
	read -r secs evaluated rstored flips deleted <<<"$r"
	ms=$(awk -v s="$secs" 'BEGIN { printf "%.1f", s * 1000 }')
	REPLAY_ALL+="${REPLAY_ALL:+ }$ms"
	if ((round == 1)); then
		REPLAY_FIRST_MS=$ms REPLAY_FIRST_CPU=$cpu
	elif [[ -z "$REPLAY_MS" ]] || awk -v a="$ms" -v b="$REPLAY_MS" 'BEGIN { exit !(a < b) }'; then
		REPLAY_MS=$ms REPLAY_CPU=$cpu
	fi
	if ((evaluated != 8760 || rstored != YEAR_VALID || flips != YEAR_FLIPS)); then
		fail "replay round $round: evaluated $evaluated, stored $rstored, flips $flips; in process: 8760, $YEAR_VALID, $YEAR_FLIPS"
	fi
	REPLAY_RES="evaluated $evaluated, stored $rstored, flips $flips, deleted $deleted"
done

# ===== 3. reference: \copy of the rows the replay stored =========================================
TS_SINCE="to_timestamp($SINCE)" TS_UNTIL="to_timestamp($UNTIL)"
FV_COLS="feature_id, entity, ts, available_at, value, confidence"
"${PSQL[@]}" -c "\\copy (SELECT * FROM regime_history WHERE ts >= $TS_SINCE AND ts < $TS_UNTIL ORDER BY ts) TO '$TMP/rh.tsv'"
"${PSQL[@]}" -c "\\copy (SELECT $FV_COLS FROM features_values WHERE entity = '' AND feature_id LIKE 'liquidity/%' AND ts >= $TS_SINCE AND ts < $TS_UNTIL ORDER BY feature_id, ts, available_at) TO '$TMP/fv.tsv'"
RH_ROWS=$(wc -l <"$TMP/rh.tsv") FV_ROWS=$(wc -l <"$TMP/fv.tsv")
((RH_ROWS == YEAR_VALID)) || fail "regime_history holds $RH_ROWS rows of the year, expected $YEAR_VALID"
"${PSQL[@]}" -c "CREATE TABLE bench_rh (LIKE regime_history INCLUDING ALL)" \
	-c "CREATE TABLE bench_fv (LIKE features_values INCLUDING ALL)" >/dev/null
COPY_ALL="" COPY_MS=""
for ((round = 1; round <= ROUNDS; round++)); do
	"${PSQL[@]}" -c "TRUNCATE bench_rh, bench_fv" -c CHECKPOINT >/dev/null
	lav_log "3/3 reference: psql \\copy of $RH_ROWS + $FV_ROWS rows, round $round/$ROUNDS"
	t0=$(date +%s%N)
	if ! run_timed 120 "${PSQL[@]}" -1 -c "\\copy bench_rh FROM '$TMP/rh.tsv'" \
		-c "\\copy bench_fv ($FV_COLS) FROM '$TMP/fv.tsv'" >"$TMP/copy.out" 2>&1; then
		cat "$TMP/copy.out" >&2
		fail "COPY round $round failed"
		continue
	fi
	ms=$(ms_of $(($(date +%s%N) - t0)))
	COPY_ALL+="${COPY_ALL:+ }$ms"
done
COPY_MS=$(min_of <<<"$COPY_ALL")
check_lavd "after COPY"

# ===== table ===============================================================================
row "one grid evaluation, 9 feeds, 180d window: µs (median)" \
	"$GRID_US (lav_regime_eval, in process)" \
	"${PG_US:-n/a} (PostgreSQL: the 9 window statistics, one query)" \
	"$(ratio "$GRID_US" "${PG_US:-0}")"
row "a year of hourly grid points (8760) evaluated in order: ms" \
	"$YEAR_MS (in process)" "" ""
row "replay of that year, POST /api/liquidity/v1/replay, range not stored yet: ms" \
	"${REPLAY_FIRST_MS:-n/a} (end to end, durable)" \
	"${COPY_MS:-n/a} (psql \\copy of its $((RH_ROWS + FV_ROWS)) output rows)" \
	"$(ratio "${REPLAY_FIRST_MS:-0}" "${COPY_MS:-0}")"
if ((ROUNDS > 1)); then
	row "the same replay again (identical rows replaced): ms, best of rounds 2-$ROUNDS" \
		"${REPLAY_MS:-n/a} (end to end, durable)" \
		"${COPY_MS:-n/a} (the same \\copy)" \
		"$(ratio "${REPLAY_MS:-0}" "${COPY_MS:-0}")"
fi

busy_note="quiet"
awk -v l="${LOAD_BEFORE%% *}" 'BEGIN { exit !(l > 0.5) }' && busy_note="busy: other work on the machine may skew the figures"
echo
echo "lav semáforo benchmarks, $(date -u +%FT%TZ), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))"
echo "load average before the run: $LOAD_BEFORE ($busy_note)"
echo "data: $(kv "$BR_OUT" feeds) feeds, $NROWS rows ($(kv "$BR_OUT" revisions) of them revisions) over $(kv "$BR_OUT" data_days) days;"
sed -n 's|^feed\.\([^=]*\)=\([^,]*\),\([0-9]*\) points,\([0-9]*\) revisions|        \1: \2, \3 rows, \4 revisions|p' "$BR_OUT"
echo "      the same rows in lav's arrays and, through POST publish ($PUB_REQS requests, ${PUB_SECS} s), in PostgreSQL"
echo "parameters: defaults (window $(kv "$BR_OUT" window_days)d, min_obs $(kv "$BR_OUT" min_obs), trend lookback $(kv "$BR_OUT" trend_lookback_days)d, grid 1h); nothing pinned"
echo "1. grid point $(kv "$BR_OUT" grid_point): lav_regime_eval, release build, median of $(kv "$BR_OUT" grid_eval_reps) runs"
echo "           (p10 $(kv "$BR_OUT" grid_eval_p10_us) µs, p90 $(kv "$BR_OUT" grid_eval_p90_us) µs); it computes more than the reference (x, z, components, rules, EMA)"
echo "   PostgreSQL ${PG_VERSION%% *}: one SELECT ... DISTINCT ON (feature_id, ts) ... ORDER BY available_at DESC, then count/avg/stddev_samp"
echo "           GROUP BY feature_id over ~180 daily partitions; pgbench -M prepared -c 1, ${SECS}s: ${PG_N:-0} queries,"
echo "           ${PG_TPS:-?} q/s, median ${PG_US:-?} µs (p10 ${PG_P10:-?}, p90 ${PG_P90:-?}), client round trip included"
echo "           its statistics against lav's (n, mean, sample σ per feed): ${STATCHECK:-not compared}"
echo "2. $(kv "$BR_OUT" year_since) to $(kv "$BR_OUT" year_until): ms per round: $(kv "$BR_OUT" year_rounds_ms | tr ',' ' ');"
echo "           $YEAR_VALID points valid, $YEAR_FLIPS flips"
echo "3. replay: $DURABILITY; reply after COMMIT; ms per round: ${REPLAY_ALL:-none}"
echo "           (round 1 writes new rows, later rounds replace them); ${REPLAY_RES:-no result}"
echo "           CPU: round 1 ${REPLAY_FIRST_CPU:-?}; best later round ${REPLAY_CPU:-?}"
echo "   COPY: one psql, one transaction, into empty bench_rh (LIKE regime_history) and bench_fv"
echo "           (LIKE features_values: unpartitioned), $RH_ROWS + $FV_ROWS rows; ms per round: ${COPY_ALL:-none}"
echo
"$PY" "$HELPER" table "$RESULTS"
((${#FAILED[@]} == 0)) || exit 1
exit 0
