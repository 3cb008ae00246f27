/*
 * scan_object.c - the scan pipeline: one object in, events out, children recursively.
 *
 *   object -> type (magic) -> hash signatures (only if its size could match; allow-list
 *   first) -> body signatures (one Vectorscan pass) -> if a container: each member is an
 *   object one level deeper, named "parent//member"
 *
 * Objects up to KHI_INMEM_MAX bytes are held in memory and matched in Vectorscan's block mode.
 * Larger ones (big files, members spilled to a temporary file) are read in 1 MiB chunks and
 * matched in stream mode while their digests are computed in the same pass, so the memory a
 * scan needs does not depend on the size of what it scans.
 *
 * The first detection ends the scan of a top-level file unless KH_SCAN_ALLMATCH is set.
 * Depth, sizes, counts and ratios are bounded by kh_limits (lib/container enforces the
 * per-member ones); a bound that is hit is an event, never a silent stop.
 */
#include "scan/scan_int.h"
#include "container/container.h"
#include "scan/scan_ftype.h"
#include "formats/formats.h"

#include <stdlib.h>
#include <string.h>

void kh_limits_default(kh_limits *out)
{
    out->max_depth = 16;
    out->max_filesize = 100ull << 20;
    out->max_scansize = 400ull << 20;
    out->max_files = 10000;
    out->max_ratio = 250;
    out->ratio_min_bytes = 16ull << 20;
    out->max_scantime = 120000;
}

void kh_scan_opts_default(kh_scan_opts *out)
{
    memset(out, 0, sizeof(*out));
    kh_limits_default(&out->limits);
}

kh_err kh_scanner_create(kh_engine *engine, const kh_scan_opts *opts, kh_scanner **out_scanner)
{
    if (!engine || !out_scanner)
        return KH_EINVAL;
    if (!engine->compiled)
        return KH_ESTATE;
    kh_err err = KH_OK;
    kh_scanner *sc = khi_calloc(1, sizeof(*sc));
    if (!sc)
        return KH_ENOMEM;
    kh_engine_retain(engine);
    sc->engine = engine;
    if (opts)
        sc->opts = *opts;
    else
        kh_scan_opts_default(&sc->opts);
    const char *tmp = sc->opts.tmp_dir ? sc->opts.tmp_dir : getenv("TMPDIR");
    sc->tmp_dir = khi_strdup(tmp && *tmp ? tmp : "/tmp");
    sc->opts.tmp_dir = sc->tmp_dir;
    if (!sc->tmp_dir) {
        err = KH_ENOMEM;
        goto out;
    }
    if (engine->bodies) {
        err = khi_hsscratch_create(engine->bodies, &sc->scratch);
        if (err != KH_OK)
            goto out;
    }
    if (engine->views) {
        err = khi_hsscratch_create(engine->views, &sc->vscratch);
        if (err != KH_OK)
            goto out;
    }
    if (engine->yara) {
        err = khi_yarascan_create(engine->yara, &sc->yscan);
        if (err != KH_OK)
            goto out;
    }
    if (engine->db.nldbs) {
        sc->ldb_counts = khi_calloc(engine->db.nbodies, sizeof(*sc->ldb_counts));
        sc->ldb_touched = khi_calloc(engine->db.nldbs, 1);
        sc->ldb_list = khi_calloc(engine->db.nldbs, sizeof(*sc->ldb_list));
        if (!sc->ldb_counts || !sc->ldb_touched || !sc->ldb_list) {
            err = KH_ENOMEM;
            goto out;
        }
    }
    *out_scanner = sc;
    sc = NULL;
out:
    kh_scanner_destroy(sc);
    return err;
}

void kh_scanner_destroy(kh_scanner *sc)
{
    if (!sc)
        return;
    khi_hsscratch_destroy(sc->scratch);
    khi_hsscratch_destroy(sc->vscratch);
    khi_yarascan_destroy(sc->yscan);
    khi_free(sc->chunk);
    khi_free(sc->ldb_counts);
    khi_free(sc->ldb_touched);
    khi_free(sc->ldb_list);
    khi_free(sc->buf);
    khi_free(sc->tmp_dir);
    kh_engine_release(sc->engine);
    khi_free(sc);
}

typedef struct run {
    kh_scanner *sc;
    kh_event_fn cb;
    void *ud;
    kh_scan_result *res;
    khi_buf path; /* layered name of the current object */
    khi_budget budget;
    uint32_t depth;
    khi_ftype parent_type;
    khi_pe pe;         /* headers of the current object when it is a PE */
    int pe_valid;
    khi_exe_layout exe; /* its layout for EP/Sx/SL/SE offsets, when signatures need one */
    khi_exe_span spans[KHI_PE_MAX_SECTIONS];
    uint32_t *pending; /* stream mode: body hits held until the allow-list is checked */
    size_t npending, cappending;
    int stop;     /* first detection found (no ALLMATCH) */
    int canceled; /* the callback asked to stop */
    kh_err fatal; /* out of memory, matcher failure */
    uint64_t parts_of;  /* size of the object whose lib/formats parts are being handed out */
    khi_buf *zipx_done; /* names of the ZIP members fmt_zipx took (NUL-separated), or NULL */
    double deadline;    /* khi_now() past which the file's time is up (max-scantime); 0 none */
    int timed_out;
} run;

static void emit_meta(run *r, kh_event_kind kind, kh_sig_kind sk, const char *name,
                      const char *detail, const kh_meta *meta, size_t nmeta)
{
    kh_event ev;
    ev.kind = kind;
    ev.sig_kind = sk;
    ev.object = r->path.data ? r->path.data : "";
    ev.name = name;
    ev.detail = detail;
    ev.depth = r->depth;
    ev.meta = nmeta ? meta : NULL;
    ev.nmeta = nmeta;
    ev.pe = NULL;
    if (kind == KH_EVENT_DETECTION) {
        r->res->detections++;
        r->res->verdict = KH_VERDICT_INFECTED;
        if (!(r->sc->opts.flags & KH_SCAN_ALLMATCH))
            r->stop = 1;
    } else {
        r->res->warnings++;
    }
    if (r->cb && r->cb(r->ud, &ev)) {
        r->canceled = 1;
        r->stop = 1;
    }
}

