-- Login, cycling over the users BENCH_USERS (comma separated) with password
-- BENCH_PASSWORD. The refresh token of each successful login is appended to
-- BENCH_HARVEST.<thread id> so that the refresh measurement can reuse the
-- sessions opened here.
local users, n, out = {}, 0, nil

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
    local r = string.match(body, '"refresh"%s*:%s*"([^"]+)"')
    if r then
      out:write(r, "\n")
      out:flush()
    end
  end
end
