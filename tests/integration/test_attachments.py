"""Dossier attachments over HTTP against a real motcuad and MariaDB: PDF/JPEG/PNG accepted by content,
anything else 415 even with a .pdf name; per-file and per-dossier caps 413 (problem+json, nothing
stored); exact bytes back with the same SHA-256 and the detected type; scoping (other portal, other
ward, national that did not submit: 404; monitor 403; officials may read but not upload); header
validation; one audit row per upload and per official read."""
import hashlib
import os
import harness as H

FILE_MAX, DOSSIER_MAX = 65536, 150000
env = {"MOTCUA_ATTACHMENT_MAX_BYTES": str(FILE_MAX), "MOTCUA_DOSSIER_ATTACHMENTS_MAX_BYTES": str(DOSSIER_MAX)}
PDF = b"%PDF-1.7\n" + os.urandom(40000)
JPEG = b"\xff\xd8\xff\xe0" + os.urandom(30000)
PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(50000)


def post(s, code, body, name="file.pdf", key="portal", component=None, headers=None):
    h = {"Content-Type": "application/octet-stream"}
    if name is not None:
        h["X-File-Name"] = name.encode("utf-8")  # raw UTF-8 bytes: http.client would send str as Latin-1
    if component:
        h["X-Component"] = component
    h.update(headers or {})
    return s.req("POST", "/v1/dossiers/%s/attachments" % code, body, key, h)


def ptype(r):
    try:
        return r.json().get("type", "")
    except ValueError:
        return ""


def count(s, code):
    return int(s.sql("SELECT COUNT(*) FROM attachment a JOIN dossier d ON d.id = a.dossier_id WHERE d.code = '%s'" % code))


