/* xverify.c - strict verification of signed result documents (see xverify.h).
 * Hardened parse, then a structural pin of the exact shape sign.c writes, the certificate chain
 * checked with OpenSSL at the signing time, CRL and callback revocation, and only then xmlsec. */
#include "xverify.h"

#include <ctype.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/valid.h>
#include <libxml/xmlschemas.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/base64.h>
#include <xmlsec/transforms.h>
#include <xmlsec/crypto.h>
#include <xmlsec/openssl/evp.h>

#include "sign.h"
#include "utf8.h"
#include "xmlsafe.h"

#define DSIG_NS "http://www.w3.org/2000/09/xmldsig#"
#define ALG_EXC_C14N "http://www.w3.org/2001/10/xml-exc-c14n#"
#define ALG_ENVELOPED "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
#define ALG_RSA_SHA256 "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
#define ALG_ECDSA_SHA256 "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
#define ALG_SHA256 "http://www.w3.org/2001/04/xmlenc#sha256"
#define MAX_CERT_DER 16384
#define CERT_CACHE 32

/* Decoding a certificate and building its chain cost ~0.2 ms in OpenSSL 3, more than the rest of a
 * verification: remember each signer certificate we have seen, and the time window in which its
 * chain verified. Revocation and key usage are still checked on every call. */
typedef struct cert_entry {
    unsigned char der_sha256[32];
    X509 *x;                      /* NULL: empty slot */
    bool chain_ok;
    time_t ok_from, ok_until;     /* chain verified for signing times in [ok_from, ok_until] */
} cert_entry;

struct xverify_trust {
    X509_STORE *store;
    STACK_OF(X509_CRL) *crls;     /* only CRLs whose signature a trust anchor verified */
    xmlSchemaPtr schema;          /* NULL: no XSD check */
    xverify_revoked_fn revoked;
    void *revoked_arg;
    int skew;
    unsigned char fingerprint[32]; /* anchors, CRL entries and XSD as loaded (xverify_trust_fingerprint) */
    bool fingerprint_ok;
    pthread_mutex_t lock;         /* guards cache and next (the only mutable part) */
    cert_entry cache[CERT_CACHE];
    unsigned next;
};

static const char *const g_slugs[XVERIFY__COUNT] = {
    [XVERIFY_OK] = "ok",
    [XVERIFY_MALFORMED] = "malformed",
    [XVERIFY_DTD_FORBIDDEN] = "dtd-forbidden",
    [XVERIFY_COMMENT_FORBIDDEN] = "comment-forbidden",
    [XVERIFY_NO_SIGNATURE] = "no-signature",
    [XVERIFY_MULTIPLE_SIGNATURES] = "multiple-signatures",
    [XVERIFY_WRAPPING_SUSPECTED] = "wrapping-suspected",
    [XVERIFY_DUPLICATE_ID] = "duplicate-id",
    [XVERIFY_ALGORITHM_NOT_ALLOWED] = "algorithm-not-allowed",
    [XVERIFY_REFERENCE_NOT_PINNED] = "reference-not-pinned",
    [XVERIFY_TRANSFORM_NOT_ALLOWED] = "transform-not-allowed",
    [XVERIFY_KEYINFO_FORBIDDEN] = "keyinfo-forbidden",
    [XVERIFY_UNTRUSTED_CERT] = "untrusted-certificate",
    [XVERIFY_CERT_EXPIRED] = "certificate-expired",
    [XVERIFY_CERT_NOT_YET_VALID] = "certificate-not-yet-valid",
    [XVERIFY_CERT_REVOKED] = "certificate-revoked",
    [XVERIFY_KEY_USAGE] = "key-usage",
    [XVERIFY_SIGNING_TIME] = "signing-time-invalid",
    [XVERIFY_DIGEST_MISMATCH] = "digest-mismatch",
    [XVERIFY_SIGNATURE_INVALID] = "signature-invalid",
    [XVERIFY_SCHEMA_INVALID] = "schema-invalid",
};

const char *xverify_reason_slug(xverify_reason r)
{
    if ((int)r < 0 || r >= XVERIFY__COUNT || g_slugs[r] == NULL)
        return "unknown";
    return g_slugs[r];
}

/* ---- trust ---------------------------------------------------------------------------------- */

static void quiet_schema_error(void *arg, xmlErrorPtr e)
{
    char *why = arg;
    if (why != NULL && why[0] == '\0' && e != NULL && e->message != NULL) {
        snprintf(why, 200, "%s", e->message);
        why[strcspn(why, "\n")] = '\0';
    }
}

static mc_err load_crls(xverify_trust *t, const char *path, char *why, size_t whycap)
{
    BIO *bio = BIO_new_file(path, "r");
    X509_CRL *crl = NULL;
    X509_STORE_CTX *sctx = NULL;
    mc_err err = MC_ERR_CONFIG;
    int n = 0;

    if (bio == NULL) {
        mc_why_detail(why, whycap, "cannot open CRL file", path);
        return MC_ERR_CONFIG;
    }
    t->crls = sk_X509_CRL_new_null();
    sctx = X509_STORE_CTX_new();
    if (t->crls == NULL || sctx == NULL || X509_STORE_CTX_init(sctx, t->store, NULL, NULL) != 1) {
        err = MC_ERR_NOMEM;
        goto out;
    }
    while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL) {
        X509_OBJECT *obj = X509_STORE_CTX_get_obj_by_subject(sctx, X509_LU_X509,
                                                             X509_CRL_get_issuer(crl));
        X509 *issuer = obj ? X509_OBJECT_get0_X509(obj) : NULL;
        EVP_PKEY *ipk = issuer ? X509_get0_pubkey(issuer) : NULL;
        int ok = ipk != NULL && X509_CRL_verify(crl, ipk) == 1;
        X509_OBJECT_free(obj);
        if (!ok) {
            X509_CRL_free(crl);
            mc_why_detail(why, whycap, "CRL not signed by a configured trust anchor", path);
            goto out;
        }
        if (sk_X509_CRL_push(t->crls, crl) <= 0) {
            X509_CRL_free(crl);
            err = MC_ERR_NOMEM;
            goto out;
        }
        n++;
    }
    ERR_clear_error();
    if (n == 0) {
        mc_why_detail(why, whycap, "no PEM CRL in file", path);
        goto out;
    }
    err = MC_OK;
out:
    X509_STORE_CTX_free(sctx);
    BIO_free(bio);
    return err;
}

/* Feed the bytes of the file at path into d; false if it cannot be read. */
static bool digest_file(EVP_MD_CTX *d, const char *path)
{
    char buf[8192];
    size_t n;
    bool ok = true;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return false;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        ok = ok && EVP_DigestUpdate(d, buf, n) == 1;
    ok = ok && !ferror(f);
    fclose(f);
    return ok;
}

