"""Helpers for the WebSocket suite (test_ws.py, proto/websocket.md).

Two kinds of client:

- WSClient: python3-websockets 10.4 (a real RFC 6455 client) driven from synchronous
  tests through one asyncio loop running in a background thread. Every message it
  receives is decoded according to the negotiated subprotocol (text + JSON for
  lav.json.v1, binary + MessagePack with timestamps as datetime for lav.msgpack.v1) and
  its `seq` is checked: 1 for the first message, then +1, no gaps.
- RawWS: a socket speaking the framing by hand, to send what a correct client never
  sends (unmasked frames, reserved bits and opcodes, bad UTF-8, oversize or fragmented
  messages), to see the server's control frames (ping, close) and to play a client that
  never reads or never answers.
"""

import asyncio
import base64
import datetime as dt
import hashlib
import json
import os
import re
import socket
import struct
import threading
import time
import urllib.parse

import msgpack
import psycopg2
import websockets

import lavhelpers as lh

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
JSON_P = "lav.json.v1"
MSGPACK_P = "lav.msgpack.v1"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(\d{3})?Z$")

REPLY_TYPES = {"subscribed", "unsubscribed", "pong", "error"}

DEFAULT_TIMEOUT = 10.0


# ---------------------------------------------------------------------------------------
# Handshake pieces


def new_key(nbytes=16):
    return base64.b64encode(os.urandom(nbytes)).decode()


