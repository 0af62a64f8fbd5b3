"""The access-control matrix: every route of server/http.c's route table (read from the source at run
time) x every kind of caller (the six harness keys, no key, a revoked key, an unknown key) x the
objects the route can address, against a real motcuad and MariaDB. Each request's outcome class is
checked:
  - no key / revoked / unknown key on a non-public route -> 401 problem+json (type unauthorized);
  - a role the route does not accept -> 403 (forbidden);
  - an accepted role that must not see the object -> 404 (not-found), never 403, and the 404 is the
    same problem (type, title, detail) as for an object that does not exist: codes do not leak;
  - an accepted, in-scope caller -> the route's own answer (the exact status written in its case);
  - public routes (/healthz, /readyz, /v1/verify) answer whatever key is sent, or none.
No refused response, and no list filtered for an out-of-scope caller, may carry the dossier code,
the applicant's personal ID or name (except the code echoed back in `instance`, the caller's own path).

Every route in the table must have cases here and must accept exactly the roles written here: a new
route, or a widened role mask, fails this test until someone extends it (FIXTURES below).

The requests are harmless: GETs, and POSTs whose body or headers are refused for their content
(400/412/415/422) only after the access checks, so the fixtures do not change under the matrix.

Scoping as the code does it (docs/api/openapi.yaml, docs/signing.md): a portal or national client
sees the dossiers it submitted, an official its ward's; monitor none. Results: an official sees
every result of any ward (presented for reuse), a portal/national client those of dossiers it
submitted; revocation only by an official of the issuing ward. /v1/stats?ward= of another ward is
403 for an official (documented; ward codes are not secret)."""
import json
import os
import random
import string
import harness as H

sim = H.PopdbSim()
certs = H.dev_certs()
people = [p for p in sim.data["citizens"] if not p["deceased"] and p["birth_date"][:4] < "2006"]
env = dict(sim.env(), MOTCUA_IDENTITY_POLL_MS="50", **H.signing_env(certs))
s = H.Stack("access", env)
JSON = {"Content-Type": "application/json"}

# ---- callers: (label, role, ward); role None = no valid key ----
CLIENTS = [("portal", "portal", None), ("portal2", "portal", None), ("national", "national", None),
           ("official", "official", "20242"), ("official_other", "official", "20257"),
           ("monitor", "monitor", None), ("no key", None, None), ("revoked key", None, None),
           ("unknown key", None, None)]
revoked = s.new_key("portal", None, "access-revoked")
s.admin("client", "revoke", s.sql("SELECT id FROM api_client WHERE name='access-revoked'"))
unknown = "mck_" + "".join(random.choice(string.ascii_letters + string.digits + "-_") for _ in range(43))
KEY = {"no key": None, "revoked key": revoked, "unknown key": unknown}


class Obj:
    """A dossier the matrix addresses: who submitted it, its ward, what must not leak."""

    def __init__(self, name, owner, ward, person):
        self.name, self.owner, self.ward, self.person = name, owner, ward, person
        self.code = self.result = self.attachment = None

    def secrets(self):
        n = self.person["full_name"]
        return [self.code, self.person["personal_id"], n, json.dumps(n)[1:-1]]


GHOST = Obj("ghost", None, None, {"full_name": "-", "personal_id": "-"})
GHOST.code, GHOST.result, GHOST.attachment = "H17.48.01-000101-9999", "KQ-H17.48.01-000101-9999", 999999999


def role_of(label):
    return next(r for l, r, _ in CLIENTS if l == label)


def sees(scope, label, obj):
    """Mirror of the code's scoping (auth_sees_dossier, results_api.c visible(), revocation, stats)."""
    role, ward = next((r, w) for l, r, w in CLIENTS if l == label)
    if scope == "dossier":
        return ward == obj.ward if role == "official" else role in ("portal", "national") and label == obj.owner
    if scope == "result":  # officials: every result (docs/signing.md "Scoping")
        return role == "official" or (role in ("portal", "national") and label == obj.owner)
    if scope == "issuing-ward":
        return role == "official" and ward == obj.ward
    if scope == "own-ward":  # /v1/stats?ward=<obj.ward>: monitor any ward, an official its own
        return role == "monitor" or ward == obj.ward
    raise ValueError(scope)


