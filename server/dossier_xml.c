/* dossier_xml.c - extraction of a dossier XML (urn:motcua:dossier:1) into dossier_doc.
 * Walks a fixed shape (no recursion, so document depth cannot hurt us) and copies every value
 * into a capped buffer; anything unexpected is refused with a reason rather than guessed. */
#include "dossier_xml.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>


/* An element of our namespace with this local name? */
static bool is_el(xmlNodePtr n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
           strcmp((const char *)n->ns->href, DOSSIER_XML_NS) == 0 &&
           (!name || strcmp((const char *)n->name, name) == 0);
}

static xmlNodePtr child_el(xmlNodePtr parent, const char *name)
{
    if (!parent)
        return NULL;
    for (xmlNodePtr c = parent->children; c; c = c->next)
        if (is_el(c, name))
            return c;
    return NULL;
}

/* Copies s (trimmed of XML whitespace) into buf; false if it does not fit. */
static bool copy_trimmed(const char *s, char *buf, size_t cap)
{
    size_t len;

    if (!s)
        s = "";
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    len = strlen(s);
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' ||
                       s[len - 1] == '\r'))
        len--;
    if (len >= cap)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return true;
}

/* Text of element n into buf. A missing n is an error when required, else leaves "". */
static mc_err text_of(xmlNodePtr n, bool required, const char *what, char *buf, size_t cap,
                      char *why, size_t whycap)
{
    xmlChar *content = NULL;
    mc_err rc = MC_OK;

    buf[0] = '\0';
    if (!n) {
        if (required) {
            mc_why(why, whycap, "missing %s", what);
            rc = MC_ERR_XSD_INVALID;
        }
        goto out;
    }
    content = xmlNodeGetContent(n);
    if (!copy_trimmed((const char *)content, buf, cap)) {
        mc_why(why, whycap, "%s is too long", what);
        buf[0] = '\0';
        rc = MC_ERR_XSD_INVALID;
        goto out;
    }
    if (required && buf[0] == '\0') {
        mc_why(why, whycap, "%s is empty", what);
        rc = MC_ERR_XSD_INVALID;
    }
out:
    xmlFree(content);
    return rc;
}

static mc_err attr_of(xmlNodePtr n, const char *attr, bool required, const char *what, char *buf,
                      size_t cap, char *why, size_t whycap)
{
    xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)attr);
    mc_err rc = MC_OK;

    buf[0] = '\0';
    if (!v) {
        if (required) {
            mc_why(why, whycap, "missing %s", what);
            rc = MC_ERR_XSD_INVALID;
        }
        goto out;
    }
    if (!copy_trimmed((const char *)v, buf, cap)) {
        mc_why(why, whycap, "%s is too long", what);
        buf[0] = '\0';
        rc = MC_ERR_XSD_INVALID;
    } else if (required && buf[0] == '\0') {
        mc_why(why, whycap, "%s is empty", what);
        rc = MC_ERR_XSD_INVALID;
    }
out:
    xmlFree(v);
    return rc;
}

/* Fills a person from an element with personalId/fullName/birthDate/gender children. */
static mc_err read_person(xmlNodePtr n, const char *role, bool need_pid, bool need_all,
                          dossier_person *p, char *why, size_t whycap)
{
    char g[16];
    char what[64];
    mc_err rc;

    snprintf(p->role, sizeof(p->role), "%s", role);
    snprintf(what, sizeof(what), "%s personalId", role);
    rc = text_of(child_el(n, "personalId"), need_pid, what, p->pid, sizeof(p->pid), why, whycap);
    if (rc)
        return rc;
    snprintf(what, sizeof(what), "%s fullName", role);
    rc = text_of(child_el(n, "fullName"), true, what, p->full_name, sizeof(p->full_name), why,
                 whycap);
    if (rc)
        return rc;
    snprintf(what, sizeof(what), "%s birthDate", role);
    rc = text_of(child_el(n, "birthDate"), need_all, what, p->birth_date, sizeof(p->birth_date),
                 why, whycap);
    if (rc)
        return rc;
    snprintf(what, sizeof(what), "%s gender", role);
    rc = text_of(child_el(n, "gender"), need_all, what, g, sizeof(g), why, whycap);
    if (rc)
        return rc;
    if (g[0] == '\0') {
        p->gender = 0;
    } else if ((g[0] == 'M' || g[0] == 'F') && g[1] == '\0') {
        p->gender = g[0];
    } else {
        mc_why(why, whycap, "%s must be M or F", what);
        return MC_ERR_XSD_INVALID;
    }
    return MC_OK;
}

