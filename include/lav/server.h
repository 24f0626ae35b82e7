/* The one server context: everything the process owns hangs off it. */
#ifndef LAV_SERVER_H
#define LAV_SERVER_H

#include <event2/event.h>
#include <event2/listener.h>
#include <stdbool.h>
#include <stdint.h>

#include "lav/auth.h"
#include "lav/catalog.h"
#include "lav/config.h"
#include "lav/feeds.h"
#include "lav/http.h"
#include "lav/log.h"
#include "lav/metrics.h"
#include "lav/strmap.h"

#define LAV_VERSION "0.1.0"

struct lav_pg;
struct lav_redis;
struct lav_store;
struct lav_ingest;
struct lav_semaforo;
struct lav_ws_hub;
struct lav_leader;

struct lav_server {
	struct event_base *base;
	struct lav_config cfg;
	struct lav_log log;
	struct lav_catalog catalog;
	struct lav_liq_config liq;
	struct lav_tokens tokens;
	bool auth_enabled;
	struct lav_strmap rate_buckets; /* token name → struct lav_rate_bucket */
	struct lav_strmap zones;	/* IANA name → struct lav_tz, loaded once */

	/* HTTP */
	struct evconnlistener *listener;
	struct lav_conn *conns; /* doubly linked */
	int nconns;		/* HTTP connections and WebSocket sessions */
	bool draining;
	struct event *sig_int, *sig_term, *grace_timer;
	void (*dispatch)(struct lav_server *srv, struct lav_request *req);

	/* dependencies */
	struct lav_pg *pg_health; /* readiness probe connection */
	struct event *health_timer;
	bool pg_ok;
	bool health_pending;
	int64_t health_sent_us;
	int schema_version;
	struct lav_redis *redis;
	struct lav_store *store;
	struct lav_ingest *ingest;
	struct lav_semaforo *semaforo;
	struct lav_ws_hub *ws; /* WebSocket sessions and event fan-out */
	struct lav_leader *leader;
	bool leading; /* this instance polls and evaluates the grid (lav/leader.h) */

	/* identity and clocks */
	char cid_prefix[17];
	uint64_t cid_counter;
	int64_t started_us;
	int64_t date_sec;
	char date[40]; /* cached IMF-fixdate for the Date header */

	/* counters (GET /metrics) */
	uint64_t requests_total;
	uint64_t connections_total;
	struct lav_metrics metrics;
};

/* Fills r->cid from x-correlation-id when it is safe to echo, else a new one. */
void lav_server_assign_cid(struct lav_server *srv, struct lav_request *r);
const char *lav_server_date(struct lav_server *srv);

#endif
