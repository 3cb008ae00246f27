/*
 * console_queue.c - the agent's event queue, in SQLite, so that nothing is lost.
 *
 * Events are appended as JSON and removed only when the server has acknowledged them, so a
 * server outage, a network cut or an agent restart loses nothing; the server deduplicates by
 * the events' own ids, so sending one twice (ack lost) stores it once. The queue is bounded:
 * past max_items the oldest low-value events go first, detections last, and every drop is
 * counted so the agent can report it.
 */
#include <khien/console.h>
#include "core/core.h"

#include <sqlite3.h>
#include <string.h>

struct kh_queue {
    sqlite3 *db;
    size_t max;
};

kh_err kh_queue_open(const char *path, size_t max, kh_queue **out)
{
    kh_queue *q = khi_calloc(1, sizeof(*q));
    if (!q)
        return KH_ENOMEM;
    q->max = max ? max : 100000;
    if (sqlite3_open(path, &q->db) != SQLITE_OK ||
        sqlite3_exec(q->db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "CREATE TABLE IF NOT EXISTS queue(id INTEGER PRIMARY KEY, prio INTEGER NOT NULL, body TEXT NOT NULL);"
                     "CREATE TABLE IF NOT EXISTS stats(k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
                     "INSERT OR IGNORE INTO stats VALUES('dropped', 0);",
                     NULL, NULL, NULL) != SQLITE_OK) {
        kh_queue_close(q);
        return KH_EIO;
    }
    sqlite3_busy_timeout(q->db, 5000);
    *out = q;
    return KH_OK;
}

void kh_queue_close(kh_queue *q)
{
    if (!q)
        return;
    sqlite3_close(q->db);
    khi_free(q);
}

size_t kh_queue_length(kh_queue *q)
{
    sqlite3_stmt *st = NULL;
    size_t n = 0;
    if (sqlite3_prepare_v2(q->db, "SELECT count(*) FROM queue", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = (size_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

uint64_t kh_queue_dropped(kh_queue *q)
{
    sqlite3_stmt *st = NULL;
    uint64_t n = 0;
    if (sqlite3_prepare_v2(q->db, "SELECT v FROM stats WHERE k='dropped'", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

kh_err kh_queue_push(kh_queue *q, const char *json, int prio)
{
    sqlite3_stmt *st = NULL;
    kh_err e = KH_OK;
    if (sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return KH_EIO;
    if (kh_queue_length(q) >= q->max) {
        /* make room: the oldest low-value event, else the oldest of all */
        if (sqlite3_exec(q->db,
                         "DELETE FROM queue WHERE id = coalesce((SELECT min(id) FROM queue WHERE prio = 0),"
                         " (SELECT min(id) FROM queue));"
                         "UPDATE stats SET v = v + 1 WHERE k = 'dropped';",
                         NULL, NULL, NULL) != SQLITE_OK)
            e = KH_EIO;
    }
    if (e == KH_OK && (sqlite3_prepare_v2(q->db, "INSERT INTO queue(prio, body) VALUES(?, ?)", -1, &st, NULL) != SQLITE_OK ||
                       sqlite3_bind_int(st, 1, prio) != SQLITE_OK ||
                       sqlite3_bind_text(st, 2, json, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
                       sqlite3_step(st) != SQLITE_DONE))
        e = KH_EIO;
    sqlite3_finalize(st);
    sqlite3_exec(q->db, e == KH_OK ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
    return e;
}

kh_err kh_queue_peek(kh_queue *q, size_t max, char **out, int64_t *out_last, size_t *out_count)
{
    sqlite3_stmt *st = NULL;
    khi_buf b;
    khi_buf_init(&b);
    *out_count = 0;
    *out_last = 0;
    if (sqlite3_prepare_v2(q->db, "SELECT id, body FROM queue ORDER BY id LIMIT ?", -1, &st, NULL) != SQLITE_OK)
        return KH_EIO;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)max);
    kh_err e = khi_buf_puts(&b, "[");
    while (e == KH_OK && sqlite3_step(st) == SQLITE_ROW) {
        if (*out_count)
            e = khi_buf_puts(&b, ",");
        if (e == KH_OK)
            e = khi_buf_puts(&b, (const char *)sqlite3_column_text(st, 1));
        *out_last = sqlite3_column_int64(st, 0);
        (*out_count)++;
    }
    sqlite3_finalize(st);
    if (e == KH_OK)
        e = khi_buf_puts(&b, "]");
    if (e != KH_OK) {
        khi_buf_cleanup(&b);
        return e;
    }
    *out = b.data;
    return KH_OK;
}

kh_err kh_queue_ack(kh_queue *q, int64_t last)
{
    sqlite3_stmt *st = NULL;
    kh_err e = KH_OK;
    if (sqlite3_prepare_v2(q->db, "DELETE FROM queue WHERE id <= ?", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_int64(st, 1, last) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
        e = KH_EIO;
    sqlite3_finalize(st);
    return e;
}
