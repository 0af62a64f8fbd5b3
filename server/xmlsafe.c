/* xmlsafe.c - hardened parsing of untrusted XML. A linear byte pre-scan refuses what libxml2 must never
 * see (DTDs, other encodings, bad UTF-8, attribute floods); then libxml2's push parser runs on a
 * private SAX table whose hooks count depth, elements, attributes and text and refuse entities. */
#include "xmlsafe.h"
#include "utf8.h"

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>

#define XINCLUDE_NS_2001 "http://www.w3.org/2001/XInclude"
#define XINCLUDE_NS_2003 "http://www.w3.org/2003/XInclude"

void xmlsafe_limits_default(xmlsafe_limits *lim)
{
    lim->max_bytes = 1024 * 1024;
    lim->max_depth = 64;
    lim->max_attr_len = 4096;
    lim->max_attrs = 32;
    lim->max_text_len = 64 * 1024;
    lim->max_nodes = 20000;
}

/* Make why printable valid UTF-8 in place (libxml2 messages quote names from the input, and
 * truncation can split a sequence): control bytes become spaces, invalid bytes become '?'. */
static void why_clean(char *s)
{
    size_t n = strlen(s), i = 0;
    while (i < n) {
        size_t ok = utf8_valid_prefix((const unsigned char *)s + i, n - i);
        for (size_t k = i; k < i + ok; k++)
            if ((unsigned char)s[k] < 0x20 || s[k] == 0x7f)
                s[k] = ' ';
        i += ok;
        if (i < n)
            s[i++] = '?';
    }
    while (n > 0 && s[n - 1] == ' ')
        s[--n] = '\0';
}

