/*
 * reader.c - pull complete MessagePack messages out of a byte stream, with
 * the limits of protocol section 1 enforced before anything is allocated.
 *
 * msgpack-c trusts a container's declared length and allocates for it before
 * the bytes are there, so a few bytes could make it ask for gigabytes. The
 * scanner below walks the headers of the frame as bytes arrive (never twice:
 * r->pos only moves forward), refuses a frame that is too large, too deep, or
 * declares more items or bytes than the frame limit leaves, and hands only a
 * complete, checked frame to msgpack_unpack() with a zone it reuses.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ag_proto.h"

#define ZONE_CHUNK 8192

int ag_reader_init(ag_reader *r, size_t max_message)
{
	memset(r, 0, sizeof(*r));
	r->max = max_message;
	/* The zone is made by the first ag_reader_next(): a reader used
	 * through ag_reader_next_frame() (the server's) never needs one. */
	return 0;
}

void ag_reader_deinit(ag_reader *r)
{
	if (r->zone_ok)
		msgpack_zone_destroy(&r->zone);
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

void ag_reader_shrink(ag_reader *r, size_t keep)
{
	if (r->len == 0 && r->cap > keep) {
		free(r->buf);
		r->buf = NULL;
		r->cap = 0;
	}
}

void ag_reader_set_max(ag_reader *r, size_t max_message)
{
	if (r->pos > r->start) /* a frame is under way: keep its limit */
		r->next_max = max_message;
	else
		r->max = max_message;
}

size_t ag_reader_pending(const ag_reader *r)
{
	return r->len - r->start;
}

char *ag_reader_space(ag_reader *r, size_t min, size_t *ret_avail)
{
	if (r->start > 0 && r->cap - r->len < min) {
		/* Move the unfinished frame down; its scanned state is kept
		 * as offsets, so nothing is scanned again. */
		memmove(r->buf, r->buf + r->start, r->len - r->start);
		r->len -= r->start;
		r->pos -= r->start;
		r->start = 0;
	}
	if (r->cap - r->len < min) {
		size_t cap = r->cap ? r->cap : 4096;
		while (cap - r->len < min) {
			if (cap > SIZE_MAX / 2)
				return NULL;
			cap *= 2;
		}
		char *p = realloc(r->buf, cap);
		if (p == NULL)
			return NULL;
		r->buf = p;
		r->cap = cap;
	}
	*ret_avail = r->cap - r->len;
	return r->buf + r->len;
}

void ag_reader_commit(ag_reader *r, size_t n)
{
	r->len += n;
}

int ag_reader_feed(ag_reader *r, const void *data, size_t len)
{
	size_t avail;
	char *p;

	/* Nothing to add: a reader that never allocated has no space to
	 * offer (r->buf is NULL), which must not read as out of memory. */
	if (len == 0)
		return 0;
	p = ag_reader_space(r, len, &avail);
	if (p == NULL)
		return AGORA_ENOMEM;
	memcpy(p, data, len);
	ag_reader_commit(r, len);
	return 0;
}

static int fail(ag_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int fail(ag_reader *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->errmsg, sizeof(r->errmsg), fmt, ap);
	va_end(ap);
	r->err = AGORA_EPROTOCOL;
	return r->err;
}

/* A value ended at r->pos: close every container it completes. Returns
 * true when the whole frame is complete. */
static bool value_done(ag_reader *r)
{
	while (r->depth > 0) {
		if (--r->left[r->depth] > 0)
			return false;
		r->depth--;
	}
	return true;
}

/* The frame [r->start, r->pos) is complete: hand out its bytes (valid
 * until the next call on @r) and step past it. */
static void frame_done(ag_reader *r, const uint8_t **ret_p, size_t *ret_len)
{
	*ret_p = (const uint8_t *)r->buf + r->start;
	*ret_len = r->pos - r->start;
	r->start = r->pos;
	if (r->next_max) {
		r->max = r->next_max;
		r->next_max = 0;
	}
	if (r->start == r->len) /* nothing pending: start over cheaply */
		r->start = r->pos = r->len = 0;
}

static int scan(ag_reader *r);

int ag_reader_next(ag_reader *r, msgpack_object *ret)
{
	const uint8_t *p;
	size_t off = 0, flen;
	msgpack_unpack_return ur;
	int rc = scan(r);

	if (rc <= 0)
		return rc;
	if (!r->zone_ok) {
		if (!msgpack_zone_init(&r->zone, ZONE_CHUNK))
			return AGORA_ENOMEM;
		r->zone_ok = true;
	}
	frame_done(r, &p, &flen);
	msgpack_zone_clear(&r->zone);
	ur = msgpack_unpack((const char *)p, flen, &off, &r->zone, ret);
	if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
		return AGORA_ENOMEM;
	if ((ur != MSGPACK_UNPACK_SUCCESS &&
	     ur != MSGPACK_UNPACK_EXTRA_BYTES) ||
	    off != flen)
		return fail(r, "malformed MessagePack frame of %zu bytes",
			    flen);
	return 1;
}

int ag_reader_next_frame(ag_reader *r, const uint8_t **ret_p, size_t *ret_len)
{
	int rc = scan(r);

	if (rc > 0)
		frame_done(r, ret_p, ret_len);
	return rc;
}

/* Scan headers up to the end of the next frame: 1 when [r->start,
 * r->pos) is a complete frame, 0 when more bytes are needed, or the
 * sticky error. */
static int scan(ag_reader *r)
{
	const unsigned char *buf = (const unsigned char *)r->buf;

	if (r->err)
		return r->err;
	for (;;) {
		if (r->skip > 0) {
			size_t take = r->len - r->pos;
			if (take > r->skip)
				take = r->skip;
			r->pos += take;
			r->skip -= take;
			if (r->skip > 0)
				return 0;
			if (value_done(r))
				return 1;
			continue;
		}
		if (r->pos >= r->len)
			return 0;

		size_t have = r->len - r->pos;
		unsigned hlen = ag_mp_head_len(buf[r->pos]);
		ag_mp_head h;

		if (hlen == 0)
			return fail(r,
				    "byte 0x%02x at offset %zu is not "
				    "MessagePack",
				    buf[r->pos], r->pos - r->start);
		if ((r->pos - r->start) + hlen > r->max)
			return fail(r,
				    "message larger than the limit of %zu "
				    "bytes",
				    r->max);
		if (!ag_mp_read_head(buf + r->pos, have, &h))
			return 0;
		r->pos += hlen;
		size_t budget = r->max - (r->pos - r->start);
		uint64_t n = h.n;

		switch ((ag_mp_kind)h.kind) {
		case AG_MP_STR:
		case AG_MP_BIN:
		case AG_MP_EXT:
			if (n > budget)
				return fail(r,
					    "declared length %llu exceeds the "
					    "%zu bytes left under the message "
					    "limit",
					    (unsigned long long)n, budget);
			r->skip = n;
			if (n == 0 && value_done(r))
				return 1;
			break;
		case AG_MP_ARRAY:
		case AG_MP_MAP: {
			uint64_t need = ag_mp_items(&h);
			if (need > budget)
				return fail(r,
					    "declared %llu elements exceed the "
					    "%zu bytes left under the message "
					    "limit",
					    (unsigned long long)n, budget);
			if (r->depth >= AG_MAX_DEPTH)
				return fail(r, "nesting deeper than %d",
					    AG_MAX_DEPTH);
			if (n == 0) {
				if (value_done(r))
					return 1;
				break;
			}
			r->left[++r->depth] = need;
			break;
		}
		default: /* a scalar */
			if (value_done(r))
				return 1;
			break;
		}
	}
}