/* What the verdicts depend on: the anchors' bytes, each CRL's issuer and revoked entries (serial and
 * date: a CRL re-published with the same entries keeps the fingerprint) and the XSD's bytes. */
static bool fingerprint(xverify_trust *t, const char *ca_pem_path, const char *xsd_path)
{
    EVP_MD_CTX *d = EVP_MD_CTX_new();
    unsigned int n = 32;
    bool ok = d != NULL && EVP_DigestInit_ex(d, EVP_sha256(), NULL) == 1 && digest_file(d, ca_pem_path);
    for (int i = 0; ok && t->crls != NULL && i < sk_X509_CRL_num(t->crls); i++) {
        X509_CRL *crl = sk_X509_CRL_value(t->crls, i);
        STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED(crl);
        unsigned char *der = NULL;
        int len = i2d_X509_NAME(X509_CRL_get_issuer(crl), &der);
        ok = len > 0 && EVP_DigestUpdate(d, der, (size_t)len) == 1;
        OPENSSL_free(der);
        for (int k = 0; ok && k < sk_X509_REVOKED_num(rev); k++) {
            X509_REVOKED *r = sk_X509_REVOKED_value(rev, k);
            const ASN1_TIME *when = X509_REVOKED_get0_revocationDate(r);
            der = NULL;
            len = i2d_ASN1_INTEGER(X509_REVOKED_get0_serialNumber(r), &der);
            ok = len > 0 && EVP_DigestUpdate(d, der, (size_t)len) == 1 &&
                 EVP_DigestUpdate(d, ASN1_STRING_get0_data(when), (size_t)ASN1_STRING_length(when)) == 1;
            OPENSSL_free(der);
        }
    }
    ok = ok && (xsd_path == NULL || digest_file(d, xsd_path)) && EVP_DigestFinal_ex(d, t->fingerprint, &n) == 1;
    EVP_MD_CTX_free(d);
    return ok;
}

mc_err xverify_trust_new(const char *ca_pem_path, const char *crl_path, const char *xsd_path,
                         xverify_trust **out, char *why, size_t whycap)
{
    xverify_trust *t = NULL;
    xmlSchemaParserCtxtPtr pctx = NULL;
    mc_err err = MC_ERR_CONFIG;

    if (ca_pem_path == NULL || out == NULL)
        return MC_ERR_INTERNAL;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return MC_ERR_NOMEM;
    t->skew = 300;
    pthread_mutex_init(&t->lock, NULL);
    t->store = X509_STORE_new();
    if (t->store == NULL) {
        err = MC_ERR_NOMEM;
        goto fail;
    }
    if (X509_STORE_load_file(t->store, ca_pem_path) != 1) {
        mc_why_detail(why, whycap, "cannot load CA bundle", ca_pem_path);
        goto fail;
    }
    if (crl_path != NULL && (err = load_crls(t, crl_path, why, whycap)) != MC_OK)
        goto fail;
    if (xsd_path != NULL) {
        char msg[200] = "";
        pctx = xmlSchemaNewParserCtxt(xsd_path);
        if (pctx == NULL) {
            err = MC_ERR_NOMEM;
            goto fail;
        }
        xmlSchemaSetParserStructuredErrors(pctx, quiet_schema_error, msg);
        t->schema = xmlSchemaParse(pctx);
        if (t->schema == NULL) {
            mc_why_detail(why, whycap, "cannot compile result XSD", msg[0] ? msg : xsd_path);
            err = MC_ERR_CONFIG;
            goto fail;
        }
    }
    xmlSchemaFreeParserCtxt(pctx);
    t->fingerprint_ok = fingerprint(t, ca_pem_path, xsd_path);
    ERR_clear_error();
    *out = t;
    return MC_OK;
fail:
    xmlSchemaFreeParserCtxt(pctx);
    xverify_trust_free(t);
    return err;
}

void xverify_trust_set_revoked_cb(xverify_trust *trust, xverify_revoked_fn fn, void *arg)
{
    trust->revoked = fn;
    trust->revoked_arg = arg;
}

bool xverify_trust_fingerprint(const xverify_trust *trust, unsigned char out[32])
{
    unsigned char in[32 + 4]; /* the loaded trust's fingerprint, then the skew (little-endian) */
    unsigned int n = 32;
    uint32_t v = (uint32_t)trust->skew;
    if (!trust->fingerprint_ok || trust->revoked != NULL)
        return false; /* a revocation callback answers differently over time */
    memcpy(in, trust->fingerprint, 32);
    for (int i = 0; i < 4; i++)
        in[32 + i] = (unsigned char)(v >> (8 * i));
    return EVP_Digest(in, sizeof(in), out, &n, EVP_sha256(), NULL) == 1;
}

void xverify_trust_set_skew(xverify_trust *trust, int seconds)
{
    trust->skew = seconds < 0 ? 0 : seconds;
}

void xverify_trust_free(xverify_trust *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < CERT_CACHE; i++)
        X509_free(t->cache[i].x);
    pthread_mutex_destroy(&t->lock);
    X509_STORE_free(t->store);
    sk_X509_CRL_pop_free(t->crls, X509_CRL_free);
    if (t->schema != NULL)
        xmlSchemaFree(t->schema);
    free(t);
}

/* ---- helpers -------------------------------------------------------------------------------- */

/* One verification in flight: what the steps share. */
typedef struct vstate {
    const xverify_trust *trust;
    xverify_report *rep;
    xmlDocPtr doc;
    xmlNodePtr root;
    xmlAttrPtr id_attr;
    const char *id;               /* points into rep->root_id */
    xmlNodePtr sig;
    xmlNodePtr signing_time;
    const char *sig_alg;          /* SignatureMethod Algorithm, pinned */
    X509 *leaf;
    unsigned char der_sha256[32];
    cert_entry cached;            /* copy of the cache entry (x borrowed), chain_ok false if none */
} vstate;

static X509 *cert_from_der(vstate *v, const unsigned char *der, size_t len);

static xverify_reason refuse(vstate *v, xverify_reason r, const char *msg, const char *detail)
{
    v->rep->reason = r;
    v->rep->slug = xverify_reason_slug(r);
    mc_why_detail(v->rep->why, sizeof(v->rep->why), msg, detail);
    return r;
}

static bool is_el(xmlNodePtr n, const char *ns, const char *name)
{
    return n != NULL && n->type == XML_ELEMENT_NODE && n->ns != NULL &&
           xmlStrEqual(n->ns->href, BAD_CAST ns) && xmlStrEqual(n->name, BAD_CAST name);
}

