/* test_xmlsafe.c - the hostile-input table for xmlsafe_parse: every case must be refused with the
 * expected error in well under a second, libxml2 must print nothing, and valid dossiers (Vietnamese
 * text, predefined entities, namespaces, documents exactly at each cap) must pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "err.h"
#include "xmlsafe.h"

#define MIB (1024u * 1024u)

/* ---- body builders: each returns a malloc'd body and its length ---- */

typedef struct {
    char *p;
    size_t len, cap;
} body;

static void b_add(body *b, const void *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap)
            cap *= 2;
        b->p = realloc(b->p, cap);
        assert_non_null(b->p);
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}
static void b_str(body *b, const char *s) { b_add(b, s, strlen(s)); }
static void b_rep(body *b, const char *s, size_t times)
{
    for (size_t i = 0; i < times; i++)
        b_str(b, s);
}
static void b_fill(body *b, char c, size_t n)
{
    char chunk[4096];
    memset(chunk, c, sizeof(chunk));
    while (n > 0) {
        size_t k = n < sizeof(chunk) ? n : sizeof(chunk);
        b_add(b, chunk, k);
        n -= k;
    }
}

static body mk_billion_laughs(void)
{
    body b = {0};
    b_str(&b, "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
    for (int i = 1; i <= 9; i++) {
        char line[256];
        snprintf(line, sizeof(line), " <!ENTITY lol%d \"", i);
        b_str(&b, line);
        if (i == 1)
            snprintf(line, sizeof(line), "&lol;");
        else
            snprintf(line, sizeof(line), "&lol%d;", i - 1);
        b_rep(&b, line, 10);
        b_str(&b, "\">\n");
    }
    b_str(&b, "]>\n<lolz>&lol9;</lolz>\n");
    return b;
}

static body mk_quadratic(void)
{
    body b = {0};
    b_str(&b, "<?xml version=\"1.0\"?>\n<!DOCTYPE kaboom [<!ENTITY a \"");
    b_fill(&b, 'x', 50000);
    b_str(&b, "\">]>\n<kaboom>");
    b_rep(&b, "&a;", 20000);
    b_str(&b, "</kaboom>");
    return b;
}

static body mk_deep(size_t depth)
{
    body b = {0};
    b_rep(&b, "<a>", depth);
    b_rep(&b, "</a>", depth);
    return b;
}

static body mk_big_attr(size_t n)
{
    body b = {0};
    b_str(&b, "<r a=\"");
    b_fill(&b, 'x', n);
    b_str(&b, "\"/>");
    return b;
}

/* n distinct short names (base 52), so libxml2 would have to run its duplicate check on all of them. */
static body mk_many_attrs(size_t n)
{
    static const char al[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    body b = {0};
    b_str(&b, "<r");
    for (size_t i = 0; i < n; i++) {
        char name[8];
        size_t k = 0, v = i;
        do {
            name[k++] = al[v % 52];
            v /= 52;
        } while (v > 0 && k < sizeof(name) - 1);
        name[k] = '\0';
        b_str(&b, " ");
        b_str(&b, name);
        b_str(&b, "=\"\"");
    }
    b_str(&b, "/>");
    return b;
}

static body mk_text(size_t n)
{
    body b = {0};
    b_str(&b, "<r>");
    b_fill(&b, 't', n);
    b_str(&b, "</r>");
    return b;
}

static body mk_text_amp(void) /* many small character callbacks making one text node */
{
    body b = {0};
    b_str(&b, "<r>");
    b_rep(&b, "ab&amp;", 30000);
    b_str(&b, "</r>");
    return b;
}

static body mk_text_cdata(void) /* text + CDATA merge into one node (NOCDATA) */
{
    body b = {0};
    b_str(&b, "<r>");
    b_fill(&b, 't', 40000);
    b_str(&b, "<![CDATA[");
    b_fill(&b, 'c', 40000);
    b_str(&b, "]]></r>");
    return b;
}

static body mk_comment(size_t n)
{
    body b = {0};
    b_str(&b, "<r><!--");
    b_fill(&b, 'c', n);
    b_str(&b, "--></r>");
    return b;
}

static body mk_many_nodes(size_t n)
{
    body b = {0};
    b_str(&b, "<r>");
    b_rep(&b, "<a/>", n);
    b_str(&b, "</r>");
    return b;
}

static body mk_ns_storm(void) /* one error per attribute unless parsing stops at the first */
{
    body b = {0};
    b_str(&b, "<r>");
    b_rep(&b, "<a p:x=\"1\" q:y=\"2\"/>", 19000);
    b_str(&b, "</r>");
    return b;
}

static body mk_utf16le(void)
{
    static const char ascii[] = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><r>x</r>";
    body b = {0};
    b_add(&b, "\xFF\xFE", 2);
    for (size_t i = 0; i < sizeof(ascii) - 1; i++) {
        char pair[2] = {ascii[i], 0};
        b_add(&b, pair, 2);
    }
    return b;
}

static body mk_utf16be(void)
{
    body b = {0};
    b_add(&b, "\xFE\xFF\0<\0r\0/\0>", 10);
    return b;
}

/* ---- the hostile table ---- */

typedef struct {
    const char *name;
    const char *lit; /* literal body, or NULL to use make */
    size_t lit_len;  /* 0: strlen(lit) */
    body (*make)(void);
    size_t max_bytes; /* 0: default */
    mc_err want;
    const char *why_has; /* substring the reason must contain */
} hostile_case;

static body mk_deep_10000(void) { return mk_deep(10000); }
static body mk_attr_10mb(void) { return mk_big_attr(10u * 1000u * 1000u); }
static body mk_attrs_100k(void) { return mk_many_attrs(100000); }
static body mk_text_200k(void) { return mk_text(200000); }
static body mk_comment_100k(void) { return mk_comment(100000); }
static body mk_nodes_30k(void) { return mk_many_nodes(30000); }
static body mk_xxe_bomb_nodtd(void) /* a 2 MiB body of harmless text: size cap */
{
    return mk_text(2 * MIB);
}

static const hostile_case hostile[] = {
    {"billion laughs", NULL, 0, mk_billion_laughs, 0, MC_ERR_XML_FORBIDDEN, "DOCTYPE"},
    {"quadratic blowup", NULL, 0, mk_quadratic, 0, MC_ERR_XML_FORBIDDEN, "DOCTYPE"},
    {"external entity /etc/passwd",
     "<?xml version=\"1.0\"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n<r>&x;</r>", 0, NULL, 0,
     MC_ERR_XML_FORBIDDEN, "DOCTYPE"},
    {"external DTD over http", "<?xml version=\"1.0\"?>\n<!DOCTYPE r SYSTEM \"http://127.0.0.1:9/x.dtd\">\n<r/>", 0,
     NULL, 0, MC_ERR_XML_FORBIDDEN, "DOCTYPE"},
    {"parameter entities",
     "<!DOCTYPE r [\n<!ENTITY % p SYSTEM \"http://127.0.0.1:9/p.dtd\">\n%p;\n]>\n<r/>", 0, NULL, 0,
     MC_ERR_XML_FORBIDDEN, "DOCTYPE"},
    {"lowercase doctype", "<!doctype r><r/>", 0, NULL, 0, MC_ERR_XML_FORBIDDEN, "refused"},
    {"DOCTYPE after the root", "<r/>\n<!DOCTYPE r>", 0, NULL, 0, MC_ERR_XML_FORBIDDEN, "DOCTYPE"},
    {"bare ENTITY declaration", "<!ENTITY x \"y\"><r/>", 0, NULL, 0, MC_ERR_XML_FORBIDDEN, "ENTITY"},
    {"undeclared entity in text", "<r>&foo;</r>", 0, NULL, 0, MC_ERR_XML_FORBIDDEN, "&foo;"},
    {"undeclared entity in attribute", "<r a=\"x&foo;\"/>", 0, NULL, 0, MC_ERR_XML_FORBIDDEN, "&foo;"},
    {"XInclude of /etc/passwd",
     "<r xmlns:xi=\"http://www.w3.org/2001/XInclude\"><xi:include href=\"/etc/passwd\" parse=\"text\"/></r>", 0,
     NULL, 0, MC_ERR_XML_FORBIDDEN, "XInclude"},
    {"XInclude 2003 default namespace",
     "<r><include xmlns=\"http://www.w3.org/2003/XInclude\" href=\"file:///etc/passwd\"/></r>", 0, NULL, 0,
     MC_ERR_XML_FORBIDDEN, "XInclude"},
    {"10,000-deep nesting", NULL, 0, mk_deep_10000, 0, MC_ERR_XML_LIMIT, "depth exceeds 64"},
    {"10 MB attribute, max_bytes 16 MiB", NULL, 0, mk_attr_10mb, 16 * MIB, MC_ERR_XML_LIMIT, "attribute value"},
    {"10 MB attribute, default limits", NULL, 0, mk_attr_10mb, 0, MC_ERR_TOO_LARGE, "exceeds"},
    {"100k attributes, default limits", NULL, 0, mk_attrs_100k, 0, MC_ERR_XML_LIMIT, "more than 32 attributes"},
    {"100k attributes, max_bytes 16 MiB", NULL, 0, mk_attrs_100k, 16 * MIB, MC_ERR_XML_LIMIT,
     "more than 32 attributes"},
    {"huge text node", NULL, 0, mk_text_200k, 0, MC_ERR_XML_LIMIT, "text node"},
    {"text node built from many &amp;", NULL, 0, mk_text_amp, 0, MC_ERR_XML_LIMIT, "text node"},
    {"text node of text + CDATA", NULL, 0, mk_text_cdata, 0, MC_ERR_XML_LIMIT, "text node"},
    {"huge comment", NULL, 0, mk_comment_100k, 0, MC_ERR_XML_LIMIT, "comment"},
    {"30,000 elements", NULL, 0, mk_nodes_30k, 0, MC_ERR_XML_LIMIT, "more than 20000 elements"},
    {"2 MiB body", NULL, 0, mk_xxe_bomb_nodtd, 0, MC_ERR_TOO_LARGE, "exceeds"},
    {"namespace error storm", NULL, 0, mk_ns_storm, 0, MC_ERR_XML_MALFORMED, "not well-formed"},
    {"UTF-8 overlong 2-byte", "<r>\xC0\xAF</r>", 0, NULL, 0, MC_ERR_XML_MALFORMED, "invalid UTF-8"},
    {"UTF-8 overlong 3-byte", "<r>\xE0\x80\xAF</r>", 0, NULL, 0, MC_ERR_XML_MALFORMED, "invalid UTF-8"},
    {"UTF-8 surrogate", "<r>\xED\xA0\x80</r>", 0, NULL, 0, MC_ERR_XML_MALFORMED, "invalid UTF-8"},
    {"UTF-8 truncated sequence", "<r>\xE1\x80</r>", 0, NULL, 0, MC_ERR_XML_MALFORMED, "invalid UTF-8"},
    {"UTF-8 truncated at end", "<r/>\xE1\xBB", 0, NULL, 0, MC_ERR_XML_MALFORMED, "invalid UTF-8"},
    {"UTF-8 above U+10FFFF", "<r>\xF4\x90\x80\x80</r>", 0, NULL, 0, MC_ERR_XML_MALFORMED, "invalid UTF-8"},
    {"UTF-8 stray continuation", "<r>\x80</r>", 0, NULL, 0, MC_ERR_XML_MALFORMED, "invalid UTF-8"},
    {"declares ISO-8859-1", "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><r>Vi\xE1\xBB\x87t</r>", 0, NULL, 0,
     MC_ERR_XML_MALFORMED, "ISO-8859-1"},
    {"declares UTF-16, bytes UTF-8", "<?xml version='1.0' encoding='UTF-16'?><r/>", 0, NULL, 0,
     MC_ERR_XML_MALFORMED, "UTF-16"},
    {"UTF-16LE BOM", NULL, 0, mk_utf16le, 0, MC_ERR_XML_MALFORMED, "byte order mark"},
    {"UTF-16BE BOM", NULL, 0, mk_utf16be, 0, MC_ERR_XML_MALFORMED, "byte order mark"},
    {"NUL byte in the middle", "<r>ab\0cd</r>", 11, NULL, 0, MC_ERR_XML_MALFORMED, "NUL byte"},
    {"two root elements", "<a/><b/>", 0, NULL, 0, MC_ERR_XML_MALFORMED, "not well-formed"},
    {"truncated document", "<r><a>text</a>", 0, NULL, 0, MC_ERR_XML_MALFORMED, "1 element(s) still open"},
    {"truncated in text", "<r><a>te", 0, NULL, 0, MC_ERR_XML_MALFORMED, "2 element(s) still open"},
    {"truncated in a tag", "<r><a x=\"1\"", 0, NULL, 0, MC_ERR_XML_MALFORMED, "truncated"},
    {"truncated in a value", "<r a=\"abc", 0, NULL, 0, MC_ERR_XML_MALFORMED, "unterminated"},
    {"mismatched tags", "<r><a></b></r>", 0, NULL, 0, MC_ERR_XML_MALFORMED, "not well-formed"},
    {"undefined namespace prefix", "<p:r/>", 0, NULL, 0, MC_ERR_XML_MALFORMED, "not well-formed"},
    {"bare ampersand", "<r>a & b</r>", 0, NULL, 0, MC_ERR_XML_MALFORMED, "'&'"},
    {"bad character reference", "<r>&#xD800;</r>", 0, NULL, 0, MC_ERR_XML_MALFORMED, "not well-formed"},
    {"control character", "<r>\x01</r>", 0, NULL, 0, MC_ERR_XML_MALFORMED, "not well-formed"},
    {"empty body", "", 0, NULL, 0, MC_ERR_XML_MALFORMED, "empty"},
    {"whitespace only", " \r\n\t \n", 0, NULL, 0, MC_ERR_XML_MALFORMED, "no root"},
    {"XML declaration only", "<?xml version=\"1.0\"?>", 0, NULL, 0, MC_ERR_XML_MALFORMED, "no root"},
    {"text only", "hello", 0, NULL, 0, MC_ERR_XML_MALFORMED, "no root"},
    {"processing instruction", "<?xml-stylesheet type=\"text/xsl\" href=\"http://127.0.0.1:9/x.xsl\"?><r/>", 0,
     NULL, 0, MC_ERR_XML_FORBIDDEN, "processing instruction"},
    {"processing instruction in content", "<r><?php system('id'); ?></r>", 0, NULL, 0, MC_ERR_XML_FORBIDDEN,
     "processing instruction"},
    {"XML declaration not first", " <?xml version=\"1.0\"?><r/>", 0, NULL, 0, MC_ERR_XML_MALFORMED,
     "not at the start"},
    {"unterminated comment", "<r><!-- x </r>", 0, NULL, 0, MC_ERR_XML_MALFORMED, "comment"},
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void assert_why_clean(const char *why, size_t cap)
{
    size_t n = strnlen(why, cap);
    assert_true(n < cap);
    for (size_t i = 0; i < n; i++)
        assert_true((unsigned char)why[i] >= 0x20);
    /* valid UTF-8: libxml2 can re-parse it as text */
    xmlDocPtr d = NULL;
    char wrap[600], w2[200];
    snprintf(wrap, sizeof(wrap), "<w>%s</w>", why);
    /* the reason may contain '<' or '&' from quoted input; only check the encoding */
    for (char *p = wrap + 3; *p && p < wrap + strlen(wrap) - 4; p++)
        if (*p == '<' || *p == '&')
            *p = '.';
    assert_int_equal(xmlsafe_parse(wrap, strlen(wrap), NULL, &d, w2, sizeof(w2)), MC_OK);
    xmlFreeDoc(d);
}

/* Parse with stderr pointed at a temporary file; returns how many bytes libxml2 printed there. The
 * assertions run after stderr is restored, so a failure is reported normally. */
static long parse_capturing_stderr(const char *p, size_t n, const xmlsafe_limits *lim, xmlDocPtr *doc,
                                   char *why, size_t whycap, mc_err *rc, double *took)
{
    FILE *cap = tmpfile();
    assert_non_null(cap);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(cap), STDERR_FILENO) >= 0);
    double t0 = now_s();
    *rc = xmlsafe_parse(p, n, lim, doc, why, whycap);
    *took = now_s() - t0;
    fflush(stderr);
    int restored = dup2(saved, STDERR_FILENO);
    close(saved);
    assert_true(restored >= 0);
    assert_int_equal(fseek(cap, 0, SEEK_END), 0);
    long printed = ftell(cap);
    fclose(cap);
    return printed;
}

static void run_hostile(const hostile_case *c, double *took)
{
    body b = {0};
    const char *p;
    size_t n;
    if (c->make != NULL) {
        b = c->make();
        p = b.p;
        n = b.len;
    } else {
        p = c->lit;
        n = c->lit_len ? c->lit_len : strlen(c->lit);
    }
    xmlsafe_limits lim;
    xmlsafe_limits_default(&lim);
    if (c->max_bytes)
        lim.max_bytes = c->max_bytes;
    xmlDocPtr doc = (xmlDocPtr)(uintptr_t)1; /* must be overwritten with NULL */
    char why[256];
    mc_err rc;
    long printed = parse_capturing_stderr(p, n, &lim, &doc, why, sizeof(why), &rc, took);
    free(b.p);
    if (rc != c->want || strstr(why, c->why_has) == NULL || *took >= 1.0 || printed != 0)
        print_error("case \"%s\": got %s \"%s\" in %.3f s (%ld bytes on stderr), want %s containing \"%s\"\n",
                    c->name, mc_err_name(rc), why, *took, printed, mc_err_name(c->want), c->why_has);
    assert_int_equal(rc, c->want);
    assert_null(doc);
    assert_non_null(strstr(why, c->why_has));
    assert_true(*took < 1.0);
    assert_int_equal(printed, 0); /* libxml2 reports through the context, never on stderr */
    assert_why_clean(why, sizeof(why));
}

static void test_hostile_table(void **state)
{
    (void)state;
    double took[sizeof(hostile) / sizeof(hostile[0])];
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
        run_hostile(&hostile[i], &took[i]);
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
        printf("  %-36s %-22s %9.3f ms\n", hostile[i].name, mc_err_name(hostile[i].want), took[i] * 1e3);
}

/* The DTD URL points at a listener we own: after the refusal nothing may have connected to it. */
static void test_external_dtd_does_not_connect(void **state)
{
    (void)state;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s, 4), 0);
    socklen_t al = sizeof(a);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
    assert_int_equal(fcntl(s, F_SETFL, O_NONBLOCK), 0);

    char docs[4][512];
    int port = ntohs(a.sin_port);
    snprintf(docs[0], sizeof(docs[0]), "<!DOCTYPE r SYSTEM \"http://127.0.0.1:%d/x.dtd\"><r/>", port);
    snprintf(docs[1], sizeof(docs[1]),
             "<!DOCTYPE r [<!ENTITY x SYSTEM \"http://127.0.0.1:%d/e\">]><r>&x;</r>", port);
    snprintf(docs[2], sizeof(docs[2]),
             "<r xmlns:xi=\"http://www.w3.org/2001/XInclude\"><xi:include href=\"http://127.0.0.1:%d/i\"/></r>",
             port);
    snprintf(docs[3], sizeof(docs[3]),
             "<r xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
             "xsi:schemaLocation=\"urn:x http://127.0.0.1:%d/s.xsd\"/>", port);
    for (int i = 0; i < 4; i++) {
        xmlDocPtr doc = NULL;
        char why[200];
        mc_err rc = xmlsafe_parse(docs[i], strlen(docs[i]), NULL, &doc, why, sizeof(why));
        assert_int_equal(rc, i == 3 ? MC_OK : MC_ERR_XML_FORBIDDEN); /* schemaLocation is only a string */
        xmlFreeDoc(doc);
    }
    usleep(50000);
    int c = accept(s, NULL, NULL);
    assert_int_equal(c, -1);
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    close(s);
}

