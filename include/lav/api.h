/* Route handlers. Each writes its answer through lav_writer so JSON and
 * MessagePack carry the same keys. */
#ifndef LAV_API_H
#define LAV_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "lav/http.h"

struct lav_server;

/* The router entry point installed as srv->dispatch. */
void lav_api_dispatch(struct lav_server *srv, struct lav_request *req);

/* Decodes the request body by Content-Type (415 / 400 answered here; NULL
 * then). The caller owns the result. */
json_t *lav_api_body(struct lav_request *req);

/* Reads doc[key] as an RFC 3339 time into *out. Absent or null: true and *out
 * untouched, unless required. Answers 400 bad_parameter naming the field and
 * returns false otherwise. */
bool lav_api_time_field(struct lav_request *req, const json_t *doc, const char *key, bool required,
			int64_t *out);

/* RegimeOutput (GET /api/liquidity/v1/regime/latest, the WebSocket regime
 * snapshot). */
struct lav_writer;
struct lav_regime_point;
void lav_api_write_regime(struct lav_writer *w, const struct lav_regime_point *p, int64_t at,
			  bool provisional);

/* "components": {gl, cn, mp}, null where unavailable. */
void lav_api_write_components(struct lav_writer *w, const bool available[3], const double comp[3]);

/* A grid point's fields as GET /api/liquidity/v1/history and the
 * regime.update event write them: ts, raw, smoothed, score, components,
 * candidate, state, confidence, flip. */
struct lav_regime_row;
void lav_api_write_row_fields(struct lav_writer *w, const struct lav_regime_row *r);

/* Sends a writer-built body with the negotiated content type. */
void lav_api_reply(struct lav_request *req, int status, struct lav_buf *body);

void lav_api_healthz(struct lav_server *srv, struct lav_request *req);
void lav_api_readyz(struct lav_server *srv, struct lav_request *req);
void lav_api_catalog(struct lav_server *srv, struct lav_request *req);
void lav_api_catalog_validate(struct lav_server *srv, struct lav_request *req);
void lav_api_latest(struct lav_server *srv, struct lav_request *req);
void lav_api_publish(struct lav_server *srv, struct lav_request *req);
void lav_api_query(struct lav_server *srv, struct lav_request *req);
void lav_api_regime_latest(struct lav_server *srv, struct lav_request *req);
void lav_api_scoreboard(struct lav_server *srv, struct lav_request *req);
void lav_api_hints(struct lav_server *srv, struct lav_request *req);
void lav_api_history(struct lav_server *srv, struct lav_request *req);
void lav_api_ws(struct lav_server *srv, struct lav_request *req);
void lav_api_status_page(struct lav_server *srv, struct lav_request *req);
/* GET /metrics (src/api/metrics.c, docs/observability.md). */
void lav_api_metrics(struct lav_server *srv, struct lav_request *req);
void lav_api_replay(struct lav_server *srv, struct lav_request *req);

/* 503 with Retry-After when PostgreSQL-backed work cannot run; false then. */
bool lav_api_store_ready(struct lav_server *srv, struct lav_request *req);

#endif
