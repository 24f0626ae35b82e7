/* Schema migrations (migrations/NNN_name.sql, embedded at build time), applied
 * in order under an advisory lock, each exactly once, recorded with a checksum. */
#ifndef LAV_MIGRATE_H
#define LAV_MIGRATE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "lav/catalog.h"
#include "lav/log.h"

struct lav_migration {
	int version;
	const char *name;
	const char *sql;
};

/* Generated from migrations/ by meson. */
extern const struct lav_migration lav_migrations[];
extern const size_t lav_nmigrations;

/* Version this binary expects: the highest embedded migration. */
int lav_schema_expected(void);

/* Applies pending migrations and creates daily partitions ahead. */
bool lav_migrate(PGconn *conn, int partition_days, const struct lav_log *log, char *err,
		 size_t errlen);

/* Records the catalog in features_catalog with version history. A spec that
 * changed without a higher version, or a lower version than stored, is an
 * error naming the feature. Sets cat->version. */
bool lav_catalog_sync(PGconn *conn, struct lav_catalog *cat, const struct lav_log *log,
		      struct lav_errors *errs);

#endif
