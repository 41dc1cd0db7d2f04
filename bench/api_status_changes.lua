-- wrk script of bench/api.py: one status change per request through the Management API,
-- POST /api/v1/conversions/{id}/status-changes, each to a conversion of its own.
--
--   wrk ... -s bench/api_status_changes.lua URL -- IDS_FILE TOKEN THREADS [RATE]
--
-- IDS_FILE holds one Pending conversion id a line; thread t of THREADS takes the ids t, t +
-- THREADS, ... (no two requests change the same conversion in one pass; past the last id a
-- thread starts again with the other status, so every request is still a real change).
-- RATE (requests per second over all threads; 0 or absent: as fast as the server answers)
-- spaces the requests on a fixed schedule per thread (LuaJIT's ffi for a millisecond clock).
-- The last line is a JSON object of the run's figures, prefixed "wrk_json ".

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_usec; } bench_timeval;
int gettimeofday(bench_timeval *tv, void *tz);
]]
local clock = ffi.new("bench_timeval")

local function now_ms()
  ffi.C.gettimeofday(clock, nil)
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_usec) / 1000
end

local next_thread = 0
function setup(thread)
  thread:set("thread_index", next_thread)
  next_thread = next_thread + 1
end

local ids, position, pass, interval_ms, due_ms, headers = {}, 0, 0, 0, nil, {}

function init(args)
  local threads = tonumber(args[3])
  local index = 0
  for line in io.lines(args[1]) do
    if index % threads == thread_index then
      ids[#ids + 1] = line
    end
    index = index + 1
  end
  headers["Authorization"] = "ApiToken " .. args[2]
  headers["Content-Type"] = "application/json"
  local rate = tonumber(args[4] or "0")
  if rate > 0 then
    interval_ms = 1000 * threads / rate
  end
end

function delay()
  if interval_ms == 0 then
    return 0
  end
  local now = now_ms()
  due_ms = (due_ms or now) + interval_ms
  return math.max(0, math.floor(due_ms - interval_ms - now))
end

function request()
  position = position + 1
  if position > #ids then
    position, pass = 1, pass + 1
  end
  local status = (pass % 2 == 0) and "success" or "rejected"
  return wrk.format(
    "POST", "/api/v1/conversions/" .. ids[position] .. "/status-changes", headers,
    '{"status": "' .. status .. '", "reason": "bench"}'
  )
end

function done(summary, latency, requests)
  io.write(string.format(
    'wrk_json {"requests": %d, "duration_us": %d, "errors_status": %d, "errors_connect": %d, '
      .. '"errors_read": %d, "errors_write": %d, "errors_timeout": %d, "p50_us": %d, '
      .. '"p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max
  ))
end
