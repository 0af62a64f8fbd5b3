"""Signed results repository over HTTP against a real motcuad and MariaDB: issue with motcua-admin,
GET byte-for-byte, xmlsec1 interop on the fetched bytes, public verify (valid, tampered, revoked,
malformed, DTD, oversize, rate limit), revocation rules, listing by holder, scoping, start-up
without keys."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import harness as H

certs = tempfile.mkdtemp(prefix="motcua-results-certs-")
subprocess.run([os.path.join(H.SRC, "certs", "mkdev-ca.sh"), certs], check=True, capture_output=True)
env = H.signing_env(certs)
XML = {"Content-Type": "application/xml"}
JSON = {"Content-Type": "application/json"}


def verify(s, body, headers=XML):
    return s.req("POST", "/v1/verify", body, None, headers)


def problem_type(r):
    try:
        return r.json().get("type", "")
    except ValueError:
        return ""


s = H.Stack("results", env)
try:
    s.start()
    # two dossiers of the portal client, one of portal2
    codes = []
    for key in ("portal", "portal", "portal2"):
        r = s.submit(H.sample("1.001193"), key=key)
        H.check(r.status == 201, "submit -> 201, got %d" % r.status)
        codes.append(r.json()["dossierCode"])

    # ---- issue via the CLI ----
    out = s.admin("result", "issue", "--dossier", codes[0]).stdout
    m = re.search(r"result (\S+) issued", out)
    H.check(m is not None, "CLI prints the result id: %r" % out)
    rid = m.group(1) if m else "KQ-" + codes[0]
    H.check(rid == "KQ-" + codes[0], "result id is KQ-<dossier code>")
    r = s.admin("result", "issue", "--dossier", codes[0], check_rc=False)
    H.check(r.returncode != 0 and "already has a result" in r.stderr, "second issue of the same dossier refused")
    r = s.admin("result", "issue", "--dossier", "NO-SUCH-DOSSIER", check_rc=False)
    H.check(r.returncode != 0, "issue for an unknown dossier fails")
    rid2 = re.search(r"result (\S+) issued", s.admin("result", "issue", "--dossier", codes[2]).stdout).group(1)

    row = s.sql("SELECT result_type, holder_pid, issuer_ward, issuer_agency, LENGTH(signer_cert_sha256),"
                " HEX(signed_sha256) = UPPER(SHA2(signed_xml, 256)) FROM result WHERE result_id = '%s'" % rid).split("\t")
    agency = codes[0].rsplit("-", 2)[0]  # the receiving unit's agency id, as intake put it in the dossier code
    H.check(row == ["KQ.G15.000031", "048095001234", "20242", agency, "64", "1"],
            "row: type, holder, ward, agency %s, fingerprint, sha256 of the signed bytes: %r" % (agency, row))
    db_bytes = bytes.fromhex(s.sql("SELECT HEX(signed_xml) FROM result WHERE result_id = '%s'" % rid))

    # ---- GET byte-for-byte ----
    g = s.req("GET", "/v1/results/" + rid, key="portal")
    H.check(g.status == 200 and g.header("Content-Type") == "application/xml", "GET own result -> 200 application/xml")
    H.check(g.body == db_bytes, "GET returns the signed bytes exactly as stored")
    H.check(b'<field name="child.fullName">Nguy\xe1\xbb\x85n V\xc4\x83n B\xc3\xacnh</field>' in g.body,
            "content carries the birth-registration extract fields")
    H.check(s.req("GET", "/v1/results/" + rid, key="portal2").status == 404, "other portal -> 404")
    H.check(s.req("GET", "/v1/results/" + rid, key="national").status == 404, "national that did not submit -> 404")
    reads = lambda: s.sql("SELECT COUNT(*) FROM audit_log WHERE action = 'read_personal_data'")
    n0 = int(reads())
    H.check(s.req("GET", "/v1/results/" + rid, key="official_other").status == 200, "officials read any result")
    row = s.sql("SELECT role, ward, dossier_code, detail FROM audit_log WHERE action = 'read_personal_data'"
                " ORDER BY id DESC LIMIT 1")
    H.check(int(reads()) == n0 + 1 and row == "official\t20257\t%s\tGET result %s" % (codes[0], rid),
            "an official's read of a result is audited (who, ward, dossier, which result): %r" % row)
    s.req("GET", "/v1/results/" + rid, key="portal")
    H.check(int(reads()) == n0 + 1, "the submitting portal's own read is not an official's read: no audit row")
    H.check(s.req("GET", "/v1/results/" + rid, key="monitor").status == 403, "monitor role -> 403")
    H.check(s.req("GET", "/v1/results/" + rid).status == 401, "no key -> 401")
    H.check(s.req("GET", "/v1/results/KQ-NOPE", key="official").status == 404, "unknown result -> 404")

    # ---- interop: the xmlsec1 command line verifies the fetched bytes ----
    # scripts/deps.sh installs xmlsec1: its absence is a broken test machine, not a reason to pass
    if H.check(shutil.which("xmlsec1") is not None, "xmlsec1 is installed (scripts/deps.sh), so the interop check runs"):
        with tempfile.NamedTemporaryFile(suffix=".xml", delete=False) as f:
            f.write(g.body)
        x = subprocess.run(["xmlsec1", "--verify", "--trusted-pem", os.path.join(certs, "ca.crt"),
                            "--id-attr:Id", "urn:motcua:result:1:result", f.name], capture_output=True, text=True)
        H.check(x.returncode == 0, "xmlsec1 --verify accepts the fetched result: %s" % x.stderr[-300:])
        os.unlink(f.name)

    # ---- public verify ----
    v = verify(s, g.body)
    vj = v.json() if v.status == 200 else {}
    H.check(v.status == 200 and vj.get("valid") is True and vj.get("slug") == "ok", "verify: valid %s" % v.body[:300])
    H.check(vj.get("inRepository") is True and vj.get("revoked") is False, "verify: in repository, not revoked")
    H.check(vj.get("resultId") == rid and vj.get("resultType") == "KQ.G15.000031", "verify: id and type")
    H.check(vj.get("holder") == "048******234", "verify: holder masked, got %r" % vj.get("holder"))
    H.check(vj.get("issuer", {}).get("agencyId") == "20242" and vj.get("signedAt", "").endswith("+07:00"),
            "verify: issuer and signing time")
    H.check(len(vj.get("signerCertSha256") or "") == 64, "verify: signer fingerprint")
    H.check(v.header("X-Request-Id") is not None, "verify needs no key")

    tampered = g.body.replace("Nguyễn Văn Bình".encode(), "Nguyễn Văn Bính".encode(), 1)
    H.check(tampered != g.body, "tamper changed a byte")
    v = verify(s, tampered)
    vj = v.json() if v.status == 200 else {}
    H.check(v.status == 200 and vj.get("valid") is False and vj.get("slug") == "digest-mismatch",
            "tampered -> 200 valid=false digest-mismatch, got %d %s" % (v.status, v.body[:300]))
    H.check(vj.get("reason", "").endswith("/digest-mismatch") and vj.get("why"), "tampered: reason type and why")
    H.check(vj.get("inRepository") is False, "tampered: not in repository")

    v = verify(s, b'<?xml version="1.0"?>\n<!DOCTYPE result [<!ENTITY x "y">]>' + g.body.split(b"?>", 1)[1])
    H.check(v.status == 400 and problem_type(v).endswith("/xml-forbidden") and v.json().get("slug") == "dtd-forbidden",
            "DTD -> 400 xml-forbidden, got %d %s" % (v.status, v.body[:200]))
    v = verify(s, g.body[: len(g.body) // 2])
    H.check(v.status == 400 and problem_type(v).endswith("/xml-malformed"), "truncated -> 400 xml-malformed")
    v = verify(s, b"<result/>" + b" " * (256 * 1024 + 1))
    H.check(v.status == 413 and problem_type(v).endswith("/too-large"), "over verify_max_bytes -> 413, got %d" % v.status)
    v = verify(s, g.body, JSON)
    H.check(v.status == 415, "verify with a JSON content type -> 415")

    # ---- revocation ----
    path = "/v1/results/%s/revocation" % rid
    r = s.req("POST", path, json.dumps({"reason": "wrong ward"}), "official_other", JSON)
    H.check(r.status == 404, "official of another ward -> 404, got %d" % r.status)
    r = s.req("POST", path, json.dumps({"reason": "x"}), "portal", JSON)
    H.check(r.status == 403, "portal may not revoke -> 403")
    r = s.req("POST", path, json.dumps({}), "official", JSON)
    H.check(r.status == 422 and problem_type(r).endswith("/invalid-field"), "no reason -> 422, got %d" % r.status)
    r = s.req("POST", path, json.dumps({"reason": "   "}), "official", JSON)
    H.check(r.status == 422, "blank reason -> 422")
    r = s.req("POST", path, "not json", "official", JSON)
    H.check(r.status == 400, "body not JSON -> 400")
    r = s.req("POST", path, json.dumps({"reason": "Sai ngày sinh của trẻ"}), "official", JSON)
    H.check(r.status == 200 and r.json().get("revoked") is True and r.json().get("revocationReason") == "Sai ngày sinh của trẻ",
            "revoke -> 200 revoked, got %d %s" % (r.status, r.body[:200]))
    r = s.req("POST", path, json.dumps({"reason": "again"}), "official", JSON)
    H.check(r.status == 409 and problem_type(r).endswith("/conflict"), "revoke twice -> 409")
    v = verify(s, g.body)
    vj = v.json() if v.status == 200 else {}
    H.check(vj.get("valid") is True and vj.get("revoked") is True and vj.get("revocationReason") == "Sai ngày sinh của trẻ",
            "verify after revocation: signature valid, revoked true")
    H.check(s.req("GET", "/v1/results/" + rid, key="portal").body == db_bytes, "revoked result still served byte-for-byte")
    # the table is append-only except revocation
    r = H.mariadb("sql", s.db, "-e", "UPDATE result SET holder_pid='000000000000' WHERE result_id='%s'" % rid,
                  check_rc=False)
    H.check(r.returncode != 0 and "append-only" in r.stderr, "UPDATE of a signed column refused by the trigger")
    r = H.mariadb("sql", s.db, "-e", "DELETE FROM result", check_rc=False)
    H.check(r.returncode != 0 and "append-only" in r.stderr, "DELETE refused by the trigger")
    # a revoked result may be re-issued, under a new id
    out = s.admin("result", "issue", "--dossier", codes[0]).stdout
    H.check(("result KQ-%s-2 issued" % codes[0]) in out, "re-issue after revocation -> KQ-<code>-2: %r" % out)
    s.admin("result", "issue", "--dossier", codes[1])

    # ---- list by holder ----
    holder = "048095001234"
    r = s.req("GET", "/v1/results?holder=%s" % holder, key="portal")
    lst = r.json().get("results", []) if r.status == 200 else []
    H.check(r.status == 200 and len(lst) == 3, "portal lists its 3 results (incl. the revoked), got %d" % len(lst))
    H.check(all(x["holder"] == "048******234" for x in lst), "list masks the holder")
    H.check(sum(1 for x in lst if x["revoked"]) == 1, "list marks the revoked one")
    r = s.req("GET", "/v1/results?holder=%s" % holder, key="portal2")
    H.check(r.status == 200 and [x["resultId"] for x in r.json()["results"]] == [rid2], "portal2 sees only its own")
    n_reads = int(reads())
    r = s.req("GET", "/v1/results?holder=%s&type=KQ.G15.000031&limit=2" % holder, key="official")
    p1 = r.json() if r.status == 200 else {}
    got = s.sql("SELECT dossier_code, detail FROM audit_log WHERE action = 'read_personal_data' AND id > (SELECT"
                " COALESCE(MAX(id), 0) FROM audit_log) - %d ORDER BY id" % (int(reads()) - n_reads))
    want = "\n".join("%s\tlisted result %s" % (x["dossierCode"], x["resultId"]) for x in p1.get("results", []))
    H.check(int(reads()) == n_reads + 2 and got == want,
            "an official's page of a holder's results is audited one row per result, by dossier, no ID: %r" % got)
    H.check(len(p1.get("results", [])) == 2 and p1.get("next"), "official: page of 2 with a next cursor")
    r = s.req("GET", "/v1/results?holder=%s&type=KQ.G15.000031&limit=2&after=%s" % (holder, p1.get("next")), key="official")
    H.check(r.status == 200 and len(r.json()["results"]) == 2 and r.json()["next"] is None, "official: second page of 2")
    H.check(s.sql("SELECT COUNT(*) FROM audit_log WHERE detail LIKE '%%048%%'") == "0",
            "no audit detail carries any part of the holder's personal ID")
    n1 = int(reads())
    r = s.req("GET", "/v1/results?holder=%s&type=KQ.G15.000099" % holder, key="official")
    H.check(r.status == 200 and r.json()["results"] == [], "other type -> empty list")
    H.check(int(reads()) == n1, "an empty list reveals nothing: no audit row")
    H.check(s.req("GET", "/v1/results", key="official").status == 400, "holder required -> 400")
    H.check(s.req("GET", "/v1/results?holder=123", key="official").status == 400, "bad holder -> 400")
    H.check(s.req("GET", "/v1/results?holder=%s&limit=101" % holder, key="official").status == 400, "limit over 100 -> 400")

    # ---- verify rate limit per client IP (20/s, burst 20) ----
    time.sleep(1.1)
    statuses = [verify(s, g.body).status for _ in range(60)]
    H.check(429 in statuses and statuses[:15].count(200) == 15, "verify rate-limited -> 429 after the burst: %s" % statuses)
    time.sleep(1.1)
    H.check(verify(s, g.body).status == 200, "bucket refills")

    log = open(s.proc.logpath, "rb").read().decode("utf-8", "replace")
    H.check("048095001234" not in log, "personal ID never logged in full")
    H.check("ward 20242 signs with ward-20242.crt" in log, "start-up names the key each ward signs with")
    H.check(s.stop() == 0, "SIGTERM -> clean exit 0")

    # ---- without keys or trust: intake still serves, verify and issue answer 'unavailable' ----
    empty = tempfile.mkdtemp(prefix="motcua-no-certs-")
    p = s.start(env={"MOTCUA_SIGN_DIR": empty, "MOTCUA_TRUST_CA_FILE": os.path.join(empty, "ca.crt"),
                     "MOTCUA_CRL_FILE": ""})
    H.check(s.submit(H.sample("1.001193")).status == 201, "no sign_dir: intake still works")
    v = verify(s, g.body)
    H.check(v.status == 503 and problem_type(v).endswith("/results-unavailable"), "no trust: verify -> 503 results-unavailable")
    H.check(s.req("GET", "/v1/results/" + rid, key="portal").status == 200, "no keys: stored results are still served")
    e2 = dict(s.env, MOTCUA_SIGN_DIR=empty)
    r = subprocess.run([H.ADMIN, "result", "issue", "--dossier", codes[1]], env=e2, capture_output=True, text=True)
    H.check(r.returncode != 0 and "sign_dir" in r.stderr, "no keys: CLI issue explains: %r" % r.stderr[-200:])
    H.check(s.stop(p) == 0, "clean exit")
    shutil.rmtree(empty, ignore_errors=True)

    # ---- key rotation: ward-<w>.<n>.crt beside ward-<w>.crt; a revoked key is never used ----
    rot = tempfile.mkdtemp(prefix="motcua-rot-certs-")
    for src, dst in [("ward-20242", "ward-20242"), ("ward-20242-ec", "ward-20242.2"),
                     ("ward-20242-revoked", "ward-20257.1"), ("ward-20242-expired", "ward-20305.1")]:
        for ext in (".crt", ".key"):
            shutil.copy(os.path.join(certs, src + ext), os.path.join(rot, dst + ext))
    p = s.start(env={"MOTCUA_SIGN_DIR": rot})
    log = open(p.logpath, "rb").read().decode("utf-8", "replace")
    H.check("ward 20242 signs with ward-20242.2.crt" in log, "rotation: the newer generation signs")
    H.check(re.search(r"ward-20257\.1\.crt not used: .*certificate-revoked", log) is not None,
            "rotation: a revoked certificate is refused at start")
    H.check("ward-20305.1.crt is not valid now" in log, "rotation: an expired certificate is not used")
    code = s.submit(H.sample("1.001193")).json()["dossierCode"]
    r = subprocess.run([H.ADMIN, "result", "issue", "--dossier", code], env=dict(s.env, MOTCUA_SIGN_DIR=rot),
                       capture_output=True, text=True)
    H.check(r.returncode == 0, "rotation: issue with the new key: %s" % r.stderr[-200:])
    g2 = s.req("GET", "/v1/results/KQ-" + code, key="portal")
    v = verify(s, g2.body)
    ec_fp = subprocess.run(["openssl", "x509", "-in", os.path.join(rot, "ward-20242.2.crt"), "-noout", "-fingerprint",
                            "-sha256"], capture_output=True, text=True).stdout.split("=")[1].strip().replace(":", "").lower()
    H.check(v.status == 200 and v.json()["valid"] is True and v.json()["signerCertSha256"] == ec_fp,
            "rotation: the result names the certificate that signed it")
    H.check(s.sql("SELECT signer_cert_sha256 FROM result WHERE result_id = 'KQ-%s'" % code) == ec_fp,
            "rotation: the row stores that fingerprint")
    H.check(s.stop(p) == 0, "clean exit")
    shutil.rmtree(rot, ignore_errors=True)
finally:
    s.close()
    shutil.rmtree(certs, ignore_errors=True)
H.finish()
