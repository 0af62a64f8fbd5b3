/* fuzz_xverify.c - the strict verifier (xverify_result) on hostile signed XML, without a database: the
 * trust anchor is fuzz/xverify-ca.pem (a development CA made by certs/mkdev-ca.sh; its key was thrown
 * away) and the seeds in corpus/xverify were signed by its ward certificates, so mutations reach every
 * stage: parse, wrapping checks, signature shape, fields, certificate, crypto, result XSD. */
#include "fuzz.h"
#include "sign.h"
#include "xverify.h"

static xverify_trust *g_trust;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char why[256];
    (void)argc, (void)argv;
    if (sign_global_init() != MC_OK)
        fuzz_fail("sign_global_init");
    if (xverify_trust_new(MOTCUA_SOURCE_DIR "/fuzz/xverify-ca.pem", NULL, MOTCUA_SOURCE_DIR "/schemas/result.xsd",
                          &g_trust, why, sizeof(why)) != MC_OK)
        fuzz_fail("trust: %s", why);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static xverify_report rep;
    mc_err rc = xverify_result(g_trust, (const char *)data, size, &rep);
    if (!rep.slug || rep.reason >= XVERIFY__COUNT || strcmp(rep.slug, xverify_reason_slug(rep.reason)) != 0)
        fuzz_fail("reason %d slug %s", rep.reason, rep.slug ? rep.slug : "(null)");
    if ((rc == MC_OK) != (rep.reason == XVERIFY_OK))
        fuzz_fail("rc %d with reason %s", rc, rep.slug);
    if (!fuzz_text_ok(rep.why, sizeof(rep.why)) || !fuzz_text_ok(rep.cert_subject, sizeof(rep.cert_subject)))
        fuzz_fail("why or subject not terminated UTF-8");
    if (rc != MC_OK) {
        if (rep.result_id[0] || rep.holder_full_name[0] || rep.field_count)
            fuzz_fail("refused (%s) but result fields kept", rep.slug);
        return 0;
    }
    if (rep.field_count > XVERIFY_MAX_FIELDS || !fuzz_text_ok(rep.result_id, sizeof(rep.result_id)) ||
        !fuzz_text_ok(rep.holder_full_name, sizeof(rep.holder_full_name)) ||
        !fuzz_text_ok(rep.issuer_name, sizeof(rep.issuer_name)))
        fuzz_fail("accepted report malformed");
    for (size_t i = 0; i < rep.field_count; i++)
        if (!fuzz_text_ok(rep.fields[i].name, sizeof(rep.fields[i].name)) ||
            !fuzz_text_ok(rep.fields[i].value, sizeof(rep.fields[i].value)))
            fuzz_fail("field %zu malformed", i);
    return 0;
}
