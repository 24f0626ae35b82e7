/* Start-up schema work, before the loop runs: migrations under an advisory
 * lock, partitions ahead, and the catalog recorded with its history. Blocking
 * libpq is fine here because nothing is being served yet. */
#include "lav/migrate.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lav/auth.h"
#include "lav/buf.h"

/* pg_advisory_lock key shared by every lavd: "lav" in ASCII plus a tag */
#define MIGRATION_LOCK 0x6c61760001LL

int lav_schema_expected(void)
{
	return lav_nmigrations ? lav_migrations[lav_nmigrations - 1].version : 0;
}

static bool exec_ok(PGconn *c, const char *sql, char *err, size_t errlen)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
	if (!ok)
		snprintf(err, errlen, "%s", PQresultErrorMessage(r));
	PQclear(r);
	return ok;
}

static void checksum_hex(const char *sql, char out[65])
{
	unsigned char h[32];
	lav_sha256(sql, strlen(sql), h);
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", h[i]);
}

static bool apply_pending(PGconn *c, const struct lav_log *log, char *err, size_t errlen)
{
	if (!exec_ok(c,
		     "CREATE TABLE IF NOT EXISTS schema_migrations ("
		     " version integer PRIMARY KEY, name text NOT NULL,"
		     " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
		     err, errlen))
		return false;
	PGresult *r = PQexec(c, "SELECT version, name, checksum FROM schema_migrations ORDER BY "
				"version");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", PQresultErrorMessage(r));
		PQclear(r);
		return false;
	}
	int applied = PQntuples(r);
	for (int i = 0; i < applied; i++) {
		int v = atoi(PQgetvalue(r, i, 0));
		if (v > lav_schema_expected()) {
			snprintf(err, errlen,
				 "database schema version %d is newer than this lavd knows (%d): "
				 "upgrade lavd",
				 v, lav_schema_expected());
			PQclear(r);
			return false;
		}
		const struct lav_migration *m = &lav_migrations[v - 1];
		char sum[65];
		checksum_hex(m->sql, sum);
		if (strcmp(sum, PQgetvalue(r, i, 2)) != 0) {
			snprintf(err, errlen,
				 "migration %03d_%s was changed after it was applied (checksum "
				 "mismatch); add a new migration instead",
				 v, m->name);
			PQclear(r);
			return false;
		}
	}
	PQclear(r);
	for (size_t i = (size_t)applied; i < lav_nmigrations; i++) {
		const struct lav_migration *m = &lav_migrations[i];
		char sum[65], ver[16];
		checksum_hex(m->sql, sum);
		snprintf(ver, sizeof(ver), "%d", m->version);
		if (!exec_ok(c, "BEGIN", err, errlen))
			return false;
		char why[512];
		if (!exec_ok(c, m->sql, why, sizeof(why))) {
			snprintf(err, errlen, "migration %03d_%s failed: %s", m->version, m->name,
				 why);
			exec_ok(c, "ROLLBACK", why, sizeof(why));
			return false;
		}
		const char *params[] = {ver, m->name, sum};
		PGresult *ins = PQexecParams(c,
					     "INSERT INTO schema_migrations (version, name, "
					     "checksum) VALUES ($1, $2, $3)",
					     3, NULL, params, NULL, NULL, 0);
		bool ok = PQresultStatus(ins) == PGRES_COMMAND_OK;
		if (!ok)
			snprintf(err, errlen, "%s", PQresultErrorMessage(ins));
		PQclear(ins);
		if (!ok || !exec_ok(c, "COMMIT", err, errlen)) {
			exec_ok(c, "ROLLBACK", why, sizeof(why));
			return false;
		}
		lav_info(log, "migration %03d_%s applied", m->version, m->name);
	}
	return true;
}

