-- wrk script of the pipeline bench (bench/pipeline/): GET /api/connections/<random stored id> with the
-- bearer token, then one JSON summary line (parsed by read_load.py beside it).
-- BENCH_IDS_FILE: one connection id a line; BENCH_TOKEN: the API token.

local ids = {}
for line in io.lines(os.getenv("BENCH_IDS_FILE")) do
  ids[#ids + 1] = line
end
local headers = { ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN") }

local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("seed", threads)
end

function init(args)
  math.randomseed(os.time() * 100 + (seed or 0))
end

function request()
  return wrk.format("GET", "/api/connections/" .. ids[math.random(#ids)], headers)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_s": %.6f, "non_2xx": %d, "errors": %d}\n',
    summary.requests,
    summary.duration / 1e6,
    errors.status,
    errors.connect + errors.read + errors.write + errors.timeout
  ))
end
