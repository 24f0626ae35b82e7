#include "lav/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void lav_oom(void)
{
	fputs("{\"level\":\"error\",\"msg\":\"out of memory\"}\n", stderr);
	abort();
}

void *lav_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		lav_oom();
	return p;
}

void *lav_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		lav_oom();
	return p;
}

void *lav_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		lav_oom();
	return p;
}

char *lav_xstrdup(const char *s)
{
	return lav_xstrndup(s, strlen(s));
}

char *lav_xstrndup(const char *s, size_t n)
{
	char *p = lav_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void lav_buf_reserve(struct lav_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1; /* room for lav_buf_cstr's NUL */
	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	b->data = lav_xrealloc(b->data, cap);
	b->cap = cap;
}

void lav_buf_append(struct lav_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	lav_buf_reserve(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void lav_buf_puts(struct lav_buf *b, const char *s)
{
	lav_buf_append(b, s, strlen(s));
}

void lav_buf_putc(struct lav_buf *b, char c)
{
	lav_buf_reserve(b, 1);
	b->data[b->len++] = c;
}

void lav_buf_vprintf(struct lav_buf *b, const char *fmt, va_list ap)
{
	/* format into the spare room first; grow and format again only if short */
	lav_buf_reserve(b, 64);
	va_list cp;
	va_copy(cp, ap);
	size_t room = b->cap - b->len;
	int n = vsnprintf(b->data + b->len, room, fmt, cp);
	va_end(cp);
	if (n <= 0)
		return;
	if ((size_t)n >= room) {
		lav_buf_reserve(b, (size_t)n);
		vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	}
	b->len += (size_t)n;
}

void lav_buf_printf(struct lav_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	lav_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

char *lav_buf_cstr(struct lav_buf *b)
{
	lav_buf_reserve(b, 0);
	b->data[b->len] = '\0';
	return b->data;
}

void lav_buf_reset(struct lav_buf *b)
{
	b->len = 0;
}

void lav_buf_free(struct lav_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
