"""The live status page (GET /, src/api/status.html) in headless Chromium.

lavd runs the semáforo on a 1-second grid (window 120 s, min_obs 3, α = 1, no flip
confirmation, thresholds ±0.6). Ten quiet points per feed and one risk-on point make the
first grid point verde; the page is opened at /?token=<reader> and driven over the Chrome
DevTools Protocol (tests/e2e/cdp.py). It must load nothing but lavd's own URLs, show the
state of GET /api/liquidity/v1/regime/latest and a freshness row per series. Then one
risk-off point per feed flips the regime to rojo: the light, the flip list and the table
follow without a reload. Finally lavd is stopped and started again on the same port: the
page notices (#conn closed), reconnects by itself (#conn open) and shows the state again.

Screenshots (status_page_before.png, status_page.png) go to $LAV_TEST_ARTIFACTS, else
tests/e2e/artifacts/.
"""

import asyncio
import json
import os
import time
import urllib.parse

import pytest
import requests

import cdp
import lavhelpers as lh
import semaforohelpers as sh

S = lh.US
BASE = sh.BASE
PAGE_FILE = os.path.join(lh.REPO, "src", "api", "status.html")

# (featureId, quiet level, noise, risk-on value, risk-off value); "risk-on" moves each feed in
# the direction of its weight in liquidity.feeds.json (TGA and RRP weigh -1), inside the
# catalog's expected ranges.
FEEDS = [
    (sh.WALCL, 7.0e12, 1e9, 7.2e12, 6.6e12),
    (sh.TGA, 7.0e11, 1e9, 5.0e11, 9.0e11),
    (sh.RRP, 5.0e11, 1e9, 3.0e11, 7.0e11),
    (sh.BTC_FLOW, 1.0e8, 1e6, 8.0e8, -6.0e8),
    (sh.ETH_FLOW, 5.0e7, 1e6, 4.0e8, -3.0e8),
    (sh.STABLES_YOY, 0.05, 0.001, 0.15, -0.05),
    (sh.DEPTH, 2.0e9, 1e7, 2.4e9, 1.6e9),
    (sh.PERP_OI, 8.0e10, 1e8, 9.6e10, 6.4e10),
    (sh.DEX_LIQ, 3.0e10, 1e8, 3.6e10, 2.4e10),
]
QUIET_POINTS = 10

JS_STATE = """(() => {
  const q = (s) => document.querySelector(s);
  if (!q('#light')) return null;
  return {
    light: q('#light').getAttribute('data-state'),
    score: q('#score').getAttribute('data-value'),
    scoreText: q('#score').textContent,
    comps: ['gl', 'cn', 'mp'].map((c) => q('#comp-' + c).textContent),
    ts: q('#ts').textContent,
    conn: q('#conn').getAttribute('data-state'),
    flips: [...document.querySelectorAll('#flips li')].map((li) => li.getAttribute('data-to')),
    rows: [...document.querySelectorAll('#features tbody tr')].map((tr) => tr.getAttribute('data-feature')),
    marker: window.__marker === 1,
    connLog: window.__connLog || null,
  };
})()"""

# #conn's data-state transitions, recorded in the page (no reload may lose them)
JS_WATCH_CONN = """(() => {
  const el = document.querySelector('#conn');
  window.__connLog = [el.getAttribute('data-state')];
  new MutationObserver(() => {
    const s = el.getAttribute('data-state');
    if (window.__connLog[window.__connLog.length - 1] !== s) window.__connLog.push(s);
  }).observe(el, {attributes: true, attributeFilter: ['data-state']});
  window.__marker = 1;
  return true;
})()"""


def _artifacts_dir():
    d = os.environ.get("LAV_TEST_ARTIFACTS") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "artifacts")
    os.makedirs(d, exist_ok=True)
    return d


def _points(ts_us, which):
    """One point per feed at ts: which = "on" | "off" | a quiet index (alternating noise)."""
    out = []
    for fid, level, noise, on, off in FEEDS:
        if which == "on":
            v = on
        elif which == "off":
            v = off
        else:
            v = level + noise * (1 if which % 2 else -1) * (1 + which % 3)
        out.append({"featureId": fid, "ts": lh.fmt_ts(ts_us), "available_at": lh.fmt_ts(ts_us), "value": v})
    return out


def _row(fid, entity=""):
    return "%s|%s" % (fid, entity)


