#include "lav/cron.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lav/timefmt.h"

/* One field: comma-separated items of "*", "N", "N-M", each optionally "/step". */
static bool parse_field(const char *s, size_t n, int lo, int hi, uint64_t *bits, bool *any,
			const char *name, char *err, size_t errlen)
{
	*bits = 0;
	/* Vixie cron: a field that starts with '*' (also a stepped star) counts as
	 * unrestricted when combining day-of-month and day-of-week */
	*any = n >= 1 && s[0] == '*';
	const char *end = s + n;
	while (s < end) {
		const char *comma = memchr(s, ',', (size_t)(end - s));
		const char *item_end = comma ? comma : end;
		int a, b, step = 1;
		const char *p = s;
		char *e;
		if (*p == '*') {
			a = lo;
			b = hi;
			p++;
		} else {
			long v = strtol(p, &e, 10);
			if (e == p || v < lo || v > hi)
				goto bad;
			a = b = (int)v;
			p = e;
			if (p < item_end && *p == '-') {
				p++;
				v = strtol(p, &e, 10);
				if (e == p || v < a || v > hi)
					goto bad;
				b = (int)v;
				p = e;
			}
		}
		if (p < item_end && *p == '/') {
			p++;
			long v = strtol(p, &e, 10);
			if (e == p || v < 1 || v > hi - lo + 1)
				goto bad;
			step = (int)v;
			p = e;
			if (a == b && s[0] != '*')
				b = hi; /* "5/15" means from 5 every 15 */
		}
		if (p != item_end)
			goto bad;
		for (int i = a; i <= b; i += step)
			*bits |= 1ULL << i;
		s = comma ? comma + 1 : end;
		if (comma && s == end)
			goto bad;
	}
	return *bits != 0;
bad:
	snprintf(err, errlen, "%s field must be *, N, N-M, lists and /step within %d-%d", name, lo,
		 hi);
	return false;
}

bool lav_cron_parse(const char *expr, struct lav_cron *out, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		int lo, hi;
	} f[5] = {{"minute", 0, 59}, {"hour", 0, 23}, {"day-of-month", 1, 31},
		  {"month", 1, 12},  {"day-of-week", 0, 7}};
	memset(out, 0, sizeof(*out));
	uint64_t bits[5];
	bool any[5];
	const char *p = expr;
	for (int i = 0; i < 5; i++) {
		while (*p == ' ' || *p == '\t')
			p++;
		const char *start = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (p == start) {
			snprintf(err, errlen, "expected 5 fields (minute hour day month weekday)");
			return false;
		}
		if (!parse_field(start, (size_t)(p - start), f[i].lo, f[i].hi, &bits[i], &any[i],
				 f[i].name, err, errlen))
			return false;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p) {
		snprintf(err, errlen, "expected 5 fields (minute hour day month weekday)");
		return false;
	}
	out->minute = bits[0];
	out->hour = (uint32_t)bits[1];
	out->mday = (uint32_t)bits[2];
	out->month = (uint16_t)bits[3];
	uint64_t wd = bits[4];
	if (wd & (1ULL << 7))
		wd = (wd | 1) & 0x7f;
	out->wday = (uint8_t)wd;
	out->mday_any = any[2];
	out->wday_any = any[4];
	return true;
}

int64_t lav_cron_next(const struct lav_cron *c, int64_t after_us)
{
	int64_t minute = after_us / (60 * LAV_US_PER_S);
	if (after_us < 0 && after_us % (60 * LAV_US_PER_S))
		minute--;
	minute++;
	const int64_t limit = minute + 8LL * 366 * 24 * 60;
	while (minute < limit) {
		int64_t day = minute / 1440;
		if (minute % 1440 < 0)
			day--;
		int64_t y;
		unsigned m, d;
		lav_civil_from_days(day, &y, &m, &d);
		unsigned wday = (unsigned)(((day % 7) + 11) % 7); /* 1970-01-01 was a Thursday */
		bool mday_ok = c->mday & (1u << d);
		bool wday_ok = c->wday & (1u << wday);
		/* Vixie cron: when both day fields are restricted, either may match. */
		bool day_ok = c->mday_any || c->wday_any ? (mday_ok && wday_ok)
							  : (mday_ok || wday_ok);
		if (!(c->month & (1u << m)) || !day_ok) {
			minute = (day + 1) * 1440;
			continue;
		}
		int mod = (int)(minute - day * 1440);
		int h = mod / 60, mi = mod % 60;
		if (!(c->hour & (1u << h))) {
			minute = day * 1440 + (h + 1) * 60;
			continue;
		}
		if (!(c->minute & (1ULL << mi))) {
			minute++;
			continue;
		}
		return minute * 60 * LAV_US_PER_S;
	}
	return -1;
}