static bool is_blank_text(xmlNodePtr n)
{
    if (n->type != XML_TEXT_NODE)
        return false;
    for (const xmlChar *p = n->content; p && *p; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            return false;
    return true;
}

/* Next element sibling starting at n (inclusive); *junk set if non-blank non-element content. */
static xmlNodePtr next_el(xmlNodePtr n, bool *junk)
{
    for (; n != NULL; n = n->next) {
        if (n->type == XML_ELEMENT_NODE)
            return n;
        if (!is_blank_text(n))
            *junk = true;
    }
    return NULL;
}

static bool has_element_child(xmlNodePtr n)
{
    for (xmlNodePtr c = n->children; c != NULL; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            return true;
    return false;
}

static bool attr_is(xmlNodePtr n, const char *name, const char *value)
{
    xmlChar *v = xmlGetNoNsProp(n, BAD_CAST name);
    bool eq = v != NULL && xmlStrEqual(v, BAD_CAST value);
    xmlFree(v);
    return eq;
}

static size_t attr_count(xmlNodePtr n)
{
    size_t k = 0;
    for (xmlAttrPtr a = n->properties; a != NULL; a = a->next)
        k++;
    return k;
}

/* Text of a leaf element (text children only) into buf; false if it has element children or is
 * too long. */
static bool copy_leaf(xmlNodePtr n, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (xmlNodePtr c = n->children; c != NULL; c = c->next) {
        if (c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE)
            return false;
        size_t len = c->content ? strlen((const char *)c->content) : 0;
        if (used + len >= cap)
            return false;
        if (len == 0) /* content may be NULL, which memcpy must not get even for 0 bytes */
            continue;
        memcpy(buf + used, c->content, len);
        used += len;
        buf[used] = '\0';
    }
    return true;
}

static bool parse_datetime(const char *s, time_t *out)
{
    struct tm tm;
    int y, mo, d, h, mi, se, oh = 0, om = 0, n = 0;
    char sign = 'Z';

    memset(&tm, 0, sizeof(tm));
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se, &n) != 6 || n != 19)
        return false;
    const char *z = s + 19;
    if (strcmp(z, "Z") == 0) {
        sign = 'Z';
    } else if ((z[0] == '+' || z[0] == '-') && strlen(z) == 6 && isdigit((unsigned char)z[1]) &&
               isdigit((unsigned char)z[2]) && z[3] == ':' && isdigit((unsigned char)z[4]) &&
               isdigit((unsigned char)z[5])) {
        sign = z[0];
        oh = (z[1] - '0') * 10 + (z[2] - '0');
        om = (z[4] - '0') * 10 + (z[5] - '0');
    } else {
        return false;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60 || oh > 14 || om > 59)
        return false;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    time_t t = timegm(&tm);
    int off = (oh * 3600 + om * 60) * (sign == '-' ? -1 : 1);
    *out = t - (sign == 'Z' ? 0 : off);
    return true;
}

/* ---- step 1: bytes and parse ---------------------------------------------------------------- */

static bool find_bytes(const char *hay, size_t len, const char *needle)
{
    return memmem(hay, len, needle, strlen(needle)) != NULL;
}

/* The project's hardened parse (server/xmlsafe.h): no DTD, no entities, no network, no PIs, UTF-8
 * only, caps on depth/attributes/text/nodes. Its codes map onto our reasons. */
static xverify_reason parse_doc(vstate *v, const char *xml, size_t len)
{
    xmlsafe_limits lim;
    char msg[200] = "";

    xmlsafe_limits_default(&lim);
    lim.max_bytes = XVERIFY_MAX_BYTES;
    lim.max_depth = XVERIFY_MAX_DEPTH;
    lim.max_attrs = 8;
    lim.max_text_len = 64 * 1024;
    lim.max_nodes = 1000;
    mc_err e = xmlsafe_parse(xml, len, &lim, &v->doc, msg, sizeof(msg));
    switch (e) {
    case MC_OK:
        break;
    case MC_ERR_XML_FORBIDDEN:
        return refuse(v, XVERIFY_DTD_FORBIDDEN, "forbidden XML construct", msg);
    case MC_ERR_TOO_LARGE:
    case MC_ERR_XML_LIMIT:
        return refuse(v, XVERIFY_MALFORMED, "document exceeds a size limit", msg);
    default:
        return refuse(v, XVERIFY_MALFORMED, "not well-formed XML", msg);
    }
    if (v->doc->intSubset != NULL || v->doc->extSubset != NULL)
        return refuse(v, XVERIFY_DTD_FORBIDDEN, "a DTD is not allowed in a result", NULL);
    return XVERIFY_OK;
}

/* ---- step 2: whole-tree scan ---------------------------------------------------------------- */

static bool id_like(const xmlChar *name)
{
    return xmlStrcasecmp(name, BAD_CAST "id") == 0;
}

/* Depth cap, comments/PIs/entity refs, count of ds:Signature, and every other Id-like attribute. */
static xverify_reason scan_tree(vstate *v)
{
    size_t sigs = 0;
    xmlNodePtr n = v->root, first_sig = NULL;
    int depth = 0;

    while (n != NULL) {
        if (n->type == XML_COMMENT_NODE || n->type == XML_PI_NODE)
            return refuse(v, XVERIFY_COMMENT_FORBIDDEN,
                          "comments and processing instructions are not allowed in a result", NULL);
        if (n->type == XML_ENTITY_REF_NODE || n->type == XML_XINCLUDE_START)
            return refuse(v, XVERIFY_DTD_FORBIDDEN, "entity references are not allowed", NULL);
        if (n->type == XML_ELEMENT_NODE) {
            if (depth > XVERIFY_MAX_DEPTH)
                return refuse(v, XVERIFY_MALFORMED, "element nesting too deep", NULL);
            if (is_el(n, DSIG_NS, "Signature") && sigs++ == 0)
                first_sig = n;
            for (xmlAttrPtr a = n->properties; a != NULL; a = a->next) {
                if (n == v->root && a == v->id_attr)
                    continue;
                if (!id_like(a->name))
                    continue;
                xmlChar *val = xmlNodeGetContent((xmlNodePtr)a);
                bool same = val != NULL && xmlStrEqual(val, BAD_CAST v->id);
                xmlFree(val);
                if (same)
                    return refuse(v, XVERIFY_DUPLICATE_ID,
                                  "the signed Id appears on more than one element", v->id);
            }
            if (n->children != NULL) {
                n = n->children;
                depth++;
                continue;
            }
        }
        while (n != NULL && n->next == NULL && n != v->root) {
            n = n->parent;
            depth--;
        }
        if (n == NULL || n == v->root)
            break;
        n = n->next;
    }
    /* Comments/PIs outside the root (prolog/epilog) are refused too: one rule, no exceptions. */
    for (xmlNodePtr c = v->doc->children; c != NULL; c = c->next)
        if (c->type == XML_COMMENT_NODE || c->type == XML_PI_NODE)
            return refuse(v, XVERIFY_COMMENT_FORBIDDEN,
                          "comments and processing instructions are not allowed in a result", NULL);
    if (sigs == 0)
        return refuse(v, XVERIFY_NO_SIGNATURE, "the document carries no ds:Signature", NULL);
    if (sigs > 1)
        return refuse(v, XVERIFY_MULTIPLE_SIGNATURES, "exactly one ds:Signature is allowed", NULL);
    if (first_sig->parent != v->root)
        return refuse(v, XVERIFY_WRAPPING_SUSPECTED,
                      "the ds:Signature is not a direct child of the root element", NULL);
    v->sig = first_sig;
    return XVERIFY_OK;
}