/* Declaration elements that name a person, and the role they get. */
static const struct {
    const char *element;
    const char *role;
} person_roles[] = {
    {"child", "child"},       {"father", "father"},     {"mother", "mother"},
    {"deceased", "deceased"}, {"party", "spouse"},      {"spouse", "spouse"},
    {"subject", "subject"},   {"householdHead", "household_head"},
};

static mc_err read_count(xmlNodePtr decl, const char *name, int *out, char *why, size_t whycap)
{
    char buf[16];
    long v = 0;
    mc_err rc;

    *out = 0;
    rc = text_of(child_el(decl, name), false, name, buf, sizeof(buf), why, whycap);
    if (rc || buf[0] == '\0')
        return rc;
    for (const char *s = buf; *s; s++) {
        if (*s < '0' || *s > '9' || v > 100000) {
            mc_why(why, whycap, "%s must be a number from 1 to 100000", name);
            return MC_ERR_XSD_INVALID;
        }
        v = v * 10 + (*s - '0');
    }
    if (v < 1 || v > 100000) {
        mc_why(why, whycap, "%s must be a number from 1 to 100000", name);
        return MC_ERR_XSD_INVALID;
    }
    *out = (int)v;
    return MC_OK;
}

static mc_err read_declaration(xmlNodePtr decl, dossier_doc *d, char *why, size_t whycap)
{
    mc_err rc;

    for (xmlNodePtr c = decl->children; c; c = c->next) {
        const char *role = NULL;

        if (!is_el(c, NULL))
            continue;
        for (size_t i = 0; i < sizeof(person_roles) / sizeof(person_roles[0]); i++)
            if (strcmp((const char *)c->name, person_roles[i].element) == 0)
                role = person_roles[i].role;
        if (!role)
            continue;
        if (d->n_persons == DOSSIER_MAX_PERSONS) {
            mc_why(why, whycap, "more than %d named persons", DOSSIER_MAX_PERSONS);
            return MC_ERR_XSD_INVALID;
        }
        /* A newborn has no personal ID yet; everyone else named in a declaration has one. */
        rc = read_person(c, role, strcmp(role, "child") != 0, false, &d->persons[d->n_persons],
                         why, whycap);
        if (rc)
            return rc;
        d->n_persons++;
    }
    rc = read_count(decl, "copies", &d->copies, why, whycap);
    if (rc)
        return rc;
    return read_count(decl, "pages", &d->pages, why, whycap);
}

static mc_err read_components(xmlNodePtr comps, dossier_doc *d, char *why, size_t whycap)
{
    char src[16];
    mc_err rc;

    for (xmlNodePtr c = comps->children; c; c = c->next) {
        dossier_component *dc;
        xmlNodePtr how;

        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (!is_el(c, "component")) {
            mc_why(why, whycap, "unexpected element in components");
            return MC_ERR_XSD_INVALID;
        }
        if (d->n_components == DOSSIER_MAX_COMPONENTS) {
            mc_why(why, whycap, "more than %d components", DOSSIER_MAX_COMPONENTS);
            return MC_ERR_XSD_INVALID;
        }
        dc = &d->components[d->n_components];
        rc = attr_of(c, "code", true, "component code", dc->code, sizeof(dc->code), why, whycap);
        if (rc)
            return rc;
        how = child_el(c, NULL);
        if (is_el(how, "file")) {
            dc->kind = DOSSIER_COMP_FILE;
            rc = attr_of(how, "ref", true, "file ref", dc->ref, sizeof(dc->ref), why, whycap);
            if (!rc)
                rc = attr_of(how, "name", true, "file name", dc->file_name,
                             sizeof(dc->file_name), why, whycap);
        } else if (is_el(how, "reuse")) {
            rc = attr_of(how, "source", true, "reuse source", src, sizeof(src), why, whycap);
            if (!rc && strcmp(src, "population") == 0) {
                dc->kind = DOSSIER_COMP_REUSE_POPULATION;
            } else if (!rc && strcmp(src, "result") == 0) {
                dc->kind = DOSSIER_COMP_REUSE_RESULT;
                rc = attr_of(how, "resultId", false, "resultId", dc->ref, sizeof(dc->ref), why,
                             whycap);
            } else if (!rc) {
                mc_why(why, whycap, "component %s: unknown reuse source", dc->code);
                rc = MC_ERR_XSD_INVALID;
            }
        } else {
            mc_why(why, whycap, "component %s has neither file nor reuse", dc->code);
            rc = MC_ERR_XSD_INVALID;
        }
        if (rc)
            return rc;
        d->n_components++;
    }
    return MC_OK;
}