/* ---- documents that must pass ---- */

static xmlDocPtr parse_ok(const char *s, size_t n, const xmlsafe_limits *lim)
{
    xmlDocPtr doc = NULL;
    char why[256];
    mc_err rc = xmlsafe_parse(s, n, lim, &doc, why, sizeof(why));
    if (rc != MC_OK)
        print_error("unexpected %s: %s\n", mc_err_name(rc), why);
    assert_int_equal(rc, MC_OK);
    assert_non_null(doc);
    assert_string_equal(why, "");
    return doc;
}

static void assert_content(xmlNodePtr n, const char *want)
{
    xmlChar *got = xmlNodeGetContent(n);
    assert_non_null(got);
    assert_string_equal((const char *)got, want);
    xmlFree(got);
}

static void test_vietnamese(void **state)
{
    (void)state;
    static const char doc_s[] =
        "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"utf-8\" standalone=\"yes\"?>\n"
        "<HoSo xmlns=\"urn:motcua:hoso:1\" Id=\"HS-001\">\n"
        "  <HoTen>Nguyễn Thị Ánh Tuyết</HoTen>\n"
        "  <DiaChi>Phường Hải Châu I, Quận Hải Châu, Đà Nẵng</DiaChi>\n"
        "</HoSo>\n";
    xmlDocPtr doc = parse_ok(doc_s, sizeof(doc_s) - 1, NULL);
    xmlNodePtr root = xmlDocGetRootElement(doc);
    assert_string_equal((const char *)root->name, "HoSo");
    assert_non_null(root->ns);
    assert_string_equal((const char *)root->ns->href, "urn:motcua:hoso:1");
    xmlNodePtr n = xmlFirstElementChild(root);
    assert_string_equal((const char *)n->name, "HoTen");
    assert_content(n, "Nguyễn Thị Ánh Tuyết");
    assert_content(xmlNextElementSibling(n), "Phường Hải Châu I, Quận Hải Châu, Đà Nẵng");
    assert_int_equal(xmlGetLineNo(xmlNextElementSibling(n)), 4);
    xmlFreeDoc(doc);
}

