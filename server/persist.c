/*
 * persist.c - a server's data directory: opening it (checked, locked,
 * loaded by recover.c), the timers and the thread that write and force
 * the journal (journal.c) to disk, the snapshots they start by themselves
 * (snapshot.c), and closing it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "persist.h"

/* A snapshot starts by itself once the journals since the last one pass
 * both this and the last snapshot's size. */
#define REWRITE_MIN ((uint64_t)64 << 20)
#define RETRY_MS 100

static void maybe_rewrite(ag_persist *p)
{
	uint64_t limit =
	    p->snap_bytes > REWRITE_MIN ? p->snap_bytes : REWRITE_MIN;

	if (p->child == 0 && p->err == 0 && p->journal_bytes > limit &&
	    p->snap_err[0] == '\0')
		ag_snapshot_start(p);
}

/* The timer of no delay (always), or the retry after a failure. */
static void on_commit(evutil_socket_t fd, short what, void *arg)
{
	ag_persist *p = arg;
	int rc;

	(void)fd;
	(void)what;
	p->commit_armed = false;
	ag_persist_flush_touched(p);
	if (p->err != 0) {
		if (!ag_persist_retry(p)) {
			ag_persist_arm_commit(p, RETRY_MS);
			return;
		}
		if (p->rb.buf.len == 0 && p->synced == p->written)
			ag_persist_clear_err(p);
	} else {
		rc = p->policy == AGORA_FSYNC_ALWAYS ? ag_journal_sync(p)
						     : ag_journal_write(p);
		if (rc != 0) {
			ag_persist_errf(p, rc, "journal-%016llx.agj",
					(unsigned long long)p->gen);
			if (p->policy == AGORA_FSYNC_ALWAYS)
				snprintf(p->last_sync_err,
					 sizeof(p->last_sync_err), "%s",
					 p->errmsg);
			ag_persist_arm_commit(p, RETRY_MS);
			return;
		}
	}
	ag_persist_release_waiting(p);
	maybe_rewrite(p);
}

/* ---- everysec: a thread forces the journal to disk ----------------------- */

static void *sync_thread(void *arg)
{
	ag_persist *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->thr_fd < 0 && !p->thr_stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->thr_fd < 0)
			break;
		int fd = p->thr_fd;
		uint64_t upto = p->thr_upto;
		p->thr_busy = true;
		pthread_mutex_unlock(&p->mu);
		int err = fdatasync(fd) < 0 ? errno : 0;
		close(fd);
		pthread_mutex_lock(&p->mu);
		p->thr_fsyncs++;
		p->thr_fd = -1;
		p->thr_busy = false;
		p->thr_err = err;
		if (err == 0)
			p->thr_done = upto;
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void on_second(evutil_socket_t fd, short what, void *arg)
{
	ag_persist *p = arg;

	(void)fd;
	(void)what;
	ag_persist_flush_touched(p);
	if (p->rb.buf.len > 0 && p->err == 0) {
		int rc = ag_journal_write(p);
		if (rc != 0)
			ag_persist_errf(p, rc, "writing journal-%016llx.agj",
					(unsigned long long)p->gen);
	}
	pthread_mutex_lock(&p->mu);
	if (p->thr_err != 0) {
		snprintf(p->last_sync_err, sizeof(p->last_sync_err),
			 "fsync of journal-%016llx.agj: %s",
			 (unsigned long long)p->gen, strerror(p->thr_err));
		int e = p->thr_err;
		p->thr_err = 0;
		pthread_mutex_unlock(&p->mu);
		ag_persist_errf(p, e, "forcing journal-%016llx.agj to disk",
				(unsigned long long)p->gen);
		pthread_mutex_lock(&p->mu);
	} else if (p->thr_done_gen == p->gen && p->thr_done > p->synced) {
		p->synced = p->thr_done;
	}
	pthread_mutex_unlock(&p->mu);
	ag_persist_sync_later(p);
	maybe_rewrite(p);
}

/* ---- the data directory -------------------------------------------------- */

