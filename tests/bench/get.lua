-- wrk script for the GET scenarios of tests/bench/run.sh. It changes nothing in the requests wrk sends (method, URL
-- and -H headers come from the command line) except that, when BENCH_PATHS lists several paths (separated by
-- spaces), each connection cycles through them, one per request. At the end it prints the 95th percentile of the
-- latency, which wrk's --latency table leaves out ("p95 latency: MICROSECONDS us").

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
end