bool lav_migrate(PGconn *c, int partition_days, const struct lav_log *log, char *err,
		 size_t errlen)
{
	char lock[128], why[256];
	snprintf(lock, sizeof(lock), "SELECT pg_advisory_lock(%lld)", MIGRATION_LOCK);
	if (!exec_ok(c, lock, err, errlen))
		return false;
	bool ok = apply_pending(c, log, err, errlen);
	if (ok) {
		char days[16];
		snprintf(days, sizeof(days), "%d", partition_days + 1);
		const char *params[] = {days};
		PGresult *r = PQexecParams(c,
					   "SELECT lav_ensure_partitions((now() AT TIME ZONE "
					   "'UTC')::date, $1::int)",
					   1, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			snprintf(err, errlen, "creating partitions: %s", PQresultErrorMessage(r));
			ok = false;
		}
		PQclear(r);
	}
	snprintf(lock, sizeof(lock), "SELECT pg_advisory_unlock(%lld)", MIGRATION_LOCK);
	exec_ok(c, lock, why, sizeof(why));
	return ok;
}

/* ---- catalog ---- */

static const char *const SYNC_ONE =
	"WITH cur AS (SELECT version, spec, active FROM features_catalog WHERE id = $1)"
	" SELECT (SELECT version FROM cur), (SELECT spec = $2::jsonb FROM cur),"
	" (SELECT active FROM cur)";

static bool sync_feature(PGconn *c, const struct lav_feature *f, bool *changed,
			 struct lav_errors *errs)
{
	char *spec = json_dumps(f->spec, JSON_COMPACT);
	char ver[16];
	snprintf(ver, sizeof(ver), "%d", f->version);
	const char *p2[] = {f->id, spec};
	PGresult *r = PQexecParams(c, SYNC_ONE, 2, NULL, p2, NULL, NULL, 0);
	bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok) {
		lav_errors_add(errs, "catalog sync of \"%s\": %s", f->id, PQresultErrorMessage(r));
		PQclear(r);
		free(spec);
		return false;
	}
	bool exists = !PQgetisnull(r, 0, 0);
	int stored = exists ? atoi(PQgetvalue(r, 0, 0)) : 0;
	bool same = exists && strcmp(PQgetvalue(r, 0, 1), "t") == 0;
	bool active = exists && strcmp(PQgetvalue(r, 0, 2), "t") == 0;
	PQclear(r);
	const char *sql = NULL;
	if (!exists) {
		sql = "INSERT INTO features_catalog (id, entity, description, unit, frequency, "
		      "ttl_ms, tags, source, quality, spec, version) SELECT $1, s->>'entity', "
		      "s->>'description', s->>'unit', s->>'frequency', (s->>'ttl_ms')::bigint, "
		      "ARRAY(SELECT jsonb_array_elements_text(s->'tags')), s->'source', "
		      "coalesce(s->'quality', '{}'), s, $3::int FROM (SELECT $2::jsonb AS s) x";
	} else if (f->version < stored) {
		lav_errors_add(errs,
			       "feature \"%s\": version %d is lower than version %d already "
			       "recorded in PostgreSQL; versions only increase",
			       f->id, f->version, stored);
		ok = false;
	} else if (f->version == stored && !same) {
		lav_errors_add(errs,
			       "feature \"%s\": spec changed but version is still %d; the "
			       "version must increase (set \"version\": %d)",
			       f->id, f->version, stored + 1);
		ok = false;
	} else if (f->version > stored) {
		sql = "UPDATE features_catalog SET entity = s->>'entity', description = "
		      "s->>'description', unit = s->>'unit', frequency = s->>'frequency', ttl_ms = "
		      "(s->>'ttl_ms')::bigint, tags = ARRAY(SELECT jsonb_array_elements_text("
		      "s->'tags')), source = s->'source', quality = coalesce(s->'quality', '{}'), "
		      "spec = s, version = $3::int, active = true, updated_at = now() FROM (SELECT "
		      "$2::jsonb AS s) x WHERE id = $1";
	} else if (!active) {
		sql = "UPDATE features_catalog SET active = true, updated_at = now() WHERE id = $1 "
		      "AND $2::jsonb IS NOT NULL AND $3::int IS NOT NULL";
	}
	if (ok && sql) {
		const char *p3[] = {f->id, spec, ver};
		r = PQexecParams(c, sql, 3, NULL, p3, NULL, NULL, 0);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		if (!ok)
			lav_errors_add(errs, "catalog sync of \"%s\": %s", f->id,
				       PQresultErrorMessage(r));
		PQclear(r);
		if (ok && (!exists || f->version > stored)) {
			r = PQexecParams(c,
					 "INSERT INTO features_catalog_history (id, version, spec) "
					 "VALUES ($1, $3::int, $2::jsonb) ON CONFLICT DO NOTHING",
					 3, NULL, p3, NULL, NULL, 0);
			ok = PQresultStatus(r) == PGRES_COMMAND_OK;
			if (!ok)
				lav_errors_add(errs, "catalog history of \"%s\": %s", f->id,
					       PQresultErrorMessage(r));
			PQclear(r);
		}
		*changed = true;
	}
	free(spec);
	return ok;
}

