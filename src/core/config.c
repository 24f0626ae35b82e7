#include "lav/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lav/buf.h"
#include "lav/timefmt.h"

/* One variable per line, as lavd --help prints them. */
/* clang-format off */
static const char HELP[] =
	"LAV_LISTEN                          127.0.0.1:8080  address:port for HTTP and WebSocket\n"
	"LAV_PG_DSN                          (required)      libpq connection string or URI\n"
	"LAV_REDIS_URL                       (unset)         redis://host:port/db; unset: no Redis\n"
	"LAV_CONFIG_DIR                      config          catalog, datasources, liquidity feeds\n"
	"LAV_TOKENS_FILE                     (unset)         token hashes and scopes; unset: no auth, loopback only\n"
	"LAV_LOG_LEVEL                       info            debug, info, warn, error\n"
	"ORACLE_SOURCE_MODE                  mock            mock, shadow or off\n"
	"LAV_MOCK_SEED                       42              seed of the mock generator\n"
	"LAV_POLL_INTERVAL_MS                (by frequency)  poll every series this often (docs/ingestion.md)\n"
	"LAV_GAP_CHECK_INTERVAL_MS           3600000         gap repair of every series\n"
	"LAV_SOURCE_TIMEOUT_MS               10000           one upstream request, connect to last byte\n"
	"LAV_SOURCE_RETRIES                  3               retries of a failed upstream request\n"
	"LAV_SOURCE_BACKOFF_MS               1000            first retry delay (doubles, +-50% jitter)\n"
	"LAV_SOURCE_BREAKER_FAILURES         3               consecutive failures that open a source\n"
	"LAV_SOURCE_BREAKER_OPEN_MS          300000          how long an open source rests\n"
	"LAV_SOURCE_MAX_BYTES                67108864        largest upstream response body\n"
	"LIQ_SCORE_GRID_STEP                 1h              semáforo grid step (1s and up)\n"
	"LIQ_SCORE_GRID_DELAY                (step/10,<=10s) wait after a grid boundary before evaluating it\n"
	"LAV_MAX_BODY_BYTES                  8388608         largest request body (413 above)\n"
	"LAV_MAX_HEADER_BYTES                16384           request line + headers (431 above)\n"
	"LAV_MAX_CONNECTIONS                 16384           concurrent client connections (503 above)\n"
	"LAV_IDLE_TIMEOUT_MS                 60000           idle keep-alive connection lifetime\n"
	"LAV_REQUEST_TIMEOUT_MS              30000           time to receive one whole request (408)\n"
	"LAV_SHUTDOWN_GRACE_MS               10000           drain time on SIGTERM/SIGINT\n"
	"LAV_WS_PING_INTERVAL                30s             WebSocket server ping (silent 2 intervals: dropped)\n"
	"LAV_WS_MAX_MESSAGE_BYTES            65536           largest WebSocket client message (1009 above)\n"
	"LAV_WS_MAX_QUEUED_BYTES             4194304         unsent bytes per WebSocket client (1008 above)\n"
	"LAV_PG_POOL_SIZE                    4               PostgreSQL connections for publish and query\n"
	"LAV_PG_STATEMENT_TIMEOUT_MS         30000           statement_timeout of those connections\n"
	"LAV_HOT_POINTS                      5000            newest points per series kept in memory\n"
	"LAV_QUERY_MAX_POINTS                1000000         largest limit a query may ask for\n"
	"FEATURE_STORE_EXPORT_S3_URI         (unset)         s3://bucket[/prefix]; unset: local export dir\n"
	"FEATURE_STORE_RETENTION_DAYS        90              PostgreSQL partitions older than this are dropped\n"
	"FEATURE_STORE_PARQUET_BATCH_CRON    */15 * * * *    Parquet export schedule\n"
	"FEATURE_STORE_PG_PARTITION_DAYS     7               daily partitions created ahead\n"
	"LIQ_SCORE_WEIGHTS                   0.4,0.4,0.2     GL,CN,MP weights (overrides liquidity.feeds.json)\n"
	"LIQ_SCORE_THRESHOLDS                0.8,-0.8        theta_hi,theta_lo\n"
	"LIQ_SCORE_SMOOTHING_ALPHA           0.2             EMA alpha, 0 < alpha <= 1\n"
	"LIQ_REGIME_FLIP_CONFIRMATION_HOURS  24              hours a candidate must hold before a flip\n"
	"FEATURE_DQ_COVERAGE_MIN             0.80            coverage alert threshold\n"
	"FEATURE_DQ_FRESHNESS_MAX_RATIO      1.5             stale beyond ttl x ratio\n"
	"FEATURE_API_RATE_LIMIT_RPM          1000            requests per minute per token\n"
	"EXECUTION_MODE                      dry-run         only dry-run is accepted: lav never trades\n"
	"LAV_SOURCE_<ID>_URL                 real base URL   per-source base URL override\n"
	"LAV_SOURCE_<ID>_KEY                 (unset)         per-source API key (secret)\n";
