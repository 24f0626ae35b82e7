-- wrk script: POST one fixed body with a fixed Accept header.
--   wrk ... -s post.lua URL -- BODY_FILE ACCEPT
-- The request is formatted once (no request() function), so wrk stays cheap.
function init(args)
	local f = assert(io.open(args[1], "rb"))
	wrk.body = f:read("*a")
	f:close()
	wrk.method = "POST"
	wrk.headers["Content-Type"] = "application/json"
	wrk.headers["Accept"] = args[2] or "application/json"
end
