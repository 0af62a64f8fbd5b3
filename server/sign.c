/* sign.c - XML-DSig signing of result documents with a ward key loaded once per context.
 * Builds <result Id="R-..."> from fields, appends <signingTime> inside the signed root, then one
 * enveloped ds:Signature (exc-c14n, RSA-SHA256 / ECDSA-P256-SHA256, SHA-256, X509Certificate). */
#include "sign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/valid.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>
#include <xmlsec/base64.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/templates.h>
#include <xmlsec/crypto.h>
#include <xmlsec/errors.h>
#include <xmlsec/openssl/evp.h>

struct sign_ctx {
    xmlSecKeyPtr key;          /* private key + X509 key data holding the signer cert */
    X509 *cert;                /* our own reference, for dup and checks */
    EVP_PKEY *pkey;            /* our own reference, for dup */
    sign_key_type type;
    char cert_sha256[65];
    xmlChar *cert_b64;         /* base64 DER of cert, written into every KeyInfo */
};

static int g_init_count;

mc_err sign_global_init(void)
{
    if (g_init_count++ > 0)
        return MC_OK;
    xmlInitParser();
    LIBXML_TEST_VERSION
    /* Unlike xmlsec's examples we do NOT turn on entity substitution or DTD loading: the same
     * process parses untrusted documents. */
    if (xmlSecInit() < 0)
        goto fail;
    if (xmlSecCheckVersion() != 1)
        goto fail_xmlsec;
    if (xmlSecCryptoAppInit(NULL) < 0)
        goto fail_xmlsec;
    if (xmlSecCryptoInit() < 0)
        goto fail_app;
    /* Reasons are reported to callers; xmlsec's stderr chatter on hostile input is noise. */
    xmlSecErrorsDefaultCallbackEnableOutput(0);
    return MC_OK;

fail_app:
    xmlSecCryptoAppShutdown();
fail_xmlsec:
    xmlSecShutdown();
fail:
    g_init_count = 0;
    return MC_ERR_INTERNAL;
}

void sign_global_shutdown(void)
{
    if (g_init_count == 0 || --g_init_count > 0)
        return;
    xmlSecCryptoShutdown();
    xmlSecCryptoAppShutdown();
    xmlSecShutdown();
    xmlCleanupParser();
}

