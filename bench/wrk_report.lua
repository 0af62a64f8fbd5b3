-- bench/wrk_report.lua - the one line every wrk run of the benches prints (dofile'd by their scripts,
-- run from the source root): requests, rate, p50/p99 and errors.
done = function(summary, latency, requests)
  io.write(string.format("wrk_requests=%d wrk_rps=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d socket_errors=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
