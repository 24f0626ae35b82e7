"""The WebSocket endpoint (`GET /ws`, proto/websocket.md, DESIGN.md section 4) end to end.

One lavd ("srv": messages limited to 4096 bytes, 64 KiB queued per client) serves the
handshake, subscription, event, bad-input and framing tests, and last the slow consumer;
a second one pings every second (keep-alive, dead peers, shutdown); a 1s-grid lavd is fed
values that move the score through verde and rojo (regime.update / regime.flip); two lavds
on one database and one Redis check the fan-out between instances and the leadership.

Clients: python3-websockets (wshelpers.WSClient) for everything a correct client does, a
raw socket (wshelpers.RawWS) for what it never does.
"""

import json
import signal
import socket
import struct
import time

import msgpack
import pytest
import requests
import websockets

import lavhelpers as lh
import semaforohelpers as sh
import wshelpers as wh
from wshelpers import JSON_P, MSGPACK_P, OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT

S = lh.US
F_BTC = "crypto/btc/price_usd"
F_ETH = "crypto/eth/price_usd"
F_SUPPLY = "onchain/btc/supply_btc"  # on_violation: reject
MAX_MSG = 4096
MAX_QUEUED = 65536
FAST = {"FEATURE_API_RATE_LIMIT_RPM": "1000000"}

POINT_KEYS = {"featureId", "entity", "ts", "available_at", "value", "confidence", "stale", "meta", "evidence"}
UPDATE_KEYS = {"seq", "type", "ts", "state", "candidate", "score", "raw", "smoothed", "confidence", "components",
               "flip", "updated_at"}
FLIP_KEYS = {"seq", "type", "from", "to", "score", "confidence", "ts", "updated_at"}


# =======================================================================================
# Fixtures


@pytest.fixture(scope="module")
def srv(lavd_factory):
    d = lavd_factory("lavd-ws", overrides=dict(FAST, LAV_WS_MAX_MESSAGE_BYTES=str(MAX_MSG),
                                               LAV_WS_MAX_QUEUED_BYTES=str(MAX_QUEUED)))
    lh.wait_store_settled(d)
    return d


def _pt(f, e, ts, v, av=None):
    return {"featureId": f, "entity": e, "ts": lh.fmt_ts(ts), "available_at": lh.fmt_ts(av if av is not None else ts),
            "value": v}


def _recent_ts(minutes=1):
    return (lh.now_us() - minutes * lh.US_MIN) // 1000 * 1000


def _latest_json(d, f, e):
    r = lh.latest(d, f, e)
    assert r.status_code == 200, r.text
    return r.json()


def _check_point(p, f, e, ts, value, encoding=JSON_P):
    assert set(p) == POINT_KEYS, "point keys %r" % sorted(p)
    assert p["featureId"] == f and p["entity"] == e, p
    assert wh.check_ts(p["ts"], encoding, "ts") == ts, p
    wh.check_ts(p["available_at"], encoding, "available_at")
    assert p["value"] == value, p


class Problems:
    """Collects failed checks of a multi-case test, to report every case at once."""

    def __init__(self):
        self.items = []

    def check(self, label, fn, *a, **kw):
        try:
            return fn(*a, **kw)
        except (AssertionError, ValueError, KeyError, EOFError, OSError) as e:
            self.items.append("%s: %s" % (label, str(e).splitlines()[0][:400] if str(e) else repr(e)))
            return None

    def error(self, label, resp, status, code):
        return self.check(label, lh.assert_error, resp, status, code)

    def done(self):
        assert not self.items, "%d case(s) failed:\n  " % len(self.items) + "\n  ".join(self.items)


def _err(m, code):
    assert m["type"] == "error" and m.get("code") == code, "expected error %s, got %r" % (code, m)
    assert isinstance(m.get("message"), str) and m["message"], m
    return m


# =======================================================================================
# 1. Handshake


def test_handshake_accept_and_subprotocols(srv, tokens):
    tok = tokens["reader"]
    cases = [
        (None, None),
        ([JSON_P], JSON_P),
        ([MSGPACK_P], MSGPACK_P),
        (["x.other", MSGPACK_P, JSON_P], MSGPACK_P),  # the first lav one in the client's order
        ([JSON_P, MSGPACK_P], JSON_P),
    ]
    for offered, chosen in cases:
        key = wh.new_key()
        r = wh.handshake(srv, wh.upgrade_headers(key=key, protocols=offered, token=tok))
        assert r.status == 101, "offered %r: %r" % (offered, r)
        assert r.headers.get("sec-websocket-accept") == wh.accept_for(key), r.headers
        assert "websocket" in wh.header_tokens(r, "upgrade"), r.headers
        assert "upgrade" in wh.header_tokens(r, "connection"), r.headers
        if chosen is None:
            assert "sec-websocket-protocol" not in r.headers, "no subprotocol offered, but %r" % r.headers
        else:
            assert r.headers.get("sec-websocket-protocol") == chosen, "offered %r: %r" % (offered, r.headers)
    # the same offer on two header lines
    key = wh.new_key()
    h = wh.upgrade_headers(key=key, token=tok) + [("Sec-WebSocket-Protocol", "x.other"),
                                                  ("Sec-WebSocket-Protocol", MSGPACK_P)]
    r = wh.handshake(srv, h)
    assert r.status == 101 and r.headers.get("sec-websocket-protocol") == MSGPACK_P, r
    # only unknown subprotocols
    r = wh.handshake(srv, wh.upgrade_headers(protocols=["chat", "superchat"], token=tok))
    lh.assert_error(r, 400, "bad_request")
    # without the header the encoding is lav.json.v1: text frames
    with wh.RawWS(srv) as raw:
        assert raw.request({"op": "ping", "id": 1}) == {"seq": 1, "type": "pong", "id": 1}
        assert raw.frames[-1].opcode == OP_TEXT
    with wh.RawWS(srv, protocol=MSGPACK_P) as raw:
        raw.send_json({"op": "ping", "id": 2})
        f = raw.recv_frame()
        assert f.opcode == OP_BINARY and wh.msgpack_loads(f.payload) == {"seq": 1, "type": "pong", "id": 2}


def test_handshake_with_python_websockets(srv):
    """A stock client (permessage-deflate offered, which lavd may ignore), both encodings."""
    for protos, want in (((JSON_P,), JSON_P), ((MSGPACK_P,), MSGPACK_P), ((), None)):
        with wh.WSClient(srv, protocols=protos, compression="deflate") as c:
            assert c.subprotocol == want
            c.ping("x")


@pytest.mark.smoke
def test_handshake_bad_key(srv, tokens):
    tok = tokens["reader"]
    pr = Problems()
    h = [kv for kv in wh.upgrade_headers(token=tok) if kv[0] != "Sec-WebSocket-Key"]
    pr.error("no Sec-WebSocket-Key", wh.handshake(srv, h), 400, "bad_request")
    for label, key in (("'abc'", "abc"), ("base64 of 15 bytes", wh.new_key(15)), ("base64 of 17 bytes", wh.new_key(17)),
                       ("24 chars, not base64", "!!!!!!!!!!!!!!!!!!!!!!=="), ("empty", ""),
                       ("16 bytes, base64 without padding", wh.new_key(16).rstrip("="))):
        r = wh.handshake(srv, wh.upgrade_headers(key=key, token=tok))
        pr.error("Sec-WebSocket-Key %s (%r)" % (label, key), r, 400, "bad_request")
    pr.done()