static void emit(run *r, kh_event_kind kind, kh_sig_kind sk, const char *name, const char *detail)
{
    emit_meta(r, kind, sk, name, detail, NULL, 0);
}

/* Has this top-level file used up its time (max-scantime)? The first time it has, say so (on the
 * object being scanned then) and stop: every walk unwinds as after a detection. */
static int out_of_time(run *r)
{
    if (r->timed_out || !r->deadline)
        return r->timed_out;
    if (khi_now() < r->deadline)
        return 0;
    r->timed_out = 1;
    char detail[160];
    khi_snprintf(detail, sizeof(detail),
                 "scanning this file took over %u ms (max-scantime); the rest of it was not scanned",
                 r->sc->opts.limits.max_scantime);
    emit(r, (r->sc->opts.flags & KH_SCAN_ALERT_EXCEEDS) ? KH_EVENT_DETECTION : KH_EVENT_WARNING,
         KH_SIG_HEURISTIC, "Heuristics.Limits.Exceeded.MaxScanTime", detail);
    r->stop = 1;
    return 1;
}

/* A logical subsignature matched: count it; the expression is evaluated after the object. */
static void count_subsig(run *r, const khi_bodysig *b, uint32_t id)
{
    kh_scanner *sc = r->sc;
    uint32_t l = b->ldb1 - 1;
    sc->ldb_counts[id]++;
    if (!sc->ldb_touched[l]) {
        sc->ldb_touched[l] = 1;
        sc->ldb_list[sc->nldb_list++] = l;
    }
}

/* Evaluate (unless discard) and reset the logical signatures this object touched. */
static void finish_logical(run *r, uint64_t size, int discard)
{
    kh_scanner *sc = r->sc;
    const khi_sigdb *db = &sc->engine->db;
    for (size_t i = 0; i < sc->nldb_list; i++) {
        const khi_ldb *l = &db->ldbs[sc->ldb_list[i]];
        const uint32_t *counts = sc->ldb_counts + l->first_sub;
        /* EntryPoint is the entry point's file offset as EP+n offsets see it (ClamAV's layout) */
        uint64_t ep = l->pe_keys && r->pe_valid ? khi_pe_entry_raw(&r->pe, size) : UINT64_MAX;
        int pe_ok = !l->pe_keys ||
                    (r->pe_valid && r->pe.nsections >= l->ns_min && r->pe.nsections <= l->ns_max &&
                     ep != UINT64_MAX && ep >= l->ep_min && ep <= l->ep_max);
        if (!discard && !r->stop && l->nexpr && pe_ok && size >= l->fsize_min && size <= l->fsize_max &&
            (!l->container || (r->depth > 0 && !strcmp(l->container, khi_ftype_label(r->parent_type)))) &&
            khi_ldb_eval(l, counts))
            emit(r, KH_EVENT_DETECTION, KH_SIG_BODY, l->name, NULL);
        memset(sc->ldb_counts + l->first_sub, 0, l->nsub * sizeof(uint32_t));
        sc->ldb_touched[sc->ldb_list[i]] = 0;
    }
    sc->nldb_list = 0;
}

static int on_body_hit(void *ud, uint32_t id)
{
    run *r = ud;
    const khi_bodysig *b = &r->sc->engine->db.bodies[id];
    if (b->ldb1) {
        count_subsig(r, b, id);
        return 0;
    }
    emit_meta(r, KH_EVENT_DETECTION, b->yara ? KH_SIG_YARA : KH_SIG_BODY, b->name, NULL, b->meta,
              b->nmeta);
    return r->stop;
}

static int on_yara_hit(void *ud, const char *rule, const kh_meta *meta, size_t nmeta)
{
    run *r = ud;
    char name[300];
    khi_snprintf(name, sizeof(name), "YARA.%s", rule);
    emit_meta(r, KH_EVENT_DETECTION, KH_SIG_YARA, name, NULL, meta, nmeta);
    return r->stop;
}

/* Hash signatures. Returns 1 when the object is on an allow-list. */
static int check_hashes(run *r, const uint8_t *data, size_t len)
{
    const khi_hashmatch *hm = r->sc->engine->hashes;
    if (!hm)
        return 0;
    unsigned types = khi_hashmatch_types_for_size(hm, len);
    uint8_t dig[KHI_HASH_TYPES][32];
    for (unsigned t = 0; t < KHI_HASH_TYPES; t++) {
        if (!(types & (1u << t)))
            continue;
        if (khi_digest(t, data, len, dig[t]) != KH_OK) {
            r->fatal = KH_ECRYPTO;
            return 0;
        }
        if (khi_hashmatch_find(hm, 1, t, dig[t], len))
            return 1;
    }
    for (unsigned t = 0; t < KHI_HASH_TYPES && !r->stop; t++) {
        if (!(types & (1u << t)))
            continue;
        const khi_hashsig *s = khi_hashmatch_find(hm, 0, t, dig[t], len);
        if (s)
            emit(r, KH_EVENT_DETECTION, KH_SIG_HASH, s->name, NULL);
    }
    return 0;
}

#define HEAD_BYTES (36u * 1024u) /* enough for every magic, iso9660's at 32769 included */
#define CHUNK_BYTES (1u << 20)

typedef struct objsrc {
    const uint8_t *data; /* in memory, or NULL */
    int fd;              /* when data is NULL */
    uint64_t len;
} objsrc;

/* The layout the body matcher checks EP+n/Sx+n/SL+n/SEx offsets against: NULL when the object
 * is not a PE, or when no signature has such an offset (then nothing is computed). Like
 * ClamAV, a PE whose entry point maps to no byte of the file is "broken" and has none. */
static const khi_exe_layout *exe_layout(run *r, uint64_t len)
{
    if (!r->pe_valid || !r->sc->engine->db.exe_offsets)
        return NULL;
    r->exe.ep = khi_pe_entry_raw(&r->pe, len);
    if (r->exe.ep == UINT64_MAX)
        return NULL;
    for (unsigned i = 0; i < r->pe.nsections; i++)
        khi_pe_section_raw(&r->pe, i, len, &r->spans[i].raw, &r->spans[i].size);
    r->exe.nsect = r->pe.nsections;
    r->exe.sect = r->spans;
    return &r->exe;
}

