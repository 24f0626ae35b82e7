/* lav_config_load with a table-driven environment. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lav/config.h"

#define MAXVARS 16

struct env {
	const char *k[MAXVARS];
	const char *v[MAXVARS];
	int n;
	int calls;
};

static const char *table_get(const char *name, void *arg)
{
	struct env *e = arg;
	e->calls++;
	for (int i = 0; i < e->n; i++)
		if (strcmp(e->k[i], name) == 0)
			return e->v[i];
	return NULL;
}

static void env_set(struct env *e, const char *k, const char *v)
{
	for (int i = 0; i < e->n; i++)
		if (strcmp(e->k[i], k) == 0) {
			e->v[i] = v;
			return;
		}
	cr_assert_lt(e->n, MAXVARS);
	e->k[e->n] = k;
	e->v[e->n] = v;
	e->n++;
}

/* The minimal valid environment plus one variable. */
static void env_base(struct env *e, const char *k, const char *v)
{
	memset(e, 0, sizeof(*e));
	env_set(e, "LAV_PG_DSN", "host=/tmp dbname=lav");
	if (k)
		env_set(e, k, v);
}

static char err[512];

static bool load(struct env *e, struct lav_config *c)
{
	memset(err, 0, sizeof(err));
	return lav_config_load(c, table_get, e, err, sizeof(err));
}

/* name=value must load; the config is left for the caller to inspect and free. */
static void load_ok(const char *k, const char *v, struct lav_config *c)
{
	struct env e;
	env_base(&e, k, v);
	bool ok = load(&e, c);
	if (!ok) {
		lav_config_free(c);
		cr_assert_fail("%s=\"%s\" rejected: %s", k ? k : "-", v ? v : "", err);
	}
}

/* name=value must fail with an error naming `name` (or `names`, when set). */
static void load_bad_env(struct env *e, const char *names)
{
	struct lav_config c;
	bool ok = load(e, &c);
	lav_config_free(&c);
	cr_assert_not(ok, "environment accepted, expected an error naming %s", names);
	cr_assert_not_null(strstr(err, names), "error \"%s\" does not name %s", err, names);
}

static void load_bad(const char *k, const char *v)
{
	struct env e;
	env_base(&e, k, v);
	struct lav_config c;
	bool ok = load(&e, &c);
	lav_config_free(&c);
	cr_assert_not(ok, "%s=\"%s\" accepted", k, v);
	cr_assert_not_null(strstr(err, k), "%s=\"%s\": error \"%s\" does not name the variable", k,
			   v, err);
}

/* ---- defaults, checked against lav_config_help() ---- */

