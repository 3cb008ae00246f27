/*
 * scan_engine.c - kh_engine: load signatures, apply ignore lists, compile the matchers.
 *
 * The engine is built once and then only read, so any number of scanner threads can share
 * it without locks; a reference count lets a reloaded engine replace an old one while scans
 * that started on the old one finish with it.
 */
#include "scan/scan_int.h"

#include <stdlib.h>
#include <string.h>

void kh_engine_opts_default(kh_engine_opts *out)
{
    memset(out, 0, sizeof(*out));
}

kh_err kh_engine_create(const kh_engine_opts *opts, kh_engine **out_engine)
{
    kh_engine_opts def;
    if (!out_engine)
        return KH_EINVAL;
    if (!opts) {
        kh_engine_opts_default(&def);
        opts = &def;
    }
    kh_engine *e = khi_calloc(1, sizeof(*e));
    if (!e)
        return KH_ENOMEM;
    atomic_init(&e->refs, 1);
    e->diag = opts->diag;
    e->diag_ud = opts->diag_ud;
    khi_sigdb_init(&e->db, opts->diag, opts->diag_ud);
    if ((opts->cache_dir && !(e->cache_dir = khi_strdup(opts->cache_dir))) ||
        (opts->trust_dir && !(e->db.trust_dir = khi_strdup(opts->trust_dir)))) {
        kh_engine_release(e);
        return KH_ENOMEM;
    }
    *out_engine = e;
    return KH_OK;
}

kh_err kh_engine_load(kh_engine *e, const char *path)
{
    if (!e || !path)
        return KH_EINVAL;
    if (e->compiled)
        return KH_ESTATE;
    return khi_sigdb_load_path(&e->db, path);
}