/* KH_SCAN_DESCRIBE: the PE's headers as a KH_EVENT_INFO (neither a finding nor a warning). */
static void describe_pe(run *r)
{
    kh_pe_info pi = {r->pe.pe32plus != 0, (r->pe.characteristics & 0x2000) != 0, r->pe.machine,
                     r->pe.nsections, r->pe.ep_rva};
    kh_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = KH_EVENT_INFO;
    ev.sig_kind = KH_SIG_HEURISTIC;
    ev.object = r->path.data ? r->path.data : "";
    ev.name = "PE";
    ev.depth = r->depth;
    ev.pe = &pi;
    if (r->cb && r->cb(r->ud, &ev)) {
        r->canceled = 1;
        r->stop = 1;
    }
}

static size_t read_at(void *ud, uint64_t off, uint8_t *buf, size_t len);

/* .mdb/.msb: each section's raw data (as khi_pe_section_raw bounds it) hashed with the digests
 * that a signature of its size needs, and looked up; a section no signature's size fits costs
 * nothing. Only called when the database has section signatures. A PE whose entry point maps
 * to no byte of the file is not looked at, as in ClamAV. */
static void check_sections(run *r, const objsrc *o)
{
    const khi_hashmatch *hm = r->sc->engine->sects;
    if (khi_pe_entry_raw(&r->pe, o->len) == UINT64_MAX)
        return;
    for (unsigned i = 0; i < r->pe.nsections && !r->stop && !r->fatal; i++) {
        uint64_t raw, size;
        khi_pe_section_raw(&r->pe, i, o->len, &raw, &size);
        unsigned types = size ? khi_hashmatch_types_for_size(hm, size) : 0;
        if (!types)
            continue;
        uint8_t dig[KHI_HASH_TYPES][32];
        khi_digests dg;
        kh_err err = khi_digests_init(&dg, types);
        if (err == KH_OK && o->data) {
            err = khi_digests_update(&dg, o->data + raw, (size_t)size);
        } else if (err == KH_OK) {
            if (!r->sc->chunk)
                r->sc->chunk = khi_malloc(CHUNK_BYTES);
            if (!r->sc->chunk)
                err = KH_ENOMEM;
            for (uint64_t off = 0; err == KH_OK && off < size;) {
                size_t want = size - off < CHUNK_BYTES ? (size_t)(size - off) : CHUNK_BYTES;
                size_t n = read_at((void *)o, raw + off, r->sc->chunk, want);
                if (n == 0)
                    err = KH_EIO; /* the file shrank meanwhile */
                else
                    err = khi_digests_update(&dg, r->sc->chunk, n);
                off += n;
            }
        }
        if (err == KH_OK)
            err = khi_digests_final(&dg, dig);
        khi_digests_cleanup(&dg);
        if (err == KH_EIO)
            return;
        if (err != KH_OK) {
            r->fatal = err;
            return;
        }
        for (unsigned t = 0; t < KHI_HASH_TYPES && !r->stop; t++) {
            const khi_hashsig *s = (types & (1u << t)) ? khi_hashmatch_find(hm, 0, t, dig[t], size) : NULL;
            if (s)
                emit(r, KH_EVENT_DETECTION, KH_SIG_HASH, s->name, NULL);
        }
    }
}


static void scan_object(run *r, const objsrc *o);
static int on_member(void *ud, const khi_member *m);

/* Damage reported by a PE unpacker (its part "<packer>-unpacked"), not by an overlay reader? */
static int unpacker_damage(khi_ftype container, const char *member)
{
    size_t n = member ? strlen(member) : 0;
    return container == KHI_FT_PE && n > 9 && strcmp(member + n - 9, "-unpacked") == 0;
}

static const char *heuristic_name(khi_cwarn w, khi_ftype container, const char *member)
{
    switch (w) {
    case KHI_CWARN_ENCRYPTED:
        switch (container) {
        case KHI_FT_ZIP:
            return "Heuristics.Encrypted.Zip";
        case KHI_FT_SEVENZIP:
            return "Heuristics.Encrypted.7Zip";
        case KHI_FT_RAR:
            return "Heuristics.Encrypted.RAR";
        case KHI_FT_PDF:
            return "Heuristics.Encrypted.PDF";
        default:
            return "Heuristics.Encrypted.Archive";
        }
    case KHI_CWARN_MAXFILESIZE:
        return "Heuristics.Limits.Exceeded.MaxFileSize";
    case KHI_CWARN_MAXSCANSIZE:
        return "Heuristics.Limits.Exceeded.MaxScanSize";
    case KHI_CWARN_MAXFILES:
        return "Heuristics.Limits.Exceeded.MaxFiles";
    case KHI_CWARN_MAXRATIO:
        return "Heuristics.Limits.Exceeded.MaxRatio";
    case KHI_CWARN_DAMAGED:
    default:
        return container == KHI_FT_OLE2              ? "Heuristics.Broken.OLE2"
               : unpacker_damage(container, member) ? "Heuristics.Broken.Executable"
                                                    : "Heuristics.Broken.Archive";
    }
}

static int on_container_warn(void *ud, khi_cwarn what, const char *member, const char *detail)
{
    run *r = ud;
    unsigned flags = r->sc->opts.flags;
    int alert = (what == KHI_CWARN_ENCRYPTED && (flags & KH_SCAN_ALERT_ENCRYPTED)) ||
                (what != KHI_CWARN_ENCRYPTED && what != KHI_CWARN_DAMAGED &&
                 (flags & KH_SCAN_ALERT_EXCEEDS));
    size_t mark = r->path.len;
    if (member && (khi_buf_puts(&r->path, "//") != KH_OK || khi_buf_puts(&r->path, member) != KH_OK)) {
        r->fatal = KH_ENOMEM;
        return 1;
    }
    uint32_t depth = r->depth;
    if (member)
        r->depth++;
    emit(r, alert ? KH_EVENT_DETECTION : KH_EVENT_WARNING, KH_SIG_HEURISTIC,
         heuristic_name(what, r->parent_type, member), detail);
    r->depth = depth;
    khi_buf_truncate(&r->path, mark);
    return r->stop || r->fatal;
}

