"""Intake over HTTP against a real motcuad and MariaDB: every procedure's valid and invalid sample,
content negotiation, routing errors, the personal-ID check, auth and scoping, readiness."""
import re
import hashlib
import harness as H

s = H.Stack("intake")
try:
    s.start()
    codes = {}
    for code in H.PROCEDURES:
        r = s.submit(H.sample(code))
        if not H.check(r.status == 201, "%s valid sample -> 201, got %d %s" % (code, r.status, r.body[:300])):
            continue
        rc = r.json()
        codes[code] = rc["dossierCode"]
        H.check(re.fullmatch(r"[A-Z0-9.]+-\d{6}-\d{4}", rc["dossierCode"]) is not None, "code shape " + rc["dossierCode"])
        H.check(r.header("Location") == "/v1/dossiers/" + rc["dossierCode"], "Location header")
        H.check(rc["procedure"]["code"] == code, "receipt names the procedure")
        H.check(rc["nationalStatus"] == 1 and rc["channel"] == 2, "national status 1, channel 2 (online)")
        H.check(re.fullmatch(r"\d{3}\*{6}\d{3}", rc["applicant"]["personalId"]) is not None, "ID masked in receipt")
        H.check("receivedAt" in rc and rc["receivedAt"].endswith("+07:00"), "receivedAt local time")
        H.check(len(rc["components"]) > 0 and all("satisfiedBy" in c for c in rc["components"]), "components planned")
        g = s.req("GET", "/v1/dossiers/" + rc["dossierCode"], key="portal")
        H.check(g.status == 200 and g.json()["dossierCode"] == rc["dossierCode"], "GET own dossier")
        H.check(g.header("ETag") is not None, "GET carries an ETag")
        h = s.req("GET", "/v1/dossiers/%s/history" % rc["dossierCode"], key="portal")
        H.check(h.status == 200 and h.json()["history"][0]["toState"] == "submitted", "history has the submit row")

    # same-day procedure: the due time is 17:00 local
    if "1.001193" in codes:
        due = s.req("GET", "/v1/dossiers/" + codes["1.001193"], key="portal").json()["dueAt"]
        H.check(due is not None and due[11:19] == "17:00:00", "same-day procedure due at 17:00, got %s" % due)

    before = s.sql("SELECT COUNT(*) FROM dossier")
    # each invalid sample is wrong in its own way (tests/samples/README.md); 1.004222's names another procedure
    expected = {c: "xsd-invalid" for c in H.PROCEDURES}
    expected["1.004222"] = "unknown-procedure"
    for code in H.PROCEDURES:
        r = s.submit(H.sample(code, "invalid"))
        H.check(r.status == 422, "%s invalid sample -> 422, got %d" % (code, r.status))
        if r.status == 422:
            p = r.json()
            H.check(r.header("Content-Type") == "application/problem+json", "problem+json content type")
            H.check(p["type"].endswith("/" + expected[code]) and p["status"] == 422,
                    "%s: type %s, got %s" % (code, expected[code], p["type"]))
            if expected[code] == "xsd-invalid":
                H.check(len(p.get("errors", [])) >= 1 and
                        all({"line", "path", "message"} <= set(e) for e in p["errors"]), "errors list {line,path,message}")
    H.check(s.sql("SELECT COUNT(*) FROM dossier") == before, "invalid samples stored nothing")

    good = H.sample("1.001193")
    # personal ID inconsistent with the declared gender (M -> F on the applicant)
    bad_gender = good.replace(b"<gender>M</gender>\n    <contact>", b"<gender>F</gender>\n    <contact>", 1)
    r = s.submit(bad_gender)
    H.check(r.status == 422 and r.json()["type"].endswith("/personal-id-inconsistent"), "PID/gender mismatch -> 422")
    bad_year = good.replace(b"<birthDate>1995-03-14</birthDate>\n    <gender>", b"<birthDate>1996-03-14</birthDate>\n    <gender>", 1)
    r = s.submit(bad_year)
    H.check(r.status == 422 and r.json()["type"].endswith("/personal-id-inconsistent"), "PID/year mismatch -> 422")
    bad_ward = good.replace(b"<ward>20242</ward>", b"<ward>99999</ward>")
    r = s.submit(bad_ward)
    H.check(r.status == 422 and r.json()["type"].endswith("/unknown-unit"), "unknown ward -> 422 unknown-unit")
    unknown_proc = good.replace(b'procedure="1.001193"', b'procedure="9.999999"')
    r = s.submit(unknown_proc)
    H.check(r.status == 422 and r.json()["type"].endswith("/unknown-procedure"), "unknown procedure -> 422")
    r = s.submit(good, ctype="application/json")
    H.check(r.status == 415 and r.json()["type"].endswith("/unsupported-media-type"), "wrong content type -> 415")
    r = s.submit(good, ctype="text/xml; charset=utf-8")
    H.check(r.status == 201, "text/xml with charset accepted")
    # a large valid dossier (~600 KiB of comments): its bytes are streamed to MariaDB, stored exactly
    large = good.replace(b"<ward>", b"".join(b"<!-- %s -->\n" % (b"c" * 60000) for _ in range(10)) + b"<ward>", 1)
    r = s.submit(large)
    H.check(r.status == 201, "a %d-byte valid dossier -> 201, got %d" % (len(large), r.status))
    if r.status == 201:
        stored = s.sql("SELECT LENGTH(body), UPPER(SHA2(body, 256)) FROM dossier WHERE code = '%s'" % r.json()["dossierCode"])
        H.check(stored == "%d\t%s" % (len(large), hashlib.sha256(large).hexdigest().upper()),
                "the large dossier is stored byte for byte")
    big = b"<a>" + b"x" * (2 * 1024 * 1024) + b"</a>"
    r = s.submit(big)
    H.check(r.status == 413, "2 MiB body over xml_max_bytes -> 413, got %d" % r.status)

    r = s.submit(good, idem="k" * 129)
    H.check(r.status == 400 and r.json()["type"].endswith("/bad-request"), "Idempotency-Key over 128 chars -> 400")
    r = s.submit(good, idem="bad key")
    H.check(r.status == 400, "Idempotency-Key with a space -> 400")
    n_before = s.sql("SELECT COUNT(*) FROM dossier")
    r = s.submit(good, idem="")  # sent but empty is not "no key": the client meant to be idempotent
    H.check(r.status == 400 and "Idempotency-Key" in r.json().get("detail", ""), "empty Idempotency-Key -> 400, got %d" % r.status)
    r = s.submit(good, idem="k" * 400)  # over the header buffer: refused whole, never cut to a valid-looking key
    H.check(r.status == 400 and "Idempotency-Key" in r.json().get("detail", ""), "400-char Idempotency-Key -> 400 naming it")
    H.check(s.sql("SELECT COUNT(*) FROM dossier") == n_before, "refused keys stored nothing")
    r = s.req("DELETE", "/v1/dossiers", key="portal")
    H.check(r.status == 405 and "POST" in (r.header("Allow") or ""), "DELETE -> 405 with Allow")
    r = s.req("GET", "/v1/nothing", key="portal")
    H.check(r.status == 404 and r.json()["type"].endswith("/not-found"), "unknown route -> 404 problem")
    r = s.req("GET", "/v1/dossiers/NO-SUCH-0001", key="portal")
    H.check(r.status == 404, "unknown dossier -> 404")
    # a query string is refused, not cut, when it does not fit (511 bytes)
    r = s.req("GET", "/v1/queue?state=received&" + "x" * 600, key="official")
    H.check(r.status == 400 and r.json()["type"].endswith("/bad-request"), "query over 511 bytes -> 400, got %d" % r.status)

    # auth and scoping
    r = s.submit(good, key=None)
    H.check(r.status == 401 and r.json()["type"].endswith("/unauthorized"), "no key -> 401")
    r = s.submit(good, key="mck_" + "A" * 43)
    H.check(r.status == 401, "unknown key -> 401")
    r = s.submit(good, key="monitor")
    H.check(r.status == 403 and r.json()["type"].endswith("/forbidden"), "monitor may not submit -> 403")
    r = s.submit(good, key="official")
    H.check(r.status == 403, "official may not submit -> 403")
    if "1.001193" in codes:
        c = codes["1.001193"]
        H.check(s.req("GET", "/v1/dossiers/" + c, key="portal2").status == 404, "other portal sees 404")
        H.check(s.req("GET", "/v1/dossiers/%s/history" % c, key="portal2").status == 404, "other portal history 404")
        H.check(s.req("GET", "/v1/dossiers/" + c, key="official").status == 200, "official of the ward sees it")
        H.check(s.req("GET", "/v1/dossiers/" + c, key="official_other").status == 404, "official of another ward: 404")
    r = s.submit(good, key="national")
    H.check(r.status == 201 and r.json()["source"] == "national", "national portal submits (source national)")
    # revocation takes effect (cache TTL is 0 in tests)
    k = s.new_key("portal", None, "to-revoke")
    H.check(s.submit(good, key=k).status == 201, "fresh key works")
    cid = s.sql("SELECT id FROM api_client WHERE name='to-revoke'")
    s.admin("client", "revoke", cid)
    H.check(s.submit(good, key=k).status == 401, "revoked key -> 401")
    H.check(s.sql("SELECT COUNT(*) FROM api_client WHERE key_hash LIKE '%mck_%'") == "0", "no plaintext key stored")

    H.check(s.req("GET", "/readyz").status == 200, "readyz 200")
    H.check(s.req("GET", "/healthz").status == 200, "healthz 200")
    log = open(s.proc.logpath, "rb").read().decode("utf-8", "replace")
    H.check("048095001234" not in log, "personal ID never logged in full")
    H.check(re.search(r"req=\S+ method=POST route=/v1/dossiers status=201 ms=[\d.]+ client=\d+ dossier=\S+-\d{4}", log)
            is not None, "one log line per request with route, status, duration, dossier code")
    H.check(s.stop() == 0, "SIGTERM -> clean exit 0")
    log = open(s.proc.logpath, "rb").read().decode("utf-8", "replace")
    m = re.search(r"intake group commit: (\d+) dossiers in (\d+) batches \([\d.]+ a batch\), [\d.]+ ms a batch", log)
    H.check(m is not None and m.group(1) == s.sql("SELECT COUNT(*) FROM dossier") and int(m.group(2)) >= 1,
            "shutdown logs the group commit's figures, its dossier count the stored one (%s)" % (m and m.group(0)))
finally:
    s.close()
H.finish()
