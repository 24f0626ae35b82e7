/* COPY text format for the staging table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lav/codec.h"
#include "lav/store.h"
#include "lav/timefmt.h"

static void copy_escaped(struct lav_buf *out, const char *s, size_t n)
{
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		const char *esc = NULL;
		switch (s[i]) {
		case '\\':
			esc = "\\\\";
			break;
		case '\t':
			esc = "\\t";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		default:
			continue;
		}
		lav_buf_append(out, s + run, i - run);
		lav_buf_append(out, esc, 2);
		run = i + 1;
	}
	lav_buf_append(out, s + run, n - run);
}

static void copy_json(struct lav_buf *out, const json_t *v)
{
	if (!v) {
		lav_buf_append(out, "\\N", 2);
		return;
	}
	char *txt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	copy_escaped(out, txt, strlen(txt));
	free(txt);
}

void lav_copy_row(struct lav_buf *out, size_t idx, const char *feature_id, const char *entity,
		  const struct lav_point *p)
{
	char ts[LAV_TIME_STRLEN], av[LAV_TIME_STRLEN], num[32];
	lav_time_format(p->ts, ts);
	lav_time_format(p->available_at, av);
	lav_buf_printf(out, "%zu\t", idx);
	copy_escaped(out, feature_id, strlen(feature_id));
	lav_buf_putc(out, '\t');
	copy_escaped(out, entity, strlen(entity));
	lav_buf_printf(out, "\t%s\t%s\t", ts, av);
	lav_buf_append(out, num, lav_format_double(p->value, num));
	lav_buf_putc(out, '\t');
	lav_buf_append(out, num, lav_format_double(p->confidence, num));
	lav_buf_putc(out, '\t');
	copy_json(out, p->meta);
	lav_buf_putc(out, '\t');
	copy_json(out, p->evidence);
	lav_buf_putc(out, '\n');
}
