"""Once-only demo data, measured: on a fresh database (the integration harness: private MariaDB, the
population-database simulator with the synthetic citizens, the dev CA's ward keys, a real motcuad), seed
signed results for part of the citizens in wards 20257 and 20209 (marriage certificates, marital status
confirmations, death extracts), submit a demo set of dossiers in ward 20242, wait for the identity checks
and print GET /v1/stats?ward=20242 as a table (docs/reuse.md).
usage: MOTCUAD=build/motcuad MOTCUA_ADMIN=build/motcua-admin python3 scripts/seed_demo.py [--share 0.5]"""
import argparse
import os
import random
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import harness as H  # noqa: E402

def fill(code, persons, ward, components=None):
    return H.fill_sample(code, persons, ward, components)


def upload(code):
    return '<component code="%s"><file ref="upl_%s" name="%s.pdf"/></component>' % (code, code, code)


POP = '<component code="%s"><reuse source="population"/></component>'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--share", type=float, default=0.5, help="share of each group holding a result")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    certs = tempfile.mkdtemp(prefix="motcua-demo-certs-")
    subprocess.run([os.path.join(H.SRC, "certs", "mkdev-ca.sh"), certs], check=True, capture_output=True)
    sim = H.PopdbSim()
    people = [p for p in sim.data["citizens"] if not p["deceased"] and "1950" < p["birth_date"][:4] < "2004"]
    by_id = {p["personal_id"]: p for p in sim.data["citizens"]}
    env = dict(sim.env(), MOTCUA_SIGN_DIR=certs, MOTCUA_TRUST_CA_FILE=os.path.join(certs, "ca.crt"),
               MOTCUA_CRL_FILE=os.path.join(certs, "crl.pem"), MOTCUA_IDENTITY_POLL_MS="50")
    s = H.Stack("demo", env)
    try:
        s.start()

        def submit(body):
            r = s.submit(body, idem=H.new_key_id())
            if r.status != 201:
                raise RuntimeError("submit: %d %s" % (r.status, r.body[:300]))
            return r.json()["dossierCode"]

        def issue(body):
            s.admin("result", "issue", "--dossier", submit(body))

        couples = [(p, by_id[p["spouse_id"]]) for p in people if p["marital_status"] == "MARRIED"
                   and p["gender"] == "M" and p["spouse_id"] in by_id and not by_id[p["spouse_id"]]["deceased"]]
        singles = [p for p in people if p["marital_status"] == "SINGLE"]
        widowed = [p for p in people if p["marital_status"] == "WIDOWED" and p["spouse_id"] in by_id
                   and by_id[p["spouse_id"]]["deceased"]]
        rnd.shuffle(couples)
        rnd.shuffle(singles)
        rnd.shuffle(widowed)
        couples, singles = couples[:60], singles[:80]
        seeded = {"marriage certificates": 0, "marital status confirmations": 0, "death extracts": 0}
        t0 = time.time()
        # exactly round(share * n) of each group hold a result (the groups are shuffled above)
        for h, w in couples[:round(args.share * len(couples))]:        # married earlier, in another ward
            issue(fill("1.000894", [h, h, w], "20257"))
            seeded["marriage certificates"] += 1
        for p in singles[:round(args.share * len(singles))]:           # confirmations issued in Thanh Khê
            issue(fill("1.004873", [p], "20209", upload("TP1") + upload("TP2")))
            seeded["marital status confirmations"] += 1
        for p in widowed[:round(args.share * len(widowed))]:           # the spouse's death registered earlier
            issue(fill("1.000656", [p, by_id[p["spouse_id"]]], "20257"))
            seeded["death extracts"] += 1
        print("seeded %s in %.1f s" % (seeded, time.time() - t0), flush=True)

        demo = []
        for h, w in couples:                           # birth registrations: one per couple
            demo.append(submit(fill("1.001193", [h, h, w], "20242", upload("TP1") + upload("TP2") + POP % "TP3")))
        for a, b in zip(singles[0::2], singles[1::2]):  # marriages between singles
            demo.append(submit(fill("1.000894", [a, a, b], "20242")))
        for p in widowed:                              # widowed citizens asking for a confirmation
            demo.append(submit(fill("1.004873", [p, by_id[p["spouse_id"]]], "20242", upload("TP1"))))
        t0 = time.time()
        while time.time() - t0 < 120:                  # identity checks satisfy the population components
            st = s.req("GET", "/v1/stats?ward=20242", key="monitor").json()
            if st["total"]["populationPending"] == 0:
                break
            time.sleep(0.5)
        print("%d demo dossiers in ward 20242\n" % len(demo))
        print("| procedure | dossiers | documents asked | by population | by result | uploaded | missing |"
              " avoided | declared fields | confirmed by the population record |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for p in st["procedures"] + [st["total"]]:
            w = p["satisfiedWithoutUpload"]
            print("| %s %s | %d | %d | %d | %d | %d | %d | %.1f%% | %d | %d (%.1f%%) |" % (
                p["procedure"], p.get("name", ""), p["dossiers"], p["componentsAsked"], w["population"], w["result"],
                p["uploaded"], p["missing"] + p["populationPending"], 100 * p["shareAvoided"],
                p["declaredFields"], p["declaredFieldsPrefillable"], 100 * p["shareDeclaredPrefillable"]))
    finally:
        s.close()
        sim.stop()


if __name__ == "__main__":
    main()