static void test_predefined_and_char_refs(void **state)
{
    (void)state;
    static const char s[] = "<r a=\"&lt;&amp;&quot;&apos;&gt;\">&amp; &lt; &gt; &apos; &quot; &#7879;&#x1EC7;</r>";
    xmlDocPtr doc = parse_ok(s, sizeof(s) - 1, NULL);
    xmlNodePtr root = xmlDocGetRootElement(doc);
    assert_content(root, "& < > ' \" ệệ");
    xmlChar *a = xmlGetProp(root, BAD_CAST "a");
    assert_string_equal((const char *)a, "<&\"'>");
    xmlFree(a);
    xmlFreeDoc(doc);
}

static void test_namespaces_cdata_comments(void **state)
{
    (void)state;
    /* CDATA and comments are character data: "<!DOCTYPE" inside them is text, not a declaration. */
    static const char s[] = "<!-- <!DOCTYPE r [<!ENTITY x \"y\">]> -->\n"
                            "<h:r xmlns:h=\"urn:a\" xmlns:k=\"urn:b\" k:at='x>y'>"
                            "<k:c><![CDATA[<!DOCTYPE r SYSTEM \"file:///etc/passwd\"> &x; <?pi?>]]></k:c></h:r>";
    xmlDocPtr doc = parse_ok(s, sizeof(s) - 1, NULL);
    xmlNodePtr root = xmlDocGetRootElement(doc);
    assert_string_equal((const char *)root->ns->href, "urn:a");
    xmlChar *at = xmlGetNsProp(root, BAD_CAST "at", BAD_CAST "urn:b");
    assert_string_equal((const char *)at, "x>y");
    xmlFree(at);
    xmlNodePtr c = xmlFirstElementChild(root);
    assert_int_equal(c->children->type, XML_TEXT_NODE); /* NOCDATA: merged into text */
    assert_content(c, "<!DOCTYPE r SYSTEM \"file:///etc/passwd\"> &x; <?pi?>");
    assert_null(doc->intSubset);
    xmlFreeDoc(doc);
}

