/* catalog.h - the procedure catalog: procedures, their document components, fees, time limits
 * and dossier XSDs (schemas/catalog.json, schemas/units.json, schemas/<code>.xsd).
 * Loaded once at start-up (the only I/O here); afterwards read-only and shared by all threads.
 * Also validates a dossier against its procedure's XSD and plans how each component is met. */
#ifndef MC_CATALOG_H
#define MC_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include <libxml/tree.h>

#include "err.h"
#include "dossier_xml.h"

#define CATALOG_MAX_PROCS 64
#define CATALOG_MAX_UNITS 256
#define CATALOG_MAX_COMPONENTS 16
#define CATALOG_MAX_TIERS 4
#define CATALOG_MAX_ERRORS 32    /* catalog_validate keeps at most this many errors */

#define CATALOG_CODE_CAP 16       /* "1.001193" */
#define CATALOG_TEXT_CAP 256      /* names, fields (bytes, UTF-8) */
#define CATALOG_FILE_CAP 64       /* xsd file name */
#define CATALOG_TYPE_CAP 24       /* result type code "KQ.G15.000031" */
#define CATALOG_COMP_CODE_CAP 8   /* "TP1" */
#define CATALOG_DATE_CAP 11

/* Same numeric values as calendar_rule_kind in calendar.h (not included on purpose). */
typedef enum catalog_rule_kind {
    CATALOG_RULE_NONE = 0,          /* no fixed return date */
    CATALOG_RULE_SAME_DAY = 1,      /* 15:00 rule */
    CATALOG_RULE_WORKING_DAYS = 2
} catalog_rule_kind;

typedef struct catalog_time_limit {
    catalog_rule_kind kind;
    int days;                       /* WORKING_DAYS only, else 0 */
} catalog_time_limit;

typedef enum catalog_fee_kind { CATALOG_FEE_NONE = 0, CATALOG_FEE_FLAT = 1, CATALOG_FEE_TIERED = 2 } catalog_fee_kind;
typedef enum catalog_fee_per { CATALOG_PER_DOSSIER = 0, CATALOG_PER_COPY = 1 } catalog_fee_per;

typedef struct catalog_fee_tier {
    int from_page;                  /* first page (1-based) this price applies to */
    long amount_vnd;                /* per page */
} catalog_fee_tier;

typedef struct catalog_fee {
    catalog_fee_kind kind;
    catalog_fee_per per;
    long amount_vnd;                /* FLAT */
    catalog_fee_tier tiers[CATALOG_MAX_TIERS]; /* TIERED, ascending from_page, first is 1 */
    size_t n_tiers;
    long cap_vnd;                   /* TIERED: cap per copy (0 = none) */
    bool online_only;               /* the amount is the online-channel fee */
} catalog_fee;

typedef enum catalog_satisfy {
    CATALOG_SATISFY_UPLOAD = 0,     /* the citizen uploads a file */
    CATALOG_SATISFY_POPULATION = 1, /* met by the population-database identity check */
    CATALOG_SATISFY_RESULT = 2      /* a prior signed result of type result_type */
} catalog_satisfy;

typedef struct catalog_component {
    char code[CATALOG_COMP_CODE_CAP];
    char name_vi[CATALOG_TEXT_CAP];
    char name_en[CATALOG_TEXT_CAP];
    bool required;
    catalog_satisfy satisfy;
    char result_type[CATALOG_TYPE_CAP]; /* RESULT only, else "" */
    /* its receipt members, rendered once: "code":…,"name":…,"nameEn":…,"required":…[,"resultType":…] */
    char *json_members;
} catalog_component;

/* Which catalog.json facts are not confirmed in a primary source (docs/catalog.md). */
enum {
    CATALOG_INFERRED_TIME_LIMIT = 1u << 0,
    CATALOG_INFERRED_FEES = 1u << 1,
    CATALOG_INFERRED_RESULT_TYPE = 1u << 2,
    CATALOG_INFERRED_COMPONENTS = 1u << 3
};

typedef struct catalog_proc {
    char code[CATALOG_CODE_CAP];
    char name_vi[CATALOG_TEXT_CAP];
    char name_en[CATALOG_TEXT_CAP];
    char field_vi[CATALOG_TEXT_CAP];
    char field_en[CATALOG_TEXT_CAP];
    catalog_time_limit time_limit;
    bool has_time_limit_max;        /* e.g. marriage: same day, up to 5 days with verification */
    catalog_time_limit time_limit_max;
    catalog_fee fee;
    char xsd[CATALOG_FILE_CAP];
    char result_type[CATALOG_TYPE_CAP];
    int result_valid_months;        /* the result is valid this long from its issue date; 0: no end */
    unsigned inferred;              /* CATALOG_INFERRED_* bits */
    catalog_component components[CATALOG_MAX_COMPONENTS];
    size_t n_components;
    struct _xmlSchema *schema;      /* compiled XSD; owned by the catalog, do not touch */
    char *json;                     /* {"code":…,"name":…,"nameEn":…}, rendered once for receipts */
} catalog_proc;

