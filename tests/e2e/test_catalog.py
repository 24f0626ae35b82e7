"""GET /api/features/v1/catalog: content, defaults, filters, msgpack, HEAD, bad parameters."""

import msgpack
import pytest
import requests

import lavhelpers as lh

CATALOG = "/api/features/v1/catalog"
ENTITIES = ["asset", "pair", "market", "macro"]


def get_catalog(lavd, params=None, role="reader", **kw):
    r = lavd.get(CATALOG, role=role, params=params, **kw)
    assert r.status_code == 200, "GET catalog %r: %d %r" % (params, r.status_code, r.text[:500])
    assert r.headers["content-type"].split(";")[0] == "application/json"
    lh.assert_correlation(r)
    return r.json()


def ids_of(doc):
    return [f["id"] for f in doc["features"]]


@pytest.mark.smoke
def test_catalog_json_full(lavd, catalog_spec):
    doc = get_catalog(lavd)
    assert isinstance(doc["version"], int) and doc["version"] >= 1
    assert ids_of(doc) == sorted(f["id"] for f in catalog_spec), "features must be all shipped ids, sorted by id"
    assert len(doc["features"]) == len(catalog_spec) == 26
    by_id = {f["id"]: f for f in doc["features"]}
    for spec in catalog_spec:
        want = lh.spec_with_defaults(spec)
        got = by_id[spec["id"]]
        for key, value in want.items():
            assert key in got, "%s: field %r missing from the served spec" % (spec["id"], key)
            assert got[key] == value, "%s: field %r is %r, catalog file has %r" % (spec["id"], key, got[key], value)


def test_catalog_defaults(lavd):
    doc = get_catalog(lavd)
    for f in doc["features"]:
        assert isinstance(f["dtype"], str) and f["dtype"], f["id"]
        assert f["quality"]["on_violation"] in ("flag", "reject"), f["id"]
    # the shipped catalog gives no dtype: every feature gets the default
    assert {f["dtype"] for f in doc["features"]} == {"float64"}


def test_catalog_filter_by_each_tag(lavd, catalog_spec):
    tags = sorted({t for f in catalog_spec for t in f.get("tags", [])})
    assert tags
    for tag in tags:
        want = sorted(f["id"] for f in catalog_spec if tag in f.get("tags", []))
        assert ids_of(get_catalog(lavd, {"tag": tag})) == want, "tag=%s" % tag


@pytest.mark.parametrize("entity", ENTITIES)
def test_catalog_filter_by_entity(lavd, catalog_spec, entity):
    want = sorted(f["id"] for f in catalog_spec if f["entity"] == entity)
    assert ids_of(get_catalog(lavd, {"entity": entity})) == want


def test_catalog_filter_by_each_source(lavd, catalog_spec, datasources):
    for src in [s["id"] for s in datasources]:
        want = sorted(f["id"] for f in catalog_spec if f["source"]["id"] == src)
        assert ids_of(get_catalog(lavd, {"source": src})) == want, "source=%s" % src


def test_catalog_filter_by_exact_id(lavd, catalog_spec):
    for spec in catalog_spec[:5]:
        doc = get_catalog(lavd, {"id": spec["id"]})
        assert ids_of(doc) == [spec["id"]]


def test_catalog_filter_by_id_prefix(lavd, catalog_spec):
    for prefix in ["macro/us/", "crypto/", "crypto/etf/", "cex/agg/"]:
        want = sorted(f["id"] for f in catalog_spec if f["id"].startswith(prefix))
        assert want
        assert ids_of(get_catalog(lavd, {"id": prefix + "*"})) == want, "id=%s*" % prefix


def test_catalog_filter_unencoded_query(lavd, catalog_spec):
    """The same filters written literally in the query string (no percent-encoding)."""
    want = sorted(f["id"] for f in catalog_spec if f["id"].startswith("macro/us/"))
    r = requests.get(lavd.url(CATALOG + "?id=macro/us/*"), headers=lavd.auth_headers("reader"), timeout=10)
    assert r.status_code == 200, r.text
    assert ids_of(r.json()) == want
    r = requests.get(lavd.url(CATALOG + "?id=macro%2Fus%2F%2A"), headers=lavd.auth_headers("reader"), timeout=10)
    assert r.status_code == 200, r.text
    assert ids_of(r.json()) == want


def test_catalog_filters_combine_with_and(lavd, catalog_spec):
    cases = [
        {"tag": "liquidity", "entity": "macro"},
        {"tag": "btc", "source": "binance-api"},
        {"entity": "market", "source": "defillama"},
        {"id": "macro/us/*", "source": "tradingview"},
        {"tag": "liquidity", "entity": "asset", "source": "farside", "id": "crypto/*"},
    ]
    for params in cases:
        want = sorted(
            f["id"]
            for f in catalog_spec
            if ("tag" not in params or params["tag"] in f.get("tags", []))
            and ("entity" not in params or f["entity"] == params["entity"])
            and ("source" not in params or f["source"]["id"] == params["source"])
            and ("id" not in params or f["id"].startswith(params["id"].rstrip("*")))
        )
        assert ids_of(get_catalog(lavd, params)) == want, params


def test_catalog_filter_without_match_is_empty(lavd):
    for params in [{"tag": "no_such_tag"}, {"id": "no/such_feature"}, {"id": "zzz/*"}, {"source": "nosuchsource"},
                   {"tag": "gl", "entity": "pair"}]:
        doc = get_catalog(lavd, params)
        assert doc["features"] == [], params
        assert isinstance(doc["version"], int)


