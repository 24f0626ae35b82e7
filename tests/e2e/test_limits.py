"""Limits on dedicated lavd instances: request/idle timeouts, connection limit, body size."""

import json
import select
import socket
import time

import pytest
import requests

import lavhelpers as lh

VALIDATE = "/api/features/v1/catalog/validate"


# ---- timeouts -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def slow_lavd(lavd_factory):
    return lavd_factory(
        "lavd-timeouts",
        auth=False,
        overrides={"LAV_REQUEST_TIMEOUT_MS": "1000", "LAV_IDLE_TIMEOUT_MS": "1000"},
    )


@pytest.mark.parametrize(
    "partial",
    [
        b"GET /hea",
        b"GET /healthz HTTP/1.1\r\nHost: lav\r\n",
        b"POST /api/features/v1/catalog/validate HTTP/1.1\r\nHost: lav\r\nContent-Length: 100\r\n\r\n[1,2,3",
        b"POST /api/features/v1/catalog/validate HTTP/1.1\r\nHost: lav\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n[1,2,",
    ],
    ids=["half_request_line", "headers_unfinished", "body_unfinished", "chunked_unfinished"],
)
def test_incomplete_request_gets_408_and_close(slow_lavd, partial):
    s = slow_lavd.connect()
    try:
        s.sendall(partial)
        s.settimeout(10)
        r = lh.SockReader(s).read_response()
        lh.assert_error(r, 408, "request_timeout")
        assert lh.wait_closed(s, 10), "connection not closed after 408"
    finally:
        s.close()
    slow_lavd.assert_alive()


def test_trickling_client_is_cut_off(slow_lavd):
    """A client that keeps sending one header byte at a time never finishes its request:
    the request timeout is for the whole request, so the server answers 408 and closes."""
    s = slow_lavd.connect()
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: lav\r\nX-Slow: ")
        deadline = time.monotonic() + 10
        got_data = False
        while time.monotonic() < deadline:
            readable, _, _ = select.select([s], [], [], 0.2)
            if readable:
                got_data = True
                break
            try:
                s.sendall(b"a")
            except (BrokenPipeError, ConnectionResetError):
                break
        assert got_data, "server neither answered nor closed a trickling request within 10 s"
        s.settimeout(10)
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        assert data.startswith(b"HTTP/1.1 408"), data[:200]
    finally:
        s.close()
    slow_lavd.assert_alive()


def test_idle_keepalive_connection_closed(slow_lavd):
    s = slow_lavd.connect()
    try:
        s.sendall(lh.raw_request("GET", "/healthz", {}))
        r = lh.SockReader(s).read_response()
        assert r.status == 200
        assert lh.wait_closed(s, 10), "idle keep-alive connection still open 10 s after a 1 s idle timeout"
    finally:
        s.close()
    slow_lavd.assert_alive()


def test_silent_connection_closed(slow_lavd):
    s = slow_lavd.connect()
    try:
        assert lh.wait_closed(s, 10), "a connection that never sent a byte is still open after 10 s"
    finally:
        s.close()
    slow_lavd.assert_alive()


def test_requests_still_served_with_short_timeouts(slow_lavd):
    with requests.Session() as sess:
        for _ in range(3):
            assert sess.get(slow_lavd.url("/healthz"), timeout=10).status_code == 200


# ---- connection limit ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def limited_lavd(lavd_factory):
    return lavd_factory("lavd-maxconn", auth=False, overrides={"LAV_MAX_CONNECTIONS": "4"})


def _healthy(d):
    try:
        return requests.get(d.url("/healthz"), timeout=5).status_code == 200
    except requests.RequestException:
        return False


def _open_served_connection(d, i):
    s = d.connect()
    s.sendall(lh.raw_request("GET", "/healthz", {"x-correlation-id": "held-%d" % i}))
    r = lh.SockReader(s).read_response()
    assert r.status == 200, r
    return s


def _read_rejection(d):
    s = d.connect()
    try:
        s.settimeout(5)
        rd = lh.SockReader(s)
        try:
            first = s.recv(65536)
        except socket.timeout:
            first = None
        if first is None:
            # the server may wait for a request before answering
            s.settimeout(10)
            s.sendall(lh.raw_request("GET", "/healthz", {}))
            r = rd.read_response()
        else:
            if not first:
                pytest.fail("5th connection closed without a 503 response")
            rd.buf = first
            r = rd.read_response()
        closed = lh.wait_closed(s, 10)
        return r, closed
    finally:
        s.close()


def test_connection_limit(limited_lavd):
    d = limited_lavd
    held = []
    try:
        for i in range(4):
            held.append(_open_served_connection(d, i))
        r, closed = _read_rejection(d)
        lh.assert_error(r, 503, "unavailable")
        assert closed, "the over-limit connection was not closed"
        # the held connections still work
        s = held[0]
        s.sendall(lh.raw_request("GET", "/healthz", {"x-correlation-id": "still-held"}))
        r = lh.SockReader(s).read_response()
        assert r.status == 200
        lh.assert_correlation(r, sent="still-held")
    finally:
        for s in held:
            s.close()

    def healthy():
        return _healthy(d)

    assert lh.poll(healthy, timeout=10), "server did not serve again after the held connections closed"
    # and 4 at once are fine again
    again = [_open_served_connection(d, 10 + i) for i in range(4)]
    for s in again:
        s.close()
    assert lh.poll(healthy, timeout=10)
    d.assert_alive()


def test_connection_limit_repeated_rejections(limited_lavd):
    d = limited_lavd
    held = [_open_served_connection(d, 20 + i) for i in range(4)]
    try:
        for _ in range(5):
            r, _closed = _read_rejection(d)
            assert r.status == 503
    finally:
        for s in held:
            s.close()
    assert lh.poll(lambda: _healthy(d), timeout=10)


# ---- body size ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_body_lavd(lavd_factory):
    return lavd_factory("lavd-smallbody", auth=False, overrides={"LAV_MAX_BODY_BYTES": "1024"})


def test_body_limit_from_env_content_length(small_body_lavd):
    d = small_body_lavd
    s = d.connect()
    try:
        s.sendall(lh.raw_request("POST", VALIDATE, {"Content-Type": "application/json", "Content-Length": "2000"}))
        s.settimeout(10)
        r = lh.SockReader(s).read_response()
        lh.assert_error(r, 413, "payload_too_large")
        assert lh.wait_closed(s, 10)
    finally:
        s.close()
    d.assert_alive()


def test_body_under_env_limit_accepted(small_body_lavd, catalog_spec):
    body = json.dumps([catalog_spec[0]], separators=(",", ":")).encode()
    assert len(body) <= 1024, len(body)
    r = requests.post(small_body_lavd.url(VALIDATE), data=body, headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json() == {"valid": True, "features": 1}


def test_chunked_body_over_env_limit_413(small_body_lavd):
    d = small_body_lavd
    body = b"[" + b" " * 3000 + b"]"
    s = d.connect()
    try:
        s.sendall(
            lh.raw_request("POST", VALIDATE, [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")],
                           body=lh.chunked(body, 500))
        )
        s.settimeout(10)
        r = lh.SockReader(s).read_response()
        lh.assert_error(r, 413, "payload_too_large")
    finally:
        s.close()
    d.assert_alive()
