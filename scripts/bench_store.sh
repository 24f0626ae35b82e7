#!/usr/bin/env bash
# Store benchmarks (DESIGN.md section 11): each lavd figure beside a reference measured in
# the same run on this machine, then a table. It prints figures and asserts nothing: the
# exit status is non-zero only when something failed to run (a tool, a server, a crash).
#
#   1. GET /api/features/v1/latest (hot, from memory), wrk 64 keep-alive connections,
#      2 threads: requests/s and p99, against nginx (1 worker, access_log off, `return 200`
#      of the very same body) and PostgreSQL answering the same latest-row query (pgbench,
#      prepared, 64 clients, 2 threads).
#   2. POST /api/features/v1/publish, durable (fsync on; the reply comes after COMMIT):
#      points/s of N keep-alive clients posting batches of new points, against psql
#      \copy of the same number of rows into the same table.
#   3. POST /api/features/v1/query, one day of 1-minute points of one series: JSON rows
#      against MessagePack columnar, requests/s of each (wrk + scripts/bench/post.lua).
#
# Throw-away PostgreSQL, Redis, nginx and lavd (a release build in build-release/), all on
# 127.0.0.1, torn down on exit. On a machine with 2+ CPUs the HTTP comparisons pin the
# server (lavd, nginx, the PostgreSQL backends of pgbench) to CPU 0 and the load generator
# to CPU 1; the publish/COPY comparison runs unpinned (lavd, PostgreSQL and the client
# share both CPUs).
#
#   BENCH_SECS (10)          duration of each measured wrk / pgbench run
#   BENCH_WARMUP_SECS (2)    warm-up run before each of them
#   BENCH_ROUNDS (2)         rounds of the HTTP / pgbench runs, alternating lavd and its
#                            reference; each side reports its best round
#   BENCH_CONNS (64)         wrk connections / pgbench clients
#   BENCH_PUB_CLIENTS (8)    concurrent publish clients
#   BENCH_PUB_BATCH (1000)   points per publish request
#   BENCH_PUB_POINTS (512000) points published in all (and rows copied)
#   LAV_SKIP_DEPS=1          do not check/install Debian packages
#   LAV_KEEP_TMP=1           keep the temp dir (logs, wrk outputs) after the run
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$REPO"
# shellcheck source=scripts/lib/common.sh
source "$REPO/scripts/lib/common.sh"

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
SECS=${BENCH_SECS:-10}
WARM=${BENCH_WARMUP_SECS:-2}
ROUNDS=${BENCH_ROUNDS:-2}
CONNS=${BENCH_CONNS:-64}
PUB_CLIENTS=${BENCH_PUB_CLIENTS:-8}
PUB_BATCH=${BENCH_PUB_BATCH:-1000}
PUB_POINTS=${BENCH_PUB_POINTS:-512000}
PY=$(lav_python)
BENCH="$REPO/scripts/bench"
FEATURE=crypto/btc/price_usd

# shellcheck source=scripts/lib/bench.sh
source "$REPO/scripts/lib/bench.sh"

# --- dependencies and build -------------------------------------------------------------
LAV_DEBIAN_PACKAGES+=(wrk nginx)
lav_install_deps || lav_die "installing Debian packages failed"
for tool in wrk nginx taskset curl; do
	command -v "$tool" >/dev/null 2>&1 || [[ -x /usr/sbin/$tool ]] || lav_die "$tool not found"
done
NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
PG_BIN=$(lav_pg_bin) || lav_die "no PostgreSQL server"

lav_build build-release -Dbuildtype=release || lav_die "release build failed"
LAVD="$REPO/build-release/lavd"

NCPU=$(nproc)
if ((NCPU >= 2)); then
	PIN_SRV=(taskset -c 0) PIN_CLI=(taskset -c 1)
	PIN_NOTE="server (lavd / nginx / PostgreSQL backends) pinned to CPU 0, load generator to CPU 1"
else
	PIN_SRV=() PIN_CLI=()
	PIN_NOTE="only $NCPU CPU: nothing pinned, server and load generator share it"