def accept_for(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def upgrade_headers(key=None, version="13", protocols=None, token=None, host="127.0.0.1"):
    """The headers of a good upgrade request, as a list of (name, value)."""
    h = [("Host", host), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
         ("Sec-WebSocket-Key", key if key is not None else new_key()), ("Sec-WebSocket-Version", version)]
    if protocols:
        h.append(("Sec-WebSocket-Protocol", ", ".join(protocols)))
    if token:
        h.append(("Authorization", "Bearer " + token))
    return h


def raw_http(d, method, path, headers, body=b"", extra=b"", timeout=DEFAULT_TIMEOUT):
    """Send one raw request (plus `extra` bytes right behind it) and return (RawResponse,
    socket, reader). The caller closes the socket."""
    s = d.connect(timeout=timeout)
    s.sendall(lh.raw_request(method, path, headers=headers, body=body) + extra)
    rd = lh.SockReader(s)
    resp = rd.read_response()
    return resp, s, rd


def handshake(d, headers, path="/ws", method="GET", body=b"", extra=b""):
    """A raw handshake; returns the RawResponse (socket closed)."""
    resp, s, _ = raw_http(d, method, path, headers, body=body, extra=extra)
    s.close()
    return resp


def header_tokens(resp, name):
    """Comma-separated tokens of a response header, lowercased."""
    v = resp.headers.get(name.lower(), "")
    return [t.strip().lower() for t in v.split(",") if t.strip()]


def ws_url(d, path="/ws", token=None):
    url = "ws://%s:%d%s" % (d.host, d.port, path)
    if token is not None:
        url += ("&" if "?" in path else "?") + "token=" + urllib.parse.quote(token, safe="")
    return url


# ---------------------------------------------------------------------------------------
# Decoding and checks


def msgpack_loads(data):
    return msgpack.unpackb(data, raw=False, timestamp=3, strict_map_key=False)


def to_us(v):
    """µs of a timestamp as lav sends it: an RFC 3339 string (JSON) or a datetime
    (MessagePack timestamp extension)."""
    if isinstance(v, dt.datetime):
        delta = v - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
        return (delta.days * 86400 + delta.seconds) * lh.US + delta.microseconds
    return lh.parse_ts(v)


def check_ts(v, encoding, what="timestamp"):
    """A timestamp in the form of its encoding: RFC 3339 UTC with milliseconds in JSON,
    the MessagePack timestamp extension (type -1, decoded as datetime) in MessagePack."""
    if encoding == MSGPACK_P:
        assert isinstance(v, dt.datetime), "%s %r is not a MessagePack timestamp (ext -1)" % (what, v)
        assert v.tzinfo is not None
    else:
        assert isinstance(v, str) and TS_RE.match(v), "%s %r is not RFC 3339 UTC with milliseconds" % (what, v)
    return to_us(v)


def short(obj, n=400):
    r = repr(obj)
    return r if len(r) <= n else r[:n] + "...(%d chars)" % len(r)


def strip_seq(msg):
    m = dict(msg)
    m.pop("seq", None)
    return m


# ---------------------------------------------------------------------------------------
# python3-websockets client, driven synchronously


class _LoopThread:
    _loop = None
    _lock = threading.Lock()

    @classmethod
    def loop(cls):
        with cls._lock:
            if cls._loop is None:
                loop = asyncio.new_event_loop()
                t = threading.Thread(target=loop.run_forever, name="ws-test-loop", daemon=True)
                t.start()
                cls._loop = loop
            return cls._loop


def run_async(coro, timeout=60.0):
    """Run a coroutine on the shared background loop and wait for its result."""
    fut = asyncio.run_coroutine_threadsafe(coro, _LoopThread.loop())
    return fut.result(timeout)


class WSTimeout(AssertionError):
    pass


class WSClosed(AssertionError):
    def __init__(self, code, reason, msg):
        super().__init__(msg)
        self.code = code
        self.reason = reason


class WSClient:
    """A python3-websockets connection with per-message decoding and seq checks."""

    def __init__(self, d, role="reader", protocols=(JSON_P,), auth="header", token=None, compression=None,
                 extra_headers=None, name="ws"):
        self.d = d
        self.name = name
        tok = token if token is not None else (d.tokens[role] if (d.tokens and role) else None)
        headers = dict(extra_headers or {})
        url_token = None
        if tok is not None:
            if auth == "header":
                headers["Authorization"] = "Bearer " + tok
            else:
                url_token = tok
        self.url = ws_url(d, token=url_token)
        kw = dict(subprotocols=list(protocols) if protocols else None, extra_headers=headers, ping_interval=None,
                  max_size=None, max_queue=None, open_timeout=DEFAULT_TIMEOUT, close_timeout=5)
        if compression is None:
            kw["compression"] = None
        async def connect():
            return await websockets.connect(self.url, **kw)

        self.ws = run_async(connect(), timeout=DEFAULT_TIMEOUT + 5)
        self.subprotocol = self.ws.subprotocol
        self.encoding = self.subprotocol or JSON_P
        self.last_seq = 0
        self.log = []  # every message received, in order

    # -- sending ------------------------------------------------------------------------

    def send_raw(self, data):
        run_async(self.ws.send(data), timeout=DEFAULT_TIMEOUT)

    def send(self, obj, binary=None):
        """Send obj as MessagePack (binary) or JSON (text); default: the connection's encoding."""
        if binary is None:
            binary = self.encoding == MSGPACK_P
        if binary:
            self.send_raw(msgpack.packb(obj, use_bin_type=True))
        else:
            self.send_raw(json.dumps(obj))

    # -- receiving ----------------------------------------------------------------------

    def recv(self, timeout=DEFAULT_TIMEOUT):
        """The next message (decoded, seq checked). AssertionError on timeout; WSClosed when
        the server closed the connection."""

        async def go():
            return await asyncio.wait_for(self.ws.recv(), timeout)

        try:
            data = run_async(go(), timeout=timeout + 10)
        except asyncio.TimeoutError:
            raise WSTimeout("%s: no message within %.1f s (last seq %d; last messages %r)" % (
                self.name, timeout, self.last_seq, self.log[-3:]))
        except websockets.ConnectionClosed as e:
            raise WSClosed(e.code, e.reason, "%s: connection closed by the server: code %s reason %r" % (
                self.name, e.code, e.reason))
        return self._decode(data)

    def _decode(self, data):
        if self.encoding == MSGPACK_P:
            assert isinstance(data, bytes), "%s: lav.msgpack.v1 but a text frame arrived: %r" % (self.name, data[:200])
            msg = msgpack_loads(data)
        else:
            assert isinstance(data, str), "%s: lav.json.v1 but a binary frame arrived: %r" % (self.name, data[:200])
            msg = json.loads(data)
        assert isinstance(msg, dict), "%s: a message that is not an object: %r" % (self.name, msg)
        assert isinstance(msg.get("type"), str), "%s: message without type: %r" % (self.name, msg)
        seq = msg.get("seq")
        assert isinstance(seq, int) and not isinstance(seq, bool), "%s: message without integer seq: %r" % (self.name, msg)
        assert seq == self.last_seq + 1, "%s: seq %d after %d (a gap or a repeat): %s" % (
            self.name, seq, self.last_seq, short(msg))
        self.last_seq = seq
        self.log.append(msg)
        return msg

    def wait_for(self, pred, timeout=DEFAULT_TIMEOUT, what="a matching message"):
        """Read until pred(msg) is true; returns that message. Messages read before it stay
        in self.log."""
        deadline = time.monotonic() + timeout
        start = len(self.log)
        while True:
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise WSTimeout("deadline")
                msg = self.recv(timeout=left)
            except WSTimeout:
                raise AssertionError("%s: no %s within %.1f s; received meanwhile: %r" % (
                    self.name, what, timeout, self.log[start:][-8:]))
            if pred(msg):
                return msg

    def collect(self, duration):
        """Every message that arrives within duration seconds."""
        out = []
        deadline = time.monotonic() + duration
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return out
            try:
                out.append(self.recv(timeout=left))
            except WSTimeout:
                return out

    def reply(self, timeout=DEFAULT_TIMEOUT):
        """The next reply (subscribed, unsubscribed, pong, error), skipping events."""
        return self.wait_for(lambda m: m["type"] in REPLY_TYPES, timeout, "reply")

    def request(self, obj, binary=None, timeout=DEFAULT_TIMEOUT):
        self.send(obj, binary=binary)
        return self.reply(timeout)

    def subscribe(self, channels, id=None, snapshots=None, binary=None, timeout=DEFAULT_TIMEOUT):
        """Subscribe; checks `subscribed` and then one snapshot per channel in `snapshots`
        (default: every channel), in order, right after it. Returns (subscribed, {channel: snapshot})."""
        req = {"op": "subscribe", "channels": list(channels)}
        if id is not None:
            req["id"] = id
        self.send(req, binary=binary)
        rep = self.reply(timeout)
        assert rep["type"] == "subscribed", "%s: subscribe %r answered %r" % (self.name, channels, rep)
        assert rep.get("channels") == list(channels), "%s: subscribed %r, asked for %r" % (
            self.name, rep.get("channels"), list(channels))
        if id is not None:
            assert rep.get("id") == id, "%s: id %r not echoed: %r" % (self.name, id, rep)
        want = list(channels) if snapshots is None else list(snapshots)
        snaps = {}
        for ch in want:
            m = self.recv(timeout)
            assert m["type"] == "snapshot", "%s: expected the snapshot of %r right after subscribed, got %r" % (
                self.name, ch, m)
            assert m.get("channel") == ch, "%s: snapshot of %r where %r was expected (order of the channels)" % (
                self.name, m.get("channel"), ch)
            snaps[ch] = m
        return rep, snaps

    def unsubscribe(self, channels, id=None):
        req = {"op": "unsubscribe", "channels": list(channels)}
        if id is not None:
            req["id"] = id
        rep = self.request(req)
        assert rep["type"] == "unsubscribed" and rep.get("channels") == list(channels), rep
        return rep

    def ping(self, id="p"):
        rep = self.request({"op": "ping", "id": id})
        assert rep["type"] == "pong" and rep.get("id") == id, "%s: ping answered %r" % (self.name, rep)
        return rep

    def events(self, type_=None, since=0):
        return [m for m in self.log[since:] if type_ is None or m["type"] == type_]

    def close(self):
        try:
            run_async(self.ws.close(), timeout=10)
        except Exception:
            pass

    @property
    def close_code(self):
        return self.ws.close_code

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def points_of(msgs, feature_id=None, entity=None):
    """The `point` of every feature.point message matching feature_id/entity."""
    out = []
    for m in msgs:
        if m["type"] != "feature.point":
            continue
        p = m["point"]
        if feature_id is not None and p.get("featureId") != feature_id:
            continue
        if entity is not None and p.get("entity") != entity:
            continue
        out.append(p)
    return out


# ---------------------------------------------------------------------------------------
# Raw frames


def frame(opcode, payload=b"", fin=True, rsv=0, mask=True, mask_key=None, length=None):
    """The bytes of one frame. rsv: the three RSV bits as a number 0..7 (4 = RSV1)."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)
    if n < 126:
        head = bytes([b0, n | (0x80 if mask else 0)])
    elif n < 65536:
        head = bytes([b0, 126 | (0x80 if mask else 0)]) + struct.pack("!H", n)
    else:
        head = bytes([b0, 127 | (0x80 if mask else 0)]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = mask_key if mask_key is not None else os.urandom(4)
    masked = bytes(b ^ key[i & 3] for i, b in enumerate(payload))
    return head + key + masked


class Frame:
    def __init__(self, fin, rsv, opcode, payload):
        self.fin, self.rsv, self.opcode, self.payload = fin, rsv, opcode, payload

    @property
    def close_code(self):
        if self.opcode != OP_CLOSE or len(self.payload) < 2:
            return None
        return struct.unpack("!H", self.payload[:2])[0]

    def __repr__(self):
        return "<Frame op=%d fin=%s rsv=%d len=%d %r>" % (self.opcode, self.fin, self.rsv, len(self.payload),
                                                         self.payload[:80])


class RawWS:
    """A WebSocket client on a raw socket (frames built by hand)."""

    def __init__(self, d, role="reader", protocol=None, rcvbuf=None, token=None, path="/ws"):
        self.d = d
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(DEFAULT_TIMEOUT)
        self.sock.connect((d.host, d.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rd = lh.SockReader(self.sock)
        key = new_key()
        tok = token if token is not None else (d.tokens[role] if (d.tokens and role) else None)
        self.sock.sendall(lh.raw_request("GET", path, headers=upgrade_headers(
            key=key, protocols=[protocol] if protocol else None, token=tok)))
        resp = self.rd.read_response()
        assert resp.status == 101, "handshake answered %d: %r" % (resp.status, resp.body[:300])
        assert resp.headers.get("sec-websocket-accept") == accept_for(key), resp.headers
        self.encoding = protocol or JSON_P
        self.frames = []  # every frame received
        self.last_seq = 0
        self.closed = False

    # -- sending ------------------------------------------------------------------------

    def send_bytes(self, data):
        self.sock.sendall(data)

    def send_frame(self, opcode, payload=b"", **kw):
        self.sock.sendall(frame(opcode, payload, **kw))

    def send_text(self, text, **kw):
        self.send_frame(OP_TEXT, text.encode() if isinstance(text, str) else text, **kw)

    def send_json(self, obj):
        self.send_text(json.dumps(obj))

    def send_close(self, code=1000, reason=b""):
        self.send_frame(OP_CLOSE, struct.pack("!H", code) + reason)

    # -- receiving ----------------------------------------------------------------------

    def recv_frame(self, timeout=DEFAULT_TIMEOUT):
        """The next frame. socket.timeout if none within timeout; EOFError if the server
        closed the TCP connection (EOF or reset)."""
        self.sock.settimeout(timeout)
        try:
            h = self.rd.read_exact(2)
            b0, b1 = h[0], h[1]
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self.rd.read_exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self.rd.read_exact(8))[0]
            assert not (b1 & 0x80), "the server sent a masked frame"
            payload = self.rd.read_exact(n)
        except (ConnectionResetError, BrokenPipeError) as e:
            raise EOFError(str(e))
        f = Frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF, payload)
        assert f.rsv == 0, "server frame with RSV bits set: %r" % f
        assert f.opcode in (OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG), "server frame with opcode %d" % f.opcode
        assert f.fin, "server message fragmented (FIN=0): %r" % f
        self.frames.append(f)
        if f.opcode in (OP_TEXT, OP_BINARY):
            self._check_seq(f)
        return f

    def _check_seq(self, f):
        if self.encoding == MSGPACK_P:
            assert f.opcode == OP_BINARY, "lav.msgpack.v1 but a text frame: %r" % f
            msg = msgpack_loads(f.payload)
        else:
            assert f.opcode == OP_TEXT, "lav.json.v1 but a binary frame: %r" % f
            msg = json.loads(f.payload.decode())
        assert isinstance(msg, dict) and msg.get("seq") == self.last_seq + 1, "seq after %d: %s" % (
            self.last_seq, short(msg))
        self.last_seq = msg["seq"]
        f.msg = msg

    def recv_msg(self, timeout=DEFAULT_TIMEOUT):
        """The next data message, decoded (control frames are recorded and skipped; a close
        frame raises AssertionError)."""
        deadline = time.monotonic() + timeout
        while True:
            f = self.recv_frame(max(0.05, deadline - time.monotonic()))
            if f.opcode in (OP_TEXT, OP_BINARY):
                return f.msg
            if f.opcode == OP_CLOSE:
                raise AssertionError("connection closed by the server (code %r) while a message was expected" % f.close_code)

    def request(self, obj, timeout=DEFAULT_TIMEOUT):
        self.send_json(obj)
        while True:
            m = self.recv_msg(timeout)
            if m["type"] in REPLY_TYPES:
                return m

    def expect_close(self, timeout=DEFAULT_TIMEOUT):
        """Read until the server's close frame (returns its code, or 1005 for an empty close
        payload) or until the connection is dropped (returns None). AssertionError if
        neither happens within timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("the server neither sent a close frame nor dropped the connection within %.1f s" % timeout)
            try:
                f = self.recv_frame(left)
            except EOFError:
                self.closed = True
                return None
            except socket.timeout:
                continue
            if f.opcode == OP_CLOSE:
                return f.close_code if len(f.payload) >= 2 else 1005

    def finish_close(self, code=1000, timeout=8.0):
        """After the server's close frame: echo a close and wait for the TCP connection to end.
        Returns True if it ended within timeout."""
        try:
            self.send_close(code)
        except OSError:
            return True
        return lh.wait_closed(self.sock, timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


# ---------------------------------------------------------------------------------------
# Miscellaneous




def rss_kb(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def uses_asan(pid):
    """True if the process has AddressSanitizer's runtime mapped."""
    try:
        with open("/proc/%d/maps" % pid) as f:
            return "libasan" in f.read()
    except OSError:
        return False


def readyz(d):
    import requests

    r = requests.get(d.url("/readyz"), timeout=5)
    try:
        return r.status_code, r.json()
    except ValueError:
        return r.status_code, None


def leader_check(d):
    """checks.leader of GET /readyz, or None if lavd does not answer."""
    try:
        _, body = readyz(d)
    except Exception:
        return None
    if not isinstance(body, dict):
        return None
    return (body.get("checks") or {}).get("leader")
