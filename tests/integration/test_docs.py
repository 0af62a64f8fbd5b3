"""docs/ stays true to the code: every row of `motcua-admin config-table` is in docs/operations.md,
every route of the route table (server/http.c) is a path with that method in docs/api/openapi.yaml (and
the reverse) with the roles the route accepts as its x-roles, and every problem type of the error table (server/err.c) is in the OpenAPI document. No
database needed."""
import os
import re
import subprocess
import harness as H

ops = open(os.path.join(H.SRC, "docs", "operations.md"), encoding="utf-8").read()
table = subprocess.run([H.ADMIN, "config-table"], capture_output=True, text=True, check=True).stdout
rows = [ln for ln in table.splitlines() if ln.startswith("| `")]
H.check(len(rows) > 30, "config-table prints the table (%d rows)" % len(rows))
for ln in rows:
    H.check(ln in ops, "docs/operations.md has the config row: %s" % ln)

routes = {(m, p.replace("{}", "{x}")) for m, p, _ in H.route_table()}
routes.add(("GET", "/healthz"))  # answered by the loop thread before the route table
api = open(os.path.join(H.SRC, "docs", "api", "openapi.yaml"), encoding="utf-8").read()
paths = api[api.index("\npaths:"):api.index("\ncomponents:")]
documented, doc_roles = set(), {}
for block in re.split(r"\n  (?=/)", paths)[1:]:
    path = block.split(":", 1)[0].strip()
    ops_ = re.split(r"\n    (get|post|put|delete|patch):", block)
    for m, op in zip(ops_[1::2], ops_[2::2]):
        key = (m.upper(), re.sub(r"\{[^}]+\}", "{x}", path))
        documented.add(key)
        xr = re.search(r"\n      x-roles: \[([^\]]*)\]", op)
        doc_roles[key] = frozenset(r.strip() for r in xr.group(1).split(",") if r.strip()) if xr else frozenset()
H.check(len(routes) >= 18, "route table read (%d routes)" % len(routes))
for r in sorted(routes - documented):
    H.check(False, "route %s %s is not in docs/api/openapi.yaml" % r)
for r in sorted(documented - routes):
    H.check(False, "docs/api/openapi.yaml documents %s %s, which the server does not route" % r)
# the roles each operation documents (x-roles; none for a public route) are the route's role mask
for m, p, roles in H.route_table():
    key = (m, p.replace("{}", "{x}"))
    H.check(doc_roles.get(key) == roles, "%s %s: docs/api/openapi.yaml x-roles %s, server/http.c accepts %s" % (
        m, p, sorted(doc_roles.get(key, [])), sorted(roles)))

errs = open(os.path.join(H.SRC, "server", "err.c"), encoding="utf-8").read()
slugs = [t for t in re.findall(r'T\("([a-z0-9-]+)"\)', errs) if t != "ok"]
H.check(len(slugs) > 20, "error table read (%d problem types)" % len(slugs))
for t in slugs:
    H.check(re.search(r"/problems/%s(?![a-z0-9-])" % re.escape(t), api) is not None,
            "problem type %s is in docs/api/openapi.yaml" % t)
H.finish()
