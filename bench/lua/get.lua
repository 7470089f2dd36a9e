-- GET with an optional Bearer token (env BENCH_TOKEN).
local token = os.getenv("BENCH_TOKEN") or ""
if token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

function response(status, headers, body)
  count_status(status, body)
end
