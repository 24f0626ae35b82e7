"""FEATURE_API_RATE_LIMIT_RPM: per token, 429 with Retry-After past the budget."""
import requests


def test_rate_limit_per_token(lavd_factory, tokens):
    d = lavd_factory(name="lavd-rate", overrides={"FEATURE_API_RATE_LIMIT_RPM": "3"})
    url = d.url("/api/features/v1/catalog?id=macro/us/walcl_total_usd")
    got = [requests.get(url, headers=tokens.header("reader"), timeout=5) for _ in range(4)]
    assert [r.status_code for r in got[:3]] == [200, 200, 200]
    r = got[3]
    assert r.status_code == 429, r.text
    err = r.json()["error"]
    assert err["code"] == "rate_limited"
    assert "FEATURE_API_RATE_LIMIT_RPM" in err["message"]
    assert int(r.headers["Retry-After"]) >= 1
    # another token has its own budget; public endpoints are not limited
    assert requests.get(url, headers=tokens.header("admin"), timeout=5).status_code == 200
    for _ in range(5):
        assert requests.get(d.url("/healthz"), timeout=5).status_code == 200
