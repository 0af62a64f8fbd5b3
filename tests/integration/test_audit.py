"""The hash-chained audit trail against a real motcuad, MariaDB and population simulator: submissions
(one row per dossier, also under concurrent group commit), identity outcomes (system actor), an
official's read of a dossier, a result revocation each append a row in the same transaction; every
row_hash recomputed here from docs/audit.md's encoding; the triggers refuse UPDATE/DELETE; the chain
only grows; `motcua-admin audit verify` says intact, then names the exact row after tampering
(altered contents, re-hashed row, deleted middle row, deleted tail)."""
import concurrent.futures as cf
import hashlib
import os
import re
import subprocess
import tempfile
import harness as H

certs = tempfile.mkdtemp(prefix="motcua-audit-certs-")
subprocess.run([os.path.join(H.SRC, "certs", "mkdev-ca.sh"), certs], check=True, capture_output=True)
sim = H.PopdbSim()
alive = [p for p in sim.data["citizens"] if not p["deceased"] and p["birth_date"][:4] < "2006"]
env = dict(sim.env(), MOTCUA_IDENTITY_POLL_MS="50", **H.signing_env(certs))
TAG = b"motcua-audit-v1\0"
TEXT = ["role", "ward", "action", "dossier_code", "before_state", "after_state", "request_id", "detail"]


def rows(s):
    """Every audit row as exact bytes (HEX keeps bytes and NULLs apart)."""
    q = ("SELECT id, DATE_FORMAT(at, '%Y-%m-%d %H:%i:%s.%f'), actor_client_id, " +
         ", ".join("COALESCE(HEX(%s), 'N')" % c for c in TEXT) + ", HEX(prev_hash), HEX(row_hash) FROM audit_log ORDER BY id")
    out = []
    for line in s.sql(q).split("\n"):
        if not line:
            continue
        f = line.split("\t")
        r = {"id": int(f[0]), "at": f[1], "actor": int(f[2]), "prev": bytes.fromhex(f[11]), "hash": bytes.fromhex(f[12])}
        for i, c in enumerate(TEXT):
            r[c] = None if f[3 + i] == "N" else bytes.fromhex(f[3 + i])
        out.append(r)
    return out


def field(b):
    return b"\0" if b is None else b"\1" + len(b).to_bytes(4, "big") + b


def row_hash(r, prev):
    """docs/audit.md, independently of db/audit.c."""
    m = hashlib.sha256(TAG)
    for b in [str(r["id"]).encode(), r["at"].encode(), str(r["actor"]).encode()] + [r[c] for c in TEXT]:
        m.update(field(b))
    m.update(prev)
    return m.digest()


def verify(s):
    v = s.admin("audit", "verify", check_rc=False)
    return v.returncode, v.stdout + v.stderr


def sql_fails(s, q):
    return H.mariadb("sql", s.db, "-e", q, check_rc=False).returncode != 0


def client_id(s, name):
    return int(s.sql("SELECT id FROM api_client WHERE name = '%s'" % name))