fi

# --- throw-away servers -----------------------------------------------------------------
TMP=$(mktemp -d /tmp/lav-bench.XXXXXX)
chmod 0755 "$TMP" # the PostgreSQL OS user (as root: 'lav') must traverse it
bench_servers 4 # durable on purpose
NGINX_PORT=${PORTS[3]}
DURABILITY=$("${PSQL[@]}" -tAc "SELECT 'fsync=' || current_setting('fsync') ||
	', synchronous_commit=' || current_setting('synchronous_commit') ||
	', full_page_writes=' || current_setting('full_page_writes')")
PG_VERSION=$("${PSQL[@]}" -tAc "SHOW server_version")

LAV_ENV=(
	LAV_LISTEN="127.0.0.1:$LAVD_PORT" LAV_PG_DSN="$PG_DSN" LAV_REDIS_URL="$REDIS_URL"
	LAV_CONFIG_DIR=config ORACLE_SOURCE_MODE=off LAV_LOG_LEVEL=warn
	FEATURE_API_RATE_LIMIT_RPM=100000000
)
env "${LAV_ENV[@]}" "$LAVD" migrate >"$TMP/migrate.log" 2>&1 ||
	{ cat "$TMP/migrate.log" >&2; lav_die "lavd migrate failed"; }
lav_log "starting lavd on 127.0.0.1:$LAVD_PORT (${PIN_SRV[*]:-unpinned})"
bench_start_lavd "${PIN_SRV[@]}"

# --- helpers --------------------------------------------------------------------------------
RESULTS="$TMP/results.tsv"
: >"$RESULTS"
row() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
# numeric comparisons; false when a figure is missing ("", "n/a", "nan")
# shellcheck disable=SC2317  # these three are called through yes_no
isnum() { [[ "$1" =~ ^[0-9]+([.][0-9]+)?$ ]]; }
# shellcheck disable=SC2317
ge() { isnum "$1" && isnum "$2" && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
# shellcheck disable=SC2317
lt() { isnum "$1" && isnum "$2" && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
fmt_int() { awk -v a="$1" 'BEGIN { printf "%.0f", a }'; }
yes_no() { if "$@"; then echo met; else echo MISSED; fi; }

# Busy and total jiffies of CPU 0 and CPU 1 ("b0 t0 b1 t1"), from /proc/stat.
cpu_snap() {
	awk '$1 == "cpu0" || $1 == "cpu1" { b = $2 + $3 + $4 + $7 + $8 + $9; t = b + $5 + $6; printf "%d %d ", b, t }' /proc/stat
}
# cpu_pct "SNAP_BEFORE" "SNAP_AFTER": "CPU0 x%, CPU1 y%"
cpu_pct() {
	awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ");
		d0 = y[2] - x[2]; d1 = y[4] - x[4]; if (d0 <= 0) d0 = 1; if (d1 <= 0) d1 = 1;
		printf "CPU0 %.0f%%, CPU1 %.0f%%", 100 * (y[1] - x[1]) / d0, 100 * (y[3] - x[3]) / d1 }'
}
# CPU seconds (user + system) used so far by processes PID... (those that still exist).
cpu_secs() {
	local hz pid
	hz=$(getconf CLK_TCK)
	for pid in "$@"; do cat "/proc/$pid/stat" 2>/dev/null; done | sed 's/^.*) //' |
		awk -v hz="$hz" '{ s += $12 + $13 } END { printf "%.2f", s / hz }'
}

# run_wrk NAME URL [SCRIPT [SCRIPT ARGS...]]: warm-up, then the measured run; sets
# WRK_RPS, WRK_P99 (ms) and WRK_CPU (busy % of each CPU during the run). Non-2xx answers
# or socket errors make the figure invalid: they count as a failure.
run_wrk() {
	local name=$1 url=$2
	local out="$TMP/wrk-$name.txt" r n2 se c0 c1
	shift 2
	local -a cmd=(wrk -t2 -c"$CONNS" --timeout 5s)
	(($# > 0)) && cmd+=(-s "$1") && shift
	WRK_RPS="" WRK_P99="" WRK_CPU=""
	if ((WARM > 0)); then
		run_timed $((WARM + 30)) "${PIN_CLI[@]}" "${cmd[@]}" -d"${WARM}s" "$url" -- "$@" \
			>/dev/null 2>&1 || true
	fi
	c0=$(cpu_snap)
	if ! run_timed $((SECS + 30)) "${PIN_CLI[@]}" "${cmd[@]}" -d"${SECS}s" --latency "$url" -- "$@" \
		>"$out" 2>&1; then
		cat "$out" >&2
		fail "wrk $name failed"
		return 0
	fi
	c1=$(cpu_snap)
	WRK_CPU=$(cpu_pct "$c0" "$c1")
	r=$("$PY" "$BENCH/lavbench.py" wrk "$out") || { fail "wrk $name: no figures"; return 0; }
	read -r WRK_RPS WRK_P99 n2 se _ <<<"$r"
	if ((n2 > 0 || se > 0)); then
		fail "wrk $name: $n2 non-2xx responses, $se socket errors (figure invalid)"
		cat "$out" >&2
	fi
}

# keep PREFIX: after a round, remember its figures (PREFIX_ALL lists every round's
# requests/s) and keep WRK_* as PREFIX_RPS / _P99 / _CPU when it is the best round so far.
keep() {
	local p=$1 all="${1}_ALL" best="${1}_RPS"
	[[ -n "$WRK_RPS" ]] || return 0
	printf -v "$all" '%s%s' "${!all:+${!all} }" "$(fmt_int "$WRK_RPS")"
	if [[ -z "${!best:-}" ]] || ! ge "${!best}" "$WRK_RPS"; then
		printf -v "${p}_RPS" '%s' "$WRK_RPS"
		printf -v "${p}_P99" '%s' "$WRK_P99"
		printf -v "${p}_CPU" '%s' "$WRK_CPU"
	fi
}

# run_pgbench NAME: warm-up, then the measured pgbench run of latest.sql; sets WRK_RPS
# (transactions/s), WRK_P99 (ms, from the per-transaction log) and WRK_CPU like run_wrk.
run_pgbench() {
	local name=$1 out="$TMP/pgbench-$1.txt" c0 r failed
	WRK_RPS="" WRK_P99="" WRK_CPU=""
	rm -rf "$TMP/pgb"
	mkdir -p "$TMP/pgb"
	if ((WARM > 0)); then
		run_timed $((WARM + 30)) "${PIN_CLI[@]}" "${PGB[@]}" -T "$WARM" >/dev/null 2>&1 || true
	fi
	c0=$(cpu_snap)
	if ! run_timed $((SECS + 30)) "${PIN_CLI[@]}" "${PGB[@]}" -T "$SECS" -l \
		--log-prefix="$TMP/pgb/log" >"$out" 2>&1; then
		cat "$out" >&2
		fail "pgbench $name failed"
		return 0
	fi
	WRK_CPU=$(cpu_pct "$c0" "$(cpu_snap)")
	r=$("$PY" "$BENCH/lavbench.py" pgbench "$out" "$TMP/pgb/log") || { fail "pgbench $name: no figures"; return 0; }
	read -r WRK_RPS WRK_P99 failed <<<"$r"
	((failed == 0)) || fail "pgbench $name: $failed failed transactions"
	rm -rf "$TMP/pgb"
}

DAY=$(date -u -d 'yesterday' +%F)
NEXT_DAY=$(date -u -d "$DAY + 1 day" +%F)
lav_log "seeding 1440 one-minute points of $FEATURE / BTC for $DAY through the publish API"
"$PY" "$BENCH/lavbench.py" seed "$LAVD_URL" "$DAY" >/dev/null || lav_die "seeding failed"

# ===== 1. GET latest ========================================================================
LATEST_PATH="/api/features/v1/latest?featureId=$FEATURE&entity=BTC"
BODY_FILE="$TMP/latest.json"
code=$(curl -s -o "$BODY_FILE" -w '%{http_code}' "$LAVD_URL$LATEST_PATH")
[[ "$code" == 200 ]] || { cat "$BODY_FILE" >&2; lav_die "GET latest: HTTP $code"; }
BODY=$(cat "$BODY_FILE")
[[ "$BODY" != *'$'* ]] || lav_die "the latest body holds a '\$', which nginx would interpolate"
# nginx single-quoted string: escape backslashes and single quotes.
NGX_BODY=${BODY//\\/\\\\}
NGX_BODY=${NGX_BODY//\'/\\\'}
mkdir -p "$TMP/nginx"
NGINX_USER=""
lav_is_root && NGINX_USER="user nobody nogroup;"
cat >"$TMP/nginx/nginx.conf" <<EOF
$NGINX_USER
worker_processes 1;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000000;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
            default_type application/json;
            return 200 '$NGX_BODY';
        }
    }
}
EOF
"${PIN_SRV[@]}" "$NGINX_BIN" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log" \
	>"$TMP/nginx/stdout.log" 2>&1 &
NGINX_PID=$!
NGINX_URL="http://127.0.0.1:$NGINX_PORT"
for ((i = 0; i < 100; i++)); do
	curl -s -o "$TMP/nginx/check.json" "$NGINX_URL$LATEST_PATH" 2>/dev/null && break
	kill -0 "$NGINX_PID" 2>/dev/null || break
	sleep 0.1
done
cmp -s "$BODY_FILE" "$TMP/nginx/check.json" ||
	{ cat "$TMP/nginx/error.log" >&2 2>/dev/null; lav_die "nginx does not serve the same body as lavd"; }

LATEST_SQL="SELECT ts, available_at, value, confidence, meta, evidence FROM features_values WHERE feature_id = '$FEATURE' AND entity = 'BTC' ORDER BY ts DESC, available_at DESC LIMIT 1"
printf '%s;\n' "$LATEST_SQL" >"$TMP/latest.sql"
[[ -n "$("${PSQL[@]}" -tAc "$LATEST_SQL")" ]] || lav_die "the latest-row query returns nothing"
PGB=("$PG_BIN/pgbench" -n -M prepared -c "$CONNS" -j 2 -f "$TMP/latest.sql" -h 127.0.0.1 -p "$PG_PORT" -U lav lav)

# Rounds alternate lavd, nginx and PostgreSQL; each keeps its best round.
for ((round = 1; round <= ROUNDS; round++)); do
	lav_log "1/3 GET latest, round $round/$ROUNDS: lavd (${SECS}s, $CONNS connections)"
	run_wrk "latest-lavd-$round" "$LAVD_URL$LATEST_PATH"
	keep L
	check_lavd "GET latest"
	lav_log "1/3 GET latest, round $round/$ROUNDS: nginx"
	run_wrk "latest-nginx-$round" "$NGINX_URL$LATEST_PATH"
	keep N
	lav_log "1/3 latest row, round $round/$ROUNDS: PostgreSQL via pgbench (prepared)"
	# The backends fork from the postmaster and inherit its CPU affinity.
	((NCPU >= 2)) && taskset -p -c 0 "$(postmaster_pid)" >/dev/null
	run_pgbench "$round"
	keep P
	((NCPU >= 2)) && taskset -p -c "0-$((NCPU - 1))" "$(postmaster_pid)" >/dev/null
done
stop_pid "$NGINX_PID" TERM
NGINX_PID=""

# ===== 3. POST query (run before publish, on a quiet table) =================================
Q_ROWS="$TMP/query-rows.json" Q_COL="$TMP/query-columnar.json"
printf '{"featureIds":["%s"],"entity":"BTC","since":"%sT00:00:00Z","until":"%sT00:00:00Z"}' \
	"$FEATURE" "$DAY" "$NEXT_DAY" >"$Q_ROWS"
printf '{"featureIds":["%s"],"entity":"BTC","since":"%sT00:00:00Z","until":"%sT00:00:00Z","format":"columnar"}' \
	"$FEATURE" "$DAY" "$NEXT_DAY" >"$Q_COL"
QURL="$LAVD_URL/api/features/v1/query"
code=$(curl -s -o "$TMP/q-rows.out" -w '%{http_code}' -H 'Content-Type: application/json' \
	-H 'Accept: application/json' --data-binary "@$Q_ROWS" "$QURL")
[[ "$code" == 200 ]] || { head -c 600 "$TMP/q-rows.out" >&2; lav_die "query (JSON rows): HTTP $code"; }
code=$(curl -s -o "$TMP/q-col.out" -w '%{http_code}|%{content_type}' -H 'Content-Type: application/json' \
	-H 'Accept: application/msgpack' --data-binary "@$Q_COL" "$QURL")
[[ "$code" == "200|application/msgpack"* ]] ||
	{ head -c 600 "$TMP/q-col.out" >&2; lav_die "query (msgpack columnar): $code"; }
npts=$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["results"][0]["points"]))' "$TMP/q-rows.out")
[[ "$npts" == 1440 ]] || lav_die "query (JSON rows) returned $npts points, not 1440"
if "$PY" -c 'import msgpack' 2>/dev/null; then
	ncol=$("$PY" -c 'import msgpack,sys; r=msgpack.unpackb(open(sys.argv[1],"rb").read(),timestamp=3,strict_map_key=False); print(len(r["results"][0]["ts"]))' "$TMP/q-col.out")
	[[ "$ncol" == 1440 ]] || lav_die "query (msgpack columnar) returned $ncol points, not 1440"
fi
ROWS_BYTES=$(stat -c %s "$TMP/q-rows.out") COL_BYTES=$(stat -c %s "$TMP/q-col.out")
for ((round = 1; round <= ROUNDS; round++)); do
	lav_log "3/3 POST query, round $round/$ROUNDS: JSON rows"
	run_wrk "query-json-$round" "$QURL" "$BENCH/post.lua" "$Q_ROWS" application/json
	keep QJ
	check_lavd "POST query (JSON rows)"
	lav_log "3/3 POST query, round $round/$ROUNDS: msgpack columnar"
	run_wrk "query-msgpack-$round" "$QURL" "$BENCH/post.lua" "$Q_COL" application/msgpack
	keep QM
	check_lavd "POST query (msgpack columnar)"
done

# ===== 2. POST publish, durable =============================================================
# Unpinned: lavd, PostgreSQL and the client share every CPU.
((NCPU >= 2)) && taskset -a -p -c "0-$((NCPU - 1))" "$LAVD_PID" >/dev/null
NOW=$(date -u +%s)
PUB_START=$(((NOW - 3 * 86400) / 86400 * 86400))  # 3 days ago, 00:00 UTC: one-second steps
COPY_START=$(((NOW - 6 * 86400) / 86400 * 86400)) # 6 days ago: a disjoint range
# Partitions exist beforehand for both ranges, so neither side pays for DDL.
"${PSQL[@]}" -c "SELECT lav_ensure_partitions(((now() AT TIME ZONE 'UTC')::date - 7), 8)" >/dev/null
"${PSQL[@]}" -c CHECKPOINT >/dev/null
lav_log "2/3 POST publish: lavd, $PUB_POINTS points, $PUB_CLIENTS clients x batches of $PUB_BATCH ($DURABILITY)"
PGP=$(pg_pids)
# shellcheck disable=SC2086
L0=$(cpu_secs "$LAVD_PID") P0=$(cpu_secs $PGP) c0=$(cpu_snap)
if run_timed 240 "$PY" "$BENCH/lavbench.py" publish "$LAVD_URL" --clients "$PUB_CLIENTS" \
	--batch "$PUB_BATCH" --points "$PUB_POINTS" --start "$PUB_START" --prefix PUB >"$TMP/publish.json" 2>"$TMP/publish.err"; then
	:
else
	cat "$TMP/publish.json" "$TMP/publish.err" >&2
	fail "publish load failed"
fi
# shellcheck disable=SC2086
PUB_CPU="lavd $(awk -v a="$L0" -v b="$(cpu_secs "$LAVD_PID")" 'BEGIN { printf "%.1f", b - a }') s, PostgreSQL $(awk -v a="$P0" -v b="$(cpu_secs $PGP)" 'BEGIN { printf "%.1f", b - a }') s ($(cpu_pct "$c0" "$(cpu_snap)") busy)"
check_lavd "POST publish"
stored=$("${PSQL[@]}" -tAc "SELECT count(*) FROM features_values WHERE feature_id = '$FEATURE' AND entity LIKE 'PUB%'")
PUB_WANT=$((PUB_POINTS / PUB_CLIENTS * PUB_CLIENTS))
((stored == PUB_WANT)) || fail "publish: $stored rows stored, expected $PUB_WANT"
read -r PUB_PPS PUB_B99 PUB_CLI_CPU PUB_SECS <<<"$("$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["pps"], r["batch_p99_ms"], "%.1f" % r["client_cpu_seconds"], "%.2f" % r["seconds"])' "$TMP/publish.json" 2>/dev/null || echo "0 0 ? ?")"

