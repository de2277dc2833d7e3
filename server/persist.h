/*
 * persist.h - what persist.c (the journal), recover.c (loading) and
 * snapshot.c (snapshots) share. Never installed; the rest of the server
 * sees the functions of internal.h only.
 *
 * The data directory holds generations: snapshot-G.ags is the state when
 * journal-G.agj began, and every journal after it holds the records made
 * since. Both are a 16-byte header (magic, format version) and records:
 * a 4-byte big-endian length, a 4-byte big-endian CRC-32 of the payload,
 * and the payload, one MessagePack-RPC request (docs/protocol.md 10).
 */
#ifndef AG_SERVER_PERSIST_H
#define AG_SERVER_PERSIST_H

#include <pthread.h>

#include "internal.h"

#define AG_PERSIST_VERSION 1
#define AG_FILE_HEADER 16
#define AG_REC_HEADER 8
/* A record larger than this is damage, not data (a frame is at most
 * --max-message, 64 MiB by default, and a record a little more). */
#define AG_REC_MAX ((uint32_t)1 << 30)
#define AG_MAGIC_JOURNAL "AGORA-J\n"
#define AG_MAGIC_SNAPSHOT "AGORA-S\n"

/* A record being packed into @buf: begun at @start (its header is filled
 * in by ag_rec_end). */
typedef struct ag_recbuf {
	ag_buf buf;
	size_t start;
	msgpack_packer pk;
	uint32_t seq;
	bool open; /* a record is begun and not ended */
} ag_recbuf;

void ag_recbuf_init(ag_recbuf *rb);
void ag_recbuf_deinit(ag_recbuf *rb);
/* Begin a record [0, seq, @method, [params...]] with @nparams params, the
 * first of which the caller packs (an id, or what the method takes). */
msgpack_packer *ag_rec_begin(ag_recbuf *rb, const char *method, size_t mlen,
			     uint32_t nparams);
/* Fill in the header of the record begun last. */
void ag_rec_end(ag_recbuf *rb);
/* Pack the 16-byte header of a file of @magic. */
void ag_file_header(uint8_t out[AG_FILE_HEADER], const char *magic);

struct ag_save {
	ag_recbuf rb;
	int fd;
	uint64_t bytes; /* written so far */
	int err;        /* errno of the first failure */
	ag_server *srv;
};

/* A save in progress or done, answered when the child is through. */
typedef struct ag_save_wait {
	uint64_t conn_id;
	uint32_t msgid;
	uint64_t gen; /* answered once snapshot gen or newer is written */
	struct ag_save_wait *next;
} ag_save_wait;

struct ag_persist {
	ag_server *srv;
	char *dir;
	int dirfd;
	int lockfd;
	int policy;
	bool loading;
	bool repair;
	/* The loading connection (recover.c): every record at start is its
	 * request. It lives on until the new journal is open, so that what
	 * its end gives back (a queue's pending items go back to the queue)
	 * is recorded there, as it happened. */
	ag_conn *lconn;
	/* The journal being written: journal-<gen>. */
	int fd;
	uint64_t gen;
	uint64_t written; /* bytes in the file: where the next write goes */
	uint64_t synced;  /* of those, known to be on disk */
	uint64_t alloc;   /* bytes fallocate() reserved; 0: it cannot */
	bool can_alloc;   /* the file system supports fallocate() */
	uint8_t *map;     /* [0, alloc) of the file, shared; or NULL */
	size_t maplen;
	ag_recbuf rb;     /* records made and not written yet */
	uint64_t records; /* records made since the start */
	uint64_t fsyncs;  /* fdatasync()s of the journal by the loop */
	/* Trouble: errno and sentence of the last failure; 0 once over. */
	int err;
	char errmsg[256];
	int64_t err_ms;          /* when the last attempt failed */
	char last_sync_err[256]; /* last fsync failure, for stats */
	/* Connections whose answers wait for the disk. */
	struct ag_connq waiting;
	struct event *commit_ev; /* a timer of no delay, or a retry */
	bool commit_armed;
	struct event *sec_ev; /* everysec: once a second */
	/* The fsync thread (everysec): syncs @thr_fd (a dup) and closes it. */
	pthread_t thr;
	bool thr_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int thr_fd;        /* -1: nothing to do */
	uint64_t thr_upto; /* synced would become this */
	bool thr_busy;
	bool thr_stop;
	int thr_err;       /* errno of the last sync; 0 */
	uint64_t thr_done; /* synced up to, by the thread */
	uint64_t thr_done_gen;
	uint64_t thr_fsyncs; /* and by the thread */
	/* Objects touched (ag_persist_touch), recorded at the next write. */
	ag_object *touched;
	/* Bytes of the journals since the last snapshot, this one included. */
	uint64_t journal_bytes;
	/* Snapshots (snapshot.c). */
	uint64_t snap_gen; /* newest snapshot on disk; 0: none */
	uint64_t snap_bytes;
	double snap_time;    /* when it finished (unix time); 0: never */
	double snap_seconds; /* how long it took */
	pid_t child;         /* the snapshot being written, or 0 */
	int child_fd;        /* its status pipe */
	struct event *child_ev;
	uint64_t child_gen;
	int64_t child_start_ms;
	ag_save_wait *save_waits;
	char snap_err[256]; /* why the last snapshot failed; "" */
	uint64_t first_gen; /* oldest generation whose files remain */
	bool repaired;      /* loaded with --data-repair past damage */
};

