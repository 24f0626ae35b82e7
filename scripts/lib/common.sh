# shellcheck shell=bash
# Shared helpers for scripts/run.sh and scripts/test.sh. Source it; do not run it.
#
# Conventions: functions print their result (a DSN, a URL, a path, a port) on stdout and
# every message on stderr, so `x=$(lav_fn ...)` captures only the result. Functions
# return non-zero with a message instead of relying on the caller's `set -e`, because
# `set -e` is ignored inside functions called from `if`, `&&` and `||`.
#
# Environment knobs:
#   LAV_SKIP_DEPS=1   lav_install_deps does nothing (offline work on a prepared machine)
#   LAV_PG_FAST=1     lav_pg_start turns off fsync, synchronous_commit, full_page_writes
#   LAV_PG_OS_USER    OS user that runs PostgreSQL when we are root (default: lav)

# Debian packages the build, the servers and the test suites need. Extend here.
LAV_DEBIAN_PACKAGES=(
	build-essential pkg-config meson ninja-build
	libevent-dev libpq-dev libhiredis-dev libmsgpack-dev libjansson-dev libcriterion-dev
	libhttp-parser-dev libwslay-dev libssl-dev libcurl4-openssl-dev
	postgresql postgresql-contrib redis-server
	python3 python3-pytest python3-requests python3-websockets python3-msgpack
	python3-psycopg2 python3-yaml
	chromium prometheus
	ca-certificates openssl procps iproute2 curl
)

# meson options of build/, the same for run.sh and test.sh so that whichever configures
# build/ first, it matches CI.
# shellcheck disable=SC2034  # used by run.sh and test.sh
LAV_BUILD_OPTS=(-Dbuildtype=debug -Dwerror=true)

LAV_PG_OS_USER="${LAV_PG_OS_USER:-lav}"
LAV_PG_DB_USER=lav
LAV_PG_DB_NAME=lav

lav_log() { printf '[lav] %s\n' "$*" >&2; }
lav_die() { printf '[lav] ERROR: %s\n' "$*" >&2; exit 1; }
lav_err() { printf '[lav] ERROR: %s\n' "$*" >&2; }

# The Python that sees Debian's python3-* packages (pyenv's python3 may be first on PATH).
lav_python() {
	if [[ -x /usr/bin/python3 ]]; then echo /usr/bin/python3; else command -v python3; fi
}

lav_is_root() { [[ "$(id -u)" -eq 0 ]]; }

# ---------------------------------------------------------------------------------------
# Dependencies