bool lav_catalog_sync(PGconn *c, struct lav_catalog *cat, const struct lav_log *log,
		      struct lav_errors *errs)
{
	char err[512];
	size_t before = errs->n + errs->dropped;
	if (!exec_ok(c, "BEGIN", err, sizeof(err)) ||
	    !exec_ok(c, "LOCK TABLE catalog_meta IN EXCLUSIVE MODE", err, sizeof(err))) {
		lav_errors_add(errs, "catalog sync: %s", err);
		return false;
	}
	bool changed = false;
	for (size_t i = 0; i < cat->nfeatures; i++)
		sync_feature(c, &cat->features[i], &changed, errs);
	/* features no longer in the file stay in history but are marked inactive */
	struct lav_buf ids = LAV_BUF_INIT;
	lav_buf_putc(&ids, '{');
	for (size_t i = 0; i < cat->nfeatures; i++) {
		lav_buf_printf(&ids, "%s\"%s\"", i ? "," : "", cat->features[i].id);
	}
	lav_buf_putc(&ids, '}');
	const char *p1[] = {lav_buf_cstr(&ids)};
	PGresult *r = PQexecParams(c,
				   "UPDATE features_catalog SET active = false, updated_at = now() "
				   "WHERE active AND NOT (id = ANY($1::text[]))",
				   1, NULL, p1, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		lav_errors_add(errs, "catalog sync: %s", PQresultErrorMessage(r));
	else if (atoi(PQcmdTuples(r)) > 0)
		changed = true;
	PQclear(r);
	lav_buf_free(&ids);
	for (size_t i = 0; i < cat->nsources; i++) {
		const struct lav_source *s = &cat->sources[i];
		json_t *spec = json_pack("{s:s,s:s,s:s,s:s,s:i,s:f,s:s}", "id", s->id, "name",
					 s->name, "class",
					 (const char *[]){"onchain", "cex", "macro", "derived"}[s->cls],
					 "base_url", s->base_url, "rate_limit_rpm", s->rate_limit_rpm,
					 "reliability", s->reliability, "auth",
					 s->needs_key ? "api_key" : "none");
		char *txt = json_dumps(spec, JSON_COMPACT);
		const char *p2[] = {s->id, txt};
		r = PQexecParams(c,
				 "INSERT INTO datasources (id, spec) VALUES ($1, $2::jsonb) ON "
				 "CONFLICT (id) DO UPDATE SET spec = EXCLUDED.spec, updated_at = "
				 "now() WHERE datasources.spec IS DISTINCT FROM EXCLUDED.spec",
				 2, NULL, p2, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			lav_errors_add(errs, "datasource sync of \"%s\": %s", s->id,
				       PQresultErrorMessage(r));
		PQclear(r);
		free(txt);
		json_decref(spec);
	}
	if (errs->n + errs->dropped != before) {
		exec_ok(c, "ROLLBACK", err, sizeof(err));
		return false;
	}
	r = PQexec(c, changed ? "UPDATE catalog_meta SET version = version + 1, updated_at = now() "
				"RETURNING version"
			      : "SELECT version FROM catalog_meta");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		lav_errors_add(errs, "catalog version: %s", PQresultErrorMessage(r));
		PQclear(r);
		exec_ok(c, "ROLLBACK", err, sizeof(err));
		return false;
	}
	cat->version = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	if (!exec_ok(c, "COMMIT", err, sizeof(err))) {
		lav_errors_add(errs, "catalog sync commit: %s", err);
		return false;
	}
	lav_info(log, "catalog: %zu features, version %lld%s", cat->nfeatures,
		 (long long)cat->version, changed ? " (updated)" : "");
	return true;
}
