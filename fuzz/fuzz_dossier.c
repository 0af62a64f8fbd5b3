/* fuzz_dossier.c - the refusal path of POST /v1/dossiers without the database (intake.c's check()):
 * hardened parse, procedure, XSD validation against the real catalog in schemas/, extraction, unit,
 * personal-ID checks, component plan, fee and due time. Every refusal must be one of the documented
 * errors, and validation errors must come back as JSON (a NOMEM here is a bug: nothing runs out). */
#include <jansson.h>
#include <libxml/parser.h>

#include "calendar.h"
#include "catalog.h"
#include "dossier_xml.h"
#include "fuzz.h"
#include "pid.h"
#include "xmlsafe.h"

static catalog *g_cat;
static calendar *g_cal;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char why[512];
    (void)argc, (void)argv;
    xmlInitParser();
    if (catalog_load(MOTCUA_SOURCE_DIR "/schemas", &g_cat, why, sizeof(why)) != MC_OK)
        fuzz_fail("catalog: %s", why);
    g_cal = calendar_new();
    if (!g_cal || calendar_load_file(g_cal, MOTCUA_SOURCE_DIR "/schemas/calendar/holidays-vn.txt", why,
                                     sizeof(why)) != MC_OK)
        fuzz_fail("calendar: %s", why);
    return 0;
}

static void check_errors(json_t *errors)
{
    size_t i;
    json_t *e;
    if (!json_is_array(errors) || json_array_size(errors) == 0 || json_array_size(errors) > CATALOG_MAX_ERRORS)
        fuzz_fail("errors is not an array of 1..%d", CATALOG_MAX_ERRORS);
    json_array_foreach(errors, i, e) {
        const char *path = json_string_value(json_object_get(e, "path"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        if (!path || path[0] != '/' || !msg || !json_is_integer(json_object_get(e, "line")))
            fuzz_fail("error %zu malformed", i);
    }
    char *dump = json_dumps(errors, JSON_COMPACT);
    if (!dump)
        fuzz_fail("errors do not serialise");
    free(dump);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static dossier_doc d;
    xmlDocPtr doc = NULL;
    json_t *errors = NULL;
    const catalog_proc *p;
    catalog_plan_list plan;
    char why[512] = "", code[DOSSIER_CODE_CAP];
    mc_err rc;

    if (xmlsafe_parse((const char *)data, size, NULL, &doc, why, sizeof(why)) != MC_OK)
        return 0;
    if (dossier_xml_procedure(doc, code, sizeof(code)) != MC_OK || !(p = catalog_find(g_cat, code)))
        goto done;
    rc = catalog_validate(p, doc, &errors);
    if (rc == MC_ERR_XSD_INVALID) {
        check_errors(errors);
        goto done;
    }
    if (rc != MC_OK)
        fuzz_fail("catalog_validate rc %d", rc);
    /* Valid against the XSD: extraction must then succeed or refuse with a reason. */
    rc = dossier_xml_extract(doc, &d, why, sizeof(why));
    if (rc != MC_OK) {
        if (rc != MC_ERR_XSD_INVALID || !why[0] || !fuzz_text_ok(why, sizeof(why)))
            fuzz_fail("extract rc %d why \"%s\"", rc, why);
        goto done;
    }
    if (!fuzz_text_ok(d.summary, sizeof(d.summary)))
        fuzz_fail("summary not UTF-8");
    (void)catalog_find_unit(g_cat, d.ward);
    (void)pid_check(d.applicant.pid, d.applicant.birth_date, d.applicant.gender, why, sizeof(why));
    for (size_t i = 0; i < d.n_persons; i++) {
        const dossier_person *q = &d.persons[i];
        if (q->pid[0] && q->birth_date[0] && q->gender)
            (void)pid_check(q->pid, q->birth_date, q->gender, why, sizeof(why));
    }
    rc = catalog_plan(p, &d, &plan, why, sizeof(why));
    if (rc == MC_OK) {
        for (size_t i = 0; i < plan.count; i++)
            if (plan.items[i].dossier_index >= (int)d.n_components || !fuzz_text_ok(plan.items[i].ref, DOSSIER_REF_CAP))
                fuzz_fail("plan item %zu", i);
    } else if (rc != MC_ERR_XSD_INVALID || !fuzz_text_ok(why, sizeof(why))) {
        fuzz_fail("plan rc %d", rc);
    }
    long fee = 0;
    (void)catalog_fee_total(&p->fee, d.copies > 0 ? d.copies : 1, d.pages > 0 ? d.pages : 1, &fee);
    calendar_rule rule = {(calendar_rule_kind)p->time_limit.kind, p->time_limit.days};
    (void)calendar_due(g_cal, rule, 1764000000, NULL);
    (void)dossier_xml_declared_fields(doc);
done:
    json_decref(errors);
    xmlFreeDoc(doc);
    return 0;
}