def test_handshake_version(srv, tokens):
    tok = tokens["reader"]
    pr = Problems()

    def check(r):
        lh.assert_error(r, 426, "upgrade_required")
        assert wh.header_tokens(r, "sec-websocket-version") == ["13"], "Sec-WebSocket-Version: %r" % (
            r.headers.get("sec-websocket-version"),)

    for version in ("12", "8", "14"):
        pr.check("Sec-WebSocket-Version: %s" % version, check,
                 wh.handshake(srv, wh.upgrade_headers(version=version, token=tok)))
    h = [kv for kv in wh.upgrade_headers(token=tok) if kv[0] != "Sec-WebSocket-Version"]
    pr.check("no Sec-WebSocket-Version", check, wh.handshake(srv, h))
    pr.done()


def test_plain_get_is_426(srv, tokens):
    pr = Problems()
    auth = tokens.header("reader")

    def plain():
        r = requests.get(srv.url("/ws"), headers=auth, timeout=10)
        lh.assert_error(r, 426, "upgrade_required")
        assert "websocket" in [t.strip().lower() for t in r.headers.get("upgrade", "").split(",")], \
            "Upgrade header %r" % r.headers.get("upgrade")

    pr.check("plain GET /ws", plain)
    tok = tokens["reader"]
    for drop in ("Connection", "Upgrade"):
        h = [kv for kv in wh.upgrade_headers(token=tok) if kv[0] != drop]
        pr.error("upgrade request without %s" % drop, wh.handshake(srv, h), 426, "upgrade_required")
    h = [("Upgrade", "h2c") if k == "Upgrade" else (k, v) for k, v in wh.upgrade_headers(token=tok)]
    pr.error("Upgrade: h2c", wh.handshake(srv, h), 426, "upgrade_required")

    def tokens_and_case():
        key = wh.new_key()
        h = [("Connection", "keep-alive, Upgrade") if k == "Connection" else ("Upgrade", "WebSocket") if k == "Upgrade"
             else (k, v) for k, v in wh.upgrade_headers(key=key, token=tok)]
        r = wh.handshake(srv, h)
        assert r.status == 101 and r.headers.get("sec-websocket-accept") == wh.accept_for(key), r

    pr.check("Connection: keep-alive, Upgrade / Upgrade: WebSocket", tokens_and_case)
    pr.done()


def test_post_is_405(srv, tokens):
    pr = Problems()
    pr.error("POST upgrade", wh.handshake(srv, wh.upgrade_headers(token=tokens["reader"]), method="POST"),
             405, "method_not_allowed")
    pr.error("POST /ws", requests.post(srv.url("/ws"), headers=tokens.header("reader"), data=b"{}", timeout=10),
             405, "method_not_allowed")
    pr.error("PUT upgrade", wh.handshake(srv, wh.upgrade_headers(token=tokens["reader"]), method="PUT"),
             405, "method_not_allowed")
    pr.done()


def test_handshake_with_body_or_pipelined_request(srv, tokens):
    tok = tokens["reader"]
    pr = Problems()
    pr.error("upgrade with a 5-byte body", wh.handshake(srv, wh.upgrade_headers(token=tok), body=b"hello"),
             400, "bad_request")
    pr.done()
    # bytes behind the upgrade request are WebSocket frames (RFC 6455 4.1): an HTTP request
    # there is a protocol violation, answered with a close frame 1002 after the 101
    resp, s, rd = wh.raw_http(srv, "GET", "/ws", wh.upgrade_headers(token=tok), extra=lh.raw_request("GET", "/healthz"))
    try:
        assert resp.status == 101, resp
        data = rd.buf
        s.settimeout(5)
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        assert data[:1] == b"\x88" and data[2:4] == (1002).to_bytes(2, "big"), data[:40]
    finally:
        s.close()
    assert requests.get(srv.url("/healthz"), timeout=5).status_code == 200


def test_handshake_auth(srv, tokens):
    import hashlib

    pr = Problems()
    h = wh.upgrade_headers()
    pr.error("no token", wh.handshake(srv, h), 401, "unauthorized")
    pr.error("bad bearer token", wh.handshake(srv, wh.upgrade_headers(token="wrong-token")), 401, "unauthorized")
    pr.error("?token=wrong-token", wh.handshake(srv, h, path="/ws?token=wrong-token"), 401, "unauthorized")
    pr.error("?token= (empty)", wh.handshake(srv, h, path="/ws?token="), 401, "unauthorized")
    hashed = hashlib.sha256(tokens["reader"].encode()).hexdigest()
    pr.error("?token=<sha256 of a token>", wh.handshake(srv, h, path="/ws?token=" + hashed), 401, "unauthorized")

    def ok(hdrs, path):
        key = wh.new_key()
        hdrs = [("Sec-WebSocket-Key", key) if k == "Sec-WebSocket-Key" else (k, v) for k, v in hdrs]
        r = wh.handshake(srv, hdrs, path=path)
        assert r.status == 101 and r.headers.get("sec-websocket-accept") == wh.accept_for(key), r

    # header and ?token= both work, for every scope (each includes oracle.reader)
    for role in ("reader", "publisher", "admin"):
        pr.check("Authorization: Bearer <%s>" % role, ok, wh.upgrade_headers(token=tokens[role]), "/ws")
        pr.check("?token=<%s>" % role, ok, wh.upgrade_headers(), "/ws?token=" + tokens[role])

    # the python example of proto/websocket.md: ?token= and lav.msgpack.v1
    def example():
        with wh.WSClient(srv, auth="query", protocols=(MSGPACK_P,)) as c:
            assert c.subprotocol == MSGPACK_P
            c.ping("q")

    pr.check("python websockets, ?token=, lav.msgpack.v1", example)

    def refused():
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as ei:
            wh.WSClient(srv, role=None)
        assert ei.value.status_code == 401

    pr.check("python websockets without a token", refused)
    pr.done()
    srv.assert_alive()


# =======================================================================================
# 2. Subscriptions and snapshots in both encodings


def test_subscribe_snapshots_both_encodings(srv):
    e = lh.unique_entity("SNAP")
    ts = _recent_ts()
    lh.publish_ok(srv, [_pt(F_BTC, e, ts, 61000.5)])
    lh.publish_ok(srv, [_pt(F_BTC, e, ts - lh.US_MIN, 60999.5)])  # older, published later: not in the snapshot
    latest_js = _latest_json(srv, F_BTC, e)
    r = srv.get("/api/features/v1/latest", role="reader", params={"featureId": F_BTC, "entity": e},
                headers={"Accept": "application/msgpack"})
    latest_mp = wh.msgpack_loads(r.content)
    channels = ["regime", "feature:%s|%s" % (F_BTC, e), "feature:" + F_BTC, "dq"]
    snaps = {}
    for proto in (JSON_P, MSGPACK_P):
        with wh.WSClient(srv, protocols=(proto,), name=proto) as c:
            assert c.encoding == proto
            sub, sn = c.subscribe(channels, id=7)
            assert sub == {"seq": 1, "type": "subscribed", "channels": channels, "id": 7}, sub
            assert [m["seq"] for m in sn.values()] == [2, 3, 4, 5]
            reg = sn["regime"]
            assert set(reg) == {"seq", "type", "channel", "regime", "flips"}, reg
            assert reg["regime"] is None and reg["flips"] == [], "no grid point yet on this lavd: %r" % reg
            one = sn["feature:%s|%s" % (F_BTC, e)]
            assert set(one) == {"seq", "type", "channel", "points"}, one
            assert one["points"] == [latest_js if proto == JSON_P else latest_mp], one
            _check_point(one["points"][0], F_BTC, e, ts, 61000.5, proto)
            allf = sn["feature:" + F_BTC]["points"]
            assert all(p["featureId"] == F_BTC for p in allf)
            keys = [(p["featureId"], p["entity"]) for p in allf]
            assert len(keys) == len(set(keys)) and (F_BTC, e) in keys, keys
            assert isinstance(sn["dq"]["alerts"], list)
            # pong: next seq, id echoed; text JSON and binary MessagePack accepted on either encoding
            assert c.request({"op": "ping", "id": "anything"}, binary=False) == {"seq": 6, "type": "pong", "id": "anything"}
            assert c.request({"op": "ping", "id": 42}, binary=True) == {"seq": 7, "type": "pong", "id": 42}
            c.send_raw(bytes.fromhex("81a26f70a470696e67"))  # {"op":"ping"} in MessagePack
            m = c.reply()
            assert m["type"] == "pong" and m["seq"] == 8 and m.get("id") is None, m
            # an already subscribed channel gets no second snapshot
            c.send({"op": "subscribe", "channels": ["regime"]})
            m = c.reply()
            assert m["type"] == "subscribed" and m["seq"] == 9, m
            assert c.request({"op": "ping"})["seq"] == 10, "a snapshot for a channel already subscribed"
            snaps[proto] = sn
    # both encodings carry the same keys and values (timestamps: strings / ext -1)
    for ch in channels:
        sh.same_shape(wh.strip_seq(snaps[JSON_P][ch]), wh.strip_seq(snaps[MSGPACK_P][ch]))