/* clang-format on */

const char *lav_config_help(void)
{
	return HELP;
}

struct env {
	lav_env_get get;
	void *arg;
	char *err;
	size_t errlen;
};

static const char *val(struct env *e, const char *name)
{
	const char *v = e->get(name, e->arg);
	return v && *v ? v : NULL;
}

static bool fail(struct env *e, const char *name, const char *value, const char *why)
{
	snprintf(e->err, e->errlen, "%s=\"%.80s\": %s", name, value ? value : "", why);
	return false;
}

static bool get_int(struct env *e, const char *name, long long def, long long lo, long long hi,
		    long long *out)
{
	const char *v = val(e, name);
	if (!v) {
		*out = def;
		return true;
	}
	char *end;
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (errno || end == v || *end) {
		char why[96];
		snprintf(why, sizeof(why), "must be an integer between %lld and %lld", lo, hi);
		return fail(e, name, v, why);
	}
	if (x < lo || x > hi) {
		char why[96];
		snprintf(why, sizeof(why), "must be between %lld and %lld", lo, hi);
		return fail(e, name, v, why);
	}
	*out = x;
	return true;
}

static bool parse_double(const char *s, double *out)
{
	char *end;
	errno = 0;
	while (isspace((unsigned char)*s))
		s++;
	double x = strtod(s, &end);
	while (isspace((unsigned char)*end))
		end++;
	if (errno || end == s || *end || !isfinite(x))
		return false;
	*out = x;
	return true;
}

static bool get_double(struct env *e, const char *name, double def, double lo, double hi,
		       bool lo_open, double *out, bool *given)
{
	const char *v = val(e, name);
	if (given)
		*given = v != NULL;
	if (!v) {
		*out = def;
		return true;
	}
	double x;
	if (!parse_double(v, &x) || x < lo || x > hi || (lo_open && x == lo)) {
		char why[96];
		snprintf(why, sizeof(why), "must be a number in %s%g, %g]", lo_open ? "(" : "[", lo,
			 hi);
		return fail(e, name, v, why);
	}
	*out = x;
	return true;
}

/* Comma-separated list of exactly n finite numbers. */
static bool get_list(struct env *e, const char *name, size_t n, double *out, bool *given)
{
	const char *v = val(e, name);
	*given = v != NULL;
	if (!v)
		return true;
	char *copy = lav_xstrdup(v);
	size_t i = 0;
	bool ok = true;
	/* split by hand: strtok would silently skip empty items ("0.4,,0.2") */
	char *tok = copy;
	for (;;) {
		char *comma = strchr(tok, ',');
		if (comma)
			*comma = '\0';
		if (i == n || !parse_double(tok, &out[i])) {
			ok = false;
			break;
		}
		i++;
		if (!comma)
			break;
		tok = comma + 1;
	}
	free(copy);
	if (!ok || i != n) {
		char why[96];
		snprintf(why, sizeof(why), "must be %zu comma-separated numbers", n);
		return fail(e, name, v, why);
	}
	return true;
}

static bool get_str(struct env *e, const char *name, const char *def, char **out)
{
	const char *v = val(e, name);
	*out = v ? lav_xstrdup(v) : def ? lav_xstrdup(def) : NULL;
	return true;
}

static bool get_enum(struct env *e, const char *name, const char *def, const char *const *names,
		     int *out)
{
	const char *v = val(e, name);
	const char *s = v ? v : def;
	struct lav_buf allowed = LAV_BUF_INIT;
	for (int i = 0; names[i]; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = i;
			lav_buf_free(&allowed);
			return true;
		}
		lav_buf_printf(&allowed, "%s%s", i ? ", " : "must be one of: ", names[i]);
	}
	fail(e, name, v, lav_buf_cstr(&allowed));
	lav_buf_free(&allowed);
	return false;
}