s = H.Stack("audit", env)
try:
    s.start()
    rc, out = verify(s)
    H.check(rc == 0 and "0 rows, chain intact" in out, "empty chain verifies: %r" % out)

    # ---- submission: one row per dossier, same request id as the response ----
    r = s.submit(H.sample("1.001193"))
    H.check(r.status == 201, "submit -> 201")
    code = r.json()["dossierCode"]
    a = s.sql("SELECT actor_client_id, role, ward, action, before_state IS NULL, after_state, request_id, detail"
              " FROM audit_log WHERE dossier_code = '%s' AND action = 'submit'" % code).split("\t")
    H.check(a == [str(client_id(s, "portal")), "portal", "20242", "submit", "1", "submitted", r.header("X-Request-Id"),
                  "procedure 1.001193"], "submit row: who, role, ward, action, states, request id: %r" % a)
    before = [(x["id"], x["hash"]) for x in rows(s)]

    # ---- identity outcome: system actor, before/after state ----
    p = alive[0]
    r = s.submit(H.dossier_for(p))
    vcode = r.json()["dossierCode"]
    d = H.wait_state(s, vcode, {"identity_verified", "identity_mismatch"})
    H.check(d["state"] == "identity_verified", "identity verified (%s)" % d["state"])
    a = s.sql("SELECT actor_client_id, role, before_state, after_state FROM audit_log"
              " WHERE dossier_code = '%s' AND action = 'identity_check'" % vcode).split("\t")
    H.check(a == ["0", "system", "submitted", "identity_verified"], "identity row by the system actor: %r" % a)
    H.check(p["personal_id"] not in s.sql("SELECT GROUP_CONCAT(detail) FROM audit_log"), "no personal ID in clear")

    # ---- reads of personal data: an official's GET is audited, a portal's is not ----
    n = int(s.sql("SELECT COUNT(*) FROM audit_log WHERE action = 'read_personal_data'"))
    H.check(s.req("GET", "/v1/dossiers/" + code, key="portal").status == 200, "portal GET -> 200")
    g = s.req("GET", "/v1/dossiers/" + code, key="official")
    H.check(g.status == 200, "official GET -> 200")
    H.check(s.req("GET", "/v1/dossiers/" + code, key="official_other").status == 404, "other ward -> 404")
    a = s.sql("SELECT actor_client_id, role, ward, dossier_code, request_id FROM audit_log"
              " WHERE action = 'read_personal_data' ORDER BY id").split("\n")
    H.check(len(a) == n + 1 and a[-1].split("\t") == [str(client_id(s, "official")), "official", "20242", code,
                                                      g.header("X-Request-Id")],
            "exactly one read row, for the official's successful GET: %r" % a)

    # ---- revocation, in the same transaction as the result row's change ----
    rid = re.search(r"result (\S+) issued", s.admin("result", "issue", "--dossier", code).stdout).group(1)
    rv = s.req("POST", "/v1/results/%s/revocation" % rid, b'{"reason": "Sai ng\xc3\xa0y sinh"}', "official",
               {"Content-Type": "application/json"})
    H.check(rv.status == 200, "revoke -> 200 (%d)" % rv.status)
    a = s.sql("SELECT role, dossier_code, detail FROM audit_log WHERE action = 'revoke_result'").split("\t")
    H.check(a == ["official", code, "result " + rid], "revocation row: %r" % a)
    rv = s.req("POST", "/v1/results/%s/revocation" % rid, b'{"reason": "again"}', "official",
               {"Content-Type": "application/json"})
    H.check(rv.status == 409 and s.sql("SELECT COUNT(*) FROM audit_log WHERE action = 'revoke_result'") == "1",
            "a refused second revocation appends nothing")

    # ---- concurrency: group-commit batches and grouped reads interleave on one chain ----
    reads_before = int(s.sql("SELECT COUNT(*) FROM audit_log WHERE action = 'read_personal_data'"))

    def work(i):
        if i % 2 == 1:
            return s.req("GET", "/v1/dossiers/" + code, key="official").status
        return s.submit(H.sample("1.001193"), key="portal2" if i % 4 else "portal").status
    with cf.ThreadPoolExecutor(32) as ex:
        st = list(ex.map(work, range(160)))
    H.check(all(x in (200, 201) for x in st), "concurrent submissions and reads succeed")
    reads = int(s.sql("SELECT COUNT(*) FROM audit_log WHERE action = 'read_personal_data'")) - reads_before
    H.check(reads == st.count(200), "one read row per official read answered, reads committed in groups (%d of %d)"
            % (reads, st.count(200)))
    subs = int(s.sql("SELECT COUNT(*) FROM dossier"))
    H.check(int(s.sql("SELECT COUNT(*) FROM audit_log WHERE action = 'submit'")) == subs,
            "one submit row per stored dossier (%d)" % subs)

    # let the identity sweeper finish with them, so the chain stops growing
    for _ in range(300):
        if s.sql("SELECT COUNT(*) FROM dossier WHERE state IN ('submitted', 'identity_pending')") == "0":
            break
        H.time.sleep(0.1)

    # ---- the chain, recomputed here ----
    chain = rows(s)
    H.check([x["id"] for x in chain] == list(range(1, len(chain) + 1)), "ids are gapless from 1")
    prev, ok = bytes(32), True
    for x in chain:
        ok = ok and x["prev"] == prev and row_hash(x, prev) == x["hash"]
        prev = x["hash"]
    H.check(ok, "every row_hash matches docs/audit.md's encoding, every prev_hash the row before")
    H.check(s.sql("SELECT last_id, HEX(last_hash) FROM audit_head") == "%d\t%s" % (len(chain), prev.hex().upper()),
            "the head names the last row")
    H.check([(x["id"], x["hash"]) for x in chain][:len(before)] == before, "earlier rows unchanged: the chain only grew")
    rc, out = verify(s)
    H.check(rc == 0 and ("%d rows, chain intact" % len(chain)) in out, "audit verify: intact (%r)" % out)

    # ---- append-only in the database; no route touches the trail ----
    H.check(sql_fails(s, "UPDATE audit_log SET detail = 'x' WHERE id = 1"), "UPDATE audit_log refused by trigger")
    H.check(sql_fails(s, "DELETE FROM audit_log WHERE id = 1"), "DELETE FROM audit_log refused by trigger")
    H.check(sql_fails(s, "UPDATE audit_head SET last_id = 1"), "moving the head back refused")
    H.check(sql_fails(s, "DELETE FROM audit_head"), "deleting the head refused")
    for m in ("PUT", "DELETE", "PATCH"):
        H.check(s.req(m, "/v1/dossiers/" + code, key="official").status == 405, "%s dossier -> 405" % m)
    H.check(s.req("GET", "/v1/audit", key="official").status == 404, "no audit route")
    H.check(len(rows(s)) == len(chain), "refused changes appended nothing")
    s.stop()

    # ---- tampering: verify names the exact row ----
    N = len(chain)
    k = N // 2
    orig = s.sql("SELECT HEX(detail) FROM audit_log WHERE id = %d" % k)
    s.sql("DROP TRIGGER audit_log_no_update")
    s.sql("UPDATE audit_log SET detail = 'nothing to see here' WHERE id = %d" % k)
    rc, out = verify(s)
    H.check(rc == 1 and ("BROKEN at row %d:" % k) in out and "altered" in out, "altered row %d found: %r" % (k, out))
    s.sql("UPDATE audit_log SET detail = UNHEX('%s') WHERE id = %d" % (orig, k))
    rc, out = verify(s)
    H.check(rc == 0, "restored: intact again (%r)" % out)

    # an attacker who also re-hashes the altered row breaks the next link
    x = dict(chain[k - 1], action=b"approve")
    h = row_hash(x, x["prev"])
    s.sql("UPDATE audit_log SET action = 'approve', row_hash = UNHEX('%s') WHERE id = %d" % (h.hex(), k))
    rc, out = verify(s)
    H.check(rc == 1 and ("BROKEN at row %d:" % (k + 1)) in out and "link broken" in out,
            "re-hashed row %d: the link from row %d breaks: %r" % (k, k + 1, out))
    s.sql("UPDATE audit_log SET action = UNHEX('%s'), row_hash = UNHEX('%s') WHERE id = %d"
          % (chain[k - 1]["action"].hex(), chain[k - 1]["hash"].hex(), k))
    H.check(verify(s)[0] == 0, "restored again")

    s.sql("DROP TRIGGER audit_log_no_delete")
    s.sql("DELETE FROM audit_log WHERE id = %d" % N)
    rc, out = verify(s)
    H.check(rc == 1 and ("BROKEN at row %d:" % N) in out and "missing" in out, "deleted tail row %d found: %r" % (N, out))
    s.sql("DELETE FROM audit_log WHERE id = 3")
    rc, out = verify(s)
    H.check(rc == 1 and "BROKEN at row 3:" in out and "missing" in out, "deleted middle row 3 found: %r" % out)
finally:
    s.close()
    sim.stop()
H.finish()
