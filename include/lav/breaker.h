/* A circuit breaker and a request spacer per upstream source. Pure. */
#ifndef LAV_BREAKER_H
#define LAV_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

enum lav_breaker_state { LAV_BREAKER_CLOSED, LAV_BREAKER_OPEN, LAV_BREAKER_HALF_OPEN };

/* threshold consecutive failures open it for open_us; then one probe is let
 * through (half-open): its success closes the breaker, its failure opens it
 * again for open_us. */
struct lav_breaker {
	int threshold;
	int64_t open_us;
	enum lav_breaker_state state;
	int consecutive_failures;
	int64_t open_until;
	bool probe_in_flight;
};

void lav_breaker_init(struct lav_breaker *b, int threshold, int64_t open_us);
/* May a request go now? In half-open state only one (the probe) may. */
bool lav_breaker_allow(struct lav_breaker *b, int64_t now_us);
void lav_breaker_record(struct lav_breaker *b, bool ok, int64_t now_us);
/* The state as an operator should see it (open past its time reads
 * half_open). */
enum lav_breaker_state lav_breaker_state(const struct lav_breaker *b, int64_t now_us);
const char *lav_breaker_state_name(enum lav_breaker_state s);

/* At most rpm requests a minute, evenly spaced: no bursts, so a rolling
 * one-minute window upstream never sees more than rpm. Returns 0 when a
 * request may go now (and books it), else the µs to wait. */
struct lav_spacer {
	int64_t next_us;
};
int64_t lav_spacer_take(struct lav_spacer *s, int rpm, int64_t now_us);

/* Delay before retry attempt n (1-based): base * 2^(n-1), capped at cap,
 * times a jitter factor in [0.5, 1.5) from u in [0, 1). */
int64_t lav_backoff_us(int64_t base_us, int64_t cap_us, int attempt, double u);

#endif
