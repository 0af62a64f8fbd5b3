/* test_catalog.c - the shipped catalog loads and every XSD compiles; procedure facts, units,
 * fees and component plans; broken catalogs are refused naming the bad entry; concurrent
 * validation against the shared compiled schemas. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <libxml/parser.h>

#include "catalog.h"

#define SCHEMAS MOTCUA_SOURCE_DIR "/schemas"
#define SAMPLES MOTCUA_SOURCE_DIR "/tests/samples"

static int setup(void **state)
{
    catalog *cat = NULL;
    char why[512];

    if (catalog_load(SCHEMAS, &cat, why, sizeof(why)) != MC_OK) {
        print_error("catalog_load: %s\n", why);
        return -1;
    }
    *state = cat;
    return 0;
}

static int teardown(void **state)
{
    catalog_free(*state);
    return 0;
}

typedef struct {
    const char *code;
    catalog_rule_kind kind;
    int days;
    bool has_max;
    const char *result_type;
    size_t n_components;
    const char *satisfy; /* per component: U upload, P population, R result */
} proc_case;

static const proc_case procs[] = {
    {"1.001193", CATALOG_RULE_SAME_DAY, 0, false, "KQ.G15.000031", 4, "UUPR"},
    {"1.000656", CATALOG_RULE_SAME_DAY, 0, false, "KQ.G15.000032", 3, "UUP"},
    {"1.004873", CATALOG_RULE_WORKING_DAYS, 3, false, "KQ.G15.000033", 2, "UR"},
    {"1.000894", CATALOG_RULE_SAME_DAY, 0, true, "KQ.G15.000034", 3, "UPR"},
    {"2.000635", CATALOG_RULE_SAME_DAY, 0, false, "KQ.G15.000035", 2, "UP"},
    {"2.000815", CATALOG_RULE_SAME_DAY, 0, false, "KQ.G15.000036", 2, "UU"},
    {"1.004222", CATALOG_RULE_WORKING_DAYS, 7, false, "KQ.G01.000101", 3, "UUP"},
};

static void test_procedures(void **state)
{
    const catalog *cat = *state;

    assert_int_equal(catalog_count(cat), sizeof(procs) / sizeof(procs[0]));
    assert_null(catalog_at(cat, catalog_count(cat)));
    assert_null(catalog_find(cat, "9.999999"));
    assert_null(catalog_find(cat, NULL));
    for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]); i++) {
        const proc_case *c = &procs[i];
        const catalog_proc *p = catalog_find(cat, c->code);

        assert_non_null(p);
        assert_ptr_equal(catalog_at(cat, i), p);
        assert_non_null(p->schema); /* compiled */
        assert_true(p->name_vi[0] && p->name_en[0] && p->field_vi[0] && p->field_en[0]);
        assert_int_equal(p->time_limit.kind, c->kind);
        assert_int_equal(p->time_limit.days, c->days);
        assert_int_equal(p->has_time_limit_max, c->has_max);
        assert_string_equal(p->result_type, c->result_type);
        /* a marital status confirmation is valid 6 months (Decree 123/2015 art. 23); no other end */
        assert_int_equal(p->result_valid_months, strcmp(c->code, "1.004873") == 0 ? 6 : 0);
        assert_int_equal(p->n_components, c->n_components);
        for (size_t k = 0; k < p->n_components; k++) {
            const catalog_component *cc = &p->components[k];
            char want = c->satisfy[k];

            assert_int_equal(cc->satisfy, want == 'U'   ? CATALOG_SATISFY_UPLOAD
                                          : want == 'P' ? CATALOG_SATISFY_POPULATION
                                                        : CATALOG_SATISFY_RESULT);
            assert_int_equal(cc->result_type[0] != '\0', want == 'R');
            assert_ptr_equal(catalog_find_component(p, cc->code), cc);
            /* a result component refers to a type some procedure in the catalog issues */
            if (want == 'R') {
                bool issued = false;

                for (size_t j = 0; j < catalog_count(cat); j++)
                    issued |= strcmp(catalog_at(cat, j)->result_type, cc->result_type) == 0;
                assert_true(issued);
            }
        }
    }
    /* the calendar module's enum values */
    assert_int_equal(CATALOG_RULE_NONE, 0);
    assert_int_equal(CATALOG_RULE_SAME_DAY, 1);
    assert_int_equal(CATALOG_RULE_WORKING_DAYS, 2);
    assert_int_equal(catalog_find(cat, "1.000894")->time_limit_max.days, 5);
    assert_true(catalog_find(cat, "1.000656")->inferred & CATALOG_INFERRED_TIME_LIMIT);
    assert_false(catalog_find(cat, "1.001193")->inferred & CATALOG_INFERRED_RESULT_TYPE);
}

