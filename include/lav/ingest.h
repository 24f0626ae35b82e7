/* Ingestion on the loop (docs/ingestion.md): per-series polling and gap
 * repair in mock or shadow mode, per-source spacing and breakers, and the
 * one-shot backfill behind `lavd backfill`. Points go through the publish
 * path (DQ, group commit, Redis, NOTIFY). */
#ifndef LAV_INGEST_H
#define LAV_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lav/breaker.h"
#include "lav/catalog.h"
#include "lav/codec.h"
#include "lav/gaps.h"

struct lav_server;
struct lav_ingest;

/* Checks every feature has an adapter (shadow) and logs what will run. */
struct lav_ingest *lav_ingest_new(struct lav_server *srv);
void lav_ingest_free(struct lav_ingest *in);

/* Starts polling and gap repair (nothing in mode off). */
void lav_ingest_start(struct lav_ingest *in);

/* Whether `lavd backfill --since since [--source source_id]` may run with
 * this configuration; else err says why. */
bool lav_ingest_backfill_check(const struct lav_server *srv, int64_t since,
			       const char *source_id, char *err, size_t errlen);

/* Fills [since, until) of every series (of source_id when not NULL) with
 * what is missing, then calls done with the number of series that failed.
 * Checked by lav_ingest_backfill_check first. */
typedef void (*lav_ingest_done_cb)(void *arg, size_t failed, size_t written);
void lav_ingest_backfill(struct lav_ingest *in, int64_t since, int64_t until,
			 const char *source_id, lav_ingest_done_cb done, void *arg);

/* readyz: {"mode", "ok", "sources": {id: {state, ...}}}. */
void lav_ingest_write_status(struct lav_ingest *in, struct lav_writer *w);

/* For /metrics (stats.c): sources in datasources.json order. */
struct lav_source_stats {
	const char *id;
	uint64_t requests, failures;
	enum lav_breaker_state breaker;
};
size_t lav_ingest_source_count(const struct lav_ingest *in);
void lav_ingest_source_stats(const struct lav_ingest *in, size_t i, int64_t now_us,
			     struct lav_source_stats *out);
/* The period, anchor and calendar coverage of f is judged by: its ingested
 * series' gap spec, else the catalog frequency on every day. */
void lav_ingest_gap_spec(const struct lav_ingest *in, const struct lav_feature *f,
			 struct lav_gap_spec *out);

#endif
