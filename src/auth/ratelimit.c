#include <math.h>

#include "lav/auth.h"

bool lav_rate_take(struct lav_rate_bucket *b, int rpm, int64_t now_us, int *retry_after_s)
{
	double per_us = rpm / 60e6;
	if (b->last_us == 0) {
		b->tokens = rpm;
	} else if (now_us > b->last_us) {
		b->tokens += (double)(now_us - b->last_us) * per_us;
		if (b->tokens > rpm)
			b->tokens = rpm;
	}
	b->last_us = now_us > b->last_us ? now_us : b->last_us;
	if (b->tokens >= 1) {
		b->tokens -= 1;
		return true;
	}
	*retry_after_s = (int)ceil((1 - b->tokens) / per_us / 1e6);
	if (*retry_after_s < 1)
		*retry_after_s = 1;
	return false;
}
