#include "lav/api.h"
#include "lav/auth.h"
#include "lav/router.h"
#include "lav/server.h"

static const struct lav_route ROUTES[] = {
    {"/", LAV_M(HTTP_GET), LAV_SCOPE_NONE, lav_api_status_page, false, true},
    {"/ws", LAV_M(HTTP_GET), LAV_SCOPE_READER, lav_api_ws, true, false},
    {"/healthz", LAV_M(HTTP_GET), LAV_SCOPE_NONE, lav_api_healthz, false, false},
    {"/readyz", LAV_M(HTTP_GET), LAV_SCOPE_NONE, lav_api_readyz, false, false},
    {"/metrics", LAV_M(HTTP_GET), LAV_SCOPE_NONE, lav_api_metrics, false, true},
    {"/api/features/v1/catalog", LAV_M(HTTP_GET), LAV_SCOPE_READER, lav_api_catalog, false, false},
    {"/api/features/v1/catalog/validate", LAV_M(HTTP_POST), LAV_SCOPE_ADMIN,
     lav_api_catalog_validate, false, false},
    {"/api/features/v1/latest", LAV_M(HTTP_GET), LAV_SCOPE_READER, lav_api_latest, false, false},
    {"/api/features/v1/publish", LAV_M(HTTP_POST), LAV_SCOPE_PUBLISHER, lav_api_publish, false,
     false},
    {"/api/features/v1/query", LAV_M(HTTP_POST), LAV_SCOPE_READER, lav_api_query, false, false},
    {"/api/liquidity/v1/regime/latest", LAV_M(HTTP_GET), LAV_SCOPE_READER, lav_api_regime_latest,
     false, false},
    {"/api/liquidity/v1/scoreboard", LAV_M(HTTP_GET), LAV_SCOPE_READER, lav_api_scoreboard, false,
     false},
    {"/api/liquidity/v1/hints", LAV_M(HTTP_GET), LAV_SCOPE_READER, lav_api_hints, false, false},
    {"/api/liquidity/v1/history", LAV_M(HTTP_GET), LAV_SCOPE_READER, lav_api_history, false, false},
    {"/api/liquidity/v1/replay", LAV_M(HTTP_POST), LAV_SCOPE_ADMIN, lav_api_replay, false, false},
};

void lav_api_dispatch(struct lav_server *srv, struct lav_request *req)
{
	lav_route_request(srv, ROUTES, sizeof(ROUTES) / sizeof(ROUTES[0]), req);
}
