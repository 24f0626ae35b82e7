#!/usr/bin/env bash
# Builds lavd, starts a private PostgreSQL and Redis (state under var/), applies the
# migrations, prints the URLs and demo tokens, and runs lavd in the foreground in mock
# mode. Ctrl-C stops lavd, Redis and PostgreSQL.
#
#   LAV_LISTEN (127.0.0.1:8080)  LAV_PG_PORT (55432)  LAV_REDIS_PORT (56379)
#   ORACLE_SOURCE_MODE (mock)    LAV_SKIP_DEPS=1 skips the apt check
#   LAV_BACKFILL_DAYS (200)      mock history written before the first start (0: none)
#   FEATURE_STORE_RETENTION_DAYS (400 here: the semáforo normalizes over 180 days)
# Any other lavd variable (LAV_LOG_LEVEL, LAV_MOCK_SEED, FEATURE_STORE_*, ...) set in the
# environment is passed through to lavd.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$REPO"
# shellcheck source=scripts/lib/common.sh
source "$REPO/scripts/lib/common.sh"

LISTEN=${LAV_LISTEN:-127.0.0.1:8080}
PG_PORT=${LAV_PG_PORT:-55432}
REDIS_PORT=${LAV_REDIS_PORT:-56379}
SOURCE_MODE=${ORACLE_SOURCE_MODE:-mock}
BACKFILL_DAYS=${LAV_BACKFILL_DAYS:-200}
export FEATURE_STORE_RETENTION_DAYS=${FEATURE_STORE_RETENTION_DAYS:-400}
[[ "$BACKFILL_DAYS" =~ ^[0-9]+$ ]] || lav_die "LAV_BACKFILL_DAYS must be a whole number of days"

lav_install_deps
lav_build build "${LAV_BUILD_OPTS[@]}" || lav_die "build failed"

VAR="$REPO/var"
mkdir -p "$VAR"
REDIS_DIR="$VAR/redis"
TOKENS="$VAR/tokens.json"

# PostgreSQL data lives in var/pg, unless we are root and var/ is out of reach of the
# unprivileged user PostgreSQL runs as (e.g. the repo is under /root, mode 0700).
PG_DATADIR="$VAR/pg"
if ! lav_pg_can_reach "$VAR"; then
	PG_BASE="/var/tmp/lav-$(printf '%s' "$REPO" | sha256sum | cut -c1-12)"
	mkdir -p "$PG_BASE"
	chmod 0755 "$PG_BASE"
	PG_DATADIR="$PG_BASE/pg"
	lav_log "user '$LAV_PG_OS_USER' cannot reach $VAR: PostgreSQL data is in $PG_DATADIR"
	printf '%s\n' "$PG_DATADIR" >"$VAR/pg.location"
fi

LAVD_PID=""
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	if [[ -n "$LAVD_PID" ]] && kill -0 "$LAVD_PID" 2>/dev/null; then
		lav_log "stopping lavd (pid $LAVD_PID)"
		kill -TERM "$LAVD_PID" 2>/dev/null
		local i
		for ((i = 0; i < 100; i++)); do
			kill -0 "$LAVD_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$LAVD_PID" 2>/dev/null && kill -KILL "$LAVD_PID" 2>/dev/null
		wait "$LAVD_PID" 2>/dev/null
	fi
	lav_redis_stop "$REDIS_DIR" "$REDIS_PORT"
	lav_pg_stop "$PG_DATADIR"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PG_DSN=$(lav_pg_start "$PG_DATADIR" "$PG_PORT") || lav_die "PostgreSQL did not start"
REDIS_URL=$(lav_redis_start "$REDIS_DIR" "$REDIS_PORT") || lav_die "Redis did not start"

if [[ ! -s "$TOKENS" || ! -s "$TOKENS.plain" ]]; then
	lav_log "creating demo tokens in $TOKENS"
	lav_make_tokens "$TOKENS" || lav_die "could not create $TOKENS"
fi
tok() { sed -n "s/^$1=//p" "$TOKENS.plain"; }

lav_log "applying migrations"
LAV_PG_DSN="$PG_DSN" LAV_CONFIG_DIR=config "$REPO/build/lavd" migrate ||
	lav_die "lavd migrate failed"

# History so the semáforo has a state from the first second. The backfill writes only the
# periods that are missing, so a restart costs a few seconds, not a rewrite.
if [[ "$SOURCE_MODE" == mock && "$BACKFILL_DAYS" -gt 0 ]]; then
	SINCE=$(date -u -d "$BACKFILL_DAYS days ago" +%Y-%m-%dT00:00:00Z)
	UNTIL=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	lav_log "backfilling $BACKFILL_DAYS days of mock history ($SINCE .. $UNTIL)"
	LAV_PG_DSN="$PG_DSN" LAV_CONFIG_DIR=config ORACLE_SOURCE_MODE=mock \
		"$REPO/build/lavd" backfill --since "$SINCE" --until "$UNTIL" ||
		lav_die "lavd backfill failed"
fi

HTTP="http://$LISTEN"
cat <<EOF

================================================================================
 lav is starting (source mode: $SOURCE_MODE)

   catalog       $HTTP/api/features/v1/catalog
   latest        $HTTP/api/features/v1/latest?featureId=crypto/btc/price_usd
   semáforo      $HTTP/api/liquidity/v1/regime/latest   .../scoreboard   .../hints
                 $HTTP/api/liquidity/v1/history  (lavd catches up the backfilled grid at start)
   health        $HTTP/healthz   $HTTP/readyz   (readyz: each source's state)

   PostgreSQL    $PG_DSN   (data: $PG_DATADIR)
   Redis         $REDIS_URL

 demo tokens (hashes in var/tokens.json; plaintext kept in var/tokens.json.plain):
   reader      $(tok reader)
   publisher   $(tok publisher)
   admin       $(tok admin)

 try:
   curl -H 'Authorization: Bearer $(tok reader)' $HTTP/api/features/v1/catalog
   curl -H 'Authorization: Bearer $(tok reader)' $HTTP/api/liquidity/v1/scoreboard

 Ctrl-C stops lavd, Redis and PostgreSQL.
================================================================================

EOF

# In the background + wait, so that Ctrl-C / TERM run the trap at once.
LAV_LISTEN="$LISTEN" \
LAV_PG_DSN="$PG_DSN" \
LAV_REDIS_URL="$REDIS_URL" \
LAV_TOKENS_FILE=var/tokens.json \
LAV_CONFIG_DIR=config \
ORACLE_SOURCE_MODE="$SOURCE_MODE" \
	"$REPO/build/lavd" &
LAVD_PID=$!
rc=0
wait "$LAVD_PID" || rc=$?
LAVD_PID=""
lav_log "lavd exited with status $rc"
exit "$rc"
