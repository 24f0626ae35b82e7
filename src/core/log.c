#include "lav/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lav/buf.h"
#include "lav/codec.h"
#include "lav/timefmt.h"

int64_t lav_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * LAV_US_PER_S + ts.tv_nsec / 1000;
}

int64_t lav_monotonic_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * LAV_US_PER_S + ts.tv_nsec / 1000;
}

void lav_log(const struct lav_log *log, enum lav_log_level level, const char *cid,
	     const char *fmt, ...)
{
	static const char *const names[] = {"debug", "info", "warn", "error"};
	if (log && level < log->level)
		return;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	size_t mlen = (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1;
	char ts[LAV_TIME_STRLEN];
	lav_time_format(lav_now_us(), ts);
	struct lav_buf b = LAV_BUF_INIT;
	lav_buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\"", ts, names[level]);
	if (cid) {
		lav_buf_puts(&b, ",\"cid\":");
		lav_json_escape(&b, cid, strlen(cid));
	}
	lav_buf_puts(&b, ",\"msg\":");
	lav_json_escape(&b, msg, mlen);
	lav_buf_puts(&b, "}\n");
	/* one write per line so concurrent writers never interleave a line */
	ssize_t w = write(log ? log->fd : 2, b.data, b.len);
	(void)w;
	lav_buf_free(&b);
}
