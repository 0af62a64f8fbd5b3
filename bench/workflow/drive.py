"""bench/workflow driver: submit N dossiers (ward 20242, applicants known to the population simulator),
wait until all are identity_verified, then let K officials (threads, each with its own key) work them
receive -> approve -> return_result with If-Match. Prints completed dossiers/s, per-step p50/p99 and
the share of approve time spent signing (from the signing ceiling) vs the rest."""
import concurrent.futures as cf
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "integration"))
import harness as H  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 600
K = int(sys.argv[2]) if len(sys.argv) > 2 else 8
ceiling = float(os.environ.get("SIGN_CEILING") or 0)
OFFICIALS = os.environ.get("BENCH_OFFICIALS", os.path.join(os.path.dirname(H.MOTCUAD), "bench", "workflow", "bench-officials"))
certs = os.path.join(H.RUN, "certs")
sim = H.PopdbSim()
people = [p for p in sim.data["citizens"] if not p["deceased"] and p["birth_date"][:4] < "2006"]
# the API-key cache at its deployed default (10 s; the tests turn it off to see revocations at once)
env = dict(sim.env(), MOTCUA_LOG_LEVEL="warn", MOTCUA_RATE_LIMIT_RPS="0", MOTCUA_IDENTITY_POLL_MS="20",
           MOTCUA_AUTH_CACHE_TTL_S="10",
           MOTCUA_DB_POOL_SIZE="16", **H.signing_env(certs))
s = H.Stack("bench_workflow", env=env)
JSON = {"Content-Type": "application/json"}


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * q))] if v else 0.0


try:
    s.start()
    keys = [s.new_key("official", "20242", "bench-official-%d" % i) for i in range(K)]
    t0 = time.time()
    with cf.ThreadPoolExecutor(32) as ex:
        codes = [r.json()["dossierCode"] for r in ex.map(
            lambda i: s.submit(H.dossier_for(people[i % len(people)]), idem=H.new_key_id()), range(N))]
    t_submit = time.time() - t0
    while int(s.sql("SELECT COUNT(*) FROM dossier WHERE state = 'identity_verified'")) < N:
        if time.time() - t0 > 300:
            raise SystemExit("identity checks did not finish")
        time.sleep(0.2)
    t_verified = time.time() - t0
    # the officials' phase runs in C (bench-officials): a Python driver would be the bottleneck
    kf, cf_ = os.path.join(H.RUN, "bench-officials.keys"), os.path.join(H.RUN, "bench-officials.codes")
    with open(kf, "w") as f:
        f.write("\n".join(keys) + "\n")
    with open(cf_, "w") as f:
        f.write("\n".join(codes) + "\n")
    probe, stop = [], threading.Event()

    def health():  # /healthz 100 times a second while approvals sign on the workers
        while not stop.is_set():
            a = time.time()
            H.request("GET", "/healthz", port=s.port)
            probe.append((time.time() - a) * 1e3)
            time.sleep(0.01)

    def db_counters():  # the server's statement counters (global: nothing else uses this MariaDB meanwhile)
        rows = H.mariadb("sql", "-N", "-B", "-e", "SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions',"
                         " 'Com_select', 'Com_insert', 'Com_update', 'Com_commit', 'Innodb_data_fsyncs')").stdout
        return {k: int(v) for k, v in (l.split("\t") for l in rows.splitlines())}

    def cpu_s(pid):  # user + system CPU seconds a process has used
        with open("/proc/%d/stat" % pid) as f:
            v = f.read().rsplit(")", 1)[1].split()
        return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")

    with open(os.path.join(H.RUN, "mariadb", "mysqld.pid")) as f:
        db_pid = int(f.read())
    prober = threading.Thread(target=health)
    prober.start()
    cpu_before = (cpu_s(s.proc.pid), cpu_s(db_pid))
    before = db_counters()
    out = subprocess.run([OFFICIALS, "http://127.0.0.1:%d" % s.port, kf, cf_], capture_output=True, text=True).stdout
    after = db_counters()
    cpu_after = (cpu_s(s.proc.pid), cpu_s(db_pid))
    stop.set()
    prober.join()
    line = dict(kv.split("=") for kv in out.splitlines()[0].split())
    rate, t_work = float(line["completed_per_s"]), float(line["officials_phase"].rstrip("s"))
    done = int(s.sql("SELECT COUNT(*) FROM dossier WHERE state = 'result_returned'"))
    results = int(s.sql("SELECT COUNT(*) FROM result"))
    print("dossiers=%d officials=%d submitted_in=%.1fs identity_verified_after=%.1fs" % (N, K, t_submit, t_verified))
    print("completed=%d results_signed=%d errors=%s officials_phase=%.1fs completed_per_s=%.0f" % (
        done, results, line["errors"], t_work, rate))
    print("\n".join(out.splitlines()[1:]))
    per = {k: (after[k] - before[k]) / N for k in after}
    print("db_per_completed_dossier statements=%.1f selects=%.1f inserts=%.1f updates=%.1f commits=%.1f fsyncs=%.1f" % (
        per["Questions"], per["Com_select"], per["Com_insert"], per["Com_update"], per["Com_commit"],
        per["Innodb_data_fsyncs"]))
    # CPU per completed dossier: what the phase costs, whatever else shares the cores
    print("cpu_per_completed_dossier_ms motcuad=%.2f mariadb=%.2f (officials' phase, both processes' user+system)" % (
        1e3 * (cpu_after[0] - cpu_before[0]) / N, 1e3 * (cpu_after[1] - cpu_before[1]) / N))
    print("healthz_during_signing samples=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f" % (
        len(probe), pct(probe, 0.5), pct(probe, 0.99), max(probe) if probe else 0))
    if ceiling:
        sign_ms = 1e3 / (ceiling / max(1, os.cpu_count() or 1))
        ap = float([l for l in out.splitlines() if l.startswith("step=approve")][0].split("p50_ms=")[1].split()[0])
        print("signing_ceiling_per_s=%.0f ratio_completed_to_ceiling=%.2f (target >= 0.60)" % (ceiling, rate / ceiling))
        print("approve_p50_ms=%.2f of which signing ~%.2f ms (%.0f%%), database and HTTP the rest" % (
            ap, sign_ms, 100 * sign_ms / ap if ap else 0))
finally:
    s.close()
    sim.stop()