static int on_is_archive(void *ud, const uint8_t *head, size_t len)
{
    (void)ud;
    return khi_ftype_container(khi_ftype_detect(head, len)) == 1;
}

/* A part of a mail message: accounted like an archive member, then scanned. */
static int on_part(void *ud, const uint8_t *data, size_t len, const char *name)
{
    run *r = ud;
    const kh_limits *L = &r->sc->opts.limits;
    if (!data)
        data = (const uint8_t *)"";
    if (L->max_files && r->budget.files >= L->max_files) {
        char detail[128];
        khi_snprintf(detail, sizeof(detail), "more than %u parts in this file (max-files); rest not scanned",
                     L->max_files);
        return on_container_warn(r, KHI_CWARN_MAXFILES, name, detail) || 1;
    }
    if (L->max_scansize && r->budget.extracted + len > L->max_scansize) {
        char detail[160];
        khi_snprintf(detail, sizeof(detail),
                     "more than %llu bytes decoded from this file (max-scansize); rest not scanned",
                     (unsigned long long)L->max_scansize);
        return on_container_warn(r, KHI_CWARN_MAXSCANSIZE, name, detail) || 1;
    }
    uint64_t whole = r->parts_of ? r->parts_of : 1;
    if (L->max_ratio && len > L->ratio_min_bytes && len / whole >= L->max_ratio) {
        char detail[192];
        khi_snprintf(detail, sizeof(detail),
                     "part of %zu bytes from a file of %llu bytes, a ratio over %u:1 (max-ratio); "
                     "likely a decompression bomb, not scanned",
                     len, (unsigned long long)whole, L->max_ratio);
        return on_container_warn(r, KHI_CWARN_MAXRATIO, name, detail);
    }
    r->budget.files++;
    r->budget.extracted += len;
    khi_member m = {data, -1, len, name};
    return on_member(ud, &m);
}

static int on_member(void *ud, const khi_member *m)
{
    run *r = ud;
    size_t mark = r->path.len;
    if (khi_buf_puts(&r->path, "//") != KH_OK || khi_buf_puts(&r->path, m->name) != KH_OK) {
        r->fatal = KH_ENOMEM;
        return 1;
    }
    khi_ftype saved = r->parent_type;
    uint64_t saved_of = r->parts_of;
    /* the member's scan puts its own headers in r->pe: the PE it came from (an unpacker's, an
     * overlay's) reads on in its own once the member is done */
    int saved_valid = r->pe_valid;
    khi_pe saved_pe;
    if (saved_valid)
        saved_pe = r->pe;
    objsrc o = {m->data, m->fd, m->len};
    r->depth++;
    scan_object(r, &o);
    r->depth--;
    r->parent_type = saved;
    r->parts_of = saved_of;
    r->pe_valid = saved_valid;
    if (saved_valid)
        r->pe = saved_pe;
    khi_buf_truncate(&r->path, mark);
    return r->stop || r->fatal;
}

/* A warning from a lib/formats reader (ARJ, CHM, PDF, ZIP methods 6 and 9). */
static int on_fwarn(void *ud, khi_fwarn what, const char *part, const char *detail)
{
    static const khi_cwarn as[] = {
        [KHI_FWARN_DAMAGED] = KHI_CWARN_DAMAGED,    [KHI_FWARN_ENCRYPTED] = KHI_CWARN_ENCRYPTED,
        [KHI_FWARN_TOOBIG] = KHI_CWARN_MAXFILESIZE, [KHI_FWARN_RATIO] = KHI_CWARN_MAXRATIO,
        [KHI_FWARN_TOTAL] = KHI_CWARN_MAXSCANSIZE,  [KHI_FWARN_PARTS] = KHI_CWARN_MAXFILES,
    };
    return on_container_warn(ud, (size_t)what < KHI_ARRAY_LEN(as) ? as[what] : KHI_CWARN_DAMAGED, part, detail);
}

/* fmt_zipx names each member it takes; libarchive's walk then skips them (skip_member). */
static int zipx_note(run *r, const char *name)
{
    if (khi_buf_append(r->zipx_done, name, strlen(name) + 1) != KH_OK) {
        r->fatal = KH_ENOMEM;
        return 1;
    }
    return 0;
}

static int on_zipx_part(void *ud, const uint8_t *data, size_t len, const char *name)
{
    return zipx_note(ud, name) || on_part(ud, data, len, name);
}

static int on_zipx_warn(void *ud, khi_fwarn what, const char *part, const char *detail)
{
    return (part && zipx_note(ud, part)) || on_fwarn(ud, what, part, detail);
}

static int skip_member(void *ud, const char *member)
{
    run *r = ud;
    const khi_buf *b = r->zipx_done;
    for (size_t i = 0; b && i < b->len; i += strlen(b->data + i) + 1)
        if (strcmp(b->data + i, member) == 0)
            return 1;
    return 0;
}

/* The name of a bare compressed stream's content: "a.exe.gz" -> "a.exe", "b.tgz" -> "b.tar". */
static void stream_name(const char *path, char *out, size_t out_len)
{
    static const struct {
        const char *ext, *repl;
    } exts[] = {{".gz", ""},   {".tgz", ".tar"}, {".bz2", ""}, {".tbz2", ".tar"}, {".xz", ""},
                {".txz", ".tar"}, {".zst", ""},  {".lzma", ""}, {".Z", ""},       {".lz4", ""},
                {".lz", ""}};
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t n = strlen(base);
    for (size_t i = 0; i < KHI_ARRAY_LEN(exts); i++) {
        size_t el = strlen(exts[i].ext);
        if (n > el && strcmp(base + n - el, exts[i].ext) == 0) {
            khi_snprintf(out, out_len, "%.*s%s", (int)(n - el), base, exts[i].repl);
            return;
        }
    }
    khi_snprintf(out, out_len, "data");
}