/* ---- step 3: the signature's shape ---------------------------------------------------------- */

/* Does some element other than the root carry Id-like attribute == id? */
static bool id_elsewhere(xmlNodePtr n, xmlNodePtr root, const char *id)
{
    for (; n != NULL; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (n != root) {
            for (xmlAttrPtr a = n->properties; a != NULL; a = a->next) {
                if (!id_like(a->name))
                    continue;
                xmlChar *val = xmlNodeGetContent((xmlNodePtr)a);
                bool same = val != NULL && xmlStrEqual(val, BAD_CAST id);
                xmlFree(val);
                if (same)
                    return true;
            }
        }
        if (id_elsewhere(n->children, root, id))
            return true;
    }
    return false;
}

static xverify_reason check_reference(vstate *v, xmlNodePtr ref)
{
    bool junk = false;
    xmlChar *uri = xmlGetNoNsProp(ref, BAD_CAST "URI");
    char want[XVERIFY_NAME_CAP + 2];
    xverify_reason r = XVERIFY_OK;

    snprintf(want, sizeof(want), "#%s", v->id);
    if (uri == NULL || !xmlStrEqual(uri, BAD_CAST want)) {
        if (uri != NULL && uri[0] == '#' && uri[1] != '\0' &&
            id_elsewhere(v->doc->children, v->root, (const char *)uri + 1))
            r = refuse(v, XVERIFY_WRAPPING_SUSPECTED,
                       "the Reference points at an element that is not the root",
                       (const char *)uri);
        else
            r = refuse(v, XVERIFY_REFERENCE_NOT_PINNED, "the Reference URI must be \"#<root Id>\"",
                       uri ? (const char *)uri : "(absent)");
        xmlFree(uri);
        return r;
    }
    xmlFree(uri);
    if (attr_count(ref) != 1)
        return refuse(v, XVERIFY_REFERENCE_NOT_PINNED, "the Reference may carry only URI", NULL);

    xmlNodePtr tr = next_el(ref->children, &junk);
    if (!is_el(tr, DSIG_NS, "Transforms"))
        return refuse(v, XVERIFY_TRANSFORM_NOT_ALLOWED,
                      "the Reference must list enveloped-signature then exc-c14n", NULL);
    xmlNodePtr t1 = next_el(tr->children, &junk);
    xmlNodePtr t2 = t1 ? next_el(t1->next, &junk) : NULL;
    xmlNodePtr t3 = t2 ? next_el(t2->next, &junk) : NULL;
    if (!is_el(t1, DSIG_NS, "Transform") || !is_el(t2, DSIG_NS, "Transform") || t3 != NULL ||
        !attr_is(t1, "Algorithm", ALG_ENVELOPED) || !attr_is(t2, "Algorithm", ALG_EXC_C14N) ||
        has_element_child(t1) || has_element_child(t2) || attr_count(t1) != 1 ||
        attr_count(t2) != 1)
        return refuse(v, XVERIFY_TRANSFORM_NOT_ALLOWED,
                      "the Reference must list exactly enveloped-signature then exc-c14n", NULL);
    xmlNodePtr dm = next_el(tr->next, &junk);
    if (!is_el(dm, DSIG_NS, "DigestMethod"))
        return refuse(v, XVERIFY_MALFORMED, "Reference lacks DigestMethod", NULL);
    if (!attr_is(dm, "Algorithm", ALG_SHA256) || has_element_child(dm))
        return refuse(v, XVERIFY_ALGORITHM_NOT_ALLOWED, "the digest must be SHA-256", NULL);
    xmlNodePtr dv = next_el(dm->next, &junk);
    if (!is_el(dv, DSIG_NS, "DigestValue") || next_el(dv->next, &junk) != NULL || junk)
        return refuse(v, XVERIFY_MALFORMED, "Reference has unexpected content", NULL);
    return XVERIFY_OK;
}

