/*
 * recover.c - loading the data directory at start.
 *
 * The newest snapshot, then every journal from its generation on, in
 * order. Each record is checked (length, CRC-32, one MessagePack-RPC
 * request) and applied: a call of a family's method ("list.append") goes
 * through ag_dispatch() on the loading connection, a detached one that
 * holds a handle for every object made while loading, exactly as a
 * client's call would; the records of persist.h that begin with '@' make
 * objects, remove names and set state. When the last record is applied,
 * the loading connection is closed like any other: the objects nothing
 * but it held (anonymous ones no name reaches) go.
 *
 * Damage. A journal that was being written when the server or the
 * machine stopped may end in a record cut short: the last journal's bad
 * record is dropped, with a line saying how many bytes, when nothing valid
 * follows it (zeros are the room reserved ahead and not yet used). Any
 * other bad record, or a bad snapshot, stops the start with the file, the
 * offset and the reason. With data_repair (agorad --data-repair) the start
 * goes on with every record before the damage: the damaged file and the
 * journals after it are renamed *.damaged, and a snapshot of what was
 * loaded is written before the server serves.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "persist.h"

typedef struct loader {
	ag_persist *p;
	ag_server *s;
	ag_conn *conn;    /* the loading connection */
	ag_table handles; /* 8-byte id -> its handle on conn (ptr) */
	uint64_t applied, failed;
	uint64_t max_id, max_fence;
	char *err;
	size_t errlen;
} loader;

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* ---- handles of the loading connection ----------------------------------- */

static void id_key(uint64_t id, uint8_t buf[8], ag_val *ret)
{
	for (int i = 7; i >= 0; i--, id >>= 8)
		buf[i] = (uint8_t)id;
	*ret = ag_val_view(buf, 8, 0);
}

static uint32_t handle_of(loader *ld, uint64_t id)
{
	uint8_t buf[8];
	ag_val key, owned;
	ag_entry *e;
	ag_object *o;
	uint32_t h;

	id_key(id, buf, &key);
	e = ag_table_find(&ld->handles, &key,
			  ag_table_hash(&ld->handles, &key));
	if (e != NULL)
		return (uint32_t)(uintptr_t)e->ptr;
	o = ag_object_by_id(ld->s, id);
	if (o == NULL || ag_conn_handle_new(ld->conn, o, &h) < 0)
		return 0;
	if (ag_val_dup(&owned, &key) < 0)
		return h;
	e = ag_table_add(&ld->handles, &owned,
			 ag_table_hash(&ld->handles, &key));
	if (e == NULL)
		ag_val_deinit(&owned);
	else
		e->ptr = (void *)(uintptr_t)h;
	return h;
}

/* ---- applying records ---------------------------------------------------- */

/* What the loading connection was answered last: NULL on success, else
 * the error's sentence (into @msg). */
static bool answer_failed(loader *ld, char *msg, size_t len)
{
	ag_conn *c = ld->conn;
	msgpack_unpacked u;
	size_t off = 0;
	bool failed = false;

	msgpack_unpacked_init(&u);
	while (msgpack_unpack_next(&u, c->out.data, c->out.len, &off) ==
	       MSGPACK_UNPACK_SUCCESS) {
		const msgpack_object *a = &u.data;
		if (a->type == MSGPACK_OBJECT_ARRAY && a->via.array.size == 4 &&
		    a->via.array.ptr[2].type == MSGPACK_OBJECT_ARRAY) {
			const msgpack_object *e = &a->via.array.ptr[2];
			failed = true;
			snprintf(msg, len, "error");
			if (e->via.array.size == 3 &&
			    e->via.array.ptr[2].type == MSGPACK_OBJECT_STR)
				snprintf(msg, len, "%.*s",
					 (int)e->via.array.ptr[2].via.str.size,
					 e->via.array.ptr[2].via.str.ptr);
		}
	}
	msgpack_unpacked_destroy(&u);
	c->out.len = c->out_sent = 0;
	return failed;
}

static void replay_failed(loader *ld, const char *file, uint64_t off,
			  const ag_request *rq, const char *why)
{
	ld->failed++;
	if (ld->failed <= 10)
		ag_server_logf(ld->s, AGORA_LOG_WARNING,
			       "loading %s: record at offset %llu (%.*s) "
			       "failed: %s",
			       file, (unsigned long long)off,
			       (int)rq->methodlen, rq->method, why);
}

