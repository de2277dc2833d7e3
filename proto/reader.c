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
	if (!msgpack_zone_init(&r->zone, ZONE_CHUNK))
		return AGORA_ENOMEM;
	r->zone_ok = true;
	return 0;
}

void ag_reader_deinit(ag_reader *r)
{
	if (r->zone_ok)
		msgpack_zone_destroy(&r->zone);
	free(r->buf);
	memset(r, 0, sizeof(*r));
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

static uint64_t be(const unsigned char *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

enum kind { K_SCALAR, K_PAYLOAD, K_ARRAY, K_MAP, K_BAD };

/*
 * Classify the header at @p: its size in bytes (*hlen: how many bytes the
 * header needs, length fields and ext type included), and for payloads and
 * containers the declared count in *n. Needs only p[0] to know *hlen; the
 * caller reads the length fields once *hlen bytes are there.
 */
static enum kind classify(const unsigned char *p, size_t have, unsigned *hlen,
			  uint64_t *n)
{
	unsigned char b = p[0];
	unsigned lenbytes = 0, extra = 0;
	enum kind k;

	if (b <= 0x7f || b >= 0xe0) {
		*hlen = 1;
		return K_SCALAR;
	}
	if (b >= 0x80 && b <= 0x8f) {
		*hlen = 1;
		*n = b & 0x0f;
		return K_MAP;
	}
	if (b >= 0x90 && b <= 0x9f) {
		*hlen = 1;
		*n = b & 0x0f;
		return K_ARRAY;
	}
	if (b >= 0xa0 && b <= 0xbf) {
		*hlen = 1;
		*n = b & 0x1f;
		return K_PAYLOAD;
	}
	switch (b) {
	case 0xc0:
	case 0xc2:
	case 0xc3:
		*hlen = 1;
		return K_SCALAR;
	case 0xc1:
		return K_BAD;
	case 0xca:
	case 0xce:
	case 0xd2:
		*hlen = 5;
		return K_SCALAR;
	case 0xcb:
	case 0xcf:
	case 0xd3:
		*hlen = 9;
		return K_SCALAR;
	case 0xcc:
	case 0xd0:
		*hlen = 2;
		return K_SCALAR;
	case 0xcd:
	case 0xd1:
		*hlen = 3;
		return K_SCALAR;
	case 0xd4:
	case 0xd5:
	case 0xd6:
	case 0xd7:
	case 0xd8:
		*hlen = 2; /* type byte */
		*n = (uint64_t)1 << (b - 0xd4);
		return K_PAYLOAD;
	case 0xc4:
	case 0xd9:
		lenbytes = 1;
		k = K_PAYLOAD;
		break;
	case 0xc5:
	case 0xda:
		lenbytes = 2;
		k = K_PAYLOAD;
		break;
	case 0xc6:
	case 0xdb:
		lenbytes = 4;
		k = K_PAYLOAD;
		break;
	case 0xc7:
		lenbytes = 1;
		extra = 1;
		k = K_PAYLOAD;
		break;
	case 0xc8:
		lenbytes = 2;
		extra = 1;
		k = K_PAYLOAD;
		break;
	case 0xc9:
		lenbytes = 4;
		extra = 1;
		k = K_PAYLOAD;
		break;
	case 0xdc:
		lenbytes = 2;
		k = K_ARRAY;
		break;
	case 0xdd:
		lenbytes = 4;
		k = K_ARRAY;
		break;
	case 0xde:
		lenbytes = 2;
		k = K_MAP;
		break;
	case 0xdf:
		lenbytes = 4;
		k = K_MAP;
		break;
	default:
		return K_BAD;
	}
	*hlen = 1 + lenbytes + extra;
	if (have >= 1 + lenbytes)
		*n = be(p + 1, lenbytes);
	return k;
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

static int decode(ag_reader *r, msgpack_object *ret)
{
	size_t off = 0, flen = r->pos - r->start;
	msgpack_unpack_return ur;

	msgpack_zone_clear(&r->zone);
	ur = msgpack_unpack(r->buf + r->start, flen, &off, &r->zone, ret);
	r->start = r->pos;
	if (r->next_max) {
		r->max = r->next_max;
		r->next_max = 0;
	}
	if (r->start == r->len) /* nothing pending: start over cheaply */
		r->start = r->pos = r->len = 0;
	if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
		return AGORA_ENOMEM;
	if ((ur != MSGPACK_UNPACK_SUCCESS &&
	     ur != MSGPACK_UNPACK_EXTRA_BYTES) ||
	    off != flen)
		return fail(r, "malformed MessagePack frame of %zu bytes",
			    flen);
	return 1;
}

int ag_reader_next(ag_reader *r, msgpack_object *ret)
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
				return decode(r, ret);
			continue;
		}
		if (r->pos >= r->len)
			return 0;

		unsigned hlen = 0;
		uint64_t n = 0;
		size_t have = r->len - r->pos;
		enum kind k = classify(buf + r->pos, have, &hlen, &n);

		if (k == K_BAD)
			return fail(r,
				    "byte 0x%02x at offset %zu is not "
				    "MessagePack",
				    buf[r->pos], r->pos - r->start);
		if ((r->pos - r->start) + hlen > r->max)
			return fail(r,
				    "message larger than the limit of %zu "
				    "bytes",
				    r->max);
		if (have < hlen)
			return 0;
		r->pos += hlen;
		size_t budget = r->max - (r->pos - r->start);

		switch (k) {
		case K_SCALAR:
			if (value_done(r))
				return decode(r, ret);
			break;
		case K_PAYLOAD:
			if (n > budget)
				return fail(r,
					    "declared length %llu exceeds the "
					    "%zu bytes left under the message "
					    "limit",
					    (unsigned long long)n, budget);
			r->skip = n;
			if (n == 0 && value_done(r))
				return decode(r, ret);
			break;
		case K_ARRAY:
		case K_MAP: {
			uint64_t need = k == K_MAP ? 2 * n : n;
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
					return decode(r, ret);
				break;
			}
			r->left[++r->depth] = need;
			break;
		}
		case K_BAD:
			break;
		}
	}
}