@pytest.mark.smoke
def test_catalog_unknown_parameter_400(lavd):
    r = lavd.get(CATALOG, role="reader", params={"bogus_param": "1"})
    lh.assert_error(r, 400, "bad_parameter", message_contains="bogus_param")
    r = lavd.get(CATALOG, role="reader", params={"tag": "gl", "colour": "red"})
    lh.assert_error(r, 400, "bad_parameter", message_contains="colour")
    lavd.assert_alive()


@pytest.mark.parametrize("value", ["planet", "assets", "macro%00"])
def test_catalog_bad_entity_400(lavd, value):
    r = lavd.get(CATALOG, role="reader", params={"entity": value})
    lh.assert_error(r, 400, "bad_parameter", message_contains="entity")
    lavd.assert_alive()


@pytest.mark.smoke
@pytest.mark.parametrize("accept", ["application/msgpack", "application/x-msgpack"])
def test_catalog_msgpack(lavd, accept):
    want = get_catalog(lavd)
    r = lavd.get(CATALOG, role="reader", headers={"Accept": accept})
    assert r.status_code == 200, r.content[:300]
    ctype = r.headers["content-type"].split(";")[0].strip()
    if accept == "application/msgpack":
        assert ctype == "application/msgpack"
    else:
        assert ctype in ("application/msgpack", "application/x-msgpack")
    lh.assert_correlation(r)
    doc = msgpack.unpackb(r.content, raw=False)
    assert doc == want, "msgpack catalog differs from the JSON one"


def test_catalog_msgpack_filtered(lavd):
    want = get_catalog(lavd, {"tag": "gl"})
    r = lavd.get(CATALOG, role="reader", params={"tag": "gl"}, headers={"Accept": "application/msgpack"})
    assert r.status_code == 200
    assert msgpack.unpackb(r.content, raw=False) == want


@pytest.mark.parametrize(
    "accept,kind",
    [
        ("*/*", "json"),
        ("application/json", "json"),
        ("application/*", "json"),
        ("application/json, application/msgpack;q=0.5", "json"),
        ("text/html, application/msgpack;q=0.9", "msgpack"),
        ("text/html;q=0.9, application/json", "json"),
    ],
)
def test_catalog_accept_negotiation(lavd, accept, kind):
    r = lavd.get(CATALOG, role="reader", params={"id": "macro/us/walcl_total_usd"}, headers={"Accept": accept})
    assert r.status_code == 200, r.content[:300]
    ctype = r.headers["content-type"].split(";")[0].strip()
    if kind == "json":
        assert ctype == "application/json"
        assert [f["id"] for f in r.json()["features"]] == ["macro/us/walcl_total_usd"]
    else:
        assert ctype in ("application/msgpack", "application/x-msgpack")
        assert [f["id"] for f in msgpack.unpackb(r.content, raw=False)["features"]] == ["macro/us/walcl_total_usd"]


@pytest.mark.parametrize("accept", ["text/html", "text/plain", "image/png", "application/xml"])
def test_catalog_not_acceptable_406(lavd, accept):
    r = lavd.get(CATALOG, role="reader", headers={"Accept": accept})
    lh.assert_error(r, 406, "not_acceptable")
    lavd.assert_alive()


def test_error_body_in_msgpack_when_accepted(lavd):
    r = lavd.get(CATALOG, role="reader", params={"bogus": "1"}, headers={"Accept": "application/msgpack"})
    lh.assert_error(r, 400, "bad_parameter", msgpack_body=True, message_contains="bogus")
    r = lavd.get("/api/features/v1/nope", role="reader", headers={"Accept": "application/msgpack"})
    lh.assert_error(r, 404, "not_found", msgpack_body=True)


def test_catalog_head(lavd):
    g = lavd.get(CATALOG, role="reader")
    h = lavd.request("HEAD", CATALOG, role="reader")
    assert h.status_code == 200
    assert h.content == b""
    assert h.headers["content-type"].split(";")[0] == "application/json"
    lh.assert_correlation(h)
    if "content-length" in h.headers:
        assert int(h.headers["content-length"]) == len(g.content)


def test_catalog_head_sends_no_body_on_the_wire(lavd):
    """After a HEAD response the next response on the connection must start right away."""
    s = lavd.connect()
    try:
        auth = lavd.auth_headers("reader")
        s.sendall(
            lh.raw_request("HEAD", CATALOG, {**auth, "x-correlation-id": "head-1"})
            + lh.raw_request("GET", "/healthz", {"x-correlation-id": "get-2"})
        )
        rd = lh.SockReader(s)
        r1 = rd.read_response(head=True)
        assert r1.status == 200
        lh.assert_correlation(r1, sent="head-1")
        r2 = rd.read_response()
        assert r2.status == 200, r2
        lh.assert_correlation(r2, sent="get-2")
        assert r2.json()["status"] == "ok"
    finally:
        s.close()
    lavd.assert_alive()


def test_catalog_version_stable_between_reads(lavd):
    a = get_catalog(lavd)
    b = get_catalog(lavd)
    assert a == b


def test_defaults_filled_for_omitted_fields(lavd_factory, tmp_path):
    """A feature without quality.on_violation (and without dtype) is served with the defaults."""
    cfg = lh.copy_config(tmp_path)
    fs = lh.load_catalog(cfg)
    target = fs[0]["id"]
    fs[0]["quality"].pop("on_violation", None)
    fs[0].pop("dtype", None)
    lh.write_catalog(cfg, fs)
    d = lavd_factory("lavd-defaults", auth=False, config_dir=cfg)
    r = requests.get(d.url(CATALOG), params={"id": target}, timeout=10)
    assert r.status_code == 200
    (spec,) = r.json()["features"]
    assert spec["quality"]["on_violation"] == "flag"
    assert spec["dtype"] == "float64"
    assert d.stop() == 0