static size_t read_at(void *ud, uint64_t off, uint8_t *buf, size_t len)
{
    const objsrc *o = ud;
    if (off >= o->len)
        return 0;
    if (len > o->len - off)
        len = (size_t)(o->len - off);
    if (o->data) {
        memcpy(buf, o->data + off, len);
        return len;
    }
    return khi_pread_full(o->fd, buf, len, off);
}

/*
 * The bytes [off, off + len) of an object (within it): borrowed from its memory, or read into
 * *copy (owned by the caller: khi_free it; NULL when borrowed). NULL when they cannot be had:
 * out of memory sets r->fatal; a short read (the file shrank meanwhile) does not.
 */
static const uint8_t *object_bytes(run *r, const objsrc *o, uint64_t off, size_t len,
                                   uint8_t **copy)
{
    *copy = NULL;
    if (o->data)
        return o->data + off;
    uint8_t *c = khi_malloc(len ? len : 1);
    if (!c) {
        r->fatal = KH_ENOMEM;
        return NULL;
    }
    if (khi_pread_full(o->fd, c, len, off) != len) {
        khi_free(c);
        return NULL;
    }
    *copy = c;
    return c;
}

static int on_body_hit_stream(void *ud, uint32_t id)
{
    run *r = ud;
    const khi_bodysig *b = &r->sc->engine->db.bodies[id];
    if (b->ldb1) {
        count_subsig(r, b, id); /* counts do not depend on the allow-list: only the verdict */
        return 0;
    }
    if (r->npending == r->cappending) {
        size_t nc = r->cappending ? r->cappending * 2 : 8;
        uint32_t *np = khi_reallocarray(r->pending, nc, sizeof(*np));
        if (!np) {
            r->fatal = KH_ENOMEM;
            return 1;
        }
        r->pending = np;
        r->cappending = nc;
    }
    r->pending[r->npending++] = id;
    return !(r->sc->opts.flags & KH_SCAN_ALLMATCH);
}

/* Hashes and body signatures of an object read in chunks. Returns 1 when it is allow-listed. */
static int stream_matchers(run *r, const objsrc *o, khi_ftype type)
{
    const kh_engine *e = r->sc->engine;
    const khi_hashmatch *hm = e->hashes;
    unsigned types = hm ? khi_hashmatch_types_for_size(hm, o->len) : 0;
    int allmatch = (r->sc->opts.flags & KH_SCAN_ALLMATCH) != 0;
    int fp_possible = types && khi_hashmatch_has_fp(hm);
    int allowed = 0;
    khi_hsstream *hs = NULL;
    khi_digests dg;
    if (!r->sc->chunk)
        r->sc->chunk = khi_malloc(CHUNK_BYTES);
    uint8_t *chunk = r->sc->chunk;
    kh_err err = khi_digests_init(&dg, types);
    r->npending = 0;
    if (!chunk && err == KH_OK)
        err = KH_ENOMEM;
    if (err == KH_OK && e->bodies)
        err = khi_hsstream_open(e->bodies, r->sc->scratch, o->len, khi_ftype_target(type),
                                exe_layout(r, o->len), on_body_hit_stream, r, read_at, (void *)o,
                                &hs);
    uint64_t off = 0;
    while (err == KH_OK && off < o->len && !r->fatal && !out_of_time(r)) {
        int hs_live = hs && !khi_hsstream_stopped(hs);
        /* a body hit already decides, unless an allow-list entry could still clear it */
        if (!hs_live && (!types || (r->npending && !allmatch && !fp_possible)))
            break;
        size_t n = read_at((void *)o, off, chunk, CHUNK_BYTES);
        if (n == 0)
            break; /* the file shrank meanwhile */
        if (types)
            err = khi_digests_update(&dg, chunk, n);
        if (err == KH_OK && hs_live)
            err = khi_hsstream_feed(hs, chunk, n);
        off += n;
    }
    kh_err cerr = khi_hsstream_close(hs);
    if (err == KH_OK)
        err = cerr;
    if (err == KH_OK && !r->fatal && types && off == o->len) {
        uint8_t dig[KHI_HASH_TYPES][32];
        err = khi_digests_final(&dg, dig);
        for (unsigned t = 0; err == KH_OK && t < KHI_HASH_TYPES && !allowed; t++)
            if ((types & (1u << t)) && khi_hashmatch_find(hm, 1, t, dig[t], o->len))
                allowed = 1;
        for (unsigned t = 0; err == KH_OK && !allowed && t < KHI_HASH_TYPES && !r->stop; t++) {
            const khi_hashsig *hsig = (types & (1u << t)) ? khi_hashmatch_find(hm, 0, t, dig[t], o->len) : NULL;
            if (hsig)
                emit(r, KH_EVENT_DETECTION, KH_SIG_HASH, hsig->name, NULL);
        }
    }
    if (err != KH_OK && !r->fatal)
        r->fatal = err;
    for (size_t i = 0; !allowed && !r->fatal && i < r->npending && !r->stop; i++)
        on_body_hit(r, r->pending[i]);
    r->npending = 0;
    finish_logical(r, o->len, allowed || r->fatal);
    khi_digests_cleanup(&dg);
    return allowed;
}

/* An OLE2 file's streams, VBA sources and packaged files; macros flag the result, damage is a
 * warning on the file. */
static kh_err ole2(run *r, const uint8_t *d, size_t len)
{
    khi_ole2_info info;
    kh_err err = khi_ole2_walk_info(d, len, on_part, r, &info);
    if (info.has_vba)
        r->res->flags |= KH_RESULT_MACROS;
    if (info.problems && !r->stop && !r->fatal && !r->canceled) {
        char detail[320];
        if (info.problems > 1)
            khi_snprintf(detail, sizeof(detail), "damaged OLE2 file: %s (and %u more problems)",
                         info.detail, info.problems - 1);
        else
            khi_snprintf(detail, sizeof(detail), "damaged OLE2 file: %s", info.detail);
        on_container_warn(r, KHI_CWARN_DAMAGED, NULL, detail);
    }
    return err;
}

