/*
 * test_store.c - the console's store: roll-ups from the per-day tables against a count made
 * here event by event, over periods that cut days at both ends, lie within one day, or span
 * everything; top signatures and top infected endpoints; a unit tree with units under units;
 * resent events counted once; scan results and scan-plan compliance; an endpoint's events;
 * commands delivered until done, reported once, expired, refused for another endpoint; many
 * threads writing events and heartbeats at once while another reads roll-ups (the SQLite
 * backend's writer thread batches them): every event stored once, every reply true.
 *
 * Runs on SQLite (a temporary file) unless KH_TEST_DB_URL names another store:
 * tests/cli/test_console_pg.sh runs it again against a real PostgreSQL server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <cmocka.h>

#include "store/store.h"

#define DAY 86400
#define T0 ((int64_t)20000 * DAY) /* 2024-10-04 00:00 UTC */

enum { A, A1, A2, B, NUNITS };
static const int parent_of[NUNITS] = {-1, A, A, -1};
static const char *const unit_names[NUNITS] = {"Sở Tài chính", "Phòng Kế toán", "Phòng Ngân sách",
                                               "Xã Bản Bo"};

typedef struct ev {
    int endpoint; /* index into endpoint_unit */
    int64_t time;
    const char *sig;
} ev;

static const int endpoint_unit[] = {A1, A2, B, A};
#define NEP 4

static const ev events[] = {
    {0, T0 + 100, "Win.Trojan.Agent"},
    {0, T0 + DAY + 50, "Win.Trojan.Agent"},
    {0, T0 + 2 * DAY + 10, "Eicar-Test-Signature"},
    {1, T0 + DAY + 7000, "Win.Trojan.Agent"},
    {1, T0 + DAY + 7001, "Mã độc.Thử"},
    {2, T0 + 3 * DAY + 5, "Eicar-Test-Signature"},
    {3, T0 - 10, "Mã độc.Thử"},
    {3, T0 + 2 * DAY - 1, "Win.Trojan.Agent"},
    {3, T0 + 2 * DAY, "Win.Trojan.Agent"},
};
#define NEV (sizeof(events) / sizeof(events[0]))

typedef struct fixture {
    khi_store *s;
    char path[64];
    int64_t unit_id[NUNITS];
    int64_t ep_id[NEP];
} fixture;

static int within(int u, int ancestor)
{
    for (; u >= 0; u = parent_of[u])
        if (u == ancestor)
            return 1;
    return 0;
}

