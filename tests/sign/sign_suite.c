/* sign_suite.c - signing and strict verification of result documents, table-driven.
 * "cases": sign+verify RSA/EC and every hostile document (built from a good one by DOM edits and
 * re-signing) refused with its reason. "interop": motcua <-> the xmlsec1 command line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <libxml/c14n.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/valid.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/templates.h>
#include <xmlsec/crypto.h>

#include "sign.h"
#include "xverify.h"

#define DSIG_NS "http://www.w3.org/2000/09/xmldsig#"

static const char *g_certs;       /* the fixture's OUTDIR */
static const char *g_xmlsec1;     /* xmlsec1 executable (interop) */
static xverify_trust *g_trust;
static char g_revoked_fp[65];     /* fingerprint the revocation callback reports as revoked */
static time_t g_now;

/* ---- helpers -------------------------------------------------------------------------------- */

static char *cert_path(const char *name, const char *ext)
{
    static char buf[8][512];
    static int slot;
    char *p = buf[slot++ % 8];
    snprintf(p, 512, "%s/%s.%s", g_certs, name, ext);
    return p;
}

static bool revoked_cb(const char *fp, void *arg)
{
    (void)arg;
    return strcmp(fp, g_revoked_fp) == 0;
}

static const sign_field g_content[] = {
    {"childName", "Trần Minh Khôi"},
    {"dateOfBirth", "2025-01-10"},
    {"placeOfBirth", "Bệnh viện Phụ sản - Nhi Đà Nẵng"},
    {"father", "Trần Văn Nam"},
    {"mother", "Nguyễn Thị Bích & <con>"},   /* escaping must survive signing */
};

static sign_result_fields base_fields(void)
{
    sign_result_fields f = {
        .result_id = "KQ-2025-000123",
        .result_type = "KQ.G15.000031",
        .procedure = "1.001193",
        .dossier_code = "H17.48.20242-250115-0001",
        .issuer_agency_id = "20242",
        .issuer_name = "UBND phường Hải Châu",
        .holder_personal_id = "048205001234",
        .holder_full_name = "Nguyễn Thị Bích",
        .content = g_content,
        .content_count = sizeof(g_content) / sizeof(g_content[0]),
        .issued_at = 1736908200,   /* 2025-01-15 09:30 +07:00 */
        .valid_until = NULL,
    };
    return f;
}

/* Sign the base result with certs/<name>.key/.crt at time t; returns malloc'd XML. */
static char *sign_as(const char *name, time_t t)
{
    sign_ctx *ctx = NULL;
    char why[256] = "";
    char *xml = NULL;
    size_t len = 0;
    sign_result_fields f = base_fields();

    mc_err e = sign_ctx_new(cert_path(name, "key"), cert_path(name, "crt"), &ctx, why, sizeof(why));
    if (e != MC_OK)
        fail_msg("sign_ctx_new(%s): %s", name, why);
    e = sign_result(ctx, &f, t, &xml, &len, why, sizeof(why));
    if (e != MC_OK)
        fail_msg("sign_result(%s): %s", name, why);
    assert_int_equal(strlen(xml), len);
    sign_ctx_free(ctx);
    return xml;
}

static xmlDocPtr parse(const char *xml)
{
    xmlDocPtr d = xmlReadMemory(xml, (int)strlen(xml), NULL, NULL, XML_PARSE_NONET);
    assert_non_null(d);
    return d;
}

static char *dump(xmlDocPtr d)
{
    xmlChar *buf = NULL;
    int n = 0;
    xmlDocDumpMemoryEnc(d, &buf, &n, "UTF-8");
    assert_non_null(buf);
    char *s = strdup((char *)buf);
    xmlFree(buf);
    xmlFreeDoc(d);
    return s;
}

static xmlNodePtr find(xmlNodePtr n, const char *name)
{
    for (; n != NULL; n = n->next) {
        if (n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0)
            return n;
        xmlNodePtr c = find(n->children, name);
        if (c != NULL)
            return c;
    }
    return NULL;
}

static xmlNodePtr root_of(xmlDocPtr d) { return xmlDocGetRootElement(d); }

/* Options for signing "by hand" with xmlsec: lets tests produce cryptographically valid
 * signatures in shapes motcua never writes. */
typedef struct custom {
    const char *key;            /* certs/<key>.key, or NULL with hmac */
    const char *cert;           /* certs/<cert>.crt placed in X509Data (need not match key) */
    bool hmac;
    bool keyvalue;              /* add KeyValue (of the signing key) to KeyInfo */
    bool keyname;
    bool xpath;                 /* extra XPath transform */
    bool second_ref;
    const char *uri;            /* NULL: "#<root Id>" */
    xmlSecTransformId c14n, sig, digest;
} custom;