typedef struct catalog_unit {
    char code[CATALOG_CODE_CAP];    /* ward/commune code, e.g. "20242" */
    char name[CATALOG_TEXT_CAP];
    char agency_id[CATALOG_CODE_CAP * 2]; /* QCVN 102-shaped, e.g. "H17.48.01" (configuration) */
    char effective_from[CATALOG_DATE_CAP]; /* "YYYY-MM-DD" */
    char *json;                     /* {"code":…,"name":…,"agencyId":…}, rendered once for receipts */
} catalog_unit;

typedef struct catalog catalog;

/* Loads <schemas_dir>/catalog.json and units.json and compiles every procedure's XSD (from
 * local files only). On success *out owns everything (free with catalog_free). On error
 * returns MC_ERR_CONFIG (bad or missing entry, XSD that does not compile), MC_ERR_IO (file
 * unreadable) or MC_ERR_NOMEM, with a message naming the file and entry in why (whycap
 * bytes, may be NULL); *out is left NULL. Call from one thread (it initialises libxml2). */
mc_err catalog_load(const char *schemas_dir, catalog **out, char *why, size_t whycap);

/* Frees the catalog and its compiled schemas. NULL is fine. No catalog_proc pointer may be
 * used afterwards. */
void catalog_free(catalog *cat);

/* Procedure by code, or NULL. The pointer lives as long as cat. */
const catalog_proc *catalog_find(const catalog *cat, const char *code);
size_t catalog_count(const catalog *cat);
/* i-th procedure in catalog.json order, or NULL when out of range. */
const catalog_proc *catalog_at(const catalog *cat, size_t i);

/* Receiving unit by ward code, or NULL. */
const catalog_unit *catalog_find_unit(const catalog *cat, const char *ward_code);
size_t catalog_unit_count(const catalog *cat);
const catalog_unit *catalog_unit_at(const catalog *cat, size_t i);

/* Component of p by code ("TP1"), or NULL. */
const catalog_component *catalog_find_component(const catalog_proc *p, const char *code);

/* A procedure as receipts and previews show it: {"code", "name", "nameEn"} (new object, caller owns;
 * NULL when out of memory). */
json_t *catalog_proc_json(const catalog_proc *p);
/* A component's catalog facts as receipts and previews show them: {"code", "name", "nameEn",
 * "required"[, "resultType"]} (new object, caller owns; NULL when out of memory). */
json_t *catalog_component_json(const catalog_component *c);

/* Validates doc against p's compiled XSD. Thread-safe: a fresh validation context per call,
 * errors collected through that context only. Returns MC_OK (*errors untouched), or
 * MC_ERR_XSD_INVALID with *errors set to a new JSON array (caller json_decref's it) of at most
 * CATALOG_MAX_ERRORS objects {"line": n, "path": "/dossier/applicant/birthDate",
 * "message": "..."}; the path uses local names with [n] only where siblings share a name, and
 * "/@attr" for attribute errors. MC_ERR_NOMEM / MC_ERR_INTERNAL when validation could not run
 * (*errors untouched). The doc is not modified. */
mc_err catalog_validate(const catalog_proc *p, xmlDocPtr doc, json_t **errors);

/* Fee for n_copies copies of a document of n_pages pages (pages matter for TIERED only).
 * Returns MC_OK with *out_vnd set, or MC_ERR_BAD_REQUEST for counts below 1 or above 10000
 * (*out_vnd unchanged). */
mc_err catalog_fee_total(const catalog_fee *fee, int n_copies, int n_pages, long *out_vnd);

typedef enum catalog_how {
    CATALOG_HOW_UPLOAD = 0,         /* a file was given */
    CATALOG_HOW_POPULATION = 1,     /* the identity check satisfies it, no upload */
    CATALOG_HOW_RESULT = 2,         /* to be linked from the digital-results repository */
    CATALOG_HOW_MISSING = 3         /* optional, nothing given, nothing to reuse */
} catalog_how;

typedef struct catalog_plan_item {
    const catalog_component *component; /* points into the catalog */
    catalog_how how;
    int dossier_index;              /* index into dossier_doc.components, -1 if none */
    char ref[DOSSIER_REF_CAP];      /* UPLOAD: upload ref; RESULT: requested resultId or "" */
} catalog_plan_item;

/* Named *_list because catalog_plan is the function. */
typedef struct catalog_plan_list {
    catalog_plan_item items[CATALOG_MAX_COMPONENTS]; /* catalog component order */
    size_t count;
} catalog_plan_list;

/* Decides, for each of p's components, how dossier d satisfies it (see catalog_how). Refuses
 * with MC_ERR_XSD_INVALID and a citizen-readable why (cap bytes, may be NULL) when d names a
 * component p does not have, names one twice, asks for reuse a component cannot have (e.g.
 * reuse of a result for an upload-only component), or leaves a required upload-only component
 * without a file. Pure. *out is filled on MC_OK and zeroed on error. */
mc_err catalog_plan(const catalog_proc *p, const dossier_doc *d, catalog_plan_list *out,
                    char *why, size_t cap);

/* Stable lower-case names for logs and JSON: "upload", "population", "result", "missing". */
const char *catalog_how_name(catalog_how how);

#endif
