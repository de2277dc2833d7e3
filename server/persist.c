/*
 * persist.c - the journal of a server with a data directory.
 *
 * Every change a request makes is a record (persist.h) appended to a
 * buffer while the request is served: the dispatcher records a family's
 * call before running it and takes the record back when the call fails or
 * parks (ag_journal_request, ag_journal_retract); families record calls
 * served later and touched state (ag_journal_call, ag_persist_touch);
 * open and drop record objects made and names removed.
 *
 * No answer leaves before the records of the changes it reports: the one
 * place that sends (ag_conn_flush) asks ag_persist_may_send() first. With
 * everysec and no, that writes the buffer with one pwrite() and lets the
 * answer go (the kernel has the record: a crash of the server loses
 * nothing); a thread forces the file to disk once a second. With always,
 * the connection waits on p->waiting, and a timer of no delay, which runs
 * after the loop has served every connection that was readable, writes
 * and fdatasync()s once for all of them (group commit), then lets them go.
 *
 * The disk: the journal file is reserved ahead with fallocate() in
 * RESERVE_CHUNK steps, and a request that changes something is let in only
 * when its record fits what is reserved (ag_persist_admit). A full disk
 * is so found before anything changes: the request is answered STORAGE,
 * naming the cause, reads go on, and a later request tries again
 * (RETRY_MS apart), so writes resume by themselves when room comes back.
 * Where fallocate() is not supported, or a write or fsync fails anyway,
 * the records stay in the buffer, the answers wait, and the write is tried
 * again every RETRY_MS; meanwhile new changes are refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "persist.h"

#define RESERVE_CHUNK ((uint64_t)4 << 20)
/* Room kept besides a request's own record, for what it makes others
 * record (served waiters, touched state, a connection's end). */
#define RESERVE_SLACK ((uint64_t)256 << 10)
#define RETRY_MS 100
/* A snapshot starts by itself once the journals since the last one pass
 * both this and the last snapshot's size. */
#define REWRITE_MIN ((uint64_t)64 << 20)

/* ---- records ------------------------------------------------------------- */

void ag_recbuf_init(ag_recbuf *rb)
{
	memset(rb, 0, sizeof(*rb));
	ag_buf_init(&rb->buf);
	msgpack_packer_init(&rb->pk, &rb->buf, ag_buf_write);
}

void ag_recbuf_deinit(ag_recbuf *rb)
{
	ag_buf_deinit(&rb->buf);
}

