"""Once-only reuse against a real motcuad, MariaDB and the population-database simulator: every reusable
component type met from population data and from a signed result in the repository (marriage certificate
for a birth registration, death extract for a marital status confirmation, marital status confirmation
for a marriage); tampered stored bytes, revoked and expired results are not reused (tampering logged and
audited); another holder's result is never linked; revocation after submission flags the dossier;
preview == submission; stats; verification marks (issuance marks the signed bytes, a restarted server
links on the mark without verifying again, forged / moved / stale marks fall back to a full verification,
`motcua-admin result mark` re-marks, an unfit key file refuses start-up)."""
import calendar
import concurrent.futures
import datetime
import os
import re
import subprocess
import tempfile
import time
import harness as H

certs = tempfile.mkdtemp(prefix="motcua-reuse-certs-")
subprocess.run([os.path.join(H.SRC, "certs", "mkdev-ca.sh"), certs], check=True, capture_output=True)
sim = H.PopdbSim()
people = sim.data["citizens"]
by_id = {p["personal_id"]: p for p in people}
adults = [p for p in people if not p["deceased"] and "1950" < p["birth_date"][:4] < "2004"]
env = dict(sim.env(), **H.signing_env(certs), MOTCUA_MARK_KEY_FILE=os.path.join(certs, "mark.key"),
           MOTCUA_IDENTITY_POLL_MS="50")
s = H.Stack("reuse", env)
CONSENT_STATUS, INVALID_STATUS = 403, 422
used = set()


def take(pred):
    for p in adults:
        if p["personal_id"] not in used and pred(p):
            used.add(p["personal_id"])
            return p
    raise RuntimeError("no citizen left")


def couple():
    a = take(lambda p: p["marital_status"] == "MARRIED" and p["gender"] == "M" and p["spouse_id"] in by_id
             and not by_id[p["spouse_id"]]["deceased"] and p["spouse_id"] not in used)
    b = by_id[a["spouse_id"]]
    used.add(b["personal_id"])
    return a, b


def single(gender=None):
    return take(lambda p: p["marital_status"] == "SINGLE" and (gender is None or p["gender"] == gender))


def fill(code, persons, components=None):
    return H.fill_sample(code, persons, "20242", components)


def upload(code):
    return '<component code="%s"><file ref="upl_%s" name="%s.pdf"/></component>' % (code, code, code)


def submit(body):
    r = s.submit(body, idem=H.new_key_id())
    assert r.status == 201, (r.status, r.body[:400])
    return r.json()


def issue(body):
    code = submit(body)["dossierCode"]
    out = s.admin("result", "issue", "--dossier", code).stdout
    return re.search(r"result (\S+) issued", out).group(1)


def comp(doc, code):
    return next(c for c in doc["components"] if c["code"] == code)


