/*
 * journal.c - the journal of a server with a data directory.
 *
 * Every change a request makes is a record (persist.h) appended to a
 * buffer while the request is served: the dispatcher records a family's
 * call before running it and takes the record back when the call fails or
 * parks (ag_journal_request, ag_journal_retract); families record calls
 * served later and touched state (ag_journal_call, ag_persist_touch);
 * open and drop record objects made and names removed.
 *
 * No answer leaves before the records of the changes it reports: the one
 * place that sends (ag_conn_flush) asks ag_persist_may_send() first (the
 * server's may_send hook). With everysec and no, that writes the buffer
 * and lets the answer go (the kernel has the record: a crash of the
 * server loses nothing): a copy into the shared map of the file's
 * reserved room, or one pwrite() where there is no map; a thread forces
 * the file to disk once a second (persist.c). With always, the
 * connection waits on p->waiting, and a timer of no delay (persist.c),
 * which runs after the loop has served every connection that was
 * readable, writes and fdatasync()s once for all of them (group commit),
 * then lets them go.
 *
 * The disk: the journal file is reserved ahead with fallocate() in
 * RESERVE_CHUNK steps (only what is needed on a nearly full disk), and a
 * request that changes something is let in only
 * when its record fits what is reserved (ag_persist_admit). A full disk
 * is so found before anything changes: the request is answered STORAGE,
 * naming the cause, reads go on, and a later request tries again
 * (RETRY_MS apart), so writes resume by themselves when room comes back.
 * Where fallocate() is not supported, or a write or fsync fails anyway,
 * the records stay in the buffer, the answers wait, and the write is tried
 * again every RETRY_MS; meanwhile new changes are refused.
 */
#include <dirent.h>
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
/* A snapshot's buffer is written out past this. */
#define FLUSH_AT ((size_t)1 << 20)

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

ag_conn *ag_persist_loading_conn(const ag_server *s)
{
	return ag_persist_loading(s) ? s->persist->lconn : NULL;
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

void ag_persist_clear_err(ag_persist *p)
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
void ag_journal_unmap(ag_persist *p)
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
		ag_journal_unmap(p);
		return;
	}
	p->map = m;
	p->maplen = p->alloc;
}

