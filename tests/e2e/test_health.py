"""GET /healthz, GET /readyz, x-correlation-id, 404 and 405 on the shared lavd."""

import pytest
import requests

import lavhelpers as lh


@pytest.mark.smoke
def test_healthz_ok_without_token(lavd):
    r = requests.get(lavd.url("/healthz"), timeout=10)
    assert r.status_code == 200
    assert r.headers["content-type"].split(";")[0] == "application/json"
    assert r.json()["status"] == "ok"
    lh.assert_correlation(r)


def test_healthz_head(lavd):
    r = requests.head(lavd.url("/healthz"), timeout=10)
    assert r.status_code == 200
    assert r.content == b""
    lh.assert_correlation(r)


def _ready(lavd):
    r = requests.get(lavd.url("/readyz"), timeout=10)
    return r if r.status_code == 200 else None


def test_readyz_reports_checks(lavd, catalog_spec, redis_url):
    r = lh.poll(lambda: _ready(lavd), timeout=15)
    assert r is not None, "readyz never answered 200: %r" % requests.get(lavd.url("/readyz"), timeout=10).text
    lh.assert_correlation(r)
    body = r.json()
    assert body["ready"] is True
    checks = body["checks"]
    pg = checks["postgres"]
    assert pg["ok"] is True
    assert isinstance(pg["schema_version"], int) and pg["schema_version"] >= 1
    assert pg["schema_version"] == pg["expected_version"]
    cat = checks["catalog"]
    assert cat["ok"] is True
    assert cat["features"] == len(catalog_spec)
    assert isinstance(cat["version"], int) and cat["version"] >= 1
    rd = checks["redis"]
    assert isinstance(rd["ok"], bool)
    if redis_url:
        assert rd["configured"] is True
        # the connection may come up asynchronously
        if rd["state"] != "connected":
            rd = lh.poll(
                lambda: (lambda c: c if c["state"] == "connected" else None)(
                    requests.get(lavd.url("/readyz"), timeout=10).json()["checks"]["redis"]
                ),
                timeout=15,
            )
            assert rd, "redis never reported connected"
        assert rd["ok"] is True and rd["state"] == "connected"
    else:
        assert rd["configured"] is False
        assert rd["state"] == "disabled"


def test_readyz_head(lavd):
    r = requests.head(lavd.url("/readyz"), timeout=10)
    assert r.status_code in (200, 503)
    assert r.content == b""


def test_correlation_id_echoed(lavd):
    for cid in ["abc", "req-1.2:3_x", "A" * 128]:
        r = requests.get(lavd.url("/healthz"), headers={"x-correlation-id": cid}, timeout=10)
        assert r.status_code == 200
        lh.assert_correlation(r, sent=cid)


def test_correlation_id_generated_when_absent(lavd):
    r1 = requests.get(lavd.url("/healthz"), timeout=10)
    r2 = requests.get(lavd.url("/healthz"), timeout=10)
    c1, c2 = lh.assert_correlation(r1), lh.assert_correlation(r2)
    assert c1 != c2, "generated correlation ids should differ between requests"


@pytest.mark.parametrize("bad", ["has space", "A" * 129, "semi;colon", "slash/id", ""])
def test_correlation_id_invalid_replaced(lavd, bad):
    r = requests.get(lavd.url("/healthz"), headers={"X-Correlation-Id": bad}, timeout=10)
    assert r.status_code == 200
    cid = lh.assert_correlation(r)
    assert cid != bad


def test_logs_carry_correlation_id(lavd):
    cid = "log-probe-" + str(id(lavd))
    r = requests.get(lavd.url("/healthz"), headers={"x-correlation-id": cid}, timeout=10)
    assert r.status_code == 200
    assert lh.poll(lambda: cid in lavd.log_text(), timeout=5), "correlation id %s not found in the log" % cid


def test_correlation_id_in_error_body(lavd):
    r = lavd.get("/no/such/path", headers={"x-correlation-id": "corr-404"})
    err = lh.assert_error(r, 404, "not_found")
    assert err["correlation_id"] == "corr-404"


@pytest.mark.parametrize("path", [pytest.param("/nope", marks=pytest.mark.smoke), "/api/features/v1/nope", "/api/nope", "/healthz/extra", "/api/features/v2/catalog"])
def test_unknown_path_404(lavd, path):
    r = lavd.get(path, role="admin")
    lh.assert_error(r, 404, "not_found")
    lavd.assert_alive()


@pytest.mark.parametrize(
    "method,path,must_allow",
    [
        ("POST", "/healthz", {"GET"}),
        ("DELETE", "/healthz", {"GET"}),
        ("PUT", "/readyz", {"GET"}),
        ("DELETE", "/api/features/v1/catalog", {"GET", "HEAD"}),
        ("POST", "/api/features/v1/catalog", {"GET", "HEAD"}),
        ("GET", "/api/features/v1/catalog/validate", {"POST"}),
        ("PATCH", "/api/features/v1/catalog/validate", {"POST"}),
    ],
)
def test_wrong_method_405_with_allow(lavd, method, path, must_allow):
    r = lavd.request(method, path, role="admin")
    lh.assert_error(r, 405, "method_not_allowed")
    allowed = lh.allow_methods(r)
    assert must_allow <= allowed, "Allow %r lacks %r" % (r.headers.get("allow"), must_allow)
    assert method not in allowed
    lavd.assert_alive()


def test_head_on_healthz_is_not_405(lavd):
    r = requests.head(lavd.url("/healthz"), timeout=10)
    assert r.status_code == 200
