#!/usr/bin/env bash
# WebSocket fan-out benchmark (DESIGN.md section 11: "10k subscribers, a flip reaches all of
# them with p99 < 100 ms"; proto/websocket.md): lavd's figures beside Redis pub/sub measured
# in the same run on this machine with the same client, then a table. The exit status is
# non-zero when something failed to run (a tool, a server, a crash) or when a subscriber
# missed a flip or lost its connection: a fan-out that drops deliveries has no latency.
#
#   lav    one lavd on a 1 s grid with flip confirmation 0 (LIQ_SCORE_GRID_STEP=1s,
#          LIQ_REGIME_FLIP_CONFIRMATION_HOURS=0) and thresholds the score never reaches
#          (LIQ_SCORE_THRESHOLDS=-10,-20), so that the state follows the rules of step 5
#          alone: with RRP and TGA above their value of a week ago (seeded history) it is
#          verde while the BTC ETF net flow is positive (and stables_yoy > 0) and rojo while
#          it is negative. N WebSocket subscribers of "regime" (lav.json.v1); then K flips,
#          each forced by publishing one flow of the other sign through
#          POST /api/features/v1/publish and waited for until every subscriber has it.
#          Latency of a delivery = its receive time - the event's updated_at.
#   Redis  the same client layout: N connections SUBSCRIBEd to one channel of the harness's
#          throw-away redis-server (lavd stopped by then), K PUBLISHes of a message of a
#          regime.flip's size carrying time.time() taken just before it is sent (with the
#          regime.update lavd sends after a flip, in the same write). Latency = receive
#          time - that time.
#
# The client (scripts/bench/ws.py) is raw sockets on asyncio in BENCH_WS_WORKERS processes.
# A receive time is the kernel's arrival time of the data (SO_TIMESTAMPNS; on loopback, when
# the server's write entered the stack), so the figures do not include the Python client's
# own backlog; what the client read (time.time() when it got to the socket) is listed too.
# Both are on the machine's clock (CLOCK_REALTIME), like updated_at (the time lavd evaluated
# the grid point, in µs; the event goes out once the grid point is stored, so lav's figures
# include that write). RSS is VmRSS of lavd / redis-server before connecting, with everyone
# subscribed and after the flips.
#
# Throw-away PostgreSQL (fsync on), Redis and lavd (a release build in build-release/), all on
# 127.0.0.1, torn down on exit. Nothing is pinned: lavd, PostgreSQL, Redis and the client
# share every CPU. About a minute.
#
#   BENCH_WS_SUBSCRIBERS (10000)  subscribers (lavd) and SUBSCRIBE connections (Redis)
#   BENCH_WS_WORKERS (4)          client processes
#   BENCH_WS_FLIPS (5)            flips forced (lavd) and messages published (Redis)
#   LAV_SKIP_DEPS=1               do not check/install Debian packages
#   LAV_KEEP_TMP=1                keep the temp dir (logs, outputs) after the run
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$REPO"
# shellcheck source=scripts/lib/common.sh
source "$REPO/scripts/lib/common.sh"

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
SUBS=${BENCH_WS_SUBSCRIBERS:-10000}
WORKERS=${BENCH_WS_WORKERS:-4}
FLIPS=${BENCH_WS_FLIPS:-5}
PY=$(lav_python)
HELPER="$REPO/scripts/bench/ws.py"

# shellcheck source=scripts/lib/bench.sh
source "$REPO/scripts/lib/bench.sh"

[[ "$SUBS" =~ ^[1-9][0-9]*$ && "$WORKERS" =~ ^[1-9][0-9]*$ && "$FLIPS" =~ ^[1-9][0-9]*$ ]] ||
	lav_die "BENCH_WS_SUBSCRIBERS, BENCH_WS_WORKERS and BENCH_WS_FLIPS must be positive integers"

