/* regime_history rows: the carry they hold, their jsonb form for the
 * replacing upsert, and the SQL that reads them back. Timestamps cross the
 * wire as int64 microseconds and doubles as their shortest exact decimal, so
 * a row reads back with the bits it was written with. */
#include <stdlib.h>
#include <string.h>

#include "lav/codec.h"
#include "lav/semaforo.h"

/* µs since the epoch as a timestamptz, exactly (interval * int is exact). */
#define TS(x) "('epoch'::timestamptz + (" x ")::int8 * interval '1 microsecond')"
#define US(x) "(extract(epoch FROM " x ") * 1000000)::int8"

#define ROW_COLUMNS                                                                                \
	US("ts")                                                                                   \
	", raw, smoothed, score, gl, cn, mp, candidate, state, flip, flip_from, "                  \
	"confidence, run_candidate, " US("run_start") ", " US("computed_at")

const char LAV_REGIME_SELECT_SQL[] =
    "SELECT " ROW_COLUMNS " FROM regime_history"
    " WHERE ts >= " TS("$1") " AND ts < " TS("$2") " ORDER BY ts LIMIT $3";
const char LAV_REGIME_BEFORE_SQL[] = "SELECT " ROW_COLUMNS " FROM regime_history"
				     " WHERE ts < " TS("$1") " ORDER BY ts DESC LIMIT 1";
const char LAV_REGIME_LAST_SQL[] =
    "SELECT " ROW_COLUMNS " FROM regime_history ORDER BY ts DESC LIMIT 1";
const char LAV_REGIME_FLIPS_SQL[] =
    "SELECT " ROW_COLUMNS " FROM regime_history WHERE flip ORDER BY ts DESC LIMIT 10";

/* The rows of $1 replace what they name; with a range ($2, $3) the range's
 * other rows go too (grid points that no longer have data). DELETE and
 * INSERT touch disjoint rows, so one statement does both atomically. */
const char LAV_REGIME_UPSERT_SQL[] = "WITH new AS (SELECT " TS(
    "r.ts") " AS ts, r.raw, r.smoothed, r.score, r.gl, r.cn, r.mp,"
	    " r.candidate, r.state, r.flip, r.flip_from, r.confidence, r.run_candidate,"
	    " " TS("r.run_start") " AS run_start, " TS(
		"r.computed_at") " AS computed_at"
				 " FROM jsonb_to_recordset($1::jsonb) AS r(ts int8, raw float8, "
				 "smoothed float8,"
				 " score float8, gl float8, cn float8, mp float8, candidate text, "
				 "state text, flip bool,"
				 " flip_from text, confidence float8, run_candidate text, "
				 "run_start int8,"
				 " computed_at int8)),"
				 " del AS (DELETE FROM regime_history h WHERE $2::int8 IS NOT NULL"
				 " AND h.ts >= " TS("$2") " AND h.ts < " TS(
				     "$3") " AND NOT EXISTS (SELECT 1 FROM new WHERE new.ts = "
					   "h.ts) RETURNING 1),"
					   " ins AS (INSERT INTO regime_history (ts, raw, "
					   "smoothed, score, gl, cn, mp, candidate,"
					   " state, flip, flip_from, confidence, run_candidate, "
					   "run_start, computed_at)"
					   " SELECT * FROM new ON CONFLICT (ts) DO UPDATE SET raw "
					   "= EXCLUDED.raw,"
					   " smoothed = EXCLUDED.smoothed, score = EXCLUDED.score, "
					   "gl = EXCLUDED.gl,"
					   " cn = EXCLUDED.cn, mp = EXCLUDED.mp, candidate = "
					   "EXCLUDED.candidate,"
					   " state = EXCLUDED.state, flip = EXCLUDED.flip, "
					   "flip_from = EXCLUDED.flip_from,"
					   " confidence = EXCLUDED.confidence, run_candidate = "
					   "EXCLUDED.run_candidate,"
					   " run_start = EXCLUDED.run_start, computed_at = "
					   "EXCLUDED.computed_at RETURNING 1)"
					   " SELECT (SELECT count(*) FROM del), (SELECT count(*) "
					   "FROM ins)";

enum lav_regime lav_regime_parse(const char *name)
{
	if (!name)
		return LAV_REGIME_NONE;
	for (int r = LAV_VERDE; r <= LAV_ROJO; r++)
		if (strcmp(name, lav_regime_name((enum lav_regime)r)) == 0)
			return (enum lav_regime)r;
	return LAV_REGIME_NONE;
}

