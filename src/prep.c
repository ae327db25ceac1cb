/*
 * prep.c - featurizing example sets for training: texts -> CSR rows of (bucket, weight),
 * gold label sets mapped to model label ids, and document frequencies -> idf.
 *
 * DESIGN: featurizing is split into contiguous chunks, one per thread, each written to
 * its own buffers and then concatenated in chunk order, so the result does not depend on
 * the number of threads.
 */
#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct chunk {
    uint32_t *ids;
    float *vals;
    size_t n, cap;
    int rc;
} chunk;

typedef struct prep_job {
    intenti_prep *p;
    const intent_dataset *ds;
    const uint32_t *idx;
    const intenti_featspec *fs;
    const float *idf;
    chunk *chunks; /* [threads] */
} prep_job;

static int chunk_reserve(chunk *c, size_t extra) {
    if (c->n + extra <= c->cap)
        return INTENT_OK;
    size_t cap = c->cap ? c->cap : 4096;
    while (cap < c->n + extra)
        cap *= 2;
    uint32_t *ids = intenti_realloc(c->ids, cap * sizeof *ids);
    if (ids)
        c->ids = ids;
    float *vals = ids ? intenti_realloc(c->vals, cap * sizeof *vals) : NULL;
    if (!vals)
        return INTENT_ERR_NOMEM;
    c->vals = vals;
    c->cap = cap;
    return INTENT_OK;
}

static void prep_chunk(void *arg, uint32_t tid, uint32_t n_threads) {
    prep_job *job = arg;
    intenti_prep *p = job->p;
    chunk *c = &job->chunks[tid];
    uint32_t lo = (uint32_t)((uint64_t)p->n * tid / n_threads), hi = (uint32_t)((uint64_t)p->n * (tid + 1) / n_threads);
    intenti_feats f;
    c->rc = intenti_feats_init(&f);
    for (uint32_t i = lo; i < hi && !c->rc; i++) {
        size_t len;
        const char *text = intent_dataset_example(job->ds, job->idx[i], &len, NULL, NULL);
        intenti_extract(job->fs, &f, text, len);
        if (job->idf)
            intenti_weigh(job->fs, job->idf, &f);
        c->rc = chunk_reserve(c, f.n);
        if (c->rc)
            break;
        memcpy(c->ids + c->n, f.ids, f.n * sizeof *f.ids);
        memcpy(c->vals + c->n, f.vals, f.n * sizeof *f.vals);
        p->nnz[i] = f.n;
        c->n += f.n;
    }
    intenti_feats_free(&f);
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int map_labels(intenti_prep *p, const intent_dataset *ds, const uint32_t *idx, const uint32_t *map) {
    size_t total = 0;
    for (uint32_t i = 0; i < p->n; i++)
        total += ds->lab_off[idx[i] + 1] - ds->lab_off[idx[i]];
    p->lab_off = intenti_calloc((size_t)p->n + 1, sizeof *p->lab_off);
    p->lab = intenti_calloc(total ? total : 1, sizeof *p->lab);
    if (!p->lab_off || !p->lab)
        return INTENT_ERR_NOMEM;
    size_t k = 0;
    for (uint32_t i = 0; i < p->n; i++) {
        size_t start = k;
        for (uint32_t j = ds->lab_off[idx[i]]; j < ds->lab_off[idx[i] + 1]; j++)
            if (map[ds->lab_ids[j]] != INTENTI_DROP)
                p->lab[k++] = map[ds->lab_ids[j]];
        qsort(p->lab + start, k - start, sizeof *p->lab, cmp_u32);
        p->lab_off[i + 1] = (uint32_t)k;
    }
    p->n_lab = k;
    return INTENT_OK;
}

/* Concatenates the chunks in thread order into p->ids / p->vals. */
static int gather(intenti_prep *p, chunk *chunks, uint32_t n_chunks) {
    size_t total = 0;
    for (uint32_t t = 0; t < n_chunks; t++) {
        if (chunks[t].rc)
            return chunks[t].rc;
        total += chunks[t].n;
    }
    p->ids = intenti_malloc((total ? total : 1) * sizeof *p->ids);
    p->vals = intenti_malloc((total ? total : 1) * sizeof *p->vals);
    if (!p->ids || !p->vals)
        return INTENT_ERR_NOMEM;
    size_t at = 0;
    for (uint32_t t = 0; t < n_chunks; t++) {
        if (!chunks[t].n)
            continue;
        memcpy(p->ids + at, chunks[t].ids, chunks[t].n * sizeof *p->ids);
        memcpy(p->vals + at, chunks[t].vals, chunks[t].n * sizeof *p->vals);
        at += chunks[t].n;
    }
    p->n_feats = total;
    for (uint32_t i = 0, off = 0; i < p->n; off += p->nnz[i], i++)
        p->off[i] = off;
    return INTENT_OK;
}

int intenti_prep_build(intenti_prep *p, const intent_dataset *ds, const uint32_t *idx, uint32_t n,
                       const uint32_t *map, const intenti_featspec *fs, const float *idf,
                       intenti_team *team) {
    memset(p, 0, sizeof *p);
    p->n = n;
    uint32_t T = intenti_team_size(team);
    p->off = intenti_calloc(n ? n : 1, sizeof *p->off);
    p->nnz = intenti_calloc(n ? n : 1, sizeof *p->nnz);
    chunk *chunks = intenti_calloc(T, sizeof *chunks);
    int rc = (!p->off || !p->nnz || !chunks) ? INTENT_ERR_NOMEM : map_labels(p, ds, idx, map);
    if (!rc) {
        prep_job job = {p, ds, idx, fs, idf, chunks};
        intenti_team_run(team, prep_chunk, &job);
        rc = gather(p, chunks, T);
    }
    for (uint32_t t = 0; chunks && t < T; t++) {
        intenti_free(chunks[t].ids);
        intenti_free(chunks[t].vals);
    }
    intenti_free(chunks);
    if (rc)
        intenti_prep_free(p);
    return rc;
}

void intenti_prep_free(intenti_prep *p) {
    intenti_free(p->off);
    intenti_free(p->nnz);
    intenti_free(p->ids);
    intenti_free(p->vals);
    intenti_free(p->lab_off);
    intenti_free(p->lab);
    memset(p, 0, sizeof *p);
}

int intenti_prep_idf(const intenti_prep *p, uint32_t buckets, uint32_t min_count, float **out) {
    uint32_t *df = intenti_calloc(buckets, sizeof *df);
    float *idf = intenti_calloc(buckets, sizeof *idf);
    if (!df || !idf) {
        intenti_free(df);
        intenti_free(idf);
        return INTENT_ERR_NOMEM;
    }
    for (size_t j = 0; j < p->n_feats; j++) /* ids are distinct within an example */
        df[p->ids[j]]++;
    for (uint32_t b = 0; b < buckets; b++)
        idf[b] = df[b] && df[b] >= min_count ? (float)(log((1.0 + p->n) / (1.0 + df[b])) + 1.0) : 0.0f;
    intenti_free(df);
    *out = idf;
    return INTENT_OK;
}

void intenti_prep_weigh(intenti_prep *p, const intenti_featspec *fs, const float *idf) {
    for (uint32_t i = 0; i < p->n; i++)
        p->nnz[i] = intenti_weigh_row(fs, idf, p->ids + p->off[i], p->vals + p->off[i], p->nnz[i]);
}