kh_err kh_engine_load_mem(kh_engine *e, const char *name, const void *data, size_t len)
{
    if (!e || !name || (!data && len))
        return KH_EINVAL;
    if (e->compiled)
        return KH_ESTATE;
    kh_err err = khi_sigdb_load_mem(&e->db, name, data ? data : "", len);
    if (err == KH_EFORMAT)
        khi_sigdb_diag(&e->db, KH_DIAG_ERROR, name, 0,
                       "unknown database format (expected .hdb .hsb .mdb .msb .ndb .ldb .fp .sfp .ign2 .yar .yara .yarc .cvd .cld .cud)");
    return err;
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int ignored(const khi_sigdb *db, const char *name)
{
    return db->nignores &&
           bsearch(&name, db->ignores, db->nignores, sizeof(*db->ignores), cmp_cstr) != NULL;
}

/* Drop signatures named in .ign2 files, keeping the order of the rest. */
static uint32_t apply_ignores(khi_sigdb *db)
{
    uint32_t dropped = 0;
    size_t k;
    if (!db->nignores)
        return 0;
    qsort(db->ignores, db->nignores, sizeof(*db->ignores), cmp_cstr);
    k = 0;
    for (size_t i = 0; i < db->nhashes; i++) {
        if (ignored(db, db->hashes[i].name))
            dropped++;
        else
            db->hashes[k++] = db->hashes[i];
    }
    db->nhashes = k;
    k = 0;
    for (size_t i = 0; i < db->nsects; i++) {
        if (ignored(db, db->sects[i].name))
            dropped++;
        else
            db->sects[k++] = db->sects[i];
    }
    db->nsects = k;
    /* logical signatures: their subsignatures carry the same name and go with them */
    uint32_t *remap = khi_calloc(db->nldbs ? db->nldbs : 1, sizeof(*remap));
    if (!remap)
        return UINT32_MAX;
    k = 0;
    for (size_t i = 0; i < db->nldbs; i++) {
        if (ignored(db, db->ldbs[i].name)) {
            dropped++;
        } else {
            remap[i] = (uint32_t)k + 1;
            db->ldbs[k++] = db->ldbs[i];
        }
    }
    db->nldbs = k;
    k = 0;
    for (size_t i = 0; i < db->nbodies; i++) {
        khi_bodysig *b = &db->bodies[i];
        if (b->ldb1 ? !remap[b->ldb1 - 1] : ignored(db, b->name)) {
            dropped += !b->ldb1;
            continue;
        }
        if (b->ldb1)
            b->ldb1 = remap[b->ldb1 - 1];
        db->bodies[k++] = *b;
    }
    db->nbodies = k;
    khi_free(remap);
    return dropped;
}

/* Signatures of target types 3 and 7 only ever match normalised views (lib/scan builds them):
 * a database of their own spares each view a pass of every other signature. Compiled (or
 * loaded from the cache) like the main one; its rejections are those of the main one. */
static kh_err compile_views(kh_engine *e)
{
    khi_sigdb *db = &e->db;
    size_t n = 0, k = 0;
    kh_err err = KH_OK;
    for (size_t i = 0; i < db->nbodies; i++)
        n += (db->bodies[i].target == 3 || db->bodies[i].target == 7) &&
             !khi_hsmatch_rejected(e->bodies, (uint32_t)i);
    if (n == 0)
        return KH_OK;
    khi_bodysig *vs = khi_calloc(n, sizeof(*vs));
    e->view_ids = khi_calloc(n, sizeof(*e->view_ids));
    if (!vs || !e->view_ids) {
        err = KH_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < db->nbodies; i++) {
        if ((db->bodies[i].target == 3 || db->bodies[i].target == 7) &&
            !khi_hsmatch_rejected(e->bodies, (uint32_t)i)) {
            vs[k] = db->bodies[i];
            e->view_ids[k++] = (uint32_t)i;
        }
    }
    int hit = 0;
    uint32_t rejected = 0;
    err = khi_hsmatch_create(vs, n, e->cache_dir, NULL, NULL, &hit, &rejected, &e->views);
out:
    khi_free(vs);
    return err;
}

kh_err kh_engine_compile(kh_engine *e)
{
    if (!e)
        return KH_EINVAL;
    if (e->compiled)
        return KH_ESTATE;
    double t0 = khi_now();
    kh_err err = KH_OK;
    khi_sigdb *db = &e->db;
    e->stats.ignored = apply_ignores(db);
    if (e->stats.ignored == UINT32_MAX)
        return KH_ENOMEM;
    for (size_t i = 0; i < db->nbodies; i++) /* subsignatures moved when others were dropped */
        if (db->bodies[i].ldb1 && db->bodies[i].sub == 0)
            db->ldbs[db->bodies[i].ldb1 - 1].first_sub = (uint32_t)i;
    uint32_t fp = 0;
    for (size_t i = 0; i < db->nhashes; i++)
        fp += db->hashes[i].is_fp;
    if (db->nhashes == fp && db->nbodies == 0 && db->nyara == 0 && db->nldbs == 0 && db->nsects == 0)
        return KH_ENOSIGS;
    if (db->nhashes) {
        err = khi_hashmatch_create(db->hashes, db->nhashes, &e->hashes);
        if (err != KH_OK)
            return err;
    }
    if (db->nsects) {
        err = khi_hashmatch_create(db->sects, db->nsects, &e->sects);
        if (err != KH_OK)
            return err;
    }
    uint32_t rejected = 0;
    if (db->nbodies) {
        err = khi_hsmatch_create(db->bodies, db->nbodies, e->cache_dir, e->diag, e->diag_ud,
                                 &e->stats.cache_hit, &rejected, &e->bodies);
        if (err != KH_OK)
            return err;
        err = compile_views(e);
        if (err != KH_OK)
            return err;
    }
    uint32_t yara_rejected = 0;
    if (db->nyara) {
        err = khi_yaramatch_create(db->yara, db->nyara, e->diag, e->diag_ud, &yara_rejected,
                                   &e->yara);
        if (err != KH_OK)
            return err;
    }
    /* a logical signature with a subsignature Vectorscan refused can never be right */
    uint32_t ldb_rejected = 0, nsubs = 0;
    for (size_t i = 0; i < db->nldbs; i++) {
        khi_ldb *l = &db->ldbs[i];
        nsubs += l->nsub;
        for (uint32_t k = 0; k < l->nsub && l->nexpr; k++)
            if (e->bodies && khi_hsmatch_rejected(e->bodies, l->first_sub + k)) {
                l->nexpr = 0;
                ldb_rejected++;
            }
    }
    /* the expressions are compiled now; their text is not needed any more */
    for (size_t i = 0; i < db->nbodies; i++)
        db->bodies[i].regex = NULL;
    khi_pool_cleanup(&db->patterns);
    khi_free(db->hashes);
    db->hashes = NULL;
    khi_free(db->sects);
    db->sects = NULL;
    e->stats.section_sigs = (uint32_t)db->nsects;
    e->stats.hash_sigs = (uint32_t)(db->nhashes - fp);
    e->stats.fp_sigs = fp;
    e->stats.rejected = db->rejected + rejected + yara_rejected + ldb_rejected;
    e->stats.yara_fast = db->yara_fast;
    e->stats.yara_rules = db->yara_fast + khi_yaramatch_count(e->yara);
    e->stats.body_sigs = (uint32_t)db->nbodies - nsubs - db->yara_fast;
    e->stats.logical_sigs = (uint32_t)db->nldbs - ldb_rejected;
    for (size_t i = 0; e->bodies && i < db->nbodies; i++)
        if (!db->bodies[i].ldb1 && !db->bodies[i].yara && khi_hsmatch_rejected(e->bodies, (uint32_t)i))
            e->stats.body_sigs--;
    /* which targets occur decides which normalised views a scan builds (none for most sets) */
    for (size_t i = 0; e->bodies && i < db->nbodies; i++)
        if (db->bodies[i].target < 32 && !khi_hsmatch_rejected(e->bodies, (uint32_t)i))
            e->targets |= 1u << db->bodies[i].target;
    e->stats.skipped = db->skipped;
    e->stats.files = db->files;
    e->stats.containers = db->containers;
    e->stats.compile_seconds = khi_now() - t0;
    e->compiled = 1;
    return KH_OK;
}

void kh_engine_get_stats(const kh_engine *e, kh_engine_stats *out)
{
    *out = e->stats;
    if (!e->compiled) {
        out->rejected = e->db.rejected;
        out->skipped = e->db.skipped;
        out->files = e->db.files;
        out->containers = e->db.containers;
    }
}

void kh_engine_retain(kh_engine *e)
{
    if (e)
        atomic_fetch_add(&e->refs, 1);
}

void kh_engine_release(kh_engine *e)
{
    if (!e || atomic_fetch_sub(&e->refs, 1) != 1)
        return;
    khi_hashmatch_destroy(e->hashes);
    khi_hashmatch_destroy(e->sects);
    khi_hsmatch_destroy(e->bodies);
    khi_hsmatch_destroy(e->views);
    khi_free(e->view_ids);
    khi_yaramatch_destroy(e->yara);
    khi_sigdb_cleanup(&e->db);
    khi_free(e->cache_dir);
    khi_free(e);
}
