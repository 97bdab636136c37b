-- wrk script for the login scenario of tests/bench/run.sh: POST /v1/auth/login with a practitioner's correct
-- password. run.sh exports BENCH_PRACTITIONER_EMAIL and BENCH_PRACTITIONER_PASSWORD before starting wrk.
-- Every request does a full Argon2id verification plus a refresh-token insert, so expect low numbers.

local function env(name)
  local v = os.getenv(name)
  if v == nil or v == "" then
    error(name .. " is not set (run this through tests/bench/run.sh)")
  end
  return v
end

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":' .. json_string(env("BENCH_PRACTITIONER_EMAIL")) .. ',"password":'
  .. json_string(env("BENCH_PRACTITIONER_PASSWORD")) .. "}"

-- BENCH_LOGIN_PAUSE_MS (run.sh's head-of-line measurement): each connection waits this long before each login, so
-- that a few connections spread over the server's workers log in now and then instead of taking every core.
local pause_ms = tonumber(os.getenv("BENCH_LOGIN_PAUSE_MS") or "0") or 0
if pause_ms > 0 then
  function delay()
    return pause_ms
  end
end

-- The 95th percentile of the latency, which wrk's --latency table leaves out (run.sh reads this line).
function done(summary, latency, requests)
  io.write(string.format("p95 latency: %.0f us\n", latency:percentile(95)))
end