lav_install_deps() {
	if [[ "${LAV_SKIP_DEPS:-0}" == 1 ]]; then
		lav_log "LAV_SKIP_DEPS=1: not checking Debian packages"
		return 0
	fi
	local pkg status missing=()
	for pkg in "${LAV_DEBIAN_PACKAGES[@]}"; do
		status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
		[[ "$status" == "install ok installed" ]] || missing+=("$pkg")
	done
	if [[ ${#missing[@]} -eq 0 ]]; then
		lav_log "all ${#LAV_DEBIAN_PACKAGES[@]} Debian packages present"
		return 0
	fi
	lav_log "installing missing Debian packages: ${missing[*]}"

	local -a sudo=()
	if ! lav_is_root; then
		if ! command -v sudo >/dev/null 2>&1; then
			lav_err "not root and sudo is not installed; install these as root first:"
			lav_err "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
			return 1
		fi
		# No terminal (CI, pipes): never hang on a password prompt.
		if [[ -t 0 ]]; then sudo=(sudo); else sudo=(sudo -n); fi
	fi
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null ||
		{ lav_err "apt-get update failed"; return 1; }
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "${missing[@]}" </dev/null ||
		{ lav_err "apt-get install failed for: ${missing[*]}"; return 1; }
}

# ---------------------------------------------------------------------------------------
# Build

# lav_build DIR [meson setup options...]: configure DIR once, then compile it.
# An already configured DIR keeps its options (use `meson configure DIR -D...` to change).
lav_build() {
	local dir="$1"; shift
	if [[ -f "$dir/build.ninja" && -d "$dir/meson-private" ]]; then
		:
	elif [[ -d "$dir/meson-private" ]]; then
		lav_log "meson setup --wipe $dir $* (previous setup was incomplete)"
		meson setup --wipe "$dir" "$@" >&2 || { lav_err "meson setup $dir failed"; return 1; }
	else
		lav_log "meson setup $dir $*"
		meson setup "$dir" "$@" >&2 || { lav_err "meson setup $dir failed"; return 1; }
	fi
	lav_log "meson compile -C $dir"
	meson compile -C "$dir" >&2 || { lav_err "build in $dir failed"; return 1; }
}

# ---------------------------------------------------------------------------------------
# PostgreSQL

# Highest installed PostgreSQL server bin dir, e.g. /usr/lib/postgresql/15/bin.
lav_pg_bin() {
	local d best=""
	for d in $(printf '%s\n' /usr/lib/postgresql/*/ 2>/dev/null | sort -V); do
		[[ -x "${d}bin/pg_ctl" ]] && best="${d}bin"
	done
	if [[ -z "$best" ]]; then
		lav_err "no PostgreSQL server found under /usr/lib/postgresql (is package postgresql installed?)"
		return 1
	fi
	echo "$best"
}

# Words to put before a command to run it as the PostgreSQL OS user
# ("runuser -u lav --" as root, nothing otherwise). Creates that user if needed.
lav_pg_user_prefix() {
	if lav_is_root; then
		lav_pg_ensure_user || return 1
		echo "runuser -u $LAV_PG_OS_USER --"
	fi
}

# As root, initdb refuses to run: PostgreSQL runs as an unprivileged system user.
lav_pg_ensure_user() {
	lav_is_root || return 0
	id -u "$LAV_PG_OS_USER" >/dev/null 2>&1 && return 0
	lav_log "creating system user $LAV_PG_OS_USER to run PostgreSQL"
	useradd --system --no-create-home --shell /usr/sbin/nologin "$LAV_PG_OS_USER" ||
		{ lav_err "useradd $LAV_PG_OS_USER failed"; return 1; }
}

# Run a command as the PostgreSQL OS user, from / (its cwd may be unreadable to that user).
_lav_pg_as() {
	if lav_is_root; then
		(cd / && runuser -u "$LAV_PG_OS_USER" -- "$@")
	else
		(cd / && "$@")
	fi
}

# True if the PostgreSQL OS user can reach (traverse) DIR, i.e. every ancestor is
# searchable by it. Always true when not root (we run PostgreSQL as ourselves).
lav_pg_can_reach() {
	lav_is_root || return 0
	lav_pg_ensure_user || return 1
	(cd / && runuser -u "$LAV_PG_OS_USER" -- test -x "$1") 2>/dev/null
}

# Unix socket dir for a data dir: a sibling "pgsock" dir, or a short /tmp path when that
# would exceed the ~107-byte limit of a unix socket path.
lav_pg_sockdir() {
	local datadir="$1" parent
	parent=$(cd "$(dirname "$datadir")" && pwd -P) || return 1
	local sock="$parent/pgsock"
	if (( ${#sock} > 80 )); then
		sock="/tmp/lav-pgsock-$(printf '%s' "$parent" | sha256sum | cut -c1-12)"
	fi
	echo "$sock"
}

_lav_pg_conf_quote() { printf "'%s'" "${1//\'/\'\'}"; }

# lav_pg_start DATADIR PORT: initdb if needed, start, create database lav, print the DSN.
lav_pg_start() {
	local datadir="$1" port="$2" bin parent sockdir log owner
	bin=$(lav_pg_bin) || return 1
	mkdir -p "$datadir" || return 1
	datadir=$(cd "$datadir" && pwd -P)
	parent=$(dirname "$datadir")
	sockdir=$(lav_pg_sockdir "$datadir") || return 1
	log="$parent/pg.log"
	mkdir -p "$sockdir" && touch "$log" || return 1

	if lav_is_root; then
		lav_pg_ensure_user || return 1
		local grp; grp=$(id -gn "$LAV_PG_OS_USER")
		if ! lav_pg_can_reach "$parent"; then
			lav_err "PostgreSQL runs as user '$LAV_PG_OS_USER', which cannot traverse to $parent"
			lav_err "(a parent directory is not world-searchable, e.g. /root is 0700)."
			lav_err "Put the data dir somewhere reachable, e.g. under /var/tmp or /tmp."
			return 1
		fi
		owner=$(stat -c %U "$datadir")
		if [[ "$owner" != "$LAV_PG_OS_USER" ]]; then
			chown -R "$LAV_PG_OS_USER:$grp" "$datadir" || return 1
		fi
		chown "$LAV_PG_OS_USER:$grp" "$sockdir" "$log" || return 1
	fi
	chmod 0700 "$datadir" 2>/dev/null || true

	if [[ ! -s "$datadir/PG_VERSION" ]]; then
		if [[ -n "$(ls -A "$datadir")" ]]; then
			lav_err "$datadir is not empty and is not a PostgreSQL data dir; remove it or pick another"
			return 1
		fi
		local locale_opt=(--no-locale)
		if locale -a 2>/dev/null | grep -qix 'c\.utf-\?8'; then locale_opt=(--locale=C.UTF-8); fi
		lav_log "initdb $datadir"
		local out
		if ! out=$(_lav_pg_as "$bin/initdb" -D "$datadir" -U "$LAV_PG_DB_USER" --auth=trust \
			--encoding=UTF8 "${locale_opt[@]}" --no-sync 2>&1); then
			printf '%s\n' "$out" >&2
			lav_err "initdb failed for $datadir"
			return 1
		fi
		printf "\n# lav: settings written by scripts/lib/common.sh on every start\ninclude_if_exists = 'lav.conf'\n" \
			>>"$datadir/postgresql.conf"
	fi

	# Settings that may change between starts (port, socket dir, durability).
	{
		echo "# written by scripts/lib/common.sh lav_pg_start; rewritten on every start"
		echo "listen_addresses = '127.0.0.1'"
		echo "port = $port"
		echo "unix_socket_directories = $(_lav_pg_conf_quote "$sockdir")"
		# each lavd holds LAV_PG_POOL_SIZE + 3 connections (listener, readiness, leader
		# lock) and an e2e module runs a dozen lavd at once
		echo "max_connections = 300"
		if [[ "${LAV_PG_FAST:-0}" == 1 ]]; then
			echo "fsync = off"
			echo "synchronous_commit = off"
			echo "full_page_writes = off"
		fi
	} >"$datadir/lav.conf"
	lav_is_root && chown "$LAV_PG_OS_USER:$(id -gn "$LAV_PG_OS_USER")" "$datadir/lav.conf"

	# A server left running (e.g. a killed run.sh) would keep the old settings: restart it.
	if _lav_pg_as "$bin/pg_ctl" status -D "$datadir" >/dev/null 2>&1; then
		lav_log "PostgreSQL in $datadir is already running: restarting it"
		_lav_pg_as "$bin/pg_ctl" stop -D "$datadir" -m fast -w -t 30 >&2 || return 1
	fi

	lav_log "starting PostgreSQL on 127.0.0.1:$port (data $datadir, log $log)"
	# setsid: own session, so a Ctrl-C in the terminal reaches our trap, not the postmaster.
	if ! (cd / && if lav_is_root; then
			setsid -w runuser -u "$LAV_PG_OS_USER" -- "$bin/pg_ctl" start -D "$datadir" -l "$log" -W
		else
			setsid -w "$bin/pg_ctl" start -D "$datadir" -l "$log" -W
		fi) >&2; then
		lav_err "pg_ctl start failed; last lines of $log:"
		tail -n 30 "$log" >&2
		return 1
	fi

	local i
	for ((i = 0; i < 300; i++)); do
		"$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -d postgres -U "$LAV_PG_DB_USER" && break
		sleep 0.1
	done
	if ((i >= 300)); then
		lav_err "PostgreSQL did not become ready on 127.0.0.1:$port within 30 s; last lines of $log:"
		tail -n 30 "$log" >&2
		return 1
	fi

	local exists
	exists=$("$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U "$LAV_PG_DB_USER" -d postgres -tAc \
		"SELECT 1 FROM pg_database WHERE datname = '$LAV_PG_DB_NAME'") ||
		{ lav_err "cannot query PostgreSQL on 127.0.0.1:$port"; return 1; }
	if [[ "$exists" != 1 ]]; then
		"$bin/createdb" -h 127.0.0.1 -p "$port" -U "$LAV_PG_DB_USER" "$LAV_PG_DB_NAME" ||
			{ lav_err "createdb $LAV_PG_DB_NAME failed"; return 1; }
	fi
	echo "postgresql://$LAV_PG_DB_USER@127.0.0.1:$port/$LAV_PG_DB_NAME"
}

# lav_pg_stop DATADIR: fast shutdown; fine if it is not running or does not exist.
lav_pg_stop() {
	local datadir="$1" bin
	[[ -f "$datadir/postmaster.pid" ]] || return 0
	bin=$(lav_pg_bin) || return 0
	datadir=$(cd "$datadir" && pwd -P) || return 0
	if _lav_pg_as "$bin/pg_ctl" status -D "$datadir" >/dev/null 2>&1; then
		lav_log "stopping PostgreSQL ($datadir)"
		_lav_pg_as "$bin/pg_ctl" stop -D "$datadir" -m fast -w -t 30 >/dev/null 2>&1 ||
			_lav_pg_as "$bin/pg_ctl" stop -D "$datadir" -m immediate -w -t 10 >/dev/null 2>&1 ||
			lav_err "could not stop PostgreSQL in $datadir"
	fi
	return 0
}

# ---------------------------------------------------------------------------------------
# Redis

# lav_redis_start DIR PORT: start a private, non-persistent Redis; print its URL.
lav_redis_start() {
	local dir="$1" port="$2"
	mkdir -p "$dir" || return 1
	dir=$(cd "$dir" && pwd -P)
	local pidfile="$dir/redis.pid" log="$dir/redis.log"
	if [[ -s "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
		lav_log "Redis from $dir is already running: restarting it"
		lav_redis_stop "$dir" "$port"
	fi
	rm -f "$pidfile"
	lav_log "starting Redis on 127.0.0.1:$port (dir $dir)"
	(cd / && redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$dir" --daemonize yes --pidfile "$pidfile" --logfile "$log") >&2 ||
		{ lav_err "redis-server failed to start; last lines of $log:"; tail -n 20 "$log" >&2 2>/dev/null; return 1; }
	local i
	for ((i = 0; i < 150; i++)); do
		[[ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" == PONG ]] && break
		sleep 0.1
	done
	if ((i >= 150)); then
		lav_err "Redis did not answer PING on 127.0.0.1:$port within 15 s; last lines of $log:"
		tail -n 20 "$log" >&2 2>/dev/null
		return 1
	fi
	echo "redis://127.0.0.1:$port/0"
}

# lav_redis_stop DIR PORT: shutdown nosave, else kill the pid in DIR/redis.pid.
lav_redis_stop() {
	local dir="$1" port="$2" pidfile="$1/redis.pid" pid=""
	[[ -s "$pidfile" ]] && pid=$(cat "$pidfile")
	if [[ -z "$pid" ]] || ! kill -0 "$pid" 2>/dev/null; then
		rm -f "$pidfile"
		return 0
	fi
	lav_log "stopping Redis (port $port)"
	redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
	local i
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		((i == 20)) && kill -TERM "$pid" 2>/dev/null
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	rm -f "$pidfile"
	return 0
}

# ---------------------------------------------------------------------------------------
# Misc

# A TCP port that is free on 127.0.0.1 right now.
lav_free_port() {
	"$(lav_python)" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# Hex SHA-256 of a string (no trailing newline hashed).
lav_sha256_hex() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

# lav_make_tokens FILE: three demo tokens. FILE gets only their SHA-256 hashes and scopes;
# FILE.plain gets the plaintext (reader=, publisher=, admin=), both mode 0600.
lav_make_tokens() {
	local file="$1" reader publisher admin
	reader="lav_r_$(openssl rand -hex 24)" || return 1
	publisher="lav_p_$(openssl rand -hex 24)" || return 1
	admin="lav_a_$(openssl rand -hex 24)" || return 1
	mkdir -p "$(dirname "$file")" || return 1
	(
		umask 077
		cat >"$file.tmp" <<EOF
{"tokens":[
 {"name":"demo-reader","sha256":"$(lav_sha256_hex "$reader")","scopes":["oracle.reader"]},
 {"name":"demo-publisher","sha256":"$(lav_sha256_hex "$publisher")","scopes":["oracle.reader","oracle.publisher"]},
 {"name":"demo-admin","sha256":"$(lav_sha256_hex "$admin")","scopes":["oracle.reader","oracle.publisher","oracle.admin"]}
]}
EOF
		printf 'reader=%s\npublisher=%s\nadmin=%s\n' "$reader" "$publisher" "$admin" >"$file.plain.tmp"
	) || return 1
	chmod 0600 "$file.tmp" "$file.plain.tmp" &&
		mv -f "$file.plain.tmp" "$file.plain" && mv -f "$file.tmp" "$file"
}