msgpack_packer *ag_rec_begin(ag_recbuf *rb, const char *method, size_t mlen,
			     uint32_t nparams)
{
	static const uint8_t zero[AG_REC_HEADER];

	rb->start = rb->buf.len;
	rb->open = true;
	ag_buf_append(&rb->buf, zero, sizeof(zero));
	msgpack_pack_array(&rb->pk, 4);
	msgpack_pack_uint8(&rb->pk, 0);
	msgpack_pack_uint32(&rb->pk, rb->seq++);
	msgpack_pack_str(&rb->pk, mlen);
	msgpack_pack_str_body(&rb->pk, method, mlen);
	msgpack_pack_array(&rb->pk, nparams);
	return &rb->pk;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void ag_rec_end(ag_recbuf *rb)
{
	uint8_t *h;
	size_t len;

	rb->open = false;
	if (rb->buf.oom)
		return;
	h = (uint8_t *)rb->buf.data + rb->start;
	len = rb->buf.len - rb->start - AG_REC_HEADER;
	put_be32(h, (uint32_t)len);
	put_be32(h + 4, (uint32_t)crc32(0L, h + AG_REC_HEADER, (uInt)len));
}

void ag_file_header(uint8_t out[AG_FILE_HEADER], const char *magic)
{
	memcpy(out, magic, 8);
	put_be32(out + 8, AG_PERSIST_VERSION);
	put_be32(out + 12, 0);
}

void ag_journal_name(char *out, size_t len, uint64_t gen)
{
	snprintf(out, len, "journal-%016llx.agj", (unsigned long long)gen);
}

void ag_snapshot_name(char *out, size_t len, uint64_t gen)
{
	snprintf(out, len, "snapshot-%016llx.ags", (unsigned long long)gen);
}

/* ---- state --------------------------------------------------------------- */

bool ag_persist_on(const ag_server *s)
{
	return s->persist != NULL && !s->persist->loading;
}

bool ag_persist_loading(const ag_server *s)
{
	return s->persist != NULL && s->persist->loading;
}

void ag_persist_errf(ag_persist *p, int err, const char *fmt, ...)
{
	va_list ap;
	char what[200];

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (p->err == 0)
		ag_server_logf(p->srv, AGORA_LOG_ERROR,
			       "data directory %s: %s: %s; changes are refused "
			       "(STORAGE) until it works again",
			       p->dir, what, strerror(err));
	p->err = err;
	p->err_ms = ag_mono_ms();
	snprintf(p->errmsg, sizeof(p->errmsg), "%s: %s", what, strerror(err));
}

static void clear_err(ag_persist *p)
{
	if (p->err == 0)
		return;
	ag_server_logf(p->srv, AGORA_LOG_WARNING,
		       "data directory %s: writing again (after: %s)", p->dir,
		       p->errmsg);
	p->err = 0;
	p->errmsg[0] = '\0';
}

/* ---- the journal file ---------------------------------------------------- */

/*
 * Map what is reserved of the journal, shared: a record copied there is in
 * the kernel's page cache at once, as a write() would put it, without the
 * system call (a crash of the server loses nothing; fdatasync() forces
 * the pages like any others). Reserved blocks never fail to be written
 * for want of room. Without a map (fallocate not supported, no address
 * space), records are written with pwrite().
 */
static void unmap(ag_persist *p)
{
	if (p->map != NULL)
		munmap(p->map, p->maplen);
	p->map = NULL;
	p->maplen = 0;
}

static void remap(ag_persist *p)
{
	void *m;

	if (p->map != NULL && p->maplen == p->alloc)
		return;
	if (p->map != NULL)
		m = mremap(p->map, p->maplen, p->alloc, MREMAP_MAYMOVE);
	else
		m = mmap(NULL, p->alloc, PROT_READ | PROT_WRITE, MAP_SHARED,
			 p->fd, 0);
	if (m == MAP_FAILED) {
		unmap(p);
		return;
	}
	p->map = m;
	p->maplen = p->alloc;
}

/* Reserve room up to at least @want bytes of the file. */
static int reserve(ag_persist *p, uint64_t want)
{
	uint64_t to;
	int rc;

	if (!p->can_alloc || want <= p->alloc)
		return 0;
	to = (want + RESERVE_CHUNK - 1) / RESERVE_CHUNK * RESERVE_CHUNK;
	rc = posix_fallocate(p->fd, (off_t)p->alloc, (off_t)(to - p->alloc));
	if (rc == ENOSPC || rc == EFBIG) {
		/* a nearly full disk: what is needed, no more */
		to = (want + 4095) / 4096 * 4096;
		rc = posix_fallocate(p->fd, (off_t)p->alloc,
				     (off_t)(to - p->alloc));
	}
	if (rc == EOPNOTSUPP || rc == EINVAL) {
		p->can_alloc = false; /* written as it comes, then */
		return 0;
	}
	if (rc != 0)
		return rc;
	p->alloc = to;
	remap(p);
	return 0;
}

int ag_journal_open(ag_persist *p, uint64_t gen)
{
	char name[64];
	uint8_t head[AG_FILE_HEADER];
	int fd, rc;

	ag_journal_name(name, sizeof(name), gen);
	fd = openat(p->dirfd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600);
	if (fd < 0)
		return errno;
	ag_file_header(head, AG_MAGIC_JOURNAL);
	if (pwrite(fd, head, sizeof(head), 0) != (ssize_t)sizeof(head)) {
		rc = errno ? errno : ENOSPC;
		close(fd);
		unlinkat(p->dirfd, name, 0);
		return rc;
	}
	unmap(p);
	if (p->fd >= 0)
		close(p->fd);
	p->fd = fd;
	p->gen = gen;
	p->written = p->synced = AG_FILE_HEADER;
	p->alloc = 0;
	p->can_alloc = true;
	/* No room reserved yet is no reason not to start: changes are
	 * refused (STORAGE) until there is. */
	rc = reserve(p, AG_FILE_HEADER + RESERVE_SLACK);
	if (rc != 0)
		ag_persist_errf(p, rc, "reserving room in %s", name);
	rc = fdatasync(fd) < 0 ? errno : 0;
	if (rc == 0 && fsync(p->dirfd) < 0)
		rc = errno;
	return rc;
}

int ag_journal_write(ag_persist *p)
{
	ag_buf *b = &p->rb.buf;
	size_t done = 0;

	if (b->oom) {
		/* A record could not be made: nothing is lost yet (the
		 * changes are in memory), but the journal cannot say them. */
		return ENOMEM;
	}
	if (p->map != NULL && b->len > 0 &&
	    (p->written + b->len <= p->maplen ||
	     (reserve(p, p->written + b->len) == 0 && p->map != NULL &&
	      p->written + b->len <= p->maplen))) {
		memcpy(p->map + p->written, b->data, b->len);
		p->written += b->len;
		p->journal_bytes += b->len;
		done = b->len;
	}
	while (done < b->len) {
		ssize_t w = pwrite(p->fd, b->data + done, b->len - done,
				   (off_t)p->written);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = w < 0 ? errno : ENOSPC;
			if (done > 0) {
				memmove(b->data, b->data + done, b->len - done);
				b->len -= done;
			}
			return e;
		}
		done += (size_t)w;
		p->written += (uint64_t)w;
		p->journal_bytes += (uint64_t)w;
	}
	b->len = 0;
	if (b->cap > ((size_t)1 << 20))
		ag_buf_deinit(b);
	if (p->written > p->alloc)
		p->alloc = p->written;
	return 0;
}

