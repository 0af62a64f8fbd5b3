/* test_dossier_xml.c - the sample dossiers end to end through the pure layer: procedure
 * attribute, XSD validation (valid and invalid samples, error paths), extraction, component
 * plan; and extraction of hostile documents, which must be refused, never crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <libxml/parser.h>

#include "catalog.h"
#include "dossier_xml.h"
#include "pid.h"

#define SAMPLES MOTCUA_SOURCE_DIR "/tests/samples"

static xmlDocPtr parse_file(const char *name)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/%s", SAMPLES, name);
    return xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

static xmlDocPtr parse_str(const char *s)
{
    return xmlReadMemory(s, (int)strlen(s), "mem.xml", NULL,
                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

static int setup(void **state)
{
    catalog *cat = NULL;
    char why[512];

    if (catalog_load(MOTCUA_SOURCE_DIR "/schemas", &cat, why, sizeof(why)) != MC_OK) {
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
    const char *summary;
    const char *roles;   /* persons' roles, comma-separated, document order */
    const char *plan;    /* how each catalog component is met, catalog order */
    int copies, pages;
} valid_case;

static const valid_case valid_cases[] = {
    {"1.001193", "Đăng ký khai sinh cho Nguyễn Văn Bình", "child,father,mother",
     "upload,upload,population,result", 0, 0},
    {"1.000656", "Đăng ký khai tử cho Lê Văn Hùng", "deceased", "upload,upload,population", 0, 0},
    {"1.004873", "Cấp Giấy xác nhận tình trạng hôn nhân cho Phạm Minh Tuấn", "spouse",
     "upload,upload", 1, 0},
    {"1.000894", "Đăng ký kết hôn giữa Hoàng Đức Long và Ngô Thị Thu Hà", "spouse,spouse",
     "upload,population,result", 0, 0},
    {"2.000635", "Cấp 2 bản sao trích lục khai sinh của Đặng Gia Huy", "subject",
     "upload,population", 2, 0},
    {"2.000815", "Chứng thực 2 bản sao \"Bằng tốt nghiệp đại học\" (3 trang) cho Trương Thị Kim Anh",
     "", "upload,upload", 2, 3},
    {"1.004222", "Đăng ký thường trú cho Huỳnh Văn Phúc tại Tổ 15, đường Cách Mạng Tháng Tám, "
                 "phường Cẩm Lệ", "household_head", "upload,missing,population", 0, 0},
};

static void join_roles(const dossier_doc *d, char *buf, size_t cap)
{
    buf[0] = '\0';
    for (size_t i = 0; i < d->n_persons; i++)
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", i ? "," : "", d->persons[i].role);
}

