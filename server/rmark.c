/* rmark.c - verification marks (rmark.h). */
#include "rmark.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xverify.h"

void rmark_from_report(rmark *m, const unsigned char sha[32], const unsigned char trust[32],
                       const xverify_report *rep)
{
    memset(m, 0, sizeof(*m));
    memcpy(m->sha, sha, 32);
    if (trust) memcpy(m->trust, trust, 32);
    snprintf(m->result_id, sizeof(m->result_id), "%.64s", rep->result_id);
    snprintf(m->result_type, sizeof(m->result_type), "%.32s", rep->result_type);
    snprintf(m->holder, sizeof(m->holder), "%.12s", rep->holder_personal_id);
    snprintf(m->valid_until, sizeof(m->valid_until), "%.10s", rep->valid_until);
    for (size_t i = 0; i < rep->field_count; i++)
        if (strcmp(rep->fields[i].name, "deceased.personalId") == 0) {
            snprintf(m->deceased, sizeof(m->deceased), "%.12s", rep->fields[i].value);
            break;
        }
}

mc_err rmark_key_load(const char *path, rmark_key *key, char *why, size_t whycap)
{
    struct stat st;
    unsigned char buf[RMARK_KEY_MAX + 1];
    ssize_t n = -1;
    memset(key, 0, sizeof(*key));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return MC_ERR_NOT_FOUND;
        snprintf(why, whycap, "cannot open %s: %s", path, strerror(errno));
        return MC_ERR_CONFIG;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, whycap, "%s is not a regular file", path);
        goto bad;
    }
    if (st.st_mode & 077) { /* a secret: like an ssh key, refuse it when others may read it */
        snprintf(why, whycap, "%s is readable or writable by group or others (chmod 600 it)", path);
        goto bad;
    }
    n = read(fd, buf, sizeof(buf));
    if (n < RMARK_KEY_MIN || n > RMARK_KEY_MAX) {
        snprintf(why, whycap, "%s must hold %d to %d random bytes (openssl rand -out FILE 32)", path, RMARK_KEY_MIN,
                 RMARK_KEY_MAX);
        goto bad;
    }
    memcpy(key->k, buf, (size_t)n);
    key->len = (size_t)n;
    OPENSSL_cleanse(buf, sizeof(buf));
    close(fd);
    return MC_OK;
bad:
    OPENSSL_cleanse(buf, sizeof(buf));
    close(fd);
    return MC_ERR_CONFIG;
}

/* Append s with a one-byte length first, so ("ab","c") and ("a","bc") seal differently. */
static size_t put_text(unsigned char *p, const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    p[0] = (unsigned char)n;
    memcpy(p + 1, s, n);
    return n + 1;
}

bool rmark_seal(const rmark_key *key, const rmark *m, unsigned char mac[32])
{
    static const char tag[] = "motcua-rmark-v1";
    unsigned char msg[sizeof(tag) + 64 + sizeof(m->result_id) + sizeof(m->result_type) + sizeof(m->holder) +
                      sizeof(m->valid_until) + sizeof(m->deceased) + 5];
    size_t n = 0, out = 0;
    memcpy(msg, tag, sizeof(tag));
    n += sizeof(tag);
    memcpy(msg + n, m->sha, 32);
    memcpy(msg + n + 32, m->trust, 32);
    n += 64;
    n += put_text(msg + n, m->result_id, sizeof(m->result_id) - 1);
    n += put_text(msg + n, m->result_type, sizeof(m->result_type) - 1);
    n += put_text(msg + n, m->holder, sizeof(m->holder) - 1);
    n += put_text(msg + n, m->valid_until, sizeof(m->valid_until) - 1);
    n += put_text(msg + n, m->deceased, sizeof(m->deceased) - 1);
    return EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key->k, key->len, msg, n, mac, 32, &out) != NULL &&
           out == 32;
}

bool rmark_authentic(const rmark_key *key, const rmark *m, const unsigned char mac[32])
{
    unsigned char want[32];
    return rmark_seal(key, m, want) && CRYPTO_memcmp(want, mac, 32) == 0;
}