# =======================================================================================
# 3. feature.point from POST /publish


def test_feature_point_fanout_once_and_unsubscribe(srv):
    e = lh.unique_entity("FAN")
    ch_id, ch_ent, ch_all = "feature:" + F_BTC, "feature:%s|%s" % (F_BTC, e), "feature:*"
    c_id = wh.WSClient(srv, name="c_id")
    c_ent = wh.WSClient(srv, name="c_ent")
    c_all = wh.WSClient(srv, name="c_all")
    c_both = wh.WSClient(srv, name="c_both")
    c_mp = wh.WSClient(srv, protocols=(MSGPACK_P,), name="c_mp")
    c_other = wh.WSClient(srv, name="c_other")
    clients = [c_id, c_ent, c_all, c_both, c_mp]
    try:
        c_id.subscribe([ch_id])
        c_ent.subscribe([ch_ent])
        c_all.subscribe([ch_all])
        c_both.subscribe([ch_id, ch_all, ch_ent])
        c_mp.subscribe([ch_ent])
        c_other.subscribe(["feature:%s|%s" % (F_BTC, e + "-other"), "feature:" + F_ETH])

        def mine(m):
            return m["type"] == "feature.point" and m["point"]["featureId"] == F_BTC and m["point"]["entity"] == e

        ts = _recent_ts()
        lh.publish_ok(srv, [_pt(F_BTC, e, ts, 60100.0)])
        latest = _latest_json(srv, F_BTC, e)
        for c in clients:
            m = c.wait_for(mine, what="feature.point of %s|%s" % (F_BTC, e))
            assert set(m) == {"seq", "type", "point"}, m
            _check_point(m["point"], F_BTC, e, ts, 60100.0, c.encoding)
            if c.encoding == JSON_P:
                assert {k: v for k, v in m["point"].items() if k != "stale"} == \
                       {k: v for k, v in latest.items() if k != "stale"}, (m["point"], latest)
        # the same point again: stored once, pushed once; then a new one
        r, doc = lh.publish(srv, [_pt(F_BTC, e, ts, 60100.0)])
        assert r.status_code == 200, r.text
        lh.publish_ok(srv, [_pt(F_BTC, e, ts + S, 60200.0)])
        for c in clients:
            m = c.wait_for(mine, what="second feature.point")
            assert wh.to_us(m["point"]["ts"]) == ts + S and m["point"]["value"] == 60200.0, \
                "%s: the republished point was pushed again (or points out of order): %r" % (c.name, m)
        for c in clients:
            c.ping()
        time.sleep(0.5)
        for c in clients:
            extra = [m for m in c.collect(0.1) if mine(m)]
            assert not extra, "%s: unexpected feature.point: %r" % (c.name, extra)
            got = [(wh.to_us(p["ts"]), p["value"]) for p in wh.points_of(c.log, F_BTC, e)]
            assert got == [(ts, 60100.0), (ts + S, 60200.0)], "%s got %r (an event twice?)" % (c.name, got)
        c_other.ping()
        assert wh.points_of(c_other.log) == [], "a subscriber of other series got %r" % wh.points_of(c_other.log)

        # unsubscribe: c_id leaves feature:<id>; c_both keeps feature:* only
        assert c_id.unsubscribe([ch_id], id="u1") == {"seq": c_id.last_seq, "type": "unsubscribed",
                                                      "channels": [ch_id], "id": "u1"}
        c_both.unsubscribe([ch_ent, ch_id])
        n_id, n_both = len(c_id.log), len(c_both.log)
        lh.publish_ok(srv, [_pt(F_BTC, e, ts + 2 * S, 60300.0)])
        for c in (c_ent, c_all, c_mp, c_both):
            m = c.wait_for(mine, what="third feature.point")
            assert m["point"]["value"] == 60300.0
        c_id.ping()
        c_both.ping()
        time.sleep(0.5)
        c_id.collect(0.1)
        c_both.collect(0.1)
        assert wh.points_of(c_id.log[n_id:]) == [], "events after unsubscribe: %r" % c_id.log[n_id:]
        assert len(wh.points_of(c_both.log[n_both:], F_BTC, e)) == 1, c_both.log[n_both:]
        c_both.unsubscribe([ch_all])
        n_both = len(c_both.log)
        lh.publish_ok(srv, [_pt(F_BTC, e, ts + 3 * S, 60400.0)])
        c_ent.wait_for(mine)
        c_both.ping()
        time.sleep(0.3)
        c_both.collect(0.1)
        assert wh.points_of(c_both.log[n_both:]) == [], c_both.log[n_both:]
    finally:
        for c in clients + [c_other]:
            c.close()


def test_point_published_as_msgpack_reaches_subscribers(srv):
    e = lh.unique_entity("MPUB")
    ts = _recent_ts()
    with wh.WSClient(srv) as c, wh.WSClient(srv, protocols=(MSGPACK_P,)) as cm:
        c.subscribe(["feature:%s|%s" % (F_ETH, e)])
        cm.subscribe(["feature:%s|%s" % (F_ETH, e)])
        lh.publish_ok(srv, [_pt(F_ETH, e, ts, 3000.25)], fmt="msgpack")
        js = c.wait_for(lambda m: m["type"] == "feature.point")
        mp = cm.wait_for(lambda m: m["type"] == "feature.point")
        _check_point(js["point"], F_ETH, e, ts, 3000.25)
        _check_point(mp["point"], F_ETH, e, ts, 3000.25, MSGPACK_P)
        sh.same_shape(wh.strip_seq(js), wh.strip_seq(mp))


def test_empty_entity_channel(srv):
    """`feature:<id>|` is the series with the empty entity, and only it."""
    e = lh.unique_entity("NONEMPTY")
    ts = _recent_ts()
    with wh.WSClient(srv) as c:
        _, sn = c.subscribe(["feature:%s|" % F_ETH])
        assert all(p["entity"] == "" for p in sn["feature:%s|" % F_ETH]["points"]), sn
        lh.publish_ok(srv, [_pt(F_ETH, e, ts, 3001.0)])
        lh.publish_ok(srv, [{"featureId": F_ETH, "ts": lh.fmt_ts(ts), "value": 3002.0}])
        m = c.wait_for(lambda m: m["type"] == "feature.point", what="point of the empty entity")
        assert m["point"]["entity"] == "" and m["point"]["value"] == 3002.0, m
        c.ping()
        assert len(wh.points_of(c.log)) == 1, wh.points_of(c.log)
    with wh.WSClient(srv) as c:
        _, sn = c.subscribe(["feature:%s|" % F_ETH])
        assert [(p["entity"], p["value"]) for p in sn["feature:%s|" % F_ETH]["points"]] == [("", 3002.0)], sn


# =======================================================================================
# 4. A point written straight into PostgreSQL