static void test_valid_samples(void **state)
{
    const catalog *cat = *state;
    static dossier_doc d;
    static catalog_plan_list plan;

    for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
        const valid_case *c = &valid_cases[i];
        char name[64], code[DOSSIER_CODE_CAP], why[512], buf[512];
        json_t *errors = NULL;
        const catalog_proc *p;
        xmlDocPtr doc;

        snprintf(name, sizeof(name), "%s.valid.xml", c->code);
        doc = parse_file(name);
        assert_non_null(doc);
        assert_int_equal(dossier_xml_procedure(doc, code, sizeof(code)), MC_OK);
        assert_string_equal(code, c->code);
        p = catalog_find(cat, code);
        assert_non_null(p);
        if (catalog_validate(p, doc, &errors) != MC_OK) {
            char *dump = json_dumps(errors, JSON_INDENT(1));

            print_error("%s: %s\n", name, dump);
            free(dump);
            json_decref(errors);
            fail();
        }
        assert_null(errors);
        assert_int_equal(dossier_xml_extract(doc, &d, why, sizeof(why)), MC_OK);
        assert_string_equal(d.procedure, c->code);
        assert_non_null(catalog_find_unit(cat, d.ward));
        assert_string_equal(d.applicant.role, "applicant");
        assert_int_equal(pid_check(d.applicant.pid, d.applicant.birth_date, d.applicant.gender,
                                   why, sizeof(why)), MC_OK);
        /* every named person with an ID and full data also passes the local check */
        for (size_t k = 0; k < d.n_persons; k++)
            if (d.persons[k].pid[0] && d.persons[k].birth_date[0] && d.persons[k].gender)
                assert_int_equal(pid_check(d.persons[k].pid, d.persons[k].birth_date,
                                           d.persons[k].gender, why, sizeof(why)), MC_OK);
        assert_true(d.phone[0] && d.address[0]);
        assert_string_equal(d.summary, c->summary);
        join_roles(&d, buf, sizeof(buf));
        assert_string_equal(buf, c->roles);
        assert_int_equal(d.copies, c->copies);
        assert_int_equal(d.pages, c->pages);

        if (catalog_plan(p, &d, &plan, why, sizeof(why)) != MC_OK) {
            print_error("%s: plan refused: %s\n", name, why);
            fail();
        }
        buf[0] = '\0';
        for (size_t k = 0; k < plan.count; k++)
            snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", k ? "," : "",
                     catalog_how_name(plan.items[k].how));
        assert_string_equal(buf, c->plan);
        xmlFreeDoc(doc);
    }
}

static void test_birth_sample_details(void **state)
{
    static dossier_doc d;
    char why[256];
    xmlDocPtr doc = parse_file("1.001193.valid.xml");

    (void)state;
    assert_int_equal(dossier_xml_extract(doc, &d, why, sizeof(why)), MC_OK);
    assert_string_equal(d.applicant.pid, "048095001234");
    assert_string_equal(d.applicant.full_name, "Nguyễn Văn An");
    assert_string_equal(d.applicant.birth_date, "1995-03-14");
    assert_int_equal(d.applicant.gender, 'M');
    assert_string_equal(d.email, "an.nguyen@example.vn");
    assert_string_equal(d.persons[0].pid, "");             /* newborn: no ID yet */
    assert_string_equal(d.persons[0].birth_date, "2025-11-02");
    assert_int_equal(d.persons[0].gender, 'M');
    assert_string_equal(d.persons[2].pid, "049197004321");
    assert_int_equal(d.persons[2].gender, 0);              /* not given for the mother */
    assert_int_equal(d.n_components, 4);
    assert_int_equal(d.components[0].kind, DOSSIER_COMP_FILE);
    assert_string_equal(d.components[0].ref, "upl_01HZX7K3M9Q2R5T8V1W4Y6Z0AB");
    assert_string_equal(d.components[0].file_name, "to-khai-khai-sinh.pdf");
    assert_int_equal(d.components[2].kind, DOSSIER_COMP_REUSE_POPULATION);
    assert_int_equal(d.components[3].kind, DOSSIER_COMP_REUSE_RESULT);
    assert_string_equal(d.components[3].ref, "KQ-H17.48.01-240615-0007");
    xmlFreeDoc(doc);
}

typedef struct {
    const char *code;
    const char *path;     /* one reported error must have exactly this path */
    const char *message;  /* ... and a message containing this */
} invalid_case;

static const invalid_case invalid_cases[] = {
    {"1.001193", "/dossier/declaration/child/birthDate", "is not a valid value"},
    {"1.000656", "/dossier/declaration/cause", "Expected is ( deathPlace )"},
    {"1.004873", "/dossier/declaration/maritalStatus", "'complicated'"},
    {"1.000894", "/dossier/applicant/personalId", "pattern"},
    {"2.000635", "/dossier/declaration/urgent", "not expected"},
    {"2.000815", "/dossier/declaration/documentTitle", "maxLength"},
    {"1.004222", "/dossier/@procedure", "fixed value"},
};