static xverify_reason check_signature_shape(vstate *v)
{
    bool junk = false;
    xmlNodePtr si, sv, ki, cm, sm, ref, x509, cert;

    if (v->sig->properties != NULL)
        return refuse(v, XVERIFY_MALFORMED, "ds:Signature may not carry attributes", NULL);
    si = next_el(v->sig->children, &junk);
    sv = si ? next_el(si->next, &junk) : NULL;
    ki = sv ? next_el(sv->next, &junk) : NULL;
    if (!is_el(si, DSIG_NS, "SignedInfo") || !is_el(sv, DSIG_NS, "SignatureValue"))
        return refuse(v, XVERIFY_MALFORMED, "ds:Signature must hold SignedInfo, SignatureValue",
                      NULL);
    if (!is_el(ki, DSIG_NS, "KeyInfo"))
        return refuse(v, XVERIFY_KEYINFO_FORBIDDEN,
                      "KeyInfo with the signer's X509Certificate is required", NULL);
    if (next_el(ki->next, &junk) != NULL || junk)
        return refuse(v, XVERIFY_MALFORMED,
                      "ds:Signature holds more than SignedInfo, SignatureValue, KeyInfo", NULL);
    if (si->properties != NULL)
        return refuse(v, XVERIFY_MALFORMED, "SignedInfo may not carry attributes", NULL);

    cm = next_el(si->children, &junk);
    sm = cm ? next_el(cm->next, &junk) : NULL;
    if (!is_el(cm, DSIG_NS, "CanonicalizationMethod") || !is_el(sm, DSIG_NS, "SignatureMethod"))
        return refuse(v, XVERIFY_MALFORMED, "SignedInfo lacks its methods", NULL);
    if (!attr_is(cm, "Algorithm", ALG_EXC_C14N) || has_element_child(cm))
        return refuse(v, XVERIFY_ALGORITHM_NOT_ALLOWED,
                      "canonicalization must be exclusive C14N without comments", NULL);
    if (attr_is(sm, "Algorithm", ALG_RSA_SHA256))
        v->sig_alg = ALG_RSA_SHA256;
    else if (attr_is(sm, "Algorithm", ALG_ECDSA_SHA256))
        v->sig_alg = ALG_ECDSA_SHA256;
    else
        return refuse(v, XVERIFY_ALGORITHM_NOT_ALLOWED,
                      "the signature method must be RSA-SHA256 or ECDSA-SHA256", NULL);
    if (has_element_child(sm))   /* e.g. HMACOutputLength */
        return refuse(v, XVERIFY_ALGORITHM_NOT_ALLOWED,
                      "SignatureMethod parameters are not allowed", NULL);

    size_t refs = 0;
    xmlNodePtr first = NULL;
    for (ref = next_el(sm->next, &junk); ref != NULL; ref = next_el(ref->next, &junk)) {
        if (!is_el(ref, DSIG_NS, "Reference"))
            return refuse(v, XVERIFY_MALFORMED, "SignedInfo has unexpected content", NULL);
        if (refs++ == 0)
            first = ref;
    }
    if (junk)
        return refuse(v, XVERIFY_MALFORMED, "SignedInfo has unexpected text", NULL);
    if (refs != 1)
        return refuse(v, XVERIFY_REFERENCE_NOT_PINNED, "exactly one Reference is allowed", NULL);
    xverify_reason r = check_reference(v, first);
    if (r != XVERIFY_OK)
        return r;

    /* KeyInfo: exactly X509Data/X509Certificate; no KeyValue, KeyName, RetrievalMethod, URL. */
    x509 = next_el(ki->children, &junk);
    if (ki->properties != NULL || !is_el(x509, DSIG_NS, "X509Data") ||
        next_el(x509->next, &junk) != NULL || junk)
        return refuse(v, XVERIFY_KEYINFO_FORBIDDEN,
                      "KeyInfo may hold only one X509Data with one X509Certificate", NULL);
    cert = next_el(x509->children, &junk);
    if (!is_el(cert, DSIG_NS, "X509Certificate") || next_el(cert->next, &junk) != NULL || junk ||
        has_element_child(cert))
        return refuse(v, XVERIFY_KEYINFO_FORBIDDEN,
                      "X509Data may hold only one X509Certificate", NULL);

    /* Decode the certificate: base64 of one DER certificate, nothing after it. */
    xmlChar *b64 = xmlNodeGetContent(cert);
    unsigned char *der = NULL;
    if (b64 == NULL || xmlStrlen(b64) > MAX_CERT_DER * 4 / 3 + 1024) {
        xmlFree(b64);
        return refuse(v, XVERIFY_MALFORMED, "X509Certificate missing or too large", NULL);
    }
    der = malloc(MAX_CERT_DER);
    xmlSecSize written = 0;
    int derlen = -1;
    if (der != NULL && xmlSecBase64Decode_ex(b64, der, MAX_CERT_DER, &written) == 0)
        derlen = (int)written;
    xmlFree(b64);
    if (derlen > 0)
        v->leaf = cert_from_der(v, der, (size_t)derlen);
    free(der);
    if (v->leaf == NULL)
        return refuse(v, XVERIFY_MALFORMED, "X509Certificate is not one DER certificate", NULL);
    return XVERIFY_OK;
}

/* Decode DER (exactly one certificate), through the trust's cache. Returns an owned reference. */
static X509 *cert_from_der(vstate *v, const unsigned char *der, size_t len)
{
    xverify_trust *t = (xverify_trust *)v->trust;   /* the cache is the mutable part */
    unsigned char md[32];
    X509 *x = NULL;

    if (EVP_Digest(der, len, md, NULL, EVP_sha256(), NULL) != 1)
        return NULL;
    memcpy(v->der_sha256, md, sizeof(md));
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < CERT_CACHE; i++) {
        if (t->cache[i].x != NULL && memcmp(t->cache[i].der_sha256, md, sizeof(md)) == 0) {
            x = t->cache[i].x;
            X509_up_ref(x);
            v->cached = t->cache[i];
            break;
        }
    }
    pthread_mutex_unlock(&t->lock);
    if (x != NULL)
        return x;

    const unsigned char *p = der;
    x = d2i_X509(NULL, &p, (long)len);
    if (x == NULL || p != der + len) {
        X509_free(x);
        return NULL;
    }
    pthread_mutex_lock(&t->lock);
    cert_entry *e = &t->cache[t->next++ % CERT_CACHE];
    X509_free(e->x);
    memset(e, 0, sizeof(*e));
    memcpy(e->der_sha256, md, sizeof(md));
    e->x = x;
    X509_up_ref(x);
    pthread_mutex_unlock(&t->lock);
    return x;
}

/* Remember that the chain of the certificate with this DER hash verified for [from, until]. */
static void cache_chain_ok(vstate *v, time_t from, time_t until)
{
    xverify_trust *t = (xverify_trust *)v->trust;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < CERT_CACHE; i++) {
        if (t->cache[i].x != NULL && memcmp(t->cache[i].der_sha256, v->der_sha256, 32) == 0) {
            t->cache[i].chain_ok = true;
            t->cache[i].ok_from = from;
            t->cache[i].ok_until = until;
        }
    }
    pthread_mutex_unlock(&t->lock);
}

static bool asn1_to_time(const ASN1_TIME *a, time_t *out)
{
    struct tm tm;
    if (a == NULL || ASN1_TIME_to_tm(a, &tm) != 1)
        return false;
    *out = timegm(&tm);
    return true;
}

/* ---- step 4: the root's fields, in the fixed order of schemas/result.xsd -------------------- */