def test_point_written_to_postgres_reaches_subscribers(srv):
    e = lh.unique_entity("ETLWS")
    ts = _recent_ts(2)
    with wh.WSClient(srv, name="ent") as c, wh.WSClient(srv, name="all") as ca, \
            wh.WSClient(srv, protocols=(MSGPACK_P,), name="mp") as cm:
        c.subscribe(["feature:%s|%s" % (F_BTC, e)])
        ca.subscribe(["feature:*"])
        cm.subscribe(["feature:" + F_BTC])

        def mine(m):
            return m["type"] == "feature.point" and m["point"]["entity"] == e

        lh.etl_insert(srv.dsn, [(F_BTC, e, ts, ts, 58765.5)])
        for cl in (c, ca, cm):
            m = cl.wait_for(mine, timeout=5, what="feature.point of a row inserted with psycopg2")
            _check_point(m["point"], F_BTC, e, ts, 58765.5, cl.encoding)
            assert wh.to_us(m["point"]["available_at"]) == ts
        # a revision (later available_at) is a new point
        lh.etl_insert(srv.dsn, [(F_BTC, e, ts, ts + S, 58766.5)])
        for cl in (c, ca, cm):
            m = cl.wait_for(mine, timeout=5, what="feature.point of the revision")
            assert m["point"]["value"] == 58766.5 and wh.to_us(m["point"]["available_at"]) == ts + S, m
        time.sleep(0.5)
        for cl in (c, ca, cm):
            cl.collect(0.1)
            assert len(wh.points_of(cl.log, F_BTC, e)) == 2, "%s: %r" % (cl.name, wh.points_of(cl.log, F_BTC, e))


def test_dq_alerts(srv):
    e = lh.unique_entity("DQ")
    ts = _recent_ts()
    with wh.WSClient(srv) as c:
        _, sn = c.subscribe(["dq", "feature:%s|%s" % (F_SUPPLY, e), "feature:%s|%s" % (F_BTC, e)])
        assert isinstance(sn["dq"]["alerts"], list)
        r, doc = lh.publish(srv, [_pt(F_SUPPLY, e, ts, 1e9)])
        assert r.status_code == 422 and doc["accepted"] == 0, r.text
        a = c.wait_for(lambda m: m["type"] == "dq.alert", what="dq.alert for a rejected point")
        assert set(a) == {"seq", "type", "featureId", "entity", "ts", "code", "message", "action"}, a
        assert (a["featureId"], a["entity"], a["action"]) == (F_SUPPLY, e, "rejected"), a
        assert wh.check_ts(a["ts"], JSON_P) == ts and a["code"] and a["message"], a
        lh.publish_ok(srv, [_pt(F_BTC, e, ts, 1e7)])  # outside expected_range, on_violation flag
        a2 = c.wait_for(lambda m: m["type"] == "dq.alert", what="dq.alert for a flagged point")
        assert (a2["featureId"], a2["entity"], a2["action"]) == (F_BTC, e, "flagged"), a2
        p = [m for m in c.log if m["type"] == "feature.point"] or [c.wait_for(lambda m: m["type"] == "feature.point")]
        assert len(p) == 1 and p[0]["point"]["value"] == 1e7 and p[0]["point"]["meta"].get("dq"), p
        c.ping()
        assert not [m for m in c.log if m["type"] == "feature.point" and m["point"]["featureId"] == F_SUPPLY]
    with wh.WSClient(srv) as c2:
        _, sn = c2.subscribe(["dq"])
        mine = [x for x in sn["dq"]["alerts"] if x.get("entity") == e]
        assert set((x["featureId"], x["action"]) for x in mine) == {(F_BTC, "flagged"), (F_SUPPLY, "rejected")}, \
            "dq snapshot: %r" % sn["dq"]["alerts"][:5]
        for x in mine:
            assert set(x) - {"type"} == {"featureId", "entity", "ts", "code", "message", "action"}, x
            assert x.get("type", "dq.alert") == "dq.alert", x


# =======================================================================================
# 7. Bad input


@pytest.mark.smoke
def test_bad_messages_answer_errors_and_keep_the_connection(srv):
    with wh.WSClient(srv, name="json") as c:
        bad = [
            ("not json{", "bad_message"),
            (b"\xc1", "bad_message"),  # never used in MessagePack
            (b"\x93\x01\x02", "bad_message"),  # a truncated MessagePack array
            (msgpack.packb([1, 2]), "bad_message"),
            ("[1, 2]", "bad_message"),
            ('"subscribe"', "bad_message"),
            ("{}", "bad_message"),
            (json.dumps({"channels": ["regime"]}), "bad_message"),
            (json.dumps({"op": "dance"}), "bad_message"),
            (json.dumps({"op": 1}), "bad_message"),
            (json.dumps({"op": "subscribe", "channels": "regime"}), "bad_message"),
            (json.dumps({"op": "subscribe", "channels": [1]}), "bad_message"),
            (json.dumps({"op": "subscribe", "channels": ["regime", None]}), "bad_message"),
            (json.dumps({"op": "subscribe"}), "bad_message"),
            (json.dumps({"op": "subscribe", "channels": ["weather"]}), "bad_channel"),
            (json.dumps({"op": "subscribe", "channels": ["feature:no/such_feature"]}), "unknown_feature"),
            (json.dumps({"op": "subscribe", "channels": ["feature:no/such_feature|BTC"]}), "unknown_feature"),
            (json.dumps({"op": "unsubscribe", "channels": "dq"}), "bad_message"),
        ]
        for data, code in bad:
            c.send_raw(data)
            m = c.reply()
            _err(m, code)
            assert set(m) <= {"seq", "type", "code", "message", "id"}, m
            c.ping()
        c.send({"op": "subscribe", "channels": ["weather"], "id": 3})
        m = _err(c.reply(), "bad_channel")
        assert "weather" in m["message"], m
        # one bad channel: none subscribed
        c.send({"op": "subscribe", "channels": ["regime", "dq", "weather"]})
        _err(c.reply(), "bad_channel")
        c.send({"op": "subscribe", "channels": ["regime", "feature:no/such_feature"]})
        _err(c.reply(), "unknown_feature")
        c.subscribe(["regime", "dq"])  # snapshots for both: they were not subscribed before
        assert c.close_code is None
    with wh.WSClient(srv, protocols=(MSGPACK_P,), name="mp") as c:
        c.send_raw("not json{")
        _err(c.reply(), "bad_message")
        c.send_raw(b"\xc1")
        _err(c.reply(), "bad_message")
        c.send({"op": "subscribe", "channels": ["weather"]})
        _err(c.reply(), "bad_channel")
        c.ping()


def test_error_replies_echo_id(srv):
    """`id` is echoed in the reply, errors included, whenever the message is an object with one."""
    pr = Problems()
    with wh.WSClient(srv) as c:
        for req, code in (({"op": "subscribe", "channels": ["weather"], "id": 3}, "bad_channel"),
                          ({"op": "subscribe", "channels": ["feature:no/such"], "id": "u"}, "unknown_feature"),
                          ({"op": "dance", "id": "x"}, "bad_message"),
                          ({"op": "subscribe", "channels": "regime", "id": 5}, "bad_message"),
                          ({"op": "unsubscribe", "channels": [7], "id": 6}, "bad_message")):
            c.send(req)
            m = _err(c.reply(), code)
            if m.get("id") != req["id"]:
                pr.items.append("sent %s, got %r (id not echoed)" % (json.dumps(req), m))
    pr.done()


