/*
 * snapshot.c - snapshots of a server with a data directory.
 *
 * A snapshot is written by a child process, as fork() left the server's
 * memory, while the server goes on serving: the loop never stops for one,
 * whatever its size (the only pause is fork() itself, which copies the
 * page tables). Before forking, the journal being written is closed and a
 * new generation begins, so snapshot-G holds exactly the state journal-G
 * starts from. The child writes snapshot-G.tmp, forces it to disk,
 * renames it and forces the directory, removes the files of older
 * generations, and tells the server through a pipe how it went.
 *
 * Its records: "@server" (the id and fence counters), "@new" for every
 * object in the id index (see new_pass()), then each object's contents as
 * its family's calls
 * (family->save) and its "@state" (family->pack_state). Objects only
 * connections held are saved too; when loaded, nothing holds them and
 * they go, as they would have gone when their connections closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "persist.h"

#define FLUSH_AT ((size_t)1 << 20)

static double unix_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- writing ------------------------------------------------------------- */

/*
 * The pass of the @new records an object's goes in: a condition's options
 * name its lock, which may be newer than it (its own rlock), and a value's
 * `initial` may reference any object older than it; nothing else's
 * options name an object. Contents come after every @new.
 */
static int new_pass(const ag_object *o)
{
	return strcmp(o->fam->name, "condition") == 0 ? 1
	       : strcmp(o->fam->name, "value") == 0   ? 2
						      : 0;
}

int ag_snapshot_write(ag_server *s, int fd, uint64_t *bytes)
{
	ag_save sv = { .fd = fd, .srv = s };
	uint8_t head[AG_FILE_HEADER];
	msgpack_packer *pk;
	int rc = 0;

	ag_recbuf_init(&sv.rb);
	ag_file_header(head, AG_MAGIC_SNAPSHOT);
	ag_buf_append(&sv.rb.buf, head, sizeof(head));
	pk = ag_rec_begin(&sv.rb, "@server", 7, 2);
	msgpack_pack_uint64(pk, s->next_obj_id);
	msgpack_pack_uint64(pk, s->last_fence);
	ag_rec_end(&sv.rb);
	for (int pass = 0; pass < 3; pass++)
		ag_table_foreach (&s->ids, e) {
			ag_object *o = e->ptr;
			if (new_pass(o) != pass)
				continue;
			ag_pack_new(&sv.rb, o);
			if (sv.rb.buf.len >= FLUSH_AT && ag_save_flush(&sv))
				goto out;
		}
	ag_table_foreach (&s->ids, e) {
		ag_object *o = e->ptr;
		if (o->fam->save != NULL && o->fam->save(o, &sv) < 0)
			break;
		if (sv.err)
			break;
		if (o->fam->pack_state != NULL) {
			pk = ag_rec_begin(&sv.rb, "@state", 6, 2);
			msgpack_pack_uint64(pk, o->id);
			o->fam->pack_state(o, pk);
			ag_rec_end(&sv.rb);
		}
		if (sv.rb.buf.len >= FLUSH_AT && ag_save_flush(&sv))
			break;
	}
out:
	if (!sv.err)
		ag_save_flush(&sv);
	rc = sv.err;
	*bytes = sv.bytes;
	ag_recbuf_deinit(&sv.rb);
	return rc;
}

/* Write snapshot-<gen> from this process: into a .tmp, forced to disk,
 * renamed, the directory forced. 0 or an errno. */
static int write_file(ag_persist *p, uint64_t gen, uint64_t *bytes)
{
	char name[64], tmp[80];
	int fd, rc;

	ag_snapshot_name(name, sizeof(name), gen);
	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	fd = openat(p->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600);
	if (fd < 0)
		return errno;
	rc = ag_snapshot_write(p->srv, fd, bytes);
	if (rc == 0 && fsync(fd) < 0)
		rc = errno;
	close(fd);
	if (rc == 0 && renameat(p->dirfd, tmp, p->dirfd, name) < 0)
		rc = errno;
	if (rc == 0 && fsync(p->dirfd) < 0)
		rc = errno;
	if (rc != 0)
		unlinkat(p->dirfd, tmp, 0);
	return rc;
}

/* ---- the child ----------------------------------------------------------- */

struct child_report {
	uint64_t bytes;
	int32_t err;
};

