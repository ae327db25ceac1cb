/*
 * model_io.c - the model file: build an image in memory, validate and index one.
 *
 * FORMAT (docs/FORMAT.md has it byte by byte; all integers little-endian)
 *   header    64 bytes: magic "\x89INT\r\n\x1a\n", major, minor, byte-order and float
 *             probes, sizes and offsets of the two directories below
 *   metadata  typed key-value entries (featurizer, labels, layers, provenance)
 *   tensors   a directory: name, dtype, dims, offset, size of each tensor
 *   data      tensors, each 64-byte aligned, so a mapped file is used in place
 *   trailer   CRC-32C of everything before it, then "TNI\x89"
 *
 * DESIGN: every count is capped and every offset + size is checked against the file
 * before anything is read or allocated; a reader of major version 1 reads any 1.x file,
 * skipping metadata types and keys it does not know. Messages name the field and offset.
 */
#include "intent_impl.h"

#include <stdio.h>
#include <string.h>

static const uint8_t MAGIC[8] = {0x89, 'I', 'N', 'T', '\r', '\n', 0x1A, '\n'};
static const uint8_t TAIL[4] = {'T', 'N', 'I', 0x89};
#define ENDIAN_PROBE 0x0A0B0C0Du
#define FLOAT_PROBE 0x3FC00000u /* 1.5f */
#define MAX_KV 4096
#define MAX_TENSORS 4096

/* ---- building ---- */

static void kv_head(intenti_fbuild *b, const char *key, int type, uint32_t val_len) {
    size_t kl = strlen(key);
    intenti_buf_u16(&b->meta, (uint16_t)kl);
    intenti_buf_put(&b->meta, key, kl);
    intenti_buf_u8(&b->meta, (uint8_t)type);
    intenti_buf_u32(&b->meta, val_len);
    b->n_kv++;
}

void intenti_fb_u32(intenti_fbuild *b, const char *key, uint32_t v) {
    kv_head(b, key, INTENTI_KV_U32, 4);
    intenti_buf_u32(&b->meta, v);
}
void intenti_fb_u64(intenti_fbuild *b, const char *key, uint64_t v) {
    kv_head(b, key, INTENTI_KV_U64, 8);
    intenti_buf_u64(&b->meta, v);
}
void intenti_fb_f32(intenti_fbuild *b, const char *key, float v) {
    kv_head(b, key, INTENTI_KV_F32, 4);
    intenti_buf_f32(&b->meta, v);
}
void intenti_fb_f64(intenti_fbuild *b, const char *key, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    kv_head(b, key, INTENTI_KV_F64, 8);
    intenti_buf_u64(&b->meta, u);
}
void intenti_fb_str(intenti_fbuild *b, const char *key, const char *s) {
    size_t n = strlen(s);
    kv_head(b, key, INTENTI_KV_STR, (uint32_t)n);
    intenti_buf_put(&b->meta, s, n);
}
void intenti_fb_strs(intenti_fbuild *b, const char *key, const char *const *s, uint32_t n) {
    size_t total = 4;
    for (uint32_t i = 0; i < n; i++)
        total += 4 + strlen(s[i]);
    kv_head(b, key, INTENTI_KV_STRS, (uint32_t)total);
    intenti_buf_u32(&b->meta, n);
    for (uint32_t i = 0; i < n; i++) {
        intenti_buf_u32(&b->meta, (uint32_t)strlen(s[i]));
        intenti_buf_put(&b->meta, s[i], strlen(s[i]));
    }
}
void intenti_fb_u32s(intenti_fbuild *b, const char *key, const uint32_t *v, uint32_t n) {
    kv_head(b, key, INTENTI_KV_U32S, 4 + 4 * n);
    intenti_buf_u32(&b->meta, n);
    for (uint32_t i = 0; i < n; i++)
        intenti_buf_u32(&b->meta, v[i]);
}

void intenti_fb_kv(intenti_fbuild *b, const intenti_kv *kv) {
    intenti_buf_u16(&b->meta, (uint16_t)kv->key_len);
    intenti_buf_put(&b->meta, kv->key, kv->key_len);
    intenti_buf_u8(&b->meta, (uint8_t)kv->type);
    intenti_buf_u32(&b->meta, (uint32_t)kv->val_len);
    intenti_buf_put(&b->meta, kv->val, kv->val_len);
    b->n_kv++;
}

