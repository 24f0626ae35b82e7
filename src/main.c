/* lavd: the feature store and LAV PLUS semáforo server.
 *   lavd                 serve (the default)
 *   lavd migrate         apply migrations, record the catalog, exit
 *   lavd check-config    validate environment and config files, exit
 *   lavd backfill --since T --until T [--source ID]
 *                        fill that range from the mock generator or the
 *                        upstreams (docs/ingestion.md), exit
 * Exit codes: 0 ok, 1 runtime failure (e.g. PostgreSQL unreachable),
 * 2 invalid configuration. */
#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lav/api.h"
#include "lav/health.h"
#include "lav/ingest.h"
#include "lav/leader.h"
#include "lav/migrate.h"
#include "lav/pg.h"
#include "lav/redis.h"
#include "lav/semaforo.h"
#include "lav/server.h"
#include "lav/store.h"
#include "lav/timefmt.h"
#include "lav/tz.h"
#include "lav/ws.h"

#define PG_START_WAIT_US (30 * LAV_US_PER_S)

static const char *env_get(const char *name, void *arg)
{
	(void)arg;
	return getenv(name);
}

static void report_errors(const struct lav_log *log, const char *what, struct lav_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		lav_error(log, "%s: %s", what, errs->msg[i]);
	if (errs->dropped)
		lav_error(log, "%s: ... and %zu more errors", what, errs->dropped);
}

/* Environment and config files; false means exit 2. */
static bool load_config(struct lav_server *srv)
{
	char err[512];
	if (!lav_config_load(&srv->cfg, env_get, NULL, err, sizeof(err))) {
		lav_error(&srv->log, "invalid configuration: %s", err);
		return false;
	}
	srv->log.level = srv->cfg.log_level;
	struct lav_errors errs = {0};
	bool ok = lav_catalog_load(srv->cfg.config_dir, env_get, NULL, &srv->catalog, &errs);
	if (ok) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/liquidity.feeds.json", srv->cfg.config_dir);
		json_t *doc = lav_json_load_file(path, &errs);
		ok = doc &&
		     lav_liq_config_parse(doc, path, &srv->catalog, &srv->cfg, &srv->liq, &errs);
		json_decref(doc);
	}
	if (ok && srv->cfg.tokens_file) {
		ok = lav_tokens_load(srv->cfg.tokens_file, &srv->tokens, &errs);
		srv->auth_enabled = ok;
	}
	if (!ok) {
		report_errors(&srv->log, "invalid configuration", &errs);
		lav_errors_free(&errs);
	}
	return ok;
}

/* Migrations and catalog sync over a blocking connection, before serving.
 * Returns the exit code on failure, 0 on success. */
static int prepare_database(struct lav_server *srv)
{
	char err[1024];
	PGconn *c = NULL;
	int64_t deadline = lav_monotonic_us() + PG_START_WAIT_US;
	int delay_ms = 100;
	for (;;) {
		c = lav_pg_connect_blocking(srv->cfg.pg_dsn, "lavd-migrate", err, sizeof(err));
		if (c || lav_monotonic_us() > deadline)
			break;
		lav_warn(&srv->log, "postgres not reachable yet (%s); retrying", err);
		usleep((useconds_t)delay_ms * 1000);
		delay_ms = delay_ms * 2 > 2000 ? 2000 : delay_ms * 2;
	}
	if (!c) {
		lav_error(&srv->log, "cannot connect to PostgreSQL (LAV_PG_DSN): %s", err);
		return 1;
	}
	if (!lav_migrate(c, srv->cfg.pg_partition_days, &srv->log, err, sizeof(err))) {
		lav_error(&srv->log, "migrations: %s", err);
		PQfinish(c);
		return 1;
	}
	struct lav_errors errs = {0};
	bool ok = lav_catalog_sync(c, &srv->catalog, &srv->log, &errs);
	if (!ok) {
		PQfinish(c);
		report_errors(&srv->log, "invalid catalog", &errs);
		lav_errors_free(&errs);
		return 2;
	}
	if (srv->store && !lav_store_load(srv->store, c, err, sizeof(err))) {
		lav_error(&srv->log, "%s", err);
		PQfinish(c);
		return 1;
	}
	if (srv->semaforo && !lav_semaforo_load(srv->semaforo, c, err, sizeof(err))) {
		lav_error(&srv->log, "%s", err);
		PQfinish(c);
		return 1;
	}
	if (srv->ws && !lav_ws_hub_load(srv->ws, c, err, sizeof(err))) {
		lav_error(&srv->log, "%s", err);
		PQfinish(c);
		return 1;
	}
	PQfinish(c);
	return 0;
}