static void test_units(void **state)
{
    const catalog *cat = *state;
    const catalog_unit *u = catalog_find_unit(cat, "20242");

    assert_non_null(u);
    assert_string_equal(u->name, "Phường Hải Châu");
    assert_string_equal(u->agency_id, "H17.48.01");
    assert_string_equal(u->effective_from, "2025-07-01");
    assert_non_null(catalog_find_unit(cat, "20257"));
    assert_non_null(catalog_find_unit(cat, "20314"));
    assert_null(catalog_find_unit(cat, "99999"));
    assert_null(catalog_find_unit(cat, ""));
    assert_int_equal(catalog_unit_count(cat), 13);
    for (size_t i = 0; i < catalog_unit_count(cat); i++)
        assert_ptr_equal(catalog_find_unit(cat, catalog_unit_at(cat, i)->code),
                         catalog_unit_at(cat, i));
    assert_null(catalog_unit_at(cat, catalog_unit_count(cat)));
}

typedef struct {
    const char *code;
    int copies, pages;
    mc_err want;
    long vnd;
} fee_case;

static void test_fees(void **state)
{
    static const fee_case fc[] = {
        {"1.001193", 1, 1, MC_OK, 0},
        {"2.000635", 1, 0, MC_OK, 8000},
        {"2.000635", 3, 0, MC_OK, 24000},
        {"2.000815", 1, 1, MC_OK, 2000},
        {"2.000815", 1, 2, MC_OK, 4000},
        {"2.000815", 1, 3, MC_OK, 5000},
        {"2.000815", 2, 3, MC_OK, 10000},
        {"2.000815", 1, 196, MC_OK, 198000},
        {"2.000815", 1, 198, MC_OK, 200000},
        {"2.000815", 1, 250, MC_OK, 200000}, /* capped per copy */
        {"2.000815", 3, 250, MC_OK, 600000},
        {"2.000815", 1, 0, MC_ERR_BAD_REQUEST, -1},
        {"1.004222", 1, 0, MC_OK, 10000},
        {"1.004222", 0, 0, MC_ERR_BAD_REQUEST, -1},
        {"2.000635", 10001, 0, MC_ERR_BAD_REQUEST, -1},
    };
    const catalog *cat = *state;

    assert_true(catalog_find(cat, "1.004222")->fee.online_only);
    for (size_t i = 0; i < sizeof(fc) / sizeof(fc[0]); i++) {
        long vnd = -1;
        mc_err rc = catalog_fee_total(&catalog_find(cat, fc[i].code)->fee, fc[i].copies,
                                      fc[i].pages, &vnd);

        if (rc != fc[i].want || vnd != fc[i].vnd) {
            print_error("fee case %zu: rc %d vnd %ld\n", i, rc, vnd);
            fail();
        }
    }
}

/* ---- plan -------------------------------------------------------------------------------- */

typedef struct {
    const char *code;
    const char *comp;
    dossier_comp_kind kind;
    const char *ref;
} comp_spec;

typedef struct {
    const char *what;
    const char *proc;
    comp_spec comps[6];
    mc_err want;
    const char *expect; /* MC_OK: "how,how,..." ; else a substring of why */
} plan_case;

#define F DOSSIER_COMP_FILE
#define RP DOSSIER_COMP_REUSE_POPULATION
#define RR DOSSIER_COMP_REUSE_RESULT