static void hex_sha256_cert(X509 *cert, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    out[0] = '\0';
    if (X509_digest(cert, EVP_sha256(), md, &n) != 1 || n != 32)
        return;
    for (unsigned int i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Wrap pkey (up-referenced here) into a new xmlsec key. The certificate is not given to xmlsec:
 * we write KeyInfo ourselves from a cached encoding (see sign_document). */
static xmlSecKeyPtr make_xmlsec_key(EVP_PKEY *pkey)
{
    xmlSecKeyPtr key = NULL;
    xmlSecKeyDataPtr kdata = NULL;

    if (EVP_PKEY_up_ref(pkey) != 1)
        return NULL;
    kdata = xmlSecOpenSSLEvpKeyAdopt(pkey);
    if (kdata == NULL) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    key = xmlSecKeyCreate();
    if (key == NULL || xmlSecKeySetValue(key, kdata) < 0) {
        xmlSecKeyDataDestroy(kdata);
        if (key != NULL)
            xmlSecKeyDestroy(key);
        return NULL;
    }
    return key;
}

/* Base64 of the certificate's DER, broken into 64-column lines as xmlsec writes it. */
static xmlChar *cert_base64(X509 *cert)
{
    unsigned char *der = NULL;
    int n = i2d_X509(cert, &der);
    xmlChar *b64 = NULL;
    if (n > 0)
        b64 = xmlSecBase64Encode(der, (xmlSecSize)n, 64);
    OPENSSL_free(der);
    return b64;
}

static mc_err check_key_cert(EVP_PKEY *pkey, X509 *cert, sign_key_type *type, char *why,
                             size_t whycap)
{
    int id = EVP_PKEY_get_base_id(pkey);

    if (id == EVP_PKEY_RSA) {
        if (EVP_PKEY_get_bits(pkey) < 2048) {
            mc_why_detail(why, whycap, "RSA key shorter than 2048 bits", NULL);
            return MC_ERR_CONFIG;
        }
        *type = SIGN_KEY_RSA;
    } else if (id == EVP_PKEY_EC) {
        char curve[64] = "";
        size_t clen = 0;
        if (EVP_PKEY_get_utf8_string_param(pkey, "group", curve, sizeof(curve), &clen) != 1 ||
            strcmp(curve, "prime256v1") != 0) {
            mc_why_detail(why, whycap, "EC key is not on P-256", NULL);
            return MC_ERR_CONFIG;
        }
        *type = SIGN_KEY_EC_P256;
    } else {
        mc_why_detail(why, whycap, "key is neither RSA nor EC P-256", NULL);
        return MC_ERR_CONFIG;
    }
    if (X509_check_private_key(cert, pkey) != 1) {
        mc_why_detail(why, whycap, "private key does not match the certificate", NULL);
        return MC_ERR_CONFIG;
    }
    uint32_t ku = X509_get_key_usage(cert);
    if (!(X509_get_extension_flags(cert) & EXFLAG_KUSAGE) ||
        (ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)) !=
            (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)) {
        mc_why_detail(why, whycap, "certificate lacks digitalSignature+nonRepudiation key usage", NULL);
        return MC_ERR_CONFIG;
    }
    return MC_OK;
}

static mc_err ctx_from(EVP_PKEY *pkey, X509 *cert, sign_ctx **out, char *why, size_t whycap)
{
    sign_ctx *ctx = NULL;
    sign_key_type type = SIGN_KEY_RSA;
    mc_err err = check_key_cert(pkey, cert, &type, why, whycap);

    if (err != MC_OK)
        return err;
    ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL)
        return MC_ERR_NOMEM;
    ctx->type = type;
    ctx->key = make_xmlsec_key(pkey);
    ctx->cert_b64 = cert_base64(cert);
    if (ctx->key == NULL || ctx->cert_b64 == NULL) {
        if (ctx->key != NULL)
            xmlSecKeyDestroy(ctx->key);
        xmlFree(ctx->cert_b64);
        free(ctx);
        mc_why_detail(why, whycap, "xmlsec could not take the key", NULL);
        return MC_ERR_INTERNAL;
    }
    EVP_PKEY_up_ref(pkey);
    X509_up_ref(cert);
    ctx->pkey = pkey;
    ctx->cert = cert;
    hex_sha256_cert(cert, ctx->cert_sha256);
    *out = ctx;
    return MC_OK;
}

mc_err sign_ctx_new(const char *key_path, const char *cert_path, sign_ctx **out, char *why,
                    size_t whycap)
{
    FILE *f = NULL;
    EVP_PKEY *pkey = NULL;
    X509 *cert = NULL;
    mc_err err = MC_ERR_CONFIG;

    if (key_path == NULL || cert_path == NULL || out == NULL) {
        mc_why_detail(why, whycap, "missing argument", NULL);
        return MC_ERR_INTERNAL;
    }
    f = fopen(key_path, "r");
    if (f == NULL) {
        mc_why_detail(why, whycap, "cannot open signing key", key_path);
        goto out;
    }
    pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (pkey == NULL) {
        mc_why_detail(why, whycap, "not a PEM private key (or encrypted)", key_path);
        goto out;
    }
    f = fopen(cert_path, "r");
    if (f == NULL) {
        mc_why_detail(why, whycap, "cannot open signing certificate", cert_path);
        goto out;
    }
    cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (cert == NULL) {
        mc_why_detail(why, whycap, "not a PEM certificate", cert_path);
        goto out;
    }
    err = ctx_from(pkey, cert, out, why, whycap);
out:
    EVP_PKEY_free(pkey);
    X509_free(cert);
    return err;
}

mc_err sign_ctx_dup(const sign_ctx *ctx, sign_ctx **out, char *why, size_t whycap)
{
    EVP_PKEY *copy = NULL;
    X509 *cert = NULL;
    mc_err err;

    if (ctx == NULL || out == NULL)
        return MC_ERR_INTERNAL;
    /* A private copy of the key: threads sharing one RSA object contend on its blinding lock. */
    copy = EVP_PKEY_dup(ctx->pkey);
    cert = X509_dup(ctx->cert);
    if (copy == NULL || cert == NULL) {
        err = MC_ERR_NOMEM;
        goto out;
    }
    err = ctx_from(copy, cert, out, why, whycap);
out:
    EVP_PKEY_free(copy);
    X509_free(cert);
    return err;
}

