/* The semáforo engine on the loop (DESIGN.md section 5, docs/semaforo.md):
 * evaluates every grid boundary with regime.c, catches up missed grid
 * points at start, keeps the EMA and the confirmation clock across restarts
 * through regime_history, stores each point there and as the features
 * liquidity/score/lav_liq_score and liquidity/component/{gl,cn,mp}, and
 * replays ranges on request. Evaluations read the hot series when they hold
 * everything a grid point can see, else a range loaded from PostgreSQL. */
#ifndef LAV_SEMAFORO_H
#define LAV_SEMAFORO_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lav/buf.h"
#include "lav/regime.h"

struct lav_server;
struct lav_semaforo;

/* Catch-up evaluates at most this many grid points; older missed ones are
 * left to POST /api/liquidity/v1/replay (logged). */
#define LAV_SEMAFORO_CATCHUP_MAX 10000
/* Largest range one replay may cover, in grid points. */
#define LAV_SEMAFORO_REPLAY_MAX 200000

/* One row of regime_history: a grid point plus the carry that continues
 * from it (the confirmation clock survives restarts and replays). */
struct lav_regime_row {
	int64_t ts;
	double raw, smoothed, score, confidence;
	bool comp_available[LAV_NCOMP];
	double comp[LAV_NCOMP];
	enum lav_regime candidate, state, from;
	bool flip;
	enum lav_regime run_candidate;
	int64_t run_start;
	int64_t computed_at; /* wall clock of the evaluation */
};

void lav_regime_row_from(struct lav_regime_row *row, const struct lav_regime_point *p,
			 const struct lav_regime_carry *after, int64_t computed_at);
/* The carry a row leaves behind. */
void lav_regime_row_carry(const struct lav_regime_row *row, struct lav_regime_carry *out);
enum lav_regime lav_regime_parse(const char *name);

/* regime_history SQL (history.c). Rows as a jsonb recordset so one
 * statement replaces a whole range atomically. */
void lav_regime_rows_json(struct lav_buf *out, const struct lav_regime_row *rows, size_t n);
extern const char LAV_REGIME_UPSERT_SQL[]; /* $1 rows jsonb, $2/$3 replace range µs or NULL */
extern const char LAV_REGIME_SELECT_SQL[]; /* $1 since µs, $2 until µs, $3 limit */
extern const char LAV_REGIME_BEFORE_SQL[]; /* $1 µs: the newest row with ts < $1 */
extern const char LAV_REGIME_LAST_SQL[];   /* the newest row */
extern const char LAV_REGIME_FLIPS_SQL[];  /* the 10 newest flips, newest first */
/* Parses one row of the SELECTs above. */
bool lav_regime_row_parse(const PGresult *r, int i, struct lav_regime_row *out);

struct lav_semaforo *lav_semaforo_new(struct lav_server *srv);
/* Before the store is freed: its closing callbacks then only clean up. */
void lav_semaforo_stop(struct lav_semaforo *sf);
void lav_semaforo_free(struct lav_semaforo *sf);
/* Start-up, before the loop: the last stored grid point and where catch-up
 * begins (blocking, on the start-up connection). */
bool lav_semaforo_load(struct lav_semaforo *sf, PGconn *conn, char *err, size_t errlen);
/* Arms the engine; grid points are evaluated only while leading. */
void lav_semaforo_start(struct lav_semaforo *sf);
/* Leadership (lav/leader.h): the leader catches up from the newest stored
 * grid point, then evaluates each boundary on a timer; a follower only
 * follows what the leader stores. */
void lav_semaforo_lead(struct lav_semaforo *sf, bool lead);
/* Re-reads the newest stored grid point (a follower, after the leader's
 * regime event). */
void lav_semaforo_refresh(struct lav_semaforo *sf);

/* The newest grid point (signals included), NULL before the first. */
const struct lav_regime_point *lav_semaforo_latest(const struct lav_semaforo *sf,
						   int64_t *computed_at);
/* As of now from the hot series, continuing the newest grid point's EMA
 * without moving it; the state stays the confirmed one (flips are decided on
 * grid points only). False when it cannot be computed from memory. */
bool lav_semaforo_provisional(struct lav_semaforo *sf, int64_t now, struct lav_regime_point *out);

/* Feed f of component c, in liquidity.feeds.json order. */
const char *lav_semaforo_feed_id(const struct lav_semaforo *sf, int c, size_t f);

struct lav_replay_result {
	int64_t since, until; /* grid points since <= ts < until */
	size_t evaluated;     /* grid points in the range */
	size_t stored;	      /* of them with data (rows written) */
	size_t flips;
	size_t deleted; /* stored rows of the range that now have no data */
};
/* err NULL on success; res valid only then. */
typedef void (*lav_replay_cb)(void *arg, const char *err, const struct lav_replay_result *res);
/* Re-evaluates [since, until) (clamped to grid points already due), replacing
 * its rows; the EMA and state continue from the stored row before since. */
void lav_semaforo_replay(struct lav_semaforo *sf, int64_t since, int64_t until, lav_replay_cb cb,
			 void *arg);

/* readyz checks.semaforo: grid, next and newest grid point, queued work. */
struct lav_writer;
void lav_semaforo_write_status(const struct lav_semaforo *sf, struct lav_writer *w);

/* Grid step in µs. */
int64_t lav_semaforo_step_us(const struct lav_semaforo *sf);

#endif