static bool is_uint(const msgpack_object *o)
{
	return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
}

/* An option naming a lock holds the lock's id: give create() a handle. */
static const msgpack_object *opts_for_create(loader *ld, msgpack_zone *z,
					     const msgpack_object *opts)
{
	msgpack_object *copy;
	msgpack_object_kv *kv;

	if (opts->type != MSGPACK_OBJECT_MAP)
		return opts;
	copy = msgpack_zone_malloc(z, sizeof(*copy));
	kv = msgpack_zone_malloc(z, (opts->via.map.size + 1) * sizeof(*kv));
	if (copy == NULL || kv == NULL)
		return opts;
	*copy = *opts;
	memcpy(kv, opts->via.map.ptr, opts->via.map.size * sizeof(*kv));
	copy->via.map.ptr = kv;
	for (uint32_t i = 0; i < opts->via.map.size; i++)
		if (kv[i].key.type == MSGPACK_OBJECT_STR &&
		    kv[i].key.via.str.size == 4 &&
		    memcmp(kv[i].key.via.str.ptr, "lock", 4) == 0 &&
		    is_uint(&kv[i].val))
			kv[i].val.via.u64 = handle_of(ld, kv[i].val.via.u64);
	return copy;
}

/* "@new" [id, type, name, secret, opts] */
static const char *apply_new(loader *ld, const ag_request *rq, msgpack_zone *z)
{
	ag_server *s = ld->s;
	const msgpack_object *a = rq->argv, *opts;
	const ag_family *fam;
	ag_object *o;
	msgpack_object decoded;
	uint64_t id;
	int rc;

	if (rq->argc != 5 || !is_uint(&a[0]) ||
	    a[1].type != MSGPACK_OBJECT_STR ||
	    (a[2].type != MSGPACK_OBJECT_STR &&
	     a[2].type != MSGPACK_OBJECT_NIL) ||
	    a[3].type != MSGPACK_OBJECT_BIN ||
	    a[3].via.bin.size != AG_REF_SECRET_LEN)
		return "malformed @new";
	id = a[0].via.u64;
	fam = ag_family_by_name(a[1].via.str.ptr, a[1].via.str.size);
	if (fam == NULL)
		return "@new of an unknown type";
	if (id >= (uint64_t)1 << 63)
		return "@new of an id out of range";
	if (id == 0 || ag_object_by_id(s, id) != NULL)
		return "@new of an id in use";
	opts = &a[4];
	if (opts->type == AG_OBJECT_RAW) {
		size_t off = 0;
		if (msgpack_unpack((const char *)rq->raw[4].p, rq->raw[4].len,
				   &off, z, &decoded) != MSGPACK_UNPACK_SUCCESS)
			return "@new with unreadable options";
		opts = &decoded;
	}
	if (a[2].type == MSGPACK_OBJECT_STR &&
	    (a[2].via.str.size < 1 || a[2].via.str.size > AG_NAME_MAX ||
	     !ag_utf8_valid(a[2].via.str.ptr, a[2].via.str.size) ||
	     memchr(a[2].via.str.ptr, '\0', a[2].via.str.size) != NULL))
		return "@new with a name open would refuse";
	if (opts->type != MSGPACK_OBJECT_NIL &&
	    opts->type != MSGPACK_OBJECT_MAP)
		return "@new with options that are not a map";
	opts = opts->type == MSGPACK_OBJECT_NIL ? NULL
						: opts_for_create(ld, z, opts);
	s->next_obj_id = id;
	o = ag_object_new(s, fam);
	if (o == NULL)
		return "out of memory";
	memcpy(o->secret, a[3].via.bin.ptr, AG_REF_SECRET_LEN);
	/* Whatever create() makes besides (nothing, from the records a
	 * server writes) gets an id past every one loaded. */
	if (id > ld->max_id)
		ld->max_id = id;
	if (s->next_obj_id <= ld->max_id)
		s->next_obj_id = ld->max_id + 1;
	/* As open's own request would be: [type, name, options]. */
	msgpack_object argv[3] = { a[1], a[2], opts ? *opts : a[4] };
	ag_span raw[3] = { rq->raw[1], rq->raw[2], rq->raw[4] };
	ag_req r = {
		.to = { ld->conn, 0 },
		.srv = s,
		.method = "open",
		.methodlen = 4,
		.argv = argv,
		.raw = raw,
		.argc = 3,
		.obj = o,
	};
	rc = fam->create(o, &r, opts);
	if (s->next_obj_id - 1 > ld->max_id)
		ld->max_id = s->next_obj_id - 1;
	if (rc < 0) {
		ag_object_unindex(o);
		s->nobjects--;
		s->memory -= o->mem;
		free(o);
		return "its type refused the options";
	}
	if (a[2].type == MSGPACK_OBJECT_STR &&
	    ag_object_name(o, a[2].via.str.ptr, a[2].via.str.size) < 0) {
		ag_object_unref(o);
		return "its name is taken, or out of memory";
	}
	handle_of(ld, id);
	ag_object_unref(o); /* the handle holds it now */
	return NULL;
}

