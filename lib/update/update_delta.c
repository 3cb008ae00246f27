/*
 * update_delta.c - line deltas between two versions of a signature set.
 *
 * Signature files are lines, and a new version mostly adds and drops lines, so a delta is a
 * per-file line patch: "=N" copy N lines of the old file, "-N" skip N, "+B" followed by B bytes
 * to insert. The diff is the patience kind: common head and tail first, then lines that occur
 * exactly once on both sides as anchors (their longest increasing run), recursively between
 * them; no quadratic table, so 100,000-line files diff in milliseconds. Optimality does not
 * matter for safety: whatever a patch produces is checked against the new version's signed
 * manifest before it is installed, and a client whose delta fails falls back to the full
 * package.
 *
 * A delta file: manifest.json + manifest.sig (the NEW version, signed), delta.json (from which
 * version and which manifest it applies to, which files are patched and which carried whole),
 * then patch/NAME and data/NAME members. Files of the new version named in neither are kept
 * from the old one, still checked against the new manifest.
 */
#include "update/update_int.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_DEPTH 64

typedef struct dline {
    const char *p;
    size_t len; /* with its newline, if it has one */
    uint64_t h;
} dline;

static size_t split_lines(const char *s, size_t n, dline **out)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += s[i] == '\n';
    count += n && s[n - 1] != '\n';
    dline *v = khi_calloc(count ? count : 1, sizeof(*v));
    if (!v)
        return SIZE_MAX;
    size_t k = 0;
    for (const char *p = s, *end = s + n; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        uint64_t h = 1469598103934665603ull;
        for (size_t i = 0; i < l; i++)
            h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
        v[k++] = (dline){p, l, h};
        p += l;
    }
    *out = v;
    return k;
}

static int same(const dline *x, const dline *y)
{
    return x->h == y->h && x->len == y->len && memcmp(x->p, y->p, x->len) == 0;
}

typedef struct dctx {
    const dline *a, *b;
    khi_buf *out;
    char op; /* pending op: '=', '-', '+' or 0 */
    uint64_t n;
    const char *add_p; /* pending '+': start and byte length (contiguous in b) */
    size_t add_len;
    kh_err err;
} dctx;

static void flush(dctx *c)
{
    if (!c->op || c->err != KH_OK)
        return;
    if (c->op == '+') {
        c->err = khi_buf_printf(c->out, "+%zu\n", c->add_len);
        if (c->err == KH_OK)
            c->err = khi_buf_append(c->out, c->add_p, c->add_len);
    } else {
        c->err = khi_buf_printf(c->out, "%c%llu\n", c->op, (unsigned long long)c->n);
    }
    c->op = 0;
    c->n = 0;
    c->add_len = 0;
}

static void emit(dctx *c, char op, uint64_t n)
{
    if (!n)
        return;
    if (c->op != op)
        flush(c);
    c->op = op;
    c->n += n;
}

static void emit_add(dctx *c, size_t blo, size_t bhi)
{
    if (blo >= bhi)
        return;
    const char *p = c->b[blo].p;
    size_t len = (size_t)(c->b[bhi - 1].p + c->b[bhi - 1].len - p);
    if (c->op == '+' && c->add_p + c->add_len == p) {
        c->add_len += len;
        return;
    }
    flush(c);
    c->op = '+';
    c->add_p = p;
    c->add_len = len;
}

typedef struct slot {
    uint64_t h;
    size_t ca, cb, pa, pb;
    int used;
} slot;

