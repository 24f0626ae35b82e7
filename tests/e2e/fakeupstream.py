"""A local impersonation of the eight upstreams lavd ingests from (docs/ingestion.md), for
the ingestion end-to-end suites.

One threaded HTTP server on 127.0.0.1 (port 0) answers every upstream's real request path
in that upstream's real response format and units. All paths are disjoint, so every
LAV_SOURCE_<ID>_URL can point at the same base URL (FakeUpstream.env()).

Values are closed-form functions of (series, time) (see the module-level value functions),
so a test computes what lavd must have stored without asking the server:

  fred            /fred/series/observations     WALCL (millions USD), WTREGEN, RRPONTSYD
                                                (billions USD); "." on known dates
  binance-api     /api/v3/klines                12-element arrays, paginated at `limit`,
                                                the current (unclosed) candle included
                  /fapi/v1/fundingRate          fundingTime with a few ms of jitter
                  /futures/data/openInterestHist
  blockchain-com  /charts/hash-rate             TH/s; /charts/total-bitcoins (BTC)
  defillama       /stablecoincharts/all         "date" as a string of seconds
                  /v2/historicalChainTvl/CHAIN  /protocols
  farside         /bitcoin-etf-flow-all-data/   HTML table in US$m, "(12.3)" negatives,
                  /ethereum-etf-flow-all-data/  "-" missing cells, summary rows at the end
  etherscan       /v2/api?module=gastracker&action=gasoracle
  tradingview     POST /global/scan
  cex-aggregator  /v1/series/NAME?since&until   {"series","unit","points":[{"ts","value"}]}

Faults are programmable per path prefix (set_fault): an HTTP status with the upstream's
real error body, a delay, a garbage body (truncated JSON or an HTML page), a connection
reset or close. Every request is logged (requests(), clear_log()).

Only the Python standard library is used.
"""

import datetime as dt
import hashlib
import json
import math
import re
import socket
import struct
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DAY = 86400
HOUR = 3600
EPOCH = dt.date(1970, 1, 1)

FRED_KEY = "0123456789abcdef0123456789abcdef"  # 32 lower-case alphanumerics, as FRED wants
ETHERSCAN_KEY = "ETHSCANFAKEKEY0123456789ABCDEFGHI"

# Every LAV_SOURCE_<ID>_URL (source ids of config/datasources.json).
SOURCE_IDS = ["fred", "farside", "defillama", "binance-api", "blockchain-com", "etherscan",
              "tradingview", "cex-aggregator"]


def source_env_name(source_id, what="URL"):
    return "LAV_SOURCE_%s_%s" % (source_id.upper().replace("-", "_"), what)


# ---------------------------------------------------------------------------------------
# Deterministic value functions (all in the upstream's own units)


def _u01(*parts):
    """A deterministic number in [0, 1) from its arguments."""
    h = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:8], "big") / 2.0**64


def wave(key, t, center, amp, p1=37 * DAY, p2=9 * DAY, noise=0.05):
    """center + amp * x with |x| <= 1: two seeded sine waves plus per-t noise."""
    f1 = 2 * math.pi * _u01("phase1", key)
    f2 = 2 * math.pi * _u01("phase2", key)
    x = 0.65 * math.sin(2 * math.pi * t / p1 + f1) + 0.3 * math.sin(2 * math.pi * t / p2 + f2)
    x += noise * (2 * _u01("noise", key, int(t)) - 1)
    return center + amp * x


def day_secs(d):
    return (d - EPOCH).days * DAY