void intenti_fb_tensor(intenti_fbuild *b, const char *name, int dtype, uint32_t rows,
                       uint32_t cols, const void *data) {
    if (b->n_t == b->cap_t) {
        uint32_t cap = b->cap_t ? b->cap_t * 2 : 16;
        void *t = intenti_realloc(b->t, cap * sizeof *b->t);
        if (!t) {
            b->oom = true;
            return;
        }
        b->t = t;
        b->cap_t = cap;
    }
    struct intenti_fbuild_t *t = &b->t[b->n_t++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dtype = dtype;
    t->n_dims = cols ? 2 : 1;
    t->dims[0] = rows;
    t->dims[1] = cols;
    t->data = data;
    t->nbytes = (size_t)rows * (cols ? cols : 1) * (dtype == INTENTI_DT_I8 ? 1 : 4);
}

static size_t align_up(size_t x) { return (x + INTENTI_ALIGN - 1) & ~(size_t)(INTENTI_ALIGN - 1); }

static void put_dir(intenti_fbuild *b, intenti_buf *dir, size_t data_start) {
    size_t off = data_start;
    for (uint32_t i = 0; i < b->n_t; i++) {
        struct intenti_fbuild_t *t = &b->t[i];
        size_t nl = strlen(t->name);
        intenti_buf_u16(dir, (uint16_t)nl);
        intenti_buf_put(dir, t->name, nl);
        intenti_buf_u8(dir, (uint8_t)t->dtype);
        intenti_buf_u8(dir, (uint8_t)t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++)
            intenti_buf_u32(dir, t->dims[d]);
        intenti_buf_u64(dir, off);
        intenti_buf_u64(dir, t->nbytes);
        off = align_up(off + t->nbytes);
    }
}

/* Directory entry size is fixed per tensor (given its name and dims), so the data offset
 * is known before the directory is written. */
static size_t dir_size(const intenti_fbuild *b) {
    size_t n = 0;
    for (uint32_t i = 0; i < b->n_t; i++)
        n += 2 + strlen(b->t[i].name) + 2 + 4 * b->t[i].n_dims + 16;
    return n;
}

int intenti_fb_finish(intenti_fbuild *b, uint8_t **out, size_t *len) {
    *out = NULL;
    if (b->oom || b->meta.oom)
        return INTENT_ERR_NOMEM;
    size_t meta_off = INTENTI_HEADER_SIZE, dir_off = meta_off + b->meta.len;
    size_t data_start = align_up(dir_off + dir_size(b)), end = data_start;
    for (uint32_t i = 0; i < b->n_t; i++)
        end = align_up(end) + b->t[i].nbytes;
    size_t total = end + INTENTI_TRAILER_SIZE;
    intenti_buf dir = {0};
    put_dir(b, &dir, data_start);
    uint8_t *img = intenti_aalloc(total);
    if (!img || dir.oom) {
        intenti_afree(img);
        intenti_buf_free(&dir);
        return INTENT_ERR_NOMEM;
    }
    memset(img, 0, total);
    memcpy(img, MAGIC, 8);
    img[8] = INTENTI_FILE_MAJOR; img[10] = INTENTI_FILE_MINOR;
    intenti_st32(img + 12, ENDIAN_PROBE);
    intenti_st32(img + 16, FLOAT_PROBE);
    intenti_st32(img + 20, INTENTI_HEADER_SIZE);
    intenti_st64(img + 24, total);
    intenti_st64(img + 32, meta_off);
    intenti_st32(img + 40, b->n_kv);
    intenti_st32(img + 44, (uint32_t)b->meta.len);
    intenti_st64(img + 48, dir_off);
    intenti_st32(img + 56, b->n_t);
    intenti_st32(img + 60, (uint32_t)dir.len);
    if (b->meta.len)
        memcpy(img + meta_off, b->meta.data, b->meta.len);
    if (dir.len)
        memcpy(img + dir_off, dir.data, dir.len);
    size_t off = data_start;
    for (uint32_t i = 0; i < b->n_t; i++) {
        off = align_up(off);
        if (b->t[i].nbytes)
            memcpy(img + off, b->t[i].data, b->t[i].nbytes);
        off += b->t[i].nbytes;
    }
    intenti_st32(img + end, intenti_crc32c(0, img, end));
    memcpy(img + end + 4, TAIL, 4);
    intenti_buf_free(&dir);
    *out = img;
    *len = total;
    return INTENT_OK;
}

void intenti_fb_free(intenti_fbuild *b) {
    intenti_buf_free(&b->meta);
    intenti_free(b->t);
    memset(b, 0, sizeof *b);
}

/* ---- reading ---- */

typedef struct cursor {
    const uint8_t *p;
    size_t pos, end; /* absolute offsets in the image */
} cursor;

static bool take(cursor *c, size_t n, const uint8_t **at) {
    if (c->end - c->pos < n)
        return false;
    *at = c->p + c->pos;
    c->pos += n;
    return true;
}

static const char *check_value(int type, const uint8_t *v, uint32_t len, uint32_t *count) {
    *count = 0;
    switch (type) {
    case INTENTI_KV_U32: case INTENTI_KV_F32:
        return len == 4 ? NULL : "value size is not 4";
    case INTENTI_KV_U64: case INTENTI_KV_F64:
        return len == 8 ? NULL : "value size is not 8";
    case INTENTI_KV_STR:
        *count = len;
        return intenti_utf8_check((const char *)v, len) == len ? NULL : "string is not valid UTF-8";
    case INTENTI_KV_U32S:
        if (len < 4 || (len - 4) / 4 != intenti_ld32(v) || (len - 4) % 4)
            return "array size does not match its count";
        *count = intenti_ld32(v);
        return NULL;
    case INTENTI_KV_STRS: {
        if (len < 4)
            return "string array shorter than its count";
        uint32_t n = intenti_ld32(v);
        size_t pos = 4;
        for (uint32_t i = 0; i < n; i++) {
            if (len - pos < 4)
                return "string array truncated";
            uint32_t sl = intenti_ld32(v + pos);
            pos += 4;
            if (len - pos < sl)
                return "string array truncated";
            if (intenti_utf8_check((const char *)v + pos, sl) != sl)
                return "string is not valid UTF-8";
            pos += sl;
        }
        *count = n;
        return pos == len ? NULL : "string array has trailing bytes";
    }
    default:
        return NULL; /* a newer minor version's type: skipped, not an error */
    }
}

static int parse_meta(intenti_fview *v, size_t off, uint32_t n, size_t bytes, const char *name,
                      intent_error *err) {
    if (n > MAX_KV)
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: %u metadata entries (at most %u)", name, n, MAX_KV);
    v->kv = intenti_calloc(n ? n : 1, sizeof *v->kv);
    if (!v->kv)
        return intenti_err(err, INTENT_ERR_NOMEM, "%s: out of memory", name);
    cursor c = {v->base, off, off + bytes};
    for (uint32_t i = 0; i < n; i++) {
        size_t at = c.pos;
        const uint8_t *p, *key, *val;
        if (!take(&c, 2, &p) || !take(&c, intenti_ld16(p), &key) || intenti_ld16(p) == 0)
            return intenti_err(err, INTENT_ERR_FORMAT, "%s: metadata entry %u at offset %zu: bad key", name, i, at);
        size_t kl = intenti_ld16(p);
        const uint8_t *tl;
        if (!take(&c, 5, &tl) || !take(&c, intenti_ld32(tl + 1), &val))
            return intenti_err(err, INTENT_ERR_FORMAT, "%s: metadata \"%.*s\" at offset %zu: value runs past the metadata",
                               name, (int)kl, (const char *)key, at);
        intenti_kv *kv = &v->kv[v->n_kv];
        *kv = (intenti_kv){(const char *)key, kl, tl[0], val, intenti_ld32(tl + 1), 0};
        const char *why = check_value(kv->type, val, (uint32_t)kv->val_len, &kv->count);
        if (why)
            return intenti_err(err, INTENT_ERR_FORMAT, "%s: metadata \"%.*s\" at offset %zu: %s", name,
                               (int)kl, (const char *)key, at, why);
        for (uint32_t j = 0; j < v->n_kv; j++)
            if (v->kv[j].key_len == kl && memcmp(v->kv[j].key, key, kl) == 0)
                return intenti_err(err, INTENT_ERR_FORMAT, "%s: metadata \"%.*s\" appears twice", name, (int)kl, (const char *)key);
        v->n_kv++;
    }
    if (c.pos != c.end)
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: %zu stray bytes after the metadata", name, c.end - c.pos);
    return INTENT_OK;
}

static const char *check_tensor(const intenti_fview *v, const intenti_tensor *t, size_t data_min) {
    uint64_t elems = 1;
    for (uint32_t d = 0; d < t->n_dims; d++)
        elems *= t->dims[d]; /* each dim < 2^32 and n_dims <= 2: fits in 64 bits */
    uint64_t size = t->dtype == INTENTI_DT_F32 ? 4 : t->dtype == INTENTI_DT_I8 ? 1 : 0;
    if (!size)
        return "unknown dtype";
    if (elems > UINT64_MAX / size || elems * size != t->nbytes)
        return "size does not match its dtype and dims";
    if (t->offset % INTENTI_ALIGN)
        return "data not 64-byte aligned";
    if (t->offset < data_min || t->offset > v->len - INTENTI_TRAILER_SIZE ||
        t->nbytes > v->len - INTENTI_TRAILER_SIZE - t->offset)
        return "data outside the file's data area";
    return NULL;
}

static int parse_tensors(intenti_fview *v, size_t off, uint32_t n, size_t bytes, const char *name,
                         intent_error *err) {
    if (n > MAX_TENSORS)
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: %u tensors (at most %u)", name, n, MAX_TENSORS);
    v->tensors = intenti_calloc(n ? n : 1, sizeof *v->tensors);
    if (!v->tensors)
        return intenti_err(err, INTENT_ERR_NOMEM, "%s: out of memory", name);
    cursor c = {v->base, off, off + bytes};
    for (uint32_t i = 0; i < n; i++) {
        size_t at = c.pos;
        const uint8_t *p, *nm, *dt, *dims, *ob;
        if (!take(&c, 2, &p) || intenti_ld16(p) == 0 || intenti_ld16(p) > 63 ||
            !take(&c, intenti_ld16(p), &nm) || !take(&c, 2, &dt) || dt[1] < 1 || dt[1] > 2 ||
            !take(&c, 4u * dt[1], &dims) || !take(&c, 16, &ob))
            return intenti_err(err, INTENT_ERR_FORMAT, "%s: tensor entry %u at offset %zu is malformed", name, i, at);
        intenti_tensor *t = &v->tensors[i];
        *t = (intenti_tensor){(const char *)nm, intenti_ld16(p), dt[0], dt[1], {0, 0}, NULL,
                              intenti_ld64(ob), intenti_ld64(ob + 8)};
        for (uint32_t d = 0; d < t->n_dims; d++)
            t->dims[d] = intenti_ld32(dims + 4 * d);
        const char *why = check_tensor(v, t, off + bytes);
        if (why)
            return intenti_err(err, INTENT_ERR_FORMAT, "%s: tensor \"%.*s\" (entry %u): %s", name,
                               (int)t->name_len, t->name, i, why);
        for (uint32_t j = 0; j < i; j++)
            if (v->tensors[j].name_len == t->name_len && memcmp(v->tensors[j].name, t->name, t->name_len) == 0)
                return intenti_err(err, INTENT_ERR_FORMAT, "%s: tensor \"%.*s\" appears twice", name,
                                   (int)t->name_len, t->name);
        t->data = v->base + t->offset;
        v->n_tensors++;
    }
    if (c.pos != c.end)
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: %zu stray bytes after the tensor directory", name, c.end - c.pos);
    return INTENT_OK;
}

static int check_header(intenti_fview *v, const char *name, intent_error *err) {
    const uint8_t *h = v->base;
    if (v->len < 8 || memcmp(h, MAGIC, 8) != 0)
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: not an intent model (bad magic bytes)", name);
    if (v->len < INTENTI_HEADER_SIZE + INTENTI_TRAILER_SIZE)
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: truncated: %zu bytes, shorter than a header", name, v->len);
    v->major = intenti_ld16(h + 8);
    v->minor = intenti_ld16(h + 10);
    if (v->major != INTENTI_FILE_MAJOR)
        return intenti_err(err, INTENT_ERR_VERSION, "%s: format version %u.%u; this library reads %u.x",
                           name, v->major, v->minor, INTENTI_FILE_MAJOR);
    if (intenti_ld32(h + 12) != ENDIAN_PROBE || intenti_ld32(h + 16) != FLOAT_PROBE)
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: byte-order probes are wrong (file damaged or not little-endian)", name);
    uint64_t file_size = intenti_ld64(h + 24);
    if (file_size != v->len)
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: %s: header says %llu bytes, file has %zu", name,
                           file_size > v->len ? "truncated" : "trailing bytes", (unsigned long long)file_size, v->len);
    if (memcmp(h + v->len - 4, TAIL, 4) != 0)
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: bad trailer (file damaged)", name);
    uint32_t want = intenti_ld32(h + v->len - 8), got = intenti_crc32c(0, h, v->len - 8);
    if (want != got)
        return intenti_err(err, INTENT_ERR_CHECKSUM, "%s: checksum mismatch (stored %08x, computed %08x): file damaged",
                           name, want, got);
    return INTENT_OK;
}