static void diff(dctx *c, size_t alo, size_t ahi, size_t blo, size_t bhi, int depth)
{
    size_t pre = 0, suf = 0;
    while (alo + pre < ahi && blo + pre < bhi && same(&c->a[alo + pre], &c->b[blo + pre]))
        pre++;
    emit(c, '=', pre);
    alo += pre;
    blo += pre;
    while (alo + suf < ahi && blo + suf < bhi && same(&c->a[ahi - 1 - suf], &c->b[bhi - 1 - suf]))
        suf++;
    ahi -= suf;
    bhi -= suf;
    if (alo == ahi || blo == bhi || depth > MAX_DEPTH) {
        emit(c, '-', ahi - alo);
        emit_add(c, blo, bhi);
        emit(c, '=', suf);
        return;
    }
    /* lines unique on both sides */
    size_t cap = 16;
    while (cap < 2 * (ahi - alo + bhi - blo))
        cap <<= 1;
    slot *t = khi_calloc(cap, sizeof(*t));
    size_t *pa = khi_calloc(ahi - alo, sizeof(*pa)), *pb = khi_calloc(ahi - alo, sizeof(*pb));
    size_t *tails = khi_calloc(ahi - alo + 1, sizeof(*tails)), *prev = khi_calloc(ahi - alo, sizeof(*prev));
    if (!t || !pa || !pb || !tails || !prev) {
        c->err = KH_ENOMEM;
        goto out;
    }
    for (int side = 0; side < 2; side++) {
        const dline *v = side ? c->b : c->a;
        size_t lo = side ? blo : alo, hi = side ? bhi : ahi;
        for (size_t i = lo; i < hi; i++) {
            size_t j = (size_t)v[i].h & (cap - 1);
            while (t[j].used && t[j].h != v[i].h)
                j = (j + 1) & (cap - 1);
            t[j].used = 1;
            t[j].h = v[i].h;
            if (side) {
                t[j].cb++;
                t[j].pb = i;
            } else {
                t[j].ca++;
                t[j].pa = i;
            }
        }
    }
    size_t k = 0;
    for (size_t i = alo; i < ahi; i++) {
        size_t j = (size_t)c->a[i].h & (cap - 1);
        while (t[j].h != c->a[i].h)
            j = (j + 1) & (cap - 1);
        if (t[j].ca == 1 && t[j].cb == 1 && same(&c->a[i], &c->b[t[j].pb])) {
            pa[k] = i;
            pb[k] = t[j].pb;
            k++;
        }
    }
    /* longest increasing run of pb (patience sorting with back pointers) */
    size_t len = 0;
    for (size_t i = 0; i < k; i++) {
        size_t lo = 0, hi = len;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (pb[tails[mid]] < pb[i])
                lo = mid + 1;
            else
                hi = mid;
        }
        prev[i] = lo ? tails[lo - 1] : SIZE_MAX;
        tails[lo] = i;
        if (lo == len)
            len++;
    }
    if (len == 0) {
        emit(c, '-', ahi - alo);
        emit_add(c, blo, bhi);
    } else {
        size_t *chain = khi_calloc(len, sizeof(*chain));
        if (!chain) {
            c->err = KH_ENOMEM;
            goto out;
        }
        for (size_t i = tails[len - 1], n = len; n-- > 0; i = prev[i])
            chain[n] = i;
        size_t ca = alo, cb = blo;
        for (size_t n = 0; n < len && c->err == KH_OK; n++) {
            size_t ai = pa[chain[n]], bi = pb[chain[n]];
            diff(c, ca, ai, cb, bi, depth + 1);
            emit(c, '=', 1);
            ca = ai + 1;
            cb = bi + 1;
        }
        if (c->err == KH_OK)
            diff(c, ca, ahi, cb, bhi, depth + 1);
        khi_free(chain);
    }
out:
    khi_free(t);
    khi_free(pa);
    khi_free(pb);
    khi_free(tails);
    khi_free(prev);
    emit(c, '=', suf);
}

kh_err khi_delta_make(const char *old, size_t oldlen, const char *new_, size_t newlen, khi_buf *out)
{
    dline *a = NULL, *b = NULL;
    size_t na = split_lines(old, oldlen, &a), nb = split_lines(new_, newlen, &b);
    if (na == SIZE_MAX || nb == SIZE_MAX) {
        khi_free(a);
        khi_free(b);
        return KH_ENOMEM;
    }
    dctx c = {a, b, out, 0, 0, NULL, 0, KH_OK};
    diff(&c, 0, na, 0, nb, 0);
    flush(&c);
    khi_free(a);
    khi_free(b);
    return c.err;
}

