/* The readiness probe: every two seconds, ask PostgreSQL for the schema
 * version over the probe connection. /readyz reads the result. */
#include "lav/health.h"

#include <stdlib.h>

#include "lav/pg.h"
#include "lav/server.h"
#include "lav/timefmt.h"

#define HEALTH_INTERVAL_MS 2000
#define HEALTH_STALE_US (5 * LAV_US_PER_S)

static void on_version(const PGresult *res, const char *err, void *arg)
{
	struct lav_server *srv = arg;
	srv->health_pending = false;
	if (!res || err) {
		if (srv->pg_ok)
			lav_warn(&srv->log, "postgres: readiness check failed: %s",
				 err ? err : "no result");
		srv->pg_ok = false;
		return;
	}
	if (!srv->pg_ok)
		lav_info(&srv->log, "postgres: ready");
	srv->pg_ok = true;
	srv->schema_version = PQgetisnull(res, 0, 0) ? 0 : atoi(PQgetvalue(res, 0, 0));
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct lav_server *srv = arg;
	(void)fd;
	(void)what;
	if (srv->health_pending) {
		if (lav_now_us() - srv->health_sent_us > HEALTH_STALE_US)
			srv->pg_ok = false; /* hung: not ready, whatever it says later */
		return;
	}
	if (!lav_pg_connected(srv->pg_health)) {
		srv->pg_ok = false;
		return;
	}
	srv->health_pending = true;
	srv->health_sent_us = lav_now_us();
	if (!lav_pg_query(srv->pg_health, "SELECT max(version) FROM schema_migrations", 0, NULL,
			  on_version, srv))
		srv->health_pending = false;
}

void lav_health_start(struct lav_server *srv)
{
	srv->pg_health = lav_pg_new(srv->base, srv->cfg.pg_dsn, "lavd-health", 2000, NULL, &srv->log);
	srv->health_timer = event_new(srv->base, -1, EV_PERSIST, on_tick, srv);
	struct timeval tv = {HEALTH_INTERVAL_MS / 1000, (HEALTH_INTERVAL_MS % 1000) * 1000};
	/* no probe now: start-up has just checked PostgreSQL and the schema */
	event_add(srv->health_timer, &tv);
}

void lav_health_stop(struct lav_server *srv)
{
	if (srv->health_timer)
		event_free(srv->health_timer);
	srv->health_timer = NULL;
	lav_pg_free(srv->pg_health);
	srv->pg_health = NULL;
}