def test_too_many_channels(srv):
    with wh.WSClient(srv) as c:
        names = ["feature:%s|t%04d" % (F_BTC, i) for i in range(1100)]
        n = 0
        for i in range(0, 960, 80):
            c.subscribe(names[i: i + 80])
            n += 80
        assert n == 960
        c.send({"op": "subscribe", "channels": names[960:1040]})
        _err(c.reply(), "too_many_channels")
        c.ping()
        c.subscribe(names[960:1024])  # exactly 1024: allowed (the failed subscribe added none)
        c.send({"op": "subscribe", "channels": [names[1024]]})
        _err(c.reply(), "too_many_channels")
        c.unsubscribe([names[0]])
        c.subscribe([names[1024]])
        c.ping()


# ---------------------------------------------------------------------------------------
# Framing


def _expect_close(raw, code, what):
    got = raw.expect_close(timeout=10)
    assert got == code, "%s: expected close %d, got %s" % (what, code, "no close frame (connection dropped)"
                                                           if got is None else got)
    assert raw.finish_close(), "%s: the connection stayed open after the close handshake" % what


PROTOCOL_ERRORS = {
    "unmasked": lambda: wh.frame(OP_TEXT, b'{"op":"ping"}', mask=False),
    "rsv1": lambda: wh.frame(OP_TEXT, b'{"op":"ping"}', rsv=4),
    "rsv2": lambda: wh.frame(OP_TEXT, b'{"op":"ping"}', rsv=2),
    "rsv3": lambda: wh.frame(OP_PING, b"x", rsv=1),
    "opcode3": lambda: wh.frame(0x3, b"x"),
    "opcode7": lambda: wh.frame(0x7, b""),
    "opcodeB": lambda: wh.frame(0xB, b"x"),
    "opcodeF": lambda: wh.frame(0xF, b""),
    "continuation-without-start": lambda: wh.frame(OP_CONT, b'{"op":"ping"}'),
    "fragmented-ping": lambda: wh.frame(OP_PING, b"abc", fin=False),
    "oversized-ping": lambda: wh.frame(OP_PING, b"p" * 126),
    "oversized-close": lambda: wh.frame(OP_CLOSE, struct.pack("!H", 1000) + b"r" * 124),
    "new-message-inside-fragmented": lambda: wh.frame(OP_TEXT, b'{"op":', fin=False) + wh.frame(OP_TEXT, b'"ping"}'),
}


@pytest.mark.smoke
@pytest.mark.parametrize("case", sorted(PROTOCOL_ERRORS))
def test_protocol_violation_closes_1002(srv, case):
    with wh.RawWS(srv) as raw:
        assert raw.request({"op": "ping", "id": case})["type"] == "pong"
        raw.send_bytes(PROTOCOL_ERRORS[case]())
        _expect_close(raw, 1002, case)
        assert not [f for f in raw.frames if f.opcode in (OP_TEXT, OP_BINARY) and f.msg["type"] == "pong"
                    and f.msg.get("id") != case], "a violating frame was answered"


def test_close_handshake_timeout(srv):
    """After its close frame lavd waits up to 5 s for the client's close, then drops the
    connection (the client here never answers)."""
    with wh.RawWS(srv) as raw:
        raw.send_bytes(wh.frame(OP_TEXT, b'{"op":"ping"}', mask=False))
        assert raw.expect_close(timeout=10) == 1002
        t0 = time.monotonic()
        assert lh.wait_closed(raw.sock, 9), "still open 9 s after lavd's close frame"
        print("dropped %.2f s after the close frame" % (time.monotonic() - t0))


@pytest.mark.smoke
def test_message_size_limit(srv):
    def ping_of(size):
        base = {"op": "ping", "id": ""}
        pad = size - len(json.dumps(base, separators=(",", ":")))
        doc = json.dumps({"op": "ping", "id": "x" * pad}, separators=(",", ":")).encode()
        assert len(doc) == size
        return doc

    pr = Problems()

    def at_limit():
        with wh.RawWS(srv) as raw:
            raw.send_frame(OP_TEXT, ping_of(MAX_MSG))
            m = raw.recv_msg()
            assert m["type"] == "pong" and len(m["id"]) > MAX_MSG - 30

    def one_more():
        with wh.RawWS(srv) as raw:
            raw.send_frame(OP_TEXT, ping_of(MAX_MSG + 1))
            _expect_close(raw, 1009, "a %d-byte message" % (MAX_MSG + 1))

    def one_mib():
        with wh.RawWS(srv) as raw:
            try:
                raw.send_bytes(wh.frame(OP_BINARY, b"\x00" * (1 << 20)))
            except OSError:
                pass  # lavd may close before reading it all
            _expect_close(raw, 1009, "a 1 MiB frame")

    def fragmented():
        with wh.RawWS(srv) as raw:
            doc = ping_of(MAX_MSG + 600)
            k = len(doc) // 3
            raw.send_frame(OP_TEXT, doc[:k], fin=False)
            raw.send_frame(OP_CONT, doc[k: 2 * k], fin=False)
            try:
                raw.send_frame(OP_CONT, doc[2 * k:])
            except OSError:
                pass
            _expect_close(raw, 1009, "a fragmented message of %d bytes" % len(doc))

    pr.check("a message of exactly LAV_WS_MAX_MESSAGE_BYTES", at_limit)
    pr.check("one byte more", one_more)
    pr.check("a 1 MiB frame", one_mib)
    pr.check("3 fragments adding up to more than the limit", fragmented)
    pr.done()


@pytest.mark.smoke
def test_fragmented_messages_are_reassembled(srv):
    with wh.RawWS(srv) as raw:
        doc = json.dumps({"op": "subscribe", "channels": ["regime"], "id": "frag-€"}, ensure_ascii=False).encode()
        cut = doc.index("€".encode()) + 1  # inside the three bytes of €
        raw.send_frame(OP_TEXT, doc[:cut], fin=False)
        raw.send_frame(OP_PING, b"between")  # control frames may come between fragments
        raw.send_frame(OP_CONT, doc[cut: cut + 5], fin=False)
        raw.send_frame(OP_CONT, doc[cut + 5:])
        frames = []
        while len([f for f in frames if f.opcode == OP_TEXT]) < 2:
            frames.append(raw.recv_frame())
        pongs = [f for f in frames if f.opcode == OP_PONG]
        assert [f.payload for f in pongs] == [b"between"], frames
        msgs = [f.msg for f in frames if f.opcode == OP_TEXT]
        assert msgs[0] == {"seq": 1, "type": "subscribed", "channels": ["regime"], "id": "frag-€"}, msgs
        assert msgs[1]["type"] == "snapshot" and msgs[1]["channel"] == "regime"
        # MessagePack in three binary fragments, one of them empty
        mp = msgpack.packb({"op": "ping", "id": "mp-frag"})
        raw.send_frame(OP_BINARY, mp[:3], fin=False)
        raw.send_frame(OP_CONT, b"", fin=False)
        raw.send_frame(OP_CONT, mp[3:])
        assert raw.recv_msg() == {"seq": 3, "type": "pong", "id": "mp-frag"}


def test_ping_frame_gets_pong_with_same_payload(srv):
    with wh.RawWS(srv) as raw:
        for payload in (b"hello-123", b"", bytes(range(125))):
            raw.send_frame(OP_PING, payload)
            f = raw.recv_frame()
            assert f.opcode == OP_PONG and f.payload == payload, f
        # an unsolicited pong is ignored
        raw.send_frame(OP_PONG, b"unsolicited")
        assert raw.request({"op": "ping", "id": 9}) == {"seq": 1, "type": "pong", "id": 9}


@pytest.mark.parametrize("code,reason", [(1000, b""), (1001, b"bye"), (4000, b"app")])
def test_client_close_is_echoed(srv, code, reason):
    with wh.RawWS(srv) as raw:
        raw.request({"op": "ping"})
        raw.send_close(code, reason)
        f = raw.recv_frame()
        assert f.opcode == OP_CLOSE and f.close_code == code, f  # RFC 6455 5.5.1
        assert lh.wait_closed(raw.sock, 8), "lavd kept the connection after the close handshake"