static void test_invalid_samples(void **state)
{
    const catalog *cat = *state;

    for (size_t i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]); i++) {
        const invalid_case *c = &invalid_cases[i];
        const catalog_proc *p = catalog_find(cat, c->code);
        json_t *errors = NULL, *e;
        char name[64];
        bool found = false;
        size_t k;
        xmlDocPtr doc;

        snprintf(name, sizeof(name), "%s.invalid.xml", c->code);
        doc = parse_file(name);
        assert_non_null(doc);
        assert_non_null(p);
        assert_int_equal(catalog_validate(p, doc, &errors), MC_ERR_XSD_INVALID);
        assert_true(json_is_array(errors) && json_array_size(errors) >= 1);
        json_array_foreach(errors, k, e) {
            const char *path = json_string_value(json_object_get(e, "path"));
            const char *msg = json_string_value(json_object_get(e, "message"));

            assert_true(json_integer_value(json_object_get(e, "line")) > 0);
            assert_non_null(msg);
            assert_null(strstr(msg, "{urn:"));        /* namespace qualifiers are dropped */
            assert_true(msg[strlen(msg) - 1] != '\n'); /* trimmed */
            if (path && strcmp(path, c->path) == 0 && strstr(msg, c->message))
                found = true;
        }
        if (!found) {
            char *dump = json_dumps(errors, JSON_INDENT(1));

            print_error("%s: no error at %s: %s\n", name, c->path, dump);
            free(dump);
        }
        assert_true(found);
        json_decref(errors);
        xmlFreeDoc(doc);
    }
}

/* A dossier of one procedure validated against another procedure's schema is refused. */
static void test_cross_procedure(void **state)
{
    const catalog *cat = *state;
    xmlDocPtr doc = parse_file("1.001193.valid.xml");
    json_t *errors = NULL;

    assert_int_equal(catalog_validate(catalog_find(cat, "1.000656"), doc, &errors),
                     MC_ERR_XSD_INVALID);
    assert_true(json_array_size(errors) >= 1);
    json_decref(errors);
    xmlFreeDoc(doc);
}

/* Many errors: the list stops at CATALOG_MAX_ERRORS. Built from the valid birth sample
 * with its components replaced by 30 that each carry two bad attributes (60 errors). */
static void test_error_cap(void **state)
{
    const catalog *cat = *state;
    char *xml = calloc(1, 64 * 1024);
    json_t *errors = NULL;
    xmlDocPtr doc;
    size_t len;
    char *cut;
    FILE *f;

    assert_non_null(xml);
    f = fopen(SAMPLES "/1.001193.valid.xml", "r");
    assert_non_null(f);
    len = fread(xml, 1, 32 * 1024, f);
    fclose(f);
    xml[len] = '\0';
    cut = strstr(xml, "<components>");
    assert_non_null(cut);
    len = (size_t)(cut - xml) + strlen("<components>");
    xml[len] = '\0';
    for (int i = 0; i < 30; i++)
        len += (size_t)snprintf(xml + len, 64 * 1024 - len,
                                "<component code='X%d'><file ref='bad%d' name='a.pdf'/>"
                                "</component>", i, i);
    snprintf(xml + len, 64 * 1024 - len, "</components></dossier>");
    doc = parse_str(xml);
    assert_non_null(doc);
    assert_int_equal(catalog_validate(catalog_find(cat, "1.001193"), doc, &errors),
                     MC_ERR_XSD_INVALID);
    assert_int_equal(json_array_size(errors), CATALOG_MAX_ERRORS);
    assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "path")),
                        "/dossier/components/component[1]/@code");
    json_decref(errors);
    xmlFreeDoc(doc);
    free(xml);
}

/* An unexpected element whose non-ASCII name makes the error path longer than its buffer: the cut
 * must not split a character (jansson refuses the string and the error list became "out of memory",
 * a 503 for a hostile body). Regression from fuzz/regressions/dossier/validate-path-cut-in-utf8.xml. */
