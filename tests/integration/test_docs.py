"""docs/ stays true to the code: every row of `motcua-admin config-table` is in docs/operations.md,
every route of the route table (server/http.c) is a path with that method in docs/api/openapi.yaml (and
the reverse), and every problem type of the error table (server/err.c) is in the OpenAPI document. No
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
documented = set()
for block in re.split(r"\n  (?=/)", paths)[1:]:
    path = block.split(":", 1)[0].strip()
    for m in re.findall(r"\n    (get|post|put|delete|patch):", block):
        documented.add((m.upper(), re.sub(r"\{[^}]+\}", "{x}", path)))
H.check(len(routes) >= 18, "route table read (%d routes)" % len(routes))
for r in sorted(routes - documented):
    H.check(False, "route %s %s is not in docs/api/openapi.yaml" % r)
for r in sorted(documented - routes):
    H.check(False, "docs/api/openapi.yaml documents %s %s, which the server does not route" % r)

errs = open(os.path.join(H.SRC, "server", "err.c"), encoding="utf-8").read()
slugs = [t for t in re.findall(r'T\("([a-z0-9-]+)"\)', errs) if t != "ok"]
H.check(len(slugs) > 20, "error table read (%d problem types)" % len(slugs))
for t in slugs:
    H.check(re.search(r"/problems/%s(?![a-z0-9-])" % re.escape(t), api) is not None,
            "problem type %s is in docs/api/openapi.yaml" % t)
H.finish()
