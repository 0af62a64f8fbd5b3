"""Integration-test harness: a fresh database on the private MariaDB, API clients made with
motcua-admin, and a real motcuad process on a free port. Standard library only."""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid

SRC = os.environ.get("MOTCUA_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
MOTCUAD = os.environ.get("MOTCUAD", os.path.join(SRC, "build", "motcuad"))
ADMIN = os.environ.get("MOTCUA_ADMIN", os.path.join(SRC, "build", "motcua-admin"))
MARIADB_SH = os.path.join(SRC, "db", "mariadb.sh")
SAMPLES = os.path.join(SRC, "tests", "samples")
PROCEDURES = ["1.001193", "1.000656", "1.004873", "1.000894", "2.000635", "2.000815", "1.004222"]

failures = []


def check(cond, what):
    """Record a failed expectation (the test keeps going, so one run shows every failure)."""
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return cond


def finish():
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("all checks passed")
    sys.exit(0)


def sample(code, kind="valid"):
    with open(os.path.join(SAMPLES, "%s.%s.xml" % (code, kind)), "rb") as f:
        return f.read()


def mariadb(*args, check_rc=True):
    return subprocess.run([MARIADB_SH] + list(args), check=check_rc, capture_output=True, text=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Response:
    def __init__(self, status, headers, body, elapsed):
        self.status, self.headers, self.body, self.elapsed = status, headers, body, elapsed

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


class Stack:
    """One database + clients + a motcuad process."""

    def __init__(self, name, env=None):
        mariadb("start")
        self.db = "motcua_test_%s_%d" % (re.sub(r"\W", "_", name), os.getpid())
        mariadb("sql", "-e", "DROP DATABASE IF EXISTS `%s`; CREATE DATABASE `%s` CHARACTER SET utf8mb4;" % (self.db, self.db))
        sock = os.path.join(os.environ.get("MOTCUA_RUN", os.path.join(SRC, ".run")), "mariadb", "mysqld.sock")
        self.env = dict(os.environ)
        self.env["MOTCUA_DB_DSN"] = "mariadb://motcua:motcua-dev@localhost/%s?socket=%s" % (self.db, sock)
        self.env["MOTCUA_AUTH_CACHE_TTL_S"] = "0"
        self.env.update(env or {})
        self.admin("migrate")
        self.admin("catalog", "load")
        self.keys = {}
        for label, role, ward in [("portal", "portal", None), ("portal2", "portal", None),
                                  ("national", "national", None), ("official", "official", "20242"),
                                  ("official_other", "official", "20257"), ("monitor", "monitor", None)]:
            self.keys[label] = self.new_key(role, ward, label)
        self.procs = []
        self.port = None
        self.proc = None

    def admin(self, *args, check_rc=True):
        r = subprocess.run([ADMIN] + list(args), env=self.env, capture_output=True, text=True)
        if check_rc and r.returncode != 0:
            raise RuntimeError("motcua-admin %s failed: %s %s" % (" ".join(args), r.stdout, r.stderr))
        return r

    def new_key(self, role, ward=None, name=None):
        args = ["client", "create", "--role", role, "--name", name or role]
        if ward:
            args += ["--ward", ward]
        out = self.admin(*args).stdout
        m = re.search(r"API key[^:]*: (mck_\S+)", out)
        return m.group(1)

    def sql(self, query):
        r = mariadb("sql", "-N", "-B", self.db, "-e", query)
        return r.stdout.strip()

    def start(self, port=None, env=None, wait=True):
        port = port or free_port()
        e = dict(self.env)
        e["MOTCUA_LISTEN_PORT"] = str(port)
        e.update(env or {})
        log = open(os.path.join(os.environ.get("MOTCUA_RUN", "/tmp"), "motcuad-%s-%d.log" % (self.db, port)), "ab")
        p = subprocess.Popen([MOTCUAD], env=e, stdout=log, stderr=log)
        p.port = port
        p.logpath = log.name
        self.procs.append(p)
        if self.proc is None or self.proc.poll() is not None:
            self.proc, self.port = p, port
        if wait:
            self.wait_healthy(port, p)
        return p

    def wait_healthy(self, port, p, timeout=30):
        t0 = time.time()
        while time.time() - t0 < timeout:
            if p.poll() is not None:
                raise RuntimeError("motcuad exited with %s; log %s" % (p.returncode, p.logpath))
            try:
                if request("GET", "/healthz", port=port).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("motcuad did not become healthy")

    def kill9(self, p=None):
        p = p or self.proc
        p.send_signal(signal.SIGKILL)
        p.wait()

    def stop(self, p=None, timeout=20):
        p = p or self.proc
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                self.stop(p)
        mariadb("sql", "-e", "DROP DATABASE IF EXISTS `%s`" % self.db, check_rc=False)

    # HTTP helpers against the current process
    def req(self, method, path, body=None, key=None, headers=None, port=None, timeout=30):
        h = dict(headers or {})
        if key:
            h["Authorization"] = "Bearer " + self.keys.get(key, key)
        return request(method, path, body, h, port=port or self.port, timeout=timeout)

    def submit(self, body, key="portal", idem=None, ctype="application/xml", port=None):
        h = {"Content-Type": ctype}
        if idem is not None:
            h["Idempotency-Key"] = idem
        return self.req("POST", "/v1/dossiers", body, key, h, port=port)


def request(method, path, body=None, headers=None, port=8080, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    t0 = time.time()
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return Response(r.status, r.getheaders(), data, time.time() - t0)
    finally:
        c.close()


ROLE_NAMES = {"ROLE_PORTAL": "portal", "ROLE_NATIONAL": "national", "ROLE_OFFICIAL": "official",
              "ROLE_MONITOR": "monitor"}


def route_table():
    """The route table of server/http.c as [(method, pattern, roles)], read from the source at run time:
    pattern keeps its "{}" segments, roles is a frozenset of role names (empty: public, no key). A mask
    this parser cannot read raises, so a new way of writing one cannot slip past the tests that use it."""
    src = open(os.path.join(SRC, "server", "http.c"), encoding="utf-8").read()
    body = src[src.index("routes[] = {"):]
    body = body[:body.index("\n};")]
    out = []
    for m in re.finditer(r'\{"(GET|POST|PUT|DELETE|PATCH)", "(/[^"]*)", ([^,]+), \w+\}', body):
        mask = m.group(3).strip()
        roles = set()
        if mask != "0":
            for part in mask.split("|"):
                part = part.strip()
                if part not in ROLE_NAMES:
                    raise ValueError("route %s %s: cannot read the role mask %r" % (m.group(1), m.group(2), mask))
                roles.add(ROLE_NAMES[part])
        out.append((m.group(1), m.group(2), frozenset(roles)))
    if len(out) != body.count('{"'):
        raise ValueError("server/http.c: %d route rows parsed of %d" % (len(out), body.count('{"')))
    return out


def new_key_id():
    return str(uuid.uuid4())


# ---- the population-database simulator (adapters/popdb_sim.c) over real TLS ----

POPDB_SIM = os.environ.get("POPDB_SIM", os.path.join(os.path.dirname(MOTCUAD), "adapters", "popdb-sim"))
RUN = os.environ.get("MOTCUA_RUN", os.path.join(SRC, ".run"))
SIM_CLIENT, SIM_SECRET = "motcua-test", "test-secret-48"


def dev_certs():
    """The development CA and the simulators' localhost certificate (certs/mkdev-ca.sh, idempotent)."""
    out = os.path.join(RUN, "certs")
    subprocess.run([os.path.join(SRC, "certs", "mkdev-ca.sh"), out], check=True, capture_output=True)
    return out


def signing_env(certs):
    """motcuad configuration that signs with and trusts the CA in certs (certs/mkdev-ca.sh output)."""
    return {"MOTCUA_SIGN_DIR": certs, "MOTCUA_TRUST_CA_FILE": os.path.join(certs, "ca.crt"),
            "MOTCUA_CRL_FILE": os.path.join(certs, "crl.pem")}


def citizens():
    """Synthetic Da Nang citizens (fixed seed), generated once per run directory."""
    path = os.path.join(RUN, "popdb", "citizens.json")
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        subprocess.run([sys.executable, os.path.join(SRC, "adapters", "gen_citizens.py"), "--seed", "48",
                        "--count", "1200", "--out", path], check=True)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class PopdbSim:
    def __init__(self, port=None, tls_fail=False):
        self.certs = dev_certs()
        self.data = citizens()
        self.port = port or free_port()
        self.tls_fail = tls_fail  # the fault: TLS clients meet a plain-HTTP server and their handshake fails
        self.proc = None
        self.start()

    def start(self):
        log = open(os.path.join(RUN, "popdb-sim-%d.log" % self.port), "ab")
        tls = ["--tls-fail"] if self.tls_fail else ["--cert", os.path.join(self.certs, "localhost.crt"),
                                                    "--key", os.path.join(self.certs, "localhost.key")]
        self.proc = subprocess.Popen([POPDB_SIM, "--port", str(self.port), "--data", os.path.join(RUN, "popdb", "citizens.json"),
                                      "--client-id", SIM_CLIENT, "--secret", SIM_SECRET] + tls, stdout=log, stderr=log)
        t0 = time.time()
        while time.time() - t0 < 20:
            try:
                if self.tls_fail:
                    request("GET", "/_sim/stats", port=self.port)
                else:
                    self.stats()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("popdb-sim did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def _admin(self, method, path, body=None):
        import ssl
        ctx = ssl.create_default_context(cafile=os.path.join(self.certs, "ca.crt"))
        c = http.client.HTTPSConnection("localhost", self.port, context=ctx, timeout=10)
        try:
            c.request(method, path, body=json.dumps(body) if body is not None else None,
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            return json.loads(r.read() or b"{}")
        finally:
            c.close()

    def stats(self):
        return self._admin("GET", "/_sim/stats")

    def faults(self, **f):
        return self._admin("POST", "/_sim/faults", f)

    def reset(self):
        return self._admin("POST", "/_sim/reset", {})

    def env(self):
        """motcuad configuration pointing at this simulator."""
        return {"MOTCUA_POPDB_URL": "https://localhost:%d/v1" % self.port, "MOTCUA_POPDB_CLIENT_ID": SIM_CLIENT,
                "MOTCUA_POPDB_SECRET": SIM_SECRET, "MOTCUA_POPDB_CA_FILE": os.path.join(self.certs, "ca.crt")}


PERSON_BLOCK = re.compile(r"<personalId>\d+</personalId>(\s*)<fullName>[^<]*</fullName>(\s*)<birthDate>[^<]*</birthDate>"
                          r"((\s*)<gender>[MF]</gender>)?")


def fill_sample(code, persons, ward="20242", components=None):
    """The sample dossier of a procedure with its person blocks (applicant first, then the declaration's in
    document order) replaced by citizens (as the simulator's records say), the receiving ward set, and
    the <components> list replaced when components is given."""
    body = sample(code).decode("utf-8")
    it = iter(persons)

    def sub(m):
        p = next(it, None)
        if p is None:
            return m.group(0)
        b = p["birth_date"]
        out = "<personalId>%s</personalId>%s<fullName>%s</fullName>%s<birthDate>%s-%s-%s</birthDate>" % (
            p["personal_id"], m.group(1), p["full_name"], m.group(2), b[:4], b[4:6], b[6:8])
        if m.group(3):
            out += "%s<gender>%s</gender>" % (m.group(4), p["gender"])
        return out
    body = re.sub(r"<ward>\d+</ward>", "<ward>%s</ward>" % ward, PERSON_BLOCK.sub(sub, body))
    if components is not None:
        body = re.sub(r"<components>.*</components>", "<components>%s</components>" % components, body, flags=re.S)
    return body.encode("utf-8")


def dossier_for(person, subject=None, ward="20242"):
    """A copy-of-extract dossier (2.000635) whose applicant (and subject) are the given citizens."""
    return fill_sample("2.000635", [person, subject or person], ward)


def wait_state(stack, code, states, key="portal", timeout=30):
    t0 = time.time()
    while time.time() - t0 < timeout:
        r = stack.req("GET", "/v1/dossiers/" + code, key=key)
        if r.status == 200 and r.json()["state"] in states:
            return r.json()
        time.sleep(0.1)
    return stack.req("GET", "/v1/dossiers/" + code, key=key).json()
