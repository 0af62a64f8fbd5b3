"""Identity checks against the population-database simulator over real TLS: match, mismatch on name
and birth date, unknown ID, deceased, the gender digit caught locally; simulator down at submission
-> 201 + parked -> verified when it returns, checked exactly once; two motcuad processes check every
dossier exactly once; 2 s remote latency does not slow /healthz (the loop is never blocked)."""
import concurrent.futures as cf
import copy
import time
import harness as H

sim = H.PopdbSim()
people = sim.data["citizens"]
alive = [p for p in people if not p["deceased"] and p["birth_date"][:4] < "2006"]
by_id = {p["personal_id"]: p for p in people}
env = dict(sim.env(), MOTCUA_IDENTITY_POLL_MS="50", MOTCUA_IDENTITY_BACKOFF_BASE_S="1",
           MOTCUA_IDENTITY_BACKOFF_CAP_S="2", MOTCUA_POPDB_TIMEOUT_MS="5000", MOTCUA_POPDB_MAX_RETRIES="1")
s = H.Stack("identity", env=env)
pick = iter(alive)


def submit(person, subject=None):
    r = s.submit(H.dossier_for(person, subject), idem=H.new_key_id())
    assert r.status == 201, (r.status, r.body[:300])
    return r.json()["dossierCode"]


def verify_count(pid):
    return sim.stats()["verify_by_id"].get(pid, 0)


