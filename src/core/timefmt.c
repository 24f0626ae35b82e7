#include "lav/timefmt.h"

#include <stdio.h>
#include <string.h>

/* Howard Hinnant's days_from_civil: exact for every proleptic Gregorian date. */
int64_t lav_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void lav_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	const unsigned doe = (unsigned)(z - era * 146097);
	const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	const unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
	static const unsigned dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

static bool digits(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return true;
}

#define FAIL(msg)                                                                                  \
	do {                                                                                       \
		if (why)                                                                           \
			*why = (msg);                                                              \
		return false;                                                                      \
	} while (0)

bool lav_time_parse(const char *s, size_t len, int64_t *out_us, const char **why)
{
	unsigned Y, M, D, h, mi, sec;
	if (len < 20)
		FAIL("too short for an RFC 3339 date-time");
	if (!digits(s, 4, &Y) || s[4] != '-' || !digits(s + 5, 2, &M) || s[7] != '-' ||
	    !digits(s + 8, 2, &D))
		FAIL("date must be YYYY-MM-DD");
	if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
		FAIL("date and time must be separated by 'T'");
	if (!digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
	    !digits(s + 17, 2, &sec))
		FAIL("time must be HH:MM:SS");
	if (M < 1 || M > 12)
		FAIL("month out of range");
	if (D < 1 || D > days_in_month(Y, M))
		FAIL("day out of range");
	if (h > 23 || mi > 59 || sec > 59)
		FAIL("time of day out of range");
	size_t i = 19;
	int64_t frac_us = 0;
	if (i < len && s[i] == '.') {
		i++;
		size_t start = i;
		int64_t scale = 100000;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			frac_us += (s[i] - '0') * scale;
			scale /= 10;
			i++;
		}
		if (i == start || i - start > 9)
			FAIL("fractional seconds must have 1 to 9 digits");
	}
	int64_t offset_s = 0;
	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < len && (s[i] == '+' || s[i] == '-')) {
		unsigned oh, om;
		if (len - i < 6 || !digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
		    !digits(s + i + 4, 2, &om))
			FAIL("offset must be Z or +HH:MM");
		if (oh > 23 || om > 59)
			FAIL("offset out of range");
		offset_s = (int64_t)(oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
		i += 6;
	} else {
		FAIL("a time zone offset (Z or +HH:MM) is required");
	}
	if (i != len)
		FAIL("unexpected characters after the offset");
	int64_t days = lav_days_from_civil(Y, M, D);
	int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_s;
	*out_us = secs * LAV_US_PER_S + frac_us;
	return true;
}

size_t lav_time_format(int64_t us, char out[LAV_TIME_STRLEN])
{
	int64_t secs = us / LAV_US_PER_S;
	int64_t sub = us % LAV_US_PER_S;
	if (sub < 0) {
		sub += LAV_US_PER_S;
		secs -= 1;
	}
	int64_t days = secs / 86400;
	int64_t sod = secs % 86400;
	if (sod < 0) {
		sod += 86400;
		days -= 1;
	}
	int64_t y;
	unsigned m, d;
	lav_civil_from_days(days, &y, &m, &d);
	int n;
	if (sub % 1000 == 0)
		n = snprintf(out, LAV_TIME_STRLEN, "%04lld-%02u-%02uT%02u:%02u:%02u.%03uZ",
			     (long long)y, m, d, (unsigned)(sod / 3600), (unsigned)(sod / 60 % 60),
			     (unsigned)(sod % 60), (unsigned)(sub / 1000));
	else
		n = snprintf(out, LAV_TIME_STRLEN, "%04lld-%02u-%02uT%02u:%02u:%02u.%06uZ",
			     (long long)y, m, d, (unsigned)(sod / 3600), (unsigned)(sod / 60 % 60),
			     (unsigned)(sod % 60), (unsigned)sub);
	return n > 0 ? (size_t)n : 0;
}

bool lav_duration_parse(const char *s, bool allow_zero, int64_t *out_ms)
{
	if (!s || !*s)
		return false;
	int64_t v = 0;
	const char *p = s;
	while (*p >= '0' && *p <= '9') {
		if (v > (INT64_MAX / 10) - 10)
			return false;
		v = v * 10 + (*p - '0');
		p++;
	}
	if (p == s)
		return false;
	int64_t unit;
	if (strcmp(p, "ms") == 0)
		unit = 1;
	else if (strcmp(p, "s") == 0)
		unit = 1000;
	else if (strcmp(p, "m") == 0)
		unit = 60000;
	else if (strcmp(p, "h") == 0)
		unit = 3600000;
	else if (strcmp(p, "d") == 0)
		unit = 86400000;
	else if (strcmp(p, "w") == 0)
		unit = 7 * 86400000LL;
	else
		return false;
	if (v > INT64_MAX / unit)
		return false;
	if (v == 0 && !allow_zero)
		return false;
	*out_ms = v * unit;
	return true;
}
