"""Write a demo dossier (copy of a civil-status extract, 2.000635) whose applicant is a synthetic
citizen known to the population-database simulator, so the quick start shows a verified identity.
usage: demo_dossier.py CITIZENS_JSON OUT_XML [index]"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import harness as H  # noqa: E402

src, out = sys.argv[1], sys.argv[2]
idx = int(sys.argv[3]) if len(sys.argv) > 3 else 0
with open(src, encoding="utf-8") as f:
    data = json.load(f)
p = [c for c in data["citizens"] if not c["deceased"] and c["birth_date"][:4] < "2006"][idx]
with open(out, "wb") as f:
    f.write(H.dossier_for(p))
print(p["full_name"])