void sign_ctx_free(sign_ctx *ctx)
{
    if (ctx == NULL)
        return;
    if (ctx->key != NULL)
        xmlSecKeyDestroy(ctx->key);
    EVP_PKEY_free(ctx->pkey);
    X509_free(ctx->cert);
    xmlFree(ctx->cert_b64);
    free(ctx);
}

sign_key_type sign_ctx_key_type(const sign_ctx *ctx)
{
    return ctx->type;
}

const char *sign_ctx_cert_sha256(const sign_ctx *ctx)
{
    return ctx->cert_sha256;
}

bool sign_format_time(time_t t, char *buf, size_t cap)
{
    struct tm tm;
    time_t local = t + 7 * 3600;         /* Asia/Ho_Chi_Minh has had no DST since 1975 */

    if (gmtime_r(&local, &tm) == NULL)
        return false;
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S+07:00", &tm);
    return n > 0;
}

static bool is_result_root(xmlNodePtr n)
{
    return n != NULL && n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, BAD_CAST SIGN_RESULT_ROOT) &&
           n->ns != NULL && xmlStrEqual(n->ns->href, BAD_CAST SIGN_RESULT_NS);
}

mc_err sign_document(sign_ctx *ctx, xmlDocPtr doc, time_t signing_time, char **out,
                     size_t *out_len, char *why, size_t whycap)
{
    xmlNodePtr root, sig = NULL, ref, ki, x509, certnode;
    xmlAttrPtr idattr;
    xmlChar *id = NULL, *buf = NULL;
    char uri[160], when[40];
    int buflen = 0;
    xmlSecDSigCtx dctx;
    bool dctx_ready = false;
    mc_err err = MC_ERR_INTERNAL;

    if (ctx == NULL || doc == NULL || out == NULL || out_len == NULL)
        return MC_ERR_INTERNAL;
    root = xmlDocGetRootElement(doc);
    if (!is_result_root(root)) {
        mc_why_detail(why, whycap, "root is not {" SIGN_RESULT_NS "}" SIGN_RESULT_ROOT, NULL);
        return MC_ERR_BAD_REQUEST;
    }
    idattr = xmlHasNsProp(root, BAD_CAST "Id", NULL);
    id = idattr ? xmlNodeGetContent((xmlNodePtr)idattr) : NULL;
    if (id == NULL || id[0] == '\0' || xmlStrlen(id) > 128) {
        mc_why_detail(why, whycap, "root has no usable Id attribute", NULL);
        err = MC_ERR_BAD_REQUEST;
        goto out;
    }
    for (xmlNodePtr c = root->children; c != NULL; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && (xmlStrEqual(c->name, BAD_CAST "Signature") ||
                                            xmlStrEqual(c->name, BAD_CAST "signingTime"))) {
            mc_why_detail(why, whycap, "document already has a Signature or signingTime", NULL);
            err = MC_ERR_BAD_REQUEST;
            goto out;
        }
    }
    /* The signing time lives inside the signed root: one Reference covers it (docs/signing.md). */
    if (!sign_format_time(signing_time, when, sizeof(when)) ||
        xmlNewTextChild(root, root->ns, BAD_CAST "signingTime", BAD_CAST when) == NULL)
        goto out;

    sig = xmlSecTmplSignatureCreateNsPref(doc, xmlSecTransformExclC14NId,
                                          ctx->type == SIGN_KEY_RSA ? xmlSecTransformRsaSha256Id
                                                                    : xmlSecTransformEcdsaSha256Id,
                                          NULL, BAD_CAST "ds");
    if (sig == NULL)
        goto out;
    if (xmlAddChild(root, sig) == NULL) {
        xmlFreeNode(sig);
        goto out;
    }
    snprintf(uri, sizeof(uri), "#%s", (const char *)id);
    ref = xmlSecTmplSignatureAddReference(sig, xmlSecTransformSha256Id, NULL, BAD_CAST uri, NULL);
    if (ref == NULL || xmlSecTmplReferenceAddTransform(ref, xmlSecTransformEnvelopedId) == NULL ||
        xmlSecTmplReferenceAddTransform(ref, xmlSecTransformExclC14NId) == NULL)
        goto out;
    /* xmlsec resolves "#Id" through the document's ID table: register the root's Id only. */
    if (xmlGetID(doc, id) == NULL && xmlAddID(NULL, doc, id, idattr) == NULL)
        goto out;

    if (xmlSecDSigCtxInitialize(&dctx, NULL) < 0)
        goto out;
    dctx_ready = true;
    dctx.enabledReferenceUris = xmlSecTransformUriTypeSameDocument;
    /* Borrow the context's key for this one operation; taken back before finalize frees it. */
    dctx.signKey = ctx->key;
    int rc = xmlSecDSigCtxSign(&dctx, sig);
    dctx.signKey = NULL;
    if (rc < 0 || dctx.status != xmlSecDSigStatusSucceeded) {
        mc_why_detail(why, whycap, "xmlsec signing failed", NULL);
        goto out;
    }
    /* KeyInfo is outside what the signature covers (the enveloped transform drops the whole
     * Signature), so it is added after signing, from the encoding cached in ctx. */
    ki = xmlSecTmplSignatureEnsureKeyInfo(sig, NULL);
    x509 = ki ? xmlSecTmplKeyInfoAddX509Data(ki) : NULL;
    certnode = x509 ? xmlSecTmplX509DataAddCertificate(x509) : NULL;
    if (certnode == NULL)
        goto out;
    xmlNodeAddContent(certnode, BAD_CAST "\n");
    xmlNodeAddContent(certnode, ctx->cert_b64);
    xmlNodeAddContent(certnode, BAD_CAST "\n");
    xmlDocDumpMemoryEnc(doc, &buf, &buflen, "UTF-8");
    if (buf == NULL || buflen <= 0) {
        err = MC_ERR_NOMEM;
        goto out;
    }
    char *copy = malloc((size_t)buflen + 1);
    if (copy == NULL) {
        err = MC_ERR_NOMEM;
        goto out;
    }
    memcpy(copy, buf, (size_t)buflen);
    copy[buflen] = '\0';
    *out = copy;
    *out_len = (size_t)buflen;
    err = MC_OK;