try:
    s.start()
    # match
    p = next(pick)
    code = submit(p)
    d = H.wait_state(s, code, {"identity_verified", "identity_mismatch"})
    H.check(d["state"] == "identity_verified", "matching applicant -> identity_verified (got %s)" % d["state"])
    H.check(d["nationalStatus"] == 1, "verified dossier still national status 1 until received")
    checks = d.get("identityChecks", [])
    H.check(len(checks) == 1 and checks[0]["outcome"] == "verified" and "name" in checks[0]["matched"],
            "outcome stored: verified, matched fields, request id")
    H.check(all(k not in str(d) for k in ("household", "ethnicity", p["permanent_residence"]["detail"])),
            "no copy of the population record in the dossier")
    h = s.req("GET", "/v1/dossiers/%s/history" % code, key="portal").json()["history"]
    H.check([e["toState"] for e in h] == ["submitted", "identity_verified"], "history: submitted -> identity_verified")

    # mismatch on the name, on the birth date
    q = dict(next(pick))
    q["full_name"] = q["full_name"] + " Nhầm"
    code = submit(q)
    d = H.wait_state(s, code, {"identity_verified", "identity_mismatch"})
    H.check(d["state"] == "identity_mismatch" and d["nationalStatus"] == 3, "name mismatch -> identity_mismatch, national 3")
    H.check("họ tên" in d.get("statusReason", "") and "full name" in d.get("statusReason", ""),
            "reason names the field (vi + en): %s" % d.get("statusReason"))
    q = dict(next(pick))
    day = int(q["birth_date"][6:8])
    q["birth_date"] = q["birth_date"][:6] + "%02d" % (day % 28 + 1)
    code = submit(q)
    d = H.wait_state(s, code, {"identity_verified", "identity_mismatch"})
    H.check(d["state"] == "identity_mismatch" and "date of birth" in d.get("statusReason", ""), "birth date mismatch named")
    # a named person (the subject) who does not match
    a, b = next(pick), dict(next(pick))
    b["full_name"] = "Sai Tên"
    code = submit(a, b)
    d = H.wait_state(s, code, {"identity_verified", "identity_mismatch"})
    H.check(d["state"] == "identity_mismatch" and d.get("statusReason", "").startswith("người được cấp"),
            "subject mismatch names the subject: %s" % d.get("statusReason"))
    # unknown ID (valid shape and consistent digits, not in the database)
    u = dict(next(pick))
    u["personal_id"] = u["personal_id"][:6] + "999999"
    while u["personal_id"] in by_id:
        u["personal_id"] = str(int(u["personal_id"]) - 1).zfill(12)
    code = submit(u)
    d = H.wait_state(s, code, {"identity_verified", "identity_mismatch"})
    H.check(d["state"] == "identity_mismatch" and "not found" in d.get("statusReason", ""), "unknown ID -> mismatch, not found")
    # deceased
    dead = [p for p in people if p["deceased"] and p["birth_date"][:4] < "2006"][0]
    code = submit(dead)
    d = H.wait_state(s, code, {"identity_verified", "identity_mismatch"})
    H.check(d["state"] == "identity_mismatch" and "deceased" in d.get("statusReason", ""), "deceased applicant -> mismatch")
    # the gender digit disagrees with the declared gender: refused locally, before any remote call
    g = copy.deepcopy(next(pick))
    before = sim.stats()["calls"]["total"]
    g["gender"] = "F" if g["gender"] == "M" else "M"
    r = s.submit(H.dossier_for(g))
    H.check(r.status == 422 and r.json()["type"].endswith("/personal-id-inconsistent"), "gender digit mismatch -> 422 locally")
    H.check(sim.stats()["calls"]["total"] == before, "no remote call for a locally inconsistent ID")

    # declared-information reduction: fields the population record confirmed, per procedure
    st = s.req("GET", "/v1/stats", key="monitor").json()
    ext = [p for p in st["procedures"] if p["procedure"] == "2.000635"]
    H.check(ext and ext[0]["declaredFields"] > 0 and ext[0]["declaredFieldsPrefillable"] >= 3,
            "stats count declared fields and those the population record confirmed: %r" % (ext[:1],))

    # prefill: consent required, portal only, a look-up that must match, rate-limited, never stored
    import urllib.parse as up
    p = next(pick)
    qs = {"fullName": p["full_name"], "birthDate": "%s-%s-%s" % (p["birth_date"][:4], p["birth_date"][4:6], p["birth_date"][6:])}
    url = "/v1/citizens/%s/prefill?" % p["personal_id"]
    r = s.req("GET", url + up.urlencode(qs), key="portal")
    H.check(r.status == 403 and r.json()["type"].endswith("/consent-required"), "prefill without consent -> 403")
    r = s.req("GET", url + up.urlencode(dict(qs, consent="true")), key="portal")
    H.check(r.status == 200 and r.json()["fullName"] == p["full_name"] and r.json()["permanentResidence"]["ward"],
            "prefill with consent -> the record's fields (%d)" % r.status)
    r = s.req("GET", url + up.urlencode(dict(qs, consent="true", fullName="Không Phải")), key="portal")
    H.check(r.status == 404, "prefill with a wrong name -> 404, nothing revealed")
    H.check(s.req("GET", url + up.urlencode(dict(qs, consent="true")), key="official").status == 403, "official may not prefill")
    codes = [s.req("GET", url + up.urlencode(dict(qs, consent="true")), key="portal2").status for _ in range(25)]
    H.check(429 in codes and 200 in codes, "prefill is rate-limited per client: %s" % sorted(set(codes)))

    # simulator down at submission: 201 + parked; back: verified, checked exactly once
    sim.stop()
    p = next(pick)
    code = submit(p)
    d = H.wait_state(s, code, {"identity_pending"})
    H.check(d["state"] == "identity_pending", "remote down: 201 and parked in identity_pending (got %s)" % d["state"])
    H.check("temporarily unavailable" in d.get("statusReason", ""), "parked reason visible")
    time.sleep(1.0)
    sim.start()
    d = H.wait_state(s, code, {"identity_verified"}, timeout=30)
    H.check(d["state"] == "identity_verified", "remote back: parked dossier verified without resubmission")
    H.check(verify_count(p["personal_id"]) == 1, "checked exactly once at the simulator (%d)" % verify_count(p["personal_id"]))

    # TLS failure at the gateway: the handshake fails (never retried, fails closed), the dossier parks;
    # a healthy gateway again: verified without resubmission
    sim.stop()
    broken = H.PopdbSim(port=sim.port, tls_fail=True)
    p = next(pick)
    code = submit(p)
    d = H.wait_state(s, code, {"identity_pending"})
    H.check(d["state"] == "identity_pending", "TLS handshake failure: parked in identity_pending (got %s)" % d["state"])
    log = open(s.proc.logpath, "rb").read().decode("utf-8", "replace")
    H.check("reason=TLS" in log, "the adapter reports the TLS failure (reason=TLS) in the log")
    broken.stop()
    sim.start()
    d = H.wait_state(s, code, {"identity_verified"}, timeout=30)
    H.check(d["state"] == "identity_verified", "healthy TLS again: the parked dossier is verified")

    # two motcuad processes on one database: every dossier checked exactly once
    second = s.start()
    sim.faults(latency=150)
    batch = [next(pick) for _ in range(60)]
    with cf.ThreadPoolExecutor(16) as ex:
        codes = list(ex.map(submit, batch))
    for c in codes:
        H.wait_state(s, c, {"identity_verified"}, timeout=60)
    counts = [verify_count(p["personal_id"]) for p in batch]
    H.check(all(n == 1 for n in counts), "two processes: each of 60 dossiers checked exactly once (%s)" % sorted(set(counts)))
    s.stop(second)
    sim.reset()

    # 2 s latency on every call: the loop keeps answering /healthz while 200 dossiers are checked
    sim.faults(latency=2000)
    batch = [next(pick) for _ in range(200)]
    t0 = time.time()
    with cf.ThreadPoolExecutor(32) as ex:
        codes = list(ex.map(submit, batch))
    # sample for two remote latencies after the last submission, so the samples always overlap checks in
    # flight (a window counted from t0 could be used up by the submissions on a loaded machine)
    lat, t1 = [], time.time()
    while time.time() - t1 < 4:
        r = H.request("GET", "/healthz", port=s.port)
        lat.append(r.elapsed * 1000)
        time.sleep(0.01)
    deadline = time.time() + 60
    states = [H.wait_state(s, c, {"identity_verified"}, timeout=max(0.1, deadline - time.time()))["state"] for c in codes]
    done_s = time.time() - t0
    lat.sort()
    p99 = lat[int(len(lat) * 0.99)]
    print("healthz under 2 s remote latency: samples=%d p50=%.2f ms p99=%.2f ms max=%.2f ms; 200 checked in %.1f s"
          % (len(lat), lat[len(lat) // 2], p99, lat[-1], done_s))
    H.check(states.count("identity_verified") == 200, "all 200 verified under 2 s latency")
    # functional, not a speed claim: one remote call made on the loop would hold /healthz for 2 s, so no sample
    # may wait half of that; the latency figure itself (p99 target 20 ms) is measured in bench/identity
    # (docs/benchmarks.md), not asserted here
    H.check(len(lat) > 100 and lat[-1] < 1000, "the loop is never blocked while 200 checks wait on the remote: "
            "max /healthz %.1f ms < 1000 ms over %d samples" % (lat[-1], len(lat)))
    H.check(done_s < 60, "200 checks at 2 s each finish concurrently (%.1f s, not 400 s)" % done_s)
    sim.reset()
finally:
    s.close()
    sim.stop()
H.finish()
