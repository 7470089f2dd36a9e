-- GET with access tokens drawn from BENCH_TOKENS_FILE (one a line) by a Zipf law of
-- exponent BENCH_ZIPF_S (default 1.0): the k-th token is asked for in proportion to
-- 1 / k^s, as a popular few and a long tail of users would. Each thread draws its own
-- sequence (seeded by its id), over all the tokens.
local tokens, cdf, n = {}, {}, 0

function init(args)
  local s = tonumber(os.getenv("BENCH_ZIPF_S") or "1.0")
  local f = assert(io.open(os.getenv("BENCH_TOKENS_FILE"), "r"))
  for line in f:lines() do
    if line ~= "" then
      n = n + 1
      tokens[n] = line
    end
  end
  f:close()
  local total = 0
  for k = 1, n do
    total = total + 1 / k ^ s
    cdf[k] = total
  end
  for k = 1, n do
    cdf[k] = cdf[k] / total
  end
  math.randomseed(12345 + 7919 * (tid or 0))
end

local function draw()
  local u, lo, hi = math.random(), 1, n
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < u then lo = mid + 1 else hi = mid end
  end
  return lo
end

function request()
  return wrk.format("GET", wrk.path, {["Authorization"] = "Bearer " .. tokens[draw()]})
end

function response(status, headers, body)
  count_status(status, body)
end