int ag_journal_sync(ag_persist *p)
{
	int rc = ag_journal_write(p);

	if (rc != 0)
		return rc;
	if (p->synced == p->written)
		return 0;
	p->fsyncs++;
	if (fdatasync(p->fd) < 0)
		return errno;
	p->synced = p->written;
	return 0;
}

/* ---- the records of changes ---------------------------------------------- */

void ag_persist_flush_touched(ag_persist *p)
{
	while (p->touched != NULL) {
		ag_object *o = p->touched;
		p->touched = o->next_touched;
		o->next_touched = NULL;
		o->touched = false;
		if (o->fam->pack_state != NULL && o->data != NULL) {
			msgpack_packer *pk =
			    ag_rec_begin(&p->rb, "@state", 6, 2);
			msgpack_pack_uint64(pk, o->id);
			o->fam->pack_state(o, pk);
			ag_rec_end(&p->rb);
			p->records++;
		}
		ag_object_unref(o);
	}
}

void ag_persist_touch(ag_object *o)
{
	ag_persist *p = o->srv->persist;

	if (p == NULL || p->loading || o->touched)
		return;
	o->touched = true;
	o->next_touched = p->touched;
	p->touched = o;
	ag_object_ref(o);
}

msgpack_packer *ag_journal_call(ag_server *s, ag_object *o, const char *method,
				uint32_t nparams)
{
	msgpack_packer *pk;

	if (!ag_persist_on(s))
		return NULL;
	pk = ag_rec_begin(&s->persist->rb, method, strlen(method), nparams + 1);
	msgpack_pack_uint64(pk, o->id);
	return pk;
}

void ag_journal_end(ag_server *s)
{
	ag_rec_end(&s->persist->rb);
	s->persist->records++;
}

size_t ag_journal_request(ag_req *r)
{
	ag_persist *p = r->srv->persist;
	size_t mark = p->rb.buf.len;
	msgpack_packer *pk =
	    ag_rec_begin(&p->rb, r->method, r->methodlen, r->argc);

	msgpack_pack_uint64(pk, r->obj->id);
	for (uint32_t i = 1; i < r->argc; i++)
		ag_buf_append(&p->rb.buf, r->raw[i].p, r->raw[i].len);
	ag_rec_end(&p->rb);
	p->records++;
	return mark;
}

void ag_journal_retract(ag_server *s, size_t mark)
{
	ag_buf *b = &s->persist->rb.buf;
	const uint8_t *h;
	size_t len;

	if (b->oom || mark >= b->len)
		return;
	h = (const uint8_t *)b->data + mark;
	len = AG_REC_HEADER + ((size_t)h[0] << 24 | (size_t)h[1] << 16 |
			       (size_t)h[2] << 8 | h[3]);
	memmove(b->data + mark, b->data + mark + len, b->len - mark - len);
	b->len -= len;
	s->persist->records--;
	/* Its sequence number stays used: numbers only go up. */
}

void ag_pack_new(ag_recbuf *rb, ag_object *o)
{
	msgpack_packer *pk = ag_rec_begin(rb, "@new", 4, 5);

	msgpack_pack_uint64(pk, o->id);
	ag_pack_str(pk, o->fam->name);
	if (o->name != NULL)
		ag_pack_str(pk, o->name);
	else
		msgpack_pack_nil(pk);
	msgpack_pack_bin(pk, AG_REF_SECRET_LEN);
	msgpack_pack_bin_body(pk, o->secret, AG_REF_SECRET_LEN);
	if (o->fam->save_opts != NULL)
		o->fam->save_opts(o, pk);
	else
		msgpack_pack_nil(pk);
	ag_rec_end(rb);
}

void ag_persist_new(ag_object *o)
{
	ag_server *s = o->srv;

	if (!ag_persist_on(s))
		return;
	ag_pack_new(&s->persist->rb, o);
	s->persist->records++;
}

