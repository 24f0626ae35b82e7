/* lav_copy_row: one line of PostgreSQL COPY text format for the staging
 * table (idx, feature_id, entity, ts, available_at, value, confidence, meta,
 * evidence). Backslash, tab, newline and carriage return are escaped; NULL
 * is \N; JSON is compact; doubles are the shortest text that reads back. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lav/series.h"
#include "lav/store.h"
#include "lav/timefmt.h"

static int64_t T(const char *s)
{
	int64_t us = 0;
	const char *why = NULL;
	cr_assert(lav_time_parse(s, strlen(s), &us, &why), "%s: %s", s, why);
	return us;
}

static json_t *J(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
	cr_assert_not_null(v, "bad test JSON %s: %s", text, je.text);
	return v;
}

static struct lav_point pt(const char *ts, const char *av, double v, double c)
{
	struct lav_point p = {.ts = T(ts), .available_at = T(av), .value = v, .confidence = c};
	return p;
}

/* One row into a fresh buffer, compared byte for byte. */
static void expect_row(size_t idx, const char *fid, const char *entity,
		       const struct lav_point *p, const char *want)
{
	struct lav_buf b = LAV_BUF_INIT;
	lav_copy_row(&b, idx, fid, entity, p);
	const char *got = lav_buf_cstr(&b);
	cr_assert_eq(b.len, strlen(want), "length %zu, want %zu:\n got: %s\nwant: %s", b.len,
		     strlen(want), got, want);
	cr_assert_str_eq(got, want, "\n got: %s\nwant: %s", got, want);
	lav_buf_free(&b);
}

Test(copyrow, plain_row_with_null_json)
{
	struct lav_point p = pt("2025-10-20T00:00:00Z", "2025-10-21T00:00:00Z", 7.5e12, 1);
	expect_row(0, "macro/us/walcl_total_usd", "", &p,
		   "0\tmacro/us/walcl_total_usd\t\t2025-10-20T00:00:00.000Z\t"
		   "2025-10-21T00:00:00.000Z\t7500000000000\t1\t\\N\t\\N\n");
}

Test(copyrow, meta_and_evidence_as_compact_json)
{
	struct lav_point p = pt("2025-10-20T00:00:00Z", "2025-10-20T00:00:00Z", 1.5, 0.5);
	p.meta = J("{\"dq\":[\"out_of_range\"],\"n\":3,\"f\":0.25,\"ok\":true,\"z\":null}");
	p.evidence = J("[{\"source\":\"fred\",\"ref\":\"WALCL\",\"fetched_at\":"
		       "\"2025-10-20T00:00:01Z\"}]");
	expect_row(12345, "a/b", "BTC", &p,
		   "12345\ta/b\tBTC\t2025-10-20T00:00:00.000Z\t2025-10-20T00:00:00.000Z\t1.5\t0.5\t"
		   "{\"dq\":[\"out_of_range\"],\"n\":3,\"f\":0.25,\"ok\":true,\"z\":null}\t"
		   "[{\"source\":\"fred\",\"ref\":\"WALCL\",\"fetched_at\":"
		   "\"2025-10-20T00:00:01Z\"}]\n");
	lav_point_clear(&p);
	/* empty containers are not NULL */
	p.meta = json_object();
	p.evidence = json_array();
	expect_row(1, "a/b", "", &p,
		   "1\ta/b\t\t2025-10-20T00:00:00.000Z\t2025-10-20T00:00:00.000Z\t1.5\t0.5\t{}\t[]\n");
	lav_point_clear(&p);
	/* meta only */
	p.meta = J("{\"a\":1}");
	expect_row(2, "a/b", "", &p,
		   "2\ta/b\t\t2025-10-20T00:00:00.000Z\t2025-10-20T00:00:00.000Z\t1.5\t0.5\t"
		   "{\"a\":1}\t\\N\n");
	lav_point_clear(&p);
}