/* Is there room for one more level below this object? Else a MaxRecursion event. */
static int depth_ok(run *r, khi_ftype type)
{
    const kh_limits *L = &r->sc->opts.limits;
    if (!L->max_depth || r->depth + 1 <= L->max_depth)
        return 1;
    char detail[160];
    khi_snprintf(detail, sizeof(detail), "%s container nested %u levels deep (max-depth %u); not opened",
                 khi_ftype_label(type), r->depth + 1, L->max_depth);
    int alert = (r->sc->opts.flags & KH_SCAN_ALERT_EXCEEDS) != 0;
    emit(r, alert ? KH_EVENT_DETECTION : KH_EVENT_WARNING, KH_SIG_HEURISTIC,
         "Heuristics.Limits.Exceeded.MaxRecursion", detail);
    return 0;
}

#define OVL_MAX ((size_t)64 << 20)

/* The data after a PE's last section: when its head holds an installer or an archive
 * (khi_peovl_detect), the overlay (up to 64 MiB) is read in and its parts scanned. An
 * ordinary PE costs at most one read of 4 KiB. */
static void pe_overlay(run *r, const objsrc *o)
{
    uint64_t start = khi_pe_overlay_start(&r->pe);
    if (!start || start >= o->len)
        return;
    uint64_t olen = o->len - start;
    uint8_t head[4096];
    size_t hl = olen > sizeof(head) ? sizeof(head) : (size_t)olen;
    const uint8_t *h = o->data ? o->data + start : head;
    if (!o->data && khi_pread_full(o->fd, head, hl, start) != hl)
        return;
    if (!khi_peovl_detect(h, hl) || !depth_ok(r, KHI_FT_PE))
        return;
    if (olen > OVL_MAX) {
        emit(r, KH_EVENT_WARNING, KH_SIG_HEURISTIC, "Heuristics.Limits.Exceeded.MaxFileSize",
             "PE overlay larger than 64 MiB: only its first 64 MiB were opened");
        olen = OVL_MAX;
    }
    uint8_t *copy;
    const uint8_t *d = object_bytes(r, o, start, (size_t)olen, &copy);
    if (!d)
        return;
    r->parent_type = KHI_FT_PE;
    r->parts_of = o->len;
    khi_parts_cb pcb = {on_part, on_fwarn, r};
    kh_err err = khi_peovl_walk(d, (size_t)olen, &pcb);
    khi_free(copy);
    if (err == KH_ENOMEM)
        r->fatal = err;
}

/* An AutoIt script kept as the resource RCDATA "SCRIPT" (where AutoIt 3.2.6 and later put
 * it, rather than in the overlay): read in (up to 64 MiB) and taken apart as an overlay's
 * script is. A PE without it costs a few small reads of its resource table. */
static void pe_script(run *r, const objsrc *o)
{
    uint64_t off;
    uint32_t size;
    if (!khi_pe_resource(&r->pe, read_at, (void *)o, 10, "SCRIPT", &off, &size) || off >= o->len)
        return;
    if (size > o->len - off)
        size = (uint32_t)(o->len - off);
    if (size > OVL_MAX)
        size = (uint32_t)OVL_MAX;
    uint8_t head[64];
    size_t hl = read_at((void *)o, off, head, size < sizeof(head) ? size : sizeof(head));
    if (khi_autoit_find(head, hl) != 0 || !depth_ok(r, KHI_FT_PE))
        return; /* an RCDATA "SCRIPT" that does not start with AutoIt's marker */
    uint8_t *copy;
    const uint8_t *d = object_bytes(r, o, off, size, &copy);
    if (!d)
        return;
    r->parent_type = KHI_FT_PE;
    r->parts_of = o->len;
    khi_parts_cb pcb = {on_part, on_fwarn, r};
    if (khi_autoit_walk(d, size, &pcb) == KH_ENOMEM)
        r->fatal = KH_ENOMEM;
    khi_free(copy);
}

/* Is the current object a program an unpacker handed out ("...//upx-unpacked")? */
static int unpacker_part(const run *r)
{
    static const char suffix[] = "-unpacked";
    size_t n = sizeof(suffix) - 1;
    return r->depth > 0 && r->parent_type == KHI_FT_PE && r->path.len > n &&
           memcmp(r->path.data + r->path.len - n, suffix, n) == 0;
}

/* A PE: when a packer is recognised its unpacker hands out the program it holds
 * ("upx-unpacked"). Any other PE (a plain one, or one an unpacker handed out) is searched for
 * the executables it carries as data ("embedded-pe-<offset>"), as droppers do, in the clear or
 * under a packer: one memmem pass for "MZ" over the file (read in when it was streamed, up to
 * 64 MiB; a bigger plain PE is not searched), each hit checked for PE headers. An unpacked
 * image is also searched for a ZIP (see docs/internals/FORMATS.md). */
static void unpack_pe(run *r, const objsrc *o)
{
    const kh_limits *L = &r->sc->opts.limits;
    int deep = L->max_depth && r->depth + 1 > L->max_depth;
    uint8_t ep[KHI_PE_EP_BYTES];
    size_t n = r->pe.ep_offset < o->len ? read_at((void *)o, r->pe.ep_offset, ep, sizeof(ep)) : 0;
    int packed = n && khi_pe_packer(ep, n, &r->pe) != KHI_PACKER_NONE;
    int unpacked = unpacker_part(r);
    if (!packed && deep)
        return; /* too deep to search: nothing to say */
    if (!depth_ok(r, KHI_FT_PE))
        return;
    if (!o->data && o->len > KHI_FMT_MAX_PART) {
        if (packed)
            emit(r, KH_EVENT_WARNING, KH_SIG_HEURISTIC, "Heuristics.Limits.Exceeded.MaxFileSize",
                 "packed executable larger than 64 MiB: not unpacked by this version");
        return;
    }
    uint8_t *copy;
    const uint8_t *d = object_bytes(r, o, 0, (size_t)o->len, &copy);
    if (!d)
        return;
    r->parent_type = KHI_FT_PE;
    r->parts_of = o->len;
    khi_parts_cb pcb = {on_part, on_fwarn, r};
    kh_err err = packed ? khi_pe_unpack_walk(d, (size_t)o->len, &r->pe, &pcb) : KH_OK;
    if (err == KH_OK && !packed && !r->stop && !r->fatal)
        err = khi_pe_embedded_walk(d, (size_t)o->len, 1, unpacked, &pcb);
    if (err == KH_ENOMEM)
        r->fatal = KH_ENOMEM;
    khi_free(copy);
}

