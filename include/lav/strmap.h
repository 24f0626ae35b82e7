/* String-keyed hash map (open addressing, linear probing). Keys are copied;
 * values are borrowed pointers. Used for the series index and token buckets. */
#ifndef LAV_STRMAP_H
#define LAV_STRMAP_H

#include <stddef.h>

struct lav_strmap_slot {
	char *key; /* NULL = empty */
	void *value;
};

struct lav_strmap {
	struct lav_strmap_slot *slots;
	size_t cap; /* power of two */
	size_t n;
};

void lav_strmap_init(struct lav_strmap *m);
void lav_strmap_free(struct lav_strmap *m);
void *lav_strmap_get(const struct lav_strmap *m, const char *key);
/* Inserts or replaces; returns the previous value or NULL. */
void *lav_strmap_put(struct lav_strmap *m, const char *key, void *value);

#define lav_strmap_foreach(m, i) \
	for (size_t i = 0; i < (m)->cap; i++) \
		if ((m)->slots[i].key)

#endif