@pytest.fixture(scope="module")
def status_lavd(lavd_factory, tmp_path_factory):
    cfg, _ = sh.config_with(tmp_path_factory.mktemp("status-page"), window="120s", min_obs=3, trend_lookback="3s")
    d = lavd_factory(
        "lavd-status-page",
        config_dir=cfg,
        overrides={
            "LIQ_SCORE_GRID_STEP": "1s",
            "LIQ_REGIME_FLIP_CONFIRMATION_HOURS": "0",
            "LIQ_SCORE_SMOOTHING_ALPHA": "1",
            "LIQ_SCORE_WEIGHTS": "0.4,0.4,0.2",
            "LIQ_SCORE_THRESHOLDS": "0.6,-0.6",
            "FEATURE_API_RATE_LIMIT_RPM": "1000000",
        },
    )
    lh.wait_store_settled(d)
    return d


def _regime(d):
    r = d.get(BASE + "/regime/latest", role="reader")
    return r.json() if r.status_code == 200 else None


def _wait_regime(d, state, timeout=20.0):
    def in_state():
        reg = _regime(d)
        return reg if reg and reg["state"] == state else None

    reg = lh.poll(in_state, timeout=timeout, interval=0.2)
    assert reg, "regime/latest never became %s: %r" % (state, _regime(d))
    return reg


async def _page_matches_rest(page, d, timeout=20.0):
    """Poll until the page shows the same state and score as GET regime/latest."""
    deadline = time.monotonic() + timeout
    while True:
        reg = await asyncio.to_thread(_regime, d)
        st = await page.evaluate(JS_STATE)
        if reg and st and st["light"] == reg["state"] and st["score"] != "" and abs(float(st["score"]) - reg["score"]) < 1e-9:
            return reg, st
        if time.monotonic() >= deadline:
            pytest.fail("the page shows %r, regime/latest is %r" % (st, reg))
        await asyncio.sleep(0.2)


def _host_of(url):
    return urllib.parse.urlsplit(url).netloc


def test_status_page_live(status_lavd, tokens, monkeypatch, tmp_path):
    if not cdp.find_chromium():
        pytest.fail("chromium is not installed (Debian package `chromium`, see scripts/lib/common.sh)", pytrace=False)
    d = status_lavd
    art = _artifacts_dir()

    # GET / is the page, byte for byte
    r = requests.get(d.url("/"), timeout=lh.HTTP_TIMEOUT)
    assert r.status_code == 200, (r.status_code, r.text[:300])
    assert r.headers.get("content-type", "").split(";")[0].strip() == "text/html", r.headers
    with open(PAGE_FILE, "rb") as f:
        assert r.content == f.read(), "GET / is not src/api/status.html byte for byte"

    # risk-on: ten quiet points per feed then one risk-on point, in one publish
    t0 = lh.now_us() // 1000 * 1000
    pts = []
    for i in range(QUIET_POINTS):
        pts += _points(t0 - (QUIET_POINTS - i) * S, i)
    pts += _points(t0, "on")
    lh.publish_ok(d, pts)
    _wait_regime(d, "verde")

    browser = cdp.Chromium(tmp_path)
    try:
        asyncio.run(_drive(browser, d, tokens, monkeypatch, art))
    finally:
        browser.kill()  # (already done unless the run was interrupted)
    assert browser.proc is None or browser.proc.poll() is not None, "chromium still runs"