static kh_err write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return KH_EIO;
        p += w;
        n -= (size_t)w;
    }
    return KH_OK;
}

kh_err khi_delta_apply(const char *old, size_t oldlen, const char *patch, size_t patchlen, int fd,
                       uint64_t limit, char *err, size_t err_len)
{
    const char *o = old, *oend = old + oldlen, *p = patch, *pend = patch + patchlen;
    uint64_t written = 0;
    while (p < pend) {
        char op = *p++;
        uint64_t n = 0;
        int digits = 0;
        while (p < pend && *p >= '0' && *p <= '9' && digits < 19) {
            n = n * 10 + (uint64_t)(*p++ - '0');
            digits++;
        }
        if (!digits || p >= pend || *p != '\n' || (op != '=' && op != '-' && op != '+')) {
            khi_snprintf(err, err_len, "patch is malformed at byte %zu", (size_t)(p - patch));
            return KH_EFORMAT;
        }
        p++;
        if (op == '+') {
            if (n > (uint64_t)(pend - p) || written + n > limit) {
                khi_snprintf(err, err_len, "patch inserts more than it holds or than the manifest allows");
                return KH_EFORMAT;
            }
            if (write_all(fd, p, (size_t)n) != KH_OK)
                return KH_EIO;
            p += n;
            written += n;
            continue;
        }
        const char *start = o;
        for (uint64_t i = 0; i < n; i++) {
            if (o >= oend) {
                khi_snprintf(err, err_len, "patch needs more lines than the installed file has");
                return KH_EFORMAT;
            }
            const char *nl = memchr(o, '\n', (size_t)(oend - o));
            o = nl ? nl + 1 : oend;
        }
        if (op == '=') {
            if (written + (uint64_t)(o - start) > limit) {
                khi_snprintf(err, err_len, "patch output exceeds the size in the manifest");
                return KH_EFORMAT;
            }
            if (write_all(fd, start, (size_t)(o - start)) != KH_OK)
                return KH_EIO;
            written += (uint64_t)(o - start);
        }
    }
    if (o != oend) {
        khi_snprintf(err, err_len, "patch does not account for the whole installed file");
        return KH_EFORMAT;
    }
    return KH_OK;
}

/* ---- delta packages ---- */

typedef struct memfile {
    char *name;
    char *data;
    size_t len;
} memfile;

static void memfiles_free(memfile *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        khi_free(v[i].name);
        khi_free(v[i].data);
    }
    khi_free(v);
}

