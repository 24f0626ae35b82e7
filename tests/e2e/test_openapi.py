"""proto/openapi.yaml is the normative contract: every path and method it names is served,
and every route lavd serves is in it."""
import os

import pytest
import requests
import yaml

REPO = os.environ.get("LAV_REPO", os.path.join(os.path.dirname(__file__), "..", ".."))
SPEC = os.path.join(REPO, "proto", "openapi.yaml")

# what lavd routes today (src/api/routes.c); the test fails if either side drifts
SERVED = {
    ("/", "get"),
    ("/ws", "get"),
    ("/healthz", "get"),
    ("/readyz", "get"),
    ("/metrics", "get"),
    ("/api/features/v1/catalog", "get"),
    ("/api/features/v1/catalog/validate", "post"),
    ("/api/features/v1/latest", "get"),
    ("/api/features/v1/publish", "post"),
    ("/api/features/v1/query", "post"),
    ("/api/liquidity/v1/regime/latest", "get"),
    ("/api/liquidity/v1/scoreboard", "get"),
    ("/api/liquidity/v1/hints", "get"),
    ("/api/liquidity/v1/history", "get"),
    ("/api/liquidity/v1/replay", "post"),
}


def load_spec():
    with open(SPEC, encoding="utf-8") as f:
        return yaml.safe_load(f)


def documented():
    spec = load_spec()
    return {(p, m) for p, item in spec["paths"].items() for m in item if m in ("get", "post", "put", "delete", "patch")}


@pytest.mark.smoke
def test_spec_parses_and_is_openapi3():
    spec = load_spec()
    assert spec["openapi"].startswith("3.")
    assert spec["paths"]


def test_spec_and_routes_agree():
    assert documented() == SERVED


@pytest.mark.parametrize("path,method", sorted(SERVED))
def test_every_documented_route_is_served(lavd, tokens, path, method):
    # the admin token may call everything; an empty body is enough to reach the handler
    r = requests.request(method.upper(), lavd.url(path), headers=tokens.header("admin"),
                         data=b"{}" if method == "post" else None,
                         params={"featureId": "macro/us/walcl_total_usd"} if path.endswith("/latest") else None,
                         timeout=10)
    assert r.status_code not in (404, 405) or r.json()["error"]["code"] in ("no_data",), (path, method, r.status_code, r.text)


def test_every_error_code_used_is_documented():
    spec = load_spec()
    codes = set(spec["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"])
    src = os.path.join(REPO, "src")
    import re
    used = set()
    for root, _, files in os.walk(src):
        for name in files:
            if name.endswith(".c"):
                text = open(os.path.join(root, name), encoding="utf-8").read()
                used |= set(re.findall(r'lav_respond_error(?:_ex)?\(\s*\w+,\s*\d+,\s*"([a-z_]+)"', text))
                used |= set(re.findall(r'fail\(rp, \d+, "([a-z_]+)"', text))
    assert used, "no error codes found in src/"
    assert used <= codes, "undocumented error codes: %s" % sorted(used - codes)