static void test_error_path_utf8_cut(void **state)
{
    const catalog *cat = *state;
    char *xml = malloc(8192), name[601];
    json_t *errors = NULL;
    xmlDocPtr doc;

    assert_non_null(xml);
    for (int i = 0; i < 200; i++)
        memcpy(name + 3 * i, "\xe1\xba\xab", 3); /* U+1EAB, 3 bytes: 9 + 600 bytes of path */
    name[600] = '\0';
    snprintf(xml, 8192, "<dossier xmlns='urn:motcua:dossier:1' procedure='1.001193'><ward>20242</ward>"
             "<%s/></dossier>", name);
    doc = parse_str(xml);
    assert_non_null(doc);
    assert_int_equal(catalog_validate(catalog_find(cat, "1.001193"), doc, &errors), MC_ERR_XSD_INVALID);
    assert_true(json_array_size(errors) >= 1);
    const char *path = json_string_value(json_object_get(json_array_get(errors, 0), "path"));
    assert_non_null(path);
    assert_true(strncmp(path, "/dossier/\xe1\xba\xab", 12) == 0);
    assert_true(strlen(path) < 512 && (strlen(path) - 9) % 3 == 0); /* whole characters only */
    json_decref(errors);
    xmlFreeDoc(doc);
    free(xml);
}

typedef struct {
    const char *xml;
    mc_err want;
    const char *code;
} proc_case;

static void test_procedure_attribute(void **state)
{
    static const proc_case pc[] = {
        {"<dossier xmlns='urn:motcua:dossier:1' procedure='1.001193'/>", MC_OK, "1.001193"},
        {"<dossier xmlns='urn:motcua:dossier:1'/>", MC_ERR_UNKNOWN_PROCEDURE, ""},
        {"<dossier xmlns='urn:motcua:dossier:1' procedure=''/>", MC_ERR_UNKNOWN_PROCEDURE, ""},
        {"<dossier xmlns='urn:motcua:dossier:1' procedure='1.00119'/>", MC_ERR_UNKNOWN_PROCEDURE, ""},
        {"<dossier xmlns='urn:motcua:dossier:1' procedure='1x001193'/>", MC_ERR_UNKNOWN_PROCEDURE, ""},
        {"<dossier xmlns='urn:motcua:dossier:1' procedure='../../etc'/>", MC_ERR_UNKNOWN_PROCEDURE, ""},
        {"<dossier procedure='1.001193'/>", MC_ERR_UNKNOWN_PROCEDURE, ""},
        {"<dossier xmlns='urn:other' procedure='1.001193'/>", MC_ERR_UNKNOWN_PROCEDURE, ""},
        {"<hoso xmlns='urn:motcua:dossier:1' procedure='1.001193'/>", MC_ERR_UNKNOWN_PROCEDURE, ""},
    };
    char code[DOSSIER_CODE_CAP];

    (void)state;
    for (size_t i = 0; i < sizeof(pc) / sizeof(pc[0]); i++) {
        xmlDocPtr doc = parse_str(pc[i].xml);

        assert_non_null(doc);
        strcpy(code, "junk");
        assert_int_equal(dossier_xml_procedure(doc, code, sizeof(code)), pc[i].want);
        assert_string_equal(code, pc[i].code);
        if (i == 0) /* too small a buffer is a refusal, not an overflow */
            assert_int_equal(dossier_xml_procedure(doc, code, 8), MC_ERR_UNKNOWN_PROCEDURE);
        xmlFreeDoc(doc);
    }
    assert_int_equal(dossier_xml_procedure(NULL, code, sizeof(code)), MC_ERR_UNKNOWN_PROCEDURE);
}