/* Each cap: a document exactly at the limit passes, one unit over is refused with the right error. */
static void test_exact_limits(void **state)
{
    (void)state;
    xmlsafe_limits lim;
    xmlsafe_limits_default(&lim);
    xmlDocPtr doc = NULL;
    char why[256];

    body b = mk_deep(64);
    xmlFreeDoc(parse_ok(b.p, b.len, NULL));
    free(b.p);
    b = mk_deep(65);
    assert_int_equal(xmlsafe_parse(b.p, b.len, NULL, &doc, why, sizeof(why)), MC_ERR_XML_LIMIT);
    free(b.p);

    lim.max_depth = 5;
    b = mk_deep(5);
    xmlFreeDoc(parse_ok(b.p, b.len, &lim));
    free(b.p);
    b = mk_deep(6);
    assert_int_equal(xmlsafe_parse(b.p, b.len, &lim, &doc, why, sizeof(why)), MC_ERR_XML_LIMIT);
    assert_non_null(strstr(why, "depth exceeds 5 at line 1"));
    free(b.p);

    /* max_depth above libxml2's own ceiling: libxml2's refusal is still a LIMIT, not MALFORMED */
    lim.max_depth = 1000;
    b = mk_deep(300);
    assert_int_equal(xmlsafe_parse(b.p, b.len, &lim, &doc, why, sizeof(why)), MC_ERR_XML_LIMIT);
    free(b.p);
    b = mk_deep(XMLSAFE_LIBXML2_DEPTH_CEILING);
    xmlFreeDoc(parse_ok(b.p, b.len, &lim));
    free(b.p);
    xmlsafe_limits_default(&lim);

    b = mk_many_attrs(32);
    xmlFreeDoc(parse_ok(b.p, b.len, NULL));
    free(b.p);
    b = mk_many_attrs(33);
    assert_int_equal(xmlsafe_parse(b.p, b.len, NULL, &doc, why, sizeof(why)), MC_ERR_XML_LIMIT);
    free(b.p);
    /* namespace declarations count as attributes */
    static const char ns33[] = "<r xmlns:a0='urn:0' a1='' a2='' a3='' a4='' a5='' a6='' a7='' a8='' a9='' a10='' "
                               "a11='' a12='' a13='' a14='' a15='' a16='' a17='' a18='' a19='' a20='' a21='' "
                               "a22='' a23='' a24='' a25='' a26='' a27='' a28='' a29='' a30='' a31='' a32=''/>";
    assert_int_equal(xmlsafe_parse(ns33, sizeof(ns33) - 1, NULL, &doc, why, sizeof(why)), MC_ERR_XML_LIMIT);

    b = mk_big_attr(4096);
    xmlFreeDoc(parse_ok(b.p, b.len, NULL));
    free(b.p);
    b = mk_big_attr(4097);
    assert_int_equal(xmlsafe_parse(b.p, b.len, NULL, &doc, why, sizeof(why)), MC_ERR_XML_LIMIT);
    free(b.p);

    b = mk_text(64 * 1024);
    xmlFreeDoc(parse_ok(b.p, b.len, NULL));
    free(b.p);
    b = mk_text(64 * 1024 + 1);
    assert_int_equal(xmlsafe_parse(b.p, b.len, NULL, &doc, why, sizeof(why)), MC_ERR_XML_LIMIT);
    free(b.p);

    b = mk_many_nodes(19999); /* + the root = 20000 */
    xmlFreeDoc(parse_ok(b.p, b.len, NULL));
    free(b.p);
    b = mk_many_nodes(20000);
    assert_int_equal(xmlsafe_parse(b.p, b.len, NULL, &doc, why, sizeof(why)), MC_ERR_XML_LIMIT);
    free(b.p);

    lim.max_bytes = 1000;
    b = mk_text(1000 - 7);
    xmlFreeDoc(parse_ok(b.p, b.len, &lim));
    free(b.p);
    b = mk_text(1000 - 6);
    assert_int_equal(xmlsafe_parse(b.p, b.len, &lim, &doc, why, sizeof(why)), MC_ERR_TOO_LARGE);
    free(b.p);
    assert_null(doc);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    char why[64];
    xmlDocPtr doc = NULL;
    assert_int_equal(xmlsafe_parse("<r/>", 4, NULL, NULL, why, sizeof(why)), MC_ERR_INTERNAL);
    assert_int_equal(xmlsafe_parse(NULL, 4, NULL, &doc, why, sizeof(why)), MC_ERR_INTERNAL);
    assert_int_equal(xmlsafe_parse(NULL, 0, NULL, &doc, NULL, 0), MC_ERR_XML_MALFORMED);
    /* a tiny why buffer is truncated, still terminated */
    char tiny[8];
    assert_int_equal(xmlsafe_parse("<!DOCTYPE r><r/>", 16, NULL, &doc, tiny, sizeof(tiny)), MC_ERR_XML_FORBIDDEN);
    assert_int_equal(strlen(tiny), 7);
    /* a reason quoting non-ASCII input truncated mid-character stays valid UTF-8 */
    char small[40];
    static const char viet[] = "<r>&Nguyễn_Thị_Ánh_Tuyết_Đà_Nẵng;</r>";
    assert_int_equal(xmlsafe_parse(viet, sizeof(viet) - 1, NULL, &doc, small, sizeof(small)), MC_ERR_XML_FORBIDDEN);
    assert_why_clean(small, sizeof(small));
}

