"""bench/soak: a chaos soak, not part of ctest. Mixed traffic runs against two motcuad processes on one
database while, every few seconds, one of them is killed with SIGKILL and restarted, or MariaDB is
killed with SIGKILL (crash recovery on restart) or stopped cleanly. Clients behave as real clients
must: a submission is retried with the same body and Idempotency-Key until it gets its 201; an
official re-reads the dossier (state, ETag) before retrying an action whose answer was lost.

Afterwards it checks what "2xx means committed" promises, and exits 1 on any violation:
  - every 201 the clients saw names a stored dossier whose stored receipt is the one they received;
  - no retried submission stored a second dossier (one dossier per Idempotency-Key, none without);
  - the daily dossier numbers of each agency have no gaps and no repeats;
  - every 200 an official saw for an action is in the history exactly once, and no action is in any
    dossier's history twice;
  - every approved or returned dossier has exactly one result, linked, and no result is orphaned;
  - every accepted dossier left `submitted`/`identity_pending` once the identity checks settle;
  - `motcua-admin audit verify` walks the whole chain.

With SOAK_SELFTEST=1, after a clean pass it damages the stored data the way a lost or doubled write
would (a history row gone, a dossier number skipped, a receipt that is not the one sent, an
Idempotency-Key rewritten) and requires the checks to report each: a check that cannot fail checks
nothing.

usage: soak.py [seconds] [chaos-interval-seconds]"""
import collections
import json
import os
import random
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "integration"))
import harness as H  # noqa: E402

DURATION = float(sys.argv[1]) if len(sys.argv) > 1 else 90
CHAOS_EVERY = float(sys.argv[2]) if len(sys.argv) > 2 else 6
SUBMITTERS, OFFICIALS = 6, 3
GRACE = 120  # seconds after the chaos stops for retries and identity checks to finish

certs = os.path.join(H.RUN, "certs")
sim = H.PopdbSim()
people = [p for p in sim.data["citizens"] if not p["deceased"] and p["birth_date"][:4] < "2006"]
env = dict(sim.env(), MOTCUA_LOG_LEVEL="warn", MOTCUA_RATE_LIMIT_RPS="0", MOTCUA_IDENTITY_POLL_MS="50",
           MOTCUA_AUTH_CACHE_TTL_S="10", **H.signing_env(certs))
s = H.Stack("soak", env=env)

lock = threading.Lock()
procs = {}                     # port -> Popen, the two motcuad processes
stop_chaos = threading.Event()
stop_new = threading.Event()   # no new work; retries of started work go on
count = collections.Counter()
violations = []
acked = {}                     # Idempotency-Key -> (code, receipt as received)
started_keys = set()
ready = []                     # codes the officials may take (submitted, 201 seen)
acted = collections.defaultdict(list)  # code -> actions answered 200


def violation(what):
    with lock:
        violations.append(what)
    print("VIOLATION:", what, flush=True)


def call(method, path, body=None, key=None, headers=None):
    """One request to one of the two processes, or None when the connection failed (a kill)."""
    with lock:
        port = random.choice(list(procs))
    h = dict(headers or {})
    if key:
        h["Authorization"] = "Bearer " + s.keys[key]
    try:
        r = H.request(method, path, body, h, port=port, timeout=30)
    except OSError:
        with lock:
            count["connection_errors"] += 1
        return None
    with lock:
        count["status_%d" % r.status] += 1
    return r


def submitter():
    while not stop_new.is_set():
        body = H.dossier_for(random.choice(people))
        idem = H.new_key_id()
        with lock:
            started_keys.add(idem)
        t0 = time.time()
        while True:
            r = call("POST", "/v1/dossiers", body, "portal", {"Content-Type": "application/xml", "Idempotency-Key": idem})
            if r is not None and r.status == 201:
                receipt = r.json()
                with lock:
                    acked[idem] = (receipt["dossierCode"], receipt)
                    ready.append(receipt["dossierCode"])
                    count["submitted"] += 1
                time.sleep(0.1)  # a steady stream, not a flood: the officials must keep up
                break
            if r is not None and r.status not in (500, 502, 503, 504):
                violation("submission %s answered %d: %s" % (idem, r.status, r.body[:200]))
                break
            with lock:
                count["submit_retries"] += 1
            if time.time() - t0 > DURATION + GRACE:
                violation("submission %s never got its 201" % idem)
                break
            time.sleep(0.2)


ORDER = ["identity_verified", "received", "approved", "result_returned"]
STEPS = [("receive", "received"), ("approve", "approved"), ("return_result", "result_returned")]


def read(code):
    """(state, ETag) as the official sees them, retried through kills and outages (not for ever)."""
    t0 = time.time()
    while True:
        r = call("GET", "/v1/dossiers/" + code, key="official")
        if r is not None and r.status == 200:
            return r.json()["state"], r.header("ETag")
        if (r is not None and r.status not in (500, 502, 503, 504)) or time.time() - t0 > GRACE:
            violation("official GET %s answered %s" % (code, r.status if r is not None else "nothing for %d s" % GRACE))
            return None, None
        time.sleep(0.2)