#define HEAD "<dossier xmlns='urn:motcua:dossier:1' procedure='1.001193'><ward>20242</ward>"
#define APPL "<applicant><personalId>048095001234</personalId><fullName>Nguyễn Văn An</fullName>" \
             "<birthDate>1995-03-14</birthDate><gender>M</gender><contact><phone>0905123456</phone>" \
             "<address>12 Lê Duẩn</address></contact></applicant>"
#define FATHER "<father><personalId>048095001234</personalId><fullName>Nguyễn Văn An</fullName></father>"

typedef struct {
    const char *what;
    const char *xml;       /* NULL: built by the test (long names) */
    const char *why_has;
} hostile_case;

static void test_extract_hostile(void **state)
{
    static const hostile_case hc[] = {
        {"wrong root", "<hoso xmlns='urn:motcua:dossier:1' procedure='1.001193'/>", "root"},
        {"no namespace", "<dossier procedure='1.001193'/>", "root"},
        {"no procedure", "<dossier xmlns='urn:motcua:dossier:1'/>", "procedure"},
        {"empty dossier", HEAD "</dossier>", "applicant"},
        {"no ward", "<dossier xmlns='urn:motcua:dossier:1' procedure='1.001193'>" APPL
                    "</dossier>", "ward"},
        {"applicant without ID", HEAD "<applicant><fullName>An</fullName></applicant></dossier>",
         "applicant personalId"},
        {"applicant without contact", HEAD "<applicant><personalId>048095001234</personalId>"
         "<fullName>An</fullName><birthDate>1995-03-14</birthDate><gender>M</gender></applicant>"
         "</dossier>", "phone"},
        {"bad gender", HEAD "<applicant><personalId>048095001234</personalId><fullName>An</fullName>"
         "<birthDate>1995-03-14</birthDate><gender>Male</gender></applicant></dossier>", "M or F"},
        {"no declaration", HEAD APPL "<components/></dossier>", "declaration"},
        {"too many persons", HEAD APPL "<declaration>" FATHER FATHER FATHER FATHER FATHER FATHER
         FATHER FATHER FATHER "</declaration><components/></dossier>", "more than 8"},
        {"component without content", HEAD APPL "<declaration/><components><component code='TP1'/>"
         "</components></dossier>", "neither"},
        {"component without code", HEAD APPL "<declaration/><components><component>"
         "<file ref='upl_1' name='a.pdf'/></component></components></dossier>", "component code"},
        {"reuse of unknown source", HEAD APPL "<declaration/><components><component code='TP1'>"
         "<reuse source='moon'/></component></components></dossier>", "unknown reuse source"},
        {"foreign element in components", HEAD APPL "<declaration/><components><x/></components>"
         "</dossier>", "unexpected"},
        {"copies not a number", HEAD APPL "<declaration><copies>-3</copies></declaration>"
         "<components/></dossier>", "copies"},
        {"copies huge", HEAD APPL "<declaration><copies>99999999999999999999</copies>"
         "</declaration><components/></dossier>", "copies"},
        {"over-long name", NULL, "too long"},
        {"over-long pid", HEAD "<applicant><personalId>0480950012345</personalId></applicant>"
         "</dossier>", "too long"},
    };
    static dossier_doc d;
    char why[256];

    (void)state;
    for (size_t i = 0; i < sizeof(hc) / sizeof(hc[0]); i++) {
        char *built = NULL;
        xmlDocPtr doc;

        if (!hc[i].xml) {
            built = malloc(8192);
            assert_non_null(built);
            strcpy(built, HEAD "<applicant><personalId>048095001234</personalId><fullName>");
            for (int k = 0; k < 500; k++)
                strcat(built, "Ă");
            strcat(built, "</fullName></applicant></dossier>");
        }
        doc = parse_str(built ? built : hc[i].xml);
        assert_non_null(doc);
        memset(&d, 'x', sizeof(d));
        why[0] = '\0';
        if (dossier_xml_extract(doc, &d, why, sizeof(why)) != MC_ERR_XSD_INVALID ||
            !strstr(why, hc[i].why_has)) {
            print_error("hostile case \"%s\": why \"%s\"\n", hc[i].what, why);
            fail();
        }
        assert_int_equal(d.n_persons, 0); /* zeroed on error */
        assert_string_equal(d.summary, "");
        xmlFreeDoc(doc);
        free(built);
    }
    assert_int_equal(dossier_xml_extract(NULL, &d, why, sizeof(why)), MC_ERR_XSD_INVALID);
    assert_int_equal(dossier_xml_extract(NULL, &d, NULL, 0), MC_ERR_XSD_INVALID);
    assert_int_equal(dossier_xml_extract(NULL, NULL, NULL, 0), MC_ERR_INTERNAL);
}

