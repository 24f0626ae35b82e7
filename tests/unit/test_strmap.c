/* The string-keyed hash map behind the series index and token buckets. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lav/strmap.h"

#define V(i) ((void *)(uintptr_t)(i))

Test(strmap, put_get_replace)
{
	struct lav_strmap m;
	lav_strmap_init(&m);
	cr_assert_eq(m.n, 0);
	cr_assert_null(lav_strmap_get(&m, "a"));
	cr_assert_null(lav_strmap_put(&m, "a", V(1)));
	cr_assert_null(lav_strmap_put(&m, "b", V(2)));
	cr_assert_eq(lav_strmap_get(&m, "a"), V(1));
	cr_assert_eq(lav_strmap_get(&m, "b"), V(2));
	cr_assert_null(lav_strmap_get(&m, "c"));
	cr_assert_null(lav_strmap_get(&m, "A"));
	cr_assert_null(lav_strmap_get(&m, "ab"));
	cr_assert_null(lav_strmap_get(&m, ""));
	cr_assert_eq(m.n, 2);
	/* replace returns the previous value and keeps the count */
	cr_assert_eq(lav_strmap_put(&m, "a", V(10)), V(1));
	cr_assert_eq(lav_strmap_get(&m, "a"), V(10));
	cr_assert_eq(lav_strmap_put(&m, "a", V(11)), V(10));
	cr_assert_eq(m.n, 2);
	lav_strmap_free(&m);
	cr_assert_null(m.slots);
	cr_assert_eq(m.n, 0);
}

Test(strmap, keys_are_copied)
{
	struct lav_strmap m;
	lav_strmap_init(&m);
	char key[32] = "macro/us/walcl\x1f";
	lav_strmap_put(&m, key, V(7));
	strcpy(key, "something else");
	cr_assert_eq(lav_strmap_get(&m, "macro/us/walcl\x1f"), V(7));
	cr_assert_null(lav_strmap_get(&m, key));
	lav_strmap_free(&m);
}

Test(strmap, empty_key_and_long_keys)
{
	struct lav_strmap m;
	lav_strmap_init(&m);
	lav_strmap_put(&m, "", V(1));
	cr_assert_eq(lav_strmap_get(&m, ""), V(1));
	char big[4096];
	memset(big, 'k', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	lav_strmap_put(&m, big, V(2));
	cr_assert_eq(lav_strmap_get(&m, big), V(2));
	big[100] = 'j';
	cr_assert_null(lav_strmap_get(&m, big));
	cr_assert_eq(m.n, 2);
	lav_strmap_free(&m);
}

Test(strmap, zeroed_and_freed_maps_are_usable)
{
	struct lav_strmap m;
	memset(&m, 0, sizeof(m));
	cr_assert_null(lav_strmap_get(&m, "x"));
	cr_assert_null(lav_strmap_put(&m, "x", V(1)));
	cr_assert_eq(lav_strmap_get(&m, "x"), V(1));
	lav_strmap_free(&m);
	cr_assert_null(lav_strmap_get(&m, "x"));
	cr_assert_null(lav_strmap_put(&m, "y", V(2)));
	cr_assert_eq(lav_strmap_get(&m, "y"), V(2));
	cr_assert_null(lav_strmap_get(&m, "x"));
	cr_assert_eq(m.n, 1);
	lav_strmap_free(&m);
	lav_strmap_free(&m); /* twice is harmless */
}

Test(strmap, growth_past_many_keys)
{
	enum { N = 50000 };
	struct lav_strmap m;
	lav_strmap_init(&m);
	size_t cap0 = m.cap;
	char k[32];
	for (int i = 0; i < N; i++) {
		snprintf(k, sizeof(k), "feature/%d\x1f%s", i, i % 3 ? "BTC" : "");
		cr_assert_null(lav_strmap_put(&m, k, V(i + 1)), "key %s reported as present", k);
		cr_assert_eq(m.n, (size_t)i + 1);
		/* load factor at most 3/4, capacity a power of two */
		cr_assert_leq(m.n * 4, m.cap * 3, "n %zu cap %zu", m.n, m.cap);
		cr_assert_eq(m.cap & (m.cap - 1), 0);
	}
	cr_assert_gt(m.cap, cap0);
	for (int i = 0; i < N; i++) {
		snprintf(k, sizeof(k), "feature/%d\x1f%s", i, i % 3 ? "BTC" : "");
		cr_assert_eq(lav_strmap_get(&m, k), V(i + 1), "lost %s", k);
		snprintf(k, sizeof(k), "feature/%d\x1f%s", i, i % 3 ? "" : "BTC");
		cr_assert_null(lav_strmap_get(&m, k), "phantom %s", k);
	}
	/* replacing after growth */
	for (int i = 0; i < N; i += 7) {
		snprintf(k, sizeof(k), "feature/%d\x1f%s", i, i % 3 ? "BTC" : "");
		cr_assert_eq(lav_strmap_put(&m, k, V(i + 2)), V(i + 1));
	}
	cr_assert_eq(m.n, N);
	for (int i = 0; i < N; i++) {
		snprintf(k, sizeof(k), "feature/%d\x1f%s", i, i % 3 ? "BTC" : "");
		cr_assert_eq(lav_strmap_get(&m, k), V(i % 7 ? i + 1 : i + 2));
	}
	lav_strmap_free(&m);
}

Test(strmap, foreach_visits_every_key_once)
{
	enum { N = 1000 };
	struct lav_strmap m;
	lav_strmap_init(&m);
	char k[32];
	for (int i = 0; i < N; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		lav_strmap_put(&m, k, V(i + 1));
	}
	/* replacing does not add a slot */
	lav_strmap_put(&m, "k5", V(6));
	int *seen = calloc(N, sizeof(int));
	size_t visits = 0;
	lav_strmap_foreach(&m, i)
	{
		int idx = atoi(m.slots[i].key + 1);
		cr_assert(idx >= 0 && idx < N, "unexpected key %s", m.slots[i].key);
		snprintf(k, sizeof(k), "k%d", idx);
		cr_assert_str_eq(m.slots[i].key, k);
		cr_assert_eq(m.slots[i].value, V(idx + 1));
		seen[idx]++;
		visits++;
	}
	cr_assert_eq(visits, N);
	for (int i = 0; i < N; i++)
		cr_assert_eq(seen[i], 1, "k%d visited %d times", i, seen[i]);
	free(seen);
	/* an empty map visits nothing */
	struct lav_strmap e;
	lav_strmap_init(&e);
	size_t none = 0;
	lav_strmap_foreach(&e, i) none++;
	cr_assert_eq(none, 0);
	lav_strmap_free(&e);
	lav_strmap_free(&m);
}

Test(strmap, colliding_prefixes_and_binary_like_keys)
{
	struct lav_strmap m;
	lav_strmap_init(&m);
	const char *keys[] = {"a", "aa", "aaa", "a\x1f", "\x1f" "a", "a/b", "a/b\x1f", "a/b\x1f" "c",
			      "\xff\xfe", "é"};
	size_t n = sizeof(keys) / sizeof(keys[0]);
	for (size_t i = 0; i < n; i++)
		cr_assert_null(lav_strmap_put(&m, keys[i], V(i + 1)));
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(lav_strmap_get(&m, keys[i]), V(i + 1), "key %zu", i);
	cr_assert_eq(m.n, n);
	lav_strmap_free(&m);
}
