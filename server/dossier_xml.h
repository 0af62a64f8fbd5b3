/* dossier_xml.h - reads a parsed dossier XML (urn:motcua:dossier:1) into fixed-cap structs.
 * Pure: works on an xmlDoc the caller parsed (safely) and owns; no I/O, no global state.
 * Validation against the procedure's XSD is catalog_validate's job; extraction only assumes
 * it ran and still refuses (never crashes on) any document. */
#ifndef MC_DOSSIER_XML_H
#define MC_DOSSIER_XML_H

#include <stddef.h>
#include <libxml/tree.h>

#include "err.h"

#define DOSSIER_XML_NS "urn:motcua:dossier:1"

/* Caps in bytes including the NUL. XSD lengths are in characters; Vietnamese letters are at
 * most 3 bytes in UTF-8 and any character at most 4, so 4*maxLength+1 always fits. */
#define DOSSIER_CODE_CAP 16       /* procedure code "1.001193" */
#define DOSSIER_WARD_CAP 8        /* "20242" */
#define DOSSIER_PID_CAP 13
#define DOSSIER_DATE_CAP 11       /* "YYYY-MM-DD" */
#define DOSSIER_NAME_CAP 401      /* fullName maxLength 100 */
#define DOSSIER_ROLE_CAP 16
#define DOSSIER_PHONE_CAP 17
#define DOSSIER_EMAIL_CAP 255
#define DOSSIER_ADDRESS_CAP 1201  /* address maxLength 300 */
#define DOSSIER_COMP_CODE_CAP 8   /* "TP12" */
#define DOSSIER_REF_CAP 65        /* upload ref or result id */
#define DOSSIER_FILE_NAME_CAP 1021 /* fileName maxLength 255 */
#define DOSSIER_SUMMARY_CAP 1001  /* national sync: summary <= 1000 */
#define DOSSIER_MAX_PERSONS 8
#define DOSSIER_MAX_COMPONENTS 32

typedef struct dossier_person {
    char role[DOSSIER_ROLE_CAP];      /* "applicant", "father", "mother", "child", "spouse",
                                         "deceased", "subject", "household_head" */
    char pid[DOSSIER_PID_CAP];        /* "" when not given (a newborn has none yet) */
    char full_name[DOSSIER_NAME_CAP];
    char birth_date[DOSSIER_DATE_CAP]; /* "YYYY-MM-DD" or "" */
    char gender;                       /* 'M', 'F', or 0 when not given */
} dossier_person;

typedef enum dossier_comp_kind {
    DOSSIER_COMP_FILE = 0,             /* <file ref name/> */
    DOSSIER_COMP_REUSE_POPULATION = 1, /* <reuse source="population"/> */
    DOSSIER_COMP_REUSE_RESULT = 2      /* <reuse source="result" [resultId]/> */
} dossier_comp_kind;

typedef struct dossier_component {
    char code[DOSSIER_COMP_CODE_CAP];
    dossier_comp_kind kind;
    char ref[DOSSIER_REF_CAP];            /* FILE: upload ref; REUSE_RESULT: resultId or "" */
    char file_name[DOSSIER_FILE_NAME_CAP]; /* FILE only */
} dossier_component;

typedef struct dossier_doc {
    char procedure[DOSSIER_CODE_CAP];
    char ward[DOSSIER_WARD_CAP];
    dossier_person applicant;          /* role "applicant" */
    char phone[DOSSIER_PHONE_CAP];
    char email[DOSSIER_EMAIL_CAP];     /* "" when not given */
    char address[DOSSIER_ADDRESS_CAP];
    dossier_person persons[DOSSIER_MAX_PERSONS]; /* other named persons, document order */
    size_t n_persons;
    dossier_component components[DOSSIER_MAX_COMPONENTS];
    size_t n_components;
    int copies;                        /* declaration/copies, 0 when absent */
    int pages;                         /* declaration/pages, 0 when absent */
    char summary[DOSSIER_SUMMARY_CAP]; /* e.g. "Đăng ký khai sinh cho Nguyễn Văn Bình" */
} dossier_doc;

/* Copies the root <dossier>'s procedure attribute into code (cap bytes). Returns MC_OK;
 * MC_ERR_UNKNOWN_PROCEDURE when the root is not a dossier of our namespace or the attribute is
 * missing, empty, not shaped like "d.dddddd" or longer than cap-1. code is "" on error. */
mc_err dossier_xml_procedure(xmlDocPtr doc, char *code, size_t cap);

/* Fills *out from doc (out is zeroed first; the doc is not modified and not retained).
 * Returns MC_OK, or MC_ERR_XSD_INVALID with a short reason in why (cap bytes, may be NULL) if
 * the document lacks what an XSD-valid dossier has, a value exceeds its cap, or a cap on
 * persons/components is exceeded; *out is then zeroed. */
mc_err dossier_xml_extract(xmlDocPtr doc, dossier_doc *out, char *why, size_t cap);

/* Number of declared fields: leaf elements with non-blank text under <applicant> and <declaration>
 * (what the citizen typed; the measure of the declared-information reduction). 0 for a non-dossier. */
size_t dossier_xml_declared_fields(xmlDocPtr doc);

#endif