static bool parse_listen(struct env *e, struct lav_config *c)
{
	const char *name = "LAV_LISTEN";
	const char *v = val(e, name);
	const char *s = v ? v : "127.0.0.1:8080";
	const char *colon = strrchr(s, ':');
	if (!colon)
		return fail(e, name, s, "must be address:port");
	const char *host = s;
	size_t hostlen = (size_t)(colon - s);
	if (hostlen >= 2 && host[0] == '[' && host[hostlen - 1] == ']') {
		host++;
		hostlen -= 2;
	}
	if (hostlen == 0 || hostlen >= sizeof(c->listen_host))
		return fail(e, name, s, "must be address:port");
	memcpy(c->listen_host, host, hostlen);
	c->listen_host[hostlen] = '\0';
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || *end || port < 1 || port > 65535)
		return fail(e, name, s, "port must be 1-65535");
	c->listen_port = (int)port;
	if (strcmp(c->listen_host, "localhost") == 0) {
		c->listen_loopback = true;
		return true;
	}
	unsigned char addr[16];
	if (inet_pton(AF_INET, c->listen_host, addr) == 1) {
		c->listen_loopback = addr[0] == 127;
		return true;
	}
	if (inet_pton(AF_INET6, c->listen_host, addr) == 1) {
		static const unsigned char lo6[16] = {[15] = 1};
		c->listen_loopback = memcmp(addr, lo6, 16) == 0;
		return true;
	}
	return fail(e, name, s, "address must be a numeric IPv4/IPv6 address or localhost");
}

static bool parse_redis_url(struct env *e, struct lav_config *c)
{
	const char *name = "LAV_REDIS_URL";
	if (!c->redis_url)
		return true;
	const char *s = c->redis_url;
	if (strncmp(s, "redis://", 8) != 0)
		return fail(e, name, s, "must be redis://host:port/db");
	s += 8;
	const char *at = strchr(s, '@');
	if (at)
		return fail(e, name, c->redis_url, "credentials in the URL are not supported");
	const char *slash = strchr(s, '/');
	const char *hostend = slash ? slash : s + strlen(s);
	const char *colon = memchr(s, ':', (size_t)(hostend - s));
	size_t hostlen = (size_t)((colon ? colon : hostend) - s);
	if (hostlen == 0 || hostlen >= sizeof(c->redis_host))
		return fail(e, name, c->redis_url, "must be redis://host:port/db");
	memcpy(c->redis_host, s, hostlen);
	c->redis_host[hostlen] = '\0';
	c->redis_port = 6379;
	if (colon) {
		char *end;
		long port = strtol(colon + 1, &end, 10);
		if (end != hostend || port < 1 || port > 65535)
			return fail(e, name, c->redis_url, "port must be 1-65535");
		c->redis_port = (int)port;
	}
	c->redis_db = 0;
	if (slash && slash[1]) {
		char *end;
		long db = strtol(slash + 1, &end, 10);
		if (*end || db < 0 || db > 15)
			return fail(e, name, c->redis_url, "database must be 0-15");
		c->redis_db = (int)db;
	}
	return true;
}