# --- dependencies and build -------------------------------------------------------------
lav_install_deps || lav_die "installing Debian packages failed"
for tool in curl redis-cli; do
	command -v "$tool" >/dev/null 2>&1 || lav_die "$tool not found"
done

PG_BIN=$(lav_pg_bin) || lav_die "no PostgreSQL server"

lav_build build-release -Dbuildtype=release || lav_die "release build failed"
LAVD="$REPO/build-release/lavd"

# --- file descriptors -------------------------------------------------------------------
# lavd and redis-server each hold every subscriber (lavd raises its own soft limit to fit
# LAV_MAX_CONNECTIONS, Redis to maxclients + 32), a client process its share: all inherit
# our limits, so the hard limit must fit SUBS plus some slack, and the soft limit is raised.
MAX_CONNS=$((SUBS + 1024 > 16384 ? SUBS + 1024 : 16384))
NEED_FDS=$((MAX_CONNS + 256))
hard=$(ulimit -Hn)
if [[ "$hard" != unlimited ]] && ((hard < NEED_FDS)); then
	ulimit -Hn "$NEED_FDS" 2>/dev/null ||
		lav_die "the hard limit of open files is $hard; $SUBS subscribers need $NEED_FDS (raise it as root: ulimit -Hn $NEED_FDS)"
	hard=$NEED_FDS
fi
ulimit -n "$hard"

TMP=$(mktemp -d /tmp/lav-bench-ws.XXXXXX)
chmod 0755 "$TMP" # the PostgreSQL OS user (as root: 'lav') must traverse it

# --- helpers ----------------------------------------------------------------------------
RESULTS="$TMP/results.tsv"
: >"$RESULTS"
row() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"; }
# arithmetic on figures that may be missing ("", "nan"): n/a then
isnum() { [[ "$1" =~ ^[0-9]+([.][0-9]+)?$ ]]; }
ratio() {
	if ! isnum "$1" || ! isnum "$2"; then echo n/a; return; fi
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'
}
mib() { if isnum "$1"; then awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; else echo n/a; fi; }
# KiB per subscriber between two RSS figures (KiB)
per_sub() {
	if ! isnum "$1" || ! isnum "$2"; then echo n/a; return; fi
	awk -v a="$1" -v b="$2" -v n="$SUBS" 'BEGIN { printf "%.1f", (b - a) / n }'
}
below() { if isnum "$1" && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; then echo met; else echo MISSED; fi; }
# the value of KEY in a file of key=value lines
kv() { sed -n "s|^$2=||p" "$1" | head -n 1; }
# CPU seconds (user + system) used so far by processes PID... (those that still exist).
cpu_secs() {
	local hz pid
	hz=$(getconf CLK_TCK)
	for pid in "$@"; do cat "/proc/$pid/stat" 2>/dev/null; done | sed 's/^.*) //' |
		awk -v hz="$hz" '{ s += $12 + $13 } END { printf "%.2f", s / hz }'
}
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
FLEET=(--subscribers "$SUBS" --workers "$WORKERS" --flips "$FLIPS")

# --- throw-away servers -----------------------------------------------------------------
bench_servers 3 # durable on purpose
REDIS_PID=$(cat "$REDIS_DIR/redis.pid")

LAV_ENV=(
	LAV_LISTEN="127.0.0.1:$LAVD_PORT" LAV_PG_DSN="$PG_DSN" LAV_REDIS_URL="$REDIS_URL"
	LAV_CONFIG_DIR=config ORACLE_SOURCE_MODE=off LAV_LOG_LEVEL=warn
	FEATURE_API_RATE_LIMIT_RPM=100000000 FEATURE_STORE_RETENTION_DAYS=400 LAV_MAX_CONNECTIONS="$MAX_CONNS"
	LIQ_SCORE_GRID_STEP=1s LIQ_REGIME_FLIP_CONFIRMATION_HOURS=0 "LIQ_SCORE_THRESHOLDS=-10,-20"
)
env "${LAV_ENV[@]}" "$LAVD" migrate >"$TMP/migrate.log" 2>&1 ||
	{ cat "$TMP/migrate.log" >&2; lav_die "lavd migrate failed"; }
