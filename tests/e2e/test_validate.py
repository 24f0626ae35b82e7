"""POST /api/features/v1/catalog/validate: bodies (JSON, msgpack, chunked), 415, 400, 413, 422."""

import copy
import json

import msgpack
import pytest

import lavhelpers as lh

VALIDATE = "/api/features/v1/catalog/validate"


def post_validate(lavd, body, content_type="application/json", role="admin", headers=None):
    h = {}
    if content_type is not None:
        h["Content-Type"] = content_type
    h.update(headers or {})
    return lavd.post(VALIDATE, role=role, data=body, headers=h)


def assert_valid(r, n):
    assert r.status_code == 200, "expected 200 valid, got %d: %r" % (r.status_code, r.text[:800])
    assert r.headers["content-type"].split(";")[0] == "application/json"
    lh.assert_correlation(r)
    doc = r.json()
    assert doc["valid"] is True
    assert doc["features"] == n


def assert_invalid(r, *needles_per_error):
    """422 invalid_catalog; details lists every error; each needles tuple must appear in one detail."""
    err = lh.assert_error(r, 422, "invalid_catalog")
    details = err.get("details")
    assert isinstance(details, list) and details, "422 without details: %r" % err
    assert all(isinstance(d, str) and d for d in details), details
    assert err["message"] == details[0], "message should be the first error: %r vs %r" % (err["message"], details[0])
    for needles in needles_per_error:
        assert any(all(n in d for n in needles) for d in details), "no error mentions all of %r: %r" % (needles, details)
    return details


@pytest.mark.smoke
def test_validate_shipped_catalog_json_array(lavd, catalog_spec):
    assert_valid(post_validate(lavd, json.dumps(catalog_spec)), len(catalog_spec))


def test_validate_object_form(lavd, catalog_spec):
    assert_valid(post_validate(lavd, json.dumps({"features": catalog_spec})), len(catalog_spec))


def test_validate_subset(lavd, catalog_spec):
    fred = [f for f in catalog_spec if f["source"]["id"] == "fred"]
    assert_valid(post_validate(lavd, json.dumps(fred)), len(fred))


@pytest.mark.parametrize("ctype", ["application/msgpack", "application/x-msgpack"])
def test_validate_msgpack_body(lavd, catalog_spec, ctype):
    assert_valid(post_validate(lavd, msgpack.packb(catalog_spec, use_bin_type=True), ctype), len(catalog_spec))


def test_validate_msgpack_object_form(lavd, catalog_spec):
    body = msgpack.packb({"features": catalog_spec}, use_bin_type=True)
    assert_valid(post_validate(lavd, body, "application/msgpack"), len(catalog_spec))


def test_validate_missing_content_type_is_json(lavd, catalog_spec):
    assert_valid(post_validate(lavd, json.dumps(catalog_spec).encode(), content_type=None), len(catalog_spec))


def test_validate_json_with_charset(lavd, catalog_spec):
    assert_valid(post_validate(lavd, json.dumps(catalog_spec), "application/json; charset=utf-8"), len(catalog_spec))


def test_validate_reply_in_msgpack(lavd, catalog_spec):
    r = post_validate(lavd, json.dumps(catalog_spec), headers={"Accept": "application/msgpack"})
    assert r.status_code == 200
    assert r.headers["content-type"].split(";")[0] in ("application/msgpack", "application/x-msgpack")
    doc = msgpack.unpackb(r.content, raw=False)
    assert doc == {"valid": True, "features": len(catalog_spec)}


def test_validate_chunked_body_requests(lavd, catalog_spec):
    data = json.dumps(catalog_spec).encode()

    def gen():
        for i in range(0, len(data), 1000):
            yield data[i : i + 1000]

    r = lavd.post(VALIDATE, role="admin", data=gen(), headers={"Content-Type": "application/json"})
    assert_valid(r, len(catalog_spec))


def test_validate_chunked_body_raw(lavd, catalog_spec):
    data = json.dumps({"features": catalog_spec}).encode()
    s = lavd.connect()
    try:
        s.sendall(
            lh.raw_request(
                "POST",
                VALIDATE,
                [*lavd.auth_headers("admin").items(), ("Content-Type", "application/json"),
                 ("Transfer-Encoding", "chunked"), ("x-correlation-id", "chunked-1")],
                body=lh.chunked(data, 333),
            )
        )
        rd = lh.SockReader(s)
        r = rd.read_response()
        assert r.status == 200, r
        lh.assert_correlation(r, sent="chunked-1")
        assert r.json() == {"valid": True, "features": len(catalog_spec)}
        # the connection stays usable afterwards
        s.sendall(lh.raw_request("GET", "/healthz", {"x-correlation-id": "after-chunked"}))
        r2 = rd.read_response()
        assert r2.status == 200
        lh.assert_correlation(r2, sent="after-chunked")
    finally:
        s.close()
    lavd.assert_alive()


