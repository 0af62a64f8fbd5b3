"""Idempotency and concurrency: 200 parallel submissions (split over two motcuad processes on one
database) get 200 distinct codes with no gap in the daily sequence; replaying them with the same keys
creates nothing; a key reused with another body is a 409 problem. Then every valid sample at once, so
one group-commit batch mixes procedures, optional fields and component counts: each dossier's stored
bytes, rows and child rows must be its own."""
import concurrent.futures as cf
import glob
import hashlib
import os
import re
import subprocess
import time
import harness as H

N = 200
s = H.Stack("concurrency")
try:
    a = s.start()
    b = s.start()  # a second process on the same database
    body = H.sample("1.001193")
    keys = [H.new_key_id() for _ in range(N)]

    def submit(i):
        return s.submit(body, idem=keys[i], port=(a.port if i % 2 == 0 else b.port))

    with cf.ThreadPoolExecutor(max_workers=N) as ex:
        first = list(ex.map(submit, range(N)))
    statuses = [r.status for r in first]
    H.check(statuses.count(201) == N, "all %d parallel submissions -> 201 (got %s)" % (N, sorted(set(statuses))))
    codes = [r.json()["dossierCode"] for r in first if r.status == 201]
    H.check(len(set(codes)) == N, "distinct codes: %d of %d" % (len(set(codes)), N))
    seqs = sorted(int(c.rsplit("-", 1)[1]) for c in codes)
    prefixes = {c.rsplit("-", 1)[0] for c in codes}
    H.check(len(prefixes) == 1, "one agency and day: %s" % prefixes)
    H.check(seqs == list(range(1, N + 1)), "daily sequence 1..%d with no gaps (first %s, last %s)" % (N, seqs[:3], seqs[-3:]))
    H.check(s.sql("SELECT COUNT(*) FROM dossier") == str(N), "exactly %d dossiers stored" % N)
    H.check(s.sql("SELECT COUNT(*) FROM idempotency_key k LEFT JOIN dossier d ON d.id = k.dossier_id"
                  " WHERE d.id IS NULL OR d.code IS NULL OR k.receipt = ''") == "0",
            "no half-written dossier: every key has its dossier and its receipt")

    # replay: same keys, same bodies, in parallel, against the other process
    def replay(i):
        return s.submit(body, idem=keys[i], port=(b.port if i % 2 == 0 else a.port))

    with cf.ThreadPoolExecutor(max_workers=N) as ex:
        again = list(ex.map(replay, range(N)))
    H.check(all(r.status == 201 for r in again), "replays -> 201")
    H.check(all(again[i].body == first[i].body for i in range(N)), "replays return the identical receipt")
    H.check(all(r.header("Idempotent-Replayed") == "true" for r in again), "replays are marked Idempotent-Replayed")
    H.check(s.sql("SELECT COUNT(*) FROM dossier") == str(N), "replays created nothing")

    # concurrent twins: the same new key sent 20 times at once -> one dossier
    twin = H.new_key_id()
    with cf.ThreadPoolExecutor(max_workers=20) as ex:
        twins = list(ex.map(lambda i: s.submit(body, idem=twin, port=(a.port if i % 2 else b.port)), range(20)))
    H.check(all(r.status == 201 for r in twins), "twins -> 201 (%s)" % sorted({r.status for r in twins}))
    H.check(len({r.json()["dossierCode"] for r in twins if r.status == 201}) == 1, "twins share one dossier code")
    H.check(s.sql("SELECT COUNT(*) FROM dossier") == str(N + 1), "twins created exactly one dossier")

    # same key, different body -> 409, nothing stored
    other = H.sample("1.000656")
    r = s.submit(other, idem=keys[0])
    H.check(r.status == 409 and r.json()["type"].endswith("/idempotency-conflict"), "same key, other body -> 409")
    H.check(s.sql("SELECT COUNT(*) FROM dossier") == str(N + 1), "conflict stored nothing")
    # keys are per client: another portal may use the same key string
    r = s.submit(body, key="portal2", idem=keys[0])
    H.check(r.status == 201 and r.json()["dossierCode"] != first[0].json()["dossierCode"], "keys are scoped per client")

    # mixed batches: every valid sample, 8 copies each, all at once, half of them with keys; once with
    # array binding and once through a process whose DSN turns it off (rows one statement each, as
    # behind a proxy without bulk operations)
    c = s.start(env={"MOTCUA_DB_DSN": s.env["MOTCUA_DB_DSN"] + "&bulk=off"})
    names = sorted(os.path.basename(p).split(".valid")[0] for p in glob.glob(os.path.join(H.SAMPLES, "*.valid.xml")))
    bodies = [(n, H.sample(n)) for n in names for _ in range(8)]
    for proc, how in ((a, "array binding"), (c, "bulk=off")):
        with cf.ThreadPoolExecutor(max_workers=len(bodies)) as ex:
            keyed = [H.new_key_id() if hash(b) % 2 else None for _, b in bodies]
            mixed = list(ex.map(lambda i: s.submit(bodies[i][1], idem=keyed[i], port=proc.port), range(len(bodies))))
        H.check(all(r.status == 201 for r in mixed), "%s: mixed samples at once -> 201 (%s)"
                % (how, sorted({r.status for r in mixed})))
        ok_bytes = ok_rows = ok_children = True
        for (name, body), r, key in zip(bodies, mixed, keyed):
            rec = r.json()
            code = rec["dossierCode"]
            # the receipt is kept with its key (for replays), and only there
            row = s.sql("SELECT HEX(body_sha256), UPPER(SHA2(body, 256)), procedure_code,"
                        " COALESCE((SELECT k.receipt = '%s' FROM idempotency_key k WHERE k.dossier_id = d.id), 'none'),"
                        " (SELECT COUNT(*) FROM dossier_component c WHERE c.dossier_id = d.id),"
                        " (SELECT COUNT(*) FROM dossier_history h WHERE h.dossier_id = d.id AND h.action = 'submit'),"
                        " (SELECT COUNT(*) FROM audit_log WHERE dossier_code = d.code AND action = 'submit')"
                        " FROM dossier d WHERE code = '%s'" % (r.body.decode().replace("'", "''"), code)).split("\t")
            sha = hashlib.sha256(body).hexdigest().upper()
            ok_bytes = ok_bytes and row[0] == sha and row[1] == sha
            ok_rows = ok_rows and row[2] == rec["procedure"]["code"] and row[3] == ("1" if key else "none")
            ok_children = ok_children and row[4] == str(len(rec["components"])) and row[5] == "1" and row[6] == "1"
            view = s.req("GET", "/v1/dossiers/" + code, key="portal").json()
            ok_children = ok_children and ([x["code"] for x in view["components"]]
                                           == sorted(x["code"] for x in rec["components"]))
        H.check(ok_bytes, "%s: each stored body is byte for byte the one submitted (stored SHA-256 = SHA-256 of the bytes)" % how)
        H.check(ok_rows, "%s: each dossier row has its own procedure, each keyed one its own stored receipt" % how)
        H.check(ok_children, "%s: each dossier has its own components, one submit history row and one audit row" % how)
    # the writer's cap: intake_inflight_max 8 and the writer held up (a session holds the audit chain's
    # head, which every batch locks before COMMIT): 8 dossiers are taken, the rest get 503 overloaded
    # at once; once the head is free the 8 are stored and answered 201, and nothing else is stored
    capped = s.start(env={"MOTCUA_INTAKE_INFLIGHT_MAX": "8"})
    before = int(s.sql("SELECT COUNT(*) FROM dossier"))
    holder = subprocess.Popen([H.MARIADB_SH, "sql", "-N", "-B", "--unbuffered", s.db], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    holder.stdin.write("START TRANSACTION; SELECT last_id FROM audit_head WHERE one = 1 FOR UPDATE;\n")
    holder.stdin.flush()
    holder.stdout.readline()  # the row: the head is locked
    M = 24
    with cf.ThreadPoolExecutor(max_workers=M) as ex:
        futs = [ex.submit(s.submit, body, idem=H.new_key_id(), port=capped.port) for _ in range(M)]
        t0 = time.time()
        while sum(f.done() for f in futs) < M - 8 and time.time() - t0 < 20:
            time.sleep(0.05)
        early = [f.result() for f in futs if f.done()]
        H.check(len(early) == M - 8 and all(r.status == 503 for r in early),
                "past the cap of 8 dossiers in flight: %d answered at once, all 503 (%s)"
                % (len(early), sorted({r.status for r in early})))
        H.check(all(r.json().get("type", "").endswith("/overloaded") and r.header("Retry-After") == "1"
                    for r in early), "the refusals are 'overloaded' problems with Retry-After: 1")
        H.check(int(s.sql("SELECT COUNT(*) FROM dossier")) == before, "nothing stored while the writer waits")
        holder.stdin.write("ROLLBACK;\n")
        holder.stdin.close()
        holder.wait(timeout=20)
    statuses = sorted(f.result().status for f in futs)
    H.check(statuses == [201] * 8 + [503] * (M - 8), "once the writer goes on: 8 x 201, %d x 503 (%s)" % (M - 8, statuses))
    H.check(int(s.sql("SELECT COUNT(*) FROM dossier")) == before + 8, "exactly the 8 answered 201 are stored")

    v = s.admin("audit", "verify", check_rc=False)
    H.check(v.returncode == 0, "the audit chain is intact after both: %r" % v.stdout[-200:])
finally:
    s.close()
H.finish()
