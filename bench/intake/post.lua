-- wrk script for bench/intake: POST the sample dossier; each request is a new dossier. With KEYS=1 each
-- request carries its own Idempotency-Key, as a portal that retries safely sends it (the key's row and
-- the stored receipt are then part of every intake).
local f = assert(io.open(os.getenv("DOSSIER"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/xml"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")

if os.getenv("KEYS") == "1" then
  local prefix, n = nil, 0
  init = function(args)
    -- one Lua state per wrk thread: a random prefix each keeps the threads' keys apart
    local urandom = assert(io.open("/dev/urandom", "rb"))
    prefix = urandom:read(8):gsub(".", function(c) return string.format("%02x", c:byte()) end)
    urandom:close()
  end
  request = function()
    n = n + 1
    wrk.headers["Idempotency-Key"] = prefix .. "-" .. n
    return wrk.format()
  end
end

dofile("bench/wrk_report.lua") -- done(): the report line
