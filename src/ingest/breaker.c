#include "lav/breaker.h"

void lav_breaker_init(struct lav_breaker *b, int threshold, int64_t open_us)
{
	*b = (struct lav_breaker){.threshold = threshold > 0 ? threshold : 1, .open_us = open_us};
}

bool lav_breaker_allow(struct lav_breaker *b, int64_t now_us)
{
	switch (b->state) {
	case LAV_BREAKER_CLOSED:
		return true;
	case LAV_BREAKER_OPEN:
		if (now_us < b->open_until)
			return false;
		b->state = LAV_BREAKER_HALF_OPEN;
		b->probe_in_flight = true;
		return true;
	case LAV_BREAKER_HALF_OPEN:
		if (b->probe_in_flight)
			return false;
		b->probe_in_flight = true;
		return true;
	}
	return false;
}

void lav_breaker_record(struct lav_breaker *b, bool ok, int64_t now_us)
{
	if (ok) {
		b->state = LAV_BREAKER_CLOSED;
		b->consecutive_failures = 0;
		b->probe_in_flight = false;
		return;
	}
	b->consecutive_failures++;
	if (b->state == LAV_BREAKER_HALF_OPEN || b->consecutive_failures >= b->threshold) {
		b->state = LAV_BREAKER_OPEN;
		b->open_until = now_us + b->open_us;
		b->probe_in_flight = false;
	}
}

enum lav_breaker_state lav_breaker_state(const struct lav_breaker *b, int64_t now_us)
{
	if (b->state == LAV_BREAKER_OPEN && now_us >= b->open_until)
		return LAV_BREAKER_HALF_OPEN;
	return b->state;
}

const char *lav_breaker_state_name(enum lav_breaker_state s)
{
	return s == LAV_BREAKER_CLOSED ? "closed" : s == LAV_BREAKER_OPEN ? "open" : "half_open";
}

int64_t lav_spacer_take(struct lav_spacer *s, int rpm, int64_t now_us)
{
	if (rpm <= 0)
		rpm = 1;
	if (s->next_us > now_us)
		return s->next_us - now_us;
	s->next_us = now_us + 60000000LL / rpm;
	return 0;
}

int64_t lav_backoff_us(int64_t base_us, int64_t cap_us, int attempt, double u)
{
	int64_t d = base_us;
	for (int i = 1; i < attempt && d < cap_us; i++)
		d *= 2;
	if (d > cap_us)
		d = cap_us;
	return (int64_t)((double)d * (0.5 + u));
}