/* Strip the Signature from a good signed doc and sign it again per c. */
static char *custom_sign(const char *good, const custom *c)
{
    xmlDocPtr d = parse(good);
    xmlNodePtr root = root_of(d), old = find(root, "Signature");
    xmlUnlinkNode(old);
    xmlFreeNode(old);

    xmlChar *id = xmlGetProp(root, BAD_CAST "Id");
    char uri[200];
    snprintf(uri, sizeof(uri), "#%s", (char *)id);
    xmlAddID(NULL, d, id, xmlHasProp(root, BAD_CAST "Id"));

    xmlNodePtr sig = xmlSecTmplSignatureCreateNsPref(
        d, c->c14n ? c->c14n : xmlSecTransformExclC14NId,
        c->sig ? c->sig : (c->hmac ? xmlSecTransformHmacSha256Id : xmlSecTransformRsaSha256Id), NULL,
        BAD_CAST "ds");
    assert_non_null(sig);
    xmlAddChild(root, sig);
    xmlNodePtr ref = xmlSecTmplSignatureAddReference(
        sig, c->digest ? c->digest : xmlSecTransformSha256Id, NULL,
        BAD_CAST(c->uri ? c->uri : uri), NULL);
    assert_non_null(xmlSecTmplReferenceAddTransform(ref, xmlSecTransformEnvelopedId));
    if (c->xpath) {
        xmlNodePtr t = xmlSecTmplReferenceAddTransform(ref, xmlSecTransformXPathId);
        assert_int_equal(xmlSecTmplTransformAddXPath(t, BAD_CAST "self::node()", NULL), 0);
    }
    assert_non_null(xmlSecTmplReferenceAddTransform(ref, xmlSecTransformExclC14NId));
    if (c->second_ref) {
        xmlNodePtr r2 = xmlSecTmplSignatureAddReference(sig, xmlSecTransformSha256Id, NULL,
                                                        BAD_CAST uri, NULL);
        assert_non_null(xmlSecTmplReferenceAddTransform(r2, xmlSecTransformEnvelopedId));
        assert_non_null(xmlSecTmplReferenceAddTransform(r2, xmlSecTransformExclC14NId));
    }
    xmlNodePtr ki = xmlSecTmplSignatureEnsureKeyInfo(sig, NULL);
    if (c->keyname)
        assert_non_null(xmlSecTmplKeyInfoAddKeyName(ki, BAD_CAST "ward-20242"));
    if (c->keyvalue)
        assert_non_null(xmlSecTmplKeyInfoAddKeyValue(ki));
    if (c->cert != NULL) {
        xmlNodePtr x = xmlSecTmplKeyInfoAddX509Data(ki);
        assert_non_null(xmlSecTmplX509DataAddCertificate(x));
    }

    xmlSecDSigCtxPtr dctx = xmlSecDSigCtxCreate(NULL);
    assert_non_null(dctx);
    if (c->hmac) {
        static const xmlSecByte secret[32] = "attacker-chosen-hmac-secret-32b";
        dctx->signKey = xmlSecKeyReadMemory(xmlSecKeyDataHmacId, secret, sizeof(secret));
    } else {
        dctx->signKey = xmlSecCryptoAppKeyLoad(cert_path(c->key, "key"), xmlSecKeyDataFormatPem,
                                               NULL, NULL, NULL);
    }
    assert_non_null(dctx->signKey);
    if (c->cert != NULL)
        assert_int_equal(xmlSecCryptoAppKeyCertLoad(dctx->signKey, cert_path(c->cert, "crt"),
                                                    xmlSecKeyDataFormatPem), 0);
    assert_int_equal(xmlSecDSigCtxSign(dctx, sig), 0);
    xmlSecDSigCtxDestroy(dctx);
    xmlFree(id);
    return dump(d);
}

static xverify_reason verify(const char *xml, xverify_report *rep)
{
    mc_err e = xverify_result(g_trust, xml, strlen(xml), rep);
    assert_true((e == MC_OK) == (rep->reason == XVERIFY_OK));
    assert_non_null(rep->slug);
    assert_true(rep->why[0] != '\0');
    return rep->reason;
}

/* ---- builders of hostile documents ---------------------------------------------------------- */

static char *g_good;      /* RSA ward-20242, signed now */
static char *g_good_ec;

static char *b_good(void) { return strdup(g_good); }
static char *b_good_ec(void) { return strdup(g_good_ec); }
static char *b_other_ward(void) { return sign_as("ward-20257", g_now); }

static char *b_altered_content(void)
{
    xmlDocPtr d = parse(g_good);
    xmlNodeSetContent(find(root_of(d), "fullName"), BAD_CAST "Kẻ Mạo Danh");
    return dump(d);
}

