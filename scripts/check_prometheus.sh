#!/usr/bin/env bash
# Static checks of the monitoring files (docs/observability.md):
#   promtool check config prometheus/prometheus.yml
#   promtool check rules  prometheus/rules/*.yml
#   promtool test rules   prometheus/tests/*.yml
#   tools/check_dashboards.py: every metric in the rules and in the dashboards' queries is
#     one lavd exports (docs/observability.md), the dashboards are valid JSON with unique
#     panel ids and the ${datasource} variable.
# Run from anywhere; exits non-zero on the first failing step. PROMTOOL and PYTHON override
# the tools (defaults: promtool on PATH, /usr/bin/python3).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PROMTOOL=${PROMTOOL:-promtool}
PYTHON=${PYTHON:-/usr/bin/python3}

if ! command -v "$PROMTOOL" >/dev/null 2>&1; then
    echo "check_prometheus: $PROMTOOL not found (Debian: apt-get install prometheus)" >&2
    exit 1
fi

shopt -s nullglob
rules=(prometheus/rules/*.yml)
tests=(prometheus/tests/*.yml)
shopt -u nullglob
if [[ ${#rules[@]} -eq 0 || ${#tests[@]} -eq 0 ]]; then
    echo "check_prometheus: no rule files or no rule tests" >&2
    exit 1
fi

echo "== promtool check config"
"$PROMTOOL" check config prometheus/prometheus.yml
echo "== promtool check rules"
"$PROMTOOL" check rules "${rules[@]}"
echo "== promtool test rules"
"$PROMTOOL" test rules "${tests[@]}"
echo "== metrics used by rules and dashboards"
"$PYTHON" tools/check_dashboards.py
echo "check_prometheus: OK"