static const dossier_person *find_role(const dossier_doc *d, const char *role, size_t nth)
{
    for (size_t i = 0; i < d->n_persons; i++)
        if (strcmp(d->persons[i].role, role) == 0 && nth-- == 0)
            return &d->persons[i];
    return NULL;
}

static const char *name_of(const dossier_doc *d, const char *role, size_t nth)
{
    const dossier_person *p = find_role(d, role, nth);

    return p ? p->full_name : d->applicant.full_name;
}

/* Copies src into dst (cap bytes) without splitting a UTF-8 sequence. */
static void utf8_copy(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);

    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void make_summary(xmlNodePtr decl, dossier_doc *d)
{
    char text[4096];
    char extra[DOSSIER_ADDRESS_CAP];
    const char *code = d->procedure;

    if (strcmp(code, "1.001193") == 0) {
        snprintf(text, sizeof(text), "Đăng ký khai sinh cho %s", name_of(d, "child", 0));
    } else if (strcmp(code, "1.000656") == 0) {
        snprintf(text, sizeof(text), "Đăng ký khai tử cho %s", name_of(d, "deceased", 0));
    } else if (strcmp(code, "1.004873") == 0) {
        snprintf(text, sizeof(text), "Cấp Giấy xác nhận tình trạng hôn nhân cho %s",
                 d->applicant.full_name);
    } else if (strcmp(code, "1.000894") == 0) {
        snprintf(text, sizeof(text), "Đăng ký kết hôn giữa %s và %s", name_of(d, "spouse", 0),
                 name_of(d, "spouse", 1));
    } else if (strcmp(code, "2.000635") == 0) {
        const char *kind = "hộ tịch";

        if (text_of(child_el(decl, "extractType"), false, "", extra, sizeof(extra), NULL, 0) ==
            MC_OK) {
            if (strcmp(extra, "birth") == 0)
                kind = "khai sinh";
            else if (strcmp(extra, "death") == 0)
                kind = "khai tử";
            else if (strcmp(extra, "marriage") == 0)
                kind = "kết hôn";
        }
        snprintf(text, sizeof(text), "Cấp %d bản sao trích lục %s của %s",
                 d->copies > 0 ? d->copies : 1, kind, name_of(d, "subject", 0));
    } else if (strcmp(code, "2.000815") == 0) {
        if (text_of(child_el(decl, "documentTitle"), false, "", extra, sizeof(extra), NULL, 0))
            extra[0] = '\0';
        snprintf(text, sizeof(text), "Chứng thực %d bản sao \"%s\" (%d trang) cho %s",
                 d->copies > 0 ? d->copies : 1, extra, d->pages, d->applicant.full_name);
    } else if (strcmp(code, "1.004222") == 0) {
        if (text_of(child_el(child_el(decl, "newAddress"), "detail"), false, "", extra,
                    sizeof(extra), NULL, 0))
            extra[0] = '\0';
        snprintf(text, sizeof(text), "Đăng ký thường trú cho %s tại %s", d->applicant.full_name,
                 extra);
    } else {
        snprintf(text, sizeof(text), "Hồ sơ thủ tục %s của %s", code, d->applicant.full_name);
    }
    utf8_copy(d->summary, sizeof(d->summary), text);
}

static bool procedure_shaped(const char *s)
{
    /* "d.dddddd" as in the national procedure list. */
    if (strlen(s) != 8 || s[1] != '.')
        return false;
    for (int i = 0; i < 8; i++)
        if (i != 1 && (s[i] < '0' || s[i] > '9'))
            return false;
    return true;
}