def test_client_close_without_code(srv):
    with wh.RawWS(srv) as raw:
        raw.send_frame(OP_CLOSE, b"")
        f = raw.recv_frame()
        assert f.opcode == OP_CLOSE and f.close_code in (1000, None), f
        assert lh.wait_closed(raw.sock, 8)


@pytest.mark.parametrize("payload", [
    b'{"op":"ping","id":"\xff\xfe"}',
    b'{"op":"ping","id":"\xc0\xaf"}',  # overlong
    b'{"op":"ping","id":"\xed\xa0\x80"}',  # surrogate
    b'{"op":"ping","id":"\xf4\x90\x80\x80"}',  # above U+10FFFF
    b'{"op":"ping","id":"\xe2\x82"}',  # truncated
], ids=["ff", "overlong", "surrogate", "above-max", "truncated"])
def test_non_utf8_text_closes_1007(srv, payload):
    with wh.RawWS(srv) as raw:
        raw.send_frame(OP_TEXT, payload)
        _expect_close(raw, 1007, repr(payload))


def test_non_utf8_text_across_fragments_closes_1007(srv):
    with wh.RawWS(srv) as raw:
        raw.send_frame(OP_TEXT, b'{"op":"ping","id":"\xe2', fin=False)
        raw.send_frame(OP_CONT, b'\x82"}')  # € cut short: invalid at the end of the message
        _expect_close(raw, 1007, "a code point cut at the end of the message")


def test_connection_usable_after_bad_frames_elsewhere(srv):
    """What the framing tests did to their connections did not disturb another one."""
    with wh.WSClient(srv) as c:
        c.subscribe(["regime"])
        c.ping()
    srv.assert_alive()


# ---------------------------------------------------------------------------------------
# Slow consumer (last of the tests on srv)


def test_slow_consumer_is_closed_and_memory_stays_bounded(srv):
    pid = srv.proc.pid
    rss0 = wh.rss_kb(pid)
    e = lh.unique_entity("SLOW")
    raw = wh.RawWS(srv, rcvbuf=4096)
    try:
        raw.send_json({"op": "subscribe", "channels": ["feature:*"]})
        assert raw.recv_msg()["type"] == "subscribed"
        assert raw.recv_msg()["type"] == "snapshot"
        ts0 = _recent_ts(4)
        n = 0
        t0 = time.monotonic()
        for b in range(12):  # ~48k points, ~12 MB of events: more than every buffer on the way
            pts = [_pt(F_BTC, e, ts0 + (n + i) * 1000, 60000.0 + ((n + i) % 97)) for i in range(4000)]
            lh.publish_ok(srv, pts, timeout=60)
            n += len(pts)
        publish_s = time.monotonic() - t0
        rss1 = wh.rss_kb(pid)
        # the raw client reads now: the events it had buffered (seq without gaps, checked by
        # recv_frame), then the close 1008 or the end of the connection
        code = raw.expect_close(timeout=20)
        got = sum(1 for f in raw.frames if f.opcode == OP_TEXT) - 2
        assert code in (1008, None), "slow consumer closed with %r (1008 expected)" % code
        assert got < n, "the slow consumer received all %d events: it was not closed" % n
        if code == 1008:
            raw.finish_close()
    finally:
        raw.close()
    srv.assert_alive()
    rss2 = wh.rss_kb(pid)
    grew = (max(rss1, rss2) - rss0) / 1024.0
    print("slow consumer: %d points published in %.1f s, RSS %d -> %d -> %d kB, read %d events before the close %r"
          % (n, publish_s, rss0, rss1, rss2, got, code))
    if not wh.uses_asan(pid):  # ASan's quarantine keeps freed memory resident
        assert grew < 64, "lavd's RSS grew by %.0f MB with a slow consumer (%d -> %d -> %d kB)" % (
            grew, rss0, rss1, rss2)
    # lavd goes on serving WebSocket clients
    with wh.WSClient(srv) as c:
        c.subscribe(["feature:%s|%s" % (F_BTC, e)])
        lh.publish_ok(srv, [_pt(F_BTC, e, ts0 + n * 1000, 61234.0)])
        m = c.wait_for(lambda m: m["type"] == "feature.point")
        assert m["point"]["value"] == 61234.0
    assert requests.get(srv.url("/healthz"), timeout=10).status_code == 200


# =======================================================================================
# 8. Server pings


@pytest.fixture(scope="module")
def pinger(lavd_factory):
    d = lavd_factory("lavd-ws-ping", overrides=dict(FAST, LAV_WS_PING_INTERVAL="1s"))
    lh.wait_store_settled(d)
    return d


def test_server_pings_and_dead_peers(pinger):
    answering = wh.RawWS(pinger)
    silent = wh.RawWS(pinger)
    lib = wh.WSClient(pinger, name="websockets")  # answers pings by itself
    try:
        # a ping within ~3 s; answer it and keep answering for more than two intervals
        t0 = time.monotonic()
        pings = 0
        while time.monotonic() - t0 < 4.5:
            try:
                f = answering.recv_frame(timeout=0.5)
            except socket.timeout:
                if pings == 0 and time.monotonic() - t0 > 3.5:
                    pytest.fail("no ping frame within 3.5 s with LAV_WS_PING_INTERVAL=1s")
                continue
            assert f.opcode == OP_PING, "unexpected frame %r" % f
            pings += 1
            answering.send_frame(OP_PONG, f.payload)
        assert pings >= 2, "only %d pings in 4.5 s" % pings
        # the silent one (never sends anything, reads what comes) has been dropped
        seen = []
        code = "open"
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            try:
                f = silent.recv_frame(timeout=max(0.05, deadline - time.monotonic()))
            except EOFError:
                code = None
                break
            except socket.timeout:
                break
            seen.append(f.opcode)
            if f.opcode == OP_CLOSE:
                code = f.close_code
                break
        assert code != "open", "a peer silent for ~10 intervals was not dropped (frames seen: %r)" % seen
        assert OP_PING in seen, "the silent peer was dropped without being pinged first: %r" % seen
        # the answering ones are still there
        assert answering.request({"op": "ping", "id": "alive"})["id"] == "alive"
        lib.ping("alive")
    finally:
        answering.close()
        silent.close()
        lib.close()
    pinger.assert_alive()


def test_shutdown_closes_1001(pinger):
    """Last on this lavd: SIGTERM closes connections with 1001 and lavd exits 0."""
    raw = wh.RawWS(pinger)
    try:
        raw.request({"op": "ping"})
        pinger.proc.send_signal(signal.SIGTERM)
        code = raw.expect_close(timeout=10)
        assert code == 1001, "close code at shutdown: %r" % code
        raw.finish_close()
        assert pinger.proc.wait(timeout=15) == 0
    finally:
        raw.close()


# =======================================================================================
# 5. Live flips on a 1s grid

LIVE = dict(FAST, LIQ_SCORE_GRID_STEP="1s", LIQ_SCORE_GRID_DELAY="1s", LIQ_SCORE_SMOOTHING_ALPHA="0.5",
            LIQ_REGIME_FLIP_CONFIRMATION_HOURS="0", LIQ_SCORE_THRESHOLDS="0.6,-0.6")

# feed, base value, change per unit of "level" (level > 0: risk-on; < 0: risk-off)
FEEDS = [(sh.WALCL, 7.0e12, 1e11), (sh.TGA, 7.0e11, -1e11), (sh.RRP, 5.0e11, -1e11),
         (sh.BTC_FLOW, 1e8, 6e8), (sh.ETH_FLOW, 5e7, 4e8), (sh.STABLES_YOY, 0.05, 0.1),
         (sh.DEPTH, 2.0e9, 2e8), (sh.PERP_OI, 8.0e10, 8e9), (sh.DEX_LIQ, 3.0e10, 3e9)]


