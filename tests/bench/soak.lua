-- wrk script for tests/bench/soak.sh: a mixed read/write workload. Run with as many threads as connections
-- (wrk -tN -cN), so each thread is one connection acting as one member, whose requests never overlap (no
-- conflicts between its own writes). Each connection cycles through PLAN:
--   reads:  sites list, groups list, one event, members list (admin), one site, events list, /v1/me
--   writes: PATCH /v1/me display_name (a new value each time), registration going / declined on one event
--           (rows are updated in place: nothing grows but the audit log)
-- soak.sh exports SOAK_TOKENS (member access tokens separated by spaces, one per connection at least),
-- SOAK_ADMIN_TOKEN, SOAK_EVENT_ID and SOAK_SITE_ID. Every status seen is counted and printed at the end
-- ("status NNN: COUNT" lines), so soak.sh can tell which non-2xx there were.

local function env(name)
  local v = os.getenv(name)
  if v == nil or v == "" then
    error(name .. " is not set (run this through tests/bench/soak.sh)")
  end
  return v
end

local next_id = 0
local all_threads = {}

function setup(thread)
  next_id = next_id + 1
  thread:set("id", next_id)
  table.insert(all_threads, thread)
end

local token, admin, event_id, site_id, me_headers, admin_headers, json_headers
local n = 0
local member_no = 0
statuses = {}

function init(args)
  local tokens = {}
  for t in env("SOAK_TOKENS"):gmatch("%S+") do
    table.insert(tokens, t)
  end
  member_no = id
  token = tokens[((id - 1) % #tokens) + 1]
  admin = env("SOAK_ADMIN_TOKEN")
  event_id = env("SOAK_EVENT_ID")
  site_id = env("SOAK_SITE_ID")
  me_headers = { ["Authorization"] = "Bearer " .. token }
  admin_headers = { ["Authorization"] = "Bearer " .. admin }
  json_headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
end

local PLAN = {
  function() return wrk.format("GET", "/v1/sites?limit=50", me_headers) end,
  function() return wrk.format("GET", "/v1/groups?limit=50", me_headers) end,
  function() return wrk.format("GET", "/v1/events/" .. event_id, me_headers) end,
  function()
    return wrk.format("PATCH", "/v1/me", json_headers,
      string.format('{"display_name":"Soak member %d, write %d"}', member_no, n))
  end,
  function() return wrk.format("GET", "/v1/members?limit=50", admin_headers) end,
  function()
    return wrk.format("PUT", "/v1/events/" .. event_id .. "/registration", json_headers, '{"status":"going"}')
  end,
  function() return wrk.format("GET", "/v1/sites/" .. site_id, me_headers) end,
  function() return wrk.format("GET", "/v1/events?limit=50", me_headers) end,
  function()
    return wrk.format("PUT", "/v1/events/" .. event_id .. "/registration", json_headers, '{"status":"declined"}')
  end,
  function() return wrk.format("GET", "/v1/me", me_headers) end,
}

function request()
  n = n + 1
  return PLAN[((n - 1) % #PLAN) + 1]()
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(all_threads) do
    local s = thread:get("statuses")
    for code, count in pairs(s) do
      total[code] = (total[code] or 0) + count
    end
  end
  local codes = {}
  for code in pairs(total) do
    table.insert(codes, code)
  end
  table.sort(codes)
  for _, code in ipairs(codes) do
    io.write(string.format("status %d: %d\n", code, total[code]))
  end
end