/* persist.c */
void ag_persist_errf(ag_persist *p, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Start journal generation @gen (a new file); 0 or an errno. */
int ag_journal_open(ag_persist *p, uint64_t gen);
/* Write what the record buffer holds; 0 or an errno (kept for later). */
int ag_journal_write(ag_persist *p);
/* everysec: have the thread force what is written (when it is idle). */
void ag_persist_sync_later(ag_persist *p);
/* Write and fdatasync everything now; 0 or an errno. */
int ag_journal_sync(ag_persist *p);
/* Pack "@new" for @o into @rb (the record whole), followed by the
 * records of its name's lifetime ("@ephemeral", "@expire"); returns how
 * many records it packed. */
uint32_t ag_pack_new(ag_recbuf *rb, ag_object *o);
/* Record the state of the objects touched since the last time. */
void ag_persist_flush_touched(ag_persist *p);
/* File names: "journal-<gen>.agj" or "snapshot-<gen>.ags" (@out of
 * at least 40 bytes). */
void ag_journal_name(char *out, size_t len, uint64_t gen);
void ag_snapshot_name(char *out, size_t len, uint64_t gen);

typedef struct gens {
	uint64_t *v;
	size_t n, cap;
} gens;

/* journal.c, for the files around it. */
void ag_persist_arm_commit(ag_persist *p, int ms);
bool ag_persist_retry(ag_persist *p);
void ag_persist_release_waiting(ag_persist *p);
void ag_persist_clear_err(ag_persist *p);
void ag_journal_unmap(ag_persist *p);
int ag_journal_reserve(ag_persist *p, uint64_t want);
int ag_save_flush(ag_save *sv);
/* The generations of the snapshots and journals in the directory, sorted;
 * 0 or a negative code with the reason in @err (may be NULL). */
int ag_persist_list(ag_persist *p, gens *snaps, gens *journals, char *err,
		    size_t errlen);

/* recover.c: load the directory (the server's objects are empty). 0, or
 * a negative code with the file, offset and reason in @err. Leaves
 * p->gen the last generation read (0: none) and p->snap_gen. */
int ag_recover(ag_persist *p, char *err, size_t errlen);

/* snapshot.c */
/* Start writing a snapshot (journal generation gen+1 begins now). 0, or
 * an errno with p->snap_err saying why. */
int ag_snapshot_start(ag_persist *p);
/* Write a snapshot of @s into @fd in this process (the child, or a test). */
int ag_snapshot_write(ag_server *s, int fd, uint64_t *bytes);
/* Write a snapshot of generation p->gen now, in this process (after a
 * repair). 0 or an errno. */
int ag_snapshot_now(ag_persist *p);
/* The server is stopping: end the snapshot being written, if any (its
 * saves are answered SHUTDOWN). */
void ag_snapshot_stop(ag_persist *p);
/* Remove the files older than generation @gen. */
void ag_persist_prune(ag_persist *p, uint64_t gen);

#endif
