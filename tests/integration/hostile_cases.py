"""hostile_cases.py - hostile XML request bodies for POST /v1/dossiers (stdlib only).

The same set as tests/unit/test_xmlsafe.c, as real HTTP bodies: the integration test sends each and
expects a 4xx problem+json within a second and nothing stored. See docs/xml-hardening.md.
"""

CONTENT_TYPE = "application/xml"

# Problem type slug (err.c) that xmlsafe_parse gives each case. The HTTP layer may answer earlier for
# bodies over http_max_body (413 too-large), which is equally correct.
EXPECTED = {}


def _attrs(n):
    """n distinct short attribute names, so libxml2 would need its quadratic duplicate check."""
    al = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = []
    for i in range(n):
        name, v = "", i
        while True:
            name += al[v % 52]
            v //= 52
            if v == 0:
                break
        out.append(' %s=""' % name)
    return "".join(out)


def _billion_laughs():
    lines = ['<?xml version="1.0"?>', "<!DOCTYPE lolz [", ' <!ENTITY lol "lol">']
    for i in range(1, 10):
        ref = "&lol;" if i == 1 else "&lol%d;" % (i - 1)
        lines.append(' <!ENTITY lol%d "%s">' % (i, ref * 10))
    lines += ["]>", "<lolz>&lol9;</lolz>", ""]
    return "\n".join(lines).encode()


def _utf16le_bom():
    return b"\xff\xfe" + '<?xml version="1.0" encoding="UTF-16"?><r>x</r>'.encode("utf-16-le")


def cases(callback_port=9):
    """Return [(name, body_bytes, content_type)]. callback_port is the loopback port named in the
    external-DTD/entity/XInclude/stylesheet URLs: listen on it to prove nothing ever connects."""
    url = "http://127.0.0.1:%d" % callback_port
    c = []

    def add(name, body, slug):
        if isinstance(body, str):
            body = body.encode("utf-8")
        c.append((name, body, CONTENT_TYPE))
        EXPECTED[name] = slug

    add("billion laughs", _billion_laughs(), "xml-forbidden")
    add("quadratic blowup",
        '<?xml version="1.0"?>\n<!DOCTYPE kaboom [<!ENTITY a "' + "x" * 50000 + '">]>\n<kaboom>'
        + "&a;" * 20000 + "</kaboom>", "xml-forbidden")
    add("external entity /etc/passwd",
        '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<r>&x;</r>',
        "xml-forbidden")
    add("external DTD over http", '<?xml version="1.0"?>\n<!DOCTYPE r SYSTEM "%s/x.dtd">\n<r/>' % url,
        "xml-forbidden")
    add("external entity over http", '<!DOCTYPE r [<!ENTITY x SYSTEM "%s/e">]><r>&x;</r>' % url,
        "xml-forbidden")
    add("parameter entities", '<!DOCTYPE r [\n<!ENTITY %% p SYSTEM "%s/p.dtd">\n%%p;\n]>\n<r/>' % url,
        "xml-forbidden")
    add("lowercase doctype", "<!doctype r><r/>", "xml-forbidden")
    add("DOCTYPE after the root", "<r/>\n<!DOCTYPE r>", "xml-forbidden")
    add("undeclared entity in text", "<r>&foo;</r>", "xml-forbidden")
    add("undeclared entity in attribute", '<r a="x&foo;"/>', "xml-forbidden")
    add("XInclude of /etc/passwd",
        '<r xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="/etc/passwd" parse="text"/></r>',
        "xml-forbidden")
    add("XInclude over http",
        '<r xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="%s/i"/></r>' % url, "xml-forbidden")
    add("10,000-deep nesting", "<a>" * 10000 + "</a>" * 10000, "xml-limit")
    add("10 MB attribute", '<r a="' + "x" * 10_000_000 + '"/>', "too-large")
    add("100k attributes", "<r" + _attrs(100_000) + "/>", "xml-limit")
    add("huge text node", "<r>" + "t" * 200_000 + "</r>", "xml-limit")
    add("text node built from many &amp;", "<r>" + "ab&amp;" * 30000 + "</r>", "xml-limit")
    add("huge comment", "<r><!--" + "c" * 100_000 + "--></r>", "xml-limit")
    add("30,000 elements", "<r>" + "<a/>" * 30000 + "</r>", "xml-limit")
    add("2 MiB body", "<r>" + "t" * (2 * 1024 * 1024) + "</r>", "too-large")
    add("namespace error storm", "<r>" + '<a p:x="1" q:y="2"/>' * 19000 + "</r>", "xml-malformed")
    add("UTF-8 overlong 2-byte", b"<r>\xc0\xaf</r>", "xml-malformed")
    add("UTF-8 overlong 3-byte", b"<r>\xe0\x80\xaf</r>", "xml-malformed")
    add("UTF-8 surrogate", b"<r>\xed\xa0\x80</r>", "xml-malformed")
    add("UTF-8 truncated sequence", b"<r>\xe1\x80</r>", "xml-malformed")
    add("UTF-8 truncated at end", b"<r/>\xe1\xbb", "xml-malformed")
    add("UTF-8 above U+10FFFF", b"<r>\xf4\x90\x80\x80</r>", "xml-malformed")
    add("UTF-8 stray continuation", b"<r>\x80</r>", "xml-malformed")
    add("declares ISO-8859-1", '<?xml version="1.0" encoding="ISO-8859-1"?><r>Việt</r>', "xml-malformed")
    add("declares UTF-16, bytes UTF-8", "<?xml version='1.0' encoding='UTF-16'?><r/>", "xml-malformed")
    add("UTF-16LE BOM", _utf16le_bom(), "xml-malformed")
    add("UTF-16BE BOM", b"\xfe\xff\x00<\x00r\x00/\x00>", "xml-malformed")
    add("NUL byte in the middle", b"<r>ab\x00cd</r>", "xml-malformed")
    add("two root elements", "<a/><b/>", "xml-malformed")
    add("truncated document", "<r><a>text</a>", "xml-malformed")
    add("truncated in a tag", '<r><a x="1"', "xml-malformed")
    add("mismatched tags", "<r><a></b></r>", "xml-malformed")
    add("undefined namespace prefix", "<p:r/>", "xml-malformed")
    add("bare ampersand", "<r>a & b</r>", "xml-malformed")
    add("control character", b"<r>\x01</r>", "xml-malformed")
    add("empty body", b"", "xml-malformed")
    add("whitespace only", " \r\n\t \n", "xml-malformed")
    add("processing instruction",
        '<?xml-stylesheet type="text/xsl" href="%s/x.xsl"?><r/>' % url, "xml-forbidden")
    add("processing instruction in content", "<r><?php system('id'); ?></r>", "xml-forbidden")
    add("XML declaration not first", ' <?xml version="1.0"?><r/>', "xml-malformed")
    return c


if __name__ == "__main__":
    for name, body, ctype in cases():
        print("%-36s %10d bytes  %-14s %s" % (name, len(body), EXPECTED[name], ctype))
