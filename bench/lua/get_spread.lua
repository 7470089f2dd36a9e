-- GET with a different session's access token on each request: each thread cycles
-- through its share of BENCH_TOKENS_FILE (one access token per line), so a worker's
-- caches see thousands of sessions, not one hot token.
local tokens, n, i = {}, 0, 0

function init(args)
  local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
  local f = assert(io.open(os.getenv("BENCH_TOKENS_FILE"), "r"))
  local k = 0
  for line in f:lines() do
    if line ~= "" then
      if k % nthreads == tid then
        n = n + 1
        tokens[n] = line
      end
      k = k + 1
    end
  end
  f:close()
end

function request()
  i = i % n + 1
  return wrk.format("GET", wrk.path, {["Authorization"] = "Bearer " .. tokens[i]})
end

function response(status, headers, body)
  count_status(status, body)
end