/* Random mutations of a valid dossier: whatever comes back is consistent and sanitizer-clean. */
static void test_mutations(void **state)
{
    (void)state;
    static const char seed[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<h:HoSo xmlns:h=\"urn:h\" Id='a&amp;b'>"
                               "<HoTen>Nguyễn &#7879; &lt;x&gt;</HoTen><!-- c --><![CDATA[x]]><a b=\"1\"/></h:HoSo>";
    static const char pool[] = "<>&;\"'!?/=#[]-x \n\0\xC3\xA9\xE1\xBB\x87\xFF";
    unsigned r = 12345;
    char buf[sizeof(seed) + 8];
    int ok = 0;
    for (int it = 0; it < 20000; it++) {
        memcpy(buf, seed, sizeof(seed) - 1);
        size_t n = sizeof(seed) - 1;
        int muts = 1 + it % 3;
        for (int m = 0; m < muts; m++) {
            r = r * 1103515245u + 12345u;
            size_t pos = (r >> 8) % n;
            r = r * 1103515245u + 12345u;
            buf[pos] = pool[(r >> 8) % (sizeof(pool) - 1)];
        }
        if (it % 7 == 0)
            n = (r >> 4) % n;
        xmlDocPtr doc = NULL;
        char why[128];
        mc_err rc = xmlsafe_parse(buf, n, NULL, &doc, why, sizeof(why));
        assert_true(rc == MC_OK || rc == MC_ERR_XML_MALFORMED || rc == MC_ERR_XML_FORBIDDEN ||
                    rc == MC_ERR_XML_LIMIT);
        assert_true((rc == MC_OK) == (doc != NULL));
        assert_true(rc == MC_OK ? why[0] == '\0' : why[0] != '\0');
        ok += rc == MC_OK;
        xmlFreeDoc(doc);
    }
    assert_true(ok > 0); /* some mutations (inside text) must still be fine */
}

static void *thread_body(void *arg)
{
    long bad = 0;
    body deep = mk_deep(10000);
    body attrs = mk_many_attrs(1000);
    for (int i = 0; i < 300; i++) {
        xmlDocPtr doc = NULL;
        char why[128];
        static const char ok_s[] = "<r><a x='1'>Đà Nẵng &amp; Huế</a></r>";
        bad += xmlsafe_parse(ok_s, sizeof(ok_s) - 1, NULL, &doc, why, sizeof(why)) != MC_OK;
        xmlFreeDoc(doc);
        bad += xmlsafe_parse(deep.p, deep.len, NULL, &doc, why, sizeof(why)) != MC_ERR_XML_LIMIT;
        bad += xmlsafe_parse(attrs.p, attrs.len, NULL, &doc, why, sizeof(why)) != MC_ERR_XML_LIMIT;
        static const char dtd[] = "<!DOCTYPE r [<!ENTITY x 'y'>]><r>&x;</r>";
        bad += xmlsafe_parse(dtd, sizeof(dtd) - 1, NULL, &doc, why, sizeof(why)) != MC_ERR_XML_FORBIDDEN;
    }
    free(deep.p);
    free(attrs.p);
    *(long *)arg = bad;
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    pthread_t t[4];
    long bad[4] = {0};
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, thread_body, &bad[i]), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(bad[i], 0);
    }
}

int main(void)
{
    xmlInitParser();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_table),
        cmocka_unit_test(test_external_dtd_does_not_connect),
        cmocka_unit_test(test_vietnamese),
        cmocka_unit_test(test_predefined_and_char_refs),
        cmocka_unit_test(test_namespaces_cdata_comments),
        cmocka_unit_test(test_exact_limits),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_threads),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    xmlCleanupParser();
    return rc;
}
