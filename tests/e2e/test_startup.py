"""lavd refuses to start on bad configuration, and stops cleanly on SIGTERM."""

import copy
import json
import os
import time

import pytest
import requests

import lavhelpers as lh


@pytest.fixture
def env_for(fresh_db, tokens):
    """env_for(overrides=None, config_dir=None, tokens_file=True) -> lavd environment."""

    def make(overrides=None, config_dir=None, tokens_file=True):
        return lh.lavd_env(
            fresh_db,
            tokens_file=tokens.path if tokens_file else None,
            config_dir=config_dir,
            overrides=overrides,
        )

    return make


def test_refuses_non_loopback_without_tokens(env_for):
    env = env_for({"LAV_LISTEN": "0.0.0.0:%d" % lh.free_port()}, tokens_file=False)
    rc, err = lh.run_expect_fail(env)
    assert "LAV_TOKENS_FILE" in err, err


def test_non_loopback_with_tokens_starts(lavd_factory, fresh_db):
    d = lavd_factory("lavd-anyaddr", dsn=fresh_db, overrides={"LAV_LISTEN": "0.0.0.0:{port}"})
    r = requests.get(d.url("/api/features/v1/catalog"), headers=d.auth_headers("reader"), timeout=10)
    assert r.status_code == 200
    assert requests.get(d.url("/api/features/v1/catalog"), timeout=10).status_code == 401
    assert d.stop() == 0


@pytest.mark.parametrize(
    "var,value",
    [
        ("LAV_LOG_LEVEL", "loud"),
        ("FEATURE_API_RATE_LIMIT_RPM", "abc"),
        ("FEATURE_API_RATE_LIMIT_RPM", "-5"),
        ("LIQ_SCORE_SMOOTHING_ALPHA", "2"),
        ("LIQ_SCORE_SMOOTHING_ALPHA", "zero"),
        ("EXECUTION_MODE", "live"),
        ("ORACLE_SOURCE_MODE", "sometimes"),
        ("LAV_LISTEN", "not-an-address"),
        ("LAV_LISTEN", "127.0.0.1:99999"),
        ("LAV_MAX_BODY_BYTES", "lots"),
        ("LAV_MAX_CONNECTIONS", "many"),
        ("LAV_IDLE_TIMEOUT_MS", "soon"),
        ("LAV_REQUEST_TIMEOUT_MS", "-1"),
        ("LAV_MOCK_SEED", "seedy"),
        ("LIQ_SCORE_GRID_STEP", "often"),
    ],
)
def test_refuses_bad_env_value(env_for, var, value):
    rc, err = lh.run_expect_fail(env_for({var: value}))
    assert var in err, "stderr does not name %s:\n%s" % (var, err)


def test_refuses_missing_pg_dsn(env_for):
    rc, err = lh.run_expect_fail(env_for({"LAV_PG_DSN": None}))
    assert "LAV_PG_DSN" in err, err


def test_refuses_missing_tokens_file(env_for, tmp_path):
    missing = str(tmp_path / "no-such-tokens.json")
    rc, err = lh.run_expect_fail(env_for({"LAV_TOKENS_FILE": missing}))
    assert "LAV_TOKENS_FILE" in err or missing in err, err


def test_refuses_malformed_tokens_file(env_for, tmp_path):
    bad = tmp_path / "tokens.json"
    bad.write_text('{"tokens": [ {"name": "x", "sha256": "abc"')
    rc, err = lh.run_expect_fail(env_for({"LAV_TOKENS_FILE": str(bad)}))
    assert "LAV_TOKENS_FILE" in err or str(bad) in err, err


def test_refuses_tokens_file_with_bad_scope(env_for, tmp_path):
    bad = tmp_path / "tokens.json"
    bad.write_text(json.dumps({"tokens": [{"name": "x", "sha256": "a" * 64, "scopes": ["oracle.god"]}]}))
    rc, err = lh.run_expect_fail(env_for({"LAV_TOKENS_FILE": str(bad)}))
    assert "oracle.god" in err or "scope" in err.lower(), err


def test_refuses_missing_config_dir(env_for, tmp_path):
    missing = str(tmp_path / "no-config")
    rc, err = lh.run_expect_fail(env_for(config_dir=missing))
    assert missing in err or "LAV_CONFIG_DIR" in err, err


def _break(config_dir, index, mutate):
    fs = lh.load_catalog(config_dir)
    mutate(fs)
    lh.write_catalog(config_dir, fs)
    return fs