def work(code):
    t0 = time.time()
    while True:  # the identity check comes first (the sweeper, through the simulator)
        state, _ = read(code)
        if state is None or state in ORDER:
            break
        if time.time() - t0 > GRACE:
            violation("%s still %s after %d s" % (code, state, GRACE))
            return
        time.sleep(0.3)
    for action, target in STEPS:
        t1 = time.time()
        while True:
            if time.time() - t1 > GRACE:
                violation("%s %s: no 200 after %d s of retries" % (code, action, GRACE))
                return
            state, etag = read(code)
            if state is None:
                return
            if state not in ORDER:
                violation("%s left the path: %s" % (code, state))
                return
            if ORDER.index(state) >= ORDER.index(target):  # an earlier try committed; its answer was lost
                with lock:
                    count["actions_committed_answer_lost"] += 1
                break
            r = call("POST", "/v1/dossiers/%s/actions/%s" % (code, action), b"{}", "official",
                     {"Content-Type": "application/json", "If-Match": etag})
            if r is not None and r.status == 200:
                with lock:
                    acted[code].append(action)
                    count["actions"] += 1
                # the reply is built from the row the action wrote: it must be what a read shows next
                # (nothing else acts on this dossier meanwhile)
                now_state, now_etag = read(code)
                if (r.json().get("state"), r.header("ETag")) != (now_state, now_etag):
                    violation("%s %s: the reply says %s %s, a read then %s %s" % (
                        code, action, r.json().get("state"), r.header("ETag"), now_state, now_etag))
                break
            if r is not None and r.status not in (412, 500, 502, 503, 504):
                violation("%s %s answered %d: %s" % (code, action, r.status, r.body[:200]))
                return
            with lock:
                count["action_retries"] += 1
            time.sleep(0.1)


def official():
    while True:
        with lock:
            code = ready.pop(0) if ready else None
        if code is None:
            if stop_new.is_set():
                return
            time.sleep(0.1)
            continue
        work(code)


def chaos():
    pidfile = os.path.join(H.RUN, "mariadb", "mysqld.pid")
    while not stop_chaos.wait(CHAOS_EVERY * random.uniform(0.5, 1.5)):
        kind = random.choices(["kill_motcuad", "crash_mariadb", "stop_mariadb"], [6, 2, 2])[0]
        count["chaos_" + kind] += 1
        if kind == "kill_motcuad":
            with lock:
                port = random.choice(list(procs))
                p = procs.pop(port)
            s.kill9(p)
            time.sleep(0.3)
            while True:  # it may come up while MariaDB is still recovering: try until it is healthy
                try:
                    np = s.start(port=port)
                    break
                except RuntimeError:
                    time.sleep(0.5)
            with lock:
                procs[port] = np
        elif kind == "crash_mariadb":
            with open(pidfile) as f:
                pid = int(f.read())
            os.kill(pid, 9)
            while os.path.exists("/proc/%d" % pid):
                time.sleep(0.05)
            time.sleep(1.0)
            H.mariadb("start")
        else:
            H.mariadb("stop")
            time.sleep(1.5)
            H.mariadb("start")
        print("chaos: %s (%.0f s in)" % (kind, time.time() - t_start), flush=True)


def unbatch(v):
    """A value as `mariadb -B` printed it (backslash, newline, tab and NUL escaped) back to its text."""
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "0": "\0"}.get(m.group(1), m.group(1)), v)


