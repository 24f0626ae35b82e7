/* One-line JSON logs on stderr: {"ts":..,"level":..,"cid":..,"msg":..}. */
#ifndef LAV_LOG_H
#define LAV_LOG_H

#include "lav/config.h"

struct lav_log {
	enum lav_log_level level;
	int fd;
};

void lav_log(const struct lav_log *log, enum lav_log_level level, const char *cid,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define lav_debug(l, ...) lav_log((l), LAV_LOG_DEBUG, NULL, __VA_ARGS__)
#define lav_info(l, ...) lav_log((l), LAV_LOG_INFO, NULL, __VA_ARGS__)
#define lav_warn(l, ...) lav_log((l), LAV_LOG_WARN, NULL, __VA_ARGS__)
#define lav_error(l, ...) lav_log((l), LAV_LOG_ERROR, NULL, __VA_ARGS__)

int64_t lav_now_us(void);
int64_t lav_monotonic_us(void);

#endif