mc_err dossier_xml_procedure(xmlDocPtr doc, char *code, size_t cap)
{
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    xmlChar *v = NULL;
    mc_err rc = MC_ERR_UNKNOWN_PROCEDURE;

    if (!code || cap == 0)
        return MC_ERR_INTERNAL;
    code[0] = '\0';
    if (!is_el(root, "dossier"))
        goto out;
    v = xmlGetNoNsProp(root, (const xmlChar *)"procedure");
    if (!v || !procedure_shaped((const char *)v) || strlen((const char *)v) >= cap)
        goto out;
    memcpy(code, v, strlen((const char *)v) + 1);
    rc = MC_OK;
out:
    xmlFree(v);
    return rc;
}

mc_err dossier_xml_extract(xmlDocPtr doc, dossier_doc *out, char *why, size_t cap)
{
    xmlNodePtr root, applicant, contact, decl, comps;
    mc_err rc = MC_ERR_XSD_INVALID;

    if (why && cap)
        why[0] = '\0';
    if (!out)
        return MC_ERR_INTERNAL;
    memset(out, 0, sizeof(*out));
    root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!is_el(root, "dossier")) {
        mc_why(why, cap, "the root element is not a dossier of " DOSSIER_XML_NS);
        goto fail;
    }
    if (dossier_xml_procedure(doc, out->procedure, sizeof(out->procedure)) != MC_OK) {
        mc_why(why, cap, "missing or malformed procedure attribute");
        goto fail;
    }
    rc = text_of(child_el(root, "ward"), true, "ward", out->ward, sizeof(out->ward), why, cap);
    if (rc)
        goto fail;

    applicant = child_el(root, "applicant");
    if (!applicant) {
        mc_why(why, cap, "missing applicant");
        rc = MC_ERR_XSD_INVALID;
        goto fail;
    }
    rc = read_person(applicant, "applicant", true, true, &out->applicant, why, cap);
    if (rc)
        goto fail;
    contact = child_el(applicant, "contact");
    rc = text_of(child_el(contact, "phone"), true, "phone", out->phone, sizeof(out->phone), why,
                 cap);
    if (!rc)
        rc = text_of(child_el(contact, "email"), false, "email", out->email, sizeof(out->email),
                     why, cap);
    if (!rc)
        rc = text_of(child_el(contact, "address"), true, "address", out->address,
                     sizeof(out->address), why, cap);
    if (rc)
        goto fail;

    decl = child_el(root, "declaration");
    comps = child_el(root, "components");
    if (!decl || !comps) {
        mc_why(why, cap, "missing %s", decl ? "components" : "declaration");
        rc = MC_ERR_XSD_INVALID;
        goto fail;
    }
    rc = read_declaration(decl, out, why, cap);
    if (rc)
        goto fail;
    rc = read_components(comps, out, why, cap);
    if (rc)
        goto fail;
    make_summary(decl, out);
    return MC_OK;
fail:
    memset(out, 0, sizeof(*out));
    return rc;
}

/* Leaf elements (no element children) with non-blank text under n: the fields a person typed. */
static size_t count_leaves(xmlNodePtr n, int depth)
{
    size_t count = 0;
    bool has_child = false;
    if (depth > 32) return 0; /* xmlsafe caps depth far below; a guard for any other caller */
    for (xmlNodePtr c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) continue;
        has_child = true;
        count += count_leaves(c, depth + 1);
    }
    if (!has_child && n->children) {
        for (xmlNodePtr t = n->children; t; t = t->next)
            if ((t->type == XML_TEXT_NODE || t->type == XML_CDATA_SECTION_NODE) && t->content &&
                strspn((const char *)t->content, " \t\r\n") < strlen((const char *)t->content))
                return 1;
    }
    return count;
}

size_t dossier_xml_declared_fields(xmlDocPtr doc)
{
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!is_el(root, "dossier")) return 0;
    size_t n = 0;
    xmlNodePtr a = child_el(root, "applicant"), d = child_el(root, "declaration");
    if (a) n += count_leaves(a, 0);
    if (d) n += count_leaves(d, 0);
    return n;
}
