"""Catalog versions in PostgreSQL: features_catalog and features_catalog_history.

The tests of this module run in order on one fresh database and one private config copy."""

import json

import pytest
import requests

import lavhelpers as lh

FEATURE = "macro/us/vix_index"
CATALOG = "/api/features/v1/catalog"


class State:
    pass


@pytest.fixture(scope="module")
def st(fresh_db, tmp_path_factory, catalog_spec):
    s = State()
    s.dsn = fresh_db
    s.config = lh.copy_config(tmp_path_factory.mktemp("versioning"))
    s.original = {f["id"]: f for f in catalog_spec}
    assert FEATURE in s.original
    s.v1_version = None
    return s


def set_feature(config_dir, fid, **fields):
    fs = lh.load_catalog(config_dir)
    for f in fs:
        if f["id"] == fid:
            f.update(fields)
    lh.write_catalog(config_dir, fs)


def catalog_rows(dsn):
    return {
        r[0]: {"spec": r[1], "version": r[2], "active": r[3]}
        for r in lh.pg_query(dsn, "SELECT id, spec, version, active FROM features_catalog")
    }


def history_rows(dsn, fid=None):
    if fid is None:
        return lh.pg_query(dsn, "SELECT id, version, spec, loaded_at FROM features_catalog_history ORDER BY id, version")
    return lh.pg_query(
        dsn, "SELECT id, version, spec, loaded_at FROM features_catalog_history WHERE id = %s ORDER BY version", (fid,)
    )


def served(d):
    r = requests.get(d.url(CATALOG), headers=d.auth_headers("reader"), timeout=10)
    assert r.status_code == 200
    return r.json()


def test_first_start_stores_every_feature(lavd_factory, st, catalog_spec):
    d = lavd_factory("lavd-v1", dsn=st.dsn, config_dir=st.config)
    doc = served(d)
    st.v1_version = doc["version"]
    assert d.stop() == 0
    rows = catalog_rows(st.dsn)
    assert sorted(rows) == sorted(f["id"] for f in catalog_spec)
    assert len(rows) == len(st.original)
    for fid, row in rows.items():
        assert row["version"] == st.original[fid]["version"], (fid, row["version"])
        assert row["active"] is True, fid
        spec = row["spec"] if isinstance(row["spec"], dict) else json.loads(row["spec"])
        assert spec["id"] == fid
        assert spec["description"] == st.original[fid]["description"]
    hist = history_rows(st.dsn)
    assert len(hist) == len(st.original)
    assert all(h[3] is not None for h in hist), "loaded_at must be set"


def test_restart_with_same_catalog_adds_no_history(lavd_factory, st):
    d = lavd_factory("lavd-v1-again", dsn=st.dsn, config_dir=st.config)
    doc = served(d)
    assert doc["version"] == st.v1_version, "catalog version changed although the catalog did not"
    assert d.stop() == 0
    assert len(catalog_rows(st.dsn)) == len(st.original)
    assert len(history_rows(st.dsn)) == len(st.original)


def test_changed_spec_without_version_bump_is_refused(st):
    set_feature(st.config, FEATURE, description="VIX, edited without a version bump")
    env = lh.lavd_env(st.dsn, config_dir=st.config)
    rc, err = lh.run_expect_fail(env)
    assert FEATURE in err, "stderr does not name %s:\n%s" % (FEATURE, err)
    low = err.lower()
    assert "version" in low and any(w in low for w in ("increase", "higher", "greater", "bump")), err
    # nothing was stored
    rows = catalog_rows(st.dsn)
    assert rows[FEATURE]["version"] == 1
    assert len(history_rows(st.dsn, FEATURE)) == 1


def test_version_bump_is_stored_with_history(lavd_factory, st):
    new_desc = "VIX, edited with a version bump"
    set_feature(st.config, FEATURE, description=new_desc, version=2)
    d = lavd_factory("lavd-v2", dsn=st.dsn, config_dir=st.config)
    doc = served(d)
    by_id = {f["id"]: f for f in doc["features"]}
    assert by_id[FEATURE]["version"] == 2
    assert by_id[FEATURE]["description"] == new_desc
    assert len(doc["features"]) == len(st.original)
    assert isinstance(doc["version"], int) and doc["version"] > st.v1_version, (doc["version"], st.v1_version)
    # readyz reports the same catalog version
    ready = requests.get(d.url("/readyz"), timeout=10).json()
    assert ready["checks"]["catalog"]["version"] == doc["version"]
    assert ready["checks"]["catalog"]["features"] == len(st.original)
    assert d.stop() == 0

    rows = catalog_rows(st.dsn)
    assert rows[FEATURE]["version"] == 2
    assert rows[FEATURE]["active"] is True
    spec = rows[FEATURE]["spec"]
    spec = spec if isinstance(spec, dict) else json.loads(spec)
    assert spec["description"] == new_desc
    hist = history_rows(st.dsn, FEATURE)
    assert [h[1] for h in hist] == [1, 2]
    descs = [(h[2] if isinstance(h[2], dict) else json.loads(h[2]))["description"] for h in hist]
    assert descs == [st.original[FEATURE]["description"], new_desc]
    # the other features are untouched
    assert len(history_rows(st.dsn)) == len(st.original) + 1
    assert all(r["version"] == st.original[fid]["version"] for fid, r in rows.items() if fid != FEATURE)
    st.v2_version = doc["version"]


def test_version_going_down_is_refused(st):
    o = st.original[FEATURE]
    set_feature(st.config, FEATURE, description=o["description"], version=1)
    rc, err = lh.run_expect_fail(lh.lavd_env(st.dsn, config_dir=st.config))
    assert FEATURE in err, err
    assert catalog_rows(st.dsn)[FEATURE]["version"] == 2
    assert len(history_rows(st.dsn, FEATURE)) == 2


def test_same_version_same_spec_after_bump_starts(lavd_factory, st):
    set_feature(st.config, FEATURE, description="VIX, edited with a version bump", version=2)
    d = lavd_factory("lavd-v2-again", dsn=st.dsn, config_dir=st.config)
    assert served(d)["version"] == st.v2_version
    assert d.stop() == 0
    assert len(history_rows(st.dsn)) == len(st.original) + 1
