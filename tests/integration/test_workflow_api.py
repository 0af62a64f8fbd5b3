"""Workflow actions over HTTP against a real motcuad, MariaDB and the population simulator: the full
path submit -> identity verified -> receive -> approve (signed result stored, linked, served) ->
return_result; every illegal transition from several states is a 409 naming the state and the allowed
actions (cases generated from the table in docs/workflow.md, which the code generates); If-Match 428/412;
two officials approving with one ETag; ward and citizen scoping; supplement pause/resume against a
Python re-implementation of the calendar over the real holiday file; payment; overdue and the apology
slip; a crash between signing and COMMIT; the queue's filters and keyset pagination."""
import concurrent.futures as cf
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import urllib.parse
import harness as H

certs = tempfile.mkdtemp(prefix="motcua-wf-certs-")
subprocess.run([os.path.join(H.SRC, "certs", "mkdev-ca.sh"), certs], check=True, capture_output=True)
sim = H.PopdbSim()
people = [p for p in sim.data["citizens"] if not p["deceased"] and p["birth_date"][:4] < "2006"]
pick = iter(people)
env = dict(sim.env(), MOTCUA_IDENTITY_POLL_MS="50", **H.signing_env(certs))
s = H.Stack("workflow", env=env)
JSON = {"Content-Type": "application/json"}

# ---- the transition table, from the generated block of docs/workflow.md ----
doc = open(os.path.join(H.SRC, "docs", "workflow.md"), encoding="utf-8").read()
TABLE = {}  # (state, action) -> (next, roles)
for m in re.finditer(r"^\s+(\w+) --> (\w+) : (\w+) \[([\w, ]+)\]$", doc, re.M):
    TABLE[(m.group(1), m.group(3))] = (m.group(2), [r.strip() for r in m.group(4).split(",")])
ACTIONS = sorted({a for (_, a) in TABLE})
assert len(TABLE) == doc.count(" --> ") - doc.count("[*] -->") - doc.count("--> [*]") and len(ACTIONS) == 15, "table parsed"
ILLEGAL = [0]  # 409 cases run


def allowed(state, role):
    return sorted(a for (st, a), (_, roles) in TABLE.items() if st == state and role in roles)


def problem_type(r):
    try:
        return r.json().get("type", "")
    except ValueError:
        return ""


def view(code, key="official"):
    r = s.req("GET", "/v1/dossiers/" + code, key=key)
    assert r.status == 200, (r.status, r.body[:200])
    return r.json(), r.header("ETag")


def act(code, action, body=None, key="official", etag=None, port=None):
    h = dict(JSON)
    if etag is not None:
        h["If-Match"] = etag
    return s.req("POST", "/v1/dossiers/%s/actions/%s" % (code, action), json.dumps(body or {}), key, h, port=port)


def act_ok(code, action, body=None, key="official"):
    _, etag = view(code, key)
    r = act(code, action, body, key, etag)
    H.check(r.status == 200, "%s %s -> 200, got %d %s" % (code, action, r.status, r.body[:300]))
    if r.status == 200:  # the reply is built from the row as written, not read again: it must be what GET shows
        after, after_etag = view(code, key)
        H.check(r.json() == after and r.header("ETag") == after_etag,
                "%s %s: the reply is the dossier as GET shows it next (%s)" % (code, action, json.dumps(
                    {k: (v, after.get(k)) for k, v in r.json().items() if after.get(k) != v})[:400]))
    return r


def queue_item(code):
    """The dossier's queue entry (the queue computes overdue the same way as the action replies)."""
    r = s.req("GET", "/v1/queue?limit=200", key="official")
    while r.status == 200:
        for x in r.json()["items"]:
            if x["dossierCode"] == code:
                return x
        if not r.json()["next"]:
            break
        r = s.req("GET", "/v1/queue?limit=200&cursor=" + r.json()["next"], key="official")
    return {}