async def _drive(browser, d, tokens, monkeypatch, art):
    async with browser:
        page = browser.page
        for dom in ("Network.enable", "Page.enable", "Runtime.enable", "Log.enable"):
            await page.send(dom)
        await page.send("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1,
                        mobile=False)
        # steady screenshots: the page drops its transitions and highlights for reduced motion
        await page.send("Emulation.setEmulatedMedia", features=[{"name": "prefers-reduced-motion", "value": "reduce"}])
        host = "%s:%d" % (d.host, d.port)
        url = "http://%s/?token=%s" % (host, urllib.parse.quote(tokens["reader"]))
        start = len(browser.conn.events)
        nav = await page.send("Page.navigate", url=url)
        assert not nav.get("errorText"), nav
        await page.wait_event("Page.loadEventFired", start=start, timeout=20)
        assert await page.evaluate(JS_WATCH_CONN)

        # connected, current state shown, a row per series
        st = await page.poll("document.querySelector('#conn').getAttribute('data-state') === 'open'"
                             " && document.querySelectorAll('#features tbody tr').length > 0", timeout=20)
        assert st, "the page never connected: %r" % (await page.evaluate(JS_STATE),)
        reg, st = await _page_matches_rest(page, d)
        assert reg["state"] == "verde"
        for c in ("gl", "cn", "mp"):
            v = reg["components"][c]
            assert st["comps"][("gl", "cn", "mp").index(c)] == ("n/a" if v is None else "%+.2f" % v), (st, reg)
        want_rows = {_row(fid) for fid, *_ in FEEDS} | {_row(sh.SCORE_F)}
        ok = await page.poll("(() => { const r = new Set([...document.querySelectorAll('#features tbody tr')]"
                             ".map((tr) => tr.getAttribute('data-feature'))); return %s.every((k) => r.has(k)); })()"
                             % json.dumps(sorted(want_rows)), timeout=10)
        assert ok, "feature rows missing: %r" % ((await page.evaluate(JS_STATE))["rows"],)
        # ages are recomputed client-side (WALCL gets no new point meanwhile)
        age_js = ("document.querySelector('#features tbody tr[data-feature=\"%s|\"] .age').textContent" % sh.WALCL)
        age0 = await page.evaluate(age_js)
        assert await page.poll("%s !== %s" % (age_js, json.dumps(age0)), timeout=10), "the age %r never changed" % age0
        await page.screenshot(os.path.join(art, "status_page_before.png"))
        flips_before = (await page.evaluate(JS_STATE))["flips"]

        # risk-off: the regime flips to rojo, the page follows without a reload
        t1 = max(lh.now_us() // 1000 * 1000, lh.parse_ts(reg["ts"]) + 1000)
        await asyncio.to_thread(lh.publish_ok, d, _points(t1, "off"))
        ok = await page.poll("(() => { const li = document.querySelector('#flips li');"
                             " return document.querySelector('#light').getAttribute('data-state') === 'rojo'"
                             " && li && li.getAttribute('data-to') === 'rojo'; })()", timeout=20)
        st = await page.evaluate(JS_STATE)
        assert ok, "the page did not flip to rojo: %r (regime/latest %r)" % (st, _regime(d))
        assert st["marker"], "the page was reloaded"
        assert len(st["flips"]) > len(flips_before) or len(flips_before) == 20, (flips_before, st["flips"])
        reg, st = await _page_matches_rest(page, d)
        assert reg["state"] == "rojo"
        walcl_val = ("document.querySelector('#features tbody tr[data-feature=\"%s|\"] td:nth-child(4)').textContent"
                     % sh.WALCL)
        assert await page.poll("%s === '6.6T'" % walcl_val, timeout=10), await page.evaluate(walcl_val)
        await page.screenshot(os.path.join(art, "status_page.png"))

        # lavd stops: the page says closed; lavd starts again on the same port: it reconnects
        port = d.port
        rc = await asyncio.to_thread(d.stop, 10)
        assert rc == 0, "lavd exited %r" % rc
        assert await page.poll("document.querySelector('#conn').getAttribute('data-state') === 'closed'", timeout=15), \
            await page.evaluate(JS_STATE)
        monkeypatch.setattr(lh, "free_port", lambda: port)
        await asyncio.to_thread(d.start)
        assert d.port == port
        ok = await page.poll("document.querySelector('#conn').getAttribute('data-state') === 'open'"
                             " && window.lavStatus.connects >= 2", timeout=30)
        st = await page.evaluate(JS_STATE)
        assert ok, "the page did not reconnect: %r" % (st,)
        assert st["marker"], "the page was reloaded"
        log = st["connLog"]  # (it starts while the first connection may still be opening)
        assert "open" in log and log[-1] == "open" and "closed" in log[log.index("open"):], log
        reg, st = await _page_matches_rest(page, d)
        assert reg["state"] == "rojo" and st["flips"][:1] == ["rojo"], (reg, st)

        # nothing but lavd's own URLs, no script errors, no CSP violations
        urls = [e["request"]["url"] for e in page.events("Network.requestWillBeSent")]
        urls += [e["url"] for e in page.events("Network.webSocketCreated")]
        assert any(u.startswith("ws://%s/ws?token=" % host) for u in urls), urls
        foreign = [u for u in urls if not u.startswith(("data:", "about:")) and _host_of(u) != host]
        assert not foreign, "requests outside lavd: %r" % foreign
        doc = [e["response"] for e in page.events("Network.responseReceived") if e.get("type") == "Document"]
        assert doc and doc[0]["status"] == 200 and doc[0]["mimeType"] == "text/html", doc
        errors = [e["exceptionDetails"] for e in page.events("Runtime.exceptionThrown")]
        assert not errors, errors
        csp = [e["entry"]["text"] for e in page.events("Log.entryAdded") if "Content Security Policy" in e["entry"]["text"]]
        assert not csp, csp
