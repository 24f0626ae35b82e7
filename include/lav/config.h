/* Process configuration from the environment. Parsing is pure: the caller
 * passes a getter, so tests feed a table and lavd passes getenv. Every
 * variable is validated at start; a bad value names the variable. */
#ifndef LAV_CONFIG_H
#define LAV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lav/cron.h"

enum lav_log_level {
	LAV_LOG_DEBUG = 0,
	LAV_LOG_INFO = 1,
	LAV_LOG_WARN = 2,
	LAV_LOG_ERROR = 3,
};

enum lav_source_mode {
	LAV_SOURCE_MOCK = 0,
	LAV_SOURCE_SHADOW = 1,
	LAV_SOURCE_OFF = 2,
};

struct lav_config {
	/* server */
	char listen_host[64]; /* numeric IPv4/IPv6 or "localhost" */
	int listen_port;
	bool listen_loopback;
	char *pg_dsn;
	char *redis_url; /* NULL: run without Redis */
	char redis_host[256];
	int redis_port;
	int redis_db;
	char *config_dir;
	char *tokens_file; /* NULL: no auth, loopback only */
	enum lav_log_level log_level;
	enum lav_source_mode source_mode;
	uint64_t mock_seed;
	/* ingestion (docs/ingestion.md) */
	int64_t poll_interval_ms; /* 0: by frequency */
	int64_t gap_check_interval_ms;
	int64_t source_timeout_ms;
	int source_retries;
	int64_t source_backoff_ms;
	int breaker_failures;
	int64_t breaker_open_ms;
	size_t source_max_bytes;
	bool has_grid_step; /* LIQ_SCORE_GRID_STEP set: overrides grid.step */
	int64_t grid_step_ms;
	int64_t grid_delay_ms; /* LIQ_SCORE_GRID_DELAY; -1 unset: min(10 s, step / 10) */

	/* HTTP limits */
	size_t max_body_bytes;
	size_t max_header_bytes;
	int max_connections;
	int64_t idle_timeout_ms;
	int64_t request_timeout_ms;
	int64_t shutdown_grace_ms;

	/* WebSocket (proto/websocket.md) */
	int64_t ws_ping_ms;
	size_t ws_max_message_bytes;
	size_t ws_max_queued_bytes;

	/* store */
	int pg_pool_size;
	int64_t pg_statement_timeout_ms;
	size_t hot_points;	 /* points kept in memory per series */
	size_t query_max_points; /* largest limit a query may ask for */

	/* feature store (seed variables) */
	char *export_s3_uri; /* NULL: local directory export */
	int retention_days;
	char *parquet_batch_cron;
	struct lav_cron parquet_cron;
	int pg_partition_days;

	/* liquidity score (seed variables); has_* = set in the environment */
	bool has_score_weights;
	double score_weights[3];
	bool has_thresholds;
	double threshold_hi, threshold_lo;
	bool has_alpha;
	double smoothing_alpha;
	bool has_flip_hours;
	double flip_confirmation_hours;

	/* data quality and limits */
	double dq_coverage_min;
	double dq_freshness_max_ratio;
	int rate_limit_rpm;
	char *execution_mode;
};

typedef const char *(*lav_env_get)(const char *name, void *arg);

/* Fills cfg with defaults overridden by the environment. On failure returns
 * false with a message naming the variable in err; cfg must still be freed. */
bool lav_config_load(struct lav_config *cfg, lav_env_get get, void *arg, char *err, size_t errlen);
void lav_config_free(struct lav_config *cfg);

/* One line per variable: name, default and meaning, for `lavd --help`. */
const char *lav_config_help(void);

#endif