s = H.Stack("attachments", env)
try:
    s.start()
    codes = []
    for key in ("portal", "portal", "portal2"):
        r = s.submit(H.sample("1.001193"), key=key)
        H.check(r.status == 201, "submit -> 201")
        codes.append(r.json()["dossierCode"])
    code, code_b, code_other = codes

    # ---- accepted by content: PDF, JPEG, PNG; SHA-256 returned and stored ----
    r = post(s, code, PDF, "giấy khai sinh.pdf", component="TP1")
    H.check(r.status == 201, "PDF upload -> 201 (got %d %s)" % (r.status, r.body[:200]))
    a1 = r.json() if r.status == 201 else {}
    H.check(a1.get("sha256") == hashlib.sha256(PDF).hexdigest(), "201 carries the SHA-256 of the bytes")
    H.check(a1.get("contentType") == "application/pdf" and a1.get("size") == len(PDF), "type detected, size")
    H.check(a1.get("fileName") == "giấy khai sinh.pdf" and a1.get("component") == "TP1", "name (UTF-8) and component kept")
    H.check(r.header("Location") == "/v1/dossiers/%s/attachments/%s" % (code, a1.get("id")), "Location names it")
    row = s.sql("SELECT LOWER(HEX(sha256)) = LOWER(SHA2(bytes, 256)), size_bytes = LENGTH(bytes), content_type"
                " FROM attachment WHERE id = %s" % a1.get("id", 0)).split("\t")
    H.check(row == ["1", "1", "application/pdf"], "stored sha256 and size are those of the stored bytes: %r" % row)
    r = post(s, code, JPEG, "anh.png")  # the name says PNG, the bytes say JPEG: the bytes win
    H.check(r.status == 201 and r.json()["contentType"] == "image/jpeg", "JPEG detected whatever the name says")
    a2 = r.json() if r.status == 201 else {}
    r = post(s, code_b, PNG, "scan.png", component="TP2")
    H.check(r.status == 201 and r.json()["contentType"] == "image/png", "PNG detected")
    a3 = r.json() if r.status == 201 else {}

    # ---- exact bytes back ----
    for key in ("portal", "official"):
        g = s.req("GET", "/v1/dossiers/%s/attachments/%s" % (code, a1.get("id")), key=key)
        H.check(g.status == 200 and g.body == PDF, "%s gets the exact bytes back" % key)
        H.check(hashlib.sha256(g.body).hexdigest() == a1.get("sha256"), "%s: same SHA-256" % key)
        H.check(g.header("Content-Type") == "application/pdf", "%s: stored content type" % key)
        H.check(g.header("Content-Disposition") == "attachment; filename=\"gi_y_khai_sinh.pdf\"; "
                "filename*=UTF-8''gi%E1%BA%A5y%20khai%20sinh.pdf", "%s: the stored name for the download: %r" % (
                    key, g.header("Content-Disposition")))
    g = s.req("GET", "/v1/dossiers/%s/attachments/%s" % (code, a2.get("id")), key="portal")
    H.check(g.status == 200 and g.body == JPEG and g.header("Content-Type") == "image/jpeg", "JPEG back exactly")

    # ---- list ----
    l = s.req("GET", "/v1/dossiers/%s/attachments" % code, key="official")
    items = l.json().get("attachments", []) if l.status == 200 else []
    H.check([i["id"] for i in items] == [a1.get("id"), a2.get("id")], "official lists the ward's dossier's files")
    H.check(all("bytes" not in i for i in items) and items and items[0]["sha256"] == a1.get("sha256"),
            "list carries metadata and SHA-256, not bytes")
    l = s.req("GET", "/v1/dossiers/%s/attachments" % code_other, key="portal2")
    H.check(l.status == 200 and l.json()["attachments"] == [], "a dossier without files lists none")

    # ---- scoping: 404, not 403, so codes and ids do not leak ----
    item = "/v1/dossiers/%s/attachments/%s" % (code, a1.get("id"))
    for key in ("portal2", "national", "official_other"):
        H.check(s.req("GET", item, key=key).status == 404, "%s GET file -> 404" % key)
        H.check(s.req("GET", "/v1/dossiers/%s/attachments" % code, key=key).status == 404, "%s list -> 404" % key)
    H.check(s.req("GET", item, key="monitor").status == 403, "monitor -> 403")
    H.check(s.req("GET", item).status == 401, "no key -> 401")
    H.check(s.req("GET", "/v1/dossiers/%s/attachments/%s" % (code, a3.get("id")), key="portal").status == 404,
            "another dossier's attachment id under this dossier -> 404")
    H.check(s.req("GET", "/v1/dossiers/%s/attachments/999999" % code, key="portal").status == 404, "unknown id -> 404")
    H.check(s.req("GET", "/v1/dossiers/%s/attachments/abc" % code, key="portal").status == 404, "non-numeric id -> 404")
    H.check(post(s, code, PDF, key="portal2").status == 404, "other portal uploads to this dossier -> 404")
    H.check(post(s, code, PDF, key="national").status == 404, "national that did not submit -> 404")
    H.check(post(s, code, PDF, key="official").status == 403, "officials do not upload -> 403")
    H.check(post(s, "H17.48.01-000000-9999", PDF).status == 404, "unknown dossier -> 404")

    # ---- wrong type by content: 415 even with a .pdf name, nothing stored ----
    n0 = count(s, code)
    for what, body in [("Windows executable", b"MZ\x90\x00" + os.urandom(100)),
                       ("HTML", b"<html><script>alert(1)</script></html>"),
                       ("PDF magic not at the start", b" %PDF-1.7\n"), ("GIF", b"GIF89a" + os.urandom(50)),
                       ("truncated PNG signature", b"\x89PNG\r\n")]:
        r = post(s, code, body, "ban-sao.pdf", headers={"Content-Type": "application/pdf"})
        H.check(r.status == 415 and ptype(r).endswith("/unsupported-media-type"), "%s named .pdf -> 415" % what)
    r = post(s, code, b"", "empty.pdf")
    H.check(r.status == 400, "empty body -> 400 (got %d)" % r.status)

    # ---- headers ----
    H.check(post(s, code, PDF, name=None).status == 422, "missing X-File-Name -> 422")
    for bad in ("../../etc/passwd", "a\\b.pdf", ".", "x" * 256):
        H.check(post(s, code, PDF, name=bad).status == 422, "bad file name %r -> 422" % bad[:20])
    H.check(post(s, code, PDF, component="TP99").status == 422, "unknown component -> 422")
    H.check(count(s, code) == n0, "refused uploads stored nothing")

    # ---- size caps: per file, per dossier ----
    r = post(s, code, b"%PDF-" + b"\0" * (FILE_MAX - 4))
    H.check(r.status == 413 and r.header("Content-Type") == "application/problem+json",
            "one byte over attachment_max_bytes -> 413 problem+json (got %d)" % r.status)
    r = post(s, code, b"%PDF-" + b"\0" * (FILE_MAX - 5))
    H.check(r.status == 201, "exactly attachment_max_bytes -> 201 (got %d)" % r.status)
    used = len(PDF) + len(JPEG) + FILE_MAX
    r = post(s, code, b"%PDF-" + b"\0" * (DOSSIER_MAX - used))
    H.check(r.status == 413 and "total" in r.json().get("detail", ""), "over dossier_attachments_max_bytes -> 413")
    r = post(s, code, b"%PDF-" + b"\0" * (DOSSIER_MAX - used - 5))
    H.check(r.status == 201, "exactly filling the dossier budget -> 201 (got %d)" % r.status)
    total = int(s.sql("SELECT SUM(size_bytes) FROM attachment a JOIN dossier d ON d.id = a.dossier_id"
                      " WHERE d.code = '%s'" % code))
    H.check(total == DOSSIER_MAX, "the dossier holds exactly its budget: %d" % total)
    H.check(post(s, code, b"%PDF-").status == 413, "a full dossier takes no more bytes")

    # ---- audit: one row per upload, one per official read, none per refusal or portal read ----
    up = int(s.sql("SELECT COUNT(*) FROM audit_log WHERE action = 'add_attachment'"))
    stored = int(s.sql("SELECT COUNT(*) FROM attachment"))
    H.check(up == stored, "one add_attachment audit row per stored file (%d vs %d)" % (up, stored))
    reads = s.sql("SELECT dossier_code, detail, role FROM audit_log WHERE action = 'read_personal_data'"
                  " AND detail LIKE 'attachment %'").split("\n")
    H.check(reads == ["%s\tattachment %s\tofficial" % (code, a1.get("id"))],
            "the official's file read is audited once: %r" % reads)
    v = s.admin("audit", "verify", check_rc=False)
    H.check(v.returncode == 0 and "chain intact" in v.stdout, "audit chain intact: %s" % v.stdout)

    # ---- a closed dossier (withdrawn by the citizen) takes no more files ----
    wcode = s.submit(H.sample("1.001193")).json()["dossierCode"]
    etag = s.req("GET", "/v1/dossiers/" + wcode, key="portal").header("ETag")
    r = s.req("POST", "/v1/dossiers/%s/actions/withdraw" % wcode, '{"reason": "nộp nhầm"}'.encode("utf-8"), "portal",
              {"Content-Type": "application/json", "If-Match": etag})
    H.check(r.status == 200 and r.json()["state"] == "withdrawn", "citizen withdraws (got %d %s)" % (r.status, r.body[:200]))
    r = post(s, wcode, PDF)
    H.check(r.status == 409 and r.json()["type"].endswith("/conflict"), "upload to a withdrawn dossier -> 409 (got %d)" % r.status)

    # ---- a large file with varied bytes round-trips exactly (streamed to MariaDB in pieces): a second
    # process on the same database with caps large enough for it ----
    big = b"%PDF-" + os.urandom(3 * 1024 * 1024)
    p2 = s.start(env={"MOTCUA_ATTACHMENT_MAX_BYTES": str(8 << 20), "MOTCUA_DOSSIER_ATTACHMENTS_MAX_BYTES": str(16 << 20)})
    code2 = s.submit(H.sample("1.001193"), port=p2.port).json()["dossierCode"]
    r = s.req("POST", "/v1/dossiers/%s/attachments" % code2, big, "portal",
              {"Content-Type": "application/octet-stream", "X-File-Name": "big.pdf"}, port=p2.port)
    H.check(r.status == 201 and r.json().get("sha256") == hashlib.sha256(big).hexdigest(),
            "3 MiB upload -> 201 with its SHA-256 (got %d)" % r.status)
    if r.status == 201:
        g = s.req("GET", "/v1/dossiers/%s/attachments/%s" % (code2, r.json()["id"]), key="portal", port=p2.port)
        H.check(g.status == 200 and g.body == big, "3 MiB file comes back byte for byte")
finally:
    s.close()
H.finish()
