/* Liveness and readiness. Readiness reads state the health probe keeps up to
 * date on the loop, so it never waits on a dependency. */
#include "lav/api.h"
#include "lav/ingest.h"
#include "lav/leader.h"
#include "lav/semaforo.h"
#include "lav/log.h"
#include "lav/migrate.h"
#include "lav/redis.h"
#include "lav/server.h"
#include "lav/timefmt.h"

void lav_api_healthz(struct lav_server *srv, struct lav_request *req)
{
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, req->out_fmt, &b);
	lav_w_map_begin(&w);
	lav_w_key(&w, "status");
	lav_w_str(&w, srv->draining ? "draining" : "ok");
	lav_w_key(&w, "uptime_s");
	lav_w_double(&w, (double)(lav_now_us() - srv->started_us) / 1e6);
	lav_w_key(&w, "connections");
	lav_w_int(&w, srv->nconns);
	lav_w_map_end(&w);
	lav_api_reply(req, 200, &b);
	lav_buf_free(&b);
}

void lav_api_readyz(struct lav_server *srv, struct lav_request *req)
{
	bool pg_ready = srv->pg_ok && srv->schema_version == lav_schema_expected();
	bool catalog_ok = srv->catalog.nfeatures > 0;
	enum lav_redis_state rs = lav_redis_state(srv->redis);
	bool ready = pg_ready && catalog_ok && !srv->draining;
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, req->out_fmt, &b);
	lav_w_map_begin(&w);
	lav_w_key(&w, "ready");
	lav_w_bool(&w, ready);
	lav_w_key(&w, "checks");
	lav_w_map_begin(&w);

	lav_w_key(&w, "postgres");
	lav_w_map_begin(&w);
	lav_w_key(&w, "ok");
	lav_w_bool(&w, pg_ready);
	lav_w_key(&w, "connected");
	lav_w_bool(&w, srv->pg_ok);
	lav_w_key(&w, "schema_version");
	lav_w_int(&w, srv->schema_version);
	lav_w_key(&w, "expected_version");
	lav_w_int(&w, lav_schema_expected());
	lav_w_map_end(&w);

	lav_w_key(&w, "catalog");
	lav_w_map_begin(&w);
	lav_w_key(&w, "ok");
	lav_w_bool(&w, catalog_ok);
	lav_w_key(&w, "features");
	lav_w_int(&w, (int64_t)srv->catalog.nfeatures);
	lav_w_key(&w, "version");
	lav_w_int(&w, srv->catalog.version);
	lav_w_map_end(&w);

	lav_w_key(&w, "redis");
	lav_w_map_begin(&w);
	lav_w_key(&w, "configured");
	lav_w_bool(&w, srv->redis != NULL);
	lav_w_key(&w, "ok");
	lav_w_bool(&w, rs == LAV_REDIS_CONNECTED);
	lav_w_key(&w, "state");
	lav_w_str(&w, lav_redis_state_name(rs));
	lav_w_map_end(&w);

	lav_w_key(&w, "ingest");
	lav_ingest_write_status(srv->ingest, &w);
	lav_w_key(&w, "semaforo");
	lav_semaforo_write_status(srv->semaforo, &w);
	lav_w_key(&w, "leader");
	lav_leader_write_status(srv->leader, &w);

	lav_w_map_end(&w);
	lav_w_map_end(&w);
	if (ready)
		lav_api_reply(req, 200, &b);
	else
		lav_respond(req, 503, lav_format_mime(req->out_fmt), b.data, b.len,
			    "Retry-After: 1\r\n");
	lav_buf_free(&b);
}