@pytest.mark.parametrize("ctype", ["text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])
def test_validate_unsupported_media_type_415(lavd, catalog_spec, ctype):
    r = post_validate(lavd, json.dumps(catalog_spec), ctype)
    lh.assert_error(r, 415, "unsupported_media_type")
    lavd.assert_alive()


@pytest.mark.parametrize(
    "body",
    [pytest.param(b'{"features": [', marks=pytest.mark.smoke), b"not json at all", b"[1, 2,", b'{"a": tru}', b"\xff\xfe\x00garbage", b'[{"id": "x"}] trailing'],
)
def test_validate_malformed_json_400(lavd, body):
    r = post_validate(lavd, body)
    lh.assert_error(r, 400, "malformed_body")
    lavd.assert_alive()


@pytest.mark.parametrize("body", [b"\xc1", b"\x92\x01", b"\xdc\xff\xff", b"\x91\xdb\xff\xff\xff\xff"])
def test_validate_malformed_msgpack_400(lavd, body):
    r = post_validate(lavd, body, "application/msgpack")
    lh.assert_error(r, 400, "malformed_body")
    lavd.assert_alive()


@pytest.mark.parametrize(
    "body,ctype",
    [
        (b"[" * 200000, "application/json"),
        (b'{"a":' * 100000, "application/json"),
        (b"\x91" * 100000 + b"\x00", "application/msgpack"),
        (b"\x81\xa1a" * 100000 + b"\x00", "application/msgpack"),
    ],
    ids=["json_arrays", "json_objects", "msgpack_arrays", "msgpack_maps"],
)
def test_validate_deeply_nested_body_400(lavd, body, ctype):
    r = post_validate(lavd, body, ctype)
    lh.assert_error(r, 400, "malformed_body")
    lavd.assert_alive()


@pytest.mark.parametrize(
    "body",
    [b'[{"id":1}]', msgpack.packb([]) + b"\x00", b""],
    ids=["json_bytes", "trailing_byte", "empty"],
)
def test_validate_msgpack_framing_400(lavd, body):
    r = post_validate(lavd, body, "application/msgpack")
    lh.assert_error(r, 400, "malformed_body")
    lavd.assert_alive()


def test_validate_invalid_utf8_json_400(lavd):
    r = post_validate(lavd, b'[{"id": "\xff\xfe"}]')
    lh.assert_error(r, 400, "malformed_body")
    lavd.assert_alive()


def test_validate_empty_body(lavd):
    r = post_validate(lavd, b"")
    assert r.status_code in (400, 422), r.text
    lh.assert_error(r, r.status_code, "malformed_body" if r.status_code == 400 else "invalid_catalog")
    lavd.assert_alive()


@pytest.mark.parametrize("body", [b"42", b'"features"', b'{"foo": 1}', b"null", b'{"features": 3}'])
def test_validate_wrong_top_level_shape(lavd, body):
    r = post_validate(lavd, body)
    assert r.status_code in (400, 422), r.text
    lh.assert_error(r, r.status_code, "malformed_body" if r.status_code == 400 else "invalid_catalog")
    lavd.assert_alive()


# ---- 422: invalid candidates -------------------------------------------------------


def _broken(catalog_spec, index, mutate):
    fs = copy.deepcopy(catalog_spec)
    mutate(fs[index])
    return fs


def test_validate_bad_ttl_422(lavd, catalog_spec):
    fs = _broken(catalog_spec, 0, lambda f: f.__setitem__("ttl_ms", -1))
    fid = fs[0]["id"]
    details = assert_invalid(post_validate(lavd, json.dumps(fs)), ("feature[0]", fid, "ttl_ms"))
    assert len(details) == 1, details
    lavd.assert_alive()


@pytest.mark.parametrize(
    "field,mutate",
    [
        ("ttl_ms", lambda f: f.__setitem__("ttl_ms", 0)),
        ("ttl_ms", lambda f: f.__setitem__("ttl_ms", "60000")),
        ("ttl_ms", lambda f: f.__setitem__("ttl_ms", 1.5)),
        ("entity", lambda f: f.__setitem__("entity", "planet")),
        ("frequency", lambda f: f.__setitem__("frequency", "2m")),
        ("id", lambda f: f.__setitem__("id", "Bad Id")),
        ("id", lambda f: f.__setitem__("id", "nosegments")),
        ("version", lambda f: f.__setitem__("version", 0)),
        ("expected_range", lambda f: f["quality"].__setitem__("expected_range", [5, 1])),
        ("on_violation", lambda f: f["quality"].__setitem__("on_violation", "explode")),
        ("class", lambda f: f["source"].__setitem__("class", "astrology")),
        ("source", lambda f: f["source"].__setitem__("id", "no-such-source")),
        ("bogus_field", lambda f: f.__setitem__("bogus_field", 1)),
        ("tags", lambda f: f.__setitem__("tags", "macro")),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_validate_invalid_field_422(lavd, catalog_spec, field, mutate):
    index = 2
    fs = _broken(catalog_spec, index, mutate)
    fid = fs[index]["id"]
    needles = ("feature[%d]" % index, field) if field == "id" else ("feature[%d]" % index, fid, field)
    assert_invalid(post_validate(lavd, json.dumps(fs)), needles)
    lavd.assert_alive()


def test_validate_missing_required_field_422(lavd, catalog_spec):
    fs = _broken(catalog_spec, 1, lambda f: f.pop("ttl_ms"))
    assert_invalid(post_validate(lavd, json.dumps(fs)), ("feature[1]", fs[1]["id"], "ttl_ms"))


def test_validate_duplicate_id_422(lavd, catalog_spec):
    fs = copy.deepcopy(catalog_spec)
    fs.append(copy.deepcopy(fs[0]))
    assert_invalid(post_validate(lavd, json.dumps(fs)), (fs[0]["id"],))


def test_validate_reports_every_error(lavd, catalog_spec):
    fs = copy.deepcopy(catalog_spec)
    fs[3]["ttl_ms"] = -5
    fs[7]["entity"] = "nope"
    fs[11]["source"]["id"] = "nowhere"
    details = assert_invalid(
        post_validate(lavd, json.dumps(fs)),
        ("feature[3]", fs[3]["id"], "ttl_ms"),
        ("feature[7]", fs[7]["id"], "entity"),
        ("feature[11]", fs[11]["id"], "source"),
    )
    assert len(details) >= 3


def test_validate_invalid_msgpack_candidate_422(lavd, catalog_spec):
    fs = _broken(catalog_spec, 0, lambda f: f.__setitem__("ttl_ms", -1))
    r = post_validate(lavd, msgpack.packb(fs, use_bin_type=True), "application/msgpack")
    assert_invalid(r, ("feature[0]", fs[0]["id"], "ttl_ms"))


def test_validate_does_not_change_the_served_catalog(lavd, catalog_spec):
    before = lavd.get("/api/features/v1/catalog", role="reader").json()
    fs = copy.deepcopy(catalog_spec[:2])
    fs[0]["description"] = "changed by a validate call"
    fs[0]["version"] += 5
    assert_valid(post_validate(lavd, json.dumps(fs)), 2)
    after = lavd.get("/api/features/v1/catalog", role="reader").json()
    assert before == after


# ---- 413 ------------------------------------------------------------------------------


def test_validate_413_before_body_is_sent(lavd):
    """A Content-Length above 8 MiB is refused from the headers alone; then the connection closes."""
    s = lavd.connect()
    try:
        s.sendall(
            lh.raw_request(
                "POST",
                VALIDATE,
                [*lavd.auth_headers("admin").items(), ("Content-Type", "application/json"),
                 ("Content-Length", "9000000"), ("x-correlation-id", "too-big")],
            )
        )
        s.settimeout(10)
        rd = lh.SockReader(s)
        r = rd.read_response()
        lh.assert_error(r, 413, "payload_too_large")
        lh.assert_correlation(r, sent="too-big")
        assert lh.wait_closed(s, 10), "connection not closed after 413"
    finally:
        s.close()
    lavd.assert_alive()


def test_validate_body_just_below_limit_is_read(lavd):
    """8 MiB exactly is allowed (the limit is 'above'); the body is garbage so 400 malformed_body."""
    body = b"[" + b" " * (8388608 - 2) + b"x"
    assert len(body) == 8388608
    r = post_validate(lavd, body)
    lh.assert_error(r, 400, "malformed_body")
    lavd.assert_alive()