/* Answer the saves waiting for generation @gen or older. */
static void answer_saves(ag_persist *p, uint64_t gen, int err)
{
	ag_server *s = p->srv;
	ag_save_wait **wp = &p->save_waits;

	while (*wp != NULL) {
		ag_save_wait *w = *wp;
		ag_conn *c;
		if (w->gen > gen && err == 0) {
			wp = &w->next;
			continue;
		}
		*wp = w->next;
		TAILQ_FOREACH (c, &s->conns, link)
			if (c->id == w->conn_id)
				break;
		if (c != NULL && !c->closing) {
			ag_target t = { c, w->msgid };
			if (err == ECANCELED) {
				ag_reply_error(
				    &t, AGORA_ESHUTDOWN,
				    "save: the server is stopping; "
				    "its journal holds every change");
			} else if (err != 0) {
				ag_reply_error(&t, AGORA_ESTORAGE,
					       "save: the snapshot failed: %s",
					       p->snap_err);
			} else {
				msgpack_packer *pk = ag_reply_begin(&t);
				msgpack_pack_map(pk, 3);
				ag_pack_str(pk, "generation");
				msgpack_pack_uint64(pk, p->snap_gen);
				ag_pack_str(pk, "bytes");
				msgpack_pack_uint64(pk, p->snap_bytes);
				ag_pack_str(pk, "seconds");
				msgpack_pack_double(pk, p->snap_seconds);
			}
		}
		free(w);
	}
}

/* The child is through (or gone): what it said, and its exit. */
static void child_done(ag_persist *p)
{
	struct child_report rep = { 0, EIO };
	ssize_t n;
	int status;

	do
		n = read(p->child_fd, &rep, sizeof(rep));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(rep)) {
		rep.err = EIO;
		rep.bytes = 0;
	}
	/* Its report through the pipe says how it went (the exit status
	 * may be a checker's when the server runs under one). */
	while (waitpid(p->child, &status, 0) < 0 && errno == EINTR)
		;
	if (p->child_ev != NULL) {
		event_free(p->child_ev);
		p->child_ev = NULL;
	}
	close(p->child_fd);
	p->child_fd = -1;
	p->child = 0;
	double secs = (double)(ag_mono_ms() - p->child_start_ms) / 1000.0;
	if (rep.err == 0) {
		p->snap_gen = p->child_gen;
		p->snap_bytes = rep.bytes;
		p->snap_time = unix_now();
		p->snap_seconds = secs;
		p->snap_err[0] = '\0';
		p->first_gen = p->child_gen; /* the child removed the rest */
		ag_server_logf(p->srv, AGORA_LOG_INFO,
			       "data directory %s: snapshot %llu written "
			       "(%llu bytes, %.2f s)",
			       p->dir, (unsigned long long)p->snap_gen,
			       (unsigned long long)rep.bytes, secs);
		answer_saves(p, p->snap_gen, 0);
		if (p->save_waits != NULL)
			ag_snapshot_start(p); /* saves asked for since */
	} else {
		snprintf(p->snap_err, sizeof(p->snap_err), "snapshot %llu: %s",
			 (unsigned long long)p->child_gen, strerror(rep.err));
		ag_server_logf(p->srv, AGORA_LOG_ERROR,
			       "data directory %s: %s; the journals are kept "
			       "and the next save tries again",
			       p->dir, p->snap_err);
		answer_saves(p, UINT64_MAX, rep.err);
	}
}

static void on_child(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	child_done(arg);
}

void ag_snapshot_stop(ag_persist *p)
{
	char tmp[80];
	int status;

	if (p->child <= 0)
		return;
	/* The journal holds every change: the snapshot is not needed to
	 * stop, and a large one would hold the stop up. */
	kill(p->child, SIGKILL);
	while (waitpid(p->child, &status, 0) < 0 && errno == EINTR)
		;
	if (p->child_ev != NULL) {
		event_free(p->child_ev);
		p->child_ev = NULL;
	}
	close(p->child_fd);
	p->child_fd = -1;
	p->child = 0;
	ag_snapshot_name(tmp, sizeof(tmp) - 8, p->child_gen);
	strcat(tmp, ".tmp");
	unlinkat(p->dirfd, tmp, 0);
	ag_server_logf(p->srv, AGORA_LOG_INFO,
		       "data directory %s: snapshot %llu left unfinished: "
		       "the server is stopping",
		       p->dir, (unsigned long long)p->child_gen);
	answer_saves(p, UINT64_MAX, ECANCELED);
}

