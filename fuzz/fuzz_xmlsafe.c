/* fuzz_xmlsafe.c - hostile bytes through the hardened parser (xmlsafe_parse), then, on what it accepts,
 * the dossier extraction that must refuse (never crash on) any document: dossier_xml_procedure,
 * dossier_xml_extract, dossier_xml_declared_fields. No XSD here (fuzz_dossier does the whole intake). */
#include <libxml/parser.h>

#include "dossier_xml.h"
#include "fuzz.h"
#include "xmlsafe.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    xmlInitParser();
    return 0;
}

static void check_person(const dossier_person *p)
{
    if (!fuzz_text_ok(p->role, sizeof(p->role)) || !fuzz_text_ok(p->pid, sizeof(p->pid)) ||
        !fuzz_text_ok(p->full_name, sizeof(p->full_name)) ||
        !fuzz_text_ok(p->birth_date, sizeof(p->birth_date)))
        fuzz_fail("person field not terminated or not UTF-8");
    if (p->gender != 0 && p->gender != 'M' && p->gender != 'F')
        fuzz_fail("gender %d", p->gender);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static dossier_doc d; /* ~40 KiB: not on the stack */
    xmlDocPtr doc = NULL;
    char why[512], code[DOSSIER_CODE_CAP];

    memset(why, 'x', sizeof(why));
    mc_err rc = xmlsafe_parse((const char *)data, size, NULL, &doc, why, sizeof(why));
    /* The contract: a document exactly on success, and why always valid, terminated UTF-8. */
    if ((rc == MC_OK) != (doc != NULL))
        fuzz_fail("rc %d with doc %p", rc, (void *)doc);
    if (!fuzz_text_ok(why, sizeof(why)))
        fuzz_fail("why is not terminated UTF-8 (rc %d)", rc);
    if (rc == MC_OK && why[0] != '\0')
        fuzz_fail("why \"%s\" on success", why);
    if (rc != MC_OK && rc != MC_ERR_XML_MALFORMED && rc != MC_ERR_XML_FORBIDDEN && rc != MC_ERR_XML_LIMIT &&
        rc != MC_ERR_TOO_LARGE)
        fuzz_fail("unexpected rc %d (%s)", rc, why);
    if (!doc)
        return 0;

    if (dossier_xml_procedure(doc, code, sizeof(code)) == MC_OK && strlen(code) != 8)
        fuzz_fail("procedure code \"%s\"", code);
    rc = dossier_xml_extract(doc, &d, why, sizeof(why));
    if (rc == MC_OK) {
        check_person(&d.applicant);
        if (d.n_persons > DOSSIER_MAX_PERSONS || d.n_components > DOSSIER_MAX_COMPONENTS)
            fuzz_fail("counts %zu %zu", d.n_persons, d.n_components);
        for (size_t i = 0; i < d.n_persons; i++)
            check_person(&d.persons[i]);
        /* The summary goes into the JSON receipt: it must be UTF-8 or the receipt loses it. */
        if (!fuzz_text_ok(d.summary, sizeof(d.summary)) || !fuzz_text_ok(d.address, sizeof(d.address)))
            fuzz_fail("summary or address not terminated UTF-8");
    } else if (rc != MC_ERR_XSD_INVALID) {
        fuzz_fail("extract rc %d", rc);
    }
    (void)dossier_xml_declared_fields(doc);
    xmlFreeDoc(doc);
    return 0;
}
