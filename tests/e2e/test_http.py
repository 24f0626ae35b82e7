"""HTTP/1.1 behaviour on the shared lavd: keep-alive, pipelining, malformed requests, 431."""

import json
import socket
import struct

import pytest
import requests

import lavhelpers as lh

CATALOG = "/api/features/v1/catalog"


def test_keepalive_requests_session_uses_one_connection(lavd):
    with requests.Session() as s:
        s.headers.update(lavd.auth_headers("reader"))
        for i in range(5):
            r = s.get(lavd.url("/healthz"), timeout=10)
            assert r.status_code == 200
            r = s.get(lavd.url(CATALOG), params={"tag": "gl"}, timeout=10)
            assert r.status_code == 200
        pool = s.get_adapter(lavd.base_url).poolmanager.connection_from_url(lavd.base_url)
        assert pool.num_requests == 10
        assert pool.num_connections == 1, "%d TCP connections for 10 keep-alive requests" % pool.num_connections


def test_keepalive_raw_socket(lavd):
    s = lavd.connect()
    try:
        rd = lh.SockReader(s)
        for i in range(4):
            cid = "ka-%d" % i
            s.sendall(lh.raw_request("GET", "/healthz", {"x-correlation-id": cid}))
            r = rd.read_response()
            assert r.status == 200
            assert r.version == "HTTP/1.1"
            assert "close" not in r.headers.get("connection", "").lower()
            lh.assert_correlation(r, sent=cid)
            assert r.json()["status"] == "ok"
        # an error response does not close a keep-alive connection either
        s.sendall(lh.raw_request("GET", "/nope", {"x-correlation-id": "ka-404"}))
        r = rd.read_response()
        assert r.status == 404
        s.sendall(lh.raw_request("GET", "/healthz", {"x-correlation-id": "ka-last"}))
        r = rd.read_response()
        assert r.status == 200
        lh.assert_correlation(r, sent="ka-last")
    finally:
        s.close()


def test_connection_close_header_closes(lavd):
    s = lavd.connect()
    try:
        s.sendall(lh.raw_request("GET", "/healthz", {"Connection": "close"}))
        rd = lh.SockReader(s)
        r = rd.read_response()
        assert r.status == 200
        assert lh.wait_closed(s, 10), "server kept the connection open after Connection: close"
    finally:
        s.close()


def test_http10_closes_after_response(lavd):
    s = lavd.connect()
    try:
        s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
        rd = lh.SockReader(s)
        r = rd.read_response()
        assert r.status == 200
        assert r.json()["status"] == "ok"
        assert lh.wait_closed(s, 10), "server kept an HTTP/1.0 connection open without keep-alive"
    finally:
        s.close()


@pytest.mark.smoke
def test_pipelining_three_gets_answered_in_order(lavd, catalog_spec):
    auth = lavd.auth_headers("reader")
    reqs = (
        lh.raw_request("GET", "/healthz", {"x-correlation-id": "pipe-1"})
        + lh.raw_request("GET", CATALOG + "?id=macro/us/*", {**auth, "x-correlation-id": "pipe-2"})
        + lh.raw_request("GET", "/no/such/thing", {"x-correlation-id": "pipe-3"})
    )
    s = lavd.connect()
    try:
        s.sendall(reqs)  # all three in one write
        rd = lh.SockReader(s)
        r1, r2, r3 = rd.read_response(), rd.read_response(), rd.read_response()
    finally:
        s.close()
    lh.assert_correlation(r1, sent="pipe-1")
    lh.assert_correlation(r2, sent="pipe-2")
    lh.assert_correlation(r3, sent="pipe-3")
    assert r1.status == 200 and r1.json()["status"] == "ok"
    assert r2.status == 200
    assert [f["id"] for f in r2.json()["features"]] == sorted(
        f["id"] for f in catalog_spec if f["id"].startswith("macro/us/")
    )
    lh.assert_error(r3, 404, "not_found")
    lavd.assert_alive()