/* Reserve room up to at least @want bytes of the file. */
int ag_journal_reserve(ag_persist *p, uint64_t want)
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
	ag_journal_unmap(p);
	if (p->fd >= 0)
		close(p->fd);
	p->fd = fd;
	p->gen = gen;
	p->written = p->synced = AG_FILE_HEADER;
	p->alloc = 0;
	p->can_alloc = true;
	/* No room reserved yet is no reason not to start: changes are
	 * refused (STORAGE) until there is. */
	rc = ag_journal_reserve(p, AG_FILE_HEADER + RESERVE_SLACK);
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
	     (ag_journal_reserve(p, p->written + b->len) == 0 &&
	      p->map != NULL && p->written + b->len <= p->maplen))) {
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

/* "@expire" [id, deadline or nil] for @o. */
static void pack_expire(ag_recbuf *rb, ag_object *o)
{
	msgpack_packer *pk = ag_rec_begin(rb, "@expire", 7, 2);
	double deadline = ag_life_deadline(o);

	msgpack_pack_uint64(pk, o->id);
	if (deadline > 0)
		msgpack_pack_double(pk, deadline);
	else
		msgpack_pack_nil(pk);
	ag_rec_end(rb);
}

uint32_t ag_pack_new(ag_recbuf *rb, ag_object *o)
{
	msgpack_packer *pk = ag_rec_begin(rb, "@new", 4, 5);
	uint32_t n = 1;

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
	/* Its name's lifetime (lifetime.c), right after it. */
	if (o->name != NULL && ag_life_owner(o) != 0) {
		pk = ag_rec_begin(rb, "@ephemeral", 10, 1);
		msgpack_pack_uint64(pk, o->id);
		ag_rec_end(rb);
		n++;
	}
	if (o->name != NULL && ag_life_deadline(o) > 0) {
		pack_expire(rb, o);
		n++;
	}
	return n;
}

void ag_persist_new(ag_object *o)
{
	ag_server *s = o->srv;

	if (!ag_persist_on(s))
		return;
	s->persist->records += ag_pack_new(&s->persist->rb, o);
}

void ag_persist_expire(ag_object *o)
{
	ag_server *s = o->srv;

	if (!ag_persist_on(s))
		return;
	pack_expire(&s->persist->rb, o);
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

void ag_persist_arm_commit(ag_persist *p, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (p->commit_ev == NULL || p->commit_armed)
		return;
	p->commit_armed = evtimer_add(p->commit_ev, &tv) == 0;
}

/* Try again what failed; true when the journal works again. */
bool ag_persist_retry(ag_persist *p)
{
	int rc;

	if (p->err == 0)
		return true;
	if (ag_mono_ms() - p->err_ms < RETRY_MS)
		return false;
	rc = ag_journal_reserve(p, p->written + p->rb.buf.len + RESERVE_SLACK);
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
	if (!ag_persist_retry(p))
		goto refuse;
	need = p->written + p->rb.buf.len + RESERVE_SLACK + AG_REC_HEADER + 64 +
	       r->methodlen;
	for (uint32_t i = 0; i < r->argc; i++)
		need += r->raw[i].len;
	rc = ag_journal_reserve(p, need);
	if (rc == 0) {
		ag_persist_clear_err(p);
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
void ag_persist_release_waiting(ag_persist *p)
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
		ag_persist_arm_commit(p, 0);
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
	ag_persist_arm_commit(p, RETRY_MS);
	return false;
}

/* ---- everysec --------------------------------------------------------------
 */

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

/* ---- snapshots' records ----------------------------------------------------
 */

int ag_save_flush(ag_save *sv)
{
	ag_buf *b = &sv->rb.buf;
	size_t done = 0;

	if (sv->err)
		return sv->err;
	if (b->oom)
		return sv->err = ENOMEM;
	while (done < b->len) {
		ssize_t w = write(sv->fd, b->data + done, b->len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return sv->err = w < 0 ? errno : ENOSPC;
		done += (size_t)w;
	}
	sv->bytes += b->len;
	b->len = 0;
	return 0;
}

msgpack_packer *ag_save_call(ag_save *sv, ag_object *o, const char *method,
			     uint32_t nparams)
{
	msgpack_packer *pk;

	if (sv->err)
		return NULL;
	pk = ag_rec_begin(&sv->rb, method, strlen(method), nparams + 1);
	msgpack_pack_uint64(pk, o->id);
	return pk;
}

int ag_save_end(ag_save *sv)
{
	ag_rec_end(&sv->rb);
	if (sv->rb.buf.len >= FLUSH_AT)
		return ag_save_flush(sv) ? AGORA_EIO : 0;
	return sv->rb.buf.oom ? AGORA_EIO : 0;
}

/* ---- the files of the directory --------------------------------------------
 */

static int gens_add(gens *g, uint64_t gen)
{
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 16;
		uint64_t *v = realloc(g->v, cap * sizeof(*v));
		if (v == NULL)
			return -1;
		g->v = v;
		g->cap = cap;
	}
	g->v[g->n++] = gen;
	return 0;
}

static int cmp_gen(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int ag_persist_list(ag_persist *p, gens *snaps, gens *journals, char *err,
		    size_t errlen)
{
	DIR *d;
	struct dirent *e;
	int dfd = dup(p->dirfd);

	if (dfd < 0 || (d = fdopendir(dfd)) == NULL) {
		if (dfd >= 0)
			close(dfd);
		return ag_errf(err, errlen, AGORA_EIO, "data directory %s: %s",
			       p->dir, strerror(errno));
	}
	rewinddir(d); /* the dup shares the offset of a listing before */
	while ((e = readdir(d)) != NULL) {
		unsigned long long g;
		char tail[8];
		int rc = 0;
		if (sscanf(e->d_name, "snapshot-%16llx.ag%7s", &g, tail) == 2 &&
		    strcmp(tail, "s") == 0 && strlen(e->d_name) == 29)
			rc = gens_add(snaps, g);
		else if (sscanf(e->d_name, "journal-%16llx.ag%7s", &g, tail) ==
			     2 &&
			 strcmp(tail, "j") == 0 && strlen(e->d_name) == 28)
			rc = gens_add(journals, g);
		else if (strncmp(e->d_name, "snapshot-", 9) == 0 &&
			 strstr(e->d_name, ".tmp") != NULL)
			unlinkat(p->dirfd, e->d_name, 0); /* never finished */
		if (rc < 0) {
			closedir(d);
			return ag_errf(err, errlen, AGORA_ENOMEM,
				       "out of memory");
		}
	}
	closedir(d);
	if (snaps->n > 1)
		qsort(snaps->v, snaps->n, sizeof(uint64_t), cmp_gen);
	if (journals->n > 1)
		qsort(journals->v, journals->n, sizeof(uint64_t), cmp_gen);
	return 0;
}

void ag_persist_prune(ag_persist *p, uint64_t gen)
{
	gens snaps = { 0 }, journals = { 0 };
	char name[64];

	if (ag_persist_list(p, &snaps, &journals, NULL, 0) < 0)
		return;
	for (size_t i = 0; i < snaps.n; i++)
		if (snaps.v[i] < gen) {
			ag_snapshot_name(name, sizeof(name), snaps.v[i]);
			unlinkat(p->dirfd, name, 0);
		}
	for (size_t i = 0; i < journals.n; i++)
		if (journals.v[i] < gen) {
			ag_journal_name(name, sizeof(name), journals.v[i]);
			unlinkat(p->dirfd, name, 0);
		}
	fsync(p->dirfd);
	free(snaps.v);
	free(journals.v);
}