def new_dossier(key="portal", state="identity_verified"):
    r = s.submit(H.dossier_for(next(pick)), key=key, idem=H.new_key_id())
    assert r.status == 201, (r.status, r.body[:300])
    code = r.json()["dossierCode"]
    d = H.wait_state(s, code, {"identity_verified", "identity_mismatch"}, key=key)
    assert d["state"] == "identity_verified", d
    if state == "received":
        act_ok(code, "receive")
    return code


# ---- the calendar rule, re-implemented from docs/calendar.md (windows 07:00-11:30, 13:30-17:00) ----
OFF = dt.timedelta(hours=7)
WINDOWS = [(7 * 60, 11 * 60 + 30), (13 * 60 + 30, 17 * 60)]
DAYS = {}
for line in open(os.path.join(H.SRC, "schemas", "calendar", "holidays-vn.txt"), encoding="utf-8"):
    line = line.split("#")[0].strip()
    if line:
        d, kind = line.split()[:2]
        DAYS[dt.date.fromisoformat(d)] = kind.rstrip("?")


def working(day):
    k = DAYS.get(day)
    return k == "W" if k else day.weekday() < 5


def windows_of(day):
    if not working(day):
        return []
    base = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc) - OFF
    return [(base + dt.timedelta(minutes=a), base + dt.timedelta(minutes=b)) for a, b in WINDOWS]


def between(a, b):
    total, day = 0, (a + OFF).date()
    while day <= (b + OFF).date():
        for ws, we in windows_of(day):
            lo, hi = max(ws, a), min(we, b)
            if hi > lo:
                total += (hi - lo).total_seconds()
        day += dt.timedelta(days=1)
    return total


def add_working(t, secs):
    if secs <= 0:
        return t
    day = (t + OFF).date()
    while True:
        for ws, we in windows_of(day):
            start = max(ws, t)
            if start < we:
                avail = (we - start).total_seconds()
                if secs <= avail:
                    return start + dt.timedelta(seconds=secs)
                secs -= avail
        day += dt.timedelta(days=1)


