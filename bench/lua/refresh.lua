-- Refresh with rotation over many independent sessions. Each thread owns a
-- queue of refresh tokens (its share of BENCH_TOKENS_FILE, one per line):
-- request() takes a token, response() puts back the rotated one, so every
-- token is presented exactly once and each session is a chain. The token goes in
-- the body as the JSON string named BENCH_REFRESH_FIELD (default "refresh") and comes
-- back under the same name (allauth: "refresh_token", in and out).
starved = 0
local field = os.getenv("BENCH_REFRESH_FIELD") or "refresh"
if field == "" then field = "refresh" end
local pattern = '"' .. field .. '"%s*:%s*"([^"]+)"'
local queue, head, tail = {}, 1, 0

function init(args)
  local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
  local f = assert(io.open(os.getenv("BENCH_TOKENS_FILE"), "r"))
  local i = 0
  for line in f:lines() do
    if line ~= "" then
      if i % nthreads == tid then
        tail = tail + 1
        queue[tail] = line
      end
      i = i + 1
    end
  end
  f:close()
end

function request()
  local tok = "starved"
  if head <= tail then
    tok = queue[head]
    queue[head] = nil
    head = head + 1
  else
    starved = starved + 1
  end
  return wrk.format("POST", wrk.path, {["Content-Type"] = "application/json"},
                    '{"' .. field .. '":"' .. tok .. '"}')
end

function response(status, headers, body)
  if count_status(status, body) then
    local r = string.match(body, pattern)
    if r then
      tail = tail + 1
      queue[tail] = r
    end
  end
end