/* Every file of a package (checked against its manifest) into memory. */
static kh_err load_pkg(const char *path, const uint8_t *pk, khi_manifest *m, memfile **out,
                       size_t *out_n, char *err, size_t err_len)
{
    khi_pkg_reader *r = NULL;
    json_t *delta = NULL;
    kh_err e = khi_pkg_open(path, NULL, pk, &r, m, &delta, err, err_len);
    if (e != KH_OK)
        return e;
    memfile *v = khi_calloc(m->nfiles ? m->nfiles : 1, sizeof(*v));
    size_t n = 0;
    if (delta || !v) {
        khi_snprintf(err, err_len, "%s: %s", path, delta ? "is a delta, not a package" : "out of memory");
        e = delta ? KH_EFORMAT : KH_ENOMEM;
        goto out;
    }
    for (;;) {
        const char *name;
        int end;
        if ((e = khi_pkg_next(r, &name, &end, err, err_len)) != KH_OK || end)
            break;
        const khi_mfile *f = khi_manifest_find(m, name);
        if (!f || n == m->nfiles) {
            khi_snprintf(err, err_len, "%s: member '%s' is not in the manifest", path, name);
            e = KH_EFORMAT;
            break;
        }
        khi_buf b;
        khi_buf_init(&b);
        char chunk[65536];
        long k;
        while ((k = khi_pkg_read(r, chunk, sizeof(chunk))) > 0)
            if (khi_buf_append(&b, chunk, (size_t)k) != KH_OK) {
                k = -2;
                break;
            }
        uint8_t h[32];
        crypto_hash_sha256(h, (const uint8_t *)(b.data ? b.data : ""), b.len);
        if (k < 0 || b.len != f->size || memcmp(h, f->sha256, 32) != 0) {
            khi_buf_cleanup(&b);
            khi_snprintf(err, err_len, "%s: %s does not match its manifest", path, name);
            e = k == -2 ? KH_ENOMEM : KH_EFORMAT;
            break;
        }
        v[n].name = khi_strdup(name);
        v[n].data = b.data ? b.data : khi_strdup("");
        v[n].len = b.len;
        n++;
        if (!v[n - 1].name || !v[n - 1].data) {
            e = KH_ENOMEM;
            break;
        }
    }
    if (e == KH_OK && n != m->nfiles) {
        khi_snprintf(err, err_len, "%s: truncated", path);
        e = KH_EFORMAT;
    }
out:
    json_decref(delta);
    khi_pkg_close(r);
    if (e != KH_OK) {
        memfiles_free(v, n);
        khi_manifest_cleanup(m);
        return e;
    }
    *out = v;
    *out_n = n;
    return KH_OK;
}

static const memfile *find_mem(const memfile *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0)
            return &v[i];
    return NULL;
}