Test(copyrow, special_characters_in_entity_and_feature_id)
{
	struct lav_point p = pt("2025-10-20T00:00:00Z", "2025-10-20T00:00:00Z", 1, 1);
	expect_row(3, "a\\b", "x\ty\nz\\w\rv", &p,
		   "3\ta\\\\b\tx\\ty\\nz\\\\w\\rv\t2025-10-20T00:00:00.000Z\t"
		   "2025-10-20T00:00:00.000Z\t1\t1\t\\N\t\\N\n");
	/* an entity spelled \N must not read back as NULL */
	expect_row(4, "a/b", "\\N", &p,
		   "4\ta/b\t\\\\N\t2025-10-20T00:00:00.000Z\t2025-10-20T00:00:00.000Z\t1\t1\t\\N\t"
		   "\\N\n");
	/* only those four characters are escaped */
	expect_row(5, "a/b", "é|,\"' ;", &p,
		   "5\ta/b\té|,\"' ;\t2025-10-20T00:00:00.000Z\t2025-10-20T00:00:00.000Z\t1\t1\t"
		   "\\N\t\\N\n");
	/* escapes at both ends and consecutive */
	expect_row(6, "a/b", "\t\t\\\n", &p,
		   "6\ta/b\t\\t\\t\\\\\\n\t2025-10-20T00:00:00.000Z\t2025-10-20T00:00:00.000Z\t1\t1\t"
		   "\\N\t\\N\n");
}

Test(copyrow, special_characters_in_json)
{
	struct lav_point p = pt("2025-10-20T00:00:00Z", "2025-10-20T00:00:00Z", 1, 1);
	/* JSON escapes tab/newline as \t \n and backslash as \\; COPY then
	 * doubles every backslash */
	p.meta = json_object();
	json_object_set_new(p.meta, "note", json_string("tab\there\nnew \"q\""));
	json_object_set_new(p.meta, "path", json_string("C:\\x"));
	json_object_set_new(p.meta, "nul", json_string("\\N"));
	p.evidence = json_array();
	json_array_append_new(p.evidence, json_pack("{s:s}", "source", "a\tb"));
	expect_row(7, "a/b", "", &p,
		   "7\ta/b\t\t2025-10-20T00:00:00.000Z\t2025-10-20T00:00:00.000Z\t1\t1\t"
		   "{\"note\":\"tab\\\\there\\\\nnew \\\\\"q\\\\\"\",\"path\":\"C:\\\\\\\\x\","
		   "\"nul\":\"\\\\\\\\N\"}\t"
		   "[{\"source\":\"a\\\\tb\"}]\n");
	lav_point_clear(&p);
	/* non-ASCII text stays UTF-8 */
	p.meta = J("{\"city\":\"São Paulo\"}");
	expect_row(8, "a/b", "", &p,
		   "8\ta/b\t\t2025-10-20T00:00:00.000Z\t2025-10-20T00:00:00.000Z\t1\t1\t"
		   "{\"city\":\"São Paulo\"}\t\\N\n");
	lav_point_clear(&p);
}

Test(copyrow, timestamps_ms_and_us)
{
	struct lav_point p = pt("2025-10-20T01:02:03.123Z", "2025-10-20T01:02:03.123456Z", 1, 1);
	expect_row(0, "a/b", "", &p,
		   "0\ta/b\t\t2025-10-20T01:02:03.123Z\t2025-10-20T01:02:03.123456Z\t1\t1\t\\N\t"
		   "\\N\n");
	p = pt("1969-12-31T23:59:59.999999Z", "1970-01-01T00:00:00.001Z", 1, 1);
	expect_row(0, "a/b", "", &p,
		   "0\ta/b\t\t1969-12-31T23:59:59.999999Z\t1970-01-01T00:00:00.001Z\t1\t1\t\\N\t"
		   "\\N\n");
	p = pt("2025-10-20T01:02:03.000001Z", "2025-10-20T01:02:03.100Z", 1, 1);
	expect_row(0, "a/b", "", &p,
		   "0\ta/b\t\t2025-10-20T01:02:03.000001Z\t2025-10-20T01:02:03.100Z\t1\t1\t\\N\t"
		   "\\N\n");
}

static const char *value_field(double v)
{
	static char out[64];
	struct lav_point p = pt("2025-10-20T00:00:00Z", "2025-10-20T00:00:00Z", v, 1);
	struct lav_buf b = LAV_BUF_INIT;
	lav_copy_row(&b, 0, "a/b", "", &p);
	const char *line = lav_buf_cstr(&b);
	/* the 6th field */
	const char *f = line;
	for (int i = 0; i < 5; i++)
		f = strchr(f, '\t') + 1;
	size_t n = (size_t)(strchr(f, '\t') - f);
	cr_assert_lt(n, sizeof(out));
	memcpy(out, f, n);
	out[n] = '\0';
	lav_buf_free(&b);
	return out;
}