void ag_persist_drop(ag_object *o)
{
	ag_server *s = o->srv;
	msgpack_packer *pk;

	if (!ag_persist_on(s))
		return;
	pk = ag_rec_begin(&s->persist->rb, "@drop", 5, 1);
	msgpack_pack_uint64(pk, o->id);
	ag_rec_end(&s->persist->rb);
	s->persist->records++;
}

/* ---- admission: refuse before anything changes --------------------------- */

static void arm_commit(ag_persist *p, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (p->commit_ev == NULL || p->commit_armed)
		return;
	p->commit_armed = evtimer_add(p->commit_ev, &tv) == 0;
}

/* Try again what failed; true when the journal works again. */
static bool retry(ag_persist *p)
{
	int rc;

	if (p->err == 0)
		return true;
	if (ag_mono_ms() - p->err_ms < RETRY_MS)
		return false;
	rc = reserve(p, p->written + p->rb.buf.len + RESERVE_SLACK);
	if (rc == 0)
		rc = p->policy == AGORA_FSYNC_ALWAYS ? ag_journal_sync(p)
						     : ag_journal_write(p);
	if (rc == 0 && p->last_sync_err[0] != '\0' &&
	    p->policy != AGORA_FSYNC_NO) {
		/* an fsync failed: nothing is taken as on disk until one
		 * works */
		if (fdatasync(p->fd) < 0)
			rc = errno;
		else {
			p->synced = p->written;
			p->last_sync_err[0] = '\0';
		}
	}
	if (rc != 0) {
		ag_persist_errf(p, rc, "journal-%016llx.agj",
				(unsigned long long)p->gen);
		return false;
	}
	return true; /* the caller says when it is over */
}

bool ag_persist_admit(ag_req *r)
{
	ag_persist *p = r->srv->persist;
	uint64_t need;
	int rc;

	if (p == NULL || p->loading)
		return true;
	if (!retry(p))
		goto refuse;
	need = p->written + p->rb.buf.len + RESERVE_SLACK + AG_REC_HEADER + 64 +
	       r->methodlen;
	for (uint32_t i = 0; i < r->argc; i++)
		need += r->raw[i].len;
	rc = reserve(p, need);
	if (rc == 0) {
		clear_err(p);
		return true;
	}
	ag_persist_errf(p, rc, "reserving room in journal-%016llx.agj",
			(unsigned long long)p->gen);
refuse:
	ag_reply_error(&r->to, AGORA_ESTORAGE,
		       "%.*s: not done, the data directory %s cannot take "
		       "changes (%s); reads go on and changes resume when it "
		       "can",
		       (int)r->methodlen, r->method, p->dir, p->errmsg);
	return false;
}

/* ---- answers wait for their records -------------------------------------- */

static void wait_for_disk(ag_persist *p, ag_conn *c)
{
	if (!c->pwait) {
		c->pwait = true;
		TAILQ_INSERT_TAIL(&p->waiting, c, plink);
	}
}

void ag_persist_conn_gone(ag_conn *c)
{
	ag_persist *p = c->srv->persist;

	if (p != NULL && c->pwait) {
		TAILQ_REMOVE(&p->waiting, c, plink);
		c->pwait = false;
	}
}

/* Let the waiting connections send. */
static void release_waiting(ag_persist *p)
{
	ag_conn *c;

	while ((c = TAILQ_FIRST(&p->waiting)) != NULL) {
		TAILQ_REMOVE(&p->waiting, c, plink);
		c->pwait = false;
		if (c->wev != NULL && !c->flush_scheduled) {
			c->flush_scheduled = true;
			event_active(c->wev, EV_WRITE, 0);
		}
	}
}

bool ag_persist_may_send(ag_conn *c)
{
	ag_persist *p = c->srv->persist;

	if (p->loading || c->fd < 0)
		return true;
	ag_persist_flush_touched(p);
	if (p->policy == AGORA_FSYNC_ALWAYS) {
		if (p->rb.buf.len == 0 && p->synced == p->written)
			return true;
		wait_for_disk(p, c);
		arm_commit(p, 0);
		return false;
	}
	if (p->rb.buf.len == 0)
		return true;
	int rc = ag_journal_write(p);
	if (rc == 0)
		return true;
	ag_persist_errf(p, rc, "writing journal-%016llx.agj",
			(unsigned long long)p->gen);
	wait_for_disk(p, c);
	arm_commit(p, RETRY_MS);
	return false;
}

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
		if (!retry(p)) {
			arm_commit(p, RETRY_MS);
			return;
		}
		if (p->rb.buf.len == 0 && p->synced == p->written)
			clear_err(p);
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
			arm_commit(p, RETRY_MS);
			return;
		}
	}
	release_waiting(p);
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