int intenti_fview_parse(intenti_fview *v, const uint8_t *base, size_t len, const char *name,
                        intent_error *err) {
    memset(v, 0, sizeof *v);
    v->base = base;
    v->len = len;
    int rc = check_header(v, name, err);
    if (rc)
        return rc;
    const uint8_t *h = base;
    uint64_t hs = intenti_ld32(h + 20), mo = intenti_ld64(h + 32), mb = intenti_ld32(h + 44);
    uint64_t dof = intenti_ld64(h + 48), db = intenti_ld32(h + 60), body = len - INTENTI_TRAILER_SIZE;
    if (hs < INTENTI_HEADER_SIZE || hs > body)
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: header size %llu is invalid", name, (unsigned long long)hs);
    if (mo < hs || mo > body || mb > body - mo)
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: metadata area (offset %llu, %llu bytes) is outside the file",
                           name, (unsigned long long)mo, (unsigned long long)mb);
    if (dof < mo + mb || dof > body || db > body - dof)
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: tensor directory (offset %llu, %llu bytes) is outside the file",
                           name, (unsigned long long)dof, (unsigned long long)db);
    rc = parse_meta(v, (size_t)mo, intenti_ld32(h + 40), (size_t)mb, name, err);
    if (!rc)
        rc = parse_tensors(v, (size_t)dof, intenti_ld32(h + 56), (size_t)db, name, err);
    if (rc)
        intenti_fview_free(v);
    return rc;
}

