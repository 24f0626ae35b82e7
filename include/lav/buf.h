/* Growable byte buffer used by the codecs and the HTTP layer.
 * The owner of a struct lav_buf calls lav_buf_free(); allocation failure aborts,
 * because a server that cannot allocate a few bytes cannot answer anyway. */
#ifndef LAV_BUF_H
#define LAV_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct lav_buf {
	char *data;
	size_t len;
	size_t cap;
};

#define LAV_BUF_INIT {NULL, 0, 0}

void lav_buf_reserve(struct lav_buf *b, size_t extra);
void lav_buf_append(struct lav_buf *b, const void *p, size_t n);
void lav_buf_puts(struct lav_buf *b, const char *s);
void lav_buf_putc(struct lav_buf *b, char c);
void lav_buf_printf(struct lav_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lav_buf_vprintf(struct lav_buf *b, const char *fmt, va_list ap);
/* NUL-terminates without counting the NUL in len; returns data. */
char *lav_buf_cstr(struct lav_buf *b);
void lav_buf_reset(struct lav_buf *b);
void lav_buf_free(struct lav_buf *b);

void *lav_xmalloc(size_t n);
void *lav_xcalloc(size_t n, size_t size);
void *lav_xrealloc(void *p, size_t n);
char *lav_xstrdup(const char *s);
char *lav_xstrndup(const char *s, size_t n);

#endif