lav_log "starting lavd on 127.0.0.1:$LAVD_PORT"
bench_start_lavd # unpinned

code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -H 'Upgrade: websocket' \
	-H 'Connection: Upgrade' -H 'Sec-WebSocket-Version: 13' \
	-H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' "$LAVD_URL/ws" || true)
[[ "$code" == 101 ]] || lav_die "lavd does not upgrade GET /ws (HTTP $code)"

lav_log "seeding the feeds (RRP and TGA rising over a week, stables_yoy > 0, BTC ETF flow < 0)"
STATE0=$(run_timed 60 "$PY" "$HELPER" seed "$LAVD_URL") || lav_die "seeding failed"
check_lavd "seeding"

# ===== lav ===================================================================================
lav_log "lav: $SUBS WebSocket subscribers of \"regime\" ($WORKERS client processes), then $FLIPS flips (state now $STATE0)"
L0=$(cpu_secs "$LAVD_PID")
LAV_OUT="$TMP/lav.out"
run_timed 600 "$PY" "$HELPER" lav "$LAVD_URL" --pid "$LAVD_PID" "${FLEET[@]}" >"$LAV_OUT" 2>"$TMP/lav.err" ||
	{ cat "$LAV_OUT" "$TMP/lav.err" >&2; fail "the lav subscribers did not run to the end"; }
LAV_CPU=$(sub "$L0" "$(cpu_secs "$LAVD_PID")")
check_lavd "the WebSocket fan-out"
while IFS= read -r p; do fail "lav: $p"; done < <(sed -n 's/^problem=//p' "$LAV_OUT")
LAV_LOG_LINES=$(grep -c . "$TMP/lavd.log" || true)
stop_pid "$LAVD_PID" TERM
LAVD_PID=""

# ===== reference: Redis pub/sub =================================================================
lav_log "Redis: $SUBS SUBSCRIBE connections ($WORKERS client processes), then $FLIPS PUBLISHes"
redis-cli -h 127.0.0.1 -p "$REDIS_PORT" config set maxclients $((SUBS + 64)) >/dev/null ||
	lav_die "Redis refused maxclients $((SUBS + 64))"
REDIS_VERSION=$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" info server | sed -n 's/^redis_version:\([^\r]*\).*/\1/p')
R0=$(cpu_secs "$REDIS_PID")
REDIS_OUT="$TMP/redis.out"
run_timed 600 "$PY" "$HELPER" redis 127.0.0.1 "$REDIS_PORT" --pid "$REDIS_PID" "${FLEET[@]}" \
	>"$REDIS_OUT" 2>"$TMP/redis.err" ||
	{ cat "$REDIS_OUT" "$TMP/redis.err" >&2; fail "the Redis subscribers did not run to the end"; }
REDIS_CPU=$(sub "$R0" "$(cpu_secs "$REDIS_PID")")
while IFS= read -r p; do fail "Redis reference: $p"; done < <(sed -n 's/^problem=//p' "$REDIS_OUT")

# ===== table ===============================================================================
L=$LAV_OUT R=$REDIS_OUT
fig() { # fig FIGURE KEY [TARGET]: lav's and Redis's KEY, and their ratio
	local a b
	a=$(kv "$L" "$2") b=$(kv "$R" "$2")
	row "$1" "${a:-n/a}" "${b:-n/a} (Redis)" "$(ratio "${a:-}" "${b:-}")" "${3:-}"
}
fig "a flip to one subscriber, p50: ms" p50_ms
fig "a flip to one subscriber, p99: ms" p99_ms "< 100 ms: $(below "$(kv "$L" p99_ms)" 100)"
fig "a flip to one subscriber, max: ms" max_ms
fig "a flip to its first subscriber, median of the flips: ms" first_median_ms
fig "a flip to its last subscriber, median of the flips: ms" last_median_ms
fig "a flip to its last subscriber, worst flip: ms" last_max_ms
fig "a flip to one subscriber as the Python client read it, p99: ms" app_p99_ms
every_l=$(kv "$L" every) every_r=$(kv "$R" every)
row "subscribers that got every one of the $FLIPS flips" "${every_l:-0}/$SUBS" "${every_r:-0}/$SUBS (Redis)" "" \
	"all: $([[ "${every_l:-0}" == "$SUBS" && "$(kv "$L" flips)" == "$FLIPS" ]] && echo met || echo MISSED)"