/* The "normalised" part fmt_html.c hands out is HTML again: its views and parts would only
 * repeat those of the page it came from. */
static int normalised_part(const run *r, khi_ftype type)
{
    return type == KHI_FT_HTML && r->parent_type == KHI_FT_HTML && r->path.len >= 12 &&
           strcmp(r->path.data + r->path.len - 12, "//normalised") == 0;
}

/* A hit in the database of the view signatures: the same signature in the main one. */
static int on_view_hit(void *ud, uint32_t id)
{
    run *r = ud;
    return on_body_hit(r, r->sc->engine->view_ids[id]);
}

/* One normalised view, matched with the signatures of its target only and named as a layer of
 * its own ("page.html//no-comment"); logical signatures are evaluated on the view alone. */
static void match_view(run *r, const uint8_t *v, size_t n, unsigned target, const char *name)
{
    size_t mark = r->path.len;
    if (khi_buf_puts(&r->path, "//") != KH_OK || khi_buf_puts(&r->path, name) != KH_OK) {
        r->fatal = KH_ENOMEM;
        return;
    }
    r->depth++;
    kh_err err = khi_hsmatch_scan(r->sc->engine->views, r->sc->vscratch, v ? v : (const uint8_t *)"",
                                  n, target | KHI_TARGET_ONLY, NULL, on_view_hit, r);
    finish_logical(r, n, err != KH_OK);
    if (err != KH_OK)
        r->fatal = err;
    r->depth--;
    khi_buf_truncate(&r->path, mark);
}

/* ClamAV matches target type 3 signatures against the no-comment and no-tags views of a page
 * and type 7 against the normalised text of a text object (lib/formats/fmt_htmlnorm.c,
 * fmt_textnorm.c). The views are built only when the database holds signatures of that
 * target, so that other scans do no extra work. */
static void views(run *r, const objsrc *o, khi_ftype type)
{
    uint32_t want = r->sc->engine->targets;
    int html = type == KHI_FT_HTML && (want & (1u << 3)) && o->len <= KHI_HTMLNORM_MAX &&
               !normalised_part(r, type);
    int text = type == KHI_FT_UNKNOWN && (want & (1u << 7)) && o->len <= KHI_TEXTNORM_MAX;
    if (!html && !text)
        return;
    if (text) { /* not text: nothing to read in */
        uint8_t head[KHI_TEXT_HEAD];
        size_t hl = read_at((void *)o, 0, head, sizeof(head));
        if (!khi_text_detect(head, hl))
            return;
    }
    size_t len = (size_t)o->len;
    uint8_t *copy, *v1 = NULL, *v2 = NULL;
    size_t n1 = 0, n2 = 0;
    const uint8_t *d = object_bytes(r, o, 0, len, &copy);
    if (!d)
        return;
    if (html) {
        kh_err err = khi_htmlnorm(d, len, &v1, &n1, len <= KHI_HTMLNOTAGS_MAX ? &v2 : NULL, &n2);
        if (err != KH_OK) {
            r->fatal = err;
            goto out;
        }
        match_view(r, v1, n1, 3, "no-comment");
        if (v2 && !r->stop && !r->fatal)
            match_view(r, v2, n2, 3, "no-tags");
    } else {
        khi_textnorm_state st = {0};
        v1 = khi_malloc(len ? len : 1);
        if (!v1) {
            r->fatal = KH_ENOMEM;
            goto out;
        }
        n1 = khi_textnorm(&st, d, len, v1);
        match_view(r, v1, n1, 7, "normalised-text");
    }
out:
    khi_free(v1);
    khi_free(v2);
    khi_free(copy);
}