Test(copyrow, doubles_shortest_round_trip)
{
	static const struct {
		double v;
		const char *want;
	} cases[] = {
		{0.1, "0.1"},
		{0.1 + 0.2, "0.30000000000000004"},
		{1.0 / 3.0, "0.3333333333333333"},
		{2.0 / 3.0, "0.6666666666666666"},
		{100, "100"},
		{-2.5, "-2.5"},
		{0, "0"},
		{-0.0, "-0"},
		{1e21, "1e+21"},
		{1e-7, "1e-07"},
		{123456.789, "123456.789"},
		{9007199254740993.0, "9007199254740992"},
		{DBL_MAX, "1.7976931348623157e+308"},
		{5e-324, "5e-324"},
		{2.2250738585072014e-308, "2.2250738585072014e-308"},
		{7.5e12, "7500000000000"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_assert_str_eq(value_field(cases[i].v), cases[i].want, "%.17g → %s, want %s",
				 cases[i].v, value_field(cases[i].v), cases[i].want);
}

Test(copyrow, random_doubles_read_back_exactly)
{
	uint64_t s = 0x243F6A8885A308D3ULL;
	for (int i = 0; i < 20000; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		double v;
		memcpy(&v, &s, sizeof(v));
		if (!isfinite(v))
			continue;
		const char *txt = value_field(v);
		double back = strtod(txt, NULL);
		cr_assert(memcmp(&back, &v, sizeof(v)) == 0, "%.17g printed as %s", v, txt);
		/* and no shorter precision would have done */
		/* significant digits: first to last non-zero digit of the mantissa */
		int digits = 0, pending = 0;
		bool started = false;
		for (const char *c = txt; *c && *c != 'e'; c++) {
			if (*c < '0' || *c > '9')
				continue;
			if (*c == '0') {
				pending += started;
				continue;
			}
			digits += started ? pending + 1 : 1;
			pending = 0;
			started = true;
		}
		if (digits > 1) {
			char shorter[512];
			snprintf(shorter, sizeof(shorter), "%.*g", digits - 1, v);
			cr_assert_neq(strtod(shorter, NULL), v,
				      "%.17g: %s is not the shortest (%s reads back too)", v, txt,
				      shorter);
		}
	}
}

Test(copyrow, rows_append_to_the_buffer)
{
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_point p = pt("2025-10-20T00:00:00Z", "2025-10-20T00:00:00Z", 1, 1);
	lav_copy_row(&b, 0, "a/b", "X", &p);
	p.value = 2;
	lav_copy_row(&b, 1, "a/b", "Y", &p);
	cr_assert_str_eq(lav_buf_cstr(&b),
			 "0\ta/b\tX\t2025-10-20T00:00:00.000Z\t2025-10-20T00:00:00.000Z\t1\t1\t\\N\t"
			 "\\N\n"
			 "1\ta/b\tY\t2025-10-20T00:00:00.000Z\t2025-10-20T00:00:00.000Z\t2\t1\t\\N\t"
			 "\\N\n");
	lav_buf_free(&b);
}

/* Every row has exactly 9 fields whatever the content. */
Test(copyrow, field_count_is_fixed)
{
	struct lav_point p = pt("2025-10-20T00:00:00Z", "2025-10-20T00:00:00Z", 1, 1);
	p.meta = J("{\"a\":\"\\t\\n\\r\\\\\"}");
	const char *ents[] = {"", "\t", "\n", "\r\n", "\\\t\\", "a\tb\tc"};
	for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
		struct lav_buf b = LAV_BUF_INIT;
		lav_copy_row(&b, i, "a/b", ents[i], &p);
		const char *s = lav_buf_cstr(&b);
		size_t tabs = 0, nls = 0, crs = 0;
		for (size_t k = 0; k < b.len; k++) {
			tabs += s[k] == '\t';
			nls += s[k] == '\n';
			crs += s[k] == '\r';
		}
		cr_assert_eq(tabs, 8, "entity %zu: %zu tabs in %s", i, tabs, s);
		cr_assert_eq(nls, 1);
		cr_assert_eq(crs, 0);
		cr_assert_eq(s[b.len - 1], '\n');
		lav_buf_free(&b);
	}
	lav_point_clear(&p);
}
