/*
 * model_file.c - loading (mmap or memory), atomic saving and describing model files.
 */
#include "intent_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_MODEL_BYTES ((size_t)1 << 34) /* 16 GiB: larger is not a model we wrote */

int intent_model_load(const char *path, intent_model **out, intent_error *err) {
    if (!path || !out)
        return intenti_err(err, INTENT_ERR_ARG, "intent_model_load: NULL argument");
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return intenti_err(err, INTENT_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return intenti_err(err, INTENT_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > MAX_MODEL_BYTES) {
        close(fd);
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: %lld bytes is too large for a model", path, (long long)st.st_size);
    }
    size_t len = (size_t)st.st_size;
    if (len < INTENTI_HEADER_SIZE + INTENTI_TRAILER_SIZE) {
        /* too small to map usefully: read it, so the header check names the problem */
        uint8_t *img = intenti_aalloc(len);
        ssize_t got = img ? read(fd, img, len) : -1;
        close(fd);
        if (!img)
            return intenti_err(err, INTENT_ERR_NOMEM, "%s: out of memory", path);
        return intenti_model_from_image(img, got > 0 ? (size_t)got : 0, false, path, out, err);
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return intenti_err(err, INTENT_ERR_IO, "%s: mmap: %s", path, strerror(errno));
    return intenti_model_from_image(map, len, true, path, out, err);
}

int intent_model_load_mem(const void *data, size_t len, intent_model **out, intent_error *err) {
    if (!out || (!data && len))
        return intenti_err(err, INTENT_ERR_ARG, "intent_model_load_mem: NULL argument");
    *out = NULL;
    if (len > MAX_MODEL_BYTES)
        return intenti_err(err, INTENT_ERR_FORMAT, "<memory>: %zu bytes is too large for a model", len);
    uint8_t *img = intenti_aalloc(len);
    if (!img)
        return intenti_err(err, INTENT_ERR_NOMEM, "<memory>: out of memory");
    if (len)
        memcpy(img, data, len);
    return intenti_model_from_image(img, len, false, "<memory>", out, err);
}

static int write_all(int fd, const uint8_t *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n > (1u << 30) ? (1u << 30) : n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Makes the rename durable: fsync the folder that holds path. */
static void sync_dir(const char *path) {
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int intenti_write_atomic(const char *path, const void *data, size_t len, intent_error *err) {
    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= sizeof tmp)
        return intenti_err(err, INTENT_ERR_ARG, "%s: path too long", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return intenti_err(err, INTENT_ERR_IO, "%s: cannot create a temporary file: %s", path, strerror(errno));
    fchmod(fd, 0644);
    if (write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return intenti_err(err, INTENT_ERR_IO, "%s: write failed: %s", path, strerror(e));
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return intenti_err(err, INTENT_ERR_IO, "%s: %s", path, strerror(e));
    }
    sync_dir(path);
    return INTENT_OK;
}

int intent_model_save(const intent_model *m, const char *path, intent_error *err) {
    if (!m || !path)
        return intenti_err(err, INTENT_ERR_ARG, "intent_model_save: NULL argument");
    return intenti_write_atomic(path, m->image, m->image_len, err);
}

/* ---- describe ---- */

typedef struct out {
    char *buf;
    size_t cap, len;
} out;

INTENTI_PRINTF(2, 3) static void say(out *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->len < o->cap ? o->buf + o->len : NULL, o->len < o->cap ? o->cap - o->len : 0, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n;
}

static void say_kv(out *o, const intenti_kv *kv) {
    say(o, "  %-22.*s ", (int)kv->key_len, kv->key);
    switch (kv->type) {
    case INTENTI_KV_U32: say(o, "u32  %u\n", intenti_ld32(kv->val)); break;
    case INTENTI_KV_U64: say(o, "u64  %llu\n", (unsigned long long)intenti_ld64(kv->val)); break;
    case INTENTI_KV_F32: say(o, "f32  %g\n", (double)intenti_ldf32(kv->val)); break;
    case INTENTI_KV_F64: {
        uint64_t u = intenti_ld64(kv->val);
        double d;
        memcpy(&d, &u, 8);
        say(o, "f64  %g\n", d);
        break;
    }
    case INTENTI_KV_STR: /* long strings are cut: the printf precision is an int */
        say(o, "str  \"%.*s\"%s\n", (int)(kv->count < 200 ? kv->count : 200), (const char *)kv->val,
            kv->count > 200 ? "..." : "");
        break;
    case INTENTI_KV_U32S:
        say(o, "u32[%u]", kv->count);
        for (uint32_t i = 0; i < kv->count && i < 16; i++)
            say(o, " %u", intenti_ld32(kv->val + 4 + 4 * i));
        say(o, kv->count > 16 ? " ...\n" : "\n");
        break;
    case INTENTI_KV_STRS: {
        say(o, "str[%u]", kv->count);
        size_t pos = 4;
        for (uint32_t i = 0; i < kv->count && i < 12; i++) {
            uint32_t sl = intenti_ld32(kv->val + pos);
            say(o, " %.*s", (int)(sl < 200 ? sl : 200), (const char *)kv->val + pos + 4);
            pos += 4 + sl;
        }
        say(o, kv->count > 12 ? " ...\n" : "\n");
        break;
    }
    default: say(o, "type %d, %zu bytes (unknown to this version)\n", kv->type, kv->val_len);
    }
}

size_t intent_model_describe(const intent_model *m, char *buf, size_t cap) {
    out o = {buf, cap, 0};
    if (cap)
        buf[0] = '\0';
    if (!m)
        return 0;
    const intenti_fview *v = &m->view;
    say(&o, "intent model, format %u.%u, %zu bytes, crc32c %08x (verified)\n", v->major, v->minor,
        m->image_len, intenti_ld32(m->image + m->image_len - 8));
    say(&o, "metadata (%u entries):\n", v->n_kv);
    for (uint32_t i = 0; i < v->n_kv; i++)
        say_kv(&o, &v->kv[i]);
    say(&o, "tensors (%u):\n", v->n_tensors);
    for (uint32_t i = 0; i < v->n_tensors; i++) {
        const intenti_tensor *t = &v->tensors[i];
        say(&o, "  %-14.*s %-3s [%u", (int)t->name_len, t->name, t->dtype == INTENTI_DT_F32 ? "f32" : "i8", t->dims[0]);
        if (t->n_dims == 2)
            say(&o, "][%u", t->dims[1]);
        say(&o, "]  offset %llu, %llu bytes\n", (unsigned long long)t->offset, (unsigned long long)t->nbytes);
    }
    return o.len;
}
