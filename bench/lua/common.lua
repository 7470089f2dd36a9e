-- Shared by every bench script (run.py prepends it): per-thread counters of
-- 2xx / non-2xx responses, a sample of the first non-2xx body, and a JSON
-- summary line printed by done() that run.py parses.
local bench_threads = {}
local bench_next_id = 0

function setup(thread)
  thread:set("tid", bench_next_id)
  bench_next_id = bench_next_id + 1
  table.insert(bench_threads, thread)
end

ok2xx, non2xx, bad_sample, statuses = 0, 0, "", ""

local status_counts = {}
function count_status(status, body)
  if status >= 200 and status < 300 then
    ok2xx = ok2xx + 1
    return true
  end
  non2xx = non2xx + 1
  status_counts[status] = (status_counts[status] or 0) + 1
  local parts = {}
  for s, n in pairs(status_counts) do parts[#parts + 1] = '"' .. s .. '":' .. n end
  statuses = table.concat(parts, ",")
  if bad_sample == "" then
    bad_sample = tostring(status) .. " " .. string.sub(body or "", 1, 300)
  end
  return false
end

local function json_str(s)
  s = tostring(s or "")
  s = s:gsub('\\', '\\\\'):gsub('"', '\\"'):gsub('\n', '\\n'):gsub('\r', '\\r'):gsub('%c', ' ')
  return '"' .. s .. '"'
end

function done(summary, latency, requests)
  local ok, bad, sample, extra, st = 0, 0, "", 0, {}
  for _, t in ipairs(bench_threads) do
    ok = ok + (t:get("ok2xx") or 0)
    bad = bad + (t:get("non2xx") or 0)
    extra = extra + (t:get("starved") or 0)
    local s = t:get("bad_sample") or ""
    if sample == "" and s ~= "" then sample = s end
    local ss = t:get("statuses") or ""
    if ss ~= "" then st[#st + 1] = "{" .. ss .. "}" end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"ok2xx":%d,"non2xx":%d,' ..
    '"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d,"starved":%d,' ..
    '"status_counts":[%s],"bad_sample":%s}\n',
    summary.requests, summary.duration, ok, bad,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max, extra,
    table.concat(st, ","), json_str(sample)))
end
