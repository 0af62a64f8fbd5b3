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

dofile("bench/wrk_report.lua") -- done(): the report line
