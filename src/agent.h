/* agent.h - what the parts of "khien agent" share: scanning and reporting files, real-time
 * protection (agent_scan.c, agent_realtime.c; the protocol loop is cmd_agent.c). */
#ifndef KHIEN_AGENT_H
#define KHIEN_AGENT_H

#include <jansson.h>
#include <stdint.h>
#include <khien/khien.h>
#include <khien/console.h>

/* One scan's settings and tallies. */
typedef struct agent_scan {
    kh_queue *q;          /* detections go here (borrowed) */
    json_t *exclude;      /* absolute paths not scanned, nor anything under them (may be NULL) */
    const char *qdir;     /* the quarantine directory */
    int quarantine;       /* move detected files into it (policy action "quarantine") */
    unsigned found;       /* detection events queued */
    int64_t files, bytes; /* files scanned and their size */
    json_t *hits;         /* the current file's detections (internal) */
} agent_scan;

/* Scan the file at path and queue one event per detection; with quarantine, the file is moved
 * first and the events say "quarantined" and carry the entry id (or "quarantine-failed"). */
void agent_scan_file(kh_scanner *sc, agent_scan *a, const char *path);
/* Scan a file or a directory tree (not following symbolic links, 64 levels at most). */
void agent_scan_tree(kh_scanner *sc, agent_scan *a, const char *path);

/* Real-time protection: a thread that scans each file written under paths as it is closed
 * (lib/watch: fanotify where permitted, else inotify), with the engine of slot, and queues its
 * detections in its own connection to the queue at queue_path. */
typedef struct agent_rt agent_rt;
/* NULL with a reason in err when the paths cannot be watched. */
agent_rt *agent_rt_start(kh_engine_slot *slot, const char *queue_path, size_t queue_max, const char *qdir,
                         int quarantine, json_t *paths, char *err, size_t err_len);
/* "fanotify" or "inotify". */
const char *agent_rt_method(const agent_rt *rt);
/* Files scanned and detections queued so far. */
void agent_rt_counts(agent_rt *rt, uint64_t *files, uint64_t *found);
/* Does it watch exactly these paths with this action? */
int agent_rt_same(const agent_rt *rt, json_t *paths, int quarantine);
/* Let the next event of path through unscanned (within a minute): a file restored from the
 * quarantine on the console's command. */
void agent_rt_ignore_once(agent_rt *rt, const char *path);
/* Stop the thread and free everything (NULL accepted). */
void agent_rt_stop(agent_rt *rt);

#endif