static const plan_case plans[] = {
    {"birth, all given", "1.001193",
     {{"TP1", "", F, "upl_a"}, {"TP2", "", F, "upl_b"}, {"TP3", "", RP, ""}, {"TP4", "", RR, "KQ-1"}},
     MC_OK, "upload,upload,population,result"},
    {"birth, population and result implied", "1.001193",
     {{"TP1", "", F, "upl_a"}, {"TP2", "", F, "upl_b"}}, MC_OK, "upload,upload,population,result"},
    {"birth, parents' marriage certificate uploaded on paper", "1.001193",
     {{"TP1", "", F, "upl_a"}, {"TP2", "", F, "upl_b"}, {"TP4", "", F, "upl_c"}}, MC_OK,
     "upload,upload,population,upload"},
    {"birth, missing hospital certificate", "1.001193", {{"TP1", "", F, "upl_a"}},
     MC_ERR_XSD_INVALID, "required document component TP2 is missing"},
    {"birth, unknown component", "1.001193",
     {{"TP1", "", F, "upl_a"}, {"TP2", "", F, "upl_b"}, {"TP9", "", F, "upl_c"}},
     MC_ERR_XSD_INVALID, "has no document component TP9"},
    {"birth, declaration form from the population DB", "1.001193",
     {{"TP1", "", RP, ""}, {"TP2", "", F, "upl_b"}}, MC_ERR_XSD_INVALID,
     "component TP1 cannot be taken from the population database"},
    {"birth, result reuse for an ID component", "1.001193",
     {{"TP1", "", F, "upl_a"}, {"TP2", "", F, "upl_b"}, {"TP3", "", RR, ""}}, MC_ERR_XSD_INVALID,
     "component TP3 cannot be replaced by an issued electronic result"},
    {"birth, component twice", "1.001193",
     {{"TP1", "", F, "upl_a"}, {"TP1", "", F, "upl_b"}, {"TP2", "", F, "upl_c"}},
     MC_ERR_XSD_INVALID, "TP1 is given twice"},
    {"residence, optional proof absent", "1.004222", {{"TP1", "", F, "upl_a"}}, MC_OK,
     "upload,missing,population"},
    {"residence, ID card uploaded anyway", "1.004222",
     {{"TP1", "", F, "upl_a"}, {"TP2", "", F, "upl_b"}, {"TP3", "", F, "upl_c"}}, MC_OK,
     "upload,upload,upload"},
    {"certified copy, only the copy", "2.000815", {{"TP2", "", F, "upl_b"}}, MC_ERR_XSD_INVALID,
     "TP1 is missing"},
    {"marital status, divorce proof reused", "1.004873",
     {{"TP1", "", F, "upl_a"}, {"TP2", "", RR, "KQ-77"}}, MC_OK, "upload,result"},
};

static void test_plan(void **state)
{
    const catalog *cat = *state;
    static dossier_doc d;
    static catalog_plan_list out;

    for (size_t i = 0; i < sizeof(plans) / sizeof(plans[0]); i++) {
        const plan_case *c = &plans[i];
        const catalog_proc *p = catalog_find(cat, c->proc);
        char why[512] = "", got[256] = "";
        mc_err rc;

        assert_non_null(p);
        memset(&d, 0, sizeof(d));
        snprintf(d.procedure, sizeof(d.procedure), "%s", c->proc);
        for (size_t k = 0; k < 6 && c->comps[k].code; k++) {
            dossier_component *dc = &d.components[d.n_components++];

            snprintf(dc->code, sizeof(dc->code), "%s", c->comps[k].code);
            dc->kind = c->comps[k].kind;
            snprintf(dc->ref, sizeof(dc->ref), "%s", c->comps[k].ref);
        }
        memset(&out, 0x5a, sizeof(out));
        rc = catalog_plan(p, &d, &out, why, sizeof(why));
        for (size_t k = 0; rc == MC_OK && k < out.count; k++)
            snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", k ? "," : "",
                     catalog_how_name(out.items[k].how));
        if (rc != c->want || (rc == MC_OK && strcmp(got, c->expect) != 0) ||
            (rc != MC_OK && (!strstr(why, c->expect) || out.count != 0))) {
            print_error("plan case \"%s\": rc %d, plan \"%s\", why \"%s\"\n", c->what, rc, got,
                        why);
            fail();
        }
    }

    /* refs travel with the plan: upload ref and requested result id */
    memset(&d, 0, sizeof(d));
    d.n_components = 2;
    strcpy(d.components[0].code, "TP1");
    strcpy(d.components[0].ref, "upl_x1");
    strcpy(d.components[1].code, "TP3");
    d.components[1].kind = RR;
    strcpy(d.components[1].ref, "KQ-H17.48.06-250101-0001");
    assert_int_equal(catalog_plan(catalog_find(cat, "1.000894"), &d, &out, NULL, 0), MC_OK);
    assert_string_equal(out.items[0].ref, "upl_x1");
    assert_int_equal(out.items[0].dossier_index, 0);
    assert_int_equal(out.items[1].dossier_index, -1);
    assert_int_equal(out.items[1].how, CATALOG_HOW_POPULATION);
    assert_string_equal(out.items[2].ref, "KQ-H17.48.06-250101-0001");
    assert_string_equal(out.items[2].component->result_type, "KQ.G15.000033");
}

/* ---- broken catalogs ------------------------------------------------------------------- */

static const char good_units[] =
    "{\"units\":[{\"code\":\"20242\",\"name\":\"Phường Hải Châu\",\"agency_id\":\"H17.48.01\","
    "\"effective_from\":\"2025-07-01\"}]}";