/*
 * "@ephemeral" [id]: the name of object @o (NULL: none has the id) went
 * with the connection that made it, and connections do not survive a
 * restart: the name is dropped now, as that connection's end would have
 * dropped it. Not at the end of loading: a later "@new" may give the name
 * to another object (made after a restart that dropped it so, which
 * journals no "@drop"). Nothing is journaled while loading.
 */
static const char *apply_ephemeral(const ag_request *rq, ag_object *o)
{
	if (rq->argc != 1 || !is_uint(&rq->argv[0]))
		return "malformed @ephemeral";
	if (o == NULL)
		return "@ephemeral of no object";
	if (o->name == NULL)
		return "@ephemeral of an object without a name";
	ag_object_unname(o);
	return NULL;
}

/* "@expire" [id, deadline or nil]: a wall-clock time in Unix seconds, as
 * recorded (one past already is found by nobody, and dropped by its timer
 * once the server runs). On an object without a name (an ephemeral one
 * that loading dropped) it does nothing. */
static const char *apply_expire(const ag_request *rq, ag_object *o)
{
	const msgpack_object *d = &rq->argv[1];
	double deadline = 0;

	if (rq->argc != 2 || !is_uint(&rq->argv[0]))
		return "malformed @expire";
	if (d->type == MSGPACK_OBJECT_FLOAT64 ||
	    d->type == MSGPACK_OBJECT_FLOAT32)
		deadline = d->via.f64;
	else if (is_uint(d))
		deadline = (double)d->via.u64;
	else if (d->type != MSGPACK_OBJECT_NIL)
		return "malformed @expire: its deadline is neither a number "
		       "nor nil";
	if (d->type != MSGPACK_OBJECT_NIL && !(deadline > 0 && deadline < 1e12))
		return "malformed @expire: its deadline is out of range";
	if (o == NULL)
		return "@expire of no object";
	/* An ephemeral name, dropped by its "@ephemeral" already: its
	 * deadline has nothing left to drop. */
	if (o->name == NULL)
		return NULL;
	if (ag_life_set_deadline(o, deadline) < 0)
		return "out of memory";
	return NULL;
}

static const char *apply(loader *ld, const uint8_t *pay, size_t len,
			 const char *file, uint64_t off, bool *bad);
static bool record_ok(const uint8_t *p, size_t size, size_t off, size_t *ret);

/*
 * "@txn" [records]: a transaction's records (docs/protocol.md section 12),
 * framed as in a journal file, applied in order. The record's CRC covered
 * them all: they are whole. A frame inside that is not is damage (*bad).
 */
static const char *apply_txn(loader *ld, const ag_request *rq, const char *file,
			     uint64_t off, bool *bad)
{
	const msgpack_object *a = rq->argv;
	uint8_t *recs;
	size_t n, at = 0, k;
	const char *res = NULL;

	if (rq->argc != 1 || a[0].type != MSGPACK_OBJECT_BIN) {
		*bad = true;
		return "malformed @txn";
	}
	/* Applying the records reuses the zone the params live in. */
	n = a[0].via.bin.size;
	recs = malloc(n ? n : 1);
	if (recs == NULL)
		return "out of memory";
	memcpy(recs, a[0].via.bin.ptr, n);
	while (at < n) {
		if (!record_ok(recs, n, at, &k)) {
			*bad = true;
			res = "a damaged record inside @txn";
			break;
		}
		res = apply(ld, recs + at + AG_REC_HEADER, k - AG_REC_HEADER,
			    file, off, bad);
		if (*bad)
			break;
		at += k;
	}
	free(recs);
	if (*bad)
		return res;
	ld->applied--; /* (each record counted itself; @txn counts once
			  more below) */
	return NULL;
}