def test_pipelining_with_post_bodies(lavd, catalog_spec):
    admin = lavd.auth_headers("admin")
    body = json.dumps(catalog_spec[:3]).encode()
    reqs = b"".join(
        [
            lh.raw_request("GET", "/healthz", {"x-correlation-id": "pp-1"}),
            lh.raw_request("POST", "/api/features/v1/catalog/validate",
                           {**admin, "Content-Type": "application/json", "x-correlation-id": "pp-2"}, body=body),
            lh.raw_request("POST", "/api/features/v1/catalog/validate",
                           [*admin.items(), ("Transfer-Encoding", "chunked"), ("x-correlation-id", "pp-3")],
                           body=lh.chunked(body, 50)),
            lh.raw_request("POST", "/api/features/v1/catalog/validate",
                           {**admin, "Content-Type": "application/json", "x-correlation-id": "pp-4"}, body=b"[oops"),
            lh.raw_request("GET", "/readyz", {"x-correlation-id": "pp-5"}),
        ]
    )
    s = lavd.connect()
    try:
        s.sendall(reqs)
        rd = lh.SockReader(s)
        rs = [rd.read_response() for _ in range(5)]
    finally:
        s.close()
    for i, r in enumerate(rs, 1):
        lh.assert_correlation(r, sent="pp-%d" % i)
    assert rs[0].status == 200
    assert rs[1].status == 200 and rs[1].json() == {"valid": True, "features": 3}
    assert rs[2].status == 200 and rs[2].json() == {"valid": True, "features": 3}
    lh.assert_error(rs[3], 400, "malformed_body")
    assert rs[4].status in (200, 503)
    lavd.assert_alive()


def test_pipelining_many_small_requests(lavd):
    n = 50
    s = lavd.connect()
    try:
        s.sendall(b"".join(lh.raw_request("GET", "/healthz", {"x-correlation-id": "many-%d" % i}) for i in range(n)))
        rd = lh.SockReader(s)
        for i in range(n):
            r = rd.read_response()
            assert r.status == 200
            lh.assert_correlation(r, sent="many-%d" % i)
    finally:
        s.close()
    lavd.assert_alive()


def test_request_split_into_tiny_writes(lavd):
    req = lh.raw_request("GET", "/healthz", {"x-correlation-id": "bytewise"})
    s = lavd.connect()
    try:
        for i in range(len(req)):
            s.sendall(req[i : i + 1])
        r = lh.SockReader(s).read_response()
        assert r.status == 200
        lh.assert_correlation(r, sent="bytewise")
    finally:
        s.close()


MALFORMED = {
    "garbage": b"GARBAGE\r\n\r\n",
    "bad_header_line": b"GET /healthz HTTP/1.1\r\nHost: lav\r\nthis is not a header\r\n\r\n",
    "space_in_header_name": b"GET /healthz HTTP/1.1\r\nHost: lav\r\nBad Name: x\r\n\r\n",
    "binary": b"\x00\x01\x02\x03\xff\xfe\r\n\r\n",
    "bad_content_length": b"POST /api/features/v1/catalog/validate HTTP/1.1\r\nHost: lav\r\nContent-Length: abc\r\n\r\n",
    "negative_content_length": b"POST /api/features/v1/catalog/validate HTTP/1.1\r\nHost: lav\r\nContent-Length: -5\r\n\r\n",
    "bad_chunk_size": b"POST /api/features/v1/catalog/validate HTTP/1.1\r\nHost: lav\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\nZZZ\r\n",
    "bad_version": b"GET /healthz HTTX/1.1\r\n\r\n",
    "content_length_and_chunked": b"POST /api/features/v1/catalog/validate HTTP/1.1\r\nHost: lav\r\n"
                                  b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "conflicting_content_lengths": b"POST /api/features/v1/catalog/validate HTTP/1.1\r\nHost: lav\r\n"
                                   b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n[] ",
    "nul_in_path": b"GET /heal\x00thz HTTP/1.1\r\nHost: lav\r\n\r\n",
    "unknown_transfer_coding": b"POST /api/features/v1/catalog/validate HTTP/1.1\r\nHost: lav\r\n"
                               b"Transfer-Encoding: gzip\r\n\r\n",
}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.smoke) if n == "garbage" else n for n in sorted(MALFORMED)]
)
def test_malformed_request_400_then_close(lavd, name):
    s = lavd.connect()
    try:
        s.sendall(MALFORMED[name])
        s.settimeout(10)
        rd = lh.SockReader(s)
        r = rd.read_response()
        lh.assert_error(r, 400, "bad_request")
        assert lh.wait_closed(s, 10), "connection not closed after 400 bad_request"
    finally:
        s.close()
    lavd.assert_alive()