def triggers_off_do(sql):
    """Run sql with the result table's append-only triggers dropped, then put them back as migrated."""
    mig = open(os.path.join(H.SRC, "db", "migrations", "002_results.sql"), encoding="utf-8").read()
    trig = mig[mig.index("CREATE TRIGGER result_no_delete"):]
    script = "DROP TRIGGER result_no_delete; DROP TRIGGER result_only_revoke;\n%s;\nDELIMITER //\n%s//\n" % (
        sql, trig.replace("append-only';\n", "append-only'//\n", 1).rstrip().rstrip(";"))
    r = subprocess.run([H.MARIADB_SH, "sql", s.db], input=script, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert s.sql("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_TABLE='result'"
                 " AND TRIGGER_SCHEMA=DATABASE()") == "2", "triggers restored"


try:
    s.start()
    # ---- results in the repository, issued by the ward (motcua-admin result issue, as the workflow) ----
    father, mother = couple()
    marriage_cert = issue(fill("1.000894", [father, father, mother]))            # KQ.G15.000034 held by father
    c1, d1 = single("M"), single("F")
    conf_c1 = issue(fill("1.004873", [c1], upload("TP1") + upload("TP2")))        # KQ.G15.000033 held by c1
    widow = take(lambda p: p["marital_status"] == "WIDOWED" and p["spouse_id"] in by_id
                 and by_id[p["spouse_id"]]["deceased"])
    late = by_id[widow["spouse_id"]]
    death_extract = issue(fill("1.000656", [widow, late]))                       # KQ.G15.000032 held by widow
    H.check(s.sql("SELECT result_type FROM result WHERE result_id='%s'" % death_extract) == "KQ.G15.000032",
            "death extract issued with its type")
    # a marital status confirmation is valid 6 months from its (local) issue date, signed and in the row
    local = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=7)
    y, m = divmod(local.year * 12 + local.month - 1 + 6, 12)
    last = calendar.monthrange(y, m + 1)[1]
    want = "%04d-%02d-%02d" % (y, m + 1, min(local.day, last))
    H.check(s.sql("SELECT valid_until FROM result WHERE result_id='%s'" % conf_c1) == want,
            "confirmation valid until %s" % want)
    H.check("validUntil>%s<" % want in s.sql("SELECT signed_xml FROM result WHERE result_id='%s'" % conf_c1)
            or 'validUntil="%s"' % want in s.sql("SELECT signed_xml FROM result WHERE result_id='%s'" % conf_c1),
            "the signed confirmation says so too")
    H.check(s.sql("SELECT valid_until IS NULL FROM result WHERE result_id='%s'" % marriage_cert) == "1",
            "a marriage certificate has no end")

    # ---- birth registration: TP3 from population, TP4 = the parents' marriage certificate ----
    comps = upload("TP1") + upload("TP2") + '<component code="TP3"><reuse source="population"/></component>'
    rc = submit(fill("1.001193", [father, father, mother], comps))
    t4 = comp(rc, "TP4")
    H.check(t4["satisfiedBy"] == "result" and t4["reused"] and t4["result"]["resultId"] == marriage_cert,
            "birth: TP4 linked to the parents' marriage certificate: %s" % t4)
    H.check(t4["result"]["holder"] == "father" and t4["result"]["resultType"] == "KQ.G15.000034"
            and t4["result"]["issuer"]["ward"] == "20242" and t4["result"]["issuedAt"], "receipt: id, type, issuer, issued at")
    H.check(comp(rc, "TP3")["satisfiedBy"] == "population" and comp(rc, "TP1")["satisfiedBy"] == "upload",
            "receipt lists population and upload components")
    d = H.wait_state(s, rc["dossierCode"], {"identity_verified", "identity_mismatch"})
    H.check(d["state"] == "identity_verified", "birth dossier identity verified: %s" % d.get("statusReason"))
    H.check(comp(d, "TP3").get("satisfiedAt") and comp(d, "TP3")["evidence"].startswith("population:")
            and comp(d, "TP3")["reused"], "TP3 satisfied from the population check: %s" % comp(d, "TP3"))
    g4 = comp(d, "TP4")
    H.check(g4["satisfiedBy"] == "result" and g4["evidence"] == "result:" + marriage_cert and g4.get("satisfiedAt")
            and g4["result"]["resultId"] == marriage_cert and g4["result"]["revoked"] is False,
            "GET: TP4 evidence result:<id>, satisfied, linked result: %s" % g4)
    H.check(g4["sync"] == {"DuocTaiSuDung": 1, "MaKetQuaThayThe": marriage_cert}, "sync flags stored: %s" % g4["sync"])
    H.check(comp(d, "TP1")["reused"] is False and "reusableFrom" not in comp(d, "TP1"), "upload-only component: no reuse")
    o = s.req("GET", "/v1/dossiers/" + rc["dossierCode"], key="official").json()
    H.check(comp(o, "TP4")["result"]["href"] == "/v1/results/" + marriage_cert, "official sees the linked result")
    H.check(s.req("GET", "/v1/results/" + marriage_cert, key="official").status == 200, "official opens it")
    birth_code = rc["dossierCode"]

    # other parents: never the first couple's certificate (another holder)
    f2, m2 = couple()
    rc = submit(fill("1.001193", [f2, f2, m2], comps))
    H.check(comp(rc, "TP4")["satisfiedBy"] == "missing" and comp(rc, "TP4")["uploadRequired"],
            "other parents: TP4 missing, upload required")
    # naming another holder's result explicitly does not link it either
    rc = submit(fill("1.001193", [f2, f2, m2], comps + '<component code="TP4"><reuse source="result" resultId="%s"/>'
                     '</component>' % marriage_cert))
    H.check(comp(rc, "TP4")["satisfiedBy"] == "missing" and "result" not in comp(rc, "TP4"),
            "another holder's result named by id: not linked")
    # the holder naming it: linked
    rc = submit(fill("1.001193", [mother, father, mother], comps + '<component code="TP4"><reuse source="result" '
                     'resultId="%s"/></component>' % marriage_cert))
    H.check(comp(rc, "TP4").get("result", {}).get("resultId") == marriage_cert, "named by id, right holder: linked")

    # ---- marriage registration: TP3 = a party's marital status confirmation ----
    mar = submit(fill("1.000894", [c1, c1, d1]))
    H.check(comp(mar, "TP3")["satisfiedBy"] == "result" and comp(mar, "TP3")["result"]["resultId"] == conf_c1,
            "marriage: TP3 linked to the applicant's confirmation")
    H.check(comp(mar, "TP2")["satisfiedBy"] == "population", "marriage: TP2 from population")
    mar2 = submit(fill("1.000894", [d1, d1, c1]))
    H.check(comp(mar2, "TP3").get("result", {}).get("resultId") == conf_c1 and comp(mar2, "TP3")["result"]["holder"] == "spouse",
            "marriage applied for by the other party: the spouse's confirmation is linked")

    # ---- marital status confirmation: TP2 = the death extract of the declared spouse ----
    ms = submit(fill("1.004873", [widow, late], upload("TP1")))
    H.check(comp(ms, "TP2").get("result", {}).get("resultId") == death_extract, "widowed: TP2 linked to the death extract")
    other = single()
    ms = submit(fill("1.004873", [widow, other], upload("TP1")))
    H.check(comp(ms, "TP2")["satisfiedBy"] == "missing", "death extract about someone else: not linked")

    # ---- tampered stored bytes: refused, logged (masked), audited; falls back to upload ----
    c2, d2 = single("M"), single("F")
    conf_c2 = issue(fill("1.004873", [c2], upload("TP1") + upload("TP2")))
    triggers_off_do("UPDATE result SET signed_xml = REPLACE(signed_xml, '%s', '%s') WHERE result_id = '%s'" % (
        c2["full_name"], c2["full_name"] + "X", conf_c2))
    mt = submit(fill("1.000894", [c2, c2, d2]))
    H.check(comp(mt, "TP3")["satisfiedBy"] == "missing", "tampered result: not reused, upload required")
    aud = s.sql("SELECT action, detail FROM audit_log WHERE dossier_code='%s' AND action='reuse_result_refused'" % mt["dossierCode"])
    H.check(conf_c2 in aud and "digest-mismatch" in aud, "tampered: audited with the reason: %r" % aud)
    log = open(s.proc.logpath, encoding="utf-8", errors="replace").read()
    line = next((ln for ln in log.splitlines() if "refused on re-verification" in ln and conf_c2 in ln), "")
    H.check(line and c2["personal_id"] not in line, "tampered: logged, personal ID masked: %r" % line)
    # a tampered newer copy next to a genuine one: the copy is refused, the genuine one linked
    c3, d3 = single("M"), single("F")
    conf_c3 = issue(fill("1.004873", [c3], upload("TP1") + upload("TP2")))
    s.sql("INSERT INTO result (result_id, result_type, procedure_code, holder_pid, dossier_id, dossier_code,"
          " issuer_agency, issuer_ward, signer_cert_sha256, issued_at, signed_at, valid_until, signed_xml, signed_sha256)"
          " SELECT 'KQ-COPY-1', result_type, procedure_code, holder_pid, dossier_id, dossier_code, issuer_agency,"
          " issuer_ward, signer_cert_sha256, issued_at + INTERVAL 1 DAY, signed_at, valid_until,"
          " REPLACE(signed_xml, '%s', 'KQ-COPY-1'), signed_sha256 FROM result WHERE result_id = '%s'" % (conf_c3, conf_c3))
    mc = submit(fill("1.000894", [c3, c3, d3]))
    H.check(comp(mc, "TP3").get("result", {}).get("resultId") == conf_c3, "tampered copy skipped, genuine linked")
    H.check("KQ-COPY-1" in s.sql("SELECT detail FROM audit_log WHERE dossier_code='%s'" % mc["dossierCode"]),
            "tampered copy audited")

    # ---- revoked and expired: not reused ----
    c4, d4 = single("M"), single("F")
    conf_c4 = issue(fill("1.004873", [c4], upload("TP1") + upload("TP2")))
    r = s.req("POST", "/v1/results/%s/revocation" % conf_c4, b'{"reason":"cap sai"}', "official",
              {"Content-Type": "application/json"})
    H.check(r.status == 200, "revoke -> 200")
    H.check(comp(submit(fill("1.000894", [c4, c4, d4])), "TP3")["satisfiedBy"] == "missing", "revoked: not reused")
    c5, d5 = single("M"), single("F")
    conf_c5 = issue(fill("1.004873", [c5], upload("TP1") + upload("TP2")))
    H.check(comp(submit(fill("1.000894", [c5, c5, d5])), "TP3")["satisfiedBy"] == "result", "valid before expiry")
    triggers_off_do("UPDATE result SET valid_until = '2020-01-01' WHERE result_id = '%s'" % conf_c5)
    H.check(comp(submit(fill("1.000894", [c5, c5, d5])), "TP3")["satisfiedBy"] == "missing",
            "expired (validUntil in the past): not reused, even though its signature is cached")

    # ---- revocation after submission flags the dossier ----
    v0 = s.req("GET", "/v1/dossiers/" + mar["dossierCode"], key="portal")
    r = s.req("POST", "/v1/results/%s/revocation" % conf_c1, b'{"reason":"sai thong tin"}', "official",
              {"Content-Type": "application/json"})
    H.check(r.status == 200, "revoke reused result -> 200")
    v1 = s.req("GET", "/v1/dossiers/" + mar["dossierCode"], key="portal")
    j1 = v1.json()
    H.check(j1.get("reuseFlag") and conf_c1 in j1["reuseFlag"]["reason"], "dossier flagged: %s" % j1.get("reuseFlag"))
    H.check(comp(j1, "TP3")["result"]["revoked"] is True, "the linked result shows revoked")
    H.check(v1.header("ETag") != v0.header("ETag"), "flag bumps the version")
    hist = s.req("GET", "/v1/dossiers/%s/history" % mar["dossierCode"], key="portal").json()["history"]
    H.check(any(e["action"] == "reused_result_revoked" for e in hist), "history row for the flag")
    H.check(s.req("GET", "/v1/dossiers/" + mar2["dossierCode"], key="portal").json().get("reuseFlag"),
            "every dossier that reused it is flagged")
    H.check(not s.req("GET", "/v1/dossiers/" + birth_code, key="portal").json().get("reuseFlag"),
            "dossiers that did not reuse it are not flagged")
    H.check("flagged: 2" in s.sql("SELECT detail FROM audit_log WHERE action='revoke_result' ORDER BY id DESC LIMIT 1"),
            "revocation audit row counts the flagged dossiers")

    # ---- preview == submission ----
    c6, d6 = single("M"), single("F")
    conf_c6 = issue(fill("1.004873", [c6], upload("TP1") + upload("TP2")))
    path = "/v1/citizens/%s/evidence?procedure=1.000894&consent=true&spouse=%s" % (c6["personal_id"], d6["personal_id"])
    H.check(s.req("GET", path.replace("&consent=true", ""), key="portal").status == CONSENT_STATUS,
            "preview without consent refused")
    H.check(s.req("GET", path, key="official").status == 403, "preview: portal only")
    pv = s.req("GET", path, key="portal")
    H.check(pv.status == 200, "preview -> 200 %s" % pv.body[:300])
    pv = pv.json()
    sub = submit(fill("1.000894", [c6, c6, d6]))
    strip = lambda cs: [(c["code"], c["satisfiedBy"], c.get("result", {}).get("resultId")) for c in cs]
    H.check(strip(pv["components"]) == strip(sub["components"]), "preview == submission: %s vs %s" % (
        strip(pv["components"]), strip(sub["components"])))
    H.check(comp(pv, "TP3")["result"]["resultId"] == conf_c6, "preview shows the result that would be linked")
    H.check("applicant.fullName" in pv["prefill"]["fields"] and "declaration.party.birthDate" in pv["prefill"]["fields"],
            "preview names prefillable fields")
    H.check(c6["full_name"] not in str(pv) and d6["birth_date"][:4] not in str(pv["prefill"]),
            "preview carries no population values")
    pd = s.req("GET", path + "&decline=TP3", key="portal").json()
    H.check(comp(pd, "TP3")["satisfiedBy"] == "upload" and comp(pd, "TP3").get("declined") is True,
            "declined piece: to be uploaded")
    sd = submit(fill("1.000894", [c6, c6, d6], upload("TP1") + '<component code="TP2"><reuse source="population"/>'
                     '</component>' + upload("TP3")))
    H.check(strip(pd["components"])[2][:2] == strip(sd["components"])[2][:2], "declined preview == upload submission")
    H.check(s.req("GET", path + "&decline=TP1", key="portal").status == INVALID_STATUS,
            "declining an upload-only piece refused")
    # the refusals docs/api/openapi.yaml lists for the preview, each with its problem type
    for q, st, slug, what in ((path.replace("procedure=1.000894", "procedure=9.999999"), 422, "unknown-procedure",
                               "unknown procedure"),
                              (path.replace("procedure=1.000894&", ""), 422, "unknown-procedure", "no procedure"),
                              (path.replace(c6["personal_id"], "12345"), 422, "invalid-field", "short personal ID"),
                              (path.replace(d6["personal_id"], "0480950012x4"), 422, "invalid-field", "bad spouse ID")):
        r = s.req("GET", q, key="portal")
        H.check(r.status == st and r.header("Content-Type") == "application/problem+json"
                and r.json().get("type", "").endswith("/" + slug),
                "preview, %s -> %d %s, got %d %s" % (what, st, slug, r.status, r.body[:200]))

    # ---- verification marks: the verifier's verdict on the signed bytes, sealed with the server's key ----
    def rv():
        return s.req("GET", "/v1/stats", key="monitor").json()["reVerification"]

    def restart():
        s.stop()
        s.start()

    def linked(persons):
        return comp(submit(fill("1.000894", persons)), "TP3").get("result", {}).get("resultId")

    def mark_of(rid):
        return "SELECT %s FROM result_mark m JOIN result r ON m.sha256 = r.signed_sha256 WHERE r.result_id = '" + rid + "'"

    c7, d7 = single("M"), single("F")
    conf_c7 = issue(fill("1.004873", [c7], upload("TP1") + upload("TP2")))
    H.check(s.sql(mark_of(conf_c7) % "m.result_id") == conf_c7, "issuance stores the mark of the signed bytes")
    restart()  # empty in-memory cache: only the mark can spare the full verification
    H.check(linked([c7, c7, d7]) == conf_c7, "after a restart: linked")
    k = rv()
    H.check(k["marksAccepted"] == 1 and k["fullVerifications"] == 0, "linked on its mark, not verified again: %s" % k)
    H.check(linked([c7, c7, d7]) == conf_c7 and rv()["cacheHits"] == 1, "then from the in-memory cache")
    # edited without the key: the row and its mark made to name another holder
    c8, d8, e8 = single("M"), single("F"), single("M")
    conf_c8 = issue(fill("1.004873", [c8], upload("TP1") + upload("TP2")))
    s.sql("UPDATE result_mark m JOIN result r ON m.sha256 = r.signed_sha256 SET m.holder_pid = '%s'"
          " WHERE r.result_id = '%s'" % (e8["personal_id"], conf_c8))
    triggers_off_do("UPDATE result SET holder_pid = '%s' WHERE result_id = '%s'" % (e8["personal_id"], conf_c8))
    m8 = submit(fill("1.000894", [e8, e8, d8]))
    k = rv()
    H.check(comp(m8, "TP3")["satisfiedBy"] == "missing", "forged mark: another holder's result not linked")
    H.check(k["marksRejected"] == 1 and k["fullVerifications"] == 1, "forged mark rejected, verified in full: %s" % k)
    log = open(s.proc.logpath, encoding="utf-8", errors="replace").read()
    H.check("mark of stored result %s does not authenticate" % conf_c8 in log, "forged mark logged")
    H.check("row-does-not-match-signed-document" in s.sql(
        "SELECT detail FROM audit_log WHERE dossier_code='%s'" % m8["dossierCode"]), "forged row audited")
    # tampered bytes with the genuine mark moved onto their new hash
    c9, d9 = single("M"), single("F")
    conf_c9 = issue(fill("1.004873", [c9], upload("TP1") + upload("TP2")))
    sha9 = s.sql(mark_of(conf_c9) % "LOWER(HEX(m.sha256))")
    triggers_off_do("UPDATE result SET signed_xml = REPLACE(signed_xml, '%s', '%s') WHERE result_id = '%s'" % (
        c9["full_name"], c9["full_name"] + "X", conf_c9))
    s.sql("UPDATE result_mark SET sha256 = (SELECT UNHEX(SHA2(signed_xml, 256)) FROM result WHERE result_id = '%s')"
          " WHERE sha256 = UNHEX('%s')" % (conf_c9, sha9))
    H.check(linked([c9, c9, d9]) is None, "tampered bytes under a moved mark: not linked")
    k = rv()
    H.check(k["marksRejected"] == 2 and k["fullVerifications"] == 2, "moved mark rejected: %s" % k)
    # a mark made under another trust (anchors or CRL entries changed since): verified in full, no alarm
    c10, d10 = single("M"), single("F")
    conf_c10 = issue(fill("1.004873", [c10], upload("TP1") + upload("TP2")))
    s.sql("UPDATE result_mark m JOIN result r ON m.sha256 = r.signed_sha256 SET m.trust = UNHEX(REPEAT('00', 32))"
          " WHERE r.result_id = '%s'" % conf_c10)
    H.check(linked([c10, c10, d10]) == conf_c10, "stale mark: still linked after a full verification")
    k = rv()
    H.check(k["marksStale"] == 1 and k["marksRejected"] == 2 and k["fullVerifications"] == 3, "stale: %s" % k)
    # motcua-admin result mark: re-marks what passes, refuses the tampered ones
    out = s.admin("result", "mark").stdout
    m = re.search(r"(\d+) unrevoked results verified: (\d+) marked, (\d+) refused", out)
    unrevoked = int(s.sql("SELECT COUNT(*) FROM result WHERE revoked_at IS NULL"))
    H.check(m and int(m.group(1)) == unrevoked and int(m.group(3)) == 3, "result mark: %r (tampered c2, c9, copy)" % out)
    H.check(s.sql(mark_of(conf_c10) % "LOWER(HEX(m.trust))") == s.sql(mark_of(conf_c7) % "LOWER(HEX(m.trust))"),
            "stale mark replaced under the current trust")
    # --missing: only results without a mark of the current epoch under their stored hash (here the one
    # whose mark was moved away); rows whose bytes changed under an intact mark are left to reuse, which
    # looks marks up by the hash of the bytes as stored now
    out = s.admin("result", "mark", "--missing").stdout
    H.check("1 unrevoked results without a current mark verified: 0 marked, 1 refused" in out,
            "result mark --missing: %r" % out)
    restart()
    H.check(linked([c10, c10, d10]) == conf_c10 and rv()["fullVerifications"] == 0, "re-marked: linked on its mark")
    H.check(linked([c9, c9, d9]) is None, "still refused after re-marking")
    # submitted at once (group-commit batches): members whose results carry marks are linked by the
    # batch's leader, members needing a first verification finish on their own threads - each dossier
    # gets its own holder's result either way
    pairs = [(single("M"), single("F")) for _ in range(8)]
    confs = [issue(fill("1.004873", [a], upload("TP1") + upload("TP2"))) for a, _ in pairs]
    for rid in confs[::2]:  # half of them lose their mark: a first verification each
        s.sql("DELETE m FROM result_mark m JOIN result r ON m.sha256 = r.signed_sha256 WHERE r.result_id = '%s'" % rid)
    restart()
    with concurrent.futures.ThreadPoolExecutor(len(pairs)) as ex:
        got = list(ex.map(lambda ab: linked([ab[0], ab[0], ab[1]]), pairs))
    H.check(got == confs, "at once: every dossier linked its own holder's result: %s" % got)
    k = rv()
    H.check(k["marksAccepted"] == 4 and k["fullVerifications"] == 4, "at once: 4 on marks, 4 verified in full: %s" % k)
    # another key (rotated): every mark is stale - verified in full, linked, no forgery alarm
    rotated = os.path.join(certs, "mark-rotated.key")
    with open(rotated, "wb") as f:
        f.write(os.urandom(32))
    os.chmod(rotated, 0o600)
    s.stop()
    s.start(env={"MOTCUA_MARK_KEY_FILE": rotated})
    H.check(linked([c7, c7, d7]) == conf_c7, "rotated key: still linked")
    k = rv()
    H.check(k["marksStale"] == 1 and k["marksRejected"] == 0 and k["fullVerifications"] == 1,
            "rotated key: the old mark is stale, not a forgery: %s" % k)
    restart()
    # an unfit key file refuses start-up, naming the key
    bad = os.path.join(certs, "mark-bad.key")
    with open(bad, "wb") as f:
        f.write(b"short")
    os.chmod(bad, 0o600)
    p = subprocess.run([H.MOTCUAD], env=dict(s.env, MOTCUA_MARK_KEY_FILE=bad, MOTCUA_LISTEN_PORT=str(H.free_port())),
                       capture_output=True, text=True, timeout=30)
    H.check(p.returncode != 0 and "mark_key_file" in p.stderr, "short mark key refuses start-up: %r" % p.stderr[-200:])
    os.chmod(os.path.join(certs, "mark.key"), 0o644)
    p = subprocess.run([H.MOTCUAD], env=dict(s.env, MOTCUA_LISTEN_PORT=str(H.free_port())),
                       capture_output=True, text=True, timeout=30)
    os.chmod(os.path.join(certs, "mark.key"), 0o600)
    H.check(p.returncode != 0 and "group or others" in p.stderr, "readable mark key refuses start-up")

    # ---- stats ----
    st = s.req("GET", "/v1/stats", key="monitor")
    H.check(st.status == 200, "stats -> 200 for monitor")
    st = st.json()
    n = int(s.sql("SELECT COUNT(*) FROM dossier"))
    H.check(st["total"]["dossiers"] == n, "stats count every dossier (%s vs %d)" % (st["total"]["dossiers"], n))
    by = {p["procedure"]: p for p in st["procedures"]}
    H.check(by["1.000894"]["satisfiedWithoutUpload"]["result"] >= 5, "marriage: results reused counted")
    H.check(0 < st["total"]["shareAvoided"] <= 1, "share avoided in (0, 1]")
    # every dossier's own figures (GET /v1/dossiers/{code} "onceOnly") add up to the stats' totals
    keys = ["componentsAsked", "populationPending", "uploaded", "missing", "declaredFields",
            "declaredFieldsPrefillable"]
    flat = lambda o: [o[k] for k in keys] + [o["satisfiedWithoutUpload"][k] for k in ("population", "result", "total")]
    for _ in range(20):  # identity checks may still be finishing: compare two consistent readings
        codes = s.sql("SELECT code FROM dossier ORDER BY id").split()
        views = [s.req("GET", "/v1/dossiers/" + code, key="portal").json()["onceOnly"] for code in codes]
        summed = [sum(v) for v in zip(*[flat(o) for o in views])]
        total = s.req("GET", "/v1/stats", key="monitor").json()["total"]
        if summed == flat(total):
            break
        time.sleep(0.2)
    H.check(summed == flat(total), "per-dossier figures add up to /v1/stats: %s vs %s" % (summed, flat(total)))
    one = next(o for o in views if o["satisfiedWithoutUpload"]["result"] > 0)
    H.check(abs(one["shareAvoided"] - one["satisfiedWithoutUpload"]["total"] / one["componentsAsked"]) < 1e-9,
            "a dossier's share avoided: %s" % one)
    H.check(s.req("GET", "/v1/stats", key="official").json()["ward"] == "20242", "official: own ward")
    H.check(s.req("GET", "/v1/stats?ward=20257", key="official").status == 403, "official: other ward refused")
    H.check(s.req("GET", "/v1/stats", key="portal").status == 403, "portal may not read stats")
    r = s.req("GET", "/v1/stats?ward=abc", key="monitor")
    H.check(r.status == 422 and r.json().get("type", "").endswith("/invalid-field"),
            "stats: a ward that is not a ward code -> 422 invalid-field, got %d" % r.status)
finally:
    s.close()
    sim.stop()
H.finish()