void lav_regime_row_from(struct lav_regime_row *row, const struct lav_regime_point *p,
			 const struct lav_regime_carry *after, int64_t computed_at)
{
	memset(row, 0, sizeof(*row));
	row->ts = p->ts;
	row->raw = p->raw;
	row->smoothed = p->smoothed;
	row->score = p->score;
	row->confidence = p->confidence;
	for (int c = 0; c < LAV_NCOMP; c++) {
		row->comp_available[c] = p->comp_available[c];
		row->comp[c] = p->comp[c];
	}
	row->candidate = p->candidate;
	row->state = p->state;
	row->flip = p->flip;
	row->from = p->flip ? p->from : LAV_REGIME_NONE;
	row->run_candidate = after->run_candidate;
	row->run_start = after->run_start;
	row->computed_at = computed_at;
}

void lav_regime_row_carry(const struct lav_regime_row *row, struct lav_regime_carry *out)
{
	*out = (struct lav_regime_carry){
	    .has_prev = true,
	    .smoothed = row->smoothed,
	    .state = row->state,
	    .run_candidate = row->run_candidate,
	    .run_start = row->run_start,
	};
}

static void key(struct lav_buf *b, const char *k)
{
	lav_buf_printf(b, ",\"%s\":", k);
}

static void num(struct lav_buf *b, const char *k, double v)
{
	char d[32];
	key(b, k);
	lav_buf_append(b, d, lav_format_double(v, d));
}

void lav_regime_rows_json(struct lav_buf *out, const struct lav_regime_row *rows, size_t n)
{
	static const char *const COMP[LAV_NCOMP] = {"gl", "cn", "mp"};
	lav_buf_append(out, "[", 1);
	for (size_t i = 0; i < n; i++) {
		const struct lav_regime_row *r = &rows[i];
		lav_buf_printf(out, "%s{\"ts\":%lld", i ? "," : "", (long long)r->ts);
		num(out, "raw", r->raw);
		num(out, "smoothed", r->smoothed);
		num(out, "score", r->score);
		for (int c = 0; c < LAV_NCOMP; c++) {
			if (r->comp_available[c])
				num(out, COMP[c], r->comp[c]);
			else
				lav_buf_printf(out, ",\"%s\":null", COMP[c]);
		}
		lav_buf_printf(out, ",\"candidate\":\"%s\",\"state\":\"%s\",\"flip\":%s",
			       lav_regime_name(r->candidate), lav_regime_name(r->state),
			       r->flip ? "true" : "false");
		if (r->flip)
			lav_buf_printf(out, ",\"flip_from\":\"%s\"", lav_regime_name(r->from));
		else
			lav_buf_printf(out, ",\"flip_from\":null");
		num(out, "confidence", r->confidence);
		lav_buf_printf(out,
			       ",\"run_candidate\":\"%s\",\"run_start\":%lld,\"computed_at\":%lld}",
			       lav_regime_name(r->run_candidate), (long long)r->run_start,
			       (long long)r->computed_at);
	}
	lav_buf_append(out, "]", 1);
}

bool lav_regime_row_parse(const PGresult *r, int i, struct lav_regime_row *out)
{
	memset(out, 0, sizeof(*out));
	if (PQnfields(r) < 15)
		return false;
	out->ts = atoll(PQgetvalue(r, i, 0));
	out->raw = strtod(PQgetvalue(r, i, 1), NULL);
	out->smoothed = strtod(PQgetvalue(r, i, 2), NULL);
	out->score = strtod(PQgetvalue(r, i, 3), NULL);
	for (int c = 0; c < LAV_NCOMP; c++) {
		out->comp_available[c] = !PQgetisnull(r, i, 4 + c);
		out->comp[c] = out->comp_available[c] ? strtod(PQgetvalue(r, i, 4 + c), NULL) : 0;
	}
	out->candidate = lav_regime_parse(PQgetvalue(r, i, 7));
	out->state = lav_regime_parse(PQgetvalue(r, i, 8));
	out->flip = PQgetvalue(r, i, 9)[0] == 't';
	out->from =
	    PQgetisnull(r, i, 10) ? LAV_REGIME_NONE : lav_regime_parse(PQgetvalue(r, i, 10));
	out->confidence = strtod(PQgetvalue(r, i, 11), NULL);
	out->run_candidate = lav_regime_parse(PQgetvalue(r, i, 12));
	out->run_start = atoll(PQgetvalue(r, i, 13));
	out->computed_at = atoll(PQgetvalue(r, i, 14));
	return out->candidate != LAV_REGIME_NONE && out->state != LAV_REGIME_NONE &&
	       out->run_candidate != LAV_REGIME_NONE;
}