static const char tiny_xsd[] =
    "<xs:schema xmlns:xs='http://www.w3.org/2001/XMLSchema'><xs:element name='dossier'/>"
    "</xs:schema>";

#define PROC(extra, comps)                                                                      \
    "{\"procedures\":[{\"code\":\"1.001193\",\"name_vi\":\"Khai sinh\",\"name_en\":\"Birth\","  \
    "\"field\":{\"vi\":\"Hộ tịch\",\"en\":\"Civil status\"},\"time_limit\":{\"kind\":\"same_day\"}," \
    "\"fees\":{\"kind\":\"none\"},\"xsd\":\"t.xsd\",\"result_type\":\"KQ.G15.000031\"" extra     \
    ",\"components\":[" comps "]}]}"
#define COMP "{\"code\":\"TP1\",\"name_vi\":\"Tờ khai\",\"name_en\":\"Form\",\"required\":true," \
             "\"satisfy\":\"upload\"}"

typedef struct {
    const char *what;
    const char *catalog;  /* NULL: file absent */
    const char *units;    /* NULL: file absent */
    const char *xsd;      /* t.xsd content, NULL: absent */
    mc_err want;
    const char *why_has;
} bad_case;

static const bad_case bad[] = {
    {"the minimal catalog loads", PROC("", COMP), good_units, tiny_xsd, MC_OK, ""},
    {"no catalog.json", NULL, good_units, tiny_xsd, MC_ERR_IO, "catalog.json"},
    {"no units.json", PROC("", COMP), NULL, tiny_xsd, MC_ERR_IO, "units.json"},
    {"not JSON", "{\"procedures\": [", good_units, tiny_xsd, MC_ERR_CONFIG, "catalog.json:1"},
    {"unknown key", PROC(",\"colour\":\"red\"", COMP), good_units, tiny_xsd, MC_ERR_CONFIG,
     "procedure 1.001193: unknown key \"colour\""},
    {"bad satisfy", PROC("", "{\"code\":\"TP1\",\"name_vi\":\"a\",\"name_en\":\"b\",\"required\":true,"
                             "\"satisfy\":\"result:KQ.birth\"}"), good_units, tiny_xsd,
     MC_ERR_CONFIG, "procedure 1.001193: components[0]: satisfy"},
    {"bad component code", PROC("", "{\"code\":\"X1\",\"name_vi\":\"a\",\"name_en\":\"b\","
                                    "\"required\":true,\"satisfy\":\"upload\"}"), good_units,
     tiny_xsd, MC_ERR_CONFIG, "components[0]: code \"X1\""},
    {"duplicate component", PROC("", COMP "," COMP), good_units, tiny_xsd, MC_ERR_CONFIG,
     "components[1]: duplicate code TP1"},
    {"no components", PROC("", ""), good_units, tiny_xsd, MC_ERR_CONFIG, "components must be"},
    {"missing xsd file", PROC("", COMP), good_units, NULL, MC_ERR_CONFIG,
     "procedure 1.001193: xsd "},
    {"xsd that does not compile", PROC("", COMP), good_units,
     "<xs:schema xmlns:xs='http://www.w3.org/2001/XMLSchema'><xs:element name='d' type='nope'/>"
     "</xs:schema>", MC_ERR_CONFIG, "t.xsd does not compile"},
    {"bad units agency id", PROC("", COMP),
     "{\"units\":[{\"code\":\"20242\",\"name\":\"x\",\"agency_id\":\"17.48\","
     "\"effective_from\":\"2025-07-01\"}]}", tiny_xsd, MC_ERR_CONFIG, "units[0] (20242): agency_id"},
    {"duplicate unit", PROC("", COMP),
     "{\"units\":[{\"code\":\"20242\",\"name\":\"x\",\"agency_id\":\"H17.48.01\","
     "\"effective_from\":\"2025-07-01\"},{\"code\":\"20242\",\"name\":\"y\",\"agency_id\":"
     "\"H17.48.02\",\"effective_from\":\"2025-07-01\"}]}", tiny_xsd, MC_ERR_CONFIG,
     "units[1]: duplicate unit code 20242"},
    {"result validity in months", PROC(",\"result_valid_months\":6", COMP), good_units, tiny_xsd, MC_OK, ""},
    {"result validity of 0 months", PROC(",\"result_valid_months\":0", COMP), good_units, tiny_xsd,
     MC_ERR_CONFIG, "\"result_valid_months\" must be an integer from 1 to 120"},
    {"result validity as text", PROC(",\"result_valid_months\":\"6\"", COMP), good_units, tiny_xsd,
     MC_ERR_CONFIG, "result_valid_months"},
    {"procedure code shape", "{\"procedures\":[{\"code\":\"1001193\"}]}", good_units, tiny_xsd,
     MC_ERR_CONFIG, "procedures[0]: code \"1001193\""},
    {"xsd outside the directory", "{\"procedures\":[{\"code\":\"1.001193\",\"name_vi\":\"a\","
     "\"name_en\":\"b\",\"xsd\":\"../t.xsd\",\"result_type\":\"KQ.G15.000031\"}]}", good_units,
     tiny_xsd, MC_ERR_CONFIG, "plain file name"},
};

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    unlink(path);
    if (!text)
        return;
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void test_bad_catalogs(void **state)
{
    char dir[] = "/tmp/motcua-catalog-XXXXXX";
    const char *variants[] = {
        "{\"kind\":\"working_days\"}", "{\"kind\":\"soon\"}", "{\"kind\":\"same_day\",\"days\":2}",
    };

    (void)state;
    assert_non_null(mkdtemp(dir));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        catalog *cat = (catalog *)&cat; /* must come back NULL on error */
        char why[512] = "";
        mc_err rc;

        write_file(dir, "catalog.json", bad[i].catalog);
        write_file(dir, "units.json", bad[i].units);
        write_file(dir, "t.xsd", bad[i].xsd);
        rc = catalog_load(dir, &cat, why, sizeof(why));
        if (rc != bad[i].want || !strstr(why, bad[i].why_has) ||
            (rc != MC_OK) != (cat == NULL)) {
            print_error("bad catalog \"%s\": rc %d why \"%s\"\n", bad[i].what, rc, why);
            fail();
        }
        catalog_free(cat);
    }
    /* time limits that are not one of the three kinds, or carry stray days */
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        char text[2048];
        catalog *cat = NULL;
        char why[512] = "";

        snprintf(text, sizeof(text),
                 "{\"procedures\":[{\"code\":\"1.001193\",\"name_vi\":\"a\",\"name_en\":\"b\","
                 "\"field\":{\"vi\":\"c\",\"en\":\"d\"},\"time_limit\":%s,\"fees\":{\"kind\":"
                 "\"none\"},\"xsd\":\"t.xsd\",\"result_type\":\"KQ.G15.000031\",\"components\":["
                 COMP "]}]}", variants[i]);
        write_file(dir, "catalog.json", text);
        assert_int_equal(catalog_load(dir, &cat, why, sizeof(why)), MC_ERR_CONFIG);
        assert_non_null(strstr(why, "procedure 1.001193: time_limit"));
        assert_null(cat);
    }
    write_file(dir, "catalog.json", NULL);
    write_file(dir, "units.json", NULL);
    write_file(dir, "t.xsd", NULL);
    assert_int_equal(rmdir(dir), 0);
}