kh_err kh_pkg_diff(const char *old_path, const char *new_path, const char *key_path,
                   const char *out_path, char *errbuf, size_t errbuf_len)
{
    khi_seckey key;
    khi_manifest om, nm;
    memfile *ov = NULL, *nv = NULL;
    size_t on = 0, nn = 0;
    struct archive *a = NULL;
    json_t *d = NULL, *patched = json_array(), *whole = json_array();
    char *dtext = NULL, tmp[4200], odig[65];
    memset(&om, 0, sizeof(om));
    memset(&nm, 0, sizeof(nm));
    if (!old_path || !new_path || !key_path || !out_path)
        return KH_EINVAL;
    kh_err e = khi_init_sodium();
    if (e == KH_OK)
        e = khi_seckey_load(key_path, &key, errbuf, errbuf_len);
    if (e == KH_OK)
        e = load_pkg(old_path, key.pk, &om, &ov, &on, errbuf, errbuf_len);
    if (e == KH_OK)
        e = load_pkg(new_path, key.pk, &nm, &nv, &nn, errbuf, errbuf_len);
    if (e != KH_OK)
        goto out;
    if (nm.version <= om.version) {
        khi_snprintf(errbuf, errbuf_len, "%s (version %llu) is not newer than %s (version %llu)",
                     new_path, (unsigned long long)nm.version, old_path, (unsigned long long)om.version);
        e = KH_EINVAL;
        goto out;
    }
    khi_manifest_digest(&om, odig);
    d = json_pack("{s:s, s:I, s:s, s:I, s:o, s:o}", "format", KHI_DELTA_FORMAT, "from_version",
                  (json_int_t)om.version, "from_manifest_sha256", odig, "to_version",
                  (json_int_t)nm.version, "patch", patched, "data", whole);
    patched = whole = NULL;
    khi_snprintf(tmp, sizeof(tmp), "%s.tmp", out_path);
    a = d ? khi_pkg_writer_open(tmp) : NULL;
    if (!a) {
        khi_snprintf(errbuf, errbuf_len, "%s: cannot write", tmp);
        e = d ? KH_EIO : KH_ENOMEM;
        goto out;
    }
    khi_buf patch;
    khi_buf_init(&patch);
    /* decide per file first (delta.json precedes the members) */
    char **pnames = khi_calloc(nn ? nn : 1, sizeof(char *));
    khi_buf *patches = khi_calloc(nn ? nn : 1, sizeof(khi_buf));
    if (!pnames || !patches) {
        e = KH_ENOMEM;
        khi_free(pnames);
        khi_free(patches);
        goto close;
    }
    for (size_t i = 0; i < nn && e == KH_OK; i++) {
        const memfile *of = find_mem(ov, on, nv[i].name);
        const khi_mfile *omf = khi_manifest_find(&om, nv[i].name);
        const khi_mfile *nmf = khi_manifest_find(&nm, nv[i].name);
        if (of && omf && nmf && memcmp(omf->sha256, nmf->sha256, 32) == 0)
            continue; /* unchanged: kept from the old version */
        khi_buf_init(&patches[i]);
        if (of)
            e = khi_delta_make(of->data, of->len, nv[i].data, nv[i].len, &patches[i]);
        if (e == KH_OK && of && patches[i].len < nv[i].len) {
            json_array_append_new(json_object_get(d, "patch"), json_string(nv[i].name));
            pnames[i] = "patch/";
        } else {
            json_array_append_new(json_object_get(d, "data"), json_string(nv[i].name));
            pnames[i] = "data/";
        }
    }
    dtext = e == KH_OK ? json_dumps(d, JSON_SORT_KEYS | JSON_INDENT(1)) : NULL;
    if (e == KH_OK && !dtext)
        e = KH_ENOMEM;
    if (e == KH_OK)
        e = khi_pkg_add_member(a, "manifest.json", nm.raw, nm.rawlen);
    if (e == KH_OK)
        e = khi_pkg_add_member(a, "manifest.sig", nm.sig, strlen(nm.sig));
    if (e == KH_OK)
        e = khi_pkg_add_member(a, "delta.json", dtext, strlen(dtext));
    for (size_t i = 0; i < nn && e == KH_OK; i++) {
        if (!pnames[i])
            continue;
        char mname[300];
        int is_patch = pnames[i][0] == 'p';
        khi_snprintf(mname, sizeof(mname), "%s%s", pnames[i], nv[i].name);
        e = is_patch ? khi_pkg_add_member(a, mname, patches[i].data ? patches[i].data : "", patches[i].len)
                     : khi_pkg_add_member(a, mname, nv[i].data, nv[i].len);
    }
    for (size_t i = 0; i < nn; i++)
        khi_buf_cleanup(&patches[i]);
    khi_free(patches);
    khi_free(pnames);
close:
    e = khi_pkg_writer_close(a, tmp, out_path, e);
    if (e != KH_OK && !errbuf[0])
        khi_snprintf(errbuf, errbuf_len, "%s: %s", out_path, kh_strerror(e));
out:
    free(dtext);
    json_decref(d);
    json_decref(patched);
    json_decref(whole);
    memfiles_free(ov, on);
    memfiles_free(nv, nn);
    if (om.raw)
        khi_manifest_cleanup(&om);
    if (nm.raw)
        khi_manifest_cleanup(&nm);
    sodium_memzero(&key, sizeof(key));
    return e;
}

static int in_list(json_t *arr, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
            return 1;
    }
    return 0;
}

static kh_err delta_header(const khi_manifest *m, json_t *d, char *err, size_t err_len)
{
    const char *fmt = json_string_value(json_object_get(d, "format"));
    json_t *patch = json_object_get(d, "patch"), *data = json_object_get(d, "data");
    if (!fmt || strcmp(fmt, KHI_DELTA_FORMAT) != 0 || !json_is_integer(json_object_get(d, "from_version")) ||
        !json_is_string(json_object_get(d, "from_manifest_sha256")) || !json_is_array(patch) ||
        !json_is_array(data) ||
        (uint64_t)json_integer_value(json_object_get(d, "to_version")) != m->version) {
        khi_snprintf(err, err_len, "delta.json is malformed or does not match the signed manifest");
        return KH_EFORMAT;
    }
    return KH_OK;
}