class Case:
    """One request shape on a route. build(obj) -> (path, body, headers). ok: the in-scope status.
    scope: None (not object-scoped) or a sees() scope. hidden: what an out-of-scope caller gets: 404,
    403 (stats, documented), or "filtered" (a list answered ok without the object). roles: a narrower
    set than the route's when the handler refuses some accepted roles outright (workflow actions)."""

    def __init__(self, name, build, ok, objs=(None,), scope=None, hidden=404, roles=None, leak_check=True,
                 leak_obj=None):
        self.name, self.build, self.ok, self.objs, self.scope = name, build, ok, objs, scope
        self.hidden, self.roles, self.leak_check, self.leak_obj = hidden, roles, leak_check, leak_obj


D = Obj("D", "portal", "20242", people[0])      # portal's dossier in the official's ward: approved, signed result
N = Obj("N", "national", "20257", people[1])    # national's dossier in official_other's ward
DN = (D, N)
IF0 = {"If-Match": '"v0"', "Content-Type": "application/json"}  # versions start at 1: never matches -> 412

# (method, pattern) -> (roles the route must accept (docs/api/openapi.yaml x-roles), [cases])
FIXTURES = {
    ("GET", "/healthz"): (frozenset(), [Case("healthz", lambda o: ("/healthz", None, {}), 200)]),
    ("GET", "/readyz"): (frozenset(), [Case("readyz", lambda o: ("/readyz", None, {}), 200)]),
    # the signed result as fetched by its holder's portal: verifying it changes nothing; the answer names
    # the dossier, which the caller already holds in the document, so no leak check
    ("POST", "/v1/verify"): (frozenset(), [Case("verify the signed result", lambda o: (
        "/v1/verify", RESULT_XML, {"Content-Type": "application/xml"}), 200, leak_check=False)]),
    # text/plain: 415 is the first thing intake checks, after the role
    ("POST", "/v1/dossiers"): (frozenset({"portal", "national"}), [Case("submit text/plain", lambda o: (
        "/v1/dossiers", b"not a dossier", {"Content-Type": "text/plain"}), 415)]),
    ("GET", "/v1/dossiers/{}"): (frozenset({"portal", "national", "official"}), [Case(
        "dossier", lambda o: ("/v1/dossiers/" + o.code, None, {}), 200, DN, "dossier")]),
    ("GET", "/v1/dossiers/{}/history"): (frozenset({"portal", "national", "official"}), [Case(
        "history", lambda o: ("/v1/dossiers/%s/history" % o.code, None, {}), 200, DN, "dossier")]),
    # consent given, fullName/birthDate missing: 422 before any look-up (not object-scoped: any citizen,
    # with consent; the path carries D's applicant so a refusal is checked not to echo more of them)
    ("GET", "/v1/citizens/{}/prefill"): (frozenset({"portal"}), [Case("prefill without name", lambda o: (
        "/v1/citizens/%s/prefill?consent=true" % D.person["personal_id"], None, {}), 422, leak_obj=D)]),
    # consent given, procedure missing: 422 unknown-procedure before any look-up
    ("GET", "/v1/citizens/{}/evidence"): (frozenset({"portal"}), [Case("evidence without procedure", lambda o: (
        "/v1/citizens/%s/evidence?consent=true" % D.person["personal_id"], None, {}), 422, leak_obj=D)]),
    ("GET", "/v1/stats"): (frozenset({"monitor", "official"}), [
        Case("stats", lambda o: ("/v1/stats", None, {}), 200),
        Case("stats of a ward", lambda o: ("/v1/stats?ward=" + o.ward, None, {}), 200, DN, "own-ward", hidden=403)]),
    # the holder's results: out-of-scope callers get a page without them
    ("GET", "/v1/results"): (frozenset({"portal", "national", "official"}), [Case(
        "results of the holder", lambda o: ("/v1/results?holder=" + o.person["personal_id"], None, {}), 200,
        (D,), "result", hidden="filtered")]),
    ("GET", "/v1/results/{}"): (frozenset({"portal", "national", "official"}), [Case(
        "result", lambda o: ("/v1/results/" + o.result, None, {}), 200, (D,), "result")]),
    # {} has no reason: 422 after the ward check
    ("POST", "/v1/results/{}/revocation"): (frozenset({"official"}), [Case(
        "revoke without reason", lambda o: ("/v1/results/%s/revocation" % o.result, b"{}", JSON), 422, (D,),
        "issuing-ward")]),
    # no body: 400 "send the file" after the dossier is loaded and scoped (submitter only)
    ("POST", "/v1/dossiers/{}/attachments"): (frozenset({"portal", "national"}), [Case(
        "upload nothing", lambda o: ("/v1/dossiers/%s/attachments" % o.code, None,
                                     {"Content-Type": "application/pdf", "X-File-Name": "x.pdf"}), 400, DN, "dossier")]),
    ("GET", "/v1/dossiers/{}/attachments"): (frozenset({"portal", "national", "official"}), [Case(
        "attachments", lambda o: ("/v1/dossiers/%s/attachments" % o.code, None, {}), 200, DN, "dossier")]),
    ("GET", "/v1/dossiers/{}/attachments/{}"): (frozenset({"portal", "national", "official"}), [
        Case("attachment", lambda o: ("/v1/dossiers/%s/attachments/%s" % (o.code, o.attachment), None, {}), 200,
             DN, "dossier"),
        # D's attachment addressed through N's code: 404 even for N's own callers, and nothing of D
        Case("D's attachment under N's code", lambda o: ("/v1/dossiers/%s/attachments/%s" % (
            o.code, D.attachment if o is N else o.attachment), None, {}), 404, (N,), "dossier", leak_obj=D)]),
    # wrong If-Match: 412 only once the dossier is locked and scoped (tx_open); a body the action accepts
    ("POST", "/v1/dossiers/{}/actions/{}"): (frozenset({"portal", "national", "official"}), [
        Case("return_result", lambda o: ("/v1/dossiers/%s/actions/return_result" % o.code, b"{}", IF0), 412,
             DN, "dossier"),
        # an action the role may never take: 403 before the dossier is read (the same for every dossier)
        Case("approve", lambda o: ("/v1/dossiers/%s/actions/approve" % o.code, b"{}", IF0), 412, DN, "dossier",
             roles={"official"}),
        Case("withdraw", lambda o: ("/v1/dossiers/%s/actions/withdraw" % o.code, b'{"reason":"x"}', IF0), 412,
             DN, "dossier", roles={"portal", "national"})]),
    ("POST", "/v1/dossiers/{}/apology"): (frozenset({"official"}), [Case(
        "apology", lambda o: ("/v1/dossiers/%s/apology" % o.code,
                              b'{"newDate":"2099-12-01T17:00:00+07:00","note":"x"}', IF0), 412, DN, "dossier")]),
    # the ward's queue: another ward's official gets a page without the dossier
    ("GET", "/v1/queue"): (frozenset({"official"}), [Case(
        "queue", lambda o: ("/v1/queue?limit=200", None, {}), 200, DN, "dossier", hidden="filtered")]),
}
RESULT_XML = None