lav_log "2/3 COPY reference: psql \\copy of $PUB_WANT rows"
"$PY" "$BENCH/lavbench.py" copyfile "$TMP/copy.tsv" --clients "$PUB_CLIENTS" --points "$PUB_POINTS" \
	--start "$COPY_START" --prefix CPY >/dev/null
"${PSQL[@]}" -c CHECKPOINT >/dev/null
t0=$(date +%s%N) c0=$(cpu_snap)
if run_timed 240 "${PSQL[@]}" -c "\\copy features_values (feature_id, entity, ts, available_at, value, confidence) FROM '$TMP/copy.tsv'" >"$TMP/copy.out" 2>&1; then
	t1=$(date +%s%N)
	COPY_CPU="$(cpu_pct "$c0" "$(cpu_snap)") busy"
	COPY_SECS=$(awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.2f", ns / 1e9 }')
	COPY_RPS=$(awk -v n="$PUB_WANT" -v ns=$((t1 - t0)) 'BEGIN { printf "%.0f", n / (ns / 1e9) }')
else
	cat "$TMP/copy.out" >&2
	fail "COPY failed"
	COPY_RPS=0
fi
check_lavd "after COPY"

# ===== table ===============================================================================
num() { [[ -n "$1" ]] && echo "$1" || echo 0; }
L_RPS=$(num "${L_RPS:-}") N_RPS=$(num "${N_RPS:-}") P_RPS=$(num "${P_RPS:-}")
QJ_RPS=$(num "${QJ_RPS:-}") QM_RPS=$(num "${QM_RPS:-}") PUB_PPS=$(num "${PUB_PPS:-}")
L_P99=${L_P99:-nan} N_P99=${N_P99:-nan} P_P99=${P_P99:-nan}
L_CPU=${L_CPU:-?} N_CPU=${N_CPU:-?} P_CPU=${P_CPU:-?} QJ_CPU=${QJ_CPU:-?} QM_CPU=${QM_CPU:-?}
COPY_CPU=${COPY_CPU:-?} PUB_CPU=${PUB_CPU:-?} QJ_P99=${QJ_P99:-nan} QM_P99=${QM_P99:-nan}

r_ngx=$(ratio "$L_RPS" "$N_RPS")
r_pg=$(ratio "$L_RPS" "$P_RPS")
r_pub=$(ratio "$PUB_PPS" "$COPY_RPS")
r_q=$(ratio "$QM_RPS" "$QJ_RPS")
row "GET latest req/s vs nginx" "$(fmt_int "$L_RPS")" "$(fmt_int "$N_RPS") (nginx)" "$r_ngx" \
	">= 0.60 and >= 70k/s: $(yes_no ge "$r_ngx" 0.60)/$(yes_no ge "$L_RPS" 70000)"
row "GET latest req/s vs PostgreSQL" "$(fmt_int "$L_RPS")" "$(fmt_int "$P_RPS") (pgbench)" "$r_pg" \
	"> 1.00: $(yes_no lt 1 "$r_pg")"
row "GET latest p99 ms" "$L_P99" "$N_P99 nginx, $P_P99 pgbench" "" "< 2 ms: $(yes_no lt "$L_P99" 2)"
row "POST publish points/s, durable" "$(fmt_int "$PUB_PPS")" "$COPY_RPS (COPY rows/s)" "$r_pub" \
	">= 0.40 and >= 100k/s: $(yes_no ge "$r_pub" 0.40)/$(yes_no ge "$PUB_PPS" 100000)"
row "POST query 1 day req/s" "$(fmt_int "$QM_RPS") (msgpack col.)" "$(fmt_int "$QJ_RPS") (JSON rows)" "$r_q" \
	">= 2.00: $(yes_no ge "$r_q" 2)"

# "; ..." when CPU 1 (the load generator's) was saturated in that run.
sat_note() {
	local c1=${1##*CPU1 }
	c1=${c1%%%*}
	if isnum "$c1" && ((c1 >= 95)) && ((NCPU >= 2)); then
		echo "; wrk's CPU was saturated: the server may be faster than this"
	fi
}
busy_note="quiet"
awk -v l="${LOAD_BEFORE%% *}" 'BEGIN { exit !(l > 0.5) }' && busy_note="busy: other work on the machine may skew the figures"
echo
echo "lav store benchmarks, $(date -u +%FT%TZ), $NCPU CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))"
echo "load average before the run: $LOAD_BEFORE ($busy_note)"
echo "lavd: build-release (meson buildtype=release), ORACLE_SOURCE_MODE=off, Redis attached, no auth"
echo "HTTP and pgbench runs: ${SECS}s each after a ${WARM}s warm-up, best of $ROUNDS alternating rounds;"
echo "  $PIN_NOTE"
echo "1. latest  wrk -t2 -c$CONNS --latency, GET $LATEST_PATH"
echo "           lavd   req/s per round: ${L_ALL:-none}; best round: $L_CPU busy$(sat_note "$L_CPU")"
echo "           nginx $("$NGINX_BIN" -v 2>&1 | sed 's/.*nginx\///'), 1 worker, access_log off, keepalive_requests unlimited,"
echo "                  return 200 of the same $(stat -c %s "$BODY_FILE")-byte body"
echo "                  req/s per round: ${N_ALL:-none}; best round: $N_CPU busy$(sat_note "$N_CPU")"
echo "           pgbench -M prepared -c $CONNS -j 2, PostgreSQL ${PG_VERSION%% *}, the latest-row query"
echo "                  tps per round: ${P_ALL:-none}; best round: $P_CPU busy"
echo "2. publish durable: $DURABILITY; reply after COMMIT; nothing pinned"
echo "           lavd: $PUB_CLIENTS keep-alive clients x batches of $PUB_BATCH new points, $PUB_WANT points in ${PUB_SECS:-?} s,"
echo "                 batch p99 $(printf '%.0f' "${PUB_B99:-0}") ms; CPU: $PUB_CPU, client ${PUB_CLI_CPU:-?} s"
echo "           COPY: psql \\copy of the same number of rows (feature_id, entity, ts, available_at, value,"
echo "                 confidence), one transaction, in ${COPY_SECS:-?} s; CPU: $COPY_CPU"
echo "3. query   wrk -t2 -c$CONNS --latency, POST one day (1440 one-minute points) of one series;"
echo "           lavd on CPU 0, wrk on CPU 1, PostgreSQL (which answers every query) unpinned"
echo "           JSON rows:        $ROWS_BYTES B/reply; req/s per round: ${QJ_ALL:-none}; best: p99 $QJ_P99 ms, $QJ_CPU busy"
echo "           msgpack columnar: $COL_BYTES B/reply; req/s per round: ${QM_ALL:-none}; best: p99 $QM_P99 ms, $QM_CPU busy"
echo
"$PY" "$BENCH/lavbench.py" table "$RESULTS"
((${#FAILED[@]} == 0)) || exit 1
exit 0
