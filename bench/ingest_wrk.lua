-- wrk script for bench/ingest.py: POST one usage record per request to
-- /api/v1/usage, each with a unique request_id, and report a JSON line.
--
--   wrk -t2 -c8 -d10s -s bench/ingest_wrk.lua http://127.0.0.1:8765/api/v1/usage -- KEY PREFIX
--
-- KEY is a raw API key; PREFIX makes request_ids unique across runs
-- (ids are PREFIX-<thread>-<n>). Each connection's thread posts to its own run_id.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local counter = 0
local prefix = "wrk"
statuses = {}  -- global: done() reads it with thread:get

function init(args)
  prefix = args[2] or prefix
  wrk.method = "POST"
  -- KEY may be several keys joined by commas (bench/ingest.py --users): thread i posts with key i.
  local keys = {}
  for k in string.gmatch(args[1] or "", "[^,]+") do table.insert(keys, k) end
  wrk.headers["Authorization"] = "Bearer " .. (keys[((tid or 1) - 1) % math.max(#keys, 1) + 1] or "")
  wrk.headers["Content-Type"] = "application/json"
end

-- The same record shape as bench/ingest.py's batch records.
local template = '{"request_id":"%s-%d-%d","model":"gpt-4o","agent":"bench","tool":"search",'
  .. '"run_id":"%s-run-%d","latency_ms":840,"metadata":{"trace":"%d"},'
  .. '"usage":{"prompt_tokens":1200,"completion_tokens":300,'
  .. '"prompt_tokens_details":{"cached_tokens":1024},"completion_tokens_details":{"reasoning_tokens":0}}}'

function request()
  counter = counter + 1
  local body = string.format(template, prefix, tid, counter, prefix, tid, counter)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local by_status = {}
  for _, thread in ipairs(threads) do
    -- thread:get copies the table out of the thread's Lua state.
    local s = thread:get("statuses")
    for code, n in pairs(s) do
      by_status[code] = (by_status[code] or 0) + n
    end
  end
  local parts = {}
  for code, n in pairs(by_status) do
    table.insert(parts, string.format('"%d":%d', code, n))
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d},"statuses":{%s}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    table.concat(parts, ",")))
end