static xverify_reason read_fields(vstate *v)
{
    xverify_report *rep = v->rep;
    bool junk = false, ok = true;
    xmlNodePtr n = next_el(v->root->children, &junk);
    char tmp[XVERIFY_TEXT_CAP];

    struct { const char *name; char *buf; size_t cap; } simple[] = {
        {"resultId", rep->result_id, sizeof(rep->result_id)},
        {"resultType", rep->result_type, sizeof(rep->result_type)},
        {"procedure", rep->procedure, sizeof(rep->procedure)},
        {"dossierCode", rep->dossier_code, sizeof(rep->dossier_code)},
    };
    for (size_t i = 0; ok && i < sizeof(simple) / sizeof(simple[0]); i++) {
        ok = is_el(n, SIGN_RESULT_NS, simple[i].name) && n->properties == NULL &&
             copy_leaf(n, simple[i].buf, simple[i].cap);
        n = n ? next_el(n->next, &junk) : NULL;
    }
    if (!ok)
        return refuse(v, XVERIFY_MALFORMED, "result header fields missing or out of order", NULL);

    xmlNodePtr a, b;
    if (!is_el(n, SIGN_RESULT_NS, "issuer") || n->properties != NULL)
        return refuse(v, XVERIFY_MALFORMED, "issuer missing", NULL);
    a = next_el(n->children, &junk);
    b = a ? next_el(a->next, &junk) : NULL;
    if (!is_el(a, SIGN_RESULT_NS, "agencyId") || !is_el(b, SIGN_RESULT_NS, "name") || next_el(b->next, &junk) ||
        a->properties || b->properties ||
        !copy_leaf(a, rep->issuer_agency_id, sizeof(rep->issuer_agency_id)) ||
        !copy_leaf(b, rep->issuer_name, sizeof(rep->issuer_name)))
        return refuse(v, XVERIFY_MALFORMED, "issuer must be agencyId, name", NULL);

    n = next_el(n->next, &junk);
    if (!is_el(n, SIGN_RESULT_NS, "holder") || n->properties != NULL)
        return refuse(v, XVERIFY_MALFORMED, "holder missing", NULL);
    a = next_el(n->children, &junk);
    b = a ? next_el(a->next, &junk) : NULL;
    if (!is_el(a, SIGN_RESULT_NS, "personalId") || !is_el(b, SIGN_RESULT_NS, "fullName") || next_el(b->next, &junk) ||
        a->properties || b->properties ||
        !copy_leaf(a, rep->holder_personal_id, sizeof(rep->holder_personal_id)) ||
        !copy_leaf(b, rep->holder_full_name, sizeof(rep->holder_full_name)))
        return refuse(v, XVERIFY_MALFORMED, "holder must be personalId, fullName", NULL);

    n = next_el(n->next, &junk);
    if (!is_el(n, SIGN_RESULT_NS, "content") || n->properties != NULL)
        return refuse(v, XVERIFY_MALFORMED, "content missing", NULL);
    for (a = next_el(n->children, &junk); a != NULL; a = next_el(a->next, &junk)) {
        if (rep->field_count >= XVERIFY_MAX_FIELDS)
            return refuse(v, XVERIFY_MALFORMED, "too many content fields", NULL);
        xverify_field *f = &rep->fields[rep->field_count];
        xmlChar *name = xmlGetNoNsProp(a, BAD_CAST "name");
        bool fok = is_el(a, SIGN_RESULT_NS, "field") && name != NULL && attr_count(a) == 1 &&
                   (size_t)xmlStrlen(name) < sizeof(f->name) &&
                   copy_leaf(a, f->value, sizeof(f->value));
        if (fok)
            snprintf(f->name, sizeof(f->name), "%s", (const char *)name);
        xmlFree(name);
        if (!fok)
            return refuse(v, XVERIFY_MALFORMED, "content may hold only <field name=...>text</field>",
                          NULL);
        rep->field_count++;
    }

    n = next_el(n->next, &junk);
    if (!is_el(n, SIGN_RESULT_NS, "issuedAt") || !copy_leaf(n, rep->issued_at, sizeof(rep->issued_at)))
        return refuse(v, XVERIFY_MALFORMED, "issuedAt missing", NULL);
    n = next_el(n->next, &junk);
    if (is_el(n, SIGN_RESULT_NS, "validUntil")) {
        if (!copy_leaf(n, rep->valid_until, sizeof(rep->valid_until)))
            return refuse(v, XVERIFY_MALFORMED, "validUntil malformed", NULL);
        n = next_el(n->next, &junk);
    }
    if (!is_el(n, SIGN_RESULT_NS, "signingTime"))
        return refuse(v, XVERIFY_SIGNING_TIME, "signingTime missing from the signed root", NULL);
    if (!copy_leaf(n, rep->signing_time_text, sizeof(rep->signing_time_text)) ||
        !parse_datetime(rep->signing_time_text, &rep->signing_time))
        return refuse(v, XVERIFY_SIGNING_TIME, "signingTime is not an xs:dateTime with zone", NULL);
    n = next_el(n->next, &junk);
    if (n != v->sig || next_el(n->next, &junk) != NULL)
        return refuse(v, XVERIFY_MALFORMED, "ds:Signature must be the root's last element", NULL);
    if (junk)
        return refuse(v, XVERIFY_MALFORMED, "unexpected text between result elements", NULL);
    snprintf(tmp, sizeof(tmp), "R-%s", rep->result_id);
    if (strcmp(tmp, rep->root_id) != 0)
        return refuse(v, XVERIFY_MALFORMED, "root Id must be \"R-\" + resultId", NULL);
    time_t now = time(NULL);
    if (rep->signing_time > now + v->trust->skew)
        return refuse(v, XVERIFY_SIGNING_TIME, "signingTime is in the future",
                      rep->signing_time_text);
    return XVERIFY_OK;
}

/* ---- step 5: the certificate ---------------------------------------------------------------- */