/* Member "patch/NAME" or "data/NAME" that delta.json announces; returns the manifest file. */
static const khi_mfile *delta_member(const khi_manifest *m, json_t *d, const char *name, int *is_patch)
{
    const char *base;
    if (strncmp(name, "patch/", 6) == 0) {
        *is_patch = 1;
        base = name + 6;
    } else if (strncmp(name, "data/", 5) == 0) {
        *is_patch = 0;
        base = name + 5;
    } else {
        return NULL;
    }
    if (!in_list(json_object_get(d, *is_patch ? "patch" : "data"), base))
        return NULL;
    return khi_manifest_find(m, base);
}

static kh_err read_all(khi_pkg_reader *r, uint64_t limit, khi_buf *out, char *err, size_t err_len)
{
    char chunk[65536];
    long k;
    while ((k = khi_pkg_read(r, chunk, sizeof(chunk))) > 0) {
        if (out->len + (size_t)k > limit) {
            khi_snprintf(err, err_len, "delta member larger than allowed");
            return KH_EFORMAT;
        }
        if (khi_buf_append(out, chunk, (size_t)k) != KH_OK)
            return KH_ENOMEM;
    }
    if (k < 0) {
        khi_snprintf(err, err_len, "delta is truncated or damaged");
        return KH_EFORMAT;
    }
    return KH_OK;
}

kh_err khi_delta_check(khi_pkg_reader *r, const khi_manifest *m, json_t *d, char *err, size_t err_len)
{
    kh_err e = delta_header(m, d, err, err_len);
    while (e == KH_OK) {
        const char *name;
        int end, is_patch;
        if ((e = khi_pkg_next(r, &name, &end, err, err_len)) != KH_OK || end)
            break;
        const khi_mfile *f = delta_member(m, d, name, &is_patch);
        if (!f) {
            khi_snprintf(err, err_len, "delta member '%s' is not announced: tampered", name);
            return KH_EFORMAT;
        }
        khi_buf b;
        khi_buf_init(&b);
        e = read_all(r, is_patch ? 2 * f->size + (1u << 20) : f->size, &b, err, err_len);
        if (e == KH_OK && !is_patch) {
            uint8_t h[32];
            crypto_hash_sha256(h, (const uint8_t *)(b.data ? b.data : ""), b.len);
            if (b.len != f->size || memcmp(h, f->sha256, 32) != 0) {
                khi_snprintf(err, err_len, "%s does not match the signed manifest: tampered", name);
                e = KH_EFORMAT;
            }
        }
        khi_buf_cleanup(&b);
    }
    return e;
}

static kh_err check_file(const char *dir, const khi_mfile *f, char *err, size_t err_len)
{
    char p[4400];
    uint8_t h[32];
    uint64_t size = 0;
    khi_snprintf(p, sizeof(p), "%s/%s", dir, f->name);
    kh_err e = khi_sha256_file(p, h, &size);
    if (e != KH_OK || size != f->size || memcmp(h, f->sha256, 32) != 0) {
        khi_snprintf(err, err_len, "%s: the delta's result does not match the signed manifest", f->name);
        return KH_EFORMAT;
    }
    return KH_OK;
}