/* Make @dir (0700) if missing; refuse one that others may use or that is
 * not a directory. */
static int check_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return ag_errf(err, errlen, AGORA_EIO,
			       "data directory %s: cannot create it: %s", dir,
			       strerror(errno));
	if (stat(dir, &st) < 0)
		return ag_errf(err, errlen, AGORA_EIO, "data directory %s: %s",
			       dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return ag_errf(err, errlen, AGORA_EINVAL,
			       "data directory %s: not a directory", dir);
	if (st.st_mode & 077)
		return ag_errf(err, errlen, AGORA_EINVAL,
			       "data directory %s: mode %04o lets others in; "
			       "want 0700 (chmod 700 %s)",
			       dir, (unsigned)(st.st_mode & 07777), dir);
	if (st.st_uid != geteuid())
		return ag_errf(err, errlen, AGORA_EINVAL,
			       "data directory %s: owned by uid %u, not by "
			       "this server's uid %u",
			       dir, (unsigned)st.st_uid, (unsigned)geteuid());
	return 0;
}

/* Lock the directory: agorad.lock, holding our pid, with a POSIX record
 * lock, which belongs to this process only: a snapshot's child does not
 * inherit it, so it goes the moment the server dies. */
static int lock_dir(ag_persist *p, char *err, size_t errlen)
{
	char pid[32];
	int fd, n;

	fd =
	    openat(p->dirfd, "agorad.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return ag_errf(err, errlen, AGORA_EIO,
			       "data directory %s: agorad.lock: %s", p->dir,
			       strerror(errno));
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	if (fcntl(fd, F_SETLK, &fl) < 0) {
		char other[32] = "";
		n = (int)pread(fd, other, sizeof(other) - 1, 0);
		other[n > 0 ? n : 0] = '\0';
		other[strcspn(other, "\n")] = '\0';
		close(fd);
		return ag_errf(err, errlen, AGORA_EINVAL,
			       "data directory %s is in use by agorad pid %s",
			       p->dir, other[0] ? other : "(unknown)");
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		/* the lock holds without the pid */
	}
	p->lockfd = fd;
	return 0;
}

static void persist_free(ag_persist *p)
{
	if (p == NULL)
		return;
	if (p->lconn != NULL)
		ag_conn_free(p->lconn);
	ag_snapshot_stop(p);
	if (p->thr_started) {
		pthread_mutex_lock(&p->mu);
		p->thr_stop = true;
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->thr, NULL);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	if (p->commit_ev)
		event_free(p->commit_ev);
	if (p->sec_ev)
		event_free(p->sec_ev);
	if (p->child_ev)
		event_free(p->child_ev);
	if (p->child_fd >= 0)
		close(p->child_fd);
	ag_journal_unmap(p);
	if (p->fd >= 0)
		close(p->fd);
	if (p->lockfd >= 0)
		close(p->lockfd); /* and the lock with it */
	if (p->dirfd >= 0)
		close(p->dirfd);
	ag_recbuf_deinit(&p->rb);
	while (p->save_waits != NULL) {
		ag_save_wait *w = p->save_waits;
		p->save_waits = w->next;
		free(w);
	}
	free(p->dir);
	free(p);
}

