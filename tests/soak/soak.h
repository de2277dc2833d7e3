/*
 * soak.h - what the soak and the storm share: a real agorad started and
 * stopped, counters in memory shared by every process of a run, and the
 * workers' random operations on shared named objects.
 *
 * These programs are not Check tests: they run for a set time, print their
 * figures (one line of text, one line of JSON) and exit non-zero when any
 * check failed. Workers are forked processes with their own client; they
 * count what they do, and every broken invariant, in the shared counters,
 * so that a worker killed the next instant has already told.
 */
#ifndef AGORA_SOAK_H
#define AGORA_SOAK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agora.h"

#define SK_WORKERS 8
#define SK_PERMITS 3 /* the owned semaphore "soak-sem" */
#define SK_KEYS 16   /* keys of the dict "soak-counts" */

/* ---- the server -------------------------------------------------------- */

typedef struct sk_server {
	pid_t pid; /* 0 when not running */
	int out_fd;
	char dir[64];
	char sock[128];
	char keyfile[128];
	char address[160];
} sk_server;

/* Start $AGORAD (or @agorad) on a Unix socket in a fresh directory with a
 * fresh key, wait for its "listening" line and set AGORA_ADDRESS and
 * AGORA_AUTHKEY_FILE. Returns 0, or -1 after printing why. */
int sk_server_start(sk_server *s, const char *agorad);
/* SIGTERM, wait up to 20 s; 0 when it exited 0, else -1 (printed). */
int sk_server_stop(sk_server *s);
/* The resident set of @pid in KiB (VmRSS), or -1. */
long sk_rss_kib(pid_t pid);

/* ---- shared counters ----------------------------------------------------
 */

enum sk_op {
	SK_PUT,
	SK_GET,
	SK_GET_EMPTY, /* a get that timed out: also an operation */
	SK_LOCK,
	SK_RLOCK,
	SK_SEM,
	SK_INCR,
	SK_APPEND,
	SK_APUT,       /* a put to the queue taken with acknowledgement */
	SK_TAKE,       /* a take, its result recorded, acknowledged */
	SK_TAKE_EMPTY, /* a take that timed out */
	SK_OPS
};

typedef struct sk_shared {
	_Atomic uint64_t ops[SK_OPS];
	_Atomic uint64_t violations;  /* broken invariants: must stay 0 */
	_Atomic uint64_t errors;      /* calls that failed unexpectedly */
	_Atomic uint64_t duplicates;  /* queue items delivered twice */
	_Atomic uint64_t double_acks; /* items acknowledged twice */
	/* Sections found held by a worker that had been killed inside: the
	 * server released its lock or permit, its mark stayed. */
	_Atomic uint64_t lock_takeovers, rlock_takeovers, sem_takeovers;
	_Atomic uint64_t acquire_timeouts; /* not an error; reported */
	_Atomic uint64_t storm_failures;   /* storm connections that failed */
	_Atomic int stop;                  /* the storm: workers stop */
	_Atomic int have_first;
	char first[256]; /* the first violation or error, for the report */
	double deadline; /* sk_now() at which soak workers stop */
} sk_shared;

/* A zeroed sk_shared in memory that forked children share. */
sk_shared *sk_shared_new(void);
/* Count a violation or an error, keeping the first sentence. */
void sk_violation(sk_shared *sh, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sk_error(sk_shared *sh, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
uint64_t sk_total_ops(const sk_shared *sh);

/* ---- workers ------------------------------------------------------------
 */

/* Fork a worker for @slot (its @gen-th life): it connects from the
 * environment and runs random operations until sh->deadline passes or
 * sh->stop is set, then exits 0 (non-zero after an unexpected failure). */
pid_t sk_worker_spawn(sk_shared *sh, int slot, unsigned gen);

/* Open every object the workers use, creating them as a worker expects. */
int sk_objects_create(agora_client *c);
/* Close handles and drop every name the workers use. */
void sk_objects_drop(agora_client *c);

/* The names, for the final checks. */
#define SK_QUEUE "soak-q"
#define SK_SEEN "soak-seen"
#define SK_LOCK_NAME "soak-lock"
#define SK_RLOCK_NAME "soak-rlock"
#define SK_SEM_NAME "soak-sem"
/* The queue taken with acknowledgement, the ids whose work was done
 * (written before the ack), and how many times each was acknowledged. */
#define SK_AQUEUE "soak-aq"
#define SK_ADONE "soak-adone"
#define SK_AACKED "soak-aacked"

/* ---- small things ------------------------------------------------------- */

double sk_now(void);
void sk_sleep(double seconds);
/* True once @pid no longer runs (gone, zombie or dead), asking every
 * millisecond for up to @wait seconds. */
bool sk_pid_gone(pid_t pid, double wait);
/* An integer field of `stats`, or -1 after counting an error. */
int64_t sk_stats_int(agora_client *c, const char *field);
/* The value under @key in the map @map, or NULL. */
const agora_value *sk_map_find(agora_value map, const char *key);

#endif