/* One record, checked already. NULL, or why it failed. */
static const char *apply(loader *ld, const uint8_t *pay, size_t len,
			 const char *file, uint64_t off, bool *bad)
{
	ag_server *s = ld->s;
	msgpack_zone *z = ag_server_request_zone(s);
	ag_request rq;
	char why[256];
	const char *res = NULL;

	*bad = false;
	msgpack_zone_clear(z);
	if (ag_request_parse(pay, len, z, &rq, why, sizeof(why)) < 0 ||
	    rq.argc < 1 || rq.argc > AG_MAX_PARAMS) {
		*bad = true;
		return "not a request";
	}
	if (rq.methodlen > 0 && rq.method[0] == '@') {
		const msgpack_object *a = rq.argv;
		ag_object *o =
		    is_uint(&a[0]) ? ag_object_by_id(s, a[0].via.u64) : NULL;
		if (rq.methodlen == 4 && memcmp(rq.method, "@new", 4) == 0) {
			res = apply_new(ld, &rq, z);
			answer_failed(ld, why, sizeof(why)); /* said by res */
		} else if (rq.methodlen == 5 &&
			   memcmp(rq.method, "@drop", 5) == 0)
			res = o == NULL ? "@drop of no object"
					: (ag_object_unname(o), NULL);
		else if (rq.methodlen == 6 &&
			 memcmp(rq.method, "@state", 6) == 0) {
			if (o == NULL || rq.argc != 2)
				res = "@state of no object";
			else if (o->fam->load_state != NULL &&
				 o->fam->load_state(o, &a[1], why,
						    sizeof(why)) < 0)
				res = why;
		} else if (rq.methodlen == 10 &&
			   memcmp(rq.method, "@ephemeral", 10) == 0) {
			res = apply_ephemeral(&rq, o);
		} else if (rq.methodlen == 7 &&
			   memcmp(rq.method, "@expire", 7) == 0) {
			res = apply_expire(&rq, o);
		} else if (rq.methodlen == 4 &&
			   memcmp(rq.method, "@txn", 4) == 0) {
			res = apply_txn(ld, &rq, file, off, bad);
			if (*bad)
				return res;
		} else if (rq.methodlen == 7 &&
			   memcmp(rq.method, "@server", 7) == 0) {
			if (rq.argc != 2 || !is_uint(&a[0]) ||
			    !is_uint(&a[1]) ||
			    a[0].via.u64 >= (uint64_t)1 << 63)
				res = "malformed @server";
			else {
				if (a[0].via.u64 > ld->max_id + 1)
					ld->max_id = a[0].via.u64 - 1;
				if (a[1].via.u64 > s->last_fence)
					s->last_fence = a[1].via.u64;
			}
		} else {
			*bad = true;
			return "an unknown record";
		}
	} else {
		uint32_t h;
		/* Only a type's methods are recorded: a server method's
		 * (kill, close) is no record. */
		if (memchr(rq.method, '.', rq.methodlen) == NULL) {
			*bad = true;
			return "an unknown record";
		}
		if (!is_uint(&rq.argv[0])) {
			*bad = true;
			return "a call without an object id";
		}
		h = handle_of(ld, rq.argv[0].via.u64);
		if (h == 0) {
			snprintf(why, sizeof(why), "object %llu does not exist",
				 (unsigned long long)rq.argv[0].via.u64);
			res = why;
		} else {
			rq.argv[0].via.u64 = h;
			ag_dispatch(ld->conn, &rq);
			if (answer_failed(ld, why, sizeof(why)))
				res = why;
		}
	}
	if (res != NULL)
		replay_failed(ld, file, off, &rq, res);
	else
		ld->applied++;
	return NULL;
}

/* ---- reading a file ------------------------------------------------------ */