int ag_persist_open(ag_server *s, const agora_server_config *cfg, char *err,
		    size_t errlen)
{
	ag_persist *p;
	int rc;

	if (cfg->data_dir == NULL)
		return 0;
	if (cfg->fsync_policy < AGORA_FSYNC_EVERYSEC ||
	    cfg->fsync_policy > AGORA_FSYNC_NO)
		return ag_errf(err, errlen, AGORA_EINVAL,
			       "fsync policy %d: want AGORA_FSYNC_EVERYSEC, "
			       "_ALWAYS or _NO",
			       cfg->fsync_policy);
	if (cfg->data_dir[0] == '\0')
		return ag_errf(err, errlen, AGORA_EINVAL,
			       "data directory: an empty path");
	rc = check_dir(cfg->data_dir, err, errlen);
	if (rc < 0)
		return rc;
	p = calloc(1, sizeof(*p));
	if (p == NULL || (p->dir = strdup(cfg->data_dir)) == NULL) {
		free(p);
		return ag_errf(err, errlen, AGORA_ENOMEM, "out of memory");
	}
	p->srv = s;
	p->fd = p->lockfd = p->child_fd = p->thr_fd = -1;
	p->policy = cfg->fsync_policy;
	p->repair = cfg->data_repair;
	TAILQ_INIT(&p->waiting);
	ag_recbuf_init(&p->rb);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->dirfd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p->dirfd < 0) {
		rc = ag_errf(err, errlen, AGORA_EIO, "data directory %s: %s",
			     p->dir, strerror(errno));
		goto fail;
	}
	rc = lock_dir(p, err, errlen);
	if (rc < 0)
		goto fail;
	s->persist = p;
	s->may_send = ag_persist_may_send;
	p->loading = true;
	rc = ag_recover(p, err, errlen);
	p->loading = false;
	if (rc < 0)
		goto fail;
	rc = ag_journal_open(p, p->gen + 1);
	if (rc != 0) {
		rc = ag_errf(err, errlen, AGORA_EIO,
			     "data directory %s: starting journal %llu: %s",
			     p->dir, (unsigned long long)(p->gen + 1),
			     strerror(rc));
		goto fail;
	}
	/* The loading connection ends now, as a journaled connection: what
	 * its end gives back is recorded in the new journal. */
	if (p->lconn != NULL)
		ag_conn_free(p->lconn);
	p->lconn = NULL;
	if (p->repaired) {
		/* What was loaded becomes the state the next start reads. */
		rc = ag_snapshot_now(p);
		if (rc != 0) {
			rc = ag_errf(err, errlen, AGORA_EIO,
				     "data directory %s: writing the snapshot "
				     "of the repair: %s",
				     p->dir, strerror(rc));
			goto fail;
		}
		ag_server_logf(s, AGORA_LOG_WARNING,
			       "data directory %s: repaired: snapshot %llu "
			       "holds what was loaded",
			       p->dir, (unsigned long long)p->gen);
	}
	/* Each start begins a generation: many starts without a snapshot
	 * would leave many small journals. */
	if (!p->repaired && p->gen - p->snap_gen > 16)
		ag_snapshot_start(p);
	p->commit_ev = evtimer_new(s->base, on_commit, p);
	if (p->policy == AGORA_FSYNC_EVERYSEC) {
		struct timeval sec = { 1, 0 };
		p->sec_ev = event_new(s->base, -1, EV_PERSIST, on_second, p);
		if (p->sec_ev == NULL || event_add(p->sec_ev, &sec) < 0 ||
		    pthread_create(&p->thr, NULL, sync_thread, p) != 0) {
			rc = ag_errf(err, errlen, AGORA_ENOMEM,
				     "data directory %s: cannot start the "
				     "fsync timer and thread",
				     p->dir);
			goto fail;
		}
		p->thr_started = true;
	}
	if (p->commit_ev == NULL) {
		rc = ag_errf(err, errlen, AGORA_ENOMEM, "out of memory");
		goto fail;
	}
	return 0;
fail:
	s->persist = NULL;
	s->may_send = NULL;
	persist_free(p);
	return rc;
}

void ag_persist_close(ag_server *s)
{
	ag_persist *p = s->persist;
	int rc;

	if (p == NULL)
		return;
	ag_persist_flush_touched(p);
	ag_snapshot_stop(p);
	rc = ag_journal_sync(p);
	if (rc != 0)
		ag_server_logf(s, AGORA_LOG_ERROR,
			       "data directory %s: the last records could not "
			       "be written: %s",
			       p->dir, strerror(rc));
	else if (p->can_alloc) {
		/* the room reserved and not used goes */
		ag_journal_unmap(p);
		if (ftruncate(p->fd, (off_t)p->written) == 0)
			fdatasync(p->fd);
	}
	s->persist = NULL;
	s->may_send = NULL;
	persist_free(p);
}
