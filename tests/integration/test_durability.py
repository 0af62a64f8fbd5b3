"""Durability and recovery: a 201 survives kill -9; with MariaDB stopped requests get 503 and nothing
is half-written; when it comes back the same process recovers without a restart. Also graceful
SIGTERM with requests in flight, and start-up refusals (bad config value, schema too new)."""
import concurrent.futures as cf
import subprocess
import time
import harness as H

s = H.Stack("durability")
try:
    s.start()
    body = H.sample("1.004873")
    r = s.submit(body, idem=H.new_key_id())
    H.check(r.status == 201, "submit -> 201")
    code = r.json()["dossierCode"]
    s.kill9()
    s.proc = None
    s.start()
    g = s.req("GET", "/v1/dossiers/" + code, key="portal")
    H.check(g.status == 200 and g.json()["dossierCode"] == code, "after kill -9 and restart the dossier is there")

    # database down
    H.mariadb("stop")
    try:
        t0 = time.time()
        r = s.submit(body, idem=H.new_key_id())
        H.check(r.status == 503 and r.header("Content-Type") == "application/problem+json",
                "MariaDB down: POST -> 503 problem (got %d)" % r.status)
        H.check(r.header("Retry-After") is not None, "503 carries Retry-After")
        H.check(time.time() - t0 < 10, "503 comes quickly (%.1fs)" % (time.time() - t0))
        H.check(s.req("GET", "/readyz").status == 503, "readyz 503 while the database is down")
        H.check(s.req("GET", "/healthz").status == 200, "healthz still 200 (process alive)")
    finally:
        H.mariadb("start")
    ok = False
    for _ in range(50):
        r = s.submit(body, idem=H.new_key_id())
        if r.status == 201:
            ok = True
            break
        time.sleep(0.2)
    H.check(ok, "after MariaDB restarts the same motcuad accepts dossiers again")
    H.check(s.req("GET", "/readyz").status == 200, "readyz 200 again")
    H.check(s.sql("SELECT COUNT(*) FROM idempotency_key k LEFT JOIN dossier d ON d.id = k.dossier_id"
                  " WHERE d.id IS NULL OR d.code IS NULL OR k.receipt = ''") == "0",
            "no half-written dossier: every key has its dossier and its receipt")
    H.check(s.sql("SELECT COUNT(*) FROM dossier d WHERE NOT EXISTS (SELECT 1 FROM dossier_history h WHERE h.dossier_id = d.id)") == "0",
            "every dossier has its history row")

    # graceful SIGTERM with requests in flight: every answered request is either 201 (and stored) or 503
    def fire(i):
        try:
            return s.submit(body, idem="term-%d" % i)
        except OSError:
            return None
    with cf.ThreadPoolExecutor(max_workers=40) as ex:
        futs = [ex.submit(fire, i) for i in range(40)]
        time.sleep(0.05)
        rc = s.stop()
        res = [f.result() for f in futs]
    H.check(rc == 0, "SIGTERM -> exit 0")
    answered = [r for r in res if r is not None]
    H.check(all(r.status in (201, 503) for r in answered), "in-flight requests end in 201 or 503: %s" % sorted({r.status for r in answered}))
    stored = int(s.sql("SELECT COUNT(*) FROM idempotency_key WHERE idem_key LIKE 'term-%'"))
    H.check(stored >= sum(1 for r in answered if r.status == 201), "every 201 during shutdown is stored")

    # start-up refusals
    p = subprocess.run([H.MOTCUAD], env=dict(s.env, MOTCUA_LISTEN_PORT="99999"), capture_output=True, text=True, timeout=30)
    H.check(p.returncode != 0 and "listen_port" in p.stderr, "bad config value names the key: %r" % p.stderr[:200])
    p = subprocess.run([H.MOTCUAD], env=dict(s.env, MOTCUA_XML_MAX_DEPTH="deep"), capture_output=True, text=True, timeout=30)
    H.check(p.returncode != 0 and "xml_max_depth" in p.stderr, "non-integer names the key")
    p = subprocess.run([H.MOTCUAD], env=dict(s.env, MOTCUA_LOG_LEVEL="DEBUG"), capture_output=True, text=True, timeout=30)
    H.check(p.returncode != 0 and "log_level" in p.stderr, "unknown log level names the key")
    p = subprocess.run([H.MOTCUAD], env=dict(s.env, MOTCUA_DB_DSN=s.env["MOTCUA_DB_DSN"] + "&bulk=maybe"),
                       capture_output=True, text=True, timeout=30)
    H.check(p.returncode != 0 and "bulk" in p.stderr, "an unknown DSN option value names it: %r" % p.stderr[:200])
    s.sql("INSERT INTO schema_version (version, name, applied_at) VALUES (999, '999_future.sql', UTC_TIMESTAMP())")
    p = subprocess.run([H.MOTCUAD], env=dict(s.env, MOTCUA_LISTEN_PORT=str(H.free_port())), capture_output=True, text=True, timeout=30)
    H.check(p.returncode != 0 and "newer" in p.stderr, "schema newer than the build refuses to start: %r" % p.stderr[:200])
    r = s.admin("migrate", check_rc=False)
    H.check(r.returncode != 0, "migrate refuses a newer schema")
finally:
    s.close()
H.finish()
