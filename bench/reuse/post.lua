-- wrk script for bench/reuse: POST marriage registrations whose applicant is one of HOLDERS seeded
-- holders (048090nnnnnn), spread over them; TEMPLATE has @PID@ where the applicant's ID goes.
local f = assert(io.open(os.getenv("TEMPLATE"), "rb"))
local tpl = f:read("*a")
f:close()
local holders = tonumber(os.getenv("HOLDERS"))
local k = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/xml"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")

setup = function(thread)
  k = k + 1
  thread:set("offset", k * 1000003)
end

-- PACE_MS: each connection waits an exponentially distributed time of this mean between a reply and
-- its next request, so the offered rate stays well below saturation (about connections / (pace +
-- latency)) and p99 shows what reuse adds to a dossier's own latency rather than to queueing.
local pace = tonumber(os.getenv("PACE_MS") or "0")
if pace > 0 then
  delay = function()
    return math.floor(-math.log(1 - math.random()) * pace)
  end
end

local i = 0
request = function()
  i = i + 1
  local pid = string.format("048090%06d", ((offset or 0) + i * 7919) % holders)
  return wrk.format(nil, nil, nil, (tpl:gsub("@PID@", pid)))
end

done = function(summary, latency, requests)
  io.write(string.format("wrk_requests=%d wrk_rps=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d socket_errors=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