static void on_grace(evutil_socket_t fd, short what, void *arg)
{
	struct lav_server *srv = arg;
	(void)fd;
	(void)what;
	lav_warn(&srv->log, "shutdown grace period over with %d connections open", srv->nconns);
	event_base_loopexit(srv->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct lav_server *srv = arg;
	(void)what;
	if (srv->draining) {
		lav_warn(&srv->log, "second signal: exiting now");
		event_base_loopexit(srv->base, NULL);
		return;
	}
	lav_info(&srv->log, "%s: draining %d connections", sig == SIGINT ? "SIGINT" : "SIGTERM",
		 srv->nconns);
	srv->draining = true;
	lav_http_drain(srv);
	lav_ws_drain(srv->ws);
	if (srv->nconns == 0) {
		event_base_loopexit(srv->base, NULL);
		return;
	}
	int64_t ms = srv->cfg.shutdown_grace_ms;
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	srv->grace_timer = evtimer_new(srv->base, on_grace, srv);
	evtimer_add(srv->grace_timer, &tv);
}

static void raise_fd_limit(struct lav_server *srv)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	rlim_t want = (rlim_t)srv->cfg.max_connections + 256;
	if (rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < want)
		lav_warn(&srv->log, "file descriptor limit %llu is below LAV_MAX_CONNECTIONS + 256",
			 (unsigned long long)rl.rlim_cur);
}

/* A random prefix for correlation ids and this instance's name. */
static void init_identity(struct lav_server *srv)
{
	unsigned char rnd[4];
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		memset(rnd, 0, sizeof(rnd));
	for (int i = 0; i < 4; i++)
		sprintf(srv->cid_prefix + 2 * i, "%02x", rnd[i]);
}

static int serve(struct lav_server *srv)
{
	char err[512];
	srv->base = event_base_new();
	if (!srv->base) {
		lav_error(&srv->log, "cannot create the event loop");
		return 1;
	}
	srv->dispatch = lav_api_dispatch;
	raise_fd_limit(srv);
	if (!lav_http_listen(srv, err, sizeof(err))) {
		lav_error(&srv->log, "%s", err);
		return 1;
	}
	srv->sig_int = evsignal_new(srv->base, SIGINT, on_signal, srv);
	srv->sig_term = evsignal_new(srv->base, SIGTERM, on_signal, srv);
	event_add(srv->sig_int, NULL);
	event_add(srv->sig_term, NULL);
	/* prepare_database just checked both: ready from the first request */
	srv->pg_ok = true;
	srv->schema_version = lav_schema_expected();
	lav_health_start(srv);
	lav_metrics_start(srv);
	if (srv->cfg.redis_url) {
		srv->redis = lav_redis_new(srv->base, srv->cfg.redis_host, srv->cfg.redis_port,
					   srv->cfg.redis_db, &srv->log);
		lav_redis_observe(srv->redis, &srv->metrics.redis_command);
	}
	lav_store_start(srv->store);
	srv->ingest = lav_ingest_new(srv);
	lav_ingest_start(srv->ingest);
	lav_semaforo_start(srv->semaforo);
	lav_ws_hub_start(srv->ws);
	srv->leader = lav_leader_start(srv);
	lav_info(&srv->log,
		 "lavd %s listening on %s:%d (auth %s, source mode %s, %zu features, catalog "
		 "version %lld)",
		 LAV_VERSION, srv->cfg.listen_host, srv->cfg.listen_port,
		 srv->auth_enabled ? "on" : "off (loopback only)",
		 (const char *[]){"mock", "shadow", "off"}[srv->cfg.source_mode],
		 srv->catalog.nfeatures, (long long)srv->catalog.version);
	event_base_dispatch(srv->base);
	lav_info(&srv->log, "stopped");
	lav_http_close_all(srv);
	lav_leader_free(srv->leader);
	srv->leader = NULL;
	lav_ws_hub_free(srv->ws);
	srv->ws = NULL;
	/* the store first: its closing callbacks end the ingestion tasks and
	 * semáforo writes that wait on it, while those still exist */
	lav_semaforo_stop(srv->semaforo);
	lav_store_free(srv->store);
	srv->store = NULL;
	lav_ingest_free(srv->ingest);
	srv->ingest = NULL;
	lav_semaforo_free(srv->semaforo);
	srv->semaforo = NULL;
	lav_health_stop(srv);
	lav_metrics_stop(srv);
	lav_redis_free(srv->redis);
	srv->redis = NULL;
	event_free(srv->sig_int);
	event_free(srv->sig_term);
	if (srv->grace_timer)
		event_free(srv->grace_timer);
	event_base_free(srv->base);
	return 0;
}