def expected(case, roles, label, obj):
    """The status (or "filtered") this caller must get for this case on this object."""
    role = role_of(label)
    if not roles:
        return case.ok
    if role is None:
        return 401
    if role not in roles or (case.roles is not None and role not in case.roles):
        return 403
    if case.scope and obj is not None and not sees(case.scope, label, obj):
        return case.hidden
    return case.ok


def slug(r):
    try:
        return r.json().get("type", "").rsplit("/", 1)[-1]
    except ValueError:
        return ""


def run_case(method, pattern, roles, case, obj, label, stats):
    path, body, headers = case.build(obj)
    key = KEY.get(label, label)
    r = s.req(method, path, body, key, dict(headers))
    want = expected(case, roles, label, obj)
    where = "%s %s [%s%s] as %s" % (method, path, case.name, " on " + obj.name if obj else "", label)
    stats["requests"] += 1
    got = "%d %s %s" % (r.status, r.header("Content-Type"), r.body[:160])
    if want == "filtered":
        H.check(r.status == case.ok, "%s: expected %d (a list without the object), got %s" % (where, case.ok, got))
    elif want in (401, 403, 404) and want != case.ok:
        names = {401: "unauthorized", 403: "forbidden", 404: "not-found"}
        H.check(r.status == want and r.header("Content-Type") == "application/problem+json"
                and slug(r) == names[want], "%s: expected %d problem+json %s, got %s" % (where, want, names[want], got))
        if want == 404 and r.status == 404 and obj is not None:  # the same 404 as for a dossier that does not exist
            gpath, gbody, gheaders = case.build(GHOST)
            g = s.req(method, gpath, gbody, key, dict(gheaders))
            strip = lambda x: {k: v for k, v in x.json().items() if k != "instance"} if x.status == 404 else x.status
            H.check(strip(r) == strip(g), "%s: the 404 differs from a missing object's (%s vs %s %s)" % (
                where, r.body[:200], g.status, g.body[:200]))
    else:
        H.check(r.status == want, "%s: expected %s, got %s" % (where, want, got))
    stats[want if want in (401, 403, 404, "filtered") else "allowed"] += 1
    # no leak: a refused or filtered answer carries nothing of the object but the caller's own path
    in_scope = want not in (401, 403, 404, "filtered")
    leak_obj = case.leak_obj or obj
    if case.leak_check and leak_obj is not None and (not in_scope or case.leak_obj is not None):
        text = r.body.decode("utf-8", "replace").replace(path.split("?")[0], "<path>")
        for sec in leak_obj.secrets():
            H.check(sec not in text, "%s: the answer leaks %r of dossier %s: %s" % (where, sec, leak_obj.name, text[:300]))
    if want == "filtered" or (case.hidden == "filtered" and in_scope and r.status == 200):
        H.check((obj.code in r.body.decode("utf-8", "replace")) == in_scope,
                "%s: the list %s dossier %s" % (where, "lacks" if in_scope else "shows", obj.code))