@pytest.fixture(scope="module")
def live_cfg(tmp_path_factory):
    cfg, _ = sh.config_with(tmp_path_factory.mktemp("ws-live"), window="8s", min_obs=3, trend_lookback="3s")
    return cfg


def feed_points(ts, level, wiggle=0.0):
    return [{"featureId": f, "ts": lh.fmt_ts(ts), "available_at": lh.fmt_ts(ts),
             "value": base + slope * level + wiggle * abs(slope) * 0.01} for f, base, slope in FEEDS]


def warm_up(d):
    """17 values of each feed before the current grid boundary, alternating around the base
    and ending on it: the next grid points have z = 0 everywhere (amarillo)."""
    now = lh.now_us()
    t0 = now // S * S
    pts = []
    for k in range(17):
        wig = 0.0 if k == 16 else (1.0 if k % 2 == 0 else -1.0)
        pts += feed_points(t0 - 3500_000 + k * 200_000, 0.0, wig)
    lh.publish_ok(d, pts)
    return t0


def _regime_events(msgs):
    return [m for m in msgs if m["type"] in ("regime.update", "regime.flip")]


def _grid_updates(msgs):
    return [m for m in msgs if m["type"] == "regime.update" and not m.get("provisional")]


def _check_update(m, enc):
    assert set(m) - {"provisional"} == UPDATE_KEYS, "regime.update keys %r" % sorted(m)
    wh.check_ts(m["ts"], enc)
    wh.check_ts(m["updated_at"], enc)
    assert m["state"] in sh.STATES and m["candidate"] in sh.STATES
    assert set(m["components"]) == set(sh.COMPS)
    assert isinstance(m["flip"], bool)


def _check_flip(m, enc):
    assert set(m) == FLIP_KEYS, "regime.flip keys %r" % sorted(m)
    wh.check_ts(m["ts"], enc)
    wh.check_ts(m["updated_at"], enc)
    assert m["to"] in sh.STATES and (m["from"] is None or m["from"] in sh.STATES) and m["from"] != m["to"], m


@pytest.fixture(scope="module")
def flipd(lavd_factory, live_cfg):
    d = lavd_factory("lavd-ws-live", config_dir=live_cfg, overrides=LIVE)
    lh.wait_store_settled(d)
    return d


