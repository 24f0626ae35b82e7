/* Query strings: splitting, percent-decoding, repeated and unknown keys. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "lav/router.h"

static struct lav_query q;

static void setup(void)
{
	memset(&q, 0, sizeof(q));
}

static void teardown(void)
{
	lav_query_free(&q);
}

TestSuite(query, .init = setup, .fini = teardown);

static void parse_ok(const char *qs)
{
	lav_query_free(&q);
	cr_assert(lav_query_parse(qs, &q), "\"%s\" rejected", qs ? qs : "(null)");
}

static void parse_bad(const char *qs)
{
	lav_query_free(&q);
	cr_assert_not(lav_query_parse(qs, &q), "\"%s\" accepted", qs);
	cr_assert_eq(q.n, 0, "\"%s\": %zu params left after failure", qs, q.n);
	cr_assert_null(q.p);
}

static void param_is(size_t i, const char *k, const char *v)
{
	cr_assert_lt(i, q.n);
	cr_assert_str_eq(q.p[i].key, k, "param %zu", i);
	cr_assert_str_eq(q.p[i].value, v, "param %zu (%s)", i, k);
}

Test(query, simple)
{
	parse_ok("a=1&b=two");
	cr_assert_eq(q.n, 2);
	param_is(0, "a", "1");
	param_is(1, "b", "two");
}

Test(query, null_and_empty)
{
	parse_ok(NULL);
	cr_assert_eq(q.n, 0);
	parse_ok("");
	cr_assert_eq(q.n, 0);
	parse_ok("&&&");
	cr_assert_eq(q.n, 0);
}

Test(query, percent_decoding)
{
	parse_ok("featureId=macro%2Fus%2fwalcl_total_usd&x=%41%42%43&sp=a%20b&pct=100%25");
	cr_assert_eq(q.n, 4);
	param_is(0, "featureId", "macro/us/walcl_total_usd");
	param_is(1, "x", "ABC");
	param_is(2, "sp", "a b");
	param_is(3, "pct", "100%");
	parse_ok("%6B%65%79=v");
	param_is(0, "key", "v");
	parse_ok("since=2025-10-20T00%3A00%3A00%2B02%3A00");
	param_is(0, "since", "2025-10-20T00:00:00+02:00");
	parse_ok("e=%C3%A9%E2%82%AC");
	param_is(0, "e", "é€");
	parse_ok("amp=%26&eq=%3D");
	param_is(0, "amp", "&");
	param_is(1, "eq", "=");
}

Test(query, plus_is_space)
{
	parse_ok("q=a+b+c&k+x=1&lit=%2B");
	param_is(0, "q", "a b c");
	param_is(1, "k x", "1");
	param_is(2, "lit", "+");
}

Test(query, empty_values_and_keys)
{
	parse_ok("a=&b&c=1");
	cr_assert_eq(q.n, 3);
	param_is(0, "a", "");
	param_is(1, "b", "");
	param_is(2, "c", "1");
	parse_ok("=v");
	cr_assert_eq(q.n, 1);
	param_is(0, "", "v");
}

Test(query, empty_segments_skipped)
{
	parse_ok("&a=1&&b=2&");
	cr_assert_eq(q.n, 2);
	param_is(0, "a", "1");
	param_is(1, "b", "2");
}

Test(query, value_keeps_later_equals)
{
	parse_ok("a=b=c&d==");
	param_is(0, "a", "b=c");
	param_is(1, "d", "=");
}

Test(query, repeated_keys)
{
	parse_ok("featureId=a%2Fb&entity=BTC&featureId=c%2Fd&featureId=e%2Ff");
	cr_assert_eq(q.n, 4);
	bool dup = false;
	cr_assert_str_eq(lav_query_get(&q, "featureId", &dup), "a/b");
	cr_assert(dup);
	cr_assert_str_eq(lav_query_get(&q, "entity", &dup), "BTC");
	cr_assert_not(dup);
	dup = true;
	cr_assert_null(lav_query_get(&q, "missing", &dup));
	cr_assert_not(dup);
	/* dup may be NULL */
	cr_assert_str_eq(lav_query_get(&q, "featureId", NULL), "a/b");
	/* all values are kept in order */
	param_is(0, "featureId", "a/b");
	param_is(2, "featureId", "c/d");
	param_is(3, "featureId", "e/f");
}

Test(query, keys_are_case_sensitive)
{
	parse_ok("featureid=x");
	cr_assert_null(lav_query_get(&q, "featureId", NULL));
	cr_assert_str_eq(lav_query_get(&q, "featureid", NULL), "x");
}

Test(query, get_on_empty_query)
{
	parse_ok(NULL);
	bool dup = true;
	cr_assert_null(lav_query_get(&q, "a", &dup));
	cr_assert_not(dup);
}

Test(query, malformed_escapes)
{
	parse_bad("a=%zz");
	parse_bad("a=%");
	parse_bad("a=%4");
	parse_bad("a=%4g");
	parse_bad("a=%g4");
	parse_bad("%zz=1");
	parse_bad("a%=1");
	parse_bad("ok=1&b=%G0");
	parse_bad("ok=1&b=%2");
	parse_bad("a=1&b=2&c=%");
}

Test(query, embedded_nul_rejected)
{
	parse_bad("a=%00");
	parse_bad("a=x%00y");
	parse_bad("%00=1");
	parse_bad("ok=1&a%00b=1");
}

Test(query, escape_at_the_very_end)
{
	parse_ok("a=%41");
	param_is(0, "a", "A");
	parse_ok("a%41");
	param_is(0, "aA", "");
	parse_ok("a=%7e");
	param_is(0, "a", "~");
}

Test(query, unknown_keys)
{
	const char *const allowed[] = {"featureId", "entity", NULL};
	parse_ok("featureId=a&entity=b&featureId=c");
	cr_assert_null(lav_query_unknown(&q, allowed));
	parse_ok("featureId=a&tag=x&limit=3");
	cr_assert_str_eq(lav_query_unknown(&q, allowed), "tag");
	parse_ok("Entity=x");
	cr_assert_str_eq(lav_query_unknown(&q, allowed), "Entity");
	parse_ok("");
	cr_assert_null(lav_query_unknown(&q, allowed));
	const char *const none[] = {NULL};
	parse_ok("a=1");
	cr_assert_str_eq(lav_query_unknown(&q, none), "a");
	/* the reported key is the decoded one */
	parse_ok("feature%49d=x&b%20c=1");
	cr_assert_str_eq(lav_query_unknown(&q, allowed), "b c");
}

Test(query, many_params)
{
	char qs[8192];
	size_t n = 0;
	for (int i = 0; i < 500; i++)
		n += (size_t)snprintf(qs + n, sizeof(qs) - n, "%sk%d=v%d", i ? "&" : "", i, i);
	parse_ok(qs);
	cr_assert_eq(q.n, 500);
	cr_assert_str_eq(lav_query_get(&q, "k499", NULL), "v499");
	cr_assert_str_eq(lav_query_get(&q, "k0", NULL), "v0");
}
