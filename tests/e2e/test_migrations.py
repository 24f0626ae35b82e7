"""Migrations: schema_migrations, `lavd migrate`, the features_values table."""

import glob
import os
import re

import pytest
import requests

import lavhelpers as lh


def migration_files():
    files = sorted(glob.glob(os.path.join(lh.REPO, "migrations", "*.sql")))
    out = []
    for f in files:
        m = re.match(r"^(\d+)_(.+)\.sql$", os.path.basename(f))
        if m:
            out.append((int(m.group(1)), m.group(2), os.path.basename(f)))
    return out


def migrations_rows(dsn):
    return lh.pg_query(dsn, "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version")


def check_migrations_applied_once(dsn):
    rows = migrations_rows(dsn)
    versions = [int(r[0]) for r in rows]
    assert versions, "schema_migrations is empty"
    assert len(versions) == len(set(versions)), "a migration is recorded twice: %r" % versions
    files = migration_files()
    if files:
        assert versions == [v for v, _, _ in files], "recorded %r, files %r" % (versions, [f for _, _, f in files])
        for (v, name, fname), row in zip(files, rows):
            assert name in str(row[1]) or str(row[1]) in fname, "migration %d recorded as %r (file %s)" % (v, row[1], fname)
    for r in rows:
        assert r[2], "migration %s has no checksum" % r[0]
        assert r[3] is not None, "migration %s has no applied_at" % r[0]
    return rows


def test_two_starts_apply_each_migration_once(lavd_factory, db_factory):
    dsn = db_factory()
    d = lavd_factory("lavd-mig1", dsn=dsn)
    assert d.stop() == 0
    first = check_migrations_applied_once(dsn)
    d2 = lavd_factory("lavd-mig2", dsn=dsn)
    ready = lh.poll(lambda: (lambda r: r if r.status_code == 200 else None)(requests.get(d2.url("/readyz"), timeout=10)))
    assert ready is not None, "readyz not 200 on an up-to-date database"
    pg = ready.json()["checks"]["postgres"]
    assert pg["schema_version"] == pg["expected_version"] == max(int(r[0]) for r in first)
    assert d2.stop() == 0
    second = check_migrations_applied_once(dsn)
    assert [(r[0], r[2], r[3]) for r in first] == [(r[0], r[2], r[3]) for r in second], "migrations re-applied"


def test_migrate_command(lav_bin, db_factory, lavd_factory):
    dsn = db_factory()
    env = lh.lavd_env(dsn)
    rc, out, err = lh.run_lavd_command(env, ["migrate"], timeout=60)
    assert rc == 0, "lavd migrate exited %d:\n%s\n%s" % (rc, out, err)
    rows = check_migrations_applied_once(dsn)
    rc, out, err = lh.run_lavd_command(env, ["migrate"], timeout=60)
    assert rc == 0, "second lavd migrate exited %d:\n%s\n%s" % (rc, out, err)
    assert migrations_rows(dsn) == rows
    # a server started on the migrated database applies nothing more
    d = lavd_factory("lavd-after-migrate", dsn=dsn)
    assert d.stop() == 0
    assert migrations_rows(dsn) == rows


def test_migrate_command_without_dsn_fails(lav_bin):
    env = lh.lavd_env(None)
    rc, out, err = lh.run_lavd_command(env, ["migrate"], timeout=30)
    assert rc != 0
    assert "LAV_PG_DSN" in err + out


def test_unknown_subcommand_fails(lav_bin, fresh_db):
    rc, out, err = lh.run_lavd_command(lh.lavd_env(fresh_db), ["frobnicate"], timeout=30)
    assert rc != 0, "lavd frobnicate exited 0"
    assert (err + out).strip(), "no usage or error message for an unknown subcommand"


@pytest.fixture(scope="module")
def migrated_db(lavd_factory, db_factory):
    dsn = db_factory()
    d = lavd_factory("lavd-schema", dsn=dsn)
    assert d.stop() == 0
    return dsn


def test_features_values_is_range_partitioned(migrated_db):
    rows = lh.pg_query(
        migrated_db,
        """SELECT pt.partstrat, a.attname
             FROM pg_partitioned_table pt
             JOIN pg_class c ON c.oid = pt.partrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (pt.partattrs::int2[])
            WHERE c.relname = 'features_values'""",
    )
    assert rows, "features_values is not a partitioned table"
    assert rows[0][0] == "r", "features_values should be partitioned BY RANGE, got %r" % rows[0][0]
    assert [r[1] for r in rows] == ["ts"], "partition key should be ts, got %r" % rows


def test_features_values_primary_key(migrated_db):
    rows = lh.pg_query(
        migrated_db,
        """SELECT a.attname
             FROM pg_index i
             JOIN pg_class c ON c.oid = i.indrelid
             JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
            WHERE c.relname = 'features_values' AND i.indisprimary
            ORDER BY k.ord""",
    )
    assert [r[0] for r in rows] == ["feature_id", "entity", "ts", "available_at"], rows


def test_catalog_tables_have_expected_columns(migrated_db):
    def cols(table):
        return {
            r[0]
            for r in lh.pg_query(
                migrated_db,
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s",
                (table,),
            )
        }

    assert {"id", "spec", "version", "active"} <= cols("features_catalog")
    assert {"id", "version", "spec", "loaded_at"} <= cols("features_catalog_history")
    assert {"version", "name", "checksum", "applied_at"} <= cols("schema_migrations")
    assert {"feature_id", "entity", "ts", "available_at", "value"} <= cols("features_values")

