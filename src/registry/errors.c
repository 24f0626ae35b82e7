#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "lav/buf.h"
#include "lav/catalog.h"

void lav_errors_add(struct lav_errors *e, const char *fmt, ...)
{
	if (e->n == LAV_ERRORS_MAX) {
		e->dropped++;
		return;
	}
	struct lav_buf b = LAV_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	lav_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	e->msg[e->n++] = lav_buf_cstr(&b);
}

void lav_errors_free(struct lav_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->msg[i]);
	e->n = 0;
	e->dropped = 0;
}
