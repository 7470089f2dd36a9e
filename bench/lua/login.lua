-- Login, cycling over the users BENCH_USERS (comma separated) with password
-- BENCH_PASSWORD. The refresh token of each successful login (the JSON string
-- named BENCH_REFRESH_FIELD, default "refresh", wherever it is in the answer) is
-- appended to BENCH_HARVEST.<thread id> so that the refresh measurement can reuse
-- the sessions opened here.
local users, n, out = {}, 0, nil
local field = os.getenv("BENCH_REFRESH_FIELD") or "refresh"
if field == "" then field = "refresh" end
local pattern = '"' .. field .. '"%s*:%s*"([^"]+)"'

function init(args)
  for u in string.gmatch(os.getenv("BENCH_USERS") or "", "[^,]+") do
    users[#users + 1] = u
  end
  n = tid
  local h = os.getenv("BENCH_HARVEST") or ""
  if h ~= "" then out = io.open(h .. "." .. tid, "w") end
end

function request()
  n = n + 1
  local u = users[(n % #users) + 1]
  return wrk.format("POST", wrk.path, {["Content-Type"] = "application/json"},
                    '{"username":"' .. u .. '","password":"' .. os.getenv("BENCH_PASSWORD") .. '"}')
end

function response(status, headers, body)
  if count_status(status, body) and out then
    local r = string.match(body, pattern)
    if r then
      out:write(r, "\n")
      out:flush()
    end
  end
end