def checks():
    code_of = {}
    rows = s.sql("SELECT k.idem_key, d.code, k.receipt FROM idempotency_key k JOIN dossier d ON d.id = k.dossier_id")
    stored = collections.defaultdict(list)
    for ln in rows.splitlines():
        k, code, receipt = ln.split("\t", 2)
        stored[k].append((code, receipt))
    for k, (code, receipt) in acked.items():
        got = stored.get(k, [])
        if len(got) != 1:
            violation("Idempotency-Key %s: %d dossiers stored, 1 acknowledged" % (k, len(got)))
            continue
        code_of[k] = got[0][0]
        mine = {x: y for x, y in receipt.items() if x != "replayed"}
        theirs = json.loads(unbatch(got[0][1]))
        if got[0][0] != code or mine != theirs:
            violation("Idempotency-Key %s: the stored receipt is not the one acknowledged" % k)
    for k in set(stored) - set(acked):
        violation("Idempotency-Key %s: stored but never acknowledged (%s)" % (k, k in started_keys))
    total = int(s.sql("SELECT COUNT(*) FROM dossier"))
    if total != len(acked):
        violation("%d dossiers stored, %d acknowledged" % (total, len(acked)))
    seqs = collections.defaultdict(list)
    for code in s.sql("SELECT code FROM dossier").split():
        prefix, n = code.rsplit("-", 1)
        seqs[prefix].append(int(n))
    for prefix, ns in seqs.items():
        if sorted(ns) != list(range(1, len(ns) + 1)):
            violation("daily numbers of %s are not 1..%d without gaps: %s" % (prefix, len(ns), sorted(ns)[:20]))
    hist = collections.defaultdict(collections.Counter)
    for ln in s.sql("SELECT d.code, h.action FROM dossier_history h JOIN dossier d ON d.id = h.dossier_id").splitlines():
        code, action = ln.split("\t")
        hist[code][action] += 1
    for code, c in hist.items():
        for action, n in c.items():
            if n > 1:
                violation("%s: action %s is in the history %d times" % (code, action, n))
    for code, actions in acted.items():
        for a in actions:
            if hist[code][a] != 1:
                violation("%s: %s answered 200 but is in the history %d times" % (code, a, hist[code][a]))
    bad = s.sql("SELECT d.code FROM dossier d WHERE d.state IN ('approved', 'result_returned') AND (d.result_id IS NULL"
                " OR (SELECT COUNT(*) FROM result r WHERE r.dossier_id = d.id) != 1)")
    for code in bad.split():
        violation("%s is approved without exactly one linked result" % code)
    orphans = s.sql("SELECT r.result_id FROM result r JOIN dossier d ON d.id = r.dossier_id"
                    " WHERE d.state NOT IN ('approved', 'result_returned') OR d.result_id != r.result_id")
    for rid in orphans.split():
        violation("result %s has no approved dossier pointing at it" % rid)
    stuck = s.sql("SELECT COUNT(*) FROM dossier WHERE state IN ('submitted', 'identity_pending')")
    if stuck != "0":
        violation("%s dossiers still wait for their identity check" % stuck)
    r = s.admin("audit", "verify", check_rc=False)
    if r.returncode != 0:
        violation("audit verify: %s %s" % (r.stdout.strip(), r.stderr.strip()))
    return total, len(seqs), sum(len(a) for a in acted.values()), r.stdout.strip()


try:
    for _ in range(2):
        p = s.start()
        procs[p.port] = p
    t_start = time.time()
    threads = [threading.Thread(target=submitter) for _ in range(SUBMITTERS)]
    threads += [threading.Thread(target=official) for _ in range(OFFICIALS)]
    chaos_t = threading.Thread(target=chaos)
    for t in threads + [chaos_t]:
        t.start()
    time.sleep(DURATION)
    stop_chaos.set()
    chaos_t.join()
    H.mariadb("start")
    stop_new.set()
    for t in threads:
        t.join()
    deadline = time.time() + GRACE  # the identity sweeper settles what is left
    while s.sql("SELECT COUNT(*) FROM dossier WHERE state IN ('submitted', 'identity_pending')") != "0" \
            and time.time() < deadline:
        time.sleep(0.5)
    total, days, actions, audit = checks()
    print("soak: %.0f s of chaos every ~%.0f s, 2 motcuad processes, %d submitters, %d officials" % (
        DURATION, CHAOS_EVERY, SUBMITTERS, OFFICIALS))
    print("  " + ", ".join("%s=%d" % kv for kv in sorted(count.items())))
    print("  dossiers stored=%d acknowledged=%d (numbering series %d); actions answered 200=%d" % (
        total, len(acked), days, actions))
    print("  audit: %s" % audit)
    print("soak: %s" % ("OK, no violation" if not violations else "%d VIOLATIONS" % len(violations)))
    if os.environ.get("SOAK_SELFTEST") == "1" and not acted:
        violation("selftest asked for but nothing to damage (no action answered 200)")
    if os.environ.get("SOAK_SELFTEST") == "1" and not violations and acted:
        code = sorted(acted)[0]
        s.sql("DELETE h FROM dossier_history h JOIN dossier d ON d.id = h.dossier_id"
              " WHERE d.code = '%s' AND h.action = 'receive'" % code)
        last = s.sql("SELECT code FROM dossier ORDER BY id DESC LIMIT 1")
        prefix, n = last.rsplit("-", 1)
        s.sql("UPDATE dossier SET code = '%s-%04d' WHERE code = '%s'" % (prefix, int(n) + 5, last))
        s.sql("UPDATE idempotency_key k JOIN dossier d ON d.id = k.dossier_id"
              " SET k.receipt = JSON_SET(k.receipt, '$.dueAt', 'x') WHERE d.code = '%s'" % code)
        s.sql("UPDATE idempotency_key SET idem_key = CONCAT(idem_key, '-x') ORDER BY created_at LIMIT 1")
        checks()
        want = ["in the history 0 times", "without gaps", "not the one acknowledged", "stored but never acknowledged"]
        missed = [w for w in want if not any(w in v for v in violations)]
        print("selftest: %d violations reported for 4 kinds of damage; missed: %s" % (len(violations), missed or "none"))
        violations[:] = ["selftest missed: %s" % w for w in missed]
finally:
    stop_chaos.set()
    stop_new.set()
    H.mariadb("start", check_rc=False)
    s.close()
    sim.stop()
sys.exit(1 if violations else 0)