def secs_day(s):
    return EPOCH + dt.timedelta(days=int(s) // DAY)


def today_utc(now=None):
    return secs_day(time.time() if now is None else now)


def rfc3339(secs):
    return dt.datetime.fromtimestamp(secs, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time_arg(s):
    """RFC 3339, a date, or integer seconds -> epoch seconds (float); None if unparsable."""
    if s is None:
        return None
    s = s.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", s):
        return float(s)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
            return float(day_secs(dt.date.fromisoformat(s)))
        t = dt.datetime.fromisoformat(s.replace("Z", "+00:00").replace("z", "+00:00"))
        if t.tzinfo is None:
            t = t.replace(tzinfo=dt.timezone.utc)
        return t.timestamp()
    except ValueError:
        return None


# --- Business days -------------------------------------------------------------------------
# As the real upstreams: FRED's daily series have no observation on US federal holidays and
# Farside's tables no row on NYSE holidays. The rules of include/lav/calendar.h, written
# again here so the e2e suites check lavd against an independent statement of them.


def _nth_weekday(y, m, wd, n):
    first = dt.date(y, m, 1)
    return first + dt.timedelta(days=(wd - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(y, m, wd):
    last = dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - wd) % 7)


def _easter(y):
    """Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = y % 19, y // 100, y % 100
    h = (19 * a + b - b // 4 - (b - (b + 8) // 25 + 1) // 3 + 15) % 30
    w = (32 + 2 * (b % 4) + 2 * (c // 4) - h - c % 4) % 7
    n = h + w - 7 * ((a + 11 * h + 22 * w) // 451) + 114
    return dt.date(y, n // 31, n % 31 + 1)


def _observed(d, saturday_moves=True):
    if d.weekday() == 5:
        return d - dt.timedelta(days=1) if saturday_moves else None
    return d + dt.timedelta(days=1) if d.weekday() == 6 else d


def _holidays(y, nyse):
    mon, thu = 0, 3
    fixed = [(1, 1), (7, 4), (12, 25)] + ([] if nyse else [(11, 11)])
    if y >= (2022 if nyse else 2021):
        fixed.append((6, 19))
    out = {_observed(dt.date(y, m, d), not (nyse and (m, d) == (1, 1))) for m, d in fixed}
    out |= {_nth_weekday(y, 1, mon, 3), _nth_weekday(y, 2, mon, 3), _last_weekday(y, 5, mon),
            _nth_weekday(y, 9, mon, 1), _nth_weekday(y, 11, thu, 4)}
    out |= {_easter(y) - dt.timedelta(days=2)} if nyse else {_nth_weekday(y, 10, mon, 2)}
    out.discard(None)
    return out


def us_federal_open(d):
    return d.weekday() < 5 and d not in _holidays(d.year, False) | _holidays(d.year + 1, False)


def nyse_open(d):
    return d.weekday() < 5 and d not in _holidays(d.year, True)


# --- FRED ---------------------------------------------------------------------------------

# Upstream unit of each series (the factor to USD). WALCL is in millions; WTREGEN and
# RRPONTSYD are in billions (FRED's own units; the catalog's descriptions say the same).
FRED_UNIT = {"WALCL": 1e6, "WTREGEN": 1e9, "RRPONTSYD": 1e9}
FRED_FIRST = {"WALCL": dt.date(2002, 12, 18), "WTREGEN": dt.date(2002, 12, 18),
              "RRPONTSYD": dt.date(2003, 2, 7)}
FRED_WEEKLY = {"WALCL": True, "WTREGEN": True, "RRPONTSYD": False}


def fred_dates(series, start, end):
    """The observation dates of a series in [start, end] (weekly: Wednesdays; daily: US
    federal business days)."""
    d = max(start, FRED_FIRST[series])
    out = []
    while d <= end:
        if FRED_WEEKLY[series]:
            if d.weekday() == 2:
                out.append(d)
                d += dt.timedelta(days=7)
                continue
        elif us_federal_open(d):
            out.append(d)
        d += dt.timedelta(days=1)
    return out


def fred_is_missing(series, d):
    """FRED's "." on known dates: about one date in 6-11."""
    o = d.toordinal()
    if series == "RRPONTSYD":
        return o % 11 == 3
    if series == "WALCL":
        return (o // 7) % 6 == 1
    if series == "WTREGEN":
        return (o // 7) % 7 == 2
    return False


def fred_value(series, d, missing=True):
    """The observation value string FRED serves for a date: "." or a number in its units."""
    if missing and fred_is_missing(series, d):
        return "."
    t = day_secs(d)
    if series == "WALCL":
        return "%d" % round(wave("WALCL", t, 7.0e6, 0.4e6, 300 * DAY, 40 * DAY))
    if series == "WTREGEN":
        return "%.3f" % wave("WTREGEN", t, 750.0, 150.0, 120 * DAY, 30 * DAY)
    if series == "RRPONTSYD":
        return "%.3f" % wave("RRPONTSYD", t, 400.0, 300.0, 90 * DAY, 17 * DAY)
    raise KeyError(series)


def fred_usd(series, d, missing=True):
    """The normalized value lavd must store (None for a "." date)."""
    v = fred_value(series, d, missing)
    return None if v == "." else float(v) * FRED_UNIT[series]


# --- Binance ------------------------------------------------------------------------------

KLINE_SYMBOLS = {"BTCUSDT": (60000.0, 20000.0, 1.0e9), "ETHUSDT": (3000.0, 1000.0, 4.0e8),
                 "SOLUSDT": (150.0, 50.0, 1.0e8)}
INTERVAL_MS = {"1s": 1000, "1m": 60000, "3m": 180000, "5m": 300000, "15m": 900000, "30m": 1800000,
               "1h": 3600000, "2h": 7200000, "4h": 14400000, "6h": 21600000, "8h": 28800000,
               "12h": 43200000, "1d": 86400000, "3d": 259200000, "1w": 604800000}


def kline_close(symbol, close_ms):
    """The close price of the candle that closes at close_ms (2 decimals)."""
    c, a, _ = KLINE_SYMBOLS[symbol]
    return round(wave("close" + symbol, close_ms / 1000.0, c, a, 11 * DAY, 2 * DAY, 0.02), 2)


def kline_quote_volume(symbol, interval_ms, open_ms):
    """The quote-asset (USDT) volume of a candle (2 decimals): hourly level x interval."""
    _, _, qv = KLINE_SYMBOLS[symbol]
    per_hour = wave("qvol" + symbol, open_ms / 1000.0, qv, qv * 0.5, 3 * DAY, 0.5 * DAY, 0.3)
    return round(per_hour * interval_ms / 3600000.0, 2)


def kline(symbol, interval, open_ms):
    """Binance's 12-element kline array (strings as Binance sends them)."""
    iv = INTERVAL_MS[interval]
    close = kline_close(symbol, open_ms + iv)
    opn = kline_close(symbol, open_ms)
    hi = round(max(opn, close) * (1 + 0.002 * _u01("hi", symbol, interval, open_ms)), 2)
    lo = round(min(opn, close) * (1 - 0.002 * _u01("lo", symbol, interval, open_ms)), 2)
    qv = kline_quote_volume(symbol, iv, open_ms)
    vol = qv / ((opn + close) / 2)
    trades = int(1000 + 100000 * _u01("trades", symbol, interval, open_ms) * iv / 3600000.0)
    tb = 0.4 + 0.2 * _u01("taker", symbol, interval, open_ms)
    return [open_ms, "%.8f" % opn, "%.8f" % hi, "%.8f" % lo, "%.8f" % close, "%.8f" % vol,
            open_ms + iv - 1, "%.8f" % qv, trades, "%.8f" % (vol * tb), "%.8f" % (qv * tb), "0"]


FUNDING_MS = 8 * 3600 * 1000


def funding_time(slot_ms):
    """fundingTime of the funding event of an 8 h slot: the slot plus 0-4 ms of jitter."""
    return slot_ms + int(5 * _u01("fjit", slot_ms))


def funding_rate(symbol, slot_ms):
    return "%.8f" % wave("funding" + symbol, slot_ms / 1000.0, 0.0001, 0.0004, 6 * DAY, 1.5 * DAY, 0.2)


def funding_entry(symbol, slot_ms):
    return {"symbol": symbol, "fundingTime": funding_time(slot_ms), "fundingRate": funding_rate(symbol, slot_ms),
            "markPrice": "%.8f" % kline_close(symbol, slot_ms) if symbol in KLINE_SYMBOLS else "1.00000000"}


OI_PERIOD_MS = {"5m": 300000, "15m": 900000, "30m": 1800000, "1h": 3600000, "2h": 7200000,
                "4h": 14400000, "6h": 21600000, "12h": 43200000, "1d": 86400000}


def oi_entry(symbol, ts_ms):
    value = round(wave("oi" + symbol, ts_ms / 1000.0, 8.0e9, 2.0e9, 5 * DAY, DAY), 8)
    price = kline_close(symbol, ts_ms) if symbol in KLINE_SYMBOLS else 1.0
    return {"symbol": symbol, "sumOpenInterest": "%.8f" % (value / price), "sumOpenInterestValue": "%.8f" % value,
            "CMCCirculatingSupply": "19800000.000000", "timestamp": ts_ms}


# --- blockchain.com -----------------------------------------------------------------------

CHARTS = {
    "hash-rate": ("Hash Rate", "Hash Rate TH/s",
                  "The estimated number of terahashes per second the bitcoin network is performing in the last 24 hours."),
    "total-bitcoins": ("Total Circulating Bitcoin", "Bitcoins",
                       "The total number of mined bitcoin that are currently circulating on the network."),
}
HALVING_2024 = dt.date(2024, 4, 20)


def chart_value(name, d):
    """The chart's y for a day, in its upstream unit (hash rate in TH/s)."""
    t = day_secs(d)
    if name == "hash-rate":
        return wave("hashrate", t, 7.0e8, 1.5e8, 60 * DAY, 7 * DAY, 0.2) + 0.123456
    if name == "total-bitcoins":
        n = (d - HALVING_2024).days
        return 19687500.0 + (450.0 * n if n >= 0 else 900.0 * n)
    raise KeyError(name)


# --- DefiLlama ----------------------------------------------------------------------------

STABLE_FIRST = dt.date(2021, 1, 1)
STABLE_PEGS = [("peggedUSD", 0.9852), ("peggedEUR", 0.0041), ("peggedVAR", 0.0079), ("peggedCHF", 0.0003),
               ("peggedGBP", 0.0025)]


def stable_total(d):
    """The stablecoin market cap trend (USD): about +22 % a year, plus a small wave."""
    t = day_secs(d)
    years = (d - STABLE_FIRST).days / 365.0
    return 1.2e11 * math.exp(0.2 * years) * (1 + 0.02 * math.sin(2 * math.pi * t / (45 * DAY) + 1.0))


def stable_point(d):
    total = stable_total(d)
    circ_usd = {p: round(total * share, 2) for p, share in STABLE_PEGS}
    return {
        "date": str(day_secs(d)),
        "totalCirculating": {p: round(v * (1.08 if p != "peggedUSD" else 1.0), 2) for p, v in circ_usd.items()},
        "totalUnreleased": {"peggedUSD": round(total * 0.01, 2)},
        "totalCirculatingUSD": circ_usd,
        "totalMintedUSD": {p: round(v * 1.03, 2) for p, v in circ_usd.items()},
        "totalBridgedToUSD": {"peggedUSD": round(total * 0.002, 2)},
    }


def stable_usd(d):
    """What lavd must store for crypto/stables/mcap_total_usd at a day: the sum over pegs."""
    s = 0.0
    for v in stable_point(d)["totalCirculatingUSD"].values():
        s += v
    return s


CHAIN_TVL_FIRST = dt.date(2020, 1, 1)


def chain_tvl(chain, d):
    return round(wave("tvl" + chain, day_secs(d), 7.0e10, 2.0e10, 80 * DAY, 11 * DAY), 4)


PROTOCOLS = [
    # name, category, chain, tvl center (USD)
    ("Uniswap V3", "Dexes", "Multi-Chain", 4.5e9),
    ("Curve DEX", "Dexes", "Multi-Chain", 2.1e9),
    ("PancakeSwap AMM", "Dexes", "Multi-Chain", 1.8e9),
    ("Aerodrome Slipstream", "Dexes", "Base", 9.0e8),
    ("Raydium AMM", "Dexes", "Solana", 1.6e9),
    ("Retired Swap", "Dexes", "Ethereum", 0.0),
    ("Aave V3", "Lending", "Multi-Chain", 2.4e10),
    ("Lido", "Liquid Staking", "Multi-Chain", 2.9e10),
    ("Binance CEX", "CEX", "Multi-Chain", 1.4e11),
    ("EigenLayer", "Restaking", "Ethereum", 1.2e10),
    ("Hyperliquid Spot Orderbook", "Dexs Aggregator", "Hyperliquid L1", 3.0e9),
    ("Jupiter Perpetual Exchange", "Derivatives", "Solana", 1.5e9),
]


def protocols(hour_s):
    """/protocols as of the hour starting at hour_s."""
    out = []
    for i, (name, cat, chain, center) in enumerate(PROTOCOLS):
        tvl = round(wave("proto" + name, hour_s, center, center * 0.2, 9 * DAY, DAY), 2) if center else 0
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        out.append({
            "id": str(100 + i), "name": name, "address": None, "symbol": "-", "url": "https://%s.example" % slug,
            "description": "%s protocol" % name, "chain": chain, "logo": "https://icons.llama.fi/%s.png" % slug,
            "audits": "2", "audit_note": None, "gecko_id": None, "cmcId": None, "category": cat,
            "chains": [chain] if chain != "Multi-Chain" else ["Ethereum", "Arbitrum", "Base"],
            "module": "%s/index.js" % slug, "twitter": slug, "forkedFrom": [], "oracles": [],
            "listedAt": 1600000000 + i * 86400, "methodology": "TVL", "slug": slug, "tvl": tvl,
            "chainTvls": {chain: tvl}, "change_1h": 0.1, "change_1d": -0.4, "change_7d": 2.3,
            "tokenBreakdowns": {}, "mcap": None,
        })
    return out


def dex_tvl(hour_s):
    """What lavd must store for dex/agg/active_liquidity_usd at that hour."""
    s = 0.0
    for p in protocols(hour_s):
        if p["category"] == "Dexes":
            s += p["tvl"]
    return s


# --- Farside ------------------------------------------------------------------------------

FARSIDE = {
    "btc": {"path": "/bitcoin-etf-flow-all-data/", "first": dt.date(2024, 1, 11), "title": "Bitcoin ETF Flow",
            "issuers": [("Blackrock", "IBIT", "0.25%"), ("Fidelity", "FBTC", "0.25%"), ("Bitwise", "BITB", "0.20%"),
                        ("Ark", "ARKB", "0.21%"), ("Invesco", "BTCO", "0.25%"), ("Franklin", "EZBC", "0.19%"),
                        ("Valkyrie", "BRRR", "0.25%"), ("VanEck", "HODL", "0.20%"), ("WTree", "BTCW", "0.25%"),
                        ("Grayscale", "GBTC", "1.50%"), ("Grayscale", "BTC", "0.15%")],
            "late": {"BTC": dt.date(2024, 7, 31)}, "center": 100.0, "amp": 500.0},
    "eth": {"path": "/ethereum-etf-flow-all-data/", "first": dt.date(2024, 7, 23), "title": "Ethereum ETF Flow",
            "issuers": [("Blackrock", "ETHA", "0.25%"), ("Fidelity", "FETH", "0.25%"), ("Bitwise", "ETHW", "0.20%"),
                        ("21Shares", "CETH", "0.21%"), ("VanEck", "ETHV", "0.20%"), ("Invesco", "QETH", "0.25%"),
                        ("Franklin", "EZET", "0.19%"), ("Grayscale", "ETHE", "2.50%"), ("Grayscale", "ETH", "0.15%")],
            "late": {}, "center": 20.0, "amp": 150.0},
}


def farside_is_missing(kind, d):
    """Days whose row is all "-" (no data yet): about one weekday in 19."""
    return d.toordinal() % 19 == 7


FARSIDE_OUTFLOW = {"btc": "GBTC", "eth": "ETHE"}  # the fund with steady outflows


def farside_row(kind, d, missing=True):
    """([issuer cell values (float, or None for "-")], total (float, or None for "-")) of a weekday,
    in US$m."""
    spec = FARSIDE[kind]
    if missing and farside_is_missing(kind, d):
        return [None] * len(spec["issuers"]), None
    t = day_secs(d)
    base = wave("farside" + kind, t, spec["center"], spec["amp"], 23 * DAY, 5 * DAY, 0.4)
    cells = []
    weights = []
    for _, tk, _ in spec["issuers"]:
        late = spec["late"].get(tk)
        u = _u01("cell", kind, tk, d)
        if (late and d < late) or u < 0.05:
            cells.append(None)
            weights.append(0.0)
        elif u < 0.35 or tk == FARSIDE_OUTFLOW[kind]:
            cells.append(0.0)
            weights.append(0.0)
        else:
            cells.append(0.0)
            weights.append(0.2 + _u01("w", kind, tk, d))
    wsum = sum(weights)
    for i, (_, tk, _) in enumerate(spec["issuers"]):
        if weights[i]:
            cells[i] = round(base * weights[i] / wsum, 1)
        elif tk == FARSIDE_OUTFLOW[kind] and cells[i] is not None:
            cells[i] = -round(40 * _u01("out", kind, d), 1)
    total = round(sum(c for c in cells if c is not None), 1)
    return cells, total


def farside_days(kind, until):
    """The table's NYSE trading days from the first listing day to `until` (exclusive)."""
    d = FARSIDE[kind]["first"]
    out = []
    while d < until:
        if nyse_open(d):
            out.append(d)
        d += dt.timedelta(days=1)
    return out


def farside_usd(kind, d, missing=True):
    """What lavd must store for a day (None when absent: "-" total)."""
    _, total = farside_row(kind, d, missing)
    return None if total is None else total * 1e6


def _farside_cell(v):
    if v is None:
        return '<td><span class="tabletext">-</span></td>'
    if v < 0:
        return '<td><span class="tabletext"><span class="redFont">(%.1f)</span></span></td>' % -v
    return '<td><span class="tabletext">%.1f</span></td>' % v


def farside_html(kind, until, missing=True):
    spec = FARSIDE[kind]
    issuers = spec["issuers"]
    head = ['<tr><th><span class="tabletext"></span></th>'
            + "".join('<th><span class="tabletext">%s</span></th>' % p for p, _, _ in issuers)
            + '<th><span class="tabletext">Total</span></th></tr>',
            '<tr><th><span class="tabletext"></span></th>'
            + "".join('<th><span class="tabletext">%s</span></th>' % t for _, t, _ in issuers)
            + '<th><span class="tabletext"></span></th></tr>',
            '<tr><th><span class="tabletext">Fee</span></th>'
            + "".join('<th><span class="tabletext">%s</span></th>' % f for _, _, f in issuers)
            + '<th><span class="tabletext"></span></th></tr>']
    rows = []
    cols = [[] for _ in range(len(issuers) + 1)]
    for d in farside_days(kind, until):
        cells, total = farside_row(kind, d, missing)
        for i, c in enumerate(cells + [total]):
            if c is not None:
                cols[i].append(c)
        rows.append('<tr><td><span class="tabletext">%s</span></td>%s%s</tr>'
                    % (d.strftime("%d %b %Y"), "".join(_farside_cell(c) for c in cells), _farside_cell(total)))
    for label, fn in (("Total", sum), ("Average", lambda xs: sum(xs) / len(xs)), ("Maximum", max), ("Minimum", min)):
        rows.append('<tr><td><span class="tabletext">%s</span></td>%s</tr>'
                    % (label, "".join(_farside_cell(round(fn(c), 1) if c else None) for c in cols)))
    return (
        '<!DOCTYPE html>\n<html lang="en-GB">\n<head>\n<meta charset="UTF-8">\n'
        '<title>%s &#8211; All Data &#8211; Farside Investors</title>\n'
        '<link rel="stylesheet" href="/wp-content/themes/farside/style.css">\n</head>\n'
        '<body class="page-template-default page">\n<div id="page" class="site">\n'
        '<header class="site-header"><nav><ul><li><a href="/btc/">Bitcoin</a></li>'
        '<li><a href="/eth/">Ethereum</a></li></ul></nav></header>\n'
        '<main id="main"><article class="page"><div class="entry-content">\n'
        '<h1>%s &#8211; All Data</h1>\n<p><strong>All data in US$m</strong></p>\n'
        '<figure class="wp-block-table"><table class="etf" style="border-collapse: collapse;">\n'
        '<thead>\n%s\n</thead>\n<tbody>\n%s\n</tbody>\n</table></figure>\n'
        '<p>Source: Farside Investors. Data for the latest day may be incomplete.</p>\n'
        '</div></article></main>\n</div>\n</body>\n</html>\n'
        % (spec["title"], spec["title"], "\n".join(head), "\n".join(rows))
    )


# --- Etherscan, TradingView, the CEX aggregator ---------------------------------------------


def gas_oracle(slot_s):
    """Etherscan's gas oracle result for the 5-minute slot starting at slot_s (gwei strings)."""
    propose = round(wave("gas", slot_s, 2.0, 1.5, DAY, 3 * HOUR, 0.1), 9)
    return {
        "LastBlock": str(21000000 + int((slot_s - 1735689600) // 12)),
        "SafeGasPrice": repr(round(propose * 0.9, 9)),
        "ProposeGasPrice": repr(propose),
        "FastGasPrice": repr(round(propose * 1.2, 9)),
        "suggestBaseFee": repr(round(propose * 0.85, 9)),
        "gasUsedRatio": "0.4513,0.5522,0.3980,0.9964,0.5018",
        "BurntFees": "%.6f" % (1.1 + propose),
    }


def gas_gwei(slot_s):
    return float(gas_oracle(slot_s)["ProposeGasPrice"])


TV_TICKERS = {"TVC:DXY": (102.0, 6.0, 3), "SP:SPX": (5500.0, 800.0, 2), "CBOE:VIX": (18.0, 8.0, 2),
              "NASDAQ:NDX": (19000.0, 2000.0, 2)}


def tv_close(ticker, d):
    """The close TradingView's scanner reports on a day."""
    c, a, nd = TV_TICKERS[ticker]
    return round(wave("tv" + ticker, day_secs(d), c, a, 40 * DAY, 8 * DAY), nd)


AGG_SERIES = {"spot_depth_2pct_usd": (2.0e9, 1.0e9), "perp_oi_usd": (1.0e11, 4.0e10)}


def agg_value(series, hour_s):
    c, a = AGG_SERIES[series]
    return round(wave("agg" + series, hour_s, c, a, 4 * DAY, 0.75 * DAY), 2)


# ---------------------------------------------------------------------------------------
# Error bodies and garbage

CLOUDFLARE_HTML = (
    "<!DOCTYPE html>\n<html lang=\"en-US\"><head><title>Just a moment...</title>"
    "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\">"
    "<meta name=\"robots\" content=\"noindex,nofollow\"></head><body><div class=\"main-wrapper\" role=\"main\">"
    "<div class=\"main-content\"><h1 class=\"zone-name-title h1\">Checking if the site connection is secure</h1>"
    "<p>Enable JavaScript and cookies to continue</p></div></div>"
    "<script>(function(){window._cf_chl_opt={cvId: '3',cZone: 'example',cType: 'managed'};})();</script>"
    "</body></html>\n"
)

NGINX_502 = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
             "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")

ETHERSCAN_NOTOK_RATE = {"status": "0", "message": "NOTOK", "result": "Max calls per sec rate limit reached (5/sec)"}


def family_of(path):
    if path.startswith("/fred/"):
        return "fred"
    if path.startswith(("/api/v3/", "/fapi/", "/futures/")):
        return "binance-api"
    if path.startswith("/charts/"):
        return "blockchain-com"
    if path.startswith(("/stablecoincharts", "/stablecoins", "/v2/historicalChainTvl", "/protocols")):
        return "defillama"
    if path.startswith(("/bitcoin-etf-flow", "/ethereum-etf-flow", "/btc/", "/eth/")):
        return "farside"
    if path.startswith("/v2/api"):
        return "etherscan"
    if path.startswith("/global/scan") or path.endswith("/scan"):
        return "tradingview"
    if path.startswith("/v1/"):
        return "cex-aggregator"
    return None


def error_body(family, status):
    """(content type, body bytes) of the upstream's real error answer for an HTTP status."""
    J = "application/json"
    H = "text/html; charset=UTF-8"
    if family == "fred":
        msg = {400: "Bad Request.  The series does not exist.", 429: "Too Many Requests.  Exceeded Rate Limit",
               404: "Not Found", 500: "Internal Server Error", 503: "Service Unavailable"}.get(status, "Error")
        return J, json.dumps({"error_code": status, "error_message": msg}).encode()
    if family == "binance-api":
        if status == 400:
            return J, b'{"code":-1121,"msg":"Invalid symbol."}'
        if status == 429:
            return J, (b'{"code":-1003,"msg":"Too many requests; current limit of IP(127.0.0.1) is 6000 requests'
                       b' per minute. Please use the websocket for live updates to avoid polling the API."}')
        if status == 418:
            return J, b'{"code":-1003,"msg":"Way too much request weight used; IP banned until 1700000000000."}'
        if status == 503:
            return J, b'{"code":-1008,"msg":"Server is currently overloaded with other requests. Please try again in a few minutes."}'
        return J, b'{"code":-1001,"msg":"Internal error; unable to process your request. Please try again."}'
    if family == "defillama":
        if status == 429:
            return "text/plain", b"Too Many Requests"
        if status == 400:
            return J, b'{"message":"Invalid request"}'
        return J, b'{"message":"Internal server error"}'
    if family == "blockchain-com":
        if status == 400:
            return J, b'{"error":"Invalid timespan"}'
        if status == 429:
            return "text/plain", b"Too Many Requests"
        return H, NGINX_502.encode()
    if family == "farside":
        if status in (403, 429, 503):
            return H, CLOUDFLARE_HTML.encode()
        return H, ("<html><head><title>%d</title></head><body><h1>Error %d</h1></body></html>" % (status, status)).encode()
    if family == "etherscan":
        if status == 429:
            return J, json.dumps(ETHERSCAN_NOTOK_RATE).encode()
        if status == 400:
            return J, b'{"status":"0","message":"NOTOK","result":"Error! Invalid action name"}'
        return H, NGINX_502.encode()
    if family == "tradingview":
        if status == 400:
            return J, b'{"totalCount":0,"error":"Unknown field \\"clos\\"","data":null}'
        if status == 429:
            return "text/plain", b"Too Many Requests"
        return H, NGINX_502.encode()
    return J, json.dumps({"error": {"code": "upstream_error", "message": "status %d" % status}}).encode()


# ---------------------------------------------------------------------------------------
# The server


class Fault:
    """What to do with requests whose path starts with prefix.

    kind: "status" (status, body: the upstream's real error body unless given),
          "delay" (sleep `delay` seconds, then answer normally, or with `then` = another Fault),
          "garbage" (200 with `garbage` = "truncated" JSON/HTML cut in half, "html" a Cloudflare
          page, or bytes), "reset" (TCP RST after reading the request), "close" (EOF, no answer).
    count: apply to the next count matching requests only (None: until cleared)."""

    def __init__(self, prefix, kind, status=None, body=None, content_type=None, delay=0.0, garbage="truncated",
                 count=None, then=None):
        assert kind in ("status", "delay", "garbage", "reset", "close"), kind
        self.prefix = prefix
        self.kind = kind
        self.status = status
        self.body = body
        self.content_type = content_type
        self.delay = delay
        self.garbage = garbage
        self.count = count
        self.then = then
        self.hits = 0

    def __repr__(self):
        return "<Fault %s %s %s>" % (self.prefix, self.kind, self.status or self.delay or self.garbage)


class Request:
    """One logged request."""

    def __init__(self, method, path, raw_query, body, headers):
        self.method = method
        self.path = path
        self.raw_query = raw_query
        self.qm = urllib.parse.parse_qs(raw_query, keep_blank_values=True)
        self.q = {k: v[-1] for k, v in self.qm.items()}  # last value of each parameter
        self.body = body
        self.headers = headers
        self.time = time.time()
        self.family = family_of(path)
        self.status = None  # what was answered (None: no answer: reset/close/delay cut)
        self.fault = None
        self.done = None  # time the answer was written
        self.sha256 = None  # hex SHA-256 of the body answered

    def json(self):
        return json.loads(self.body.decode())

    @property
    def target(self):
        return self.path + ("?" + self.raw_query if self.raw_query else "")

    def __repr__(self):
        return "<%s %s -> %s%s>" % (self.method, self.target, self.status, " fault=%r" % self.fault if self.fault else "")


class _Reset(Exception):
    pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, fake):
        self.fake = fake
        super().__init__(addr, handler)

    def handle_error(self, request, client_address):  # quiet: clients go away on purpose
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakeupstream/1"

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        with self.server.fake._lock:
            self.server.fake._conns.add(self.connection)

    def finish(self):
        try:
            super().finish()
        except (OSError, ValueError):
            pass
        with self.server.fake._lock:
            self.server.fake._conns.discard(self.connection)

    def handle(self):
        try:
            super().handle()
        except (_Reset, ConnectionError, socket.timeout, OSError, ValueError):
            self.close_connection = True

    def do_GET(self):
        self._serve()

    def do_POST(self):
        self._serve()

    def do_HEAD(self):
        self._serve()

    def do_PUT(self):
        self._serve()

    def _read_body(self):
        n = self.headers.get("Content-Length")
        if n:
            return self.rfile.read(int(n))
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return b""

    def _serve(self):
        fake = self.server.fake
        path, _, raw_query = self.path.partition("?")
        body = self._read_body()
        req = Request(self.command, path, raw_query, body, {k.lower(): v for k, v in self.headers.items()})
        fake._log(req)
        fault = fake._take_fault(path)
        while fault is not None and fault.kind == "delay":
            req.fault = req.fault or fault
            if fake._stopping.wait(fault.delay):
                self._reset()
            fault = fault.then
        if fault is not None:
            req.fault = fault
            if fault.kind == "reset":
                self._reset()
            if fault.kind == "close":
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                raise _Reset()
        try:
            status, ctype, out = fake._answer(req)
        except Exception as e:  # a bug here must show up in the test, not as a hang
            status, ctype, out = 500, "text/plain", ("fakeupstream error: %r" % (e,)).encode()
        if fault is not None and fault.kind == "status":
            status = fault.status
            if fault.body is not None:
                out = fault.body if isinstance(fault.body, bytes) else fault.body.encode()
                ctype = fault.content_type or ("application/json" if out[:1] in (b"{", b"[") else "text/plain")
            else:
                ctype, out = error_body(req.family, status)
        elif fault is not None and fault.kind == "garbage":
            if isinstance(fault.garbage, bytes):
                out = fault.garbage
            elif fault.garbage == "html":
                ctype, out = "text/html; charset=UTF-8", CLOUDFLARE_HTML.encode()
            else:  # truncated: the real body cut in half (keeps its content type)
                out = out[: max(1, len(out) // 2)]
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(out)))
        if status == 429:
            self.send_header("Retry-After", "1")
        self.end_headers()
        req.status = status
        req.sha256 = hashlib.sha256(out).hexdigest()
        req.done = time.time()
        if self.command != "HEAD":
            self.wfile.write(out)

    def _reset(self):
        """Abort the connection with a TCP RST."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()
            self.connection.close()
        except OSError:
            pass
        raise _Reset()


class FakeUpstream:
    """The fake upstream server. start() / stop(); base_url; env() for lavd."""

    def __init__(self, fred_key=FRED_KEY, etherscan_key=ETHERSCAN_KEY, fred_missing=True, farside_missing=True):
        self.fred_key = fred_key
        self.etherscan_key = etherscan_key
        self.fred_missing = fred_missing  # serve "." on fred_is_missing() dates
        self.farside_missing = farside_missing  # rows of "-" on farside_is_missing() days
        self.horizon = {}  # path prefix -> epoch seconds: data at or after it is not served yet
        self.fred_hidden = set()  # {(series_id, date)} served as "." (late data) until removed
        self._faults = []
        self._log_list = []
        self._lock = threading.Lock()
        self._conns = set()
        self._stopping = threading.Event()
        self._server = None
        self._thread = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self):
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), _Handler, self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fakeupstream", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:  # keep-alive connections would go on being served
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)
        self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self):
        return self._server.server_address[1]

    @property
    def base_url(self):
        return "http://127.0.0.1:%d" % self.port

    def url(self, path):
        return self.base_url + path

    def env(self, keys=True, sources=None):
        """{LAV_SOURCE_<ID>_URL: base_url} for every source (or `sources`), plus the keys."""
        env = {source_env_name(s): self.base_url for s in (sources or SOURCE_IDS)}
        if keys:
            env[source_env_name("fred", "KEY")] = self.fred_key
            env[source_env_name("etherscan", "KEY")] = self.etherscan_key
        return env

    # -- faults ---------------------------------------------------------------------------

    def set_fault(self, prefix, kind, **kw):
        """Program a fault for paths starting with prefix (replaces one on the same prefix)."""
        f = Fault(prefix, kind, **kw)
        with self._lock:
            self._faults = [x for x in self._faults if x.prefix != prefix] + [f]
        return f

    def clear_faults(self, prefix=None):
        with self._lock:
            self._faults = [] if prefix is None else [x for x in self._faults if x.prefix != prefix]

    def _take_fault(self, path):
        with self._lock:
            best = None
            for f in self._faults:
                if path.startswith(f.prefix) and (best is None or len(f.prefix) > len(best.prefix)):
                    best = f
            if best is None:
                return None
            best.hits += 1
            if best.count is not None and best.hits >= best.count:
                self._faults.remove(best)
            return best

    # -- request log ----------------------------------------------------------------------

    def _log(self, req):
        with self._lock:
            self._log_list.append(req)

    def requests(self, prefix=None, family=None, since=None, method=None):
        """Logged requests (oldest first), filtered by path prefix, source family, time."""
        with self._lock:
            out = list(self._log_list)
        if prefix is not None:
            out = [r for r in out if r.path.startswith(prefix)]
        if family is not None:
            out = [r for r in out if r.family == family]
        if since is not None:
            out = [r for r in out if r.time >= since]
        if method is not None:
            out = [r for r in out if r.method == method]
        return out

    def clear_log(self):
        with self._lock:
            self._log_list = []

    # -- data -----------------------------------------------------------------------------

    def cutoff(self, path, now=None):
        """Epoch seconds before which data exists for a path: now, or an earlier horizon."""
        t = time.time() if now is None else now
        with self._lock:
            for p, h in self.horizon.items():
                if path.startswith(p):
                    t = min(t, h)
        return t

    def _answer(self, req):
        p = req.path
        if p == "/fred/series/observations":
            return self._fred(req)
        if p == "/api/v3/klines":
            return self._klines(req)
        if p == "/fapi/v1/fundingRate":
            return self._funding(req)
        if p == "/futures/data/openInterestHist":
            return self._oi(req)
        if p.startswith("/charts/"):
            return self._chart(req)
        if p == "/stablecoincharts/all":
            return self._stablecoins(req)
        if p.startswith("/v2/historicalChainTvl/"):
            return self._chain_tvl(req)
        if p == "/protocols":
            return self._protocols(req)
        for kind, spec in FARSIDE.items():
            if p in (spec["path"], spec["path"].rstrip("/")):
                return self._farside(req, kind)
        if p == "/v2/api":
            return self._etherscan(req)
        if p == "/global/scan":
            return self._tradingview(req)
        if p.startswith("/v1/series/"):
            return self._aggregator(req)
        fam = req.family
        if fam is None:
            return 404, "text/plain", b"Not Found"
        ctype, body = error_body(fam, 404)
        return 404, ctype, body

    @staticmethod
    def _json(doc, status=200):
        return status, "application/json", json.dumps(doc, separators=(",", ":")).encode()

    # FRED -------------------------------------------------------------------------------

    def _fred(self, req):
        q = req.q
        read = " Read https://fred.stlouisfed.org/docs/api/api_key.html for more information."

        def bad(msg, status=400):
            return self._json({"error_code": status, "error_message": msg}, status)

        key = q.get("api_key")
        if key is None:
            return bad("Bad Request.  Variable api_key is not set." + read)
        if not re.fullmatch(r"[a-z0-9]{32}", key):
            return bad("Bad Request.  The value for variable api_key is not a 32 character alpha-numeric"
                       " lower-case string." + read)
        if key != self.fred_key:
            return bad("Bad Request.  The value for variable api_key is not registered." + read)
        sid = q.get("series_id")
        if not sid:
            return bad("Bad Request.  Variable series_id is not set.")
        if sid not in FRED_UNIT:
            return bad("Bad Request.  The series does not exist.")
        dates = {}
        for name, default in (("observation_start", "1776-07-04"), ("observation_end", "9999-12-31")):
            v = q.get(name, default)
            try:
                dates[name] = dt.date.fromisoformat(v)
            except ValueError:
                return bad("Bad Request.  Variable %s is not a valid date." % name)
        start, end = dates["observation_start"], dates["observation_end"]
        if start > end:
            return bad("Bad Request.  The value for variable observation_start is later than observation_end.")
        today = today_utc()
        last = min(end, secs_day(self.cutoff(req.path)) - dt.timedelta(days=1))  # today's not published yet
        obs = [{"realtime_start": today.isoformat(), "realtime_end": today.isoformat(), "date": d.isoformat(),
                "value": "." if (sid, d) in self.fred_hidden else fred_value(sid, d, self.fred_missing)}
               for d in fred_dates(sid, start, last)]
        if q.get("sort_order") == "desc":
            obs.reverse()
        offset = int(q.get("offset", "0") or 0)
        limit = int(q.get("limit", "100000") or 100000)
        count = len(obs)
        obs = obs[offset: offset + limit]
        doc = {"realtime_start": today.isoformat(), "realtime_end": today.isoformat(),
               "observation_start": q.get("observation_start", "1600-01-01"),
               "observation_end": q.get("observation_end", "9999-12-31"), "units": "lin", "output_type": 1,
               "file_type": "json", "order_by": "observation_date", "sort_order": q.get("sort_order", "asc"),
               "count": count, "offset": offset, "limit": limit, "observations": obs}
        if q.get("file_type") != "json":  # FRED's default is XML
            xml = ('<?xml version="1.0" encoding="utf-8" ?>\n<observations realtime_start="%s" count="%d">\n%s\n'
                   '</observations>\n' % (today.isoformat(), count, "\n".join(
                       '  <observation date="%s" value="%s"/>' % (o["date"], o["value"]) for o in obs)))
            return 200, "text/xml; charset=UTF-8", xml.encode()
        return self._json(doc)

    # Binance ----------------------------------------------------------------------------

    @staticmethod
    def _bad_binance(code, msg, status=400):
        return FakeUpstream._json({"code": code, "msg": msg}, status)

    def _int_param(self, q, name):
        v = q.get(name)
        if v is None or v == "":
            return None
        if not re.fullmatch(r"-?\d+", v):
            raise ValueError(name)
        return int(v)

    def _klines(self, req):
        q = req.q
        sym = q.get("symbol")
        if not sym:
            return self._bad_binance(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        if sym not in KLINE_SYMBOLS:
            return self._bad_binance(-1121, "Invalid symbol.")
        iv = q.get("interval")
        if iv not in INTERVAL_MS:
            return self._bad_binance(-1120, "Invalid interval.")
        try:
            start, end, limit = (self._int_param(q, n) for n in ("startTime", "endTime", "limit"))
        except ValueError as e:
            return self._bad_binance(-1100, "Illegal characters found in parameter '%s'; legal range is '^[0-9]{1,20}$'." % e)
        limit = 500 if limit is None else limit
        if not 1 <= limit <= 1000:
            return self._bad_binance(-1130, "Invalid data sent for a parameter.")
        if start is not None and end is not None and start > end:
            return self._bad_binance(-1023, "Start time is greater than end time.")
        ms = INTERVAL_MS[iv]
        now_ms = int(self.cutoff(req.path) * 1000)
        cur_open = now_ms // ms * ms  # the current, still open candle is included (as Binance does)
        hi = min(cur_open, end // ms * ms if end is not None else cur_open)
        if start is not None:
            first = -(-start // ms) * ms
            opens = range(first, min(hi, first + (limit - 1) * ms) + 1, ms)
        else:
            opens = range(max(0, hi - (limit - 1) * ms), hi + 1, ms)
        return self._json([kline(sym, iv, o) for o in opens])

    def _funding(self, req):
        q = req.q
        sym = q.get("symbol") or "BTCUSDT"
        if sym not in KLINE_SYMBOLS:
            return self._bad_binance(-1121, "Invalid symbol.")
        try:
            start, end, limit = (self._int_param(q, n) for n in ("startTime", "endTime", "limit"))
        except ValueError as e:
            return self._bad_binance(-1100, "Illegal characters found in parameter '%s'." % e)
        limit = 100 if limit is None else min(limit, 1000)
        now_ms = int(self.cutoff(req.path) * 1000)
        last_slot = now_ms // FUNDING_MS * FUNDING_MS
        if funding_time(last_slot) > now_ms:
            last_slot -= FUNDING_MS
        hi = last_slot if end is None else min(last_slot, end // FUNDING_MS * FUNDING_MS)
        if end is not None and funding_time(hi) > end:
            hi -= FUNDING_MS
        if start is not None:
            first = -(-start // FUNDING_MS) * FUNDING_MS
            if first - FUNDING_MS >= 0 and funding_time(first - FUNDING_MS) >= start:
                first -= FUNDING_MS
            slots = range(first, min(hi, first + (limit - 1) * FUNDING_MS) + 1, FUNDING_MS)
        else:
            slots = range(hi - (limit - 1) * FUNDING_MS, hi + 1, FUNDING_MS)
        return self._json([funding_entry(sym, s) for s in slots])

    def _oi(self, req):
        q = req.q
        sym = q.get("symbol")
        if sym not in KLINE_SYMBOLS:
            return self._bad_binance(-1121, "Invalid symbol.")
        per = q.get("period")
        if per not in OI_PERIOD_MS:
            return self._bad_binance(-1102, "Mandatory parameter 'period' was not sent, was empty/null, or malformed.")
        try:
            start, end, limit = (self._int_param(q, n) for n in ("startTime", "endTime", "limit"))
        except ValueError as e:
            return self._bad_binance(-1100, "Illegal characters found in parameter '%s'." % e)
        limit = 30 if limit is None else limit
        if not 1 <= limit <= 500:
            return self._bad_binance(-1130, "Invalid data sent for a parameter.")
        ms = OI_PERIOD_MS[per]
        now_ms = int(self.cutoff(req.path) * 1000)
        oldest = (now_ms - 30 * DAY * 1000) // ms * ms  # Binance keeps 30 days
        hi = now_ms // ms * ms
        if end is not None:
            hi = min(hi, end // ms * ms)
        if start is not None:
            first = max(oldest, -(-start // ms) * ms)
            ts = range(first, min(hi, first + (limit - 1) * ms) + 1, ms)
        else:
            ts = range(max(oldest, hi - (limit - 1) * ms), hi + 1, ms)
        return self._json([oi_entry(sym, t) for t in ts])

    # blockchain.com ---------------------------------------------------------------------

    def _chart(self, req):
        name = req.path[len("/charts/"):].strip("/")
        if name not in CHARTS:
            return 404, "application/json", b'{"error":"Chart not found"}'
        q = req.q
        span = q.get("timespan", "1year")
        m = re.fullmatch(r"(\d+)\s*(day|days|week|weeks|month|months|year|years)", span)
        if not m:
            return 400, "application/json", b'{"error":"Invalid timespan"}'
        unit = {"day": 1, "week": 7, "month": 30, "year": 365}[m.group(2).rstrip("s")]
        days = int(m.group(1)) * unit
        last = secs_day(self.cutoff(req.path)) - dt.timedelta(days=1)  # yesterday's estimate is the newest
        if "start" in q:
            st = parse_time_arg(q["start"])
            if st is None:
                return 400, "application/json", b'{"error":"Invalid start"}'
            first = secs_day(-(-int(st) // DAY) * DAY)
            end = min(last, first + dt.timedelta(days=days - 1))
        else:
            end = last
            first = last - dt.timedelta(days=days - 1)
        vals = []
        d = first
        while d <= end:
            vals.append({"x": day_secs(d), "y": chart_value(name, d)})
            d += dt.timedelta(days=1)
        title, unit_s, desc = CHARTS[name]
        return self._json({"status": "ok", "name": title, "unit": unit_s, "period": "day", "description": desc,
                           "values": vals})

    # DefiLlama --------------------------------------------------------------------------

    def _days_until_today(self, req, first):
        last = secs_day(self.cutoff(req.path))
        d = first
        while d <= last:
            yield d
            d += dt.timedelta(days=1)

    def _stablecoins(self, req):
        return self._json([stable_point(d) for d in self._days_until_today(req, STABLE_FIRST)])

    def _chain_tvl(self, req):
        chain = urllib.parse.unquote(req.path[len("/v2/historicalChainTvl/"):].strip("/"))
        if chain not in ("Ethereum", "Solana", "Arbitrum", "Base"):
            return 400, "text/plain", b"Chain not found"
        return self._json([{"date": day_secs(d), "tvl": chain_tvl(chain, d)}
                           for d in self._days_until_today(req, CHAIN_TVL_FIRST)])

    def _protocols(self, req):
        hour = int(self.cutoff(req.path)) // HOUR * HOUR
        return self._json(protocols(hour))

    # Farside ----------------------------------------------------------------------------

    def _farside(self, req, kind):
        until = secs_day(self.cutoff(req.path))  # rows up to yesterday
        html = farside_html(kind, until, self.farside_missing)
        return 200, "text/html; charset=UTF-8", html.encode()

    # Etherscan --------------------------------------------------------------------------

    def _etherscan(self, req):
        q = req.q
        if "chainid" not in q:
            return self._json({"status": "0", "message": "NOTOK", "result": "Missing chainid parameter (required for"
                               " v2 api), please see https://api.etherscan.io/v2/chainlist for the list of supported chainids"})
        if "apikey" not in q or not q["apikey"]:
            return self._json({"status": "0", "message": "NOTOK", "result": "Missing/Invalid API Key"})
        if q["apikey"] != self.etherscan_key:
            return self._json({"status": "0", "message": "NOTOK", "result": "Invalid API Key (#err2)|FAKE"})
        if q.get("module") != "gastracker" or q.get("action") != "gasoracle":
            return self._json({"status": "0", "message": "NOTOK", "result": "Error! Invalid action name"})
        slot = int(self.cutoff(req.path)) // 300 * 300
        return self._json({"status": "1", "message": "OK", "result": gas_oracle(slot)})

    # TradingView ------------------------------------------------------------------------

    def _tradingview(self, req):
        if req.method != "POST":
            return 405, "text/plain", b"Method Not Allowed"
        try:
            doc = json.loads(req.body.decode() or "null")
            tickers = doc["symbols"]["tickers"]
            columns = doc["columns"]
            assert isinstance(tickers, list) and isinstance(columns, list)
        except Exception:
            return 400, "application/json", b'{"totalCount":0,"error":"Invalid JSON body","data":null}'
        for c in columns:
            if c != "close":
                return self._json({"totalCount": 0, "error": "Unknown field \"%s\"" % c, "data": None}, 400)
        day = secs_day(self.cutoff(req.path))
        data = [{"s": t, "d": [tv_close(t, day)]} for t in tickers if t in TV_TICKERS]
        return self._json({"totalCount": len(data), "data": data})

    # CEX aggregator ---------------------------------------------------------------------

    def _aggregator(self, req):
        name = urllib.parse.unquote(req.path[len("/v1/series/"):].strip("/"))
        if name not in AGG_SERIES:
            return self._json({"error": {"code": "unknown_series", "message": "unknown series %r" % name}}, 404)
        since = parse_time_arg(req.q.get("since"))
        until = parse_time_arg(req.q.get("until"))
        now = self.cutoff(req.path)
        if since is None:
            since = now - DAY
        if until is None:
            until = now
        if since >= until:
            return self._json({"error": {"code": "bad_range", "message": "since must be before until"}}, 400)
        until = min(until, now + 1)  # hours that have started
        pts = []
        h = int(-(-since // HOUR) * HOUR)
        while h < until:
            pts.append({"ts": rfc3339(h), "value": agg_value(name, h)})
            h += HOUR
        return self._json({"series": name, "unit": "USD", "points": pts})

