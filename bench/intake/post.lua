-- wrk script for bench/intake: POST the sample dossier; each request is a new dossier.
local f = assert(io.open(os.getenv("DOSSIER"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/xml"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")

dofile("bench/wrk_report.lua") -- done(): the report line
