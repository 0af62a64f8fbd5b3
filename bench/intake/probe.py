"""Sample GET /healthz at a fixed rate (default 100/s) on one keep-alive connection for N seconds and
print p50/p99/max latency. /healthz is answered by the loop thread itself, so this shows whether
database work ever stalls the loop. usage: probe.py PORT SECONDS [RATE]"""
import http.client
import sys
import time

port, secs = int(sys.argv[1]), float(sys.argv[2])
rate = float(sys.argv[3]) if len(sys.argv) > 3 else 100.0
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
lat, end = [], time.time() + secs
while time.time() < end:
    t0 = time.perf_counter()
    c.request("GET", "/healthz")
    c.getresponse().read()
    lat.append((time.perf_counter() - t0) * 1e3)
    time.sleep(max(0.0, 1.0 / rate - (time.perf_counter() - t0)))
lat.sort()
print("healthz_samples=%d healthz_p50_ms=%.2f healthz_p99_ms=%.2f healthz_max_ms=%.2f"
      % (len(lat), lat[len(lat) // 2], lat[int(len(lat) * 0.99)], lat[-1]))
