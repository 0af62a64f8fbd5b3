/* xmlsafe.h - the one way motcua parses untrusted XML (dossier bodies, national-portal submissions).
 * Cheap byte checks first, then libxml2 with no DTD, no entities, no network, no XInclude, and our own
 * caps on size, depth, attributes, text and element count. See docs/xml-hardening.md. */
#ifndef MC_XMLSAFE_H
#define MC_XMLSAFE_H

#include <stddef.h>
#include <libxml/tree.h>
#include "err.h"

/* libxml2 2.9 refuses nesting deeper than this without XML_PARSE_HUGE (which we never set); a larger
 * max_depth still parses, but the libxml2 limit is what trips (reported as MC_ERR_XML_LIMIT). */
#define XMLSAFE_LIBXML2_DEPTH_CEILING 256u

typedef struct {
    size_t max_bytes;    /* whole document; default 1 MiB (config: xml_max_bytes) */
    unsigned max_depth;  /* element nesting; default 64 (xml_max_depth) */
    size_t max_attr_len; /* one attribute value, raw bytes as written; default 4096 (xml_max_attr_len) */
    unsigned max_attrs;  /* attributes + namespace declarations on one element; default 32 (xml_max_attrs) */
    size_t max_text_len; /* one text node (CDATA merged in) or comment; default 64 KiB (xml_max_text_len) */
    size_t max_nodes;    /* elements in the document; default 20000 (xml_max_nodes) */
} xmlsafe_limits;

/* Fill *lim with the defaults above. */
void xmlsafe_limits_default(xmlsafe_limits *lim);

/* Parse untrusted buf[0..len) (lim NULL: defaults). On success returns MC_OK and *out owns a new xmlDoc
 * (caller frees it with xmlFreeDoc); why is set to "". On failure *out is NULL and the result is
 *   MC_ERR_TOO_LARGE     len > max_bytes;
 *   MC_ERR_XML_MALFORMED not well-formed, empty, truncated, two roots, invalid UTF-8, NUL bytes,
 *                        encoding other than UTF-8 (declared or by BOM);
 *   MC_ERR_XML_FORBIDDEN DOCTYPE/DTD, entity references other than the 5 predefined and numeric
 *                        character references, XInclude elements, processing instructions;
 *   MC_ERR_XML_LIMIT     any other cap in *lim;
 *   MC_ERR_NOMEM / MC_ERR_INTERNAL (out NULL, or buf NULL with len > 0);
 * with a short human reason in why[0..whycap) (always NUL-terminated valid UTF-8 when whycap > 0; may
 * be NULL when whycap is 0). buf and *lim are never modified. Thread-safe: changes no global libxml2
 * state; the program must call xmlInitParser() once before starting threads. */
mc_err xmlsafe_parse(const char *buf, size_t len, const xmlsafe_limits *lim, xmlDocPtr *out,
                     char *why, size_t whycap);

#endif