/* A valid record at @off of [p, p+size)? Its total length in *ret. */
static bool record_ok(const uint8_t *p, size_t size, size_t off, size_t *ret)
{
	uint32_t len, crc;

	if (size - off < AG_REC_HEADER)
		return false;
	len = be32(p + off);
	crc = be32(p + off + 4);
	if (len == 0 || len > AG_REC_MAX || len > size - off - AG_REC_HEADER)
		return false;
	if ((uint32_t)crc32(0L, p + off + AG_REC_HEADER, (uInt)len) != crc)
		return false;
	*ret = AG_REC_HEADER + len;
	return true;
}

/* Why the record at @off is bad, for the message. */
static const char *bad_reason(const uint8_t *p, size_t size, size_t off)
{
	uint32_t len;

	if (size - off < AG_REC_HEADER)
		return "a record header cut short";
	len = be32(p + off);
	if (len == 0)
		return "a record of length 0";
	if (len > AG_REC_MAX || len > size - off - AG_REC_HEADER)
		return "a record longer than the rest of the file";
	return "a record whose checksum does not match";
}

/* True when nothing but a bad record and zeros are in [off, size): the
 * end of a write cut short. *lastnz: one past the last non-zero byte. */
static bool torn_tail(const uint8_t *p, size_t size, size_t off, size_t *lastnz)
{
	size_t end = size, n;

	while (end > off && p[end - 1] == 0)
		end--;
	*lastnz = end;
	for (size_t o = off + 1; o + AG_REC_HEADER <= end; o++)
		if (record_ok(p, end, o, &n))
			return false;
	return true;
}

enum { FILE_OK, FILE_TORN, FILE_DAMAGED };

/*
 * Apply the records of file @name (@magic). *torn_at: where a torn tail
 * begins (FILE_TORN), or the offset of the damage (FILE_DAMAGED, with the
 * reason in ld->err).
 */