def utc(text):
    return dt.datetime.strptime(text[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.timezone.utc)


try:
    s.start()
    official2 = s.new_key("official", "20242", "official2")

    # ---- full path ----
    code = new_dossier()
    d, etag = view(code)
    H.check(etag == '"v%d"' % d["version"], "GET ETag is v<version>")
    r = act(code, "receive", key="official", etag=etag)
    H.check(r.status == 200 and r.json()["state"] == "received" and r.json()["nationalStatus"] == 2,
            "receive -> 200 received (2): %d %s" % (r.status, r.body[:200]))
    H.check(r.header("ETag") == '"v%d"' % (d["version"] + 1), "new ETag after the action: %s" % r.header("ETag"))
    H.check(sorted(r.json().get("workflow", {}).get("allowedActions", [])) == allowed("received", "official"),
            "view lists the official's next actions")
    r = act(code, "approve", etag=r.header("ETag"))
    body = r.json() if r.status == 200 else {}
    rid = body.get("workflow", {}).get("resultId")
    H.check(r.status == 200 and body.get("state") == "approved" and body.get("nationalStatus") == 9,
            "approve -> 200 approved (9): %d %s" % (r.status, r.body[:300]))
    H.check(rid == "KQ-" + code, "approve links the signed result KQ-<code>: %r" % rid)
    g, _ = view(code)
    H.check(g.get("workflow", {}).get("resultId") == rid, "GET /v1/dossiers/{code} carries the workflow facts too")
    H.check(s.sql("SELECT COUNT(*) FROM result WHERE dossier_code = '%s'" % code) == "1", "exactly one result row")
    H.check(s.sql("SELECT result_id FROM dossier WHERE code = '%s'" % code) == rid, "dossier row links the result")
    g = s.req("GET", "/v1/results/%s" % rid, key="portal")
    H.check(g.status == 200 and g.header("Content-Type") == "application/xml" and code.encode() in g.body,
            "GET /v1/results/{id} serves the signed result")
    v = s.req("POST", "/v1/verify", g.body, None, {"Content-Type": "application/xml"})
    H.check(v.status == 200 and v.json().get("valid") is True and v.json().get("inRepository") is True,
            "the issued result verifies and is in the repository")
    r = act(code, "return_result", key="portal", etag=r.header("ETag"))
    H.check(r.status == 200 and r.json()["state"] == "result_returned" and r.json()["nationalStatus"] == 10,
            "return_result (portal) -> result_returned (10)")
    hist = s.req("GET", "/v1/dossiers/%s/history" % code, key="portal").json()["history"]
    H.check([e["action"] for e in hist][-3:] == ["receive", "approve", "return_result"], "history rows per action")
    H.check(any(e["action"] == "approve" and rid in (e.get("note") or "") for e in hist), "history names the result")
    audit = s.sql("SELECT GROUP_CONCAT(action ORDER BY id) FROM audit_log WHERE dossier_code = '%s'" % code)
    H.check(all(a in audit.split(",") for a in ("receive", "approve", "return_result")),
            "audit rows for every action: %s" % audit)

    # ---- preconditions ----
    code = new_dossier()
    d, etag = view(code)
    r = act(code, "receive")
    H.check(r.status == 428 and problem_type(r).endswith("/precondition-required"), "no If-Match -> 428, got %d" % r.status)
    H.check(act(code, "receive", etag="*").status == 428, "If-Match: * -> 428")
    # a long If-Match list is refused whole (400), not cut so that a match late in it is lost (412)
    r = act(code, "receive", etag=", ".join(['"v%d"' % (900 + i) for i in range(30)] + [etag]))
    H.check(r.status == 400 and "If-Match" in r.json().get("detail", ""), "over-long If-Match -> 400, got %d" % r.status)
    r = act(code, "receive", etag='"v%d"' % (d["version"] - 1))
    H.check(r.status == 412 and problem_type(r).endswith("/precondition-failed"), "stale ETag -> 412, got %d" % r.status)
    H.check(view(code)[1] == etag, "nothing changed after 412")
    H.check(act(code, "no_such_action", etag=etag).status == 404, "unknown action -> 404")
    H.check(act(code, "approve", key="portal", etag=etag).status == 403, "portal may not approve -> 403")
    H.check(act(code, "receive", key="monitor", etag=etag).status == 403, "monitor -> 403")
    H.check(act(code, "identity_ok", key="official", etag=etag).status == 403, "system-only action -> 403")
    H.check(act(code, "receive", key="official_other", etag=etag).status == 404, "official of another ward -> 404")
    H.check(act(code, "withdraw", {"reason": "x"}, key="portal2", etag=etag).status == 404, "another portal -> 404")
    H.check(act(code, "withdraw", {"reason": "x"}, key="national", etag=etag).status == 404,
            "national client that did not submit -> 404")
    r = s.req("POST", "/v1/dossiers/%s/actions/refuse" % code, "not json", "official", dict(JSON, **{"If-Match": etag}))
    H.check(r.status == 400, "body not JSON -> 400")
    r = act(code, "refuse", {}, etag=etag)
    H.check(r.status == 422 and problem_type(r).endswith("/invalid-field"), "refuse without reason -> 422")
    H.check(act(code, "refuse", {"reason": "   "}, etag=etag).status == 422, "blank reason -> 422")
    H.check(act(code, "refuse", {"reason": "x" * 1001}, etag=etag).status == 422, "reason over 1000 bytes -> 422")

    big = new_dossier()
    r = act(big, "refuse", {"reason": "x" * 1000, "note": "ý" * 500}, etag=view(big)[1])
    H.check(r.status == 200 and r.json()["state"] == "refused", "longest reason + note -> 200: %d %s" % (r.status, r.body[:200]))
    H.check(s.sql("SELECT CHAR_LENGTH(note) FROM dossier_history h JOIN dossier d ON d.id = h.dossier_id"
                  " WHERE d.code = '%s' AND h.action = 'refuse'" % big) == "1000", "history note cut to its column")

    # ---- illegal transitions, generated from the table, from several states ----
    def illegal_from(code, state):
        d, etag = view(code)
        H.check(d["state"] == state, "setup: %s is %s (got %s)" % (code, state, d["state"]))
        for role, key in (("official", "official"), ("portal", "portal")):
            for a in ACTIONS:
                roles = {r for (_, x), (_, rs) in TABLE.items() if x == a for r in rs}
                if role not in roles or (state, a) in TABLE and role in TABLE[(state, a)][1]:
                    continue
                body = {"reason": "r", "officer": "o", "components": ["TP1"], "paymentRef": "p"}
                r = act(code, a, body, key=key, etag=etag)
                ILLEGAL[0] += 1
                pj = r.json() if r.status == 409 else {}
                H.check(r.status == 409 and pj.get("currentState") == state and
                        sorted(pj.get("allowedActions", [])) == allowed(state, role) and state in pj.get("detail", ""),
                        "%s from %s as %s -> 409 with allowed %s, got %d %s" % (a, state, role, allowed(state, role),
                                                                                r.status, r.body[:200]))
        H.check(view(code)[1] == etag, "409s change nothing (%s)" % state)

    illegal_from(code, "identity_verified")
    act_ok(code, "receive")
    illegal_from(code, "received")
    act_ok(code, "request_supplement", {"reason": "thiếu bản sao", "components": ["TP1"]})
    illegal_from(code, "supplement_requested")
    act_ok(code, "reject", {"reason": "không đủ điều kiện"})
    illegal_from(code, "rejected")
    H.check(s.sql("SELECT finished_at IS NOT NULL FROM dossier WHERE code = '%s'" % code) == "1", "reject sets finished_at")
    act_ok(code, "return_result", key="official")
    illegal_from(code, "result_returned")
    H.check(ILLEGAL[0] >= 40, "generated illegal cases ran: %d" % ILLEGAL[0])

    # ---- two officials approve at once with the same ETag ----
    for _ in range(3):
        code = new_dossier(state="received")
        _, etag = view(code)
        barrier = threading.Barrier(2)

        def approve(key):
            barrier.wait()
            return act(code, "approve", key=key, etag=etag).status
        with cf.ThreadPoolExecutor(2) as ex:
            st = sorted(ex.map(approve, ["official", official2]))
        H.check(st == [200, 412], "concurrent approvals: exactly one 200 and one 412, got %s" % st)
        H.check(s.sql("SELECT COUNT(*) FROM result WHERE dossier_code = '%s'" % code) == "1",
                "concurrent approvals: exactly one result row")

    # ---- supplement pause/resume across a weekend and holidays (times set in the database) ----
    code = new_dossier(state="received")
    d = act_ok(code, "request_supplement", {"reason": "Bổ sung tờ khai", "components": ["TP1"]}).json()
    etag = view(code)[1]
    H.check(d["state"] == "supplement_requested" and d["nationalStatus"] == 5 and d["workflow"]["pausedAt"],
            "request_supplement pauses the clock (5)")
    # paused Fri 2026-08-28 15:00 local; due Fri 17:00 local; Mon 08-31 (C) and 09-01/02 (H) are off
    s.sql("UPDATE dossier SET paused_at = '2026-08-28 08:00:00', due_at = '2026-08-28 10:00:00' WHERE code = '%s'" % code)
    s.sql("UPDATE supplement_request sr JOIN dossier d ON d.id = sr.dossier_id SET sr.requested_at = d.paused_at,"
          " sr.old_due_at = d.due_at WHERE d.code = '%s'" % code)
    r = act(code, "supplement", {"components": []}, key="portal", etag=etag)
    H.check(r.status == 422, "supplement without components -> 422")
    r = act(code, "supplement", {"components": ["TP2"]}, key="portal", etag=etag)
    H.check(r.status == 422 and "TP1" in r.json().get("detail", ""), "supplement missing a requested component -> 422")
    r = act(code, "supplement", {"components": ["TP1"]}, key="portal", etag=etag)
    H.check(r.status == 200 and r.json()["state"] == "processing" and r.json()["workflow"]["pausedAt"] is None,
            "supplement resumes in processing: %d %s" % (r.status, r.body[:200]))
    row = s.sql("SELECT resumed_at, old_due_at, new_due_at FROM supplement_request sr JOIN dossier d"
                " ON d.id = sr.dossier_id WHERE d.code = '%s'" % code).split("\t")
    resumed, old_due, new_due = utc(row[0]), utc(row[1]), utc(row[2])
    paused = utc("2026-08-28 08:00:00")
    waited = between(paused, resumed)
    expected = add_working(utc("2026-08-28 10:00:00"), waited)
    H.check(new_due == expected, "new due = old due + working time waited (%s s): got %s want %s" % (waited, new_due, expected))
    H.check(utc(s.sql("SELECT due_at FROM dossier WHERE code = '%s'" % code)) == expected, "dossier due_at moved")
    H.check(old_due == utc("2026-08-28 10:00:00"), "supplement row keeps the old due time")
    hrow = s.sql("SELECT due_before, due_after, note FROM dossier_history h JOIN dossier d ON d.id = h.dossier_id"
                 " WHERE d.code = '%s' AND h.action = 'supplement'" % code).split("\t")
    H.check(utc(hrow[0]) == utc("2026-08-28 10:00:00") and utc(hrow[1]) == expected and "->" in hrow[2],
            "history keeps old and new due times: %s" % hrow)
    # the same arithmetic, in a case with a known answer: Fri 15:00 -> Thu 09:00 is 2 h + 2 h
    H.check(between(utc("2026-08-28 08:00:00"), utc("2026-09-03 02:00:00")) == 4 * 3600, "python calendar: 4 h waited")

    # ---- payment (2.000635: 8,000 VND per copy) ----
    code = new_dossier(state="received")
    r = act_ok(code, "request_payment", {"copies": 3})
    H.check(r.json()["state"] == "payment_required" and r.json()["workflow"]["feeVnd"] == 24000,
            "request_payment: fee from the catalog (3 x 8,000 VND)")
    _, etag = view(code)
    r = act(code, "approve", etag=etag)
    H.check(r.status == 409 and sorted(r.json().get("allowedActions", [])) == allowed("payment_required", "official"),
            "approve unpaid -> 409")
    H.check(act(code, "mark_paid", {}, key="portal", etag=etag).status == 422, "mark_paid without reference -> 422")
    r = act(code, "mark_paid", {"paymentRef": "VNPAY-000123"}, key="portal", etag=etag)
    H.check(r.status == 200 and r.json()["state"] == "processing" and r.json()["workflow"]["paymentRef"] == "VNPAY-000123"
            and r.json()["workflow"]["paidAt"], "mark_paid (portal) records the reference")
    r = act_ok(code, "assign", {"officer": "Trần Thị Cán Bộ"})
    H.check(r.json()["workflow"]["assignee"] == "Trần Thị Cán Bộ", "assign records the officer")

    # ---- overdue, apology slip (form 04) ----
    late = new_dossier(state="received")
    s.sql("UPDATE dossier SET due_at = UTC_TIMESTAMP(6) - INTERVAL 1 DAY WHERE code = '%s'" % late)
    d, etag = view(late)
    H.check(queue_item(late)["overdue"] is True, "past due and running -> overdue")
    newdate = (dt.datetime.now(dt.timezone.utc) + OFF + dt.timedelta(days=3)).strftime("%Y-%m-%dT17:00:00+07:00")
    ap = "/v1/dossiers/%s/apology" % late
    r = s.req("POST", ap, json.dumps({"newDate": newdate, "note": "Xin lỗi"}), "official", JSON)
    H.check(r.status == 428, "apology without If-Match -> 428")
    r = s.req("POST", ap, json.dumps({"newDate": "2020-01-01T17:00:00+07:00", "note": "x"}), "official",
              dict(JSON, **{"If-Match": etag}))
    H.check(r.status == 422, "apology with a date before the due time -> 422")
    r = s.req("POST", ap, json.dumps({"newDate": newdate}), "official", dict(JSON, **{"If-Match": etag}))
    H.check(r.status == 422, "apology without a note -> 422")
    H.check(s.req("POST", ap, json.dumps({"newDate": newdate, "note": "x"}), "official_other",
                  dict(JSON, **{"If-Match": etag})).status == 404, "apology by another ward -> 404")
    r = s.req("POST", ap, json.dumps({"newDate": newdate, "note": "Xin lỗi ông/bà vì trả kết quả trễ"}), "official",
              dict(JSON, **{"If-Match": etag}))
    H.check(r.status == 200 and r.json()["workflow"]["rescheduledTo"] == newdate and r.json()["state"] == "received",
            "apology slip records the new date, state unchanged: %d %s" % (r.status, r.body[:200]))
    H.check(s.sql("SELECT COUNT(*) FROM apology_slip a JOIN dossier d ON d.id = a.dossier_id WHERE d.code = '%s'" % late) == "1",
            "apology slip row stored")
    r = act_ok(late, "approve")
    H.check(r.json()["workflow"]["overdue"] is True and queue_item(late)["overdue"] is True, "finished after due -> overdue")
    intime = new_dossier(state="received")
    s.sql("UPDATE dossier SET due_at = UTC_TIMESTAMP(6) + INTERVAL 2 DAY WHERE code = '%s'" % intime)
    r = act_ok(intime, "approve")
    H.check(r.json()["workflow"]["overdue"] is False and queue_item(intime)["overdue"] is False,
            "finished before due -> not overdue")
    _, etag = view(intime)
    r = s.req("POST", "/v1/dossiers/%s/apology" % intime, json.dumps({"newDate": newdate, "note": "x"}), "official",
              dict(JSON, **{"If-Match": etag}))
    H.check(r.status == 409, "apology after the outcome -> 409")

    # ---- crash between signing and COMMIT ----
    code = new_dossier(state="received")
    d, etag = view(code)
    crash = s.start(env={"MOTCUA_TEST_FAULT": "crash_after_sign"})
    try:
        r = act(code, "approve", etag=etag, port=crash.port)
        H.check(False, "the crashing process answered %d" % r.status)
    except OSError:
        pass
    crash.wait(30)
    H.check(crash.returncode == 1, "fault point: the process exited with 1 (got %s)" % crash.returncode)
    H.check(s.sql("SELECT COUNT(*) FROM result WHERE dossier_code = '%s'" % code) == "0", "after the crash: no result row")
    d2, etag2 = view(code)
    H.check(d2["state"] == "received" and etag2 == etag and s.sql("SELECT result_id IS NULL FROM dossier WHERE code = '%s'" % code) == "1",
            "after the crash: dossier not approved, version unchanged")
    r = act(code, "approve", etag=etag)
    H.check(r.status == 200 and r.json()["workflow"]["resultId"] == "KQ-" + code, "approving again works")
    H.check(s.sql("SELECT COUNT(*) FROM result WHERE dossier_code = '%s'" % code) == "1", "exactly one result after retry")

    # ---- queue ----
    for i in range(5):
        c = new_dossier(state="received")
        s.sql("UPDATE dossier SET due_at = %s WHERE code = '%s'" % (
            "NULL" if i == 4 else "'2030-01-0%d 10:00:00'" % (1 + i % 2), c))
    assigned = new_dossier(state="received")
    act_ok(assigned, "assign", {"officer": "Lê Văn Xử Lý"})
    nonfinal = sorted({st for (st, _) in TABLE})  # states some action leads out of
    expect = s.sql("SELECT code FROM dossier WHERE ward = '20242' AND state IN (%s)"
                   " ORDER BY COALESCE(due_at, '9999-12-31 23:59:59'), id" % ",".join("'%s'" % x for x in nonfinal)).split()

    def page_all(query, limit):
        got, cur, pages = [], None, 0
        while True:
            q = "/v1/queue?limit=%d%s%s" % (limit, "&" + query if query else "", "&cursor=" + cur if cur else "")
            r = s.req("GET", q, key="official")
            if not H.check(r.status == 200, "queue %s -> 200, got %d %s" % (q, r.status, r.body[:200])):
                return got, pages
            j = r.json()
            got += [x["dossierCode"] for x in j["items"]]
            pages += 1
            cur = j["next"]
            if not cur or pages > 100:
                return got, pages

    got, pages = page_all("", 2)
    H.check(got == expect, "queue pages (limit 2) walk every open dossier by due time then id, once: %s vs %s" % (got, expect))
    H.check(pages == (len(expect) + 1) // 2 or pages == len(expect) // 2 + 1, "page count %d for %d" % (pages, len(expect)))
    r = s.req("GET", "/v1/queue", key="official").json()
    H.check(r["limit"] == 50 and [x["dossierCode"] for x in r["items"]] == expect[:50], "default page size 50")
    item = r["items"][0]
    H.check(re.fullmatch(r'"v\d+"', item["etag"]) and item["href"] == "/v1/dossiers/" + item["dossierCode"], "items carry etag, href")
    got, _ = page_all("state=received", 200)
    H.check(got == [c for c in expect if s.sql("SELECT state FROM dossier WHERE code='%s'" % c) == "received"],
            "state filter")
    got, _ = page_all("assignee=" + urllib.parse.quote("Lê Văn Xử Lý"), 200)
    H.check(got == [assigned], "assignee filter: %s" % got)
    got, _ = page_all("procedure=2.000635&due_before=2030-01-02", 200)
    want = s.sql("SELECT code FROM dossier WHERE ward='20242' AND procedure_code='2.000635' AND due_at < '2030-01-01 17:00:00'"
                 " AND state IN (%s) ORDER BY due_at, id" % ",".join("'%s'" % x for x in nonfinal)).split()
    H.check(got == want and len(want) >= 3, "procedure + due_before (local date) filters: %s vs %s" % (got, want))
    want = [c for c in expect if s.sql("SELECT due_at IS NOT NULL AND COALESCE(finished_at, paused_at, UTC_TIMESTAMP(6)) > due_at"
                                         " FROM dossier WHERE code='%s'" % c) == "1"]
    got, _ = page_all("overdue=true", 200)
    H.check(got == want and len(want) >= 1, "overdue=true: %s vs %s" % (got, want))
    got2, _ = page_all("overdue=false", 200)
    H.check(sorted(got + got2) == sorted(expect), "overdue=false is the complement")
    today = (dt.datetime.now(dt.timezone.utc) + OFF).date()
    lo = dt.datetime(today.year, today.month, today.day, tzinfo=dt.timezone.utc) - OFF
    tgt = expect[0]
    s.sql("UPDATE dossier SET due_at = '%s' WHERE code = '%s'" % ((lo + dt.timedelta(hours=9)).strftime("%Y-%m-%d %H:%M:%S"), tgt))
    want = s.sql("SELECT code FROM dossier WHERE ward='20242' AND due_at >= '%s' AND due_at < '%s' AND state IN (%s)"
                 " ORDER BY due_at, id" % (lo.strftime("%Y-%m-%d %H:%M:%S"), (lo + dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S"),
                                           ",".join("'%s'" % x for x in nonfinal))).split()
    got, _ = page_all("due_today=true", 200)
    H.check(got == want and tgt in got, "due_today: %s vs %s" % (got, want))
    for q, what in (("limit=0", "limit 0"), ("limit=201", "limit over 200"), ("cursor=zz", "bad cursor"),
                    ("state=nope", "unknown state"), ("overdue=maybe", "bad flag"), ("due_before=tomorrow", "bad time"),
                    ("color=red", "unknown parameter")):
        H.check(s.req("GET", "/v1/queue?" + q, key="official").status == 400, "queue %s -> 400" % what)
    H.check(s.req("GET", "/v1/queue", key="portal").status == 403, "queue: portal -> 403")
    r = s.req("GET", "/v1/queue?limit=200", key="official_other")
    H.check(r.status == 200 and not set(x["dossierCode"] for x in r.json()["items"]) & set(expect),
            "queue: another ward sees none of these")
    H.check(s.stop() == 0, "SIGTERM -> clean exit")
finally:
    s.close()
    sim.stop()
    shutil.rmtree(certs, ignore_errors=True)
H.finish()
