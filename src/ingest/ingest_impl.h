/* Ingestion internals shared by ingest.c (sources, schedule, backfill),
 * task.c (filling ranges) and emit.c (observations → publish path). */
#ifndef LAV_INGEST_IMPL_H
#define LAV_INGEST_IMPL_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "lav/adapter.h"
#include "lav/breaker.h"
#include "lav/config.h"
#include "lav/fetch.h"
#include "lav/gaps.h"
#include "lav/ingest.h"
#include "lav/mock.h"

struct lav_server;
struct task;

struct src_rt {
	struct lav_ingest *in;
	const struct lav_source *src;
	struct lav_breaker breaker;
	struct lav_spacer spacer;
	bool no_key;
	uint64_t requests, failures;
	char last_error[200];
	int64_t last_success_at, last_failure_at;
	struct task *queue; /* waiting for the spacing */
	struct event *wake;
};

struct series_rt {
	struct lav_ingest *in;
	const struct lav_feature *f;
	const struct lav_adapter *ad; /* NULL: lav cannot fetch it (mock still can) */
	struct src_rt *src;
	int polarity;
	int64_t poll_us, lookback_us;
	struct lav_gap_spec gap;
	int64_t next_poll, next_gap;
	struct task *task; /* at most one in flight */
	uint64_t ingested, failed;
};

struct backfill_state {
	bool active;
	size_t pending, failed;
	lav_ingest_done_cb done;
	void *arg;
	int64_t since, until, deadline;
	const char *source_id;
	struct event *wait;
};

struct lav_ingest {
	struct lav_server *srv;
	enum lav_source_mode mode;
	struct lav_fetcher *fetcher;
	struct src_rt *sources;
	size_t nsources;
	struct series_rt *series;
	size_t nseries;
	struct event *tick;
	struct backfill_state backfill;
	uint64_t written;
};

enum lav_task_kind { LAV_TASK_POLL, LAV_TASK_GAP, LAV_TASK_BACKFILL };

struct task {
	struct series_rt *s;
	enum lav_task_kind kind;
	int64_t since, until;
	struct lav_range *ranges;
	size_t nranges, ri;
	int64_t cursor;	    /* where the next request or mock chunk starts */
	int attempt;	    /* retries of the current request */
	struct lav_fetch_req req;
	struct task *qnext; /* in its source's queue */
	struct event *retry;
	bool failed, quiet;
	char err[256];
	/* emit */
	struct lav_obs_vec obs;
	size_t emitted;
	int64_t fetched_at;
	char *ref;
	char sha256[65];
};

bool lav_series_active(const struct series_rt *s);
void lav_task_start(struct series_rt *s, enum lav_task_kind kind, int64_t since, int64_t until);
/* Frees a task whose series is being torn down (no callbacks). */
void lav_task_abandon(struct task *t);
/* From the source queue. */
void lav_task_send(struct task *t);
void lav_task_fetch_refused(struct task *t, const char *why);
void lav_src_submit(struct src_rt *sr, struct task *t);
void lav_src_result(struct src_rt *sr, bool ok, const char *err);
void lav_ingest_task_done(struct series_rt *s, bool ok);

/* Writes t->obs[t->emitted..] through the publish path in chunks, then
 * calls then(t). */
void lav_emit(struct task *t, void (*then)(struct task *t));

#endif
