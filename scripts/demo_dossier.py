"""Write a demo dossier (copy of a civil-status extract, 2.000635) whose applicant is a synthetic
citizen known to the population-database simulator, so the quick start shows a verified identity.
usage: demo_dossier.py CITIZENS_JSON OUT_XML [index]"""
import json
import re
import sys

src, out = sys.argv[1], sys.argv[2]
idx = int(sys.argv[3]) if len(sys.argv) > 3 else 0
root = __file__.rsplit("/scripts/", 1)[0]
with open(src, encoding="utf-8") as f:
    data = json.load(f)
p = [c for c in data["citizens"] if not c["deceased"] and c["birth_date"][:4] < "2006"][idx]
b = p["birth_date"]
block = "<personalId>%s</personalId>\n    <fullName>%s</fullName>\n    <birthDate>%s-%s-%s</birthDate>" % (
    p["personal_id"], p["full_name"], b[:4], b[4:6], b[6:8])
with open(root + "/tests/samples/2.000635.valid.xml", encoding="utf-8") as f:
    body = f.read()
body = re.sub(r"<personalId>\d+</personalId>\s*<fullName>[^<]*</fullName>\s*<birthDate>[^<]*</birthDate>",
              lambda m: block, body, count=2)
body = re.sub(r"(<birthDate>[^<]*</birthDate>\s*<gender>)[MF](</gender>)", r"\g<1>%s\g<2>" % p["gender"], body, count=1)
with open(out, "w", encoding="utf-8") as f:
    f.write(body)
print(p["full_name"])
