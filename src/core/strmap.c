#include "lav/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lav/buf.h"

/* FNV-1a: short keys, no adversarial input (keys are catalog ids + entities
 * that passed validation), and cheap. */
static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

void lav_strmap_init(struct lav_strmap *m)
{
	m->cap = 64;
	m->n = 0;
	m->slots = lav_xcalloc(m->cap, sizeof(*m->slots));
}

void lav_strmap_free(struct lav_strmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	m->slots = NULL;
	m->cap = m->n = 0;
}

static size_t find(const struct lav_strmap *m, const char *key)
{
	size_t i = hash(key) & (m->cap - 1);
	while (m->slots[i].key && strcmp(m->slots[i].key, key) != 0)
		i = (i + 1) & (m->cap - 1);
	return i;
}

void *lav_strmap_get(const struct lav_strmap *m, const char *key)
{
	if (!m->cap)
		return NULL;
	size_t i = find(m, key);
	return m->slots[i].key ? m->slots[i].value : NULL;
}

static void grow(struct lav_strmap *m)
{
	struct lav_strmap_slot *old = m->slots;
	size_t oldcap = m->cap;
	m->cap *= 2;
	m->slots = lav_xcalloc(m->cap, sizeof(*m->slots));
	for (size_t i = 0; i < oldcap; i++) {
		if (!old[i].key)
			continue;
		size_t j = find(m, old[i].key);
		m->slots[j] = old[i];
	}
	free(old);
}

void *lav_strmap_put(struct lav_strmap *m, const char *key, void *value)
{
	if (!m->cap)
		lav_strmap_init(m);
	if ((m->n + 1) * 4 > m->cap * 3)
		grow(m);
	size_t i = find(m, key);
	if (m->slots[i].key) {
		void *prev = m->slots[i].value;
		m->slots[i].value = value;
		return prev;
	}
	m->slots[i].key = lav_xstrdup(key);
	m->slots[i].value = value;
	m->n++;
	return NULL;
}