struct backfill_args {
	int64_t since, until;
	const char *source;
};

struct backfill_run {
	struct lav_server *srv;
	int rc;
	bool finished;
};

static void on_backfill_done(void *arg, size_t failed, size_t written)
{
	struct backfill_run *r = arg;
	r->finished = true;
	r->rc = failed ? 1 : 0;
	if (failed)
		lav_error(&r->srv->log,
			  "backfill: %zu series failed (see above); %zu points written", failed,
			  written);
	else
		lav_info(&r->srv->log, "backfill: done, %zu points written", written);
	event_base_loopexit(r->srv->base, NULL);
}

static void on_backfill_signal(evutil_socket_t sig, short what, void *arg)
{
	struct backfill_run *r = arg;
	(void)sig;
	(void)what;
	lav_warn(&r->srv->log, "backfill interrupted");
	event_base_loopexit(r->srv->base, NULL);
}

/* The server's loop without a listener: store, Redis and ingestion. */
static int backfill(struct lav_server *srv, const struct backfill_args *a)
{
	srv->base = event_base_new();
	if (!srv->base)
		return 1;
	srv->pg_ok = true;
	if (srv->cfg.redis_url)
		srv->redis = lav_redis_new(srv->base, srv->cfg.redis_host, srv->cfg.redis_port,
					   srv->cfg.redis_db, &srv->log);
	lav_store_start(srv->store);
	srv->ingest = lav_ingest_new(srv);
	struct backfill_run run = {.srv = srv, .rc = 1};
	struct event *sint = evsignal_new(srv->base, SIGINT, on_backfill_signal, &run);
	struct event *sterm = evsignal_new(srv->base, SIGTERM, on_backfill_signal, &run);
	event_add(sint, NULL);
	event_add(sterm, NULL);
	char t0[LAV_TIME_STRLEN], t1[LAV_TIME_STRLEN];
	lav_time_format(a->since, t0);
	lav_time_format(a->until, t1);
	lav_info(&srv->log, "backfill: %s to %s, source %s, mode %s", t0, t1,
		 a->source ? a->source : "all",
		 (const char *[]){"mock", "shadow", "off"}[srv->cfg.source_mode]);
	lav_ingest_backfill(srv->ingest, a->since, a->until, a->source, on_backfill_done, &run);
	if (!run.finished)
		event_base_dispatch(srv->base);
	event_free(sint);
	event_free(sterm);
	lav_store_free(srv->store); /* before the tasks its callbacks end */
	srv->store = NULL;
	lav_ingest_free(srv->ingest);
	srv->ingest = NULL;
	lav_redis_free(srv->redis);
	srv->redis = NULL;
	event_base_free(srv->base);
	srv->base = NULL;
	return run.rc;
}