try:
    # ---- the route table, read from server/http.c ----
    table = H.route_table()
    H.check(len(table) >= 17, "route table read (%d routes)" % len(table))
    routes = {(m, p): roles for m, p, roles in table}
    routes[("GET", "/healthz")] = frozenset()  # answered by the loop thread before the route table
    for k in sorted(set(routes) - set(FIXTURES)):
        H.check(False, "route %s %s has no access-matrix fixture: add its roles and cases to FIXTURES in "
                       "tests/integration/test_access.py" % k)
    for k in sorted(set(FIXTURES) - set(routes)):
        H.check(False, "FIXTURES in test_access.py names %s %s, which server/http.c does not route" % k)
    for k in sorted(set(routes) & set(FIXTURES)):
        want = FIXTURES[k][0]
        H.check(routes[k] == want, "route %s %s accepts roles %s in server/http.c; the access matrix expects %s" % (
            k[0], k[1], sorted(routes[k]) or "none (public)", sorted(want) or "none (public)"))

    # ---- fixtures: D (portal, ward 20242) received, approved (signed result), with an attachment; N (national,
    # ward 20257) verified, with an attachment ----
    s.start()
    for o in DN:
        r = s.submit(H.dossier_for(o.person, ward=o.ward), key=o.owner, idem=H.new_key_id())
        assert r.status == 201, (o.name, r.status, r.body[:300])
        o.code = r.json()["dossierCode"]
    for o in DN:
        d = H.wait_state(s, o.code, {"identity_verified", "identity_mismatch"}, key=o.owner)
        assert d["state"] == "identity_verified", (o.name, d.get("state"))
        r = s.req("POST", "/v1/dossiers/%s/attachments" % o.code, b"%PDF-1.7\n" + os.urandom(64), o.owner,
                  {"Content-Type": "application/pdf", "X-File-Name": "giay-to.pdf"})
        assert r.status == 201, (o.name, r.status, r.body[:300])
        o.attachment = r.json()["id"]
    for action in ("receive", "approve"):
        r = s.req("GET", "/v1/dossiers/" + D.code, key="official")
        r = s.req("POST", "/v1/dossiers/%s/actions/%s" % (D.code, action), b"{}", "official",
                  dict(JSON, **{"If-Match": r.header("ETag")}))
        assert r.status == 200, (action, r.status, r.body[:300])
    D.result = r.json()["workflow"]["resultId"]
    r = s.req("GET", "/v1/results/" + D.result, key="portal")
    assert r.status == 200 and D.code.encode() in r.body, (r.status, r.body[:200])
    RESULT_XML = r.body
    before = s.sql("SELECT code, state, version FROM dossier ORDER BY id") + s.sql(
        "SELECT COUNT(*), COUNT(revoked_at) FROM result") + s.sql("SELECT COUNT(*) FROM attachment")

    # ---- the matrix ----
    stats = {"requests": 0, "allowed": 0, 401: 0, 403: 0, 404: 0, "filtered": 0}
    for (method, pattern), (roles, cases) in FIXTURES.items():
        for case in cases:
            for obj in case.objs:
                for label, _, _ in CLIENTS:
                    run_case(method, pattern, roles, case, obj, label, stats)

    after = s.sql("SELECT code, state, version FROM dossier ORDER BY id") + s.sql(
        "SELECT COUNT(*), COUNT(revoked_at) FROM result") + s.sql("SELECT COUNT(*) FROM attachment")
    H.check(before == after, "the matrix changed nothing: dossiers, results and attachments as before (%r -> %r)" % (
        before, after))
    print("matrix: %d routes x %d callers, %d cases, %d requests: %d allowed, %d x 401, %d x 403, %d x 404, "
          "%d filtered lists" % (len(FIXTURES), len(CLIENTS), sum(len(c) for _, c in FIXTURES.values()),
                                 stats["requests"], stats["allowed"], stats[401], stats[403], stats[404],
                                 stats["filtered"]))
finally:
    s.close()
    sim.stop()
H.finish()