bool lav_config_load(struct lav_config *c, lav_env_get get, void *arg, char *err, size_t errlen)
{
	struct env e = {get, arg, err, errlen};
	long long n;
	int k;
	memset(c, 0, sizeof(*c));

	if (!parse_listen(&e, c))
		return false;
	get_str(&e, "LAV_PG_DSN", NULL, &c->pg_dsn);
	if (!c->pg_dsn)
		return fail(&e, "LAV_PG_DSN", NULL,
			    "is required (a libpq connection string or URI)");
	get_str(&e, "LAV_REDIS_URL", NULL, &c->redis_url);
	if (!parse_redis_url(&e, c))
		return false;
	get_str(&e, "LAV_CONFIG_DIR", "config", &c->config_dir);
	get_str(&e, "LAV_TOKENS_FILE", NULL, &c->tokens_file);
	if (!c->tokens_file && !c->listen_loopback) {
		char why[160];
		snprintf(why, sizeof(why),
			 "is not a loopback address and LAV_TOKENS_FILE is unset: refusing to "
			 "serve without authentication");
		return fail(&e, "LAV_LISTEN", val(&e, "LAV_LISTEN"), why);
	}
	static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
	if (!get_enum(&e, "LAV_LOG_LEVEL", "info", levels, &k))
		return false;
	c->log_level = (enum lav_log_level)k;
	static const char *const modes[] = {"mock", "shadow", "off", NULL};
	if (!get_enum(&e, "ORACLE_SOURCE_MODE", "mock", modes, &k))
		return false;
	c->source_mode = (enum lav_source_mode)k;
	static const char *const exec_modes[] = {"dry-run", NULL};
	if (!get_enum(&e, "EXECUTION_MODE", "dry-run", exec_modes, &k))
		return false;
	c->execution_mode = lav_xstrdup("dry-run");
	if (!get_int(&e, "LAV_MOCK_SEED", 42, 0, INT64_MAX, &n))
		return false;
	c->mock_seed = (uint64_t)n;
	if (!get_int(&e, "LAV_POLL_INTERVAL_MS", 0, 0, 86400000LL * 7, &n))
		return false;
	c->poll_interval_ms = n;
	if (!get_int(&e, "LAV_GAP_CHECK_INTERVAL_MS", 3600000, 1000, 86400000LL * 7, &n))
		return false;
	c->gap_check_interval_ms = n;
	if (!get_int(&e, "LAV_SOURCE_TIMEOUT_MS", 10000, 100, 600000, &n))
		return false;
	c->source_timeout_ms = n;
	if (!get_int(&e, "LAV_SOURCE_RETRIES", 3, 0, 20, &n))
		return false;
	c->source_retries = (int)n;
	if (!get_int(&e, "LAV_SOURCE_BACKOFF_MS", 1000, 1, 600000, &n))
		return false;
	c->source_backoff_ms = n;
	if (!get_int(&e, "LAV_SOURCE_BREAKER_FAILURES", 3, 1, 1000, &n))
		return false;
	c->breaker_failures = (int)n;
	if (!get_int(&e, "LAV_SOURCE_BREAKER_OPEN_MS", 300000, 100, 86400000, &n))
		return false;
	c->breaker_open_ms = n;
	if (!get_int(&e, "LAV_SOURCE_MAX_BYTES", 64 << 20, 1024, 1LL << 30, &n))
		return false;
	c->source_max_bytes = (size_t)n;
	const char *step = val(&e, "LIQ_SCORE_GRID_STEP");
	c->has_grid_step = step != NULL;
	if (!lav_duration_parse(step ? step : "1h", false, &c->grid_step_ms) ||
	    c->grid_step_ms < 1000 || c->grid_step_ms % 1000 != 0 ||
	    86400000LL % c->grid_step_ms != 0)
		return fail(&e, "LIQ_SCORE_GRID_STEP", step,
			    "must be a whole number of seconds that divides a day (1s, 5m, 1h, "
			    "1d)");
	const char *delay = val(&e, "LIQ_SCORE_GRID_DELAY");
	c->grid_delay_ms = -1;
	if (delay &&
	    (!lav_duration_parse(delay, true, &c->grid_delay_ms) || c->grid_delay_ms > 86400000LL))
		return fail(&e, "LIQ_SCORE_GRID_DELAY", delay,
			    "must be a duration from 0s to 1d (0s, 250ms, 30s, 5m)");

	if (!get_int(&e, "LAV_MAX_BODY_BYTES", 8 << 20, 1024, 1LL << 30, &n))
		return false;
	c->max_body_bytes = (size_t)n;
	if (!get_int(&e, "LAV_MAX_HEADER_BYTES", 16384, 1024, 1 << 20, &n))
		return false;
	c->max_header_bytes = (size_t)n;
	if (!get_int(&e, "LAV_MAX_CONNECTIONS", 16384, 1, 1 << 20, &n))
		return false;
	c->max_connections = (int)n;
	if (!get_int(&e, "LAV_IDLE_TIMEOUT_MS", 60000, 100, 86400000, &n))
		return false;
	c->idle_timeout_ms = n;
	if (!get_int(&e, "LAV_REQUEST_TIMEOUT_MS", 30000, 100, 3600000, &n))
		return false;
	c->request_timeout_ms = n;
	if (!get_int(&e, "LAV_SHUTDOWN_GRACE_MS", 10000, 0, 600000, &n))
		return false;
	c->shutdown_grace_ms = n;
	const char *ping = val(&e, "LAV_WS_PING_INTERVAL");
	if (!lav_duration_parse(ping ? ping : "30s", false, &c->ws_ping_ms) ||
	    c->ws_ping_ms < 100 || c->ws_ping_ms > 3600000)
		return fail(&e, "LAV_WS_PING_INTERVAL", ping,
			    "must be a duration from 100ms to 1h (500ms, 30s, 5m)");
	if (!get_int(&e, "LAV_WS_MAX_MESSAGE_BYTES", 65536, 125, 64 << 20, &n))
		return false;
	c->ws_max_message_bytes = (size_t)n;
	if (!get_int(&e, "LAV_WS_MAX_QUEUED_BYTES", 4 << 20, 4096, 1LL << 30, &n))
		return false;
	c->ws_max_queued_bytes = (size_t)n;

	if (!get_int(&e, "LAV_PG_POOL_SIZE", 4, 1, 64, &n))
		return false;
	c->pg_pool_size = (int)n;
	if (!get_int(&e, "LAV_PG_STATEMENT_TIMEOUT_MS", 30000, 100, 3600000, &n))
		return false;
	c->pg_statement_timeout_ms = n;
	if (!get_int(&e, "LAV_HOT_POINTS", 5000, 16, 10000000, &n))
		return false;
	c->hot_points = (size_t)n;
	if (!get_int(&e, "LAV_QUERY_MAX_POINTS", 1000000, 100, 100000000, &n))
		return false;
	c->query_max_points = (size_t)n;

	get_str(&e, "FEATURE_STORE_EXPORT_S3_URI", NULL, &c->export_s3_uri);
	if (c->export_s3_uri && (strncmp(c->export_s3_uri, "s3://", 5) != 0 ||
				 c->export_s3_uri[5] == '\0' || c->export_s3_uri[5] == '/'))
		return fail(&e, "FEATURE_STORE_EXPORT_S3_URI", c->export_s3_uri,
			    "must be s3://bucket[/prefix]");
	if (!get_int(&e, "FEATURE_STORE_RETENTION_DAYS", 90, 1, 36500, &n))
		return false;
	c->retention_days = (int)n;
	get_str(&e, "FEATURE_STORE_PARQUET_BATCH_CRON", "*/15 * * * *", &c->parquet_batch_cron);
	char why[160];
	if (!lav_cron_parse(c->parquet_batch_cron, &c->parquet_cron, why, sizeof(why)))
		return fail(&e, "FEATURE_STORE_PARQUET_BATCH_CRON", c->parquet_batch_cron, why);
	if (!get_int(&e, "FEATURE_STORE_PG_PARTITION_DAYS", 7, 1, 366, &n))
		return false;
	c->pg_partition_days = (int)n;

	c->score_weights[0] = 0.4;
	c->score_weights[1] = 0.4;
	c->score_weights[2] = 0.2;
	if (!get_list(&e, "LIQ_SCORE_WEIGHTS", 3, c->score_weights, &c->has_score_weights))
		return false;
	if (c->has_score_weights) {
		double sum = 0;
		for (int i = 0; i < 3; i++) {
			if (c->score_weights[i] < 0)
				return fail(&e, "LIQ_SCORE_WEIGHTS", val(&e, "LIQ_SCORE_WEIGHTS"),
					    "weights must be >= 0");
			sum += c->score_weights[i];
		}
		if (sum <= 0)
			return fail(&e, "LIQ_SCORE_WEIGHTS", val(&e, "LIQ_SCORE_WEIGHTS"),
				    "at least one weight must be > 0");
	}
	double th[2] = {0.8, -0.8};
	if (!get_list(&e, "LIQ_SCORE_THRESHOLDS", 2, th, &c->has_thresholds))
		return false;
	if (th[1] >= th[0])
		return fail(&e, "LIQ_SCORE_THRESHOLDS", val(&e, "LIQ_SCORE_THRESHOLDS"),
			    "theta_hi must be greater than theta_lo");
	c->threshold_hi = th[0];
	c->threshold_lo = th[1];
	if (!get_double(&e, "LIQ_SCORE_SMOOTHING_ALPHA", 0.2, 0, 1, true, &c->smoothing_alpha,
			&c->has_alpha))
		return false;
	if (!get_double(&e, "LIQ_REGIME_FLIP_CONFIRMATION_HOURS", 24, 0, 8760, false,
			&c->flip_confirmation_hours, &c->has_flip_hours))
		return false;
	if (!get_double(&e, "FEATURE_DQ_COVERAGE_MIN", 0.80, 0, 1, false, &c->dq_coverage_min,
			NULL))
		return false;
	if (!get_double(&e, "FEATURE_DQ_FRESHNESS_MAX_RATIO", 1.5, 0, 1000, true,
			&c->dq_freshness_max_ratio, NULL))
		return false;
	if (!get_int(&e, "FEATURE_API_RATE_LIMIT_RPM", 1000, 1, 100000000, &n))
		return false;
	c->rate_limit_rpm = (int)n;
	return true;
}

void lav_config_free(struct lav_config *c)
{
	free(c->pg_dsn);
	free(c->redis_url);
	free(c->config_dir);
	free(c->tokens_file);
	free(c->export_s3_uri);
	free(c->parquet_batch_cron);
	free(c->execution_mode);
	memset(c, 0, sizeof(*c));
}