static xverify_reason check_cert(vstate *v)
{
    xverify_report *rep = v->rep;
    X509_STORE_CTX *sctx = NULL;
    xverify_reason r = XVERIFY_OK;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    BIO *bio = NULL;

    if (X509_digest(v->leaf, EVP_sha256(), md, &mdlen) != 1 || mdlen != 32)
        return refuse(v, XVERIFY_MALFORMED, "cannot fingerprint the certificate", NULL);
    for (unsigned int i = 0; i < mdlen; i++)
        snprintf(rep->cert_sha256 + 2 * i, 3, "%02x", md[i]);
    bio = BIO_new(BIO_s_mem());
    if (bio != NULL &&
        X509_NAME_print_ex(bio, X509_get_subject_name(v->leaf), 0,
                           XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        int n = BIO_read(bio, rep->cert_subject, (int)sizeof(rep->cert_subject) - 1);
        /* A long subject is cut to the buffer, maybe inside a character; the report goes to JSON,
         * which refuses invalid UTF-8 (fuzz/regressions/xverify), so keep whole characters. */
        size_t got = n > 0 ? (size_t)n : 0;
        rep->cert_subject[utf8_valid_prefix((const unsigned char *)rep->cert_subject, got)] = '\0';
    }
    BIO_free(bio);

    /* The key type must fit the pinned signature method. */
    EVP_PKEY *pk = X509_get0_pubkey(v->leaf);
    int kid = pk ? EVP_PKEY_get_base_id(pk) : 0;
    if (!((kid == EVP_PKEY_RSA && strcmp(v->sig_alg, ALG_RSA_SHA256) == 0 &&
           EVP_PKEY_get_bits(pk) >= 2048) ||
          (kid == EVP_PKEY_EC && strcmp(v->sig_alg, ALG_ECDSA_SHA256) == 0 &&
           EVP_PKEY_get_bits(pk) == 256)))
        return refuse(v, XVERIFY_ALGORITHM_NOT_ALLOWED,
                      "the certificate key does not fit the signature method", NULL);

    if (v->cached.chain_ok && rep->signing_time >= v->cached.ok_from &&
        rep->signing_time <= v->cached.ok_until)
        goto chain_ok;
    sctx = X509_STORE_CTX_new();
    if (sctx == NULL || X509_STORE_CTX_init(sctx, v->trust->store, v->leaf, NULL) != 1) {
        X509_STORE_CTX_free(sctx);
        return refuse(v, XVERIFY_MALFORMED, "out of memory checking the certificate", NULL);
    }
    /* The chain must be valid when the document says it was signed, not merely today. */
    X509_STORE_CTX_set_time(sctx, 0, rep->signing_time);
    if (X509_verify_cert(sctx) != 1) {
        int e = X509_STORE_CTX_get_error(sctx);
        const char *msg = X509_verify_cert_error_string(e);
        switch (e) {
        case X509_V_ERR_CERT_HAS_EXPIRED:
            r = refuse(v, XVERIFY_CERT_EXPIRED, "certificate had expired at the signing time", msg);
            break;
        case X509_V_ERR_CERT_NOT_YET_VALID:
            r = refuse(v, XVERIFY_CERT_NOT_YET_VALID,
                       "certificate was not yet valid at the signing time", msg);
            break;
        case X509_V_ERR_CERT_REVOKED:
            r = refuse(v, XVERIFY_CERT_REVOKED, "certificate is revoked", msg);
            break;
        default:
            r = refuse(v, XVERIFY_UNTRUSTED_CERT,
                       "certificate does not chain to a configured trust anchor", msg);
        }
        X509_STORE_CTX_free(sctx);
        return r;
    }
    /* The same verdict holds for any signing time inside every chain certificate's validity. */
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(sctx);
    time_t from = 0, until = (time_t)INT64_MAX, nb, na;
    bool window = chain != NULL;
    for (int i = 0; window && i < sk_X509_num(chain); i++) {
        X509 *c = sk_X509_value(chain, i);
        window = asn1_to_time(X509_get0_notBefore(c), &nb) && asn1_to_time(X509_get0_notAfter(c), &na);
        if (window && nb > from)
            from = nb;
        if (window && na < until)
            until = na;
    }
    if (window)
        cache_chain_ok(v, from, until);
    X509_STORE_CTX_free(sctx);
chain_ok:;

    uint32_t ku = X509_get_key_usage(v->leaf);
    if (!(X509_get_extension_flags(v->leaf) & EXFLAG_KUSAGE) ||
        (ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)) !=
            (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION) ||
        X509_check_ca(v->leaf) != 0)
        return refuse(v, XVERIFY_KEY_USAGE,
                      "signer certificate must be an end-entity with digitalSignature and "
                      "nonRepudiation",
                      NULL);

    /* Revocation refuses regardless of the (self-asserted) signing time: see docs/signing.md. */
    for (int i = 0; v->trust->crls != NULL && i < sk_X509_CRL_num(v->trust->crls); i++) {
        X509_CRL *crl = sk_X509_CRL_value(v->trust->crls, i);
        X509_REVOKED *entry = NULL;
        if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(v->leaf)) == 0 &&
            X509_CRL_get0_by_cert(crl, &entry, v->leaf) == 1)
            return refuse(v, XVERIFY_CERT_REVOKED, "certificate is listed in the CRL", NULL);
    }
    if (v->trust->revoked != NULL && v->trust->revoked(rep->cert_sha256, v->trust->revoked_arg))
        return refuse(v, XVERIFY_CERT_REVOKED, "certificate is revoked (revocation list)", NULL);
    return XVERIFY_OK;
}

/* ---- step 6: the cryptography --------------------------------------------------------------- */

static xverify_reason check_crypto(vstate *v)
{
    xmlSecDSigCtx d;
    xmlSecKeyPtr key = NULL;
    xmlSecKeyDataPtr data = NULL;
    EVP_PKEY *pub = NULL;
    xverify_reason r = XVERIFY_OK;

    /* Only the root's Id becomes an ID, so "#Id" can resolve to nothing else. */
    if (xmlGetID(v->doc, BAD_CAST v->id) != NULL)
        return refuse(v, XVERIFY_DUPLICATE_ID, "the signed Id is already registered", NULL);
    if (xmlAddID(NULL, v->doc, BAD_CAST v->id, v->id_attr) == NULL)
        return refuse(v, XVERIFY_DUPLICATE_ID, "cannot register the root Id", NULL);

    if (xmlSecDSigCtxInitialize(&d, NULL) < 0)
        return refuse(v, XVERIFY_MALFORMED, "xmlsec context failed", NULL);
    d.enabledReferenceUris = xmlSecTransformUriTypeSameDocument;
    if (xmlSecDSigCtxEnableReferenceTransform(&d, xmlSecTransformEnvelopedId) < 0 ||
        xmlSecDSigCtxEnableReferenceTransform(&d, xmlSecTransformExclC14NId) < 0 ||
        xmlSecDSigCtxEnableReferenceTransform(&d, xmlSecTransformSha256Id) < 0 ||
        xmlSecDSigCtxEnableSignatureTransform(&d, xmlSecTransformExclC14NId) < 0 ||
        xmlSecDSigCtxEnableSignatureTransform(&d, xmlSecTransformRsaSha256Id) < 0 ||
        xmlSecDSigCtxEnableSignatureTransform(&d, xmlSecTransformEcdsaSha256Id) < 0) {
        r = refuse(v, XVERIFY_MALFORMED, "xmlsec transform list failed", NULL);
        goto out;
    }
    /* The key comes only from the certificate we already checked; KeyInfo is never read. */
    pub = X509_get_pubkey(v->leaf);
    data = pub ? xmlSecOpenSSLEvpKeyAdopt(pub) : NULL;
    if (data == NULL) {
        EVP_PKEY_free(pub);
        r = refuse(v, XVERIFY_MALFORMED, "cannot use the certificate key", NULL);
        goto out;
    }
    key = xmlSecKeyCreate();
    if (key == NULL || xmlSecKeySetValue(key, data) < 0) {
        xmlSecKeyDataDestroy(data);
        r = refuse(v, XVERIFY_MALFORMED, "cannot use the certificate key", NULL);
        goto out;
    }
    d.signKey = key;           /* owned by d from here */
    key = NULL;

    if (xmlSecDSigCtxVerify(&d, v->sig) < 0) {
        r = refuse(v, XVERIFY_SIGNATURE_INVALID, "the signature could not be processed", NULL);
        goto out;
    }
    /* A verification that ran is not a valid signature: look at the status. */
    xmlSecSize nrefs = xmlSecPtrListGetSize(&d.signedInfoReferences);
    xmlSecDSigReferenceCtxPtr rc = nrefs > 0 ? xmlSecPtrListGetItem(&d.signedInfoReferences, 0) : NULL;
    if (d.status != xmlSecDSigStatusSucceeded) {
        if (rc == NULL || rc->status != xmlSecDSigStatusSucceeded)
            r = refuse(v, XVERIFY_DIGEST_MISMATCH, "the signed content was altered", NULL);
        else
            r = refuse(v, XVERIFY_SIGNATURE_INVALID,
                       "the SignatureValue does not verify with the certificate key", NULL);
        goto out;
    }
    char want[XVERIFY_NAME_CAP + 2];
    snprintf(want, sizeof(want), "#%s", v->id);
    if (nrefs != 1 || rc == NULL || rc->status != xmlSecDSigStatusSucceeded ||
        rc->uri == NULL || !xmlStrEqual(rc->uri, BAD_CAST want))
        r = refuse(v, XVERIFY_REFERENCE_NOT_PINNED, "xmlsec processed an unexpected reference",
                   NULL);
out:
    xmlSecDSigCtxFinalize(&d);
    return r;
}