static int load_file(loader *ld, const char *name, const char *magic, bool last,
		     size_t *cut, size_t *tail)
{
	ag_persist *p = ld->p;
	struct stat st;
	const uint8_t *m = NULL;
	size_t size, off, n, lastnz;
	int fd, res = FILE_OK;
	bool bad;

	fd = openat(p->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		ag_errf(ld->err, ld->errlen, AGORA_EIO, "%s/%s: %s", p->dir,
			name, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	size = (size_t)st.st_size;
	if (size > 0) {
		m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m == MAP_FAILED) {
			ag_errf(ld->err, ld->errlen, AGORA_EIO, "%s/%s: %s",
				p->dir, name, strerror(errno));
			close(fd);
			return -1;
		}
	}
	close(fd);
	*cut = *tail = 0;
	if (size < AG_FILE_HEADER || memcmp(m, magic, 8) != 0) {
		if (last && size < AG_FILE_HEADER && magic[6] == 'J') {
			/* a journal whose header was being written */
			*cut = 0;
			*tail = size;
			res = FILE_TORN;
			goto out;
		}
		ag_errf(ld->err, ld->errlen, AGORA_EINVAL,
			"%s/%s: offset 0: not an Agora %s file", p->dir, name,
			magic[6] == 'J' ? "journal" : "snapshot");
		*cut = 0;
		res = FILE_DAMAGED;
		goto out;
	}
	if (be32(m + 8) > AG_PERSIST_VERSION) {
		ag_errf(ld->err, ld->errlen, AGORA_EINVAL,
			"%s/%s: format version %u is newer than this "
			"agorad's (%d): start it with a newer agorad",
			p->dir, name, be32(m + 8), AG_PERSIST_VERSION);
		res = -1;
		goto out;
	}
	off = AG_FILE_HEADER;
	while (off < size) {
		if (!record_ok(m, size, off, &n)) {
			bool zeros = true;
			for (size_t i = off; i < size && zeros; i++)
				zeros = m[i] == 0;
			if (zeros) { /* room reserved, never written */
				*cut = off;
				*tail = 0;
				res = off < size ? FILE_TORN : FILE_OK;
				break;
			}
			if (last && magic[6] == 'J' &&
			    torn_tail(m, size, off, &lastnz)) {
				*cut = off;
				*tail = lastnz - off;
				res = FILE_TORN;
				break;
			}
			ag_errf(ld->err, ld->errlen, AGORA_EINVAL,
				"%s/%s: offset %zu: %s", p->dir, name, off,
				bad_reason(m, size, off));
			*cut = off;
			res = FILE_DAMAGED;
			break;
		}
		apply(ld, m + off + AG_REC_HEADER, n - AG_REC_HEADER, name, off,
		      &bad);
		if (bad) {
			ag_errf(ld->err, ld->errlen, AGORA_EINVAL,
				"%s/%s: offset %zu: a record that is not an "
				"Agora request",
				p->dir, name, off);
			*cut = off;
			res = FILE_DAMAGED;
			break;
		}
		off += n;
	}
out:
	if (m != NULL)
		munmap((void *)m, size);
	return res;
}

/* Rename @name to @name.damaged (kept for whoever looks into it). */
static void set_aside(ag_persist *p, const char *name)
{
	char to[96];

	snprintf(to, sizeof(to), "%s.damaged", name);
	if (renameat(p->dirfd, name, p->dirfd, to) == 0)
		ag_server_logf(p->srv, AGORA_LOG_WARNING,
			       "data directory %s: %s set aside as %s", p->dir,
			       name, to);
}

/* Keep the first @len bytes of journal @name: written to a new file
 * that replaces it, the old one set aside. */
static int keep_prefix(ag_persist *p, const char *name, size_t len)
{
	char tmp[96];
	uint8_t buf[65536];
	int in, out, rc = 0;
	size_t done = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	in = openat(p->dirfd, name, O_RDONLY | O_CLOEXEC);
	out = openat(p->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		     0600);
	while (rc == 0 && in >= 0 && out >= 0 && done < len) {
		size_t want =
		    len - done < sizeof(buf) ? len - done : sizeof(buf);
		ssize_t r = pread(in, buf, want, (off_t)done);
		if (r <= 0 || write(out, buf, (size_t)r) != r)
			rc = errno ? errno : EIO;
		else
			done += (size_t)r;
	}
	if (in < 0 || out < 0)
		rc = errno;
	if (rc == 0 && fsync(out) < 0)
		rc = errno;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (rc == 0) {
		set_aside(p, name);
		if (renameat(p->dirfd, tmp, p->dirfd, name) < 0)
			rc = errno;
	}
	return rc;
}

/* Drop a torn tail of the last journal: the file keeps @cut bytes. */
static int truncate_tail(ag_persist *p, const char *name, size_t cut)
{
	int fd = openat(p->dirfd, name, O_WRONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return errno;
	if (ftruncate(fd, (off_t)cut) < 0 || fsync(fd) < 0)
		rc = errno;
	close(fd);
	return rc;
}

/* ---- the directory ------------------------------------------------------- */

static const char *repair_hint(void)
{
	return "; the data directory is damaged: start agorad with "
	       "--data-repair to keep everything before the damage (the "
	       "damaged files are kept as *.damaged), or restore the "
	       "directory from a backup";
}

int ag_recover(ag_persist *p, char *err, size_t errlen)
{
	ag_server *s = p->srv;
	gens snaps = { 0 }, journals = { 0 };
	loader ld = { .p = p, .s = s, .err = err, .errlen = errlen };
	char name[64];
	size_t cut, tail;
	uint64_t first = 0;
	bool repaired = false;
	int rc, res;

	rc = ag_persist_list(p, &snaps, &journals, err, errlen);
	if (rc < 0)
		return rc;
	/* Loading serves requests on a connection of its own: they are not
	 * the clients', nor is its id. */
	uint64_t requests = s->requests, conn_id = s->next_conn_id;
	ld.conn = p->lconn = ag_conn_new_detached(s, true);
	if (ld.conn == NULL) {
		rc = ag_errf(err, errlen, AGORA_ENOMEM, "out of memory");
		goto done;
	}
	ag_table_init(&ld.handles, ag_server_seed(s));
	if (snaps.n > 0) {
		p->snap_gen = first = snaps.v[snaps.n - 1];
		ag_snapshot_name(name, sizeof(name), first);
		res =
		    load_file(&ld, name, AG_MAGIC_SNAPSHOT, false, &cut, &tail);
		if (res < 0) {
			rc = AGORA_EINVAL;
			goto done;
		}
		if (res == FILE_DAMAGED || res == FILE_TORN) {
			if (!p->repair) {
				size_t l = strlen(err);
				snprintf(err + l, errlen - l, "%s",
					 repair_hint());
				rc = AGORA_EINVAL;
				goto done;
			}
			ag_server_logf(s, AGORA_LOG_WARNING, "repair: %s", err);
			set_aside(p, name);
			p->snap_gen = 0;
			repaired = true;
		} else {
			struct stat st;
			if (fstatat(p->dirfd, name, &st, 0) == 0) {
				p->snap_bytes = (uint64_t)st.st_size;
				p->snap_time = (double)st.st_mtime;
			}
		}
	}
	p->gen = first ? first - 1 : 0;
	for (size_t i = 0; i < journals.n; i++) {
		uint64_t g = journals.v[i];
		bool last = i + 1 == journals.n;
		struct stat st;
		if (g < first)
			continue; /* before the snapshot: obsolete */
		ag_journal_name(name, sizeof(name), g);
		if (repaired) {
			set_aside(p, name);
			p->gen = g; /* the next generation is a new number */
			continue;
		}
		if (p->gen != 0 && g != p->gen + 1) {
			rc = ag_errf(err, errlen, AGORA_EINVAL,
				     "%s: journal %llu is missing (found %llu "
				     "after %llu)%s",
				     p->dir, (unsigned long long)(p->gen + 1),
				     (unsigned long long)g,
				     (unsigned long long)p->gen, repair_hint());
			if (!p->repair)
				goto done;
			ag_server_logf(s, AGORA_LOG_WARNING, "repair: %s", err);
			repaired = true;
			set_aside(p, name);
			p->gen = g;
			continue;
		}
		res = load_file(&ld, name, AG_MAGIC_JOURNAL, last, &cut, &tail);
		if (res < 0) {
			rc = AGORA_EINVAL;
			goto done;
		}
		p->gen = g;
		if (res == FILE_TORN) {
			if (tail > 0)
				ag_server_logf(
				    s, AGORA_LOG_WARNING,
				    "data directory %s: %s: dropping %zu "
				    "bytes at offset %zu, a record cut short "
				    "(a crash while it was written; it was "
				    "never acknowledged)",
				    p->dir, name, tail, cut);
			rc = truncate_tail(p, name, cut);
			if (cut < AG_FILE_HEADER)
				p->gen =
				    g - 1; /* started again, header and all */
			if (rc != 0) {
				rc = ag_errf(err, errlen, AGORA_EIO,
					     "%s/%s: cannot drop its torn "
					     "end: %s",
					     p->dir, name, strerror(rc));
				goto done;
			}
		} else if (res == FILE_DAMAGED) {
			if (!p->repair) {
				size_t l = strlen(err);
				snprintf(err + l, errlen - l, "%s",
					 repair_hint());
				rc = AGORA_EINVAL;
				goto done;
			}
			ag_server_logf(s, AGORA_LOG_WARNING,
				       "repair: %s; keeping the %zu bytes "
				       "before it",
				       err, cut);
			rc = keep_prefix(p, name, cut);
			if (rc != 0) {
				rc = ag_errf(err, errlen, AGORA_EIO,
					     "%s/%s: cannot keep its good "
					     "part: %s",
					     p->dir, name, strerror(rc));
				goto done;
			}
			repaired = true;
		}
		if (fstatat(p->dirfd, name, &st, 0) == 0)
			p->journal_bytes += (uint64_t)st.st_size;
	}
	if (ld.max_id + 1 > s->next_obj_id)
		s->next_obj_id = ld.max_id + 1;
	ag_persist_prune(p, first);
	p->first_gen = first;
	rc = 0;
	if (ld.applied + ld.failed > 0 || snaps.n > 0)
		ag_server_logf(s, AGORA_LOG_INFO,
			       "data directory %s: loaded %llu records%s%s "
			       "(%llu objects)",
			       p->dir, (unsigned long long)ld.applied,
			       ld.failed ? ", some failed: " : "",
			       ld.failed ? "see the warnings above" : "",
			       (unsigned long long)s->nobjects);
	if (repaired)
		p->repaired = true;
done:
	if (ld.conn != NULL) {
		/* On success the connection ends in persist.c, once the new
		 * journal can record what its end gives back. */
		if (rc < 0) {
			ag_conn_free(ld.conn);
			p->lconn = NULL;
		}
		s->requests = requests;
		s->next_conn_id = conn_id;
		ag_table_foreach (&ld.handles, e)
			ag_val_deinit(&e->key);
		ag_table_deinit(&ld.handles);
	}
	free(snaps.v);
	free(journals.v);
	return rc;
}