static void why_vset(char *why, size_t whycap, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void why_vset(char *why, size_t whycap, const char *fmt, va_list ap)
{
    if (why == NULL || whycap == 0)
        return;
    vsnprintf(why, whycap, fmt, ap);
    why_clean(why);
}

static void why_set(char *why, size_t whycap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void why_set(char *why, size_t whycap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    why_vset(why, whycap, fmt, ap);
    va_end(ap);
}

/* 1-based line of buf[off]; only computed when reporting an error. */
static unsigned long line_at(const char *buf, size_t off)
{
    unsigned long line = 1;
    for (const char *p = buf; (p = memchr(p, '\n', (size_t)(buf + off - p))) != NULL; p++)
        line++;
    return line;
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Bytes an entity name may contain (ASCII name characters, or any byte of a non-ASCII character). */
static bool is_name_byte(char c)
{
    unsigned char u = (unsigned char)c;
    return u >= 0x80 || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
           u == '.' || u == '-' || u == '_' || u == ':';
}

/* Every '&' in buf[from..to) must start a character reference or one of the five predefined entity
 * references. Refusing others here means libxml2 never looks an entity up. */
static mc_err scan_refs(const char *buf, size_t from, size_t to, char *why, size_t whycap)
{
    static const char *const predefined[] = {"lt", "gt", "amp", "apos", "quot"};
    size_t i = from;
    const char *amp;
    while (i < to && (amp = memchr(buf + i, '&', to - i)) != NULL) {
        size_t at = (size_t)(amp - buf), j = at + 1;
        if (j < to && buf[j] == '#') { /* character reference: libxml2 checks its digits */
            i = j + 1;
            continue;
        }
        while (j < to && is_name_byte(buf[j]))
            j++;
        size_t nlen = j - at - 1;
        if (nlen == 0 || j >= to || buf[j] != ';') {
            why_set(why, whycap, "'&' that starts no reference at line %lu", line_at(buf, at));
            return MC_ERR_XML_MALFORMED;
        }
        bool ok = false;
        for (size_t k = 0; k < sizeof(predefined) / sizeof(predefined[0]); k++)
            if (strlen(predefined[k]) == nlen && memcmp(predefined[k], buf + at + 1, nlen) == 0)
                ok = true;
        if (!ok) {
            why_set(why, whycap, "entity reference &%.*s; at line %lu (only the five predefined entities "
                    "and character references are allowed)", (int)(nlen > 40 ? 40 : nlen), buf + at + 1,
                    line_at(buf, at));
            return MC_ERR_XML_FORBIDDEN;
        }
        i = j + 1;
    }
    return MC_OK;
}

/* The XML declaration at buf[pos], if any: only UTF-8 may be declared. *after is where content starts. */
static mc_err scan_xml_decl(const char *buf, size_t len, size_t pos, size_t *after, char *why, size_t whycap)
{
    *after = pos;
    if (len - pos < 6 || memcmp(buf + pos, "<?xml", 5) != 0 || !is_ws(buf[pos + 5]))
        return MC_OK;
    const char *end = memmem(buf + pos + 5, len - pos - 5, "?>", 2);
    if (end == NULL) {
        why_set(why, whycap, "unterminated XML declaration");
        return MC_ERR_XML_MALFORMED;
    }
    *after = (size_t)(end - buf) + 2;
    /* Walk the pseudo-attributes; anything odd is left to libxml2, which rejects it. */
    const char *p = buf + pos + 5;
    for (;;) {
        while (p < end && is_ws(*p))
            p++;
        const char *name = p;
        while (p < end && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
            p++;
        size_t nlen = (size_t)(p - name);
        while (p < end && is_ws(*p))
            p++;
        if (nlen == 0 || p >= end || *p != '=')
            return MC_OK;
        p++;
        while (p < end && is_ws(*p))
            p++;
        if (p >= end || (*p != '"' && *p != '\''))
            return MC_OK;
        const char *val = p + 1, *q = memchr(val, *p, (size_t)(end - val));
        if (q == NULL)
            return MC_OK;
        size_t vlen = (size_t)(q - val);
        p = q + 1;
        if (nlen == 8 && memcmp(name, "encoding", 8) == 0 &&
            !((vlen == 5 && strncasecmp(val, "UTF-8", 5) == 0) || (vlen == 4 && strncasecmp(val, "UTF8", 4) == 0))) {
            why_set(why, whycap, "declared encoding \"%.*s\" is not UTF-8", (int)(vlen > 40 ? 40 : vlen), val);
            return MC_ERR_XML_MALFORMED;
        }
    }
}

/* The start tag opening at buf[*pos] ('<'): count quoted attribute values and measure them, respecting
 * quotes so that '>' inside a value does not end the tag. Linear, so that an element with 100k
 * attributes is refused before libxml2's quadratic duplicate-attribute check runs. */
static mc_err scan_start_tag(const char *buf, size_t len, size_t *pos, const xmlsafe_limits *lim,
                             char *why, size_t whycap)
{
    size_t start = *pos, j = start + 1;
    unsigned nattrs = 0;
    while (j < len) {
        char c = buf[j];
        if (c == '"' || c == '\'') {
            const char *q = memchr(buf + j + 1, c, len - j - 1);
            if (q == NULL) {
                why_set(why, whycap, "unterminated attribute value at line %lu", line_at(buf, j));
                return MC_ERR_XML_MALFORMED;
            }
            size_t vlen = (size_t)(q - buf) - j - 1;
            if (vlen > lim->max_attr_len) {
                why_set(why, whycap, "attribute value of %zu bytes exceeds %zu at line %lu", vlen,
                        lim->max_attr_len, line_at(buf, j));
                return MC_ERR_XML_LIMIT;
            }
            if (++nattrs > lim->max_attrs) {
                why_set(why, whycap, "more than %u attributes on one element at line %lu", lim->max_attrs,
                        line_at(buf, start));
                return MC_ERR_XML_LIMIT;
            }
            mc_err rc = scan_refs(buf, j + 1, (size_t)(q - buf), why, whycap);
            if (rc != MC_OK)
                return rc;
            j = (size_t)(q - buf) + 1;
        } else if (c == '>') {
            *pos = j + 1;
            return MC_OK;
        } else if (c == '<') { /* not well-formed; libxml2 reports it */
            *pos = j;
            return MC_OK;
        } else {
            j++;
        }
    }
    why_set(why, whycap, "truncated start tag at line %lu", line_at(buf, start));
    return MC_ERR_XML_MALFORMED;
}

/* Byte-level checks before libxml2 sees anything. Comments and CDATA sections are skipped as units,
 * so "<!DOCTYPE" inside them is character data; any other "<!" is a DTD construct and refused. */
static mc_err prescan(const char *buf, size_t len, const xmlsafe_limits *lim, char *why, size_t whycap)
{
    const unsigned char *u = (const unsigned char *)buf;
    if (len == 0) {
        why_set(why, whycap, "empty body");
        return MC_ERR_XML_MALFORMED;
    }
    if (len >= 2 && ((u[0] == 0xFE && u[1] == 0xFF) || (u[0] == 0xFF && u[1] == 0xFE))) {
        why_set(why, whycap, "UTF-16 byte order mark: only UTF-8 is accepted");
        return MC_ERR_XML_MALFORMED;
    }
    const char *nul = memchr(buf, '\0', len);
    if (nul != NULL) {
        why_set(why, whycap, "NUL byte at offset %zu (line %lu)", (size_t)(nul - buf),
                line_at(buf, (size_t)(nul - buf)));
        return MC_ERR_XML_MALFORMED;
    }
    size_t ok = utf8_valid_prefix(u, len);
    if (ok != len) {
        why_set(why, whycap, "invalid UTF-8 at offset %zu (line %lu)", ok, line_at(buf, ok));
        return MC_ERR_XML_MALFORMED;
    }
    size_t i = (len >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) ? 3 : 0;
    mc_err rc = scan_xml_decl(buf, len, i, &i, why, whycap);
    if (rc != MC_OK)
        return rc;

    bool saw_element = false;
    while (i < len) {
        const char *lt = memchr(buf + i, '<', len - i);
        size_t stop = lt ? (size_t)(lt - buf) : len;
        rc = scan_refs(buf, i, stop, why, whycap);
        if (rc != MC_OK)
            return rc;
        if (lt == NULL)
            break;
        i = stop;
        size_t rest = len - i;
        if (rest >= 4 && memcmp(buf + i, "<!--", 4) == 0) {
            const char *e = memmem(buf + i + 4, rest - 4, "-->", 3);
            if (e == NULL) {
                why_set(why, whycap, "unterminated comment at line %lu", line_at(buf, i));
                return MC_ERR_XML_MALFORMED;
            }
            i = (size_t)(e - buf) + 3;
        } else if (rest >= 9 && memcmp(buf + i, "<![CDATA[", 9) == 0) {
            const char *e = memmem(buf + i + 9, rest - 9, "]]>", 3);
            if (e == NULL) {
                why_set(why, whycap, "unterminated CDATA section at line %lu", line_at(buf, i));
                return MC_ERR_XML_MALFORMED;
            }
            i = (size_t)(e - buf) + 3;
        } else if (rest >= 2 && buf[i + 1] == '!') {
            size_t w = 0;
            while (w < 12 && i + 2 + w < len && buf[i + 2 + w] >= 'A' && buf[i + 2 + w] <= 'z')
                w++;
            why_set(why, whycap, "<!%.*s at line %lu: DOCTYPE, DTDs and entity declarations are refused",
                    (int)w, buf + i + 2, line_at(buf, i));
            return MC_ERR_XML_FORBIDDEN;
        } else if (rest >= 2 && buf[i + 1] == '?') {
            size_t w = 0;
            while (w < 40 && i + 2 + w < len && !is_ws(buf[i + 2 + w]) && buf[i + 2 + w] != '?' &&
                   buf[i + 2 + w] != '>')
                w++;
            if (w == 3 && strncasecmp(buf + i + 2, "xml", 3) == 0) {
                why_set(why, whycap, "XML declaration not at the start of the document (line %lu)",
                        line_at(buf, i));
                return MC_ERR_XML_MALFORMED;
            }
            why_set(why, whycap, "processing instruction <?%.*s at line %lu is refused", (int)w, buf + i + 2,
                    line_at(buf, i));
            return MC_ERR_XML_FORBIDDEN;
        } else if (rest >= 2 && buf[i + 1] == '/') {
            const char *gt = memchr(buf + i, '>', rest);
            if (gt == NULL) {
                why_set(why, whycap, "truncated end tag at line %lu", line_at(buf, i));
                return MC_ERR_XML_MALFORMED;
            }
            i = (size_t)(gt - buf) + 1;
        } else {
            saw_element = true;
            rc = scan_start_tag(buf, len, &i, lim, why, whycap);
            if (rc != MC_OK)
                return rc;
        }
    }
    if (!saw_element) {
        why_set(why, whycap, "no root element");
        return MC_ERR_XML_MALFORMED;
    }
    return MC_OK;
}

/* Per-parse state, reached from the SAX hooks through ctxt->_private. */
typedef struct {
    const xmlsafe_limits *lim;
    xmlParserCtxtPtr ctxt;
    mc_err err; /* first refusal; MC_OK while there is none */
    char *why;
    size_t whycap;
    unsigned depth;
    size_t nodes;
    size_t text_run; /* bytes in the text node being built */
    /* libxml2's own tree-building handlers, which the hooks call when all is well */
    startElementNsSAX2Func start_ns;
    endElementNsSAX2Func end_ns;
    charactersSAXFunc characters;
    commentSAXFunc comment;
} xs_state;

static xs_state *state_of(void *ctx) { return ((xmlParserCtxtPtr)ctx)->_private; }

static unsigned long ctxt_line(xmlParserCtxtPtr ctxt)
{
    return (ctxt->input != NULL && ctxt->input->line > 0) ? (unsigned long)ctxt->input->line : 0;
}

/* Record the first refusal and stop the parser (xmlStopParser is meant to be called from SAX hooks). */
static void refuse(xs_state *st, mc_err err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void refuse(xs_state *st, mc_err err, const char *fmt, ...)
{
    if (st->err == MC_OK) {
        va_list ap;
        st->err = err;
        va_start(ap, fmt);
        why_vset(st->why, st->whycap, fmt, ap);
        va_end(ap);
    }
    xmlStopParser(st->ctxt);
}

static void on_start_element(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *URI,
                             int nb_namespaces, const xmlChar **namespaces, int nb_attributes,
                             int nb_defaulted, const xmlChar **attributes)
{
    xs_state *st = state_of(ctx);
    const xmlsafe_limits *lim = st->lim;
    if (st->err != MC_OK)
        return;
    st->text_run = 0;
    if (++st->depth > lim->max_depth) {
        refuse(st, MC_ERR_XML_LIMIT, "element depth exceeds %u at line %lu", lim->max_depth,
               ctxt_line(st->ctxt));
        return;
    }
    if (++st->nodes > lim->max_nodes) {
        refuse(st, MC_ERR_XML_LIMIT, "more than %zu elements at line %lu", lim->max_nodes, ctxt_line(st->ctxt));
        return;
    }
    if (URI != NULL && (xmlStrEqual(URI, BAD_CAST XINCLUDE_NS_2001) || xmlStrEqual(URI, BAD_CAST XINCLUDE_NS_2003))) {
        refuse(st, MC_ERR_XML_FORBIDDEN, "XInclude element <%.40s> at line %lu is refused", (const char *)localname,
               ctxt_line(st->ctxt));
        return;
    }
    /* The pre-scan already counted these; checked again so the caps hold whatever the scan missed. */
    if (nb_namespaces < 0 || nb_attributes < 0 || (unsigned)nb_namespaces + (unsigned)nb_attributes > lim->max_attrs) {
        refuse(st, MC_ERR_XML_LIMIT, "more than %u attributes on one element at line %lu", lim->max_attrs,
               ctxt_line(st->ctxt));
        return;
    }
    for (int a = 0; a < nb_attributes; a++) {
        size_t vlen = (size_t)(attributes[a * 5 + 4] - attributes[a * 5 + 3]);
        if (vlen > lim->max_attr_len) {
            refuse(st, MC_ERR_XML_LIMIT, "attribute value of %zu bytes exceeds %zu at line %lu", vlen,
                   lim->max_attr_len, ctxt_line(st->ctxt));
            return;
        }
    }
    st->start_ns(ctx, localname, prefix, URI, nb_namespaces, namespaces, nb_attributes, nb_defaulted, attributes);
}

static void on_end_element(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *URI)
{
    xs_state *st = state_of(ctx);
    if (st->err != MC_OK)
        return;
    if (st->depth > 0)
        st->depth--;
    st->text_run = 0;
    st->end_ns(ctx, localname, prefix, URI);
}

/* libxml2 hands one text node over in several calls (chunks, each &amp;, CDATA merged by NOCDATA). */
static void on_characters(void *ctx, const xmlChar *ch, int len)
{
    xs_state *st = state_of(ctx);
    if (st->err != MC_OK || len < 0)
        return;
    st->text_run += (size_t)len;
    if (st->text_run > st->lim->max_text_len) {
        refuse(st, MC_ERR_XML_LIMIT, "text node longer than %zu bytes at line %lu", st->lim->max_text_len,
               ctxt_line(st->ctxt));
        return;
    }
    st->characters(ctx, ch, len);
}

static void on_comment(void *ctx, const xmlChar *value)
{
    xs_state *st = state_of(ctx);
    if (st->err != MC_OK)
        return;
    if (strlen((const char *)value) > st->lim->max_text_len) {
        refuse(st, MC_ERR_XML_LIMIT, "comment longer than %zu bytes at line %lu", st->lim->max_text_len,
               ctxt_line(st->ctxt));
        return;
    }
    st->text_run = 0;
    st->comment(ctx, value);
}

/* The hooks below are the second line behind the pre-scan: any DTD, entity or PI that reaches libxml2
 * is refused here rather than acted on. */
static void on_processing_instruction(void *ctx, const xmlChar *target, const xmlChar *data)
{
    (void)data;
    xs_state *st = state_of(ctx);
    refuse(st, MC_ERR_XML_FORBIDDEN, "processing instruction <?%.40s at line %lu is refused", (const char *)target,
           ctxt_line(st->ctxt));
}

static xmlEntityPtr on_get_entity(void *ctx, const xmlChar *name)
{
    xs_state *st = state_of(ctx);
    refuse(st, MC_ERR_XML_FORBIDDEN, "entity reference &%.40s; at line %lu is refused", (const char *)name,
           ctxt_line(st->ctxt));
    return NULL;
}

static void on_reference(void *ctx, const xmlChar *name)
{
    (void)on_get_entity(ctx, name);
}

static xmlParserInputPtr on_resolve_entity(void *ctx, const xmlChar *public_id, const xmlChar *system_id)
{
    (void)public_id;
    xs_state *st = state_of(ctx);
    refuse(st, MC_ERR_XML_FORBIDDEN, "external resource \"%.60s\" is refused",
           system_id ? (const char *)system_id : "");
    return NULL;
}

static void refuse_dtd(void *ctx, const char *what)
{
    xs_state *st = state_of(ctx);
    refuse(st, MC_ERR_XML_FORBIDDEN, "%s at line %lu: DOCTYPE, DTDs and entity declarations are refused", what,
           ctxt_line(st->ctxt));
}

static void on_subset(void *ctx, const xmlChar *name, const xmlChar *external_id, const xmlChar *system_id)
{
    (void)name, (void)external_id, (void)system_id;
    refuse_dtd(ctx, "DOCTYPE");
}

static void on_entity_decl(void *ctx, const xmlChar *name, int type, const xmlChar *public_id,
                           const xmlChar *system_id, xmlChar *content)
{
    (void)name, (void)type, (void)public_id, (void)system_id, (void)content;
    refuse_dtd(ctx, "entity declaration");
}

static void on_unparsed_entity_decl(void *ctx, const xmlChar *name, const xmlChar *public_id,
                                    const xmlChar *system_id, const xmlChar *notation)
{
    (void)name, (void)public_id, (void)system_id, (void)notation;
    refuse_dtd(ctx, "entity declaration");
}

static void on_notation_decl(void *ctx, const xmlChar *name, const xmlChar *public_id, const xmlChar *system_id)
{
    (void)name, (void)public_id, (void)system_id;
    refuse_dtd(ctx, "notation declaration");
}

static void on_attribute_decl(void *ctx, const xmlChar *elem, const xmlChar *fullname, int type, int def,
                              const xmlChar *default_value, xmlEnumerationPtr tree)
{
    (void)elem, (void)fullname, (void)type, (void)def, (void)default_value;
    xmlFreeEnumeration(tree); /* the handler owns it (as xmlSAX2AttributeDecl does) */
    refuse_dtd(ctx, "attribute-list declaration");
}

static void on_element_decl(void *ctx, const xmlChar *name, int type, xmlElementContentPtr content)
{
    (void)name, (void)type, (void)content;
    refuse_dtd(ctx, "element declaration");
}

/* libxml2 errors arrive here instead of stderr. Only the first is kept; marking SAX disabled makes
 * the push parser stop at its next step, so a malformed body cannot produce an error storm. */
static void on_error(void *ctx, xmlErrorPtr e)
{
    xmlParserCtxtPtr ctxt = ctx;
    xs_state *st = ctxt->_private;
    if (e == NULL || e->level < XML_ERR_ERROR)
        return;
    ctxt->disableSAX = 1;
    if (st->err != MC_OK)
        return;
    char msg[160];
    snprintf(msg, sizeof(msg), "%s", e->message ? e->message : "parse error");
    if (e->code == XML_ERR_NO_MEMORY) {
        st->err = MC_ERR_NOMEM;
        why_set(st->why, st->whycap, "out of memory while parsing");
    } else if (e->code == XML_ERR_INTERNAL_ERROR && strstr(msg, "Excessive depth") != NULL) {
        st->err = MC_ERR_XML_LIMIT; /* libxml2's own nesting limit, below a configured max_depth */
        why_set(st->why, st->whycap, "element depth exceeds %u at line %d", XMLSAFE_LIBXML2_DEPTH_CEILING, e->line);
    } else if (e->code == XML_ERR_DOCUMENT_END && st->depth > 0) {
        /* the push parser names a premature end "Extra content at the end of the document" */
        st->err = MC_ERR_XML_MALFORMED;
        why_set(st->why, st->whycap, "truncated: document ends with %u element(s) still open", st->depth);
    } else if (e->domain == XML_FROM_IO) {
        st->err = MC_ERR_XML_FORBIDDEN; /* unreachable unless something tried to load a resource */
        why_set(st->why, st->whycap, "external resource load refused: %s", msg);
    } else {
        st->err = MC_ERR_XML_MALFORMED;
        why_set(st->why, st->whycap, "not well-formed at line %d: %s", e->line, msg);
    }
}

mc_err xmlsafe_parse(const char *buf, size_t len, const xmlsafe_limits *lim, xmlDocPtr *out,
                     char *why, size_t whycap)
{
    xmlsafe_limits defaults;
    xs_state st;
    xmlParserCtxtPtr ctxt = NULL;
    xmlDocPtr doc = NULL;
    mc_err rc;

    if (why != NULL && whycap > 0)
        why[0] = '\0';
    if (out == NULL || (buf == NULL && len > 0)) {
        why_set(why, whycap, "xmlsafe_parse: bad arguments");
        return MC_ERR_INTERNAL;
    }
    *out = NULL;
    if (lim == NULL) {
        xmlsafe_limits_default(&defaults);
        lim = &defaults;
    }
    if (len > lim->max_bytes || len > INT_MAX) {
        why_set(why, whycap, "document of %zu bytes exceeds %zu", len, lim->max_bytes);
        return MC_ERR_TOO_LARGE;
    }
    rc = prescan(buf, len, lim, why, whycap);
    if (rc != MC_OK)
        return rc;

    ctxt = xmlCreatePushParserCtxt(NULL, NULL, NULL, 0, NULL);
    if (ctxt == NULL) {
        why_set(why, whycap, "out of memory creating the parser");
        return MC_ERR_NOMEM;
    }
    /* Never NOENT, DTDLOAD, DTDATTR, DTDVALID, XINCLUDE or HUGE. */
    xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    /* New contexts inherit process-wide defaults that other code may have changed (xmlsec's samples
     * turn entity substitution and DTD loading on): pin this context's own settings. */
    ctxt->replaceEntities = 0;
    ctxt->loadsubset = 0;
    ctxt->validate = 0;
    ctxt->pedantic = 0;
    ctxt->keepBlanks = 1;
    ctxt->linenumbers = 1;

    memset(&st, 0, sizeof(st));
    st.lim = lim;
    st.ctxt = ctxt;
    st.why = why;
    st.whycap = whycap;
    ctxt->_private = &st;

    /* ctxt->sax is this context's own copy of the SAX2 table, so editing it changes no global. */
    xmlSAXHandler *sax = ctxt->sax;
    st.start_ns = sax->startElementNs;
    st.end_ns = sax->endElementNs;
    st.characters = sax->characters;
    st.comment = sax->comment;
    if (st.start_ns == NULL || st.end_ns == NULL || st.characters == NULL || st.comment == NULL) {
        why_set(why, whycap, "libxml2 SAX2 handlers missing");
        rc = MC_ERR_INTERNAL;
        goto done;
    }
    sax->startElementNs = on_start_element;
    sax->endElementNs = on_end_element;
    sax->characters = on_characters;
    sax->ignorableWhitespace = on_characters;
    sax->cdataBlock = NULL; /* NOCDATA: CDATA arrives through characters and is capped there */
    sax->comment = on_comment;
    sax->processingInstruction = on_processing_instruction;
    sax->getEntity = on_get_entity;
    sax->getParameterEntity = on_get_entity;
    sax->reference = on_reference;
    sax->resolveEntity = on_resolve_entity;
    sax->internalSubset = on_subset;
    sax->externalSubset = on_subset;
    sax->entityDecl = on_entity_decl;
    sax->unparsedEntityDecl = on_unparsed_entity_decl;
    sax->notationDecl = on_notation_decl;
    sax->attributeDecl = on_attribute_decl;
    sax->elementDecl = on_element_decl;
    sax->serror = on_error;
    sax->error = NULL;
    sax->warning = NULL;

    /* One chunk with terminate=1: the push parser's look-ahead searches are skipped and it stops at
     * the first fatal error. */
    (void)xmlParseChunk(ctxt, buf, (int)len, 1);
    doc = ctxt->myDoc;
    ctxt->myDoc = NULL;

    if (st.err != MC_OK) {
        rc = st.err;
        goto done;
    }
    if (!ctxt->wellFormed || !ctxt->nsWellFormed) {
        why_set(why, whycap, "not well-formed");
        rc = MC_ERR_XML_MALFORMED;
        goto done;
    }
    if (doc == NULL || xmlDocGetRootElement(doc) == NULL) {
        why_set(why, whycap, "no root element");
        rc = MC_ERR_XML_MALFORMED;
        goto done;
    }
    *out = doc;
    doc = NULL;
    rc = MC_OK;
done:
    xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
    return rc;
}