/* Default column of NAME's help line (text up to the next double space). */
static void help_default(const char *name, char *out, size_t outlen)
{
	const char *h = lav_config_help();
	size_t nl = strlen(name);
	const char *line = h;
	while (line && *line) {
		if (strncmp(line, name, nl) == 0 && line[nl] == ' ')
			break;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	cr_assert(line && *line, "%s is not in lav_config_help()", name);
	const char *p = line + nl;
	while (*p == ' ')
		p++;
	const char *end = strstr(p, "  ");
	const char *eol = strchr(p, '\n');
	cr_assert_not_null(end);
	if (eol && eol < end)
		end = eol;
	size_t n = (size_t)(end - p);
	cr_assert_lt(n, outlen);
	memcpy(out, p, n);
	out[n] = '\0';
}

static void help_says(const char *name, const char *want)
{
	char got[128];
	help_default(name, got, sizeof(got));
	cr_assert_str_eq(got, want, "help text default of %s is \"%s\", the code uses \"%s\"", name,
			 got, want);
}

Test(config_defaults, every_field)
{
	struct lav_config c;
	load_ok(NULL, NULL, &c);

	help_says("LAV_LISTEN", "127.0.0.1:8080");
	cr_assert_str_eq(c.listen_host, "127.0.0.1");
	cr_assert_eq(c.listen_port, 8080);
	cr_assert(c.listen_loopback);

	help_says("LAV_PG_DSN", "(required)");
	cr_assert_str_eq(c.pg_dsn, "host=/tmp dbname=lav");

	help_says("LAV_REDIS_URL", "(unset)");
	cr_assert_null(c.redis_url);

	help_says("LAV_CONFIG_DIR", "config");
	cr_assert_str_eq(c.config_dir, "config");

	help_says("LAV_TOKENS_FILE", "(unset)");
	cr_assert_null(c.tokens_file);

	help_says("LAV_LOG_LEVEL", "info");
	cr_assert_eq(c.log_level, LAV_LOG_INFO);

	help_says("ORACLE_SOURCE_MODE", "mock");
	cr_assert_eq(c.source_mode, LAV_SOURCE_MOCK);

	help_says("LAV_MOCK_SEED", "42");
	cr_assert_eq(c.mock_seed, 42);

	help_says("LIQ_SCORE_GRID_STEP", "1h");
	cr_assert_eq(c.grid_step_ms, 3600000);
	cr_assert_not(c.has_grid_step);

	help_says("LAV_MAX_BODY_BYTES", "8388608");
	cr_assert_eq(c.max_body_bytes, 8388608);
	help_says("LAV_MAX_HEADER_BYTES", "16384");
	cr_assert_eq(c.max_header_bytes, 16384);
	help_says("LAV_MAX_CONNECTIONS", "16384");
	cr_assert_eq(c.max_connections, 16384);
	help_says("LAV_IDLE_TIMEOUT_MS", "60000");
	cr_assert_eq(c.idle_timeout_ms, 60000);
	help_says("LAV_REQUEST_TIMEOUT_MS", "30000");
	cr_assert_eq(c.request_timeout_ms, 30000);
	help_says("LAV_SHUTDOWN_GRACE_MS", "10000");
	cr_assert_eq(c.shutdown_grace_ms, 10000);

	help_says("LAV_PG_POOL_SIZE", "4");
	cr_assert_eq(c.pg_pool_size, 4);
	help_says("LAV_PG_STATEMENT_TIMEOUT_MS", "30000");
	cr_assert_eq(c.pg_statement_timeout_ms, 30000);
	help_says("LAV_HOT_POINTS", "5000");
	cr_assert_eq(c.hot_points, 5000);
	help_says("LAV_QUERY_MAX_POINTS", "1000000");
	cr_assert_eq(c.query_max_points, 1000000);

	help_says("FEATURE_STORE_EXPORT_S3_URI", "(unset)");
	cr_assert_null(c.export_s3_uri);
	help_says("FEATURE_STORE_RETENTION_DAYS", "90");
	cr_assert_eq(c.retention_days, 90);
	help_says("FEATURE_STORE_PARQUET_BATCH_CRON", "*/15 * * * *");
	cr_assert_str_eq(c.parquet_batch_cron, "*/15 * * * *");
	cr_assert_eq(c.parquet_cron.minute, (1ULL << 0) | (1ULL << 15) | (1ULL << 30) | (1ULL << 45));
	help_says("FEATURE_STORE_PG_PARTITION_DAYS", "7");
	cr_assert_eq(c.pg_partition_days, 7);

	help_says("LIQ_SCORE_WEIGHTS", "0.4,0.4,0.2");
	cr_assert_not(c.has_score_weights);
	cr_assert_float_eq(c.score_weights[0], 0.4, 1e-12);
	cr_assert_float_eq(c.score_weights[1], 0.4, 1e-12);
	cr_assert_float_eq(c.score_weights[2], 0.2, 1e-12);
	help_says("LIQ_SCORE_THRESHOLDS", "0.8,-0.8");
	cr_assert_not(c.has_thresholds);
	cr_assert_float_eq(c.threshold_hi, 0.8, 1e-12);
	cr_assert_float_eq(c.threshold_lo, -0.8, 1e-12);
	help_says("LIQ_SCORE_SMOOTHING_ALPHA", "0.2");
	cr_assert_not(c.has_alpha);
	cr_assert_float_eq(c.smoothing_alpha, 0.2, 1e-12);
	help_says("LIQ_REGIME_FLIP_CONFIRMATION_HOURS", "24");
	cr_assert_not(c.has_flip_hours);
	cr_assert_float_eq(c.flip_confirmation_hours, 24, 1e-12);

	help_says("FEATURE_DQ_COVERAGE_MIN", "0.80");
	cr_assert_float_eq(c.dq_coverage_min, 0.80, 1e-12);
	help_says("FEATURE_DQ_FRESHNESS_MAX_RATIO", "1.5");
	cr_assert_float_eq(c.dq_freshness_max_ratio, 1.5, 1e-12);
	help_says("FEATURE_API_RATE_LIMIT_RPM", "1000");
	cr_assert_eq(c.rate_limit_rpm, 1000);
	help_says("EXECUTION_MODE", "dry-run");
	cr_assert_str_eq(c.execution_mode, "dry-run");

	lav_config_free(&c);
}

/* Every documented default, given explicitly, is a valid value and leaves
 * the configuration as it was without it. */
Test(config_defaults, help_defaults_are_valid_values)
{
	struct lav_config def;
	load_ok(NULL, NULL, &def);
	const char *h = lav_config_help();
	int checked = 0;
	for (const char *line = h; line && *line;) {
		const char *eol = strchr(line, '\n');
		char name[64];
		size_t nl = strcspn(line, " ");
		cr_assert_lt(nl, sizeof(name));
		memcpy(name, line, nl);
		name[nl] = '\0';
		line = eol ? eol + 1 : NULL;
		if (strchr(name, '<'))
			continue;
		char dv[128];
		help_default(name, dv, sizeof(dv));
		if (dv[0] == '(')
			continue;
		struct lav_config c;
		load_ok(name, dv, &c);
		cr_assert_eq(c.listen_port, def.listen_port, "%s", name);
		cr_assert_eq(c.max_body_bytes, def.max_body_bytes, "%s", name);
		cr_assert_eq(c.grid_step_ms, def.grid_step_ms, "%s", name);
		cr_assert_eq(c.retention_days, def.retention_days, "%s", name);
		cr_assert_eq(c.rate_limit_rpm, def.rate_limit_rpm, "%s", name);
		cr_assert_eq(c.mock_seed, def.mock_seed, "%s", name);
		cr_assert_eq(c.parquet_cron.minute, def.parquet_cron.minute, "%s", name);
		cr_assert_float_eq(c.smoothing_alpha, def.smoothing_alpha, 1e-15, "%s", name);
		cr_assert_float_eq(c.dq_coverage_min, def.dq_coverage_min, 1e-15, "%s", name);
		cr_assert_float_eq(c.score_weights[2], def.score_weights[2], 1e-15, "%s", name);
		cr_assert_float_eq(c.threshold_lo, def.threshold_lo, 1e-15, "%s", name);
		lav_config_free(&c);
		checked++;
	}
	lav_config_free(&def);
	cr_assert_geq(checked, 25);
}

Test(config_defaults, help_lists_source_overrides)
{
	cr_assert_not_null(strstr(lav_config_help(), "LAV_SOURCE_<ID>_URL"));
	cr_assert_not_null(strstr(lav_config_help(), "LAV_SOURCE_<ID>_KEY"));
}

Test(config_defaults, empty_value_means_unset)
{
	struct env e;
	env_base(&e, "LAV_LOG_LEVEL", "");
	env_set(&e, "LAV_REDIS_URL", "");
	env_set(&e, "LIQ_SCORE_WEIGHTS", "");
	struct lav_config c;
	bool ok = load(&e, &c);
	cr_assert(ok, "%s", err);
	cr_assert_eq(c.log_level, LAV_LOG_INFO);
	cr_assert_null(c.redis_url);
	cr_assert_not(c.has_score_weights);
	lav_config_free(&c);
}

Test(config_defaults, free_twice_is_harmless)
{
	struct lav_config c;
	load_ok(NULL, NULL, &c);
	lav_config_free(&c);
	lav_config_free(&c);
}

/* ---- LAV_PG_DSN ---- */

Test(config_pg, dsn_required)
{
	struct env e;
	memset(&e, 0, sizeof(e));
	load_bad_env(&e, "LAV_PG_DSN");
	env_set(&e, "LAV_PG_DSN", "");
	load_bad_env(&e, "LAV_PG_DSN");
}

Test(config_pg, uri_accepted)
{
	struct lav_config c;
	load_ok("LAV_PG_DSN", "postgresql://lav@localhost:5432/lav?sslmode=disable", &c);
	cr_assert_str_eq(c.pg_dsn, "postgresql://lav@localhost:5432/lav?sslmode=disable");
	lav_config_free(&c);
}

/* ---- LAV_LISTEN ---- */

Test(config_listen, good_values)
{
	struct lav_config c;
	load_ok("LAV_LISTEN", "127.0.0.1:9090", &c);
	cr_assert_str_eq(c.listen_host, "127.0.0.1");
	cr_assert_eq(c.listen_port, 9090);
	cr_assert(c.listen_loopback);
	lav_config_free(&c);

	load_ok("LAV_LISTEN", "127.3.2.1:1", &c);
	cr_assert(c.listen_loopback);
	cr_assert_eq(c.listen_port, 1);
	lav_config_free(&c);

	load_ok("LAV_LISTEN", "localhost:65535", &c);
	cr_assert_str_eq(c.listen_host, "localhost");
	cr_assert_eq(c.listen_port, 65535);
	cr_assert(c.listen_loopback);
	lav_config_free(&c);
}

Test(config_listen, ipv6_loopback)
{
	struct lav_config c;
	load_ok("LAV_LISTEN", "[::1]:8080", &c);
	cr_assert_str_eq(c.listen_host, "::1");
	cr_assert_eq(c.listen_port, 8080);
	cr_assert(c.listen_loopback);
	lav_config_free(&c);
}

Test(config_listen, bad_ports)
{
	load_bad("LAV_LISTEN", "127.0.0.1");
	load_bad("LAV_LISTEN", "127.0.0.1:");
	load_bad("LAV_LISTEN", "127.0.0.1:0");
	load_bad("LAV_LISTEN", "127.0.0.1:65536");
	load_bad("LAV_LISTEN", "127.0.0.1:-1");
	load_bad("LAV_LISTEN", "127.0.0.1:80a");
	load_bad("LAV_LISTEN", "127.0.0.1:http");
	load_bad("LAV_LISTEN", "127.0.0.1:99999999999999999999");
}

Test(config_listen, bad_hosts)
{
	load_bad("LAV_LISTEN", ":8080");
	load_bad("LAV_LISTEN", "example.com:8080");
	load_bad("LAV_LISTEN", "256.0.0.1:8080");
	load_bad("LAV_LISTEN", "[]:8080");
	load_bad("LAV_LISTEN", "[::1]");
	load_bad("LAV_LISTEN",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:80");
}

Test(config_listen, non_loopback_needs_tokens)
{
	struct env e;
	env_base(&e, "LAV_LISTEN", "0.0.0.0:8080");
	load_bad_env(&e, "LAV_LISTEN");
	cr_assert_not_null(strstr(err, "LAV_TOKENS_FILE"), "%s", err);

	env_base(&e, "LAV_LISTEN", "[::]:8080");
	load_bad_env(&e, "LAV_LISTEN");
	cr_assert_not_null(strstr(err, "LAV_TOKENS_FILE"), "%s", err);

	env_base(&e, "LAV_LISTEN", "192.168.1.10:8080");
	load_bad_env(&e, "LAV_LISTEN");

	env_base(&e, "LAV_LISTEN", "0.0.0.0:8080");
	env_set(&e, "LAV_TOKENS_FILE", "/etc/lav/tokens.json");
	struct lav_config c;
	cr_assert(load(&e, &c), "%s", err);
	cr_assert_not(c.listen_loopback);
	cr_assert_str_eq(c.tokens_file, "/etc/lav/tokens.json");
	lav_config_free(&c);

	env_base(&e, "LAV_LISTEN", "[::]:8080");
	env_set(&e, "LAV_TOKENS_FILE", "tokens.json");
	cr_assert(load(&e, &c), "%s", err);
	cr_assert_not(c.listen_loopback);
	cr_assert_str_eq(c.listen_host, "::");
	lav_config_free(&c);
}

/* ---- LAV_REDIS_URL ---- */

Test(config_redis, forms)
{
	struct lav_config c;
	load_ok("LAV_REDIS_URL", "redis://127.0.0.1:6380/2", &c);
	cr_assert_str_eq(c.redis_url, "redis://127.0.0.1:6380/2");
	cr_assert_str_eq(c.redis_host, "127.0.0.1");
	cr_assert_eq(c.redis_port, 6380);
	cr_assert_eq(c.redis_db, 2);
	lav_config_free(&c);

	load_ok("LAV_REDIS_URL", "redis://cache", &c);
	cr_assert_str_eq(c.redis_host, "cache");
	cr_assert_eq(c.redis_port, 6379);
	cr_assert_eq(c.redis_db, 0);
	lav_config_free(&c);

	load_ok("LAV_REDIS_URL", "redis://cache/", &c);
	cr_assert_str_eq(c.redis_host, "cache");
	cr_assert_eq(c.redis_port, 6379);
	cr_assert_eq(c.redis_db, 0);
	lav_config_free(&c);

	load_ok("LAV_REDIS_URL", "redis://localhost:1/15", &c);
	cr_assert_eq(c.redis_port, 1);
	cr_assert_eq(c.redis_db, 15);
	lav_config_free(&c);

	load_ok("LAV_REDIS_URL", "redis://r.example:65535", &c);
	cr_assert_str_eq(c.redis_host, "r.example");
	cr_assert_eq(c.redis_port, 65535);
	lav_config_free(&c);
}

Test(config_redis, bad_values)
{
	load_bad("LAV_REDIS_URL", "http://127.0.0.1:6379");
	load_bad("LAV_REDIS_URL", "127.0.0.1:6379");
	load_bad("LAV_REDIS_URL", "redis://");
	load_bad("LAV_REDIS_URL", "redis://:6379");
	load_bad("LAV_REDIS_URL", "redis://h:");
	load_bad("LAV_REDIS_URL", "redis://h:0");
	load_bad("LAV_REDIS_URL", "redis://h:65536");
	load_bad("LAV_REDIS_URL", "redis://h:abc");
	load_bad("LAV_REDIS_URL", "redis://h:6379x/1");
	load_bad("LAV_REDIS_URL", "redis://h/16");
	load_bad("LAV_REDIS_URL", "redis://h/-1");
	load_bad("LAV_REDIS_URL", "redis://h/x");
	load_bad("LAV_REDIS_URL", "redis://h:6379/1x");
	load_bad("LAV_REDIS_URL", "redis://user:pass@h:6379/0");
}

/* ---- enums ---- */

Test(config_enums, log_level)
{
	const char *names[] = {"debug", "info", "warn", "error"};
	for (int i = 0; i < 4; i++) {
		struct lav_config c;
		load_ok("LAV_LOG_LEVEL", names[i], &c);
		cr_assert_eq((int)c.log_level, i, "%s", names[i]);
		lav_config_free(&c);
	}
	load_bad("LAV_LOG_LEVEL", "verbose");
	load_bad("LAV_LOG_LEVEL", "warning");
	load_bad("LAV_LOG_LEVEL", "info ");
	cr_assert_not_null(strstr(err, "debug, info, warn, error"), "%s", err);
}

Test(config_enums, source_mode)
{
	struct lav_config c;
	load_ok("ORACLE_SOURCE_MODE", "shadow", &c);
	cr_assert_eq(c.source_mode, LAV_SOURCE_SHADOW);
	lav_config_free(&c);
	load_ok("ORACLE_SOURCE_MODE", "off", &c);
	cr_assert_eq(c.source_mode, LAV_SOURCE_OFF);
	lav_config_free(&c);
	load_ok("ORACLE_SOURCE_MODE", "mock", &c);
	cr_assert_eq(c.source_mode, LAV_SOURCE_MOCK);
	lav_config_free(&c);
	load_bad("ORACLE_SOURCE_MODE", "live");
	load_bad("ORACLE_SOURCE_MODE", "real");
}

Test(config_enums, execution_mode_only_dry_run)
{
	struct lav_config c;
	load_ok("EXECUTION_MODE", "dry-run", &c);
	cr_assert_str_eq(c.execution_mode, "dry-run");
	lav_config_free(&c);
	load_bad("EXECUTION_MODE", "live");
	load_bad("EXECUTION_MODE", "paper");
	load_bad("EXECUTION_MODE", "dry_run");
}

/* ---- numbers ---- */

Test(config_numbers, mock_seed)
{
	struct lav_config c;
	load_ok("LAV_MOCK_SEED", "7", &c);
	cr_assert_eq(c.mock_seed, 7);
	lav_config_free(&c);
	load_ok("LAV_MOCK_SEED", "9223372036854775807", &c);
	cr_assert_eq(c.mock_seed, 9223372036854775807ULL);
	lav_config_free(&c);
	load_bad("LAV_MOCK_SEED", "-1");
	load_bad("LAV_MOCK_SEED", "seed");
	load_bad("LAV_MOCK_SEED", "99999999999999999999");
}

Test(config_numbers, http_limits)
{
	struct lav_config c;
	load_ok("LAV_MAX_BODY_BYTES", "1024", &c);
	cr_assert_eq(c.max_body_bytes, 1024);
	lav_config_free(&c);
	load_ok("LAV_MAX_CONNECTIONS", "1", &c);
	cr_assert_eq(c.max_connections, 1);
	lav_config_free(&c);
	load_bad("LAV_MAX_BODY_BYTES", "100");
	load_bad("LAV_MAX_BODY_BYTES", "1MB");
	load_bad("LAV_MAX_HEADER_BYTES", "0");
	load_bad("LAV_MAX_CONNECTIONS", "0");
	load_bad("LAV_IDLE_TIMEOUT_MS", "99");
	load_bad("LAV_REQUEST_TIMEOUT_MS", "-5");
	load_bad("LAV_SHUTDOWN_GRACE_MS", "600001");
	load_ok("LAV_SHUTDOWN_GRACE_MS", "0", &c);
	cr_assert_eq(c.shutdown_grace_ms, 0);
	lav_config_free(&c);
}

Test(config_numbers, rate_limit_rpm)
{
	struct lav_config c;
	load_ok("FEATURE_API_RATE_LIMIT_RPM", "60", &c);
	cr_assert_eq(c.rate_limit_rpm, 60);
	lav_config_free(&c);
	load_bad("FEATURE_API_RATE_LIMIT_RPM", "abc");
	load_bad("FEATURE_API_RATE_LIMIT_RPM", "0");
	load_bad("FEATURE_API_RATE_LIMIT_RPM", "-10");
	load_bad("FEATURE_API_RATE_LIMIT_RPM", "12abc");
	load_bad("FEATURE_API_RATE_LIMIT_RPM", "1.5");
}

Test(config_numbers, feature_store)
{
	struct lav_config c;
	load_ok("FEATURE_STORE_RETENTION_DAYS", "30", &c);
	cr_assert_eq(c.retention_days, 30);
	lav_config_free(&c);
	load_bad("FEATURE_STORE_RETENTION_DAYS", "0");
	load_bad("FEATURE_STORE_PG_PARTITION_DAYS", "0");
	load_bad("FEATURE_STORE_PG_PARTITION_DAYS", "367");
	load_ok("FEATURE_STORE_EXPORT_S3_URI", "s3://bucket/prefix/x", &c);
	cr_assert_str_eq(c.export_s3_uri, "s3://bucket/prefix/x");
	lav_config_free(&c);
	load_ok("FEATURE_STORE_EXPORT_S3_URI", "s3://bucket", &c);
	lav_config_free(&c);
	load_bad("FEATURE_STORE_EXPORT_S3_URI", "http://bucket");
	load_bad("FEATURE_STORE_EXPORT_S3_URI", "s3://");
	load_bad("FEATURE_STORE_EXPORT_S3_URI", "s3:///prefix");
}

Test(config_numbers, data_quality)
{
	struct lav_config c;
	load_ok("FEATURE_DQ_COVERAGE_MIN", "0.5", &c);
	cr_assert_float_eq(c.dq_coverage_min, 0.5, 1e-12);
	lav_config_free(&c);
	load_ok("FEATURE_DQ_COVERAGE_MIN", "0", &c);
	lav_config_free(&c);
	load_bad("FEATURE_DQ_COVERAGE_MIN", "1.5");
	load_bad("FEATURE_DQ_COVERAGE_MIN", "-0.1");
	load_bad("FEATURE_DQ_FRESHNESS_MAX_RATIO", "0");
	load_bad("FEATURE_DQ_FRESHNESS_MAX_RATIO", "x");
	load_ok("FEATURE_DQ_FRESHNESS_MAX_RATIO", "2", &c);
	cr_assert_float_eq(c.dq_freshness_max_ratio, 2, 1e-12);
	lav_config_free(&c);
}

/* ---- LIQ_SCORE_GRID_STEP ---- */

Test(config_grid, accepted_steps)
{
	struct {
		const char *v;
		int64_t ms;
	} ok[] = {{"1s", 1000}, {"5s", 5000}, {"1m", 60000}, {"5m", 300000}, {"15m", 900000},
		  {"1h", 3600000}, {"2h", 7200000}, {"1d", 86400000}, {"1000ms", 1000}};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct lav_config c;
		load_ok("LIQ_SCORE_GRID_STEP", ok[i].v, &c);
		cr_assert(c.has_grid_step, "%s", ok[i].v);
		cr_assert_eq(c.grid_step_ms, ok[i].ms, "%s", ok[i].v);
		lav_config_free(&c);
	}
}

Test(config_grid, rejected_steps)
{
	const char *bad[] = {"7s", "7m", "7h", "2d", "1w", "500ms", "1500ms", "0s", "0h", "abc",
			     "1", "h", "-1h", "1.5h"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		load_bad("LIQ_SCORE_GRID_STEP", bad[i]);
}

Test(config_grid, evaluation_delay)
{
	struct lav_config c;
	load_ok(NULL, NULL, &c);
	cr_assert_eq(c.grid_delay_ms, -1, "unset: the engine derives it from the step");
	lav_config_free(&c);
	struct {
		const char *v;
		int64_t ms;
	} ok[] = {{"0s", 0}, {"250ms", 250}, {"1s", 1000}, {"30s", 30000}, {"5m", 300000},
		  {"1d", 86400000}};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		load_ok("LIQ_SCORE_GRID_DELAY", ok[i].v, &c);
		cr_assert_eq(c.grid_delay_ms, ok[i].ms, "%s", ok[i].v);
		lav_config_free(&c);
	}
	const char *bad[] = {"abc", "-1s", "2d", "1.5s", "10", "1y"}; /* "" is unset */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		load_bad("LIQ_SCORE_GRID_DELAY", bad[i]);
}

/* ---- FEATURE_STORE_PARQUET_BATCH_CRON ---- */

Test(config_cron, parquet_cron)
{
	struct lav_config c;
	load_ok("FEATURE_STORE_PARQUET_BATCH_CRON", "0 * * * *", &c);
	cr_assert_eq(c.parquet_cron.minute, 1ULL);
	cr_assert_str_eq(c.parquet_batch_cron, "0 * * * *");
	lav_config_free(&c);
	load_bad("FEATURE_STORE_PARQUET_BATCH_CRON", "* * *");
	load_bad("FEATURE_STORE_PARQUET_BATCH_CRON", "60 * * * *");
	load_bad("FEATURE_STORE_PARQUET_BATCH_CRON", "*/15 * * * * *");
	load_bad("FEATURE_STORE_PARQUET_BATCH_CRON", "every 15 minutes");
	/* the cron parser's reason is passed on */
	cr_assert_gt(strlen(err), strlen("FEATURE_STORE_PARQUET_BATCH_CRON=\"\": "));
}

/* ---- LIQ_* ---- */

Test(config_liq, weights)
{
	struct lav_config c;
	load_ok("LIQ_SCORE_WEIGHTS", "0.5,0.3,0.2", &c);
	cr_assert(c.has_score_weights);
	cr_assert_float_eq(c.score_weights[0], 0.5, 1e-12);
	cr_assert_float_eq(c.score_weights[1], 0.3, 1e-12);
	cr_assert_float_eq(c.score_weights[2], 0.2, 1e-12);
	lav_config_free(&c);
	load_ok("LIQ_SCORE_WEIGHTS", " 1 , 0 , 0 ", &c);
	cr_assert_float_eq(c.score_weights[0], 1, 1e-12);
	lav_config_free(&c);
	load_bad("LIQ_SCORE_WEIGHTS", "0.5,0.5");
	load_bad("LIQ_SCORE_WEIGHTS", "0.4");
	load_bad("LIQ_SCORE_WEIGHTS", "0.1,0.2,0.3,0.4");
	load_bad("LIQ_SCORE_WEIGHTS", "-0.1,0.6,0.5");
	load_bad("LIQ_SCORE_WEIGHTS", "0.4,-0.4,0.2");
	load_bad("LIQ_SCORE_WEIGHTS", "0,0,0");
	load_bad("LIQ_SCORE_WEIGHTS", "a,b,c");
	load_bad("LIQ_SCORE_WEIGHTS", "0.4,0.4,x");
	load_bad("LIQ_SCORE_WEIGHTS", "0.4;0.4;0.2");
	load_bad("LIQ_SCORE_WEIGHTS", "0.4,inf,0.2");
	load_bad("LIQ_SCORE_WEIGHTS", "0.4,nan,0.2");
}

/* "0.5,,0.3,0.2" names four items (one empty): a typo, not three weights. */
Test(config_liq, weights_empty_items_rejected)
{
	load_bad("LIQ_SCORE_WEIGHTS", "0.4,,0.4,0.2");
	load_bad("LIQ_SCORE_WEIGHTS", "0.4,0.4,0.2,");
	load_bad("LIQ_SCORE_WEIGHTS", ",0.4,0.4,0.2");
	load_bad("LIQ_SCORE_THRESHOLDS", "0.8,,-0.8");
}

Test(config_liq, thresholds)
{
	struct lav_config c;
	load_ok("LIQ_SCORE_THRESHOLDS", "1.0,-1.0", &c);
	cr_assert(c.has_thresholds);
	cr_assert_float_eq(c.threshold_hi, 1.0, 1e-12);
	cr_assert_float_eq(c.threshold_lo, -1.0, 1e-12);
	lav_config_free(&c);
	load_ok("LIQ_SCORE_THRESHOLDS", "0.1,0", &c);
	lav_config_free(&c);
	load_bad("LIQ_SCORE_THRESHOLDS", "0.5,0.5");
	load_bad("LIQ_SCORE_THRESHOLDS", "-0.8,0.8");
	load_bad("LIQ_SCORE_THRESHOLDS", "0.8");
	load_bad("LIQ_SCORE_THRESHOLDS", "0.8,-0.8,0");
	load_bad("LIQ_SCORE_THRESHOLDS", "high,low");
}

Test(config_liq, smoothing_alpha)
{
	struct lav_config c;
	load_ok("LIQ_SCORE_SMOOTHING_ALPHA", "1", &c);
	cr_assert(c.has_alpha);
	cr_assert_float_eq(c.smoothing_alpha, 1.0, 1e-12);
	lav_config_free(&c);
	load_ok("LIQ_SCORE_SMOOTHING_ALPHA", "0.5", &c);
	cr_assert_float_eq(c.smoothing_alpha, 0.5, 1e-12);
	lav_config_free(&c);
	load_ok("LIQ_SCORE_SMOOTHING_ALPHA", "1e-3", &c);
	cr_assert_float_eq(c.smoothing_alpha, 0.001, 1e-15);
	lav_config_free(&c);
	load_bad("LIQ_SCORE_SMOOTHING_ALPHA", "0");
	load_bad("LIQ_SCORE_SMOOTHING_ALPHA", "0.0");
	load_bad("LIQ_SCORE_SMOOTHING_ALPHA", "1.5");
	load_bad("LIQ_SCORE_SMOOTHING_ALPHA", "-0.2");
	load_bad("LIQ_SCORE_SMOOTHING_ALPHA", "abc");
	load_bad("LIQ_SCORE_SMOOTHING_ALPHA", "0.2x");
	load_bad("LIQ_SCORE_SMOOTHING_ALPHA", "nan");
	load_bad("LIQ_SCORE_SMOOTHING_ALPHA", "inf");
}

Test(config_liq, flip_confirmation_hours)
{
	struct lav_config c;
	load_ok("LIQ_REGIME_FLIP_CONFIRMATION_HOURS", "0", &c);
	cr_assert(c.has_flip_hours);
	cr_assert_float_eq(c.flip_confirmation_hours, 0, 1e-12);
	lav_config_free(&c);
	load_ok("LIQ_REGIME_FLIP_CONFIRMATION_HOURS", "12.5", &c);
	cr_assert_float_eq(c.flip_confirmation_hours, 12.5, 1e-12);
	lav_config_free(&c);
	load_ok("LIQ_REGIME_FLIP_CONFIRMATION_HOURS", "8760", &c);
	lav_config_free(&c);
	load_bad("LIQ_REGIME_FLIP_CONFIRMATION_HOURS", "-1");
	load_bad("LIQ_REGIME_FLIP_CONFIRMATION_HOURS", "8761");
	load_bad("LIQ_REGIME_FLIP_CONFIRMATION_HOURS", "24h");
}

Test(config_liq, several_overrides_together)
{
	struct env e;
	env_base(&e, "LIQ_SCORE_WEIGHTS", "0.6,0.3,0.1");
	env_set(&e, "LIQ_SCORE_THRESHOLDS", "0.5,-0.5");
	env_set(&e, "LIQ_SCORE_SMOOTHING_ALPHA", "0.3");
	env_set(&e, "LIQ_REGIME_FLIP_CONFIRMATION_HOURS", "48");
	env_set(&e, "LIQ_SCORE_GRID_STEP", "15m");
	struct lav_config c;
	cr_assert(load(&e, &c), "%s", err);
	cr_assert(c.has_score_weights && c.has_thresholds && c.has_alpha && c.has_flip_hours &&
		  c.has_grid_step);
	cr_assert_float_eq(c.score_weights[0], 0.6, 1e-12);
	cr_assert_float_eq(c.threshold_lo, -0.5, 1e-12);
	cr_assert_float_eq(c.smoothing_alpha, 0.3, 1e-12);
	cr_assert_float_eq(c.flip_confirmation_hours, 48, 1e-12);
	cr_assert_eq(c.grid_step_ms, 900000);
	lav_config_free(&c);
}

Test(config_misc, error_is_terminated_in_a_small_buffer)
{
	struct env e;
	env_base(&e, "LAV_LOG_LEVEL", "nope");
	struct lav_config c;
	char small[12];
	memset(small, 'x', sizeof(small));
	cr_assert_not(lav_config_load(&c, table_get, &e, small, sizeof(small)));
	lav_config_free(&c);
	cr_assert_eq(strlen(small), sizeof(small) - 1);
	cr_assert_eq(strncmp(small, "LAV_LOG_LEV", 11), 0);
}

Test(config_misc, strings_are_copied)
{
	char dsn[] = "host=/tmp";
	struct env e;
	memset(&e, 0, sizeof(e));
	env_set(&e, "LAV_PG_DSN", dsn);
	env_set(&e, "LAV_CONFIG_DIR", "/srv/lav/config");
	struct lav_config c;
	cr_assert(load(&e, &c), "%s", err);
	dsn[0] = 'X';
	cr_assert_str_eq(c.pg_dsn, "host=/tmp");
	cr_assert_str_eq(c.config_dir, "/srv/lav/config");
	cr_assert_gt(e.calls, 20);
	lav_config_free(&c);
}
