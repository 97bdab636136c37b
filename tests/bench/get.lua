-- wrk script for the GET scenarios of tests/bench/run.sh. It changes nothing in the requests wrk sends (method, URL
-- and -H headers come from the command line) except that, when BENCH_PATHS lists several paths (separated by
-- spaces), each connection cycles through them, one per request. At the end it prints the 95th percentile of the
-- latency, which wrk's --latency table leaves out ("p95 latency: MICROSECONDS us"), and the 99.9th.

local paths = {}
for p in (os.getenv("BENCH_PATHS") or ""):gmatch("%S+") do
  table.insert(paths, p)
end

if #paths > 1 then
  local i = 0
  function request()
    i = i % #paths + 1
    return wrk.format(nil, paths[i])
  end
end

function done(summary, latency, requests)
  io.write(string.format("p95 latency: %.0f us\n", latency:percentile(95)))
  -- The head-of-line measurement's figure: requests stuck behind a slow one are few, because wrk's connections
  -- wait for their answers (the stuck ones send less), so they show past the 99th percentile.
  io.write(string.format("p99.9 latency: %.0f us\n", latency:percentile(99.9)))
end
