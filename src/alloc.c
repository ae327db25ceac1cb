/*
 * alloc.c - the allocation hook, error messages and a growable byte buffer.
 *
 * Every allocation of the library goes through `hook`, so tests can make the n-th one
 * fail and check that nothing leaks or crashes (see tests/test_alloc.c).
 */
#include "intent_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *std_malloc(size_t n, void *u) { (void)u; return malloc(n); }
static void *std_realloc(void *p, size_t n, void *u) { (void)u; return realloc(p, n); }
static void std_free(void *p, void *u) { (void)u; free(p); }

static intent_allocator hook = {std_malloc, std_realloc, std_free, NULL};

void intent_set_allocator(const intent_allocator *a) {
    if (a && a->malloc_fn && a->realloc_fn && a->free_fn)
        hook = *a;
    else
        hook = (intent_allocator){std_malloc, std_realloc, std_free, NULL};
}

void *intenti_malloc(size_t n) { return hook.malloc_fn(n ? n : 1, hook.user); }

void *intenti_calloc(size_t count, size_t size) {
    size_t n;
    if (!intenti_mul(count, size, &n))
        return NULL;
    void *p = intenti_malloc(n);
    if (p)
        memset(p, 0, n);
    return p;
}

void *intenti_realloc(void *p, size_t n) { return hook.realloc_fn(p, n ? n : 1, hook.user); }

void intenti_free(void *p) {
    if (p)
        hook.free_fn(p, hook.user);
}

char *intenti_strndup(const char *s, size_t n) {
    size_t total;
    if (!intenti_add(n, 1, &total))
        return NULL;
    char *d = intenti_malloc(total);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Aligned blocks: over-allocate, keep the raw pointer just below the aligned address. */
void *intenti_aalloc(size_t n) {
    size_t total;
    if (!intenti_add(n, INTENTI_ALIGN + sizeof(void *), &total))
        return NULL;
    uint8_t *raw = intenti_malloc(total);
    if (!raw)
        return NULL;
    uintptr_t a = ((uintptr_t)raw + sizeof(void *) + INTENTI_ALIGN - 1) & ~(uintptr_t)(INTENTI_ALIGN - 1);
    ((void **)a)[-1] = raw;
    return (void *)a;
}

void intenti_afree(void *p) {
    if (p)
        intenti_free(((void **)p)[-1]);
}

int intenti_verr(intent_error *err, int status, const char *fmt, va_list ap) {
    if (err) {
        err->status = status;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
    }
    return status;
}

int intenti_err(intent_error *err, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    intenti_verr(err, status, fmt, ap);
    va_end(ap);
    return status;
}

const char *intent_status_str(int status) {
    switch (status) {
    case INTENT_OK: return "ok";
    case INTENT_ERR_ARG: return "invalid argument";
    case INTENT_ERR_NOMEM: return "out of memory";
    case INTENT_ERR_IO: return "input/output error";
    case INTENT_ERR_PARSE: return "malformed data";
    case INTENT_ERR_FORMAT: return "malformed model file";
    case INTENT_ERR_VERSION: return "unsupported model file version";
    case INTENT_ERR_CHECKSUM: return "model file checksum mismatch";
    case INTENT_ERR_LIMIT: return "limit exceeded";
    case INTENT_ERR_EMPTY: return "nothing to learn from";
    case INTENT_ERR_CANCELLED: return "cancelled";
    case INTENT_ERR_REJECTED: return "retrained model rejected";
    case INTENT_ERR_COMPONENT: return "a component failed to load or unload";
    case INTENT_ERR_BUSY: return "busy: the queue is full";
    case INTENT_ERR_TIMEOUT: return "timed out";
    case INTENT_ERR_NO_MODEL: return "no model is served";
    default: return "unknown status";
    }
}

const char *intent_version(void) { return INTENT_VERSION_STRING; }

/* Grows geometrically; on failure marks the buffer and drops this and later writes, so
 * a writer checks b->oom once at the end instead of after every append. */
static bool buf_reserve(intenti_buf *b, size_t extra) {
    size_t need;
    if (b->oom || !intenti_add(b->len, extra, &need)) {
        b->oom = true;
        return false;
    }
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (!intenti_mul(cap, 2, &cap)) {
            b->oom = true;
            return false;
        }
    }
    uint8_t *d = intenti_realloc(b->data, cap);
    if (!d) {
        b->oom = true;
        return false;
    }
    b->data = d;
    b->cap = cap;
    return true;
}

void intenti_buf_put(intenti_buf *b, const void *p, size_t n) {
    if (n && buf_reserve(b, n)) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
    }
}

void intenti_buf_zeros(intenti_buf *b, size_t n) {
    if (n && buf_reserve(b, n)) {
        memset(b->data + b->len, 0, n);
        b->len += n;
    }
}

void intenti_buf_u8(intenti_buf *b, uint8_t v) { intenti_buf_put(b, &v, 1); }
void intenti_buf_u16(intenti_buf *b, uint16_t v) {
    uint8_t p[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    intenti_buf_put(b, p, 2);
}
void intenti_buf_u32(intenti_buf *b, uint32_t v) {
    uint8_t p[4];
    intenti_st32(p, v);
    intenti_buf_put(b, p, 4);
}
void intenti_buf_u64(intenti_buf *b, uint64_t v) {
    uint8_t p[8];
    intenti_st64(p, v);
    intenti_buf_put(b, p, 8);
}
void intenti_buf_f32(intenti_buf *b, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    intenti_buf_u32(b, u);
}
void intenti_buf_free(intenti_buf *b) {
    intenti_free(b->data);
    *b = (intenti_buf){0};
}