/* --since/--until/--source; false with a message on anything else. */
static bool parse_backfill_args(int argc, char **argv, struct backfill_args *a, char *err,
				size_t errlen)
{
	bool has_since = false, has_until = false;
	*a = (struct backfill_args){0};
	for (int i = 2; i < argc; i++) {
		const char *opt = argv[i];
		if (i + 1 >= argc) {
			snprintf(err, errlen, "%s needs a value", opt);
			return false;
		}
		const char *v = argv[++i];
		const char *why = "";
		if (strcmp(opt, "--since") == 0 || strcmp(opt, "--until") == 0) {
			int64_t *dst = opt[2] == 's' ? &a->since : &a->until;
			if (!lav_time_parse(v, strlen(v), dst, &why)) {
				snprintf(err, errlen,
					 "%s \"%.64s\": %s (RFC 3339, e.g. 2025-01-01T00:00:00Z)",
					 opt, v, why);
				return false;
			}
			*(opt[2] == 's' ? &has_since : &has_until) = true;
		} else if (strcmp(opt, "--source") == 0) {
			a->source = v;
		} else {
			snprintf(err, errlen, "unknown option \"%.64s\"", opt);
			return false;
		}
	}
	if (!has_since || !has_until) {
		snprintf(err, errlen, "--since and --until are required");
		return false;
	}
	if (a->since >= a->until) {
		snprintf(err, errlen, "--since must be before --until");
		return false;
	}
	return true;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: lavd [serve | migrate | check-config | --help | --version]\n"
		"       lavd backfill --since <RFC3339> --until <RFC3339> [--source ID]\n\n"
		"Configuration comes from the environment:\n\n%s",
		lav_config_help());
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "serve";
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0) {
		printf("lavd %s\n", LAV_VERSION);
		return 0;
	}
	bool is_backfill = strcmp(cmd, "backfill") == 0;
	struct backfill_args bf;
	if (is_backfill) {
		char err[256];
		if (!parse_backfill_args(argc, argv, &bf, err, sizeof(err))) {
			fprintf(stderr, "lavd backfill: %s\n", err);
			usage(stderr);
			return 2;
		}
	} else if (argc > 2 || (strcmp(cmd, "serve") && strcmp(cmd, "migrate") &&
				strcmp(cmd, "check-config"))) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	struct lav_server srv = {0};
	srv.log.level = LAV_LOG_INFO;
	srv.log.fd = 2;
	srv.started_us = lav_now_us();
	int rc = 0;
	char err[256];
	bool configured = load_config(&srv);
	lav_metrics_init(&srv.metrics, &srv.catalog);
	if (!configured) {
		rc = 2;
	} else if (strcmp(cmd, "check-config") == 0) {
		lav_info(&srv.log, "configuration is valid: %zu features, %zu sources",
			 srv.catalog.nfeatures, srv.catalog.nsources);
	} else if (is_backfill &&
		   !lav_ingest_backfill_check(&srv, bf.since, bf.source, err, sizeof(err))) {
		lav_error(&srv.log, "backfill: %s", err);
		rc = 2;
	} else {
		bool serving = strcmp(cmd, "serve") == 0;
		if (serving || is_backfill) {
			init_identity(&srv);
			srv.store = lav_store_new(&srv);
		}
		if (serving) {
			srv.semaforo = lav_semaforo_new(&srv);
			srv.ws = lav_ws_hub_new(&srv);
		}
		rc = prepare_database(&srv);
		if (rc == 0 && serving)
			rc = serve(&srv);
		else if (rc == 0 && is_backfill)
			rc = backfill(&srv, &bf);
		lav_semaforo_stop(srv.semaforo);
		lav_ws_hub_free(srv.ws);
		lav_store_free(srv.store);
		lav_semaforo_free(srv.semaforo);
	}
	lav_strmap_foreach(&srv.rate_buckets, i) free(srv.rate_buckets.slots[i].value);
	lav_strmap_free(&srv.rate_buckets);
	lav_strmap_foreach(&srv.zones, i)
	{
		lav_tz_free(srv.zones.slots[i].value);
		free(srv.zones.slots[i].value);
	}
	lav_strmap_free(&srv.zones);
	lav_tokens_free(&srv.tokens);
	lav_metrics_free(&srv.metrics);
	lav_liq_config_free(&srv.liq);
	lav_catalog_free(&srv.catalog);
	lav_config_free(&srv.cfg);
	curl_global_cleanup();
	return rc;
}