out:
    if (dctx_ready)
        xmlSecDSigCtxFinalize(&dctx);
    xmlFree(buf);
    xmlFree(id);
    return err;
}

/* Printable UTF-8 within cap, no control characters XML 1.0 cannot carry. */
static bool text_ok(const char *s, size_t cap)
{
    if (s == NULL)
        return false;
    size_t n = strnlen(s, cap + 1);
    if (n == 0 || n > cap)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
            return false;
    }
    return xmlCheckUTF8((const unsigned char *)s) != 0;
}

static bool charset_ok(const char *s, const char *allowed, size_t min, size_t max)
{
    size_t n = s ? strnlen(s, max + 1) : 0;
    if (n < min || n > max)
        return false;
    return strspn(s, allowed) == n;
}

static bool date_ok(const char *s)
{
    int y, m, d;
    char tail;
    return s != NULL && strlen(s) == 10 && sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3 &&
           s[4] == '-' && s[7] == '-' && y >= 1900 && m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

static mc_err check_fields(const sign_result_fields *f, char *why, size_t whycap)
{
    static const char idchars[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";
    const char *bad = NULL;

    if (!charset_ok(f->result_id, idchars, 1, 64))
        bad = "result_id";
    else if (!charset_ok(f->result_type, idchars, 1, 64))
        bad = "result_type";
    else if (!charset_ok(f->procedure, idchars, 1, 64))
        bad = "procedure";
    else if (!charset_ok(f->dossier_code, idchars, 1, 64))
        bad = "dossier_code";
    else if (!charset_ok(f->issuer_agency_id, idchars, 1, 64))
        bad = "issuer_agency_id";
    else if (!text_ok(f->issuer_name, SIGN_MAX_TEXT - 1))
        bad = "issuer_name";
    else if (!charset_ok(f->holder_personal_id, "0123456789", 12, 12))
        bad = "holder_personal_id";
    else if (!text_ok(f->holder_full_name, SIGN_MAX_TEXT - 1))
        bad = "holder_full_name";
    else if (f->valid_until != NULL && !date_ok(f->valid_until))
        bad = "valid_until";
    else if (f->content_count > SIGN_MAX_FIELDS || (f->content_count > 0 && f->content == NULL))
        bad = "content";
    for (size_t i = 0; bad == NULL && i < f->content_count; i++) {
        if (!text_ok(f->content[i].name, 127) || !text_ok(f->content[i].value, SIGN_MAX_TEXT - 1))
            bad = "content field";
    }
    if (bad != NULL) {
        mc_why_detail(why, whycap, "invalid or missing value", bad);
        return MC_ERR_BAD_REQUEST;
    }
    return MC_OK;
}

static bool add_text(xmlNodePtr parent, const char *name, const char *value)
{
    return xmlNewTextChild(parent, parent->ns, BAD_CAST name, BAD_CAST value) != NULL;
}

mc_err sign_result(sign_ctx *ctx, const sign_result_fields *f, time_t signing_time, char **out,
                   size_t *out_len, char *why, size_t whycap)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr root, issuer, holder, content;
    xmlNsPtr ns;
    char id[80], issued[40];
    mc_err err;

    if (ctx == NULL || f == NULL || out == NULL || out_len == NULL)
        return MC_ERR_INTERNAL;
    err = check_fields(f, why, whycap);
    if (err != MC_OK)
        return err;
    if (!sign_format_time(f->issued_at, issued, sizeof(issued))) {
        mc_why_detail(why, whycap, "invalid or missing value", "issued_at");
        return MC_ERR_BAD_REQUEST;
    }
    snprintf(id, sizeof(id), "R-%s", f->result_id);

    err = MC_ERR_NOMEM;
    doc = xmlNewDoc(BAD_CAST "1.0");
    root = doc ? xmlNewDocNode(doc, NULL, BAD_CAST SIGN_RESULT_ROOT, NULL) : NULL;
    if (root == NULL)
        goto out;
    xmlDocSetRootElement(doc, root);
    ns = xmlNewNs(root, BAD_CAST SIGN_RESULT_NS, NULL);
    if (ns == NULL)
        goto out;
    xmlSetNs(root, ns);
    if (xmlNewProp(root, BAD_CAST "Id", BAD_CAST id) == NULL)
        goto out;
    if (!add_text(root, "resultId", f->result_id) || !add_text(root, "resultType", f->result_type) ||
        !add_text(root, "procedure", f->procedure) || !add_text(root, "dossierCode", f->dossier_code))
        goto out;
    issuer = xmlNewChild(root, ns, BAD_CAST "issuer", NULL);
    if (issuer == NULL || !add_text(issuer, "agencyId", f->issuer_agency_id) ||
        !add_text(issuer, "name", f->issuer_name))
        goto out;
    holder = xmlNewChild(root, ns, BAD_CAST "holder", NULL);
    if (holder == NULL || !add_text(holder, "personalId", f->holder_personal_id) ||
        !add_text(holder, "fullName", f->holder_full_name))
        goto out;
    content = xmlNewChild(root, ns, BAD_CAST "content", NULL);
    if (content == NULL)
        goto out;
    for (size_t i = 0; i < f->content_count; i++) {
        xmlNodePtr fld = xmlNewTextChild(content, ns, BAD_CAST "field", BAD_CAST f->content[i].value);
        if (fld == NULL || xmlNewProp(fld, BAD_CAST "name", BAD_CAST f->content[i].name) == NULL)
            goto out;
    }
    if (!add_text(root, "issuedAt", issued))
        goto out;
    if (f->valid_until != NULL && !add_text(root, "validUntil", f->valid_until))
        goto out;
    err = sign_document(ctx, doc, signing_time, out, out_len, why, whycap);
out:
    xmlFreeDoc(doc);
    return err;
}