int ag_snapshot_start(ag_persist *p)
{
	ag_server *s = p->srv;
	int fds[2], rc;
	uint64_t gen;
	pid_t pid;

	if (p->child > 0)
		return 0; /* one at a time: the saves wait for the next */
	/* The journal so far is written, and a new generation begins. It
	 * is forced to disk here only with always (where that costs
	 * nothing: it is): else the child's snapshot, forced to disk, holds
	 * all it says, and the everysec thread forces it meanwhile. */
	ag_persist_flush_touched(p);
	rc = p->policy == AGORA_FSYNC_ALWAYS ? ag_journal_sync(p)
					     : ag_journal_write(p);
	if (rc == 0 && p->policy == AGORA_FSYNC_EVERYSEC)
		ag_persist_sync_later(p);
	/* Its reserved room is left as it is (zeros, which loading takes
	 * for its end): cutting it would wait on the disk, and the file
	 * goes once the snapshot is written. */
	gen = p->gen + 1;
	if (rc == 0)
		rc = ag_journal_open(p, gen);
	if (rc != 0) {
		snprintf(p->snap_err, sizeof(p->snap_err),
			 "snapshot %llu: starting journal %llu: %s",
			 (unsigned long long)gen, (unsigned long long)gen,
			 strerror(rc));
		answer_saves(p, UINT64_MAX, rc);
		return rc;
	}
	p->journal_bytes = 0;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		rc = errno;
		goto fail;
	}
	pid_t server = getpid();
	pid = fork();
	if (pid < 0) {
		rc = errno;
		close(fds[0]);
		close(fds[1]);
		goto fail;
	}
	if (pid == 0) {
		struct child_report rep;
		memset(&rep, 0, sizeof(rep)); /* its padding too */
		/* It dies with the server: a snapshot of a server that is
		 * gone is not wanted, and a new server may use the directory.
		 */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != server)
			_exit(3);
		/* Only the directory and the pipe: a connection the server
		 * closes meanwhile must not stay open here. */
		int keep_a = p->dirfd < fds[1] ? p->dirfd : fds[1];
		int keep_b = p->dirfd < fds[1] ? fds[1] : p->dirfd;
		if (keep_a > 3)
			close_range(3, (unsigned)keep_a - 1, 0);
		if (keep_b > keep_a + 1)
			close_range((unsigned)keep_a + 1, (unsigned)keep_b - 1,
				    0);
		close_range((unsigned)keep_b + 1, ~0U, 0);
		rep.err = write_file(p, gen, &rep.bytes);
		/* The older files go here too, off the server's loop (an
		 * unlink of a large file waits on the disk). */
		if (rep.err == 0)
			ag_persist_prune(p, gen);
		if (write(fds[1], &rep, sizeof(rep)) < 0)
			_exit(2);
		_exit(rep.err ? 1 : 0);
	}
	close(fds[1]);
	p->child = pid;
	p->child_fd = fds[0];
	p->child_gen = gen;
	p->child_start_ms = ag_mono_ms();
	p->child_ev = event_new(s->base, fds[0], EV_READ, on_child, p);
	if (p->child_ev == NULL || event_add(p->child_ev, NULL) < 0) {
		/* nothing will tell us: wait for it now */
		child_done(p);
		return 0;
	}
	ag_server_logf(s, AGORA_LOG_DEBUG,
		       "data directory %s: writing snapshot %llu (pid %ld)",
		       p->dir, (unsigned long long)gen, (long)pid);
	return 0;
fail:
	snprintf(p->snap_err, sizeof(p->snap_err), "snapshot %llu: fork: %s",
		 (unsigned long long)gen, strerror(rc));
	answer_saves(p, UINT64_MAX, rc);
	return rc;
}

int ag_snapshot_now(ag_persist *p)
{
	uint64_t bytes = 0;
	int64_t t0 = ag_mono_ms();
	int rc = write_file(p, p->gen, &bytes);

	if (rc != 0)
		return rc;
	p->snap_gen = p->gen;
	p->snap_bytes = bytes;
	p->snap_time = unix_now();
	p->snap_seconds = (double)(ag_mono_ms() - t0) / 1000.0;
	ag_persist_prune(p, p->gen);
	return 0;
}

/* ---- the server method save ---------------------------------------------- */

int ag_persist_save(ag_req *r)
{
	ag_persist *p = r->srv->persist;
	ag_save_wait *w;

	if (p == NULL)
		return ag_reply_error(&r->to, AGORA_EVALUE,
				      "save: this server keeps nothing (it "
				      "was started without a data directory, "
				      "agorad --data-dir)");
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "save: out of memory");
	w->conn_id = r->to.conn->id;
	w->msgid = r->to.msgid;
	/* A snapshot being written began before this request: wait for
	 * the next one. */
	w->gen = p->child > 0 ? p->child_gen + 1 : p->gen + 1;
	w->next = p->save_waits;
	p->save_waits = w;
	if (p->child == 0)
		ag_snapshot_start(p);
	return 0;
}
