"""bench/identity driver: for each remote latency, load N dossiers with identity checks off, then start
motcuad with the simulator configured and time how fast the sweeper checks the backlog, sampling
/healthz 100 times a second meanwhile. Prints checks/s, time-to-verified p50/p99, /healthz p99."""
import concurrent.futures as cf
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "integration"))
import harness as H  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
sim = H.PopdbSim()
people = [p for p in sim.data["citizens"] if not p["deceased"] and p["birth_date"][:4] < "2006"]
bodies = [H.dossier_for(people[i % len(people)]) for i in range(N)]


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * q))] if v else 0.0


try:
    for latency in [int(x) for x in os.environ.get("LATENCIES", "0,50,2000").split(",")]:
        # the API-key cache at its deployed default (the tests turn it off to see revocations at once)
        s = H.Stack("bench_identity", env={"MOTCUA_LOG_LEVEL": "warn", "MOTCUA_RATE_LIMIT_RPS": "0",
                                           "MOTCUA_AUTH_CACHE_TTL_S": "10"})
        s.start()
        with cf.ThreadPoolExecutor(32) as ex:
            st = list(ex.map(lambda b: s.submit(b).status, bodies))
        assert st.count(201) == N, sorted(set(st))
        s.stop()
        sim.reset()
        sim.faults(latency=latency)
        t0 = time.time()
        p = s.start(env=dict(sim.env(), MOTCUA_LOG_LEVEL="warn", MOTCUA_IDENTITY_POLL_MS="20",
                             MOTCUA_POPDB_TIMEOUT_MS="10000"))
        lat = []
        while True:
            a = time.time()
            H.request("GET", "/healthz", port=p.port)
            lat.append((time.time() - a) * 1e3)
            if len(lat) % 50 == 0:
                left = int(s.sql("SELECT COUNT(*) FROM dossier WHERE state IN ('submitted','identity_pending')"))
                if left == 0 or time.time() - t0 > 600:
                    break
            time.sleep(0.01)
        first = s.sql("SELECT MIN(checked_at) FROM identity_check")
        done_at = sorted(float(x) for x in s.sql(
            "SELECT TIMESTAMPDIFF(MICROSECOND, '%s', checked_at) / 1e6 FROM identity_check" % first).split())
        # throughput over the first 99% of the checks; the rest are reported as stragglers (retried)
        span = done_at[int(len(done_at) * 0.99) - 1]
        stragglers = sum(1 for t in done_at if t > span)
        waits = [float(x) for x in s.sql(
            "SELECT TIMESTAMPDIFF(MICROSECOND, GREATEST(d.received_at, '%s'), c.checked_at) / 1e3 FROM dossier d"
            " JOIN identity_check c ON c.dossier_id = d.id" % first).split()]
        verified = int(s.sql("SELECT COUNT(*) FROM dossier WHERE state = 'identity_verified'"))
        calls = sim.stats()["calls"]["verify"]
        print("latency=%dms dossiers=%d verified=%d remote_calls=%d checks_per_s=%.0f (first 99%%; %d later) time_to_verified_p50_ms=%.0f p99_ms=%.0f"
              " healthz_p50_ms=%.2f healthz_p99_ms=%.2f healthz_max_ms=%.2f"
              % (latency, N, verified, calls, 0.99 * N / span if span else 0, stragglers, pct(waits, 0.5), pct(waits, 0.99),
                 pct(lat, 0.5), pct(lat, 0.99), max(lat)), flush=True)
        s.close()
finally:
    sim.stop()
