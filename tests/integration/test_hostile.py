"""Hostile XML over HTTP: every case in hostile_cases.py is refused with its 4xx problem well under a
second, nothing is stored, nothing connects to the URLs the documents name, and the server stays
healthy and keeps accepting valid dossiers."""
import socket
import threading
import harness as H
import hostile_cases

s = H.Stack("hostile")
# a listener on the port every external URL names: nothing may connect to it
trap = socket.socket()
trap.bind(("127.0.0.1", 0))
trap.listen(16)
trap.settimeout(0.2)
connections = []
stop = threading.Event()


def watch():
    while not stop.is_set():
        try:
            conn, _ = trap.accept()
            connections.append(conn)
        except OSError:
            pass


threading.Thread(target=watch, daemon=True).start()
try:
    s.start()
    H.check(s.submit(H.sample("1.001193")).status == 201, "valid dossier accepted before the storm")
    before = s.sql("SELECT COUNT(*) FROM dossier")
    worst = 0.0
    for name, body, ctype in hostile_cases.cases(trap.getsockname()[1]):
        r = s.submit(body, ctype=ctype)
        want = hostile_cases.EXPECTED[name]
        worst = max(worst, r.elapsed)
        ok = 400 <= r.status < 500 and r.header("Content-Type") == "application/problem+json"
        H.check(ok, "%s: 4xx problem+json, got %d" % (name, r.status))
        if ok:
            t = r.json()["type"]
            H.check(t.endswith("/" + want) or (want != "too-large" and t.endswith("/too-large") and len(body) > 1048576),
                    "%s: type %s, got %s" % (name, want, t))
        H.check(r.elapsed < 1.0, "%s answered in %.3fs (< 1 s)" % (name, r.elapsed))
        H.check(s.req("GET", "/healthz").status == 200, "%s: server still healthy" % name)
    print("slowest hostile case: %.3f s" % worst)
    H.check(s.sql("SELECT COUNT(*) FROM dossier") == before, "hostile bodies stored nothing")
    H.check(not connections, "nothing connected to the URLs named in hostile documents")
    # a hostile body that is also a dossier: DOCTYPE in front of a valid sample
    dtd = b'<?xml version="1.0"?>\n<!DOCTYPE dossier [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n' + \
        H.sample("1.001193").split(b"\n", 1)[1]
    r = s.submit(dtd)
    H.check(r.status == 400 and r.json()["type"].endswith("/xml-forbidden"), "DOCTYPE on a real dossier -> 400 xml-forbidden")
    H.check(s.submit(H.sample("1.001193")).status == 201, "valid dossier accepted after the storm")
finally:
    stop.set()
    s.close()
H.finish()