static xverify_reason check_schema(vstate *v)
{
    char msg[200] = "";
    if (v->trust->schema == NULL)
        return XVERIFY_OK;
    xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(v->trust->schema);
    if (vc == NULL)
        return refuse(v, XVERIFY_MALFORMED, "out of memory validating", NULL);
    xmlSchemaSetValidStructuredErrors(vc, quiet_schema_error, msg);
    int rc = xmlSchemaValidateDoc(vc, v->doc);
    xmlSchemaFreeValidCtxt(vc);
    if (rc != 0)
        return refuse(v, XVERIFY_SCHEMA_INVALID, "not a valid result document", msg);
    return XVERIFY_OK;
}

/* ---- the entry point ------------------------------------------------------------------------ */

static mc_err err_for(xverify_reason r)
{
    switch (r) {
    case XVERIFY_OK: return MC_OK;
    case XVERIFY_MALFORMED: return MC_ERR_XML_MALFORMED;
    case XVERIFY_DTD_FORBIDDEN:
    case XVERIFY_COMMENT_FORBIDDEN: return MC_ERR_XML_FORBIDDEN;
    case XVERIFY_SCHEMA_INVALID: return MC_ERR_XSD_INVALID;
    default: return MC_ERR_BAD_REQUEST;
    }
}

mc_err xverify_result(const xverify_trust *trust, const char *xml, size_t len, xverify_report *rep)
{
    vstate v;
    xverify_reason r;

    if (rep == NULL)
        return MC_ERR_INTERNAL;
    memset(rep, 0, sizeof(*rep));
    rep->reason = XVERIFY_OK;
    rep->slug = xverify_reason_slug(XVERIFY_OK);
    if (trust == NULL || (xml == NULL && len > 0)) {
        mc_why_detail(rep->why, sizeof(rep->why), "internal: missing trust or document", NULL);
        rep->reason = XVERIFY_MALFORMED;
        rep->slug = xverify_reason_slug(rep->reason);
        return MC_ERR_INTERNAL;
    }
    memset(&v, 0, sizeof(v));
    v.trust = trust;
    v.rep = rep;

    if (len == 0) {
        r = refuse(&v, XVERIFY_MALFORMED, "empty document", NULL);
        goto out;
    }
    if (len > XVERIFY_MAX_BYTES) {
        r = refuse(&v, XVERIFY_MALFORMED, "document larger than 1 MiB", NULL);
        goto out;
    }
    /* Refuse any DTD before libxml2 sees it (then once more on the parsed tree). */
    if (find_bytes(xml, len, "<!DOCTYPE") || find_bytes(xml, len, "<!ENTITY")) {
        r = refuse(&v, XVERIFY_DTD_FORBIDDEN, "a DTD is not allowed in a result", NULL);
        goto out;
    }
    /* xmlsafe refuses PIs as it refuses DTDs; we report them with comments (one rule). The XML
     * declaration is the only "<?" allowed, and only at the very start. */
    const char *pi = memmem(xml, len, "<?", 2);
    if (pi != NULL && (pi != xml || memmem(xml + 2, len - 2, "<?", 2) != NULL)) {
        r = refuse(&v, XVERIFY_COMMENT_FORBIDDEN,
                   "comments and processing instructions are not allowed in a result", NULL);
        goto out;
    }
    if ((r = parse_doc(&v, xml, len)) != XVERIFY_OK)
        goto out;

    v.root = xmlDocGetRootElement(v.doc);
    if (!is_el(v.root, SIGN_RESULT_NS, SIGN_RESULT_ROOT)) {
        r = refuse(&v, XVERIFY_MALFORMED, "root is not {" SIGN_RESULT_NS "}result", NULL);
        goto out;
    }
    v.id_attr = xmlHasNsProp(v.root, BAD_CAST "Id", NULL);
    if (v.id_attr == NULL || !copy_leaf((xmlNodePtr)v.id_attr, rep->root_id, sizeof(rep->root_id)) ||
        rep->root_id[0] == '\0') {
        r = refuse(&v, XVERIFY_MALFORMED, "root has no usable Id attribute", NULL);
        goto out;
    }
    v.id = rep->root_id;

    if ((r = scan_tree(&v)) != XVERIFY_OK || (r = check_signature_shape(&v)) != XVERIFY_OK ||
        (r = read_fields(&v)) != XVERIFY_OK || (r = check_cert(&v)) != XVERIFY_OK ||
        (r = check_crypto(&v)) != XVERIFY_OK || (r = check_schema(&v)) != XVERIFY_OK)
        goto out;
    rep->reason = XVERIFY_OK;
    rep->slug = xverify_reason_slug(XVERIFY_OK);
    mc_why_detail(rep->why, sizeof(rep->why), "signature valid", NULL);
out:
    if (r != XVERIFY_OK) {
        /* Never hand back data from a refused document as if it were signed. */
        memset(rep->result_id, 0, sizeof(*rep) - offsetof(xverify_report, result_id));
    }
    X509_free(v.leaf);
    xmlFreeDoc(v.doc);
    return err_for(r);
}