static char *b_altered_digest(void)
{
    xmlDocPtr d = parse(g_good);
    xmlNodeSetContent(find(root_of(d), "DigestValue"),
                      BAD_CAST "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    return dump(d);
}

/* Content altered and DigestValue recomputed to match; SignatureValue is the genuine one. */
static char *b_altered_recomputed_digest(void)
{
    xmlDocPtr d = parse(g_good);
    xmlChar *genuine = xmlNodeGetContent(find(root_of(d), "SignatureValue"));
    xmlNodeSetContent(find(root_of(d), "fullName"), BAD_CAST "Kẻ Mạo Danh");
    char *altered = dump(d);
    custom c = {.key = "localhost", .cert = "ward-20242"};
    char *resigned = custom_sign(altered, &c);
    free(altered);
    d = parse(resigned);
    free(resigned);
    xmlNodeSetContent(find(root_of(d), "SignatureValue"), genuine);
    xmlFree(genuine);
    return dump(d);
}

static char *b_tampered_sigvalue(void)
{
    xmlDocPtr d = parse(g_good);
    xmlNodePtr sv = find(root_of(d), "SignatureValue");
    xmlChar *v = xmlNodeGetContent(sv);
    v[10] = v[10] == 'A' ? 'B' : 'A';
    xmlNodeSetContent(sv, v);
    xmlFree(v);
    return dump(d);
}

static char *b_sha1_digest(void)
{
    custom c = {.key = "ward-20242", .cert = "ward-20242", .digest = xmlSecTransformSha1Id};
    return custom_sign(g_good, &c);
}

static char *b_rsa_sha1(void)
{
    custom c = {.key = "ward-20242", .cert = "ward-20242", .sig = xmlSecTransformRsaSha1Id};
    return custom_sign(g_good, &c);
}

static char *b_hmac(void)
{
    custom c = {.hmac = true};
    return custom_sign(g_good, &c);
}

static char *b_hmac_outlen8(void)
{
    char *h = b_hmac();
    xmlDocPtr d = parse(h);
    free(h);
    xmlNodePtr sm = find(root_of(d), "SignatureMethod");
    xmlNewTextChild(sm, sm->ns, BAD_CAST "HMACOutputLength", BAD_CAST "8");
    return dump(d);
}

static char *b_inclusive_c14n(void)
{
    custom c = {.key = "ward-20242", .cert = "ward-20242", .c14n = xmlSecTransformInclC14NId};
    return custom_sign(g_good, &c);
}

static char *b_keyvalue_attacker(void)
{
    custom c = {.key = "localhost", .cert = "ward-20242", .keyvalue = true};
    return custom_sign(g_good, &c);
}

/* Attacker key, genuine certificate only: proves the key is taken from the certificate. */
static char *b_attacker_key_genuine_cert(void)
{
    custom c = {.key = "localhost", .cert = "ward-20242"};
    return custom_sign(g_good, &c);
}

static char *b_keyname(void)
{
    custom c = {.key = "ward-20242", .cert = "ward-20242", .keyname = true};
    return custom_sign(g_good, &c);
}

static char *b_retrieval_method(void)
{
    xmlDocPtr d = parse(g_good);
    xmlNodePtr ki = find(root_of(d), "KeyInfo");
    xmlNodePtr rm = xmlNewChild(ki, ki->ns, BAD_CAST "RetrievalMethod", NULL);
    xmlNewProp(rm, BAD_CAST "URI", BAD_CAST "http://evil.example/key.der");
    return dump(d);
}

static char *b_evil_ca(void) { return sign_as("evil-ward-20242", g_now); }
static char *b_expired(void) { return sign_as("ward-20242-expired", g_now); }
static char *b_notyet(void) { return sign_as("ward-20242-notyet", g_now); }
static char *b_revoked_crl(void) { return sign_as("ward-20242-revoked", g_now); }
static char *b_revoked_cb(void) { return sign_as("ward-20275", g_now); }

static char *b_key_usage(void)
{
    custom c = {.key = "localhost", .cert = "localhost"};
    return custom_sign(g_good, &c);
}

/* The verifier caches a certificate's chain verdict with its validity window: a signing time
 * outside the window must be checked afresh (the good case above warmed the cache). */
static char *b_backdated(void) { return sign_as("ward-20242", 1577836800); /* 2020-01-01 */ }

static char *b_future_signing_time(void) { return sign_as("ward-20242", g_now + 86400); }

static char *b_no_signing_time(void)
{
    xmlDocPtr d = parse(g_good);
    xmlNodePtr st = find(root_of(d), "signingTime");
    xmlUnlinkNode(st);
    xmlFreeNode(st);
    return dump(d);
}

static char *b_dup_id(void)
{
    xmlDocPtr d = parse(g_good);
    xmlNodePtr content = find(root_of(d), "content");
    xmlNodePtr f = xmlNewTextChild(content, content->ns, BAD_CAST "field", BAD_CAST "x");
    xmlNewProp(f, BAD_CAST "name", BAD_CAST "x");
    xmlNewProp(f, BAD_CAST "Id", BAD_CAST "R-KQ-2025-000123");
    return dump(d);
}

/* New evil root; the whole signed result (with its Signature) becomes its child. */
static char *b_moved_under_evil_root(void)
{
    xmlDocPtr d = parse(g_good);
    xmlNodePtr orig = root_of(d);
    xmlNodePtr evil = xmlNewNode(NULL, BAD_CAST "result");
    xmlNsPtr ns = xmlNewNs(evil, BAD_CAST SIGN_RESULT_NS, NULL);
    xmlSetNs(evil, ns);
    xmlNewProp(evil, BAD_CAST "Id", BAD_CAST "R-EVIL-1");
    xmlNewTextChild(evil, ns, BAD_CAST "resultId", BAD_CAST "EVIL-1");
    xmlDocSetRootElement(d, evil);
    xmlAddChild(evil, orig);
    return dump(d);
}

/* Evil root carries the Signature; the genuine signed element is its child (Signature moved). */
static char *b_evil_root_with_signed_child(const char *evil_id)
{
    xmlDocPtr d = parse(g_good);
    xmlNodePtr orig = root_of(d), sig = find(orig, "Signature");
    xmlUnlinkNode(sig);
    xmlNodePtr evil = xmlCopyNode(orig, 1);    /* same fields, then falsified */
    xmlSetProp(evil, BAD_CAST "Id", BAD_CAST evil_id);
    xmlNodeSetContent(find(evil, "fullName"), BAD_CAST "Kẻ Mạo Danh");
    xmlDocSetRootElement(d, evil);
    xmlNodePtr content = find(evil, "content");
    xmlAddChild(content, orig);                /* genuine element hidden inside */
    xmlAddChild(evil, sig);
    return dump(d);
}
static char *b_evil_root_other_id(void) { return b_evil_root_with_signed_child("R-EVIL-2"); }
static char *b_evil_root_same_id(void) { return b_evil_root_with_signed_child("R-KQ-2025-000123"); }

static char *b_empty_uri(void)
{
    custom c = {.key = "ward-20242", .cert = "ward-20242", .uri = ""};
    return custom_sign(g_good, &c);
}

static char *b_two_refs(void)
{
    custom c = {.key = "ward-20242", .cert = "ward-20242", .second_ref = true};
    return custom_sign(g_good, &c);
}

static char *b_comment_in_text(void)
{
    xmlDocPtr d = parse(g_good);
    xmlNodePtr fn = find(root_of(d), "fullName");
    /* "Nguyễn Thị Bích" -> "Nguyễn<!---->Thị Bích": exc-c14n drops the comment, so the digest holds. */
    xmlNodeSetContent(fn, BAD_CAST "Nguyễn ");
    xmlAddChild(fn, xmlNewComment(BAD_CAST ""));
    xmlAddChild(fn, xmlNewText(BAD_CAST "Thị Bích"));
    return dump(d);
}

static char *b_pi_in_text(void)
{
    xmlDocPtr d = parse(g_good);
    xmlNodePtr fn = find(root_of(d), "fullName");
    xmlAddChild(fn, xmlNewDocPI(d, BAD_CAST "evil", BAD_CAST "x"));
    return dump(d);
}

static char *b_xpath_transform(void)
{
    custom c = {.key = "ward-20242", .cert = "ward-20242", .xpath = true};
    return custom_sign(g_good, &c);
}

static char *b_xslt_transform(void)
{
    xmlDocPtr d = parse(g_good);
    xmlNodePtr tr = find(root_of(d), "Transforms");
    xmlNodePtr t = xmlNewChild(tr, tr->ns, BAD_CAST "Transform", NULL);
    xmlNewProp(t, BAD_CAST "Algorithm", BAD_CAST "http://www.w3.org/TR/1999/REC-xslt-19991116");
    return dump(d);
}

static char *insert_after_decl(const char *xml, const char *what)
{
    const char *end = strstr(xml, "?>");
    assert_non_null(end);
    end += 2;
    size_t a = (size_t)(end - xml);
    char *s = malloc(strlen(xml) + strlen(what) + 2);
    memcpy(s, xml, a);
    sprintf(s + a, "\n%s%s", what, end);
    return s;
}

static char *b_dtd(void) { return insert_after_decl(g_good, "<!DOCTYPE result>"); }
static char *b_dtd_entity(void)
{
    return insert_after_decl(g_good, "<!DOCTYPE result [<!ENTITY who \"Kẻ Mạo Danh\">]>");
}

static char *b_two_signatures(void)
{
    xmlDocPtr d = parse(g_good);
    xmlNodePtr sig = find(root_of(d), "Signature");
    xmlAddChild(root_of(d), xmlCopyNode(sig, 1));
    return dump(d);
}

static char *b_no_signature(void)
{
    xmlDocPtr d = parse(g_good);
    xmlNodePtr sig = find(root_of(d), "Signature");
    xmlUnlinkNode(sig);
    xmlFreeNode(sig);
    return dump(d);
}

static char *b_object(void)
{
    xmlDocPtr d = parse(g_good);
    xmlNodePtr sig = find(root_of(d), "Signature");
    xmlNewChild(sig, sig->ns, BAD_CAST "Object", BAD_CAST "extra");
    return dump(d);
}

static char *b_truncated(void)
{
    char *s = strdup(g_good);
    s[strlen(s) / 2] = '\0';
    return s;
}

static char *b_not_a_result(void)
{
    return strdup("<?xml version=\"1.0\"?><invoice xmlns=\"urn:x\" Id=\"R-1\"/>");
}

/* Signed by a genuine ward key, but resultType breaks the XSD pattern (sign_document does not
 * check fields; sign_result would). */
static char *b_schema_invalid(void)
{
    xmlDocPtr d = parse(g_good);
    xmlNodePtr root = root_of(d);
    xmlNodePtr sig = find(root, "Signature"), st = find(root, "signingTime");
    xmlUnlinkNode(sig);
    xmlFreeNode(sig);
    xmlUnlinkNode(st);
    xmlFreeNode(st);
    xmlNodeSetContent(find(root, "resultType"), BAD_CAST "KQ G15 000031 (bad)");
    sign_ctx *ctx = NULL;
    char why[200], *xml = NULL;
    size_t len = 0;
    assert_int_equal(sign_ctx_new(cert_path("ward-20242", "key"), cert_path("ward-20242", "crt"),
                                  &ctx, why, sizeof(why)), MC_OK);
    assert_int_equal(sign_document(ctx, d, g_now, &xml, &len, why, sizeof(why)), MC_OK);
    sign_ctx_free(ctx);
    xmlFreeDoc(d);
    return xml;
}

/* ---- the table ------------------------------------------------------------------------------ */

typedef struct vcase {
    const char *name;
    char *(*build)(void);
    xverify_reason want;
} vcase;

static const vcase g_cases[] = {
    {"good RSA-2048 ward signature", b_good, XVERIFY_OK},
    {"good ECDSA P-256 ward signature", b_good_ec, XVERIFY_OK},
    {"good signature of another ward", b_other_ward, XVERIFY_OK},
    {"altered content", b_altered_content, XVERIFY_DIGEST_MISMATCH},
    {"altered DigestValue", b_altered_digest, XVERIFY_DIGEST_MISMATCH},
    {"altered content with recomputed DigestValue", b_altered_recomputed_digest,
     XVERIFY_SIGNATURE_INVALID},
    {"tampered SignatureValue", b_tampered_sigvalue, XVERIFY_SIGNATURE_INVALID},
    {"SHA-1 digest", b_sha1_digest, XVERIFY_ALGORITHM_NOT_ALLOWED},
    {"RSA-SHA1 signature method", b_rsa_sha1, XVERIFY_ALGORITHM_NOT_ALLOWED},
    {"HMAC-SHA256 signature method", b_hmac, XVERIFY_ALGORITHM_NOT_ALLOWED},
    {"HMACOutputLength=8", b_hmac_outlen8, XVERIFY_ALGORITHM_NOT_ALLOWED},
    {"inclusive C14N", b_inclusive_c14n, XVERIFY_ALGORITHM_NOT_ALLOWED},
    {"attacker KeyValue beside the genuine cert", b_keyvalue_attacker, XVERIFY_KEYINFO_FORBIDDEN},
    {"attacker key, genuine cert only", b_attacker_key_genuine_cert, XVERIFY_SIGNATURE_INVALID},
    {"KeyName in KeyInfo", b_keyname, XVERIFY_KEYINFO_FORBIDDEN},
    {"RetrievalMethod with a URL", b_retrieval_method, XVERIFY_KEYINFO_FORBIDDEN},
    {"evil CA, same subject DN", b_evil_ca, XVERIFY_UNTRUSTED_CERT},
    {"expired signer", b_expired, XVERIFY_CERT_EXPIRED},
    {"not-yet-valid signer", b_notyet, XVERIFY_CERT_NOT_YET_VALID},
    {"revoked signer (CRL)", b_revoked_crl, XVERIFY_CERT_REVOKED},
    {"revoked signer (callback)", b_revoked_cb, XVERIFY_CERT_REVOKED},
    {"TLS cert without nonRepudiation", b_key_usage, XVERIFY_KEY_USAGE},
    {"genuine cert, signing time before its validity", b_backdated, XVERIFY_CERT_NOT_YET_VALID},
    {"signing time in the future", b_future_signing_time, XVERIFY_SIGNING_TIME},
    {"signingTime removed", b_no_signing_time, XVERIFY_SIGNING_TIME},
    {"wrapping: duplicate Id", b_dup_id, XVERIFY_DUPLICATE_ID},
    {"wrapping: signed element moved under a new root", b_moved_under_evil_root,
     XVERIFY_WRAPPING_SUSPECTED},
    {"wrapping: evil root, signed element as child", b_evil_root_other_id,
     XVERIFY_WRAPPING_SUSPECTED},
    {"wrapping: evil root reusing the signed Id", b_evil_root_same_id, XVERIFY_DUPLICATE_ID},
    {"empty-URI reference", b_empty_uri, XVERIFY_REFERENCE_NOT_PINNED},
    {"two references", b_two_refs, XVERIFY_REFERENCE_NOT_PINNED},
    {"comment inside signed text", b_comment_in_text, XVERIFY_COMMENT_FORBIDDEN},
    {"processing instruction inside signed text", b_pi_in_text, XVERIFY_COMMENT_FORBIDDEN},
    {"extra XPath transform", b_xpath_transform, XVERIFY_TRANSFORM_NOT_ALLOWED},
    {"extra XSLT transform", b_xslt_transform, XVERIFY_TRANSFORM_NOT_ALLOWED},
    {"DOCTYPE", b_dtd, XVERIFY_DTD_FORBIDDEN},
    {"DTD with an entity", b_dtd_entity, XVERIFY_DTD_FORBIDDEN},
    {"two Signatures", b_two_signatures, XVERIFY_MULTIPLE_SIGNATURES},
    {"no Signature", b_no_signature, XVERIFY_NO_SIGNATURE},
    {"ds:Object in the Signature", b_object, XVERIFY_MALFORMED},
    {"truncated document", b_truncated, XVERIFY_MALFORMED},
    {"not a result document", b_not_a_result, XVERIFY_MALFORMED},
    {"signed but schema-invalid", b_schema_invalid, XVERIFY_SCHEMA_INVALID},
};

static void run_case(void **state)
{
    const vcase *c = *state;
    xverify_report rep;
    char *xml = c->build();
    xverify_reason got = verify(xml, &rep);
    print_message("    -> %s: %s\n", rep.slug, rep.why);
    if (got != c->want)
        fail_msg("%s: want %s, got %s (%s)", c->name, xverify_reason_slug(c->want), rep.slug,
                 rep.why);
    assert_string_equal(rep.slug, xverify_reason_slug(c->want));
    if (got != XVERIFY_OK) {
        /* nothing from a refused document is handed back as if signed */
        assert_string_equal(rep.result_id, "");
        assert_string_equal(rep.holder_personal_id, "");
        assert_int_equal(rep.field_count, 0);
    }
    free(xml);
}

/* ---- non-table tests ------------------------------------------------------------------------ */

static void test_report_fields(void **state)
{
    (void)state;
    xverify_report rep;
    sign_ctx *ctx = NULL;
    char why[200];
    assert_int_equal(verify(g_good, &rep), XVERIFY_OK);
    assert_string_equal(rep.root_id, "R-KQ-2025-000123");
    assert_string_equal(rep.result_id, "KQ-2025-000123");
    assert_string_equal(rep.result_type, "KQ.G15.000031");
    assert_string_equal(rep.procedure, "1.001193");
    assert_string_equal(rep.dossier_code, "H17.48.20242-250115-0001");
    assert_string_equal(rep.issuer_agency_id, "20242");
    assert_string_equal(rep.issuer_name, "UBND phường Hải Châu");
    assert_string_equal(rep.holder_personal_id, "048205001234");
    assert_string_equal(rep.holder_full_name, "Nguyễn Thị Bích");
    assert_string_equal(rep.issued_at, "2025-01-15T09:30:00+07:00");
    assert_int_equal(rep.field_count, 5);
    assert_string_equal(rep.fields[4].name, "mother");
    assert_string_equal(rep.fields[4].value, "Nguyễn Thị Bích & <con>");
    assert_int_equal(rep.signing_time, g_now);
    assert_non_null(strstr(rep.cert_subject, "CN=UBND phường Hải Châu (20242)"));
    assert_int_equal(sign_ctx_new(cert_path("ward-20242", "key"), cert_path("ward-20242", "crt"),
                                  &ctx, why, sizeof(why)), MC_OK);
    assert_string_equal(rep.cert_sha256, sign_ctx_cert_sha256(ctx));
    assert_int_equal(sign_ctx_key_type(ctx), SIGN_KEY_RSA);
    sign_ctx_free(ctx);
}

/* exc-c14n without comments really does drop comments: the digest over the commented text equals
 * the original's, which is why xverify refuses comments outright instead of trusting the digest. */
static void test_c14n_strips_comments(void **state)
{
    (void)state;
    char *commented = b_comment_in_text();
    xmlDocPtr a = parse(g_good), b = parse(commented);
    xmlChar *ca = NULL, *cb = NULL;
    int na = xmlC14NDocDumpMemory(a, NULL, XML_C14N_EXCLUSIVE_1_0, NULL, 0, &ca);
    int nb = xmlC14NDocDumpMemory(b, NULL, XML_C14N_EXCLUSIVE_1_0, NULL, 0, &cb);
    assert_true(na > 0);
    assert_int_equal(na, nb);
    assert_memory_equal(ca, cb, (size_t)na);
    xmlFree(ca);
    xmlFree(cb);
    xmlFreeDoc(a);
    xmlFreeDoc(b);
    free(commented);
}

static void test_ctx_errors(void **state)
{
    (void)state;
    sign_ctx *ctx = (sign_ctx *)&ctx;   /* must stay untouched on error */
    sign_ctx *const sentinel = ctx;
    char why[200] = "";
    /* key of one cert, certificate of another */
    assert_int_equal(sign_ctx_new(cert_path("ward-20257", "key"), cert_path("ward-20242", "crt"),
                                  &ctx, why, sizeof(why)), MC_ERR_CONFIG);
    assert_ptr_equal(ctx, sentinel);
    assert_non_null(strstr(why, "does not match"));
    /* TLS certificate: no nonRepudiation */
    assert_int_equal(sign_ctx_new(cert_path("localhost", "key"), cert_path("localhost", "crt"), &ctx,
                                  why, sizeof(why)), MC_ERR_CONFIG);
    assert_int_equal(sign_ctx_new("/nonexistent.key", cert_path("localhost", "crt"), &ctx, why,
                                  sizeof(why)), MC_ERR_CONFIG);
    assert_ptr_equal(ctx, sentinel);

    /* bad fields */
    sign_ctx *good = NULL;
    assert_int_equal(sign_ctx_new(cert_path("ward-20242-ec", "key"),
                                  cert_path("ward-20242-ec", "crt"), &good, why, sizeof(why)), MC_OK);
    assert_int_equal(sign_ctx_key_type(good), SIGN_KEY_EC_P256);
    char *out = (char *)sentinel;
    size_t len = 7;
    struct { const char *field; sign_result_fields f; } bad[6];
    for (size_t i = 0; i < 6; i++)
        bad[i].f = base_fields();
    bad[0].field = "holder_personal_id"; bad[0].f.holder_personal_id = "04820500123";
    bad[1].field = "result_id"; bad[1].f.result_id = "KQ 1";
    bad[2].field = "valid_until"; bad[2].f.valid_until = "2025-13-01";
    bad[3].field = "holder_full_name"; bad[3].f.holder_full_name = "a\001b";
    bad[4].field = "holder_full_name"; bad[4].f.holder_full_name = "\xff\xfe";
    bad[5].field = "issuer_name"; bad[5].f.issuer_name = NULL;
    for (size_t i = 0; i < 6; i++) {
        why[0] = '\0';
        assert_int_equal(sign_result(good, &bad[i].f, g_now, &out, &len, why, sizeof(why)),
                         MC_ERR_BAD_REQUEST);
        assert_non_null(strstr(why, bad[i].field));
        assert_ptr_equal(out, sentinel);
        assert_int_equal(len, 7);
    }
    /* sign_ctx_dup gives an independent working context */
    sign_ctx *dup = NULL;
    assert_int_equal(sign_ctx_dup(good, &dup, why, sizeof(why)), MC_OK);
    sign_ctx_free(good);
    sign_result_fields f = base_fields();
    f.valid_until = "2030-12-31";
    assert_int_equal(sign_result(dup, &f, g_now, &out, &len, why, sizeof(why)), MC_OK);
    xverify_report rep;
    assert_int_equal(verify(out, &rep), XVERIFY_OK);
    assert_string_equal(rep.valid_until, "2030-12-31");
    free(out);
    sign_ctx_free(dup);
    sign_ctx_free(NULL);
    xverify_trust_free(NULL);
}

static void test_slugs_unique(void **state)
{
    (void)state;
    for (int i = 0; i < XVERIFY__COUNT; i++) {
        assert_string_not_equal(xverify_reason_slug((xverify_reason)i), "unknown");
        for (int j = 0; j < i; j++)
            assert_string_not_equal(xverify_reason_slug((xverify_reason)i),
                                    xverify_reason_slug((xverify_reason)j));
    }
    assert_string_equal(xverify_reason_slug(XVERIFY__COUNT), "unknown");
}

/* ---- interop with the xmlsec1 command line --------------------------------------------------- */

static char g_tmp[512];

static char *write_tmp(const char *name, const char *xml)
{
    static char path[640];
    snprintf(path, sizeof(path), "%s/%s", g_tmp, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(xml, 1, strlen(xml), f), strlen(xml));
    fclose(f);
    return path;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    assert_true(n > 0);
    return buf;
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int xmlsec1_verify(const char *file)
{
    return run("'%s' --verify --trusted-pem '%s' --id-attr:Id urn:motcua:result:1:result '%s' "
               ">/dev/null 2>&1", g_xmlsec1, cert_path("ca", "crt"), file);
}

static void test_interop_motcua_to_xmlsec1(void **state)
{
    (void)state;
    assert_int_equal(xmlsec1_verify(write_tmp("rsa.xml", g_good)), 0);
    assert_int_equal(xmlsec1_verify(write_tmp("ec.xml", g_good_ec)), 0);
    /* and xmlsec1 refuses what we refuse for content reasons */
    char *bad = b_altered_content();
    assert_int_not_equal(xmlsec1_verify(write_tmp("altered.xml", bad)), 0);
    free(bad);
    bad = b_evil_ca();
    assert_int_not_equal(xmlsec1_verify(write_tmp("evil.xml", bad)), 0);
    free(bad);
}

/* The comment case, documented: xmlsec1 alone accepts it (exc-c14n drops comments), xverify
 * refuses it with comment-forbidden. */
static void test_interop_comment(void **state)
{
    (void)state;
    char *c = b_comment_in_text();
    xverify_report rep;
    assert_int_equal(xmlsec1_verify(write_tmp("comment.xml", c)), 0);
    assert_int_equal(verify(c, &rep), XVERIFY_COMMENT_FORBIDDEN);
    free(c);
}

static void xmlsec1_sign_and_verify(const char *ward, const char *alg)
{
    char *tmpl = read_file("tests/sign/fixtures/result-template.xml");
    char when[40], *p;
    /* strip the explanatory comment, fill the placeholders */
    char *c0 = strstr(tmpl, "<!--"), *c1 = strstr(tmpl, "-->");
    assert_true(c0 && c1);
    memmove(c0, c1 + 4, strlen(c1 + 4) + 1);
    assert_true(sign_format_time(g_now, when, sizeof(when)));
    size_t cap = strlen(tmpl) + 256;
    char *filled = malloc(cap);
    p = strstr(tmpl, "@SIGNING_TIME@");
    char *q = strstr(tmpl, "@SIGALG@");
    assert_true(p && q && p < q);
    *p = '\0';
    *q = '\0';
    snprintf(filled, cap, "%s%s%s%s%s", tmpl, when, p + strlen("@SIGNING_TIME@"), alg,
             q + strlen("@SIGALG@"));
    char in[640], out[640];
    snprintf(in, sizeof(in), "%s", write_tmp("tmpl.xml", filled));
    snprintf(out, sizeof(out), "%s/signed-by-xmlsec1.xml", g_tmp);
    assert_int_equal(run("'%s' --sign --privkey-pem '%s,%s' --id-attr:Id urn:motcua:result:1:result "
                         "--output '%s' '%s' 2>/dev/null", g_xmlsec1, cert_path(ward, "key"),
                         cert_path(ward, "crt"), out, in), 0);
    char *signed_xml = read_file(out);
    xverify_report rep;
    if (verify(signed_xml, &rep) != XVERIFY_OK)
        fail_msg("xmlsec1-signed document refused: %s (%s)", rep.slug, rep.why);
    assert_string_equal(rep.result_type, "KQ.G15.000031");
    assert_string_equal(rep.holder_full_name, "Trần Thị Bích");
    assert_int_equal(rep.field_count, 2);
    free(signed_xml);
    free(filled);
    free(tmpl);
}

static void test_interop_xmlsec1_to_motcua(void **state)
{
    (void)state;
    xmlsec1_sign_and_verify("ward-20242", "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256");
    xmlsec1_sign_and_verify("ward-20242-ec", "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256");
}

/* ---- main ----------------------------------------------------------------------------------- */

static int suite_setup(void **state)
{
    (void)state;
    char why[256] = "";
    sign_ctx *ctx = NULL;
    if (xverify_trust_new(cert_path("ca", "crt"), cert_path("crl", "pem"), "schemas/result.xsd",
                          &g_trust, why, sizeof(why)) != MC_OK) {
        fprintf(stderr, "trust: %s\n", why);
        return -1;
    }
    xverify_trust_set_revoked_cb(g_trust, revoked_cb, NULL);
    /* the callback revokes ward-20275 only */
    if (sign_ctx_new(cert_path("ward-20275", "key"), cert_path("ward-20275", "crt"), &ctx, why,
                     sizeof(why)) != MC_OK)
        return -1;
    snprintf(g_revoked_fp, sizeof(g_revoked_fp), "%s", sign_ctx_cert_sha256(ctx));
    sign_ctx_free(ctx);
    g_now = time(NULL);
    g_good = sign_as("ward-20242", g_now);
    g_good_ec = sign_as("ward-20242-ec", g_now);
    return 0;
}

static int suite_teardown(void **state)
{
    (void)state;
    free(g_good);
    free(g_good_ec);
    xverify_trust_free(g_trust);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s CERTDIR cases|interop [xmlsec1]\n", argv[0]);
        return 2;
    }
    g_certs = argv[1];
    if (sign_global_init() != MC_OK)
        return 1;
    int rc;
    if (strcmp(argv[2], "interop") == 0) {
        g_xmlsec1 = argc > 3 ? argv[3] : "xmlsec1";
        snprintf(g_tmp, sizeof(g_tmp), "%s/interop", g_certs);
        if (run("mkdir -p '%s'", g_tmp) != 0)
            return 1;
        const struct CMUnitTest t[] = {
            cmocka_unit_test(test_interop_motcua_to_xmlsec1),
            cmocka_unit_test(test_interop_comment),
            cmocka_unit_test(test_interop_xmlsec1_to_motcua),
        };
        rc = cmocka_run_group_tests_name("sign.interop", t, suite_setup, suite_teardown);
    } else {
        enum { NCASES = sizeof(g_cases) / sizeof(g_cases[0]) };
        struct CMUnitTest t[NCASES + 4];
        for (size_t i = 0; i < NCASES; i++)
            t[i] = (struct CMUnitTest){g_cases[i].name, run_case, NULL, NULL, (void *)&g_cases[i]};
        t[NCASES] = (struct CMUnitTest)cmocka_unit_test(test_report_fields);
        t[NCASES + 1] = (struct CMUnitTest)cmocka_unit_test(test_c14n_strips_comments);
        t[NCASES + 2] = (struct CMUnitTest)cmocka_unit_test(test_ctx_errors);
        t[NCASES + 3] = (struct CMUnitTest)cmocka_unit_test(test_slugs_unique);
        rc = _cmocka_run_group_tests("sign.cases", t, NCASES + 4, suite_setup, suite_teardown);
    }
    sign_global_shutdown();
    return rc;
}