for k in before connected after; do
	a=$(kv "$L" "rss_${k}_kib") b=$(kv "$R" "rss_${k}_kib")
	case $k in
	before) label="before connecting" ;;
	connected) label="with $SUBS subscribers" ;;
	after) label="after the flips" ;;
	esac
	row "RSS $label: MiB" "$(mib "$a")" "$(mib "$b") (redis-server)" "$(ratio "$a" "$b")" ""
done
a=$(per_sub "$(kv "$L" rss_before_kib)" "$(kv "$L" rss_connected_kib)")
b=$(per_sub "$(kv "$R" rss_before_kib)" "$(kv "$R" rss_connected_kib)")
row "RSS per subscriber: KiB" "$a" "$b (redis-server)" "$(ratio "$a" "$b")" ""
fig "connect and subscribe $SUBS ($WORKERS processes in parallel): s" connect_s

busy_note="quiet"
awk -v l="${LOAD_BEFORE%% *}" 'BEGIN { exit !(l > 0.5) }' && busy_note="busy: other work on the machine may skew the figures"
echo
echo "lav WebSocket fan-out benchmark, $(date -u +%FT%TZ), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))"
echo "load average before the run: $LOAD_BEFORE ($busy_note)"
echo "lavd: build-release, 1 s grid, flip confirmation 0, thresholds -10/-20 (state by the rules: BTC ETF"
echo "      flow > 0 verde, < 0 rojo), LAV_MAX_CONNECTIONS=$MAX_CONNS, LAV_WS_MAX_QUEUED_BYTES=${LAV_WS_MAX_QUEUED_BYTES:-default},"
echo "      LAV_WS_PING_INTERVAL=${LAV_WS_PING_INTERVAL:-default}, Redis attached"
echo "client: $WORKERS processes, asyncio over raw sockets, lav.json.v1; receive time = the kernel's arrival"
echo "        time (SO_TIMESTAMPNS), $(kv "$L" kernel_stamped)/$(kv "$L" deliveries) lav and $(kv "$R" kernel_stamped)/$(kv "$R" deliveries) Redis deliveries stamped"
echo "lav:   $(kv "$L" connected)/$SUBS subscribed in $(kv "$L" connect_s) s; flips (latency from updated_at):"
sed -n 's|^flip\.\([0-9]*\)=|        \1. |p' "$L"
echo "       lost connections $(kv "$L" lost), close codes $(kv "$L" closes), $(kv "$L" updates) regime.update and $(kv "$L" pings) pings received"
echo "       lavd CPU during the run: $LAV_CPU s; lavd log (warn and above): $LAV_LOG_LINES lines"
# the first few, message only
head -n 5 "$TMP/lavd.log" | sed -n 's|.*"level":"\([a-z]*\)","msg":"\(.*\)".*|         \1: \2|p' | cut -c1-160
echo "Redis $REDIS_VERSION: $(kv "$R" connected)/$SUBS subscribed in $(kv "$R" connect_s) s; messages (latency from the PUBLISH):"
sed -n 's|^flip\.\([0-9]*\)=|        \1. |p' "$R"
echo "       lost connections $(kv "$R" lost); redis-server CPU during the run: $REDIS_CPU s"
echo
"$PY" "$HELPER" table "$RESULTS"
((${#FAILED[@]} == 0)) || exit 1
exit 0
