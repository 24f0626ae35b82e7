/* regime_history rows (src/regime/history.c): what a grid point leaves for
 * the next one, the jsonb the replacing upsert reads, and state names. The
 * PostgreSQL side is exercised by tests/e2e/test_semaforo.py. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "lav/semaforo.h"

static struct lav_regime_point point(void)
{
	struct lav_regime_point p;
	memset(&p, 0, sizeof(p));
	p.ts = 1760918400000000LL; /* 2025-10-20T00:00:00Z */
	p.valid = true;
	p.raw = 0.1;
	p.smoothed = -1.0 / 3.0;
	p.score = 100 * (p.smoothed + 3) / 6;
	p.confidence = 0.65;
	p.comp_available[0] = true;
	p.comp[0] = 2.9999999999999996;
	p.comp_available[2] = true;
	p.comp[2] = -0.0;
	p.candidate = LAV_ROJO;
	p.state = LAV_ROJO;
	p.flip = true;
	p.from = LAV_VERDE;
	return p;
}

Test(rows, names_round_trip)
{
	for (int r = LAV_VERDE; r <= LAV_ROJO; r++)
		cr_assert_eq(lav_regime_parse(lav_regime_name((enum lav_regime)r)), r);
	cr_assert_eq(lav_regime_parse("none"), LAV_REGIME_NONE);
	cr_assert_eq(lav_regime_parse("Verde"), LAV_REGIME_NONE, "names are exact");
	cr_assert_eq(lav_regime_parse(""), LAV_REGIME_NONE);
	cr_assert_eq(lav_regime_parse(NULL), LAV_REGIME_NONE);
}

Test(rows, row_keeps_the_carry_after_the_point)
{
	struct lav_regime_point p = point();
	struct lav_regime_carry after = {.has_prev = true,
					 .smoothed = p.smoothed,
					 .state = LAV_ROJO,
					 .run_candidate = LAV_ROJO,
					 .run_start = p.ts - 24 * 3600 * 1000000LL};
	struct lav_regime_row row;
	lav_regime_row_from(&row, &p, &after, 42);
	cr_assert_eq(row.ts, p.ts);
	cr_assert(row.smoothed == p.smoothed && row.raw == p.raw && row.score == p.score);
	cr_assert(row.flip && row.from == LAV_VERDE);
	cr_assert_eq(row.run_start, after.run_start);
	cr_assert_eq(row.computed_at, 42);
	struct lav_regime_carry back;
	lav_regime_row_carry(&row, &back);
	cr_assert(back.has_prev);
	cr_assert(back.smoothed == after.smoothed);
	cr_assert_eq(back.state, after.state);
	cr_assert_eq(back.run_candidate, after.run_candidate);
	cr_assert_eq(back.run_start, after.run_start);

	/* no flip: from is not kept even if the point carried one */
	p.flip = false;
	lav_regime_row_from(&row, &p, &after, 42);
	cr_assert_eq(row.from, LAV_REGIME_NONE);
}

Test(rows, json_is_exact_and_names_every_column)
{
	struct lav_regime_point p = point();
	struct lav_regime_carry after = {.has_prev = true, .smoothed = p.smoothed,
					 .state = LAV_ROJO, .run_candidate = LAV_AMARILLO,
					 .run_start = p.ts};
	struct lav_regime_row rows[2];
	lav_regime_row_from(&rows[0], &p, &after, 7);
	p.ts += 3600 * 1000000LL;
	p.flip = false;
	p.comp_available[0] = false;
	lav_regime_row_from(&rows[1], &p, &after, 8);
	struct lav_buf b = LAV_BUF_INIT;
	lav_regime_rows_json(&b, rows, 2);
	json_error_t e;
	json_t *doc = json_loads(lav_buf_cstr(&b), 0, &e);
	cr_assert_not_null(doc, "%s: %s", e.text, lav_buf_cstr(&b));
	cr_assert_eq(json_array_size(doc), 2);
	json_t *r0 = json_array_get(doc, 0), *r1 = json_array_get(doc, 1);
	static const char *const cols[] = {"ts", "raw", "smoothed", "score", "gl", "cn", "mp",
					   "candidate", "state", "flip", "flip_from", "confidence",
					   "run_candidate", "run_start", "computed_at", NULL};
	for (int i = 0; cols[i]; i++)
		cr_assert_not_null(json_object_get(r0, cols[i]), "column %s", cols[i]);
	cr_assert_eq(json_object_size(r0), 15);
	cr_assert_eq(json_integer_value(json_object_get(r0, "ts")), 1760918400000000LL);
	/* shortest exact decimals: the bits survive the text */
	cr_assert(json_real_value(json_object_get(r0, "smoothed")) == -1.0 / 3.0);
	cr_assert(json_real_value(json_object_get(r0, "gl")) == 2.9999999999999996);
	cr_assert(json_is_null(json_object_get(r0, "cn")), "unavailable component is null");
	cr_assert_str_eq(json_string_value(json_object_get(r0, "flip_from")), "verde");
	cr_assert_str_eq(json_string_value(json_object_get(r0, "candidate")), "rojo");
	cr_assert_str_eq(json_string_value(json_object_get(r0, "run_candidate")), "amarillo");
	cr_assert(json_is_true(json_object_get(r0, "flip")));
	cr_assert(json_is_null(json_object_get(r1, "flip_from")));
	cr_assert(json_is_false(json_object_get(r1, "flip")));
	cr_assert(json_is_null(json_object_get(r1, "gl")));
	cr_assert_eq(json_integer_value(json_object_get(r1, "computed_at")), 8);
	json_decref(doc);
	lav_buf_free(&b);

	/* no rows: an empty array, still valid for jsonb_to_recordset */
	struct lav_buf empty = LAV_BUF_INIT;
	lav_regime_rows_json(&empty, rows, 0);
	cr_assert_str_eq(lav_buf_cstr(&empty), "[]");
	lav_buf_free(&empty);
}