INVALID_CATALOGS = {
    # name: (mutate(features) -> None, index of the named feature, words stderr must contain)
    "ttl_negative": (lambda fs: fs[4].__setitem__("ttl_ms", -1), 4, ["ttl_ms"]),
    "dangling_source": (lambda fs: fs[5]["source"].__setitem__("id", "nowhere-api"), 5, ["nowhere-api"]),
    "duplicate_id": (lambda fs: fs.append(copy.deepcopy(fs[9])), 9, []),
    "unknown_field": (lambda fs: fs[1].__setitem__("colour", "blue"), 1, ["colour"]),
    "bad_entity": (lambda fs: fs[0].__setitem__("entity", "galaxy"), 0, ["entity"]),
    "bad_frequency": (lambda fs: fs[3].__setitem__("frequency", "fortnightly"), 3, ["frequency"]),
    "bad_range": (lambda fs: fs[2]["quality"].__setitem__("expected_range", [10, 1]), 2, ["expected_range"]),
    "bad_version": (lambda fs: fs[8].__setitem__("version", 0), 8, ["version"]),
    "missing_field": (lambda fs: fs[6].pop("entity"), 6, ["entity"]),
}


@pytest.mark.parametrize("case", sorted(INVALID_CATALOGS))
def test_refuses_invalid_catalog(env_for, config_copy, case):
    mutate, index, words = INVALID_CATALOGS[case]
    fid = lh.load_catalog(config_copy)[index]["id"]
    _break(config_copy, index, mutate)
    rc, err = lh.run_expect_fail(env_for(config_dir=config_copy))
    assert lh.CATALOG_FILE in err, "stderr does not name the catalog file:\n%s" % err
    assert fid in err, "stderr does not name the feature %s:\n%s" % (fid, err)
    for w in words:
        assert w in err, "stderr does not mention %r:\n%s" % (w, err)
    if case == "duplicate_id":
        assert "duplicate" in err.lower(), err


def test_refuses_catalog_with_syntax_error(env_for, config_copy):
    path = os.path.join(config_copy, lh.CATALOG_FILE)
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text[: len(text) // 2])
    rc, err = lh.run_expect_fail(env_for(config_dir=config_copy))
    assert lh.CATALOG_FILE in err, err


def test_refuses_catalog_with_derived_input_missing(env_for, config_copy):
    fs = lh.load_catalog(config_copy)
    derived = [f for f in fs if f.get("derived")]
    if not derived:
        pytest.skip("the shipped catalog has no derived feature")
    inputs = set(derived[0]["derived"]["inputs"])
    lh.write_catalog(config_copy, [f for f in fs if f["id"] not in inputs])
    rc, err = lh.run_expect_fail(env_for(config_dir=config_copy))
    assert derived[0]["id"] in err, err


# ---- SIGTERM --------------------------------------------------------------------------


def _stop_expect_zero(d):
    rc = d.stop(timeout=10)
    assert rc is not None, "lavd did not exit within 10 s of SIGTERM; log:\n%s" % d.log_tail()
    assert rc == 0, "lavd exited %s on SIGTERM; log:\n%s" % (rc, d.log_tail())


def test_sigterm_exits_zero_promptly(lavd_factory):
    d = lavd_factory("lavd-sigterm", redis=True)
    _stop_expect_zero(d)


def test_sigterm_with_idle_keepalive_connection(lavd_factory):
    """An idle keep-alive connection (no request in flight) must not hold shutdown up."""
    d = lavd_factory("lavd-sigterm-idle", redis=True)
    idle = d.connect()
    try:
        idle.sendall(lh.raw_request("GET", "/healthz", {}))
        lh.SockReader(idle).read_response()
        time.sleep(0.2)
        _stop_expect_zero(d)
        assert lh.wait_closed(idle, 5)
    finally:
        idle.close()


def test_sigterm_with_stalled_request_exits_after_grace(lavd_factory):
    """A half-sent request is waited for at most LAV_SHUTDOWN_GRACE_MS, then lavd exits 0."""
    d = lavd_factory("lavd-sigterm-stalled", overrides={"LAV_SHUTDOWN_GRACE_MS": "1000"})
    half = d.connect()
    try:
        half.sendall(b"GET /api/features/v1/cat")
        time.sleep(0.2)
        _stop_expect_zero(d)
    finally:
        half.close()