def test_expect_100_continue(lavd, catalog_spec):
    """curl sends Expect: 100-continue for larger bodies: 100 first, then the real answer."""
    body = json.dumps(catalog_spec).encode()
    s = lavd.connect()
    try:
        s.sendall(
            lh.raw_request(
                "POST",
                "/api/features/v1/catalog/validate",
                {**lavd.auth_headers("admin"), "Content-Type": "application/json",
                 "Content-Length": str(len(body)), "Expect": "100-continue", "x-correlation-id": "expect-100"},
            )
        )
        s.settimeout(10)
        rd = lh.SockReader(s)
        r = rd.read_response()
        assert r.status == 100, r
        s.sendall(body)
        r = rd.read_response()
        assert r.status == 200, r
        lh.assert_correlation(r, sent="expect-100")
        assert r.json() == {"valid": True, "features": len(catalog_spec)}
    finally:
        s.close()
    lavd.assert_alive()


def test_bad_percent_encoding_in_query(lavd):
    # raw socket: requests would re-quote "%zz" as "%25zz"
    s = lavd.connect()
    try:
        s.sendall(lh.raw_request("GET", CATALOG + "?tag=%zz", lavd.auth_headers("reader")))
        s.settimeout(10)
        r = lh.SockReader(s).read_response()
        lh.assert_error(r, 400, "bad_parameter")
    finally:
        s.close()
    lavd.assert_alive()


def test_malformed_after_good_request_on_same_connection(lavd):
    s = lavd.connect()
    try:
        s.sendall(lh.raw_request("GET", "/healthz", {"x-correlation-id": "good"}) + b"GARBAGE\r\n\r\n")
        rd = lh.SockReader(s)
        r1 = rd.read_response()
        assert r1.status == 200
        lh.assert_correlation(r1, sent="good")
        r2 = rd.read_response()
        lh.assert_error(r2, 400, "bad_request")
        assert lh.wait_closed(s, 10)
    finally:
        s.close()
    lavd.assert_alive()


def test_headers_too_large_431(lavd):
    s = lavd.connect()
    try:
        s.sendall(lh.raw_request("GET", "/healthz", {"X-Big": "a" * 20000, "x-correlation-id": "big-hdr"}))
        s.settimeout(10)
        r = lh.SockReader(s).read_response()
        lh.assert_error(r, 431, "headers_too_large")
        assert lh.wait_closed(s, 10)
    finally:
        s.close()
    lavd.assert_alive()


def test_many_headers_too_large_431(lavd):
    headers = [("X-H%d" % i, "v" * 90) for i in range(250)]  # ~25 KB in many lines
    s = lavd.connect()
    try:
        s.sendall(lh.raw_request("GET", "/healthz", headers))
        s.settimeout(10)
        r = lh.SockReader(s).read_response()
        lh.assert_error(r, 431, "headers_too_large")
    finally:
        s.close()
    lavd.assert_alive()


def test_long_request_line_431_or_414(lavd):
    s = lavd.connect()
    try:
        s.sendall(lh.raw_request("GET", "/healthz?" + "x" * 20000, {}))
        s.settimeout(10)
        r = lh.SockReader(s).read_response()
        assert r.status in (414, 431), r
    finally:
        s.close()
    lavd.assert_alive()


def test_headers_just_below_limit_ok(lavd):
    r = requests.get(lavd.url("/healthz"), headers={"X-Pad": "p" * 12000}, timeout=10)
    assert r.status_code == 200


def test_client_closes_mid_request(lavd):
    for partial in [b"GET /hea", b"GET /healthz HTTP/1.1\r\nHost: x\r\n",
                    lh.raw_request("POST", "/api/features/v1/catalog/validate", {"Content-Length": "1000"}) + b"[1,2"]:
        s = lavd.connect()
        s.sendall(partial)
        s.close()
    # and a reset instead of a clean close
    s = lavd.connect()
    s.sendall(b"GET /healthz HTTP/1.1\r\n")
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    lavd.assert_alive()


def test_client_closes_before_reading_large_response(lavd):
    auth = lavd.auth_headers("reader")
    for _ in range(5):
        s = lavd.connect()
        s.sendall(b"".join(lh.raw_request("GET", CATALOG, auth) for _ in range(20)))
        s.close()
    lavd.assert_alive()


def test_options_or_unknown_method(lavd):
    r = requests.request("OPTIONS", lavd.url("/healthz"), timeout=10)
    assert r.status_code in (200, 204, 405), r.status_code
    lh.assert_correlation(r)
    s = lavd.connect()
    try:
        s.sendall(b"FROB /healthz HTTP/1.1\r\nHost: lav\r\n\r\n")
        s.settimeout(10)
        r = lh.SockReader(s).read_response()
        assert r.status in (400, 405, 501), r
    finally:
        s.close()
    lavd.assert_alive()