void intenti_fview_free(intenti_fview *v) {
    intenti_free(v->kv);
    intenti_free(v->tensors);
    v->kv = NULL;
    v->tensors = NULL;
    v->n_kv = v->n_tensors = 0;
}

const intenti_kv *intenti_fview_kv(const intenti_fview *v, const char *key, int type) {
    size_t kl = strlen(key);
    for (uint32_t i = 0; i < v->n_kv; i++)
        if (v->kv[i].key_len == kl && memcmp(v->kv[i].key, key, kl) == 0)
            return v->kv[i].type == type ? &v->kv[i] : NULL;
    return NULL;
}

const intenti_tensor *intenti_fview_tensor(const intenti_fview *v, const char *name) {
    size_t nl = strlen(name);
    for (uint32_t i = 0; i < v->n_tensors; i++)
        if (v->tensors[i].name_len == nl && memcmp(v->tensors[i].name, name, nl) == 0)
            return &v->tensors[i];
    return NULL;
}

const char *intenti_kv_str_at(const intenti_kv *kv, uint32_t i, size_t *len) {
    size_t pos = 4;
    for (uint32_t k = 0;; k++) {
        uint32_t sl = intenti_ld32(kv->val + pos);
        if (k == i) {
            *len = sl;
            return (const char *)kv->val + pos + 4;
        }
        pos += 4 + sl;
    }
}