/* ---- threads --------------------------------------------------------------------------- */

typedef struct {
    const catalog *cat;
    int failures;
} thread_arg;

static const char *thread_codes[] = {"1.001193", "1.000656", "1.004873", "1.000894",
                                     "2.000635", "2.000815", "1.004222"};

static void *validate_many(void *p)
{
    thread_arg *a = p;

    for (int round = 0; round < 30; round++)
        for (size_t i = 0; i < sizeof(thread_codes) / sizeof(thread_codes[0]); i++)
            for (int valid = 0; valid < 2; valid++) {
                char path[512];
                json_t *errors = NULL;
                xmlDocPtr doc;
                mc_err rc;

                snprintf(path, sizeof(path), "%s/%s.%s.xml", SAMPLES, thread_codes[i],
                         valid ? "valid" : "invalid");
                doc = xmlReadFile(path, NULL, XML_PARSE_NONET);
                rc = doc ? catalog_validate(catalog_find(a->cat, thread_codes[i]), doc, &errors)
                         : MC_ERR_INTERNAL;
                if (rc != (valid ? MC_OK : MC_ERR_XSD_INVALID) ||
                    (!valid && json_array_size(errors) == 0))
                    a->failures++;
                json_decref(errors);
                xmlFreeDoc(doc);
            }
    return NULL;
}

static void test_concurrent_validation(void **state)
{
    pthread_t t[4];
    thread_arg args[4];

    for (int i = 0; i < 4; i++) {
        args[i].cat = *state;
        args[i].failures = 0;
        assert_int_equal(pthread_create(&t[i], NULL, validate_many, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(args[i].failures, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_procedures),
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_fees),
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_bad_catalogs),
        cmocka_unit_test(test_concurrent_validation),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);

    xmlCleanupParser();
    return rc;
}