/* Summary stays within 1000 bytes and never splits a UTF-8 character. */
/* Declared fields are the leaf elements with text under <applicant> and <declaration>, counted by hand
 * from tests/samples/1.001193.valid.xml: applicant 7 (ID, name, birth date, gender, phone, email,
 * address), child 6, father 3, mother 3, relationship 1. */
static void test_declared_fields(void **state)
{
    (void)state;
    xmlDocPtr doc = parse_file("1.001193.valid.xml");
    assert_non_null(doc);
    assert_int_equal(dossier_xml_declared_fields(doc), 20);
    xmlFreeDoc(doc);
    doc = parse_str("<dossier xmlns=\"urn:motcua:dossier:1\" procedure=\"1.001193\"><applicant><fullName>  </fullName>"
                    "<birthDate>2000-01-01</birthDate></applicant><components/></dossier>");
    assert_non_null(doc);
    assert_int_equal(dossier_xml_declared_fields(doc), 1); /* blank text is not a declared field */
    xmlFreeDoc(doc);
    assert_int_equal(dossier_xml_declared_fields(NULL), 0);
}

static void test_summary_cap(void **state)
{
    static dossier_doc d;
    char why[256];
    char *xml = malloc(16384);
    xmlDocPtr doc;

    (void)state;
    assert_non_null(xml);
    /* 100 three-byte and 200 four-byte letters: 1100 bytes of names alone */
    strcpy(xml, "<dossier xmlns='urn:motcua:dossier:1' procedure='2.000815'><ward>20242</ward>"
                "<applicant><personalId>048095001234</personalId><fullName>");
    for (int k = 0; k < 100; k++)
        strcat(xml, "Ữ");
    strcat(xml, "</fullName><birthDate>1995-03-14</birthDate><gender>M</gender><contact><phone>"
                "0905123456</phone><address>12 Lê Duẩn</address></contact></applicant>"
                "<declaration><documentTitle>");
    for (int k = 0; k < 200; k++)
        strcat(xml, "\xF0\x9D\x90\x80"); /* U+1D400, four bytes */
    strcat(xml, "</documentTitle><pages>3</pages><copies>1</copies></declaration><components/>"
                "</dossier>");
    doc = parse_str(xml);
    assert_non_null(doc);
    assert_int_equal(dossier_xml_extract(doc, &d, why, sizeof(why)), MC_OK);
    assert_true(strlen(d.summary) <= 1000);
    assert_true(strlen(d.summary) >= 997); /* cut, at most 3 bytes short */
    assert_true(xmlCheckUTF8((const xmlChar *)d.summary));
    xmlFreeDoc(doc);
    free(xml);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_samples),
        cmocka_unit_test(test_birth_sample_details),
        cmocka_unit_test(test_invalid_samples),
        cmocka_unit_test(test_cross_procedure),
        cmocka_unit_test(test_error_cap),
        cmocka_unit_test(test_error_path_utf8_cut),
        cmocka_unit_test(test_procedure_attribute),
        cmocka_unit_test(test_extract_hostile),
        cmocka_unit_test(test_summary_cap),
        cmocka_unit_test(test_declared_fields),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);

    xmlCleanupParser();
    return rc;
}
