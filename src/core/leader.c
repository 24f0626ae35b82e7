/* The leader lock: one connection of its own holds pg_try_advisory_lock;
 * every second a follower tries to take it and a leader checks its session
 * still lives. A leader that loses its connection steps down at once (its
 * lock went with the session), before anyone else can take over. */
#include "lav/leader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lav/codec.h"
#include "lav/ingest.h"
#include "lav/pg.h"
#include "lav/semaforo.h"
#include "lav/server.h"
#include "lav/store.h"

/* "lav" in ASCII plus a tag, like the migration lock */
#define LEADER_LOCK "465491591170" /* 0x6c61760002 */
#define TICK_MS	    1000

struct lav_leader {
	struct lav_server *srv;
	struct lav_pg *pg;
	struct event *timer;
	bool pending; /* a query is in flight */
	bool closing;
};

static void set_leading(struct lav_leader *l, bool lead)
{
	struct lav_server *srv = l->srv;
	if (srv->leading == lead)
		return;
	srv->leading = lead;
	if (lead)
		lav_info(&srv->log,
			 "leader: this instance (%s) leads: polling sources and "
			 "evaluating the semáforo",
			 lav_store_app_name(srv->store));
	else
		lav_warn(&srv->log, "leader: this instance no longer leads");
	lav_semaforo_lead(srv->semaforo, lead);
}

static void on_answer(const PGresult *res, const char *err, void *arg)
{
	struct lav_leader *l = arg;
	l->pending = false;
	if (l->closing)
		return;
	if (err || !res || PQntuples(res) != 1) {
		set_leading(l, false);
		return;
	}
	set_leading(l, strcmp(PQgetvalue(res, 0, 0), "t") == 0);
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
	struct lav_leader *l = arg;
	(void)fd;
	(void)what;
	if (!lav_pg_connected(l->pg)) {
		set_leading(l, false);
		return;
	}
	if (l->pending || l->srv->draining)
		return;
	/* a leader asks whether it still holds the lock (its session may be a
	 * new one after a reconnect); a follower tries to take it */
	const char *sql = l->srv->leading
			      ? "SELECT count(*) = 1 FROM pg_locks WHERE locktype = 'advisory'"
				" AND pid = pg_backend_pid() AND granted AND ((classid::int8 << 32)"
				" | objid::int8) = " LEADER_LOCK
			      : "SELECT pg_try_advisory_lock(" LEADER_LOCK ")";
	l->pending = lav_pg_query(l->pg, sql, 0, NULL, on_answer, l);
}

static void on_reconnect(void *arg)
{
	struct lav_leader *l = arg;
	if (!l->closing)
		set_leading(l, false); /* a new session holds no lock */
}

struct lav_leader *lav_leader_start(struct lav_server *srv)
{
	struct lav_leader *l = lav_xcalloc(1, sizeof(*l));
	l->srv = srv;
	char app[96];
	snprintf(app, sizeof(app), "%s-leader", lav_store_app_name(srv->store));
	l->pg = lav_pg_new(srv->base, srv->cfg.pg_dsn, app, 5000, NULL, &srv->log);
	lav_pg_on_connect(l->pg, on_reconnect, l);
	l->timer = event_new(srv->base, -1, EV_PERSIST, tick, l);
	struct timeval tv = {TICK_MS / 1000, (TICK_MS % 1000) * 1000};
	event_add(l->timer, &tv);
	/* the first try right after connecting */
	l->pending = lav_pg_query(l->pg, "SELECT pg_try_advisory_lock(" LEADER_LOCK ")", 0, NULL,
				  on_answer, l);
	return l;
}

void lav_leader_free(struct lav_leader *l)
{
	if (!l)
		return;
	l->closing = true;
	event_free(l->timer);
	lav_pg_free(l->pg); /* closing the session releases the lock */
	free(l);
}

void lav_leader_write_status(const struct lav_leader *l, struct lav_writer *w)
{
	lav_w_map_begin(w);
	lav_w_key(w, "ok");
	lav_w_bool(w, true);
	lav_w_key(w, "leader");
	lav_w_bool(w, l && l->srv->leading);
	lav_w_key(w, "instance");
	lav_w_str(w, l ? lav_store_app_name(l->srv->store) : "");
	lav_w_map_end(w);
}
