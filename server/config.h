/* config.h - the one configuration table: name, type, default, bounds, description.
 * Values come from the defaults, then a `key = value` file, then MOTCUA_<KEY> environment variables.
 * A bad value stops start-up with a message naming the key. */
#ifndef MC_CONFIG_H
#define MC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include "err.h"

typedef struct mc_config {
    char listen_addr[64];
    int listen_port;
    char db_dsn[512];
    int db_pool_size;
    int db_queue_cap;
    int intake_inflight_max;
    int db_connect_timeout_s;
    char schemas_dir[512];
    char holidays_file[512];
    char migrations_dir[512];
    long http_max_body;
    int http_timeout_s;
    long xml_max_bytes;
    int xml_max_depth;
    long xml_max_attr_len;
    int xml_max_attrs;
    long xml_max_text_len;
    long xml_max_nodes;
    int rate_limit_rps;
    int rate_limit_burst;
    int auth_cache_ttl_s;
    int shutdown_grace_ms;
    int tz_offset_min;
    char log_level[16];
    char sign_dir[512];
    char trust_ca_file[512];
    char crl_file[512];
    char mark_key_file[512];
    long verify_max_bytes;
    int verify_rate_rps;
    /* population database (identity checks) */
    char popdb_url[512];
    char popdb_client_id[64];
    char popdb_secret[128];
    char popdb_ca_file[512];
    char popdb_client_cert[512];
    char popdb_client_key[512];
    int popdb_timeout_ms;
    int popdb_max_retries;
    int popdb_breaker_threshold;
    int popdb_breaker_cooldown_ms;
    int popdb_max_inflight;
    int prefill_rate_rps;
    int identity_poll_ms;
    int identity_batch;
    int identity_lease_s;
    int identity_backoff_base_s;
    int identity_backoff_cap_s;
    /* attachments (attach_api.h) */
    long attachment_max_bytes;
    long dossier_attachments_max_bytes;
} mc_config;

/* Fill cfg with defaults (paths relative to the source tree). */
void config_defaults(mc_config *cfg);
/* Apply a `key = value` file (NULL path: skip), then MOTCUA_* environment overrides. On error returns
 * MC_ERR_CONFIG with `why` naming the key; cfg may be partly updated (start-up stops anyway). */
mc_err config_load(mc_config *cfg, const char *path, char *why, size_t whycap);
/* Set one key from text, checking type and bounds. */
mc_err config_set(mc_config *cfg, const char *key, const char *value, char *why, size_t whycap);
/* Print the table (name, type, default, bounds, description) as Markdown, for docs/operations.md. */
void config_print_table(void);

#endif