def test_live_flips_pushed(flipd):
    d = flipd
    cj = wh.WSClient(d, name="json")
    cm = wh.WSClient(d, protocols=(MSGPACK_P,), name="msgpack")
    try:
        for c in (cj, cm):
            _, sn = c.subscribe(["regime"])
            assert sn["regime"]["regime"] is None and sn["regime"]["flips"] == [], sn
        warm_up(d)
        first = cj.wait_for(lambda m: m["type"] == "regime.update" and not m.get("provisional"), timeout=10,
                            what="first regime.update")
        assert first["state"] == "amarillo", "the warm-up should give amarillo: %r" % first

        def tick(level):
            lh.publish_ok(d, feed_points(lh.now_us() // 1000 * 1000, level))

        def run_until(to, rate, level0, timeout=20):
            t0 = time.monotonic()
            level = level0
            while time.monotonic() - t0 < timeout:
                level = level0 + rate * (time.monotonic() - t0)
                tick(level)
                for m in cj.collect(0.25):
                    if m["type"] == "regime.flip" and m["to"] == to:
                        return m, level
            pytest.fail("no regime.flip to %s within %d s; regime events: %r" % (
                to, timeout, [(m["type"], m.get("ts"), m.get("state"), m.get("to"), m.get("score"))
                              for m in _regime_events(cj.log)][-12:]))

        verde, level = run_until("verde", 0.5, 0.0)
        rojo, _ = run_until("rojo", -1.0, level)
        # a few more grid points, then compare with the stored history
        cj.collect(1.2)
        last_ts = wh.to_us(_grid_updates(cj.log)[-1]["ts"])
        cm.wait_for(lambda m: m["type"] == "regime.update" and not m.get("provisional")
                    and wh.to_us(m["ts"]) >= last_ts, timeout=10)
    finally:
        cj.close()
        cm.close()

    ev_j = _regime_events(cj.log)
    print("regime events: " + " ".join("%s@%s:%s(%.1f)" % (
        "flip" if m["type"] == "regime.flip" else "upd", m["ts"][17:23],
        m.get("to") or m.get("state"), m["score"]) for m in ev_j))
    for m in ev_j:
        (_check_update if m["type"] == "regime.update" else _check_flip)(m, JSON_P)
    for m in _regime_events(cm.log):
        (_check_update if m["type"] == "regime.update" else _check_flip)(m, MSGPACK_P)
    # msgpack carries the same events (timestamps as ext -1)
    ev_m = [m for m in _regime_events(cm.log) if wh.to_us(m["ts"]) <= last_ts]
    ev_j2 = [m for m in ev_j if wh.to_us(m["ts"]) <= last_ts]
    assert len(ev_m) == len(ev_j2), (len(ev_m), len(ev_j2))
    for a, b in zip(ev_j2, ev_m):
        sh.same_shape(wh.strip_seq(a), wh.strip_seq(b))

    # every flip comes first, then the update of the same grid point with flip: true
    for i, m in enumerate(ev_j):
        if m["type"] != "regime.flip":
            continue
        nxt = [x for x in ev_j[i + 1:] if x["type"] == "regime.update" and not x.get("provisional")]
        assert nxt and nxt[0]["ts"] == m["ts"] and nxt[0]["flip"] is True and nxt[0]["state"] == m["to"], (m, nxt[:1])
        assert m["score"] == nxt[0]["score"] and m["confidence"] == nxt[0]["confidence"], (m, nxt[0])
        if m["from"] is None:
            assert m["ts"] == first["ts"], "from null on a flip that is not the first state: %r" % m
    ups = _grid_updates(ev_j)
    for u in ups:
        if u["flip"]:
            assert any(f["type"] == "regime.flip" and f["ts"] == u["ts"] for f in ev_j), "update flip without regime.flip: %r" % u
    assert verde["from"] == "amarillo" and rojo["from"] == "verde", (verde, rojo)

    # one regime.update per stored grid point, with the stored values
    ts_list = [wh.to_us(u["ts"]) for u in ups]
    assert ts_list == list(range(ts_list[0], ts_list[-1] + 1, S)), "grid points missing or repeated: %r" % [
        u["ts"] for u in ups]
    rows = {lh.parse_ts(r["ts"]): r for r in sh.history(d, ts_list[0], ts_list[-1] + 1)}
    assert sorted(rows) == ts_list, "history has %d rows, %d updates" % (len(rows), len(ts_list))
    for u in ups:
        r = rows[wh.to_us(u["ts"])]
        for k in ("state", "candidate", "flip", "score", "raw", "smoothed", "confidence", "components"):
            assert u[k] == r[k], "%s %s: pushed %r, stored %r" % (u["ts"], k, u[k], r[k])

    # a new subscriber's snapshot: the newest grid point and the flips, newest first
    with wh.WSClient(d) as c:
        _, sn = c.subscribe(["regime"])
    snap = sn["regime"]
    assert set(snap["regime"]) == sh.REGIME_KEYS, sorted(snap["regime"])
    assert snap["regime"]["state"] == "rojo" and wh.to_us(snap["regime"]["ts"]) >= last_ts, snap["regime"]
    flips = snap["flips"]
    assert 2 <= len(flips) <= 10
    for got, want in ((flips[0], rojo), (flips[1], verde)):
        assert {k: got[k] for k in ("from", "to", "score", "confidence", "ts")} == \
               {k: want[k] for k in ("from", "to", "score", "confidence", "ts")}, (got, want)

    # a replay rewrites history without events
    with wh.WSClient(d) as c:
        c.subscribe(["regime"])
        rep = sh.replay_ok(d, ts_list[0], ts_list[-1] + S)
        assert rep["stored"] == len(ts_list) and rep["flips"] >= 2, rep
        c.ping()
        c.collect(1.5)
        got = [m for m in c.log if m["type"].startswith("regime.") and wh.to_us(m["ts"]) <= ts_list[-1]]
        assert got == [], "a replay pushed events: %r" % got[:3]


# =======================================================================================
# 6. Two instances, one database, one Redis


@pytest.fixture(scope="module")
def pair(lavd_factory, live_cfg, tmp_path_factory):
    r = lh.PrivateRedis(tmp_path_factory.mktemp("ws-redis"))
    r.start()
    a = lavd_factory("lavd-ws-a", redis=r.url, config_dir=live_cfg, overrides=LIVE)
    lh.wait_store_settled(a)
    b = lavd_factory("lavd-ws-b", dsn=a.dsn, redis=r.url, config_dir=live_cfg, overrides=LIVE)
    lh.wait_store_settled(b)
    yield a, b, r
    for d in (a, b):
        d.stop(timeout=5)
        d.kill()
    r.stop()


def _leaders(a, b):
    la, lb = wh.leader_check(a), wh.leader_check(b)
    if not (isinstance(la, dict) and isinstance(lb, dict)):
        return None
    if [la.get("leader"), lb.get("leader")].count(True) != 1:
        return None
    return la, lb


def test_pair_leadership_reported(pair):
    a, b, _ = pair
    got = lh.poll(lambda: _leaders(a, b), timeout=10, interval=0.2)
    assert got, "exactly one leader expected: A %r, B %r" % (wh.leader_check(a), wh.leader_check(b))
    for chk in got:
        assert set(chk) == {"ok", "leader", "instance"} and chk["ok"] is True, chk
        assert isinstance(chk["leader"], bool) and isinstance(chk["instance"], str) and chk["instance"], chk
    assert got[0]["instance"] != got[1]["instance"], got


def test_pair_points_reach_both_once(pair):
    a, b, redis = pair
    e = lh.unique_entity("PAIR")
    chans = ["feature:%s|%s" % (F_BTC, e), "feature:*"]
    ca = wh.WSClient(a, name="on-A")
    cb = wh.WSClient(b, name="on-B", protocols=(MSGPACK_P,))
    sub = lh.RedisSubscriber(redis.port, "lav:points")
    try:
        ca.subscribe(chans)
        cb.subscribe(chans)

        def mine(m):
            return m["type"] == "feature.point" and m["point"]["entity"] == e

        ts = _recent_ts()
        lh.publish_ok(a, [_pt(F_BTC, e, ts, 61001.0)])
        pa = ca.wait_for(mine, timeout=5, what="point published on A, on A")
        pb = cb.wait_for(mine, timeout=5, what="point published on A, on B")
        _check_point(pa["point"], F_BTC, e, ts, 61001.0)
        _check_point(pb["point"], F_BTC, e, ts, 61001.0, MSGPACK_P)
        sh.same_shape(wh.strip_seq(pa), wh.strip_seq(pb))
        # the fan-out message on Redis names its origin
        msg = None
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            msg = sub.next_message(max(0.1, deadline - time.monotonic()))
            if msg is None or e.encode() in msg[1]:
                break
        assert msg and msg[0] == "lav:points" and e.encode() in msg[1], "no lav:points message for %s: %r" % (e, msg)
        doc = json.loads(msg[1])
        assert isinstance(doc, dict) and doc.get("origin") == wh.leader_check(a)["instance"], doc
        lh.publish_ok(b, [_pt(F_BTC, e, ts + S, 61002.0)])
        ca.wait_for(lambda m: mine(m) and m["point"]["value"] == 61002.0, timeout=5, what="point published on B, on A")
        cb.wait_for(lambda m: mine(m) and m["point"]["value"] == 61002.0, timeout=5, what="point published on B, on B")
        lh.etl_insert(a.dsn, [(F_BTC, e, ts + 2 * S, ts + 2 * S, 61003.0)])
        ca.wait_for(lambda m: mine(m) and m["point"]["value"] == 61003.0, timeout=5, what="row inserted in PG, on A")
        cb.wait_for(lambda m: mine(m) and m["point"]["value"] == 61003.0, timeout=5, what="row inserted in PG, on B")
        time.sleep(1.5)  # echoes through Redis would have arrived by now
        for c in (ca, cb):
            c.collect(0.1)
            got = [p["value"] for p in wh.points_of(c.log, F_BTC, e)]
            assert got == [61001.0, 61002.0, 61003.0], "%s received %r (each point exactly once expected)" % (c.name, got)
    finally:
        ca.close()
        cb.close()
        sub.close()


def test_pair_regime_events_reach_both(pair):
    a, b, _ = pair
    ldr = lh.poll(lambda: _leaders(a, b), timeout=10, interval=0.2)
    assert ldr
    leader = a if ldr[0]["leader"] else b
    ca = wh.WSClient(a, name="on-A")
    cb = wh.WSClient(b, name="on-B")
    try:
        ca.subscribe(["regime"])
        cb.subscribe(["regime"])
        warm_up(leader)
        ca.wait_for(lambda m: m["type"] == "regime.update", timeout=10, what="regime.update on A")
        cb.wait_for(lambda m: m["type"] == "regime.update", timeout=10, what="regime.update on B")
        ca.collect(2.5)
        cb.collect(0.5)
        ga, gb = _grid_updates(ca.log), _grid_updates(cb.log)
        for name, g in (("A", ga), ("B", gb)):
            ts = [m["ts"] for m in g]
            assert len(ts) == len(set(ts)), "%s got a grid point twice: %r" % (name, ts)
        common = sorted(set(m["ts"] for m in ga) & set(m["ts"] for m in gb))
        assert len(common) >= 2, "A %r, B %r" % ([m["ts"] for m in ga], [m["ts"] for m in gb])
        by_b = {m["ts"]: m for m in gb}
        for m in ga:
            if m["ts"] in by_b:
                assert wh.strip_seq(m) == wh.strip_seq(by_b[m["ts"]]), (m, by_b[m["ts"]])
        fa = [m for m in ca.log if m["type"] == "regime.flip"]
        fb = [m for m in cb.log if m["type"] == "regime.flip"]
        assert [wh.strip_seq(m) for m in fa if m["ts"] in common] == [wh.strip_seq(m) for m in fb if m["ts"] in common]
    finally:
        ca.close()
        cb.close()


def test_pair_leader_failover(pair):
    """Last: SIGKILL the leader; the other takes over within 5 s and pushes regime events."""
    a, b, _ = pair
    ldr = lh.poll(lambda: _leaders(a, b), timeout=10, interval=0.2)
    assert ldr
    leader, other = (a, b) if ldr[0]["leader"] else (b, a)
    c = wh.WSClient(other, name="survivor")
    try:
        c.subscribe(["regime"])
        leader.proc.kill()
        leader.proc.wait()
        t0 = time.monotonic()
        got = lh.poll(lambda: (wh.leader_check(other) or {}).get("leader") is True, timeout=5, interval=0.1)
        took = time.monotonic() - t0
        assert got, "%s did not become leader within 5 s of the leader's death: %r" % (other.name,
                                                                                     wh.leader_check(other))
        print("leadership moved in %.2f s" % took)
        n = len(c.log)
        warm_up(other)
        t_pub = lh.now_us()
        c.wait_for(lambda m: m["type"] == "regime.update" and not m.get("provisional")
                   and wh.to_us(m["ts"]) >= t_pub // S * S, timeout=10, what="regime.update from the new leader")
        assert len(c.log) > n
    finally:
        c.close()
    other.assert_alive()