static void scan_object(run *r, const objsrc *o)
{
    if (out_of_time(r))
        return;
    const kh_engine *e = r->sc->engine;
    r->res->objects++;
    r->res->bytes_scanned += o->len;
    int streamed = !o->data || o->len > UINT32_MAX;
    khi_ftype type;
    if (o->data) {
        type = khi_ftype_detect(o->data, o->len > HEAD_BYTES ? HEAD_BYTES : (size_t)o->len);
    } else {
        if (!r->sc->chunk)
            r->sc->chunk = khi_malloc(CHUNK_BYTES);
        if (!r->sc->chunk) {
            r->fatal = KH_ENOMEM;
            return;
        }
        size_t hl = khi_pread_full(o->fd, r->sc->chunk, HEAD_BYTES, 0);
        type = khi_ftype_detect(r->sc->chunk, hl);
        r->pe_valid = type == KHI_FT_PE && khi_pe_parse(r->sc->chunk, hl, &r->pe);
    }
    if (o->data)
        r->pe_valid = type == KHI_FT_PE &&
                      khi_pe_parse(o->data, o->len > HEAD_BYTES ? HEAD_BYTES : (size_t)o->len, &r->pe);
    if (r->pe_valid && (r->sc->opts.flags & KH_SCAN_DESCRIBE)) {
        describe_pe(r);
        if (r->stop)
            return;
    }
    if (streamed) {
        if (stream_matchers(r, o, type) || r->stop || r->fatal)
            return;
    } else {
        if (check_hashes(r, o->data, (size_t)o->len) || r->stop || r->fatal)
            return;
        if (e->bodies) {
            kh_err err = khi_hsmatch_scan(e->bodies, r->sc->scratch, o->data, (size_t)o->len,
                                          khi_ftype_target(type), exe_layout(r, o->len),
                                          on_body_hit, r);
            finish_logical(r, o->len, err != KH_OK);
            if (err != KH_OK) {
                r->fatal = err;
                return;
            }
        }
        if (r->stop)
            return;
    }
    if (e->sects && r->pe_valid) {
        check_sections(r, o);
        if (r->stop || r->fatal)
            return;
    }
    if (r->sc->yscan) {
        kh_err err = o->data ? khi_yarascan_run(r->sc->yscan, o->data, (size_t)o->len, on_yara_hit, r)
                             : khi_yarascan_run_fd(r->sc->yscan, o->fd, on_yara_hit, r);
        if (err == KH_ELIMIT)
            emit(r, KH_EVENT_WARNING, KH_SIG_HEURISTIC, "Heuristics.Limits.Exceeded.YaraTimeout",
                 "YARA rules took longer than their time limit on this object");
        else if (err != KH_OK) {
            r->fatal = err;
            return;
        }
        if (r->stop)
            return;
    }
    if (e->views) {
        views(r, o, type);
        if (r->stop || r->fatal)
            return;
    }
    int kind = khi_ftype_container(type);
    if (r->sc->opts.flags & KH_SCAN_NO_ARCHIVE)
        return;
    if (type == KHI_FT_PE && r->pe_valid) { /* the packed program, then the overlay */
        unpack_pe(r, o);
        if (!r->stop && !r->fatal)
            pe_script(r, o);
        if (!r->stop && !r->fatal)
            pe_overlay(r, o);
        return;
    }
    if (!kind || !depth_ok(r, type))
        return;
    if (kind == 3) { /* mail and lib/formats: parsed in memory; a large file is read in first */
        /* the normalised text of a page is HTML again: walking it would only repeat itself */
        if (normalised_part(r, type))
            return;
        const uint8_t *d = o->data;
        uint8_t *copy = NULL;
        if (!d) {
            copy = o->len <= (64u << 20) ? khi_malloc((size_t)o->len) : NULL;
            if (!copy || khi_pread_full(o->fd, copy, (size_t)o->len, 0) != o->len) {
                khi_free(copy);
                char detail[160];
                khi_snprintf(detail, sizeof(detail),
                             "%s larger than 64 MiB: its parts were not scanned by this version",
                             type == KHI_FT_MAIL ? "mailbox" : khi_ftype_label(type));
                emit(r, KH_EVENT_WARNING, KH_SIG_HEURISTIC,
                     "Heuristics.Limits.Exceeded.MaxFileSize", detail);
                return;
            }
            d = copy;
        }
        r->parent_type = type;
        r->parts_of = o->len;
        khi_parts_cb pcb = {on_part, on_fwarn, r};
        kh_err err;
        switch (type) {
        case KHI_FT_ARJ:
            err = khi_arj_walk(d, (size_t)o->len, &pcb);
            break;
        case KHI_FT_CHM:
            err = khi_chm_walk(d, (size_t)o->len, &pcb);
            break;
        case KHI_FT_SIS:
            err = khi_sis_walk(d, (size_t)o->len, &pcb);
            break;
        case KHI_FT_BINHEX:
            err = khi_binhex_walk(d, (size_t)o->len, on_part, r);
            break;
        case KHI_FT_TNEF:
            err = khi_tnef_walk(d, (size_t)o->len, on_part, r);
            break;
        case KHI_FT_SZDD:
            err = khi_szdd_walk(d, (size_t)o->len, on_part, r);
            break;
        case KHI_FT_RTF:
            err = khi_rtf_walk(d, (size_t)o->len, on_part, r);
            break;
        case KHI_FT_HTML:
            err = khi_html_walk(d, (size_t)o->len, on_part, r);
            break;
        case KHI_FT_OLE2:
            err = ole2(r, d, (size_t)o->len);
            break;
        case KHI_FT_PDF:
            err = khi_pdf_walk(d, (size_t)o->len, &pcb);
            break;
        default:
            err = khi_mail_walk(d, (size_t)o->len, on_part, r);
            break;
        }
        khi_free(copy);
        if (err == KH_ENOMEM)
            r->fatal = err;
        return;
    }
    char sname[512];
    if (kind == 2)
        stream_name(r->path.data, sname, sizeof(sname));
    khi_container_cb cb = {on_member, on_container_warn, on_is_archive, r, skip_member};
    r->parent_type = type;
    khi_buf done; /* this ZIP file's members taken by fmt_zipx (nested ZIPs have their own) */
    khi_buf *saved = r->zipx_done;
    khi_buf_init(&done);
    r->zipx_done = &done;
    kh_err err = KH_OK;
    if (type == KHI_FT_ZIP) { /* methods libarchive lacks first, then libarchive for the rest */
        khi_parts_cb pcb = {on_zipx_part, on_zipx_warn, r};
        r->parts_of = o->len;
        err = khi_zipx_walk(read_at, (void *)o, o->len, &pcb);
        r->parent_type = type;
    }
    if (err == KH_OK && !r->stop && !r->fatal)
        err = khi_container_walk(o->data, o->fd, o->len, kind == 2, kind == 2 ? sname : NULL,
                                 &r->budget, &cb);
    r->zipx_done = saved;
    khi_buf_cleanup(&done);
    if (err == KH_ENOMEM)
        r->fatal = err;
}

kh_err khi_scan_top(kh_scanner *sc, const uint8_t *data, int fd, uint64_t len, const char *name,
                    kh_event_fn cb, void *ud, kh_scan_result *res)
{
    run r;
    memset(&r, 0, sizeof(r));
    r.sc = sc;
    r.cb = cb;
    r.ud = ud;
    r.res = res;
    r.budget.limits = &sc->opts.limits;
    r.budget.tmp_dir = sc->tmp_dir;
    if (sc->opts.limits.max_scantime)
        r.deadline = khi_now() + sc->opts.limits.max_scantime / 1000.0;
    khi_buf_init(&r.path);
    if (khi_buf_puts(&r.path, name ? name : "") != KH_OK)
        r.fatal = KH_ENOMEM;
    else {
        objsrc o = {data, fd, len};
        scan_object(&r, &o);
    }
    khi_buf_cleanup(&r.path);
    khi_free(r.pending);
    if (r.fatal) {
        res->verdict = KH_VERDICT_ERROR;
        khi_snprintf(res->error, sizeof(res->error), "scan failed: %s", kh_strerror(r.fatal));
        return r.fatal;
    }
    return r.canceled ? KH_ECANCELED : KH_OK;
}