void ag_persist_sync_later(ag_persist *p)
{
	pthread_mutex_lock(&p->mu);
	if (p->thr_started && !p->thr_busy && p->thr_fd < 0 &&
	    p->written > p->synced) {
		int fd2 = dup(p->fd);
		if (fd2 >= 0) {
			p->thr_fd = fd2;
			p->thr_upto = p->written;
			p->thr_done_gen = p->gen;
			pthread_cond_signal(&p->cv);
		}
	}
	pthread_mutex_unlock(&p->mu);
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

/* Lock the directory: agorad.lock, flock()ed, holding our pid. */
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
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
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
	unmap(p);
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
	p->loading = true;
	rc = ag_recover(p, err, errlen);
	p->loading = false;
	if (rc < 0) {
		s->persist = NULL;
		goto fail;
	}
	rc = ag_journal_open(p, p->gen + 1);
	if (rc != 0) {
		s->persist = NULL;
		rc = ag_errf(err, errlen, AGORA_EIO,
			     "data directory %s: starting journal %llu: %s",
			     p->dir, (unsigned long long)p->gen, strerror(rc));
		goto fail;
	}
	if (p->repaired) {
		/* What was loaded becomes the state the next start reads. */
		rc = ag_snapshot_now(p);
		if (rc != 0) {
			s->persist = NULL;
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
			s->persist = NULL;
			rc = ag_errf(err, errlen, AGORA_ENOMEM,
				     "data directory %s: cannot start the "
				     "fsync timer and thread",
				     p->dir);
			goto fail;
		}
		p->thr_started = true;
	}
	if (p->commit_ev == NULL) {
		s->persist = NULL;
		rc = ag_errf(err, errlen, AGORA_ENOMEM, "out of memory");
		goto fail;
	}
	return 0;
fail:
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
	if (p->child > 0)
		ag_snapshot_wait(p);
	rc = ag_journal_sync(p);
	if (rc != 0)
		ag_server_logf(s, AGORA_LOG_ERROR,
			       "data directory %s: the last records could not "
			       "be written: %s",
			       p->dir, strerror(rc));
	else if (p->can_alloc) {
		/* the room reserved and not used goes */
		unmap(p);
		if (ftruncate(p->fd, (off_t)p->written) == 0)
			fdatasync(p->fd);
	}
	s->persist = NULL;
	persist_free(p);
}

/* ---- stats --------------------------------------------------------------- */

static void pack_kv_str(msgpack_packer *pk, const char *k, const char *v)
{
	ag_pack_str(pk, k);
	if (v != NULL && v[0] != '\0')
		ag_pack_str(pk, v);
	else
		msgpack_pack_nil(pk);
}

const char *ag_fsync_name(int policy)
{
	return policy == AGORA_FSYNC_ALWAYS ? "always"
	       : policy == AGORA_FSYNC_NO   ? "no"
					    : "everysec";
}

void ag_persist_pack_stats(ag_server *s, msgpack_packer *pk)
{
	ag_persist *p = s->persist;

	if (p == NULL) {
		msgpack_pack_nil(pk);
		return;
	}
	msgpack_pack_map(pk, 11);
	pack_kv_str(pk, "dir", p->dir);
	pack_kv_str(pk, "fsync", ag_fsync_name(p->policy));
	ag_pack_str(pk, "generation");
	msgpack_pack_uint64(pk, p->gen);
	ag_pack_str(pk, "journal_bytes");
	msgpack_pack_uint64(pk, p->journal_bytes + p->rb.buf.len);
	ag_pack_str(pk, "records");
	msgpack_pack_uint64(pk, p->records);
	ag_pack_str(pk, "fsyncs");
	pthread_mutex_lock(&p->mu);
	msgpack_pack_uint64(pk, p->fsyncs + p->thr_fsyncs);
	pthread_mutex_unlock(&p->mu);
	ag_pack_str(pk, "snapshot_bytes");
	msgpack_pack_uint64(pk, p->snap_bytes);
	ag_pack_str(pk, "last_snapshot");
	if (p->snap_time > 0)
		msgpack_pack_double(pk, p->snap_time);
	else
		msgpack_pack_nil(pk);
	ag_pack_str(pk, "snapshot_running");
	if (p->child > 0)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	pack_kv_str(pk, "last_error", p->err ? p->errmsg : p->snap_err);
	pack_kv_str(pk, "last_fsync_error", p->last_sync_err);
}
