/* The per-source circuit breaker, request spacer and retry backoff. */
#include <criterion/criterion.h>

#include "lav/breaker.h"

#define S 1000000LL

Test(breaker, opens_after_threshold_consecutive_failures)
{
	struct lav_breaker b;
	lav_breaker_init(&b, 3, 300 * S);
	cr_assert(lav_breaker_allow(&b, 0));
	lav_breaker_record(&b, false, 1);
	lav_breaker_record(&b, false, 2);
	cr_assert_eq(lav_breaker_state(&b, 3), LAV_BREAKER_CLOSED);
	lav_breaker_record(&b, false, 3);
	cr_assert_eq(lav_breaker_state(&b, 4), LAV_BREAKER_OPEN);
	cr_assert_not(lav_breaker_allow(&b, 4));
	cr_assert_not(lav_breaker_allow(&b, 3 + 300 * S - 1));
	cr_assert_str_eq(lav_breaker_state_name(lav_breaker_state(&b, 4)), "open");
}

Test(breaker, a_success_resets_the_count)
{
	struct lav_breaker b;
	lav_breaker_init(&b, 3, 300 * S);
	lav_breaker_record(&b, false, 1);
	lav_breaker_record(&b, false, 2);
	lav_breaker_record(&b, true, 3);
	lav_breaker_record(&b, false, 4);
	lav_breaker_record(&b, false, 5);
	cr_assert_eq(lav_breaker_state(&b, 6), LAV_BREAKER_CLOSED);
	cr_assert_eq(b.consecutive_failures, 2);
}

Test(breaker, half_open_lets_one_probe_through)
{
	struct lav_breaker b;
	lav_breaker_init(&b, 3, 300 * S);
	for (int i = 0; i < 3; i++)
		lav_breaker_record(&b, false, 10);
	int64_t later = 10 + 300 * S;
	cr_assert_eq(lav_breaker_state(&b, later), LAV_BREAKER_HALF_OPEN);
	cr_assert_str_eq(lav_breaker_state_name(LAV_BREAKER_HALF_OPEN), "half_open");
	cr_assert(lav_breaker_allow(&b, later));	/* the probe */
	cr_assert_not(lav_breaker_allow(&b, later + 1)); /* only one */
	lav_breaker_record(&b, true, later + 2);
	cr_assert_eq(lav_breaker_state(&b, later + 3), LAV_BREAKER_CLOSED);
	cr_assert(lav_breaker_allow(&b, later + 3));
	cr_assert(lav_breaker_allow(&b, later + 3));
}

Test(breaker, failed_probe_opens_again_for_the_whole_period)
{
	struct lav_breaker b;
	lav_breaker_init(&b, 3, 300 * S);
	for (int i = 0; i < 3; i++)
		lav_breaker_record(&b, false, 0);
	cr_assert(lav_breaker_allow(&b, 300 * S));
	lav_breaker_record(&b, false, 300 * S + 5);
	cr_assert_eq(lav_breaker_state(&b, 300 * S + 6), LAV_BREAKER_OPEN);
	cr_assert_not(lav_breaker_allow(&b, 600 * S));
	cr_assert(lav_breaker_allow(&b, 600 * S + 5));
}

Test(spacer, spaces_requests_evenly_at_the_rpm)
{
	struct lav_spacer sp = {0};
	cr_assert_eq(lav_spacer_take(&sp, 120, 1000 * S), 0);
	/* 120 a minute: one every 0.5 s, no burst */
	cr_assert_eq(lav_spacer_take(&sp, 120, 1000 * S), S / 2);
	cr_assert_eq(lav_spacer_take(&sp, 120, 1000 * S + S / 4), S / 4);
	cr_assert_eq(lav_spacer_take(&sp, 120, 1000 * S + S / 2), 0);
	/* over a minute no more than rpm requests go */
	struct lav_spacer q = {0};
	int sent = 0;
	for (int64_t t = 0; t < 60 * S; t += S / 100)
		sent += lav_spacer_take(&q, 60, t) == 0;
	cr_assert_eq(sent, 60);
}

Test(backoff, doubles_with_jitter_and_caps)
{
	cr_assert_eq(lav_backoff_us(S, 60 * S, 1, 0.5), S);
	cr_assert_eq(lav_backoff_us(S, 60 * S, 2, 0.5), 2 * S);
	cr_assert_eq(lav_backoff_us(S, 60 * S, 3, 0.5), 4 * S);
	cr_assert_eq(lav_backoff_us(S, 60 * S, 30, 0.5), 60 * S);
	cr_assert_eq(lav_backoff_us(S, 60 * S, 1, 0.0), S / 2);
	cr_assert(lav_backoff_us(S, 60 * S, 1, 0.999) < 3 * S / 2);
}