kh_err khi_delta_install(khi_pkg_reader *r, const khi_manifest *m, json_t *d, const char *old_dir,
                         uint64_t old_version, const char *new_dir, char *err, size_t err_len)
{
    kh_err e = delta_header(m, d, err, err_len);
    if (e != KH_OK)
        return e;
    uint64_t from = (uint64_t)json_integer_value(json_object_get(d, "from_version"));
    const char *from_sha = json_string_value(json_object_get(d, "from_manifest_sha256"));
    char p[4400], *old_raw = NULL;
    size_t old_len = 0;
    uint8_t h[32];
    char hex[65];
    khi_snprintf(p, sizeof(p), "%s/manifest.json", old_dir ? old_dir : "");
    if (!old_dir || from != old_version ||
        khi_file_read_all(p, KHI_MAX_MANIFEST, &old_raw, &old_len, NULL, 0) != KH_OK) {
        khi_snprintf(err, err_len, "delta applies to version %llu, installed is %llu",
                     (unsigned long long)from, (unsigned long long)old_version);
        khi_free(old_raw);
        return KH_ESTATE;
    }
    crypto_hash_sha256(h, (const uint8_t *)old_raw, old_len);
    khi_free(old_raw);
    khi_hex_encode(h, 32, hex);
    if (strcmp(hex, from_sha) != 0) {
        khi_snprintf(err, err_len, "delta applies to another manifest of version %llu than the installed one",
                     (unsigned long long)from);
        return KH_ESTATE;
    }
    uint8_t *made = khi_calloc(m->nfiles ? m->nfiles : 1, 1);
    if (!made)
        return KH_ENOMEM;
    while (e == KH_OK) {
        const char *name;
        int end, is_patch;
        if ((e = khi_pkg_next(r, &name, &end, err, err_len)) != KH_OK || end)
            break;
        const khi_mfile *f = delta_member(m, d, name, &is_patch);
        if (!f || made[f - m->files]) {
            khi_snprintf(err, err_len, "delta member '%s' is not announced or repeated: tampered", name);
            e = KH_EFORMAT;
            break;
        }
        made[f - m->files] = 1;
        khi_buf body;
        khi_buf_init(&body);
        e = read_all(r, is_patch ? 2 * f->size + (1u << 20) : f->size, &body, err, err_len);
        khi_snprintf(p, sizeof(p), "%s/%s", new_dir, f->name);
        int fd = e == KH_OK ? open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644) : -1;
        if (e == KH_OK && fd < 0)
            e = KH_EIO;
        if (e == KH_OK && is_patch) {
            char op[4400], *old = NULL;
            size_t olen = 0;
            khi_snprintf(op, sizeof(op), "%s/%s", old_dir, f->name);
            e = khi_file_read_all(op, KHI_MAX_PKG_FILE, &old, &olen, NULL, 0);
            if (e != KH_OK)
                khi_snprintf(err, err_len, "%s: not in the installed version, cannot patch", f->name);
            else
                e = khi_delta_apply(old, olen, body.data ? body.data : "", body.len, fd, f->size,
                                    err, err_len);
            khi_free(old);
        } else if (e == KH_OK) {
            e = write_all(fd, body.data ? body.data : "", body.len);
        }
        if (fd >= 0) {
            if (e == KH_OK && fsync(fd) != 0)
                e = KH_EIO;
            close(fd);
        }
        khi_buf_cleanup(&body);
    }
    /* files not carried: kept from the installed version */
    for (size_t i = 0; e == KH_OK && i < m->nfiles; i++) {
        if (made[i])
            continue;
        char src[4400], *data = NULL;
        size_t len = 0;
        khi_snprintf(src, sizeof(src), "%s/%s", old_dir, m->files[i].name);
        khi_snprintf(p, sizeof(p), "%s/%s", new_dir, m->files[i].name);
        e = khi_file_read_all(src, KHI_MAX_PKG_FILE, &data, &len, NULL, 0);
        if (e != KH_OK) {
            khi_snprintf(err, err_len, "%s: missing from the installed version", m->files[i].name);
            e = KH_EFORMAT;
            break;
        }
        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        e = fd < 0 ? KH_EIO : write_all(fd, data, len);
        if (fd >= 0) {
            if (e == KH_OK && fsync(fd) != 0)
                e = KH_EIO;
            close(fd);
        }
        khi_free(data);
    }
    for (size_t i = 0; e == KH_OK && i < m->nfiles; i++)
        e = check_file(new_dir, &m->files[i], err, err_len);
    khi_free(made);
    return e;
}
