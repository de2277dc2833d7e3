/*
 * mp.c - the one MessagePack header walker: what a header at a byte says
 * (its kind, its length, the count or payload size it declares, and the
 * value of a scalar), the length of a complete object, and a walk over
 * every header of an object in order.
 *
 * MessagePack is a preorder of headers: a container's header is followed by
 * its items, a str/bin/ext header by its payload. So every element of an
 * object is visited by reading headers one after another and stepping over
 * payloads, with a count of items still due instead of recursion: a value
 * nested 32 deep costs no more stack than a flat one. The reader
 * (reader.c), canonical values (value.c), references in stored values and
 * the list's item store all walk bytes through these functions.
 */
#include <string.h>

#include "ag_proto.h"

static inline uint64_t be(const uint8_t *p, unsigned n)
{
	switch (n) {
	case 1:
		return p[0];
	case 2:
		return (uint64_t)p[0] << 8 | p[1];
	case 4:
		return (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 |
		       (uint64_t)p[2] << 8 | p[3];
	default: {
		uint64_t v = 0;
		for (unsigned i = 0; i < n; i++)
			v = v << 8 | p[i];
		return v;
	}
	}
}

/* Header lengths by first byte (GNU range designators); 0 for 0xc1. */
const uint8_t ag_mp_hlen[256] = {
	[0x00 ... 0x7f] = 1, /* positive fixint */
	[0x80 ... 0xbf] = 1, /* fixmap, fixarray, fixstr */
	[0xe0 ... 0xff] = 1, /* negative fixint */
	[0xc0] = 1,          [0xc2] = 1,          [0xc3] = 1,
	[0xcc] = 2,          [0xd0] = 2,          [0xc4] = 2,
	[0xd9] = 2,          [0xd4 ... 0xd8] = 2, /* fixext: the type byte */
	[0xcd] = 3,          [0xd1] = 3,          [0xc5] = 3,
	[0xda] = 3,          [0xdc] = 3,          [0xde] = 3,
	[0xc7] = 3, /* ext 8: length and type */
	[0xc8] = 4,          [0xca] = 5,          [0xce] = 5,
	[0xd2] = 5,          [0xc6] = 5,          [0xdb] = 5,
	[0xdd] = 5,          [0xdf] = 5,          [0xc9] = 6,
	[0xcb] = 9,          [0xcf] = 9,          [0xd3] = 9,
};

bool ag_mp_read_head_slow(const uint8_t *p, size_t have, ag_mp_head *ret)
{
	unsigned hlen;
	uint8_t b;
	ag_mp_head h;

	if (have == 0)
		return false;
	b = p[0];
	hlen = ag_mp_head_len(b);
	if (hlen == 0 || have < hlen)
		return false;
	h.hlen = (uint8_t)hlen;
	h.ext_type = 0;
	h.n = 0;
	h.u = 0;
	if (b <= 0x7f) {
		h.kind = AG_MP_UINT;
		h.u = b;
	} else if (b >= 0xe0) {
		h.kind = AG_MP_INT;
		h.i = (int8_t)b;
	} else if (b <= 0x8f) {
		h.kind = AG_MP_MAP;
		h.n = b & 0x0f;
	} else if (b <= 0x9f) {
		h.kind = AG_MP_ARRAY;
		h.n = b & 0x0f;
	} else if (b <= 0xbf) {
		h.kind = AG_MP_STR;
		h.n = b & 0x1f;
	} else {
		switch (b) {
		case 0xc0:
			h.kind = AG_MP_NIL;
			break;
		case 0xc2:
		case 0xc3:
			h.kind = AG_MP_BOOL;
			h.u = b == 0xc3;
			break;
		case 0xcc:
		case 0xcd:
		case 0xce:
		case 0xcf:
			h.kind = AG_MP_UINT;
			h.u = be(p + 1, hlen - 1);
			break;
		case 0xd0:
			h.kind = AG_MP_INT;
			h.i = (int8_t)p[1];
			break;
		case 0xd1:
			h.kind = AG_MP_INT;
			h.i = (int16_t)be(p + 1, 2);
			break;
		case 0xd2:
			h.kind = AG_MP_INT;
			h.i = (int32_t)be(p + 1, 4);
			break;
		case 0xd3:
			h.kind = AG_MP_INT;
			h.i = (int64_t)be(p + 1, 8);
			break;
		case 0xca: {
			uint32_t w = (uint32_t)be(p + 1, 4);
			float f;
			memcpy(&f, &w, sizeof(f));
			h.kind = AG_MP_FLOAT32;
			h.f = f;
			break;
		}
		case 0xcb: {
			uint64_t w = be(p + 1, 8);
			memcpy(&h.f, &w, sizeof(h.f));
			h.kind = AG_MP_FLOAT64;
			break;
		}
		case 0xd9:
		case 0xda:
		case 0xdb:
			h.kind = AG_MP_STR;
			h.n = be(p + 1, hlen - 1);
			break;
		case 0xc4:
		case 0xc5:
		case 0xc6:
			h.kind = AG_MP_BIN;
			h.n = be(p + 1, hlen - 1);
			break;
		case 0xd4:
		case 0xd5:
		case 0xd6:
		case 0xd7:
		case 0xd8:
			h.kind = AG_MP_EXT;
			h.n = (uint64_t)1 << (b - 0xd4);
			h.ext_type = (int8_t)p[1];
			break;
		case 0xc7:
		case 0xc8:
		case 0xc9:
			h.kind = AG_MP_EXT;
			h.n = be(p + 1, hlen - 2);
			h.ext_type = (int8_t)p[hlen - 1];
			break;
		case 0xdc:
		case 0xdd:
			h.kind = AG_MP_ARRAY;
			h.n = be(p + 1, hlen - 1);
			break;
		case 0xde:
		case 0xdf:
			h.kind = AG_MP_MAP;
			h.n = be(p + 1, hlen - 1);
			break;
		default:
			return false;
		}
	}
	*ret = h;
	return true;
}

uint64_t ag_mp_items(const ag_mp_head *h)
{
	if (h->kind == AG_MP_ARRAY)
		return h->n;
	if (h->kind == AG_MP_MAP)
		return 2 * h->n;
	return 0;
}

uint64_t ag_mp_payload(const ag_mp_head *h)
{
	return h->kind == AG_MP_STR || h->kind == AG_MP_BIN ||
		       h->kind == AG_MP_EXT
		   ? h->n
		   : 0;
}

size_t ag_mp_object_len(const uint8_t *p, size_t len, uint32_t *ret_flags)
{
	size_t off = 0;
	uint64_t left = 1; /* items still to pass, nested ones included */
	uint32_t flags = 0;
	ag_mp_head h;

	while (left > 0) {
		if (!ag_mp_read_head(p + off, len - off, &h))
			return 0;
		left--;
		off += h.hlen;
		uint64_t pay = ag_mp_payload(&h);
		if (pay > len - off)
			return 0;
		off += (size_t)pay;
		if (h.kind == AG_MP_MAP)
			flags |= AG_VAL_MAP;
		else if (h.kind == AG_MP_EXT && h.ext_type == 1)
			flags |= AG_VAL_REF;
		uint64_t items = ag_mp_items(&h);
		/* Every item takes at least one byte: a count beyond the
		 * bytes left cannot be complete (and cannot overflow). */
		if (items > len - off)
			return 0;
		left += items;
	}
	if (ret_flags)
		*ret_flags = flags;
	return off;
}

static uint32_t be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/*
 * The trusted twin of ag_mp_object_len(): the same preorder walk with a
 * count of items still due, but one switch per header and no bounds, for
 * bytes that were checked once already. It runs for every item a list
 * skips to find item i, so it decodes only what sizes the object.
 */
size_t ag_mp_skip(const uint8_t *p, uint32_t *flags)
{
	const uint8_t *q = p;
	uint64_t left = 1; /* items still to pass, nested ones included */
	uint32_t f = 0;

	while (left > 0) {
		uint8_t b = q[0];

		left--;
		if (b <= 0x7f || b >= 0xe0) { /* fixint */
			q++;
			continue;
		}
		if (b <= 0x8f) { /* fixmap */
			left += 2 * (uint64_t)(b & 0x0f);
			f |= AG_VAL_MAP;
			q++;
			continue;
		}
		if (b <= 0x9f) { /* fixarray */
			left += b & 0x0f;
			q++;
			continue;
		}
		if (b <= 0xbf) { /* fixstr */
			q += 1 + (b & 0x1f);
			continue;
		}
		switch (b) {
		case 0xc4: /* bin 8 */
		case 0xd9: /* str 8 */
			q += 2 + (size_t)q[1];
			break;
		case 0xc5:
		case 0xda:
			q += 3 + (size_t)be16(q + 1);
			break;
		case 0xc6:
		case 0xdb:
			q += 5 + (size_t)be32(q + 1);
			break;
		case 0xc7: /* ext 8: size, type, data */
			f |= q[2] == 1 ? AG_VAL_REF : 0;
			q += 3 + (size_t)q[1];
			break;
		case 0xc8:
			f |= q[3] == 1 ? AG_VAL_REF : 0;
			q += 4 + (size_t)be16(q + 1);
			break;
		case 0xc9:
			f |= q[5] == 1 ? AG_VAL_REF : 0;
			q += 6 + (size_t)be32(q + 1);
			break;
		case 0xd4: /* fixext 1, 2, 4, 8, 16: type, data */
		case 0xd5:
		case 0xd6:
		case 0xd7:
		case 0xd8:
			f |= q[1] == 1 ? AG_VAL_REF : 0;
			q += 2 + ((size_t)1 << (b - 0xd4));
			break;
		case 0xdc: /* array 16 */
			left += be16(q + 1);
			q += 3;
			break;
		case 0xdd:
			left += be32(q + 1);
			q += 5;
			break;
		case 0xde: /* map 16 */
			left += 2 * (uint64_t)be16(q + 1);
			f |= AG_VAL_MAP;
			q += 3;
			break;
		case 0xdf:
			left += 2 * (uint64_t)be32(q + 1);
			f |= AG_VAL_MAP;
			q += 5;
			break;
		default: /* nil, bools, ints, floats: all header */
			q += ag_mp_head_len(b);
			break;
		}
	}
	if (flags != NULL)
		*flags |= f;
	return (size_t)(q - p);
}

void ag_mp_walk_init(ag_mp_walk *w, const void *p, size_t len)
{
	w->p = p;
	w->end = w->p + len;
}

bool ag_mp_walk_next(ag_mp_walk *w, ag_mp_head *ret,
		     const uint8_t **ret_payload)
{
	ag_mp_head h;

	if (!ag_mp_read_head(w->p, (size_t)(w->end - w->p), &h))
		return false;
	const uint8_t *pay = w->p + h.hlen;
	uint64_t n = ag_mp_payload(&h);
	if (n > (uint64_t)(w->end - pay))
		return false;
	w->p = pay + n;
	*ret = h;
	if (ret_payload)
		*ret_payload = pay;
	return true;
}

void ag_mp_obj(const ag_mp_head *h, const uint8_t *p, size_t len,
	       msgpack_object *ret)
{
	const char *pay = (const char *)p + h->hlen;
	msgpack_object o;

	memset(&o, 0, sizeof(o));
	switch ((ag_mp_kind)h->kind) {
	case AG_MP_NIL:
		o.type = MSGPACK_OBJECT_NIL;
		break;
	case AG_MP_BOOL:
		o.type = MSGPACK_OBJECT_BOOLEAN;
		o.via.boolean = h->u != 0;
		break;
	case AG_MP_UINT:
		o.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
		o.via.u64 = h->u;
		break;
	case AG_MP_INT:
		/* msgpack-c's rule: a signed form holding a value >= 0 is a
		 * positive integer. */
		o.type = h->i < 0 ? MSGPACK_OBJECT_NEGATIVE_INTEGER
				  : MSGPACK_OBJECT_POSITIVE_INTEGER;
		o.via.i64 = h->i;
		break;
	case AG_MP_FLOAT32:
		o.type = MSGPACK_OBJECT_FLOAT32;
		o.via.f64 = h->f;
		break;
	case AG_MP_FLOAT64:
		o.type = MSGPACK_OBJECT_FLOAT64;
		o.via.f64 = h->f;
		break;
	case AG_MP_STR:
		o.type = MSGPACK_OBJECT_STR;
		o.via.str.ptr = pay;
		o.via.str.size = (uint32_t)h->n;
		break;
	case AG_MP_BIN:
		o.type = MSGPACK_OBJECT_BIN;
		o.via.bin.ptr = pay;
		o.via.bin.size = (uint32_t)h->n;
		break;
	case AG_MP_EXT:
		o.type = MSGPACK_OBJECT_EXT;
		o.via.ext.type = h->ext_type;
		o.via.ext.ptr = pay;
		o.via.ext.size = (uint32_t)h->n;
		break;
	default: /* a container: its bytes */
		o.type = AG_OBJECT_RAW;
		o.via.bin.ptr = (const char *)p;
		o.via.bin.size = (uint32_t)len;
		break;
	}
	*ret = o;
}