/* what a roll-up of unit index u (-1 = province) over [from, to) must say */
static void expect(int u, int64_t from, int64_t to, int64_t *infected, int64_t *detections)
{
    int seen[NEP] = {0};
    *infected = *detections = 0;
    for (size_t i = 0; i < NEV; i++) {
        if (events[i].time < from || events[i].time >= to)
            continue;
        if (u >= 0 && !within(endpoint_unit[events[i].endpoint], u))
            continue;
        (*detections)++;
        if (!seen[events[i].endpoint]++)
            (*infected)++;
    }
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char err[256] = "";
    const char *url = getenv("KH_TEST_DB_URL");
    if (!f)
        return -1;
    if (!url || !*url) {
        snprintf(f->path, sizeof(f->path), "/tmp/khien-store-XXXXXX");
        int fd = mkstemp(f->path);
        if (fd < 0)
            return -1;
        close(fd);
        url = f->path;
    }
    if (khi_store_open(url, &f->s, err, sizeof(err)) != KH_OK) {
        fprintf(stderr, "cannot open %s: %s\n", url, err);
        return -1;
    }
    for (int u = 0; u < NUNITS; u++)
        if (khi_store_unit_add(f->s, parent_of[u] < 0 ? 0 : f->unit_id[parent_of[u]], unit_names[u], "unit",
                               NULL, &f->unit_id[u]) != KH_OK)
            return -1;
    for (int e = 0; e < NEP; e++) {
        char tok[65];
        uint8_t key[32];
        memset(key, 0x40 + e, sizeof(key));
        if (khi_store_token_create(f->s, f->unit_id[endpoint_unit[e]], 3600, 1, T0, tok) != KH_OK ||
            khi_store_enrol(f->s, tok, key, "máy-trạm", T0, &f->ep_id[e]) != KH_OK)
            return -1;
    }
    for (size_t i = 0; i < NEV; i++) {
        char uid[32];
        int fresh = 0;
        snprintf(uid, sizeof(uid), "ev-%zu", i);
        khi_event_rec r = {.uid = uid, .path = "C:\\Users\\Người dùng\\a.exe", .signature = events[i].sig,
                           .action = "quarantined", .quarantine_id = "0a1b", .time = events[i].time};
        if (khi_store_event(f->s, f->ep_id[events[i].endpoint], &r, &fresh) != KH_OK || !fresh)
            return -1;
        /* the agent resends it: stored once, counted once */
        if (khi_store_event(f->s, f->ep_id[events[i].endpoint], &r, &fresh) != KH_OK || fresh)
            return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    khi_store_close(f->s);
    if (f->path[0])
        unlink(f->path);
    free(f);
    return 0;
}

static const int64_t periods[][2] = {
    {0, INT64_MAX / 2},                    /* everything */
    {T0, T0 + 3 * DAY},                    /* whole days only */
    {T0 + 50, T0 + 2 * DAY + 20},          /* partial days at both ends */
    {T0 + DAY + 40, T0 + DAY + 7001},      /* within one day */
    {T0 - 10, T0 - 9},                     /* one second */
    {T0 + 2 * DAY - 1, T0 + 2 * DAY + 1},  /* across midnight */
    {T0 + 4 * DAY, T0 + 9 * DAY},          /* nothing */
    {-5 * DAY, T0},                        /* from before the epoch */
};

static void test_rollup_tree_matches_events(void **state)
{
    fixture *f = *state;
    for (size_t p = 0; p < sizeof(periods) / sizeof(periods[0]); p++) {
        int64_t from = periods[p][0], to = periods[p][1], inf, det;
        khi_rollup self, *kids = NULL;
        size_t nkids = 0;
        /* the province and its two root units */
        assert_int_equal(khi_store_rollup_tree(f->s, 0, from, to, T0, 3600, 7 * DAY, NULL, 0, &self, &kids, &nkids), KH_OK);
        expect(-1, from, to, &inf, &det);
        assert_int_equal(self.infected, inf);
        assert_int_equal(self.detections, det);
        assert_int_equal(self.endpoints, NEP);
        assert_int_equal(nkids, 2);
        for (size_t k = 0; k < nkids; k++) {
            int u = kids[k].unit_id == f->unit_id[A] ? A : B;
            assert_int_equal(kids[k].unit_id, f->unit_id[u]);
            expect(u, from, to, &inf, &det);
            assert_int_equal(kids[k].infected, inf);
            assert_int_equal(kids[k].detections, det);
            assert_int_equal(kids[k].endpoints, u == A ? 3 : 1);
        }
        free(kids);
        /* a unit with units under it */
        kids = NULL;
        assert_int_equal(khi_store_rollup_tree(f->s, f->unit_id[A], from, to, T0, 3600, 7 * DAY, NULL, 0, &self, &kids,
                                               &nkids), KH_OK);
        expect(A, from, to, &inf, &det);
        assert_int_equal(self.infected, inf);
        assert_int_equal(self.detections, det);
        assert_int_equal(nkids, 2);
        for (size_t k = 0; k < nkids; k++) {
            int u = kids[k].unit_id == f->unit_id[A1] ? A1 : A2;
            expect(u, from, to, &inf, &det);
            assert_int_equal(kids[k].infected, inf);
            assert_int_equal(kids[k].detections, det);
        }
        free(kids);
        /* a leaf, without children asked for */
        assert_int_equal(khi_store_rollup(f->s, f->unit_id[A2], from, to, T0, 3600, 7 * DAY, &self), KH_OK);
        expect(A2, from, to, &inf, &det);
        assert_int_equal(self.infected, inf);
        assert_int_equal(self.detections, det);
        assert_int_equal(self.endpoints, 1);
    }
}

typedef struct tops {
    char name[8][64];
    int64_t n[8];
    int count;
} tops;

static int add_top(void *ud, const char *name, int64_t n)
{
    tops *t = ud;
    if (t->count == 8)
        return 1;
    snprintf(t->name[t->count], sizeof(t->name[0]), "%s", name);
    t->n[t->count++] = n;
    return 0;
}

static void test_top_signatures_match_events(void **state)
{
    fixture *f = *state;
    for (size_t p = 0; p < sizeof(periods) / sizeof(periods[0]); p++) {
        for (int u = -1; u < NUNITS; u++) {
            int64_t from = periods[p][0], to = periods[p][1];
            tops t = {0};
            assert_int_equal(khi_store_top_signatures(f->s, u < 0 ? 0 : f->unit_id[u], from, to, 8, add_top, &t),
                             KH_OK);
            int64_t total = 0;
            for (int i = 0; i < t.count; i++) {
                int64_t want = 0;
                for (size_t e = 0; e < NEV; e++)
                    want += events[e].time >= from && events[e].time < to && !strcmp(events[e].sig, t.name[i]) &&
                            (u < 0 || within(endpoint_unit[events[e].endpoint], u));
                assert_int_equal(t.n[i], want);
                if (i)
                    assert_true(t.n[i - 1] >= t.n[i]);
                total += t.n[i];
            }
            int64_t inf, det;
            expect(u, from, to, &inf, &det);
            assert_int_equal(total, det); /* three signatures, all listed: nothing left out */
        }
    }
}

typedef struct top_eps {
    int64_t id[8], unit[8], n[8];
    int count;
} top_eps;

static int add_top_ep(void *ud, int64_t endpoint, const char *hostname, int64_t unit_id, int64_t n)
{
    top_eps *t = ud;
    assert_string_equal(hostname, "máy-trạm");
    if (t->count == 8)
        return 1;
    t->id[t->count] = endpoint;
    t->unit[t->count] = unit_id;
    t->n[t->count++] = n;
    return 0;
}

static void test_top_endpoints_match_events(void **state)
{
    fixture *f = *state;
    for (size_t p = 0; p < sizeof(periods) / sizeof(periods[0]); p++) {
        for (int u = -1; u < NUNITS; u++) {
            int64_t from = periods[p][0], to = periods[p][1], want[NEP] = {0}, listed = 0, inf, det;
            for (size_t e = 0; e < NEV; e++)
                want[events[e].endpoint] += events[e].time >= from && events[e].time < to &&
                                            (u < 0 || within(endpoint_unit[events[e].endpoint], u));
            top_eps t = {0};
            assert_int_equal(khi_store_top_endpoints(f->s, u < 0 ? 0 : f->unit_id[u], from, to, 8, add_top_ep, &t),
                             KH_OK);
            for (int i = 0; i < t.count; i++) {
                int ep = 0;
                while (ep < NEP && f->ep_id[ep] != t.id[i])
                    ep++;
                assert_true(ep < NEP);
                assert_int_equal(t.n[i], want[ep]);
                assert_int_equal(t.unit[i], f->unit_id[endpoint_unit[ep]]);
                if (i)
                    assert_true(t.n[i - 1] > t.n[i] || (t.n[i - 1] == t.n[i] && t.id[i - 1] < t.id[i]));
                listed += t.n[i];
            }
            expect(u, from, to, &inf, &det);
            assert_int_equal(t.count, inf); /* every infected endpoint, and only those */
            assert_int_equal(listed, det);
        }
    }
    /* the limit is honoured, most infected first: endpoint 0 and 3 have three each */
    top_eps t = {0};
    assert_int_equal(khi_store_top_endpoints(f->s, 0, 0, INT64_MAX / 2, 1, add_top_ep, &t), KH_OK);
    assert_int_equal(t.count, 1);
    assert_int_equal(t.n[0], 3);
    assert_int_equal(t.id[0], f->ep_id[0] < f->ep_id[3] ? f->ep_id[0] : f->ep_id[3]);
}

static void test_plan_compliance(void **state)
{
    fixture *f = *state;
    const int64_t P = T0 + 5 * DAY; /* this window's planned time */
    khi_scan_rec planned = {"scan-1", P + 10, P + 70, 1200, 5000000, 0, P};
    khi_scan_rec earlier = {"scan-2", P - 40 * DAY, P - 40 * DAY + 60, 1000, 4000000, 1, P - 31 * DAY};
    khi_scan_rec adhoc = {"scan-3", P + 20, P + 30, 10, 100, 0, 0};
    int fresh = 0;
    assert_int_equal(khi_store_scan(f->s, f->ep_id[0], &planned, &fresh), KH_OK); /* A1: done */
    assert_true(fresh);
    assert_int_equal(khi_store_scan(f->s, f->ep_id[0], &planned, &fresh), KH_OK); /* resent */
    assert_false(fresh);
    assert_int_equal(khi_store_scan(f->s, f->ep_id[2], &earlier, &fresh), KH_OK); /* B: last window only */
    assert_int_equal(khi_store_scan(f->s, f->ep_id[2], &adhoc, &fresh), KH_OK);   /* not planned */
    assert_int_equal(khi_store_scan(f->s, f->ep_id[1], &planned, &fresh), KH_OK); /* A2: no plan there */
    const khi_plan_cutoff cut[] = {{f->unit_id[A1], P}, {f->unit_id[B], P}};
    khi_rollup self, *kids = NULL;
    size_t nkids = 0;
    assert_int_equal(khi_store_rollup_tree(f->s, 0, 0, T0, T0, 3600, DAY, cut, 2, &self, &kids, &nkids), KH_OK);
    assert_int_equal(self.plan_endpoints, 2); /* the endpoints of A1 and B */
    assert_int_equal(self.plan_done, 1);
    assert_int_equal(nkids, 2);
    for (size_t k = 0; k < nkids; k++) {
        assert_int_equal(kids[k].plan_endpoints, 1);
        assert_int_equal(kids[k].plan_done, kids[k].unit_id == f->unit_id[A] ? 1 : 0);
    }
    free(kids);
    /* no cutoffs: nothing is planned */
    assert_int_equal(khi_store_rollup(f->s, 0, 0, T0, T0, 3600, DAY, &self), KH_OK);
    assert_int_equal(self.plan_endpoints, 0);
    assert_int_equal(self.plan_done, 0);
}

typedef struct seen {
    int n;
    int64_t ids[8];
    char kinds[8][32], status[8][16], detail[8][64];
    int64_t delivered[8];
} seen;

static int see(void *ud, const khi_command *c)
{
    seen *x = ud;
    if (x->n < 8) {
        x->ids[x->n] = c->id;
        x->delivered[x->n] = c->delivered;
        snprintf(x->kinds[x->n], sizeof(x->kinds[0]), "%s", c->kind);
        snprintf(x->status[x->n], sizeof(x->status[0]), "%s", c->status ? c->status : "-");
        snprintf(x->detail[x->n], sizeof(x->detail[0]), "%s", c->detail ? c->detail : "-");
    }
    x->n++;
    return 0;
}

static void test_commands(void **state)
{
    fixture *f = *state;
    int64_t a = f->ep_id[0], b = f->ep_id[1], scan = 0, upd = 0, old = 0, x = 0;
    assert_int_equal(khi_store_command_add(f->s, a, "scan", "{\"paths\":[\"/srv/tệp\"]}", "quản trị", T0, T0 + DAY, &scan),
                     KH_OK);
    assert_int_equal(khi_store_command_add(f->s, a, "update", "{}", "admin", T0 + 1, T0 + DAY, &upd), KH_OK);
    assert_int_equal(khi_store_command_add(f->s, a, "update", "{}", "admin", T0 - 2 * DAY, T0 - DAY, &old), KH_OK);
    assert_int_equal(khi_store_command_add(f->s, 987654, "update", "{}", "admin", T0, T0 + DAY, &x), KH_ENOENT);
    /* due: the two live ones, oldest first; the expired one is not delivered */
    seen d = {0};
    assert_int_equal(khi_store_commands_due(f->s, a, T0 + 10, 20, see, &d), KH_OK);
    assert_int_equal(d.n, 2);
    assert_true(d.ids[0] == scan && d.ids[1] == upd);
    assert_string_equal(d.kinds[0], "scan");
    seen none = {0};
    assert_int_equal(khi_store_commands_due(f->s, b, T0 + 10, 20, see, &none), KH_OK);
    assert_int_equal(none.n, 0);
    /* done once; a resent report is a duplicate; another endpoint cannot report it */
    int fresh = 0;
    assert_int_equal(khi_store_command_done(f->s, a, scan, 1, "12 tệp, 0 phát hiện", T0 + 20, &fresh), KH_OK);
    assert_true(fresh);
    assert_int_equal(khi_store_command_done(f->s, a, scan, 0, "again", T0 + 30, &fresh), KH_OK);
    assert_false(fresh);
    assert_int_equal(khi_store_command_done(f->s, b, upd, 1, NULL, T0 + 20, &fresh), KH_ENOENT);
    seen d2 = {0};
    assert_int_equal(khi_store_commands_due(f->s, a, T0 + 40, 20, see, &d2), KH_OK);
    assert_int_equal(d2.n, 1);
    assert_true(d2.ids[0] == upd);
    assert_int_equal(d2.delivered[0], T0 + 10); /* first delivery kept */
    /* the list: newest first, with state and the agent's words intact */
    seen l = {0};
    assert_int_equal(khi_store_commands(f->s, a, 100, see, &l), KH_OK);
    assert_int_equal(l.n, 3);
    assert_true(l.ids[0] == old && l.ids[1] == upd && l.ids[2] == scan);
    assert_string_equal(l.status[2], "ok");
    assert_string_equal(l.detail[2], "12 tệp, 0 phát hiện");
    assert_string_equal(l.status[1], "-");
}

static int count_event(void *ud, const khi_event_rec *rec)
{
    int *n = ud;
    if (*n == 0) { /* the newest of endpoint 0's */
        assert_string_equal(rec->uid, "ev-2");
        assert_string_equal(rec->quarantine_id, "0a1b");
        assert_string_equal(rec->path, "C:\\Users\\Người dùng\\a.exe");
    }
    (*n)++;
    return 0;
}

static void test_endpoint_events(void **state)
{
    fixture *f = *state;
    int n = 0;
    assert_int_equal(khi_store_events(f->s, f->ep_id[0], 100, count_event, &n), KH_OK);
    assert_int_equal(n, 3);
    n = 1; /* skip the check of the first */
    assert_int_equal(khi_store_events(f->s, f->ep_id[3], 2, count_event, &n), KH_OK);
    assert_int_equal(n, 3);
}

#define WRITERS 8
#define PER_WRITER 250
#define BUSY_DAY (T0 + 100 * DAY)

typedef struct writer_arg {
    fixture *f;
    int index, errors, fresh;
} writer_arg;

static void *write_many(void *p)
{
    writer_arg *w = p;
    for (int i = 0; i < PER_WRITER; i++) {
        char uid[48];
        int fresh = 0;
        snprintf(uid, sizeof(uid), "busy-%d-%d", w->index, i);
        khi_event_rec r = {.uid = uid, .path = "/srv/tệp", .signature = "Busy.Sig", .action = "reported",
                           .time = BUSY_DAY + i};
        int64_t ep = w->f->ep_id[(w->index + i) % NEP];
        if (khi_store_event(w->f->s, ep, &r, &fresh) != KH_OK)
            w->errors++;
        w->fresh += fresh;
        if (khi_store_event(w->f->s, ep, &r, &fresh) != KH_OK || fresh) /* resent: never twice */
            w->errors++;
        khi_inventory inv = {.hostname = "máy", .os = "Linux", .sig_version = i};
        if (i % 10 == 0 && khi_store_heartbeat(w->f->s, ep, &inv, BUSY_DAY + i) != KH_OK)
            w->errors++;
    }
    return NULL;
}

static void test_concurrent_writes(void **state)
{
    fixture *f = *state;
    pthread_t th[WRITERS];
    writer_arg w[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (writer_arg){f, i, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, write_many, &w[i]), 0);
    }
    khi_rollup self; /* reads go on meanwhile */
    for (int i = 0; i < 20; i++)
        assert_int_equal(khi_store_rollup(f->s, 0, BUSY_DAY, BUSY_DAY + DAY, BUSY_DAY, 3600, DAY, &self), KH_OK);
    int fresh = 0;
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].errors, 0);
        fresh += w[i].fresh;
    }
    assert_int_equal(fresh, WRITERS * PER_WRITER);
    assert_int_equal(khi_store_rollup(f->s, 0, BUSY_DAY, BUSY_DAY + DAY, BUSY_DAY + DAY, 3600, DAY, &self), KH_OK);
    assert_int_equal(self.detections, WRITERS * PER_WRITER);
    assert_int_equal(self.infected, NEP);
}

static void test_unknown_unit(void **state)
{
    fixture *f = *state;
    khi_rollup self;
    assert_int_equal(khi_store_rollup(f->s, 987654, 0, T0, T0, 3600, DAY, &self), KH_ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rollup_tree_matches_events),
        cmocka_unit_test(test_top_signatures_match_events),
        cmocka_unit_test(test_top_endpoints_match_events),
        cmocka_unit_test(test_plan_compliance),
        cmocka_unit_test(test_unknown_unit),
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_endpoint_events),
        cmocka_unit_test(test_concurrent_writes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
