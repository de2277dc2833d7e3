/*
 * value.c - stored values, per protocol section 5.
 *
 * A stored value is kept as canonical MessagePack bytes: integers in their
 * shortest form and float32 widened to float64. Equal values then have equal
 * bytes, so equality is memcmp() and hashing hashes bytes -- except for
 * values holding a map, whose entries may come in any order; those are
 * decoded and compared structurally (AG_VAL_MAP marks them).
 *
 * Representation (ag_proto.h): up to AG_VAL_INLINE_MAX bytes live inside the
 * 16-byte ag_val, zero-padded, so every integer and float and short strings
 * cost no allocation; longer values are one malloc'd block of exactly their
 * length. A view (ag_val_view) borrows bytes it never frees. Only this file
 * builds owned values; everything else reads them through the accessors.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ag_proto.h"

static int encode(msgpack_packer *pk, const msgpack_object *o, uint32_t *flags)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return msgpack_pack_nil(pk);
	case MSGPACK_OBJECT_BOOLEAN:
		return o->via.boolean ? msgpack_pack_true(pk)
				      : msgpack_pack_false(pk);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return msgpack_pack_uint64(pk, o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return msgpack_pack_int64(pk, o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return msgpack_pack_double(pk, o->via.f64);
	case MSGPACK_OBJECT_STR:
		if (msgpack_pack_str(pk, o->via.str.size) < 0)
			return -1;
		return msgpack_pack_str_body(pk, o->via.str.ptr,
					     o->via.str.size);
	case MSGPACK_OBJECT_BIN:
		if (msgpack_pack_bin(pk, o->via.bin.size) < 0)
			return -1;
		return msgpack_pack_bin_body(pk, o->via.bin.ptr,
					     o->via.bin.size);
	case MSGPACK_OBJECT_EXT:
		if (o->via.ext.type == 1) {
			if (o->via.ext.size != AG_REF_LEN)
				return AGORA_EVALUE;
			*flags |= AG_VAL_REF;
		}
		if (msgpack_pack_ext(pk, o->via.ext.size, o->via.ext.type) < 0)
			return -1;
		return msgpack_pack_ext_body(pk, o->via.ext.ptr,
					     o->via.ext.size);
	case MSGPACK_OBJECT_ARRAY:
		if (msgpack_pack_array(pk, o->via.array.size) < 0)
			return -1;
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			int rc = encode(pk, &o->via.array.ptr[i], flags);
			if (rc < 0)
				return rc;
		}
		return 0;
	case MSGPACK_OBJECT_MAP:
		*flags |= AG_VAL_MAP;
		if (msgpack_pack_map(pk, o->via.map.size) < 0)
			return -1;
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			int rc = encode(pk, &o->via.map.ptr[i].key, flags);
			if (rc == 0)
				rc = encode(pk, &o->via.map.ptr[i].val, flags);
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	return AGORA_EVALUE;
}

int ag_val_encode(ag_buf *b, const msgpack_object *o, uint32_t *ret_flags)
{
	msgpack_packer pk;
	uint32_t flags = 0;
	int rc;

	msgpack_packer_init(&pk, b, ag_buf_write);
	rc = encode(&pk, o, &flags);
	if (rc == -1 || b->oom)
		return AGORA_ENOMEM;
	if (rc < 0)
		return rc;
	*ret_flags = flags;
	return 0;
}

/* The meta word of an owned value of @len bytes with AG_VAL_* @flags. */
static uint32_t meta_of(size_t len, uint32_t flags, uint32_t bits)
{
	return (uint32_t)len |
	       ((flags & (AG_VAL_MAP | AG_VAL_REF)) << AG_VAL_LEN_BITS) | bits;
}

int ag_val_from_bytes(ag_val *ret, const void *p, size_t len, uint32_t flags)
{
	ag_val v;

	if (len > AG_VAL_MAX_LEN)
		return AGORA_ELIMIT;
	/* Zeroed first: the unused tail of b[] is zero, so inline values of
	 * equal bytes are equal structs. */
	memset(&v, 0, sizeof(v));
	if (len <= AG_VAL_INLINE_MAX) {
		if (len > 0)
			memcpy(v.b, p, len);
		v.meta = meta_of(len, flags, AG_VAL_META_INLINE);
	} else {
		uint8_t *q = malloc(len);

		if (q == NULL)
			return AGORA_ENOMEM;
		memcpy(q, p, len);
		memcpy(v.b, &q, sizeof(q));
		v.meta = meta_of(len, flags, 0);
	}
	*ret = v;
	return 0;
}

/*
 * A packer sink that keeps the first AG_VAL_INLINE_MAX bytes on the stack
 * and spills into an ag_buf only beyond them, so a small value is encoded
 * without touching the heap.
 */
typedef struct small_sink {
	uint8_t small[AG_VAL_INLINE_MAX];
	size_t n; /* bytes in small[], while spill is unused */
	ag_buf spill;
} small_sink;

static int small_write(void *data, const char *buf, size_t len)
{
	small_sink *s = data;

	if (s->spill.data == NULL && s->n + len <= sizeof(s->small)) {
		if (len > 0) /* an empty body may come with a NULL @buf */
			memcpy(s->small + s->n, buf, len);
		s->n += len;
		return 0;
	}
	if (s->spill.data == NULL && s->n > 0 &&
	    ag_buf_append(&s->spill, s->small, s->n) < 0)
		return -1;
	return ag_buf_append(&s->spill, buf, len) == 0 ? 0 : -1;
}

int ag_val_from_obj(ag_val *ret, const msgpack_object *o)
{
	msgpack_packer pk;
	small_sink s;
	uint32_t flags = 0;
	ag_val v;
	int rc;

	s.n = 0;
	ag_buf_init(&s.spill);
	msgpack_packer_init(&pk, &s, small_write);
	rc = encode(&pk, o, &flags);
	if (rc == -1 || s.spill.oom)
		rc = AGORA_ENOMEM;
	if (rc == 0 && s.spill.data == NULL) {
		rc = ag_val_from_bytes(ret, s.small, s.n, flags);
	} else if (rc == 0 && s.spill.len > AG_VAL_MAX_LEN) {
		rc = AGORA_ELIMIT;
	} else if (rc == 0) {
		/* Give back the slack of the doubling buffer: values are
		 * kept long. */
		uint8_t *p = realloc(s.spill.data, s.spill.len);

		if (p == NULL)
			p = (uint8_t *)s.spill.data;
		memset(&v, 0, sizeof(v));
		memcpy(v.b, &p, sizeof(p));
		v.meta = meta_of(s.spill.len, flags, 0);
		*ret = v;
		return 0;
	}
	ag_buf_deinit(&s.spill);
	return rc;
}

/* ---- canonical values from bytes ------------------------------------------
 *
 * Values that come in with a request are made canonical straight from their
 * bytes, without msgpack-c's object tree (24 bytes per element, so a request
 * of small items would cost 24 times its size): one pass over the headers
 * (mp.c) writes the canonical form, checks every reference's length, and
 * refuses a map with two equal keys, whose equality would otherwise depend
 * on the order of the comparison. The only memory beyond the output is the
 * list of the keys of the maps open at a time (8 bytes a key) and, for a map
 * of more than a few keys, a hash index over them while it is checked.
 */

#define CANON_DEPTH (AG_MAX_DEPTH + 2)

typedef struct canon_level {
	uint64_t left;    /* items of this container still due */
	size_t map_start; /* a map: where its header went in the output */
	bool is_map;
} canon_level;

typedef struct canon {
	ag_buf *out;
	size_t base; /* out->len when this value began */
	const char *why;
} canon;

/* A key of a map being checked: its canonical bytes in the output. */
typedef struct key_span {
	const uint8_t *p;
	size_t len;
} key_span;

static bool key_is_map(const key_span *k)
{
	uint32_t f = 0;
	ag_mp_object_len(k->p, k->len, &f);
	return (f & AG_VAL_MAP) != 0;
}

/* Equal keys: the same bytes, or, for keys holding maps (with @z), the
 * same structure with map entries in any order. */
static bool keys_equal(const key_span *a, const key_span *b, msgpack_zone *z)
{
	if (a->len == b->len && memcmp(a->p, b->p, a->len) == 0)
		return true;
	if (z == NULL)
		return false;
	msgpack_object x, y;
	size_t o1 = 0, o2 = 0;
	msgpack_zone_clear(z);
	if (msgpack_unpack((const char *)a->p, a->len, &o1, z, &x) !=
		MSGPACK_UNPACK_SUCCESS ||
	    msgpack_unpack((const char *)b->p, b->len, &o2, z, &y) !=
		MSGPACK_UNPACK_SUCCESS)
		return false;
	return ag_obj_equal(&x, &y);
}

/* The key at @p (canonical, within @end) and the offset past its value. */
static const uint8_t *next_key(const uint8_t *p, const uint8_t *end,
			       key_span *ret)
{
	ret->p = p;
	ret->len = ag_mp_object_len(p, (size_t)(end - p), NULL);
	p += ret->len;
	return p + ag_mp_object_len(p, (size_t)(end - p), NULL);
}

/* At most this many keys of one map may hold maps: they are compared
 * structurally, pair by pair. */
#define MAP_KEYS_HOLDING_MAPS_MAX 64

static int dup_key(canon *c)
{
	c->why = "a map with a duplicate key";
	return AGORA_EVALUE;
}

/*
 * The map whose canonical bytes begin at @start and run to the end of the
 * output is complete: refuse it when two keys are equal. Its keys are read
 * back from the output, so nothing is kept per key while the value is
 * made; a map of more than 8 keys gets a hash index of 4 bytes a slot for
 * the time of the check.
 */
static int check_map(canon *c, size_t start)
{
	const uint8_t *p = (const uint8_t *)c->out->data + c->base + start;
	const uint8_t *end = (const uint8_t *)c->out->data + c->out->len;
	ag_mp_head h;
	key_span a, b;
	size_t nmap = 0;
	int rc = 0;

	ag_mp_read_head(p, (size_t)(end - p), &h);
	const uint8_t *first = p + h.hlen;
	uint64_t n = h.n;
	if (n < 2)
		return 0;
	/* Keys holding maps may be equal with their entries in another
	 * order: compared structurally among themselves. */
	p = first;
	for (uint64_t i = 0; i < n; i++) {
		p = next_key(p, end, &a);
		nmap += key_is_map(&a);
	}
	if (nmap > MAP_KEYS_HOLDING_MAPS_MAX) {
		c->why = "a map with more than 64 keys that hold maps";
		return AGORA_EVALUE;
	}
	if (nmap > 1) {
		msgpack_zone z;
		if (!msgpack_zone_init(&z, 1024))
			return AGORA_ENOMEM;
		const uint8_t *pi = first;
		for (uint64_t i = 0; i < n && rc == 0; i++) {
			pi = next_key(pi, end, &a);
			if (!key_is_map(&a))
				continue;
			const uint8_t *pj = pi;
			for (uint64_t j = i + 1; j < n && rc == 0; j++) {
				pj = next_key(pj, end, &b);
				if (key_is_map(&b) && keys_equal(&a, &b, &z))
					rc = dup_key(c);
			}
		}
		msgpack_zone_destroy(&z);
		if (rc < 0)
			return rc;
	}
	if (n <= 8) {
		const uint8_t *pi = first;
		for (uint64_t i = 0; i < n; i++) {
			pi = next_key(pi, end, &a);
			const uint8_t *pj = pi;
			for (uint64_t j = i + 1; j < n; j++) {
				pj = next_key(pj, end, &b);
				if (keys_equal(&a, &b, NULL))
					return dup_key(c);
			}
		}
		return 0;
	}
	if ((size_t)(end - first) >= UINT32_MAX)
		return AGORA_ELIMIT;
	size_t nslots = 16;
	while (nslots < n + n / 2)
		nslots *= 2;
	uint32_t *slots = calloc(nslots, sizeof(*slots)); /* offset + 1 */
	if (slots == NULL)
		return AGORA_ENOMEM;
	p = first;
	for (uint64_t i = 0; i < n && rc == 0; i++) {
		const uint8_t *kp = p;
		p = next_key(p, end, &a);
		ag_val v = ag_val_view(a.p, (uint32_t)a.len, 0);
		size_t at = (size_t)ag_val_hash(&v, 0x9e3779b97f4a7c15ULL) &
			    (nslots - 1);
		while (slots[at] != 0) {
			const uint8_t *q = first + slots[at] - 1;
			b.p = q;
			b.len = ag_mp_object_len(q, (size_t)(end - q), NULL);
			if (keys_equal(&a, &b, NULL)) {
				rc = dup_key(c);
				break;
			}
			at = (at + 1) & (nslots - 1);
		}
		slots[at] = (uint32_t)(kp - first) + 1;
	}
	free(slots);
	return rc;
}

/* Write the canonical form of one header (and its payload). */
static int canon_head(msgpack_packer *pk, const ag_mp_head *h,
		      const uint8_t *pay, canon *c, uint32_t *flags)
{
	switch ((ag_mp_kind)h->kind) {
	case AG_MP_NIL:
		return msgpack_pack_nil(pk);
	case AG_MP_BOOL:
		return h->u ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
	case AG_MP_UINT:
		return msgpack_pack_uint64(pk, h->u);
	case AG_MP_INT:
		return msgpack_pack_int64(pk, h->i);
	case AG_MP_FLOAT32:
	case AG_MP_FLOAT64:
		return msgpack_pack_double(pk, h->f);
	case AG_MP_STR:
		if (msgpack_pack_str(pk, (size_t)h->n) < 0)
			return -1;
		return msgpack_pack_str_body(pk, pay, (size_t)h->n);
	case AG_MP_BIN:
		if (msgpack_pack_bin(pk, (size_t)h->n) < 0)
			return -1;
		return msgpack_pack_bin_body(pk, pay, (size_t)h->n);
	case AG_MP_EXT:
		if (h->ext_type == 1) {
			if (h->n != AG_REF_LEN) {
				c->why = "a reference (ext 1) whose data has "
					 "the wrong length";
				return AGORA_EVALUE;
			}
			*flags |= AG_VAL_REF;
		}
		if (msgpack_pack_ext(pk, (size_t)h->n, h->ext_type) < 0)
			return -1;
		return msgpack_pack_ext_body(pk, pay, (size_t)h->n);
	case AG_MP_ARRAY:
		return msgpack_pack_array(pk, (size_t)h->n);
	case AG_MP_MAP:
		*flags |= AG_VAL_MAP;
		return msgpack_pack_map(pk, (size_t)h->n);
	}
	return AGORA_EVALUE;
}

static int canon_run(canon *c, const uint8_t *p, size_t len,
		     uint32_t *ret_flags)
{
	canon_level st[CANON_DEPTH];
	int d = 0;
	uint32_t flags = 0;
	msgpack_packer pk;
	ag_mp_walk w;
	ag_mp_head h;
	const uint8_t *pay;
	int rc;

	msgpack_packer_init(&pk, c->out, ag_buf_write);
	ag_mp_walk_init(&w, p, len);
	st[0] = (canon_level){ .left = 1 };
	while (d >= 0) {
		canon_level *top;
		if (!ag_mp_walk_next(&w, &h, &pay)) {
			c->why = "an incomplete or malformed value";
			return AGORA_EVALUE;
		}
		size_t at = c->out->len - c->base;
		rc = canon_head(&pk, &h, pay, c, &flags);
		if (rc == -1 || c->out->oom)
			return AGORA_ENOMEM;
		if (rc < 0)
			return rc;
		uint64_t items = ag_mp_items(&h);
		if (items > 0) {
			if (d + 1 >= CANON_DEPTH) {
				c->why = "a value nested too deep";
				return AGORA_EVALUE;
			}
			st[++d] =
			    (canon_level){ .left = items,
					   .map_start = at,
					   .is_map = h.kind == AG_MP_MAP };
			continue;
		}
		/* One item is complete: close what it completes. */
		while (d >= 0) {
			top = &st[d];
			if (--top->left > 0)
				break;
			if (top->is_map &&
			    (rc = check_map(c, top->map_start)) < 0)
				return rc;
			d--;
		}
	}
	if (w.p != w.end) {
		c->why = "bytes after the value";
		return AGORA_EVALUE;
	}
	*ret_flags = flags;
	return 0;
}

int ag_val_canon(ag_buf *out, const void *p, size_t len, uint32_t *ret_flags,
		 const char **ret_why)
{
	canon c = { .out = out, .base = out->len };
	uint32_t flags = 0;
	int rc = canon_run(&c, p, len, &flags);

	if (rc < 0) {
		out->len = c.base;
		out->oom = false;
		if (ret_why)
			*ret_why = c.why ? c.why : "out of memory";
		return rc;
	}
	*ret_flags = flags;
	return 0;
}

int ag_val_from_raw(ag_val *ret, const void *p, size_t len,
		    const char **ret_why)
{
	ag_buf b;
	uint32_t flags;
	int rc;

	ag_buf_init(&b);
	rc = ag_val_canon(&b, p, len, &flags, ret_why);
	if (rc == 0 && b.len > AG_VAL_MAX_LEN) {
		if (ret_why)
			*ret_why = "a value too large";
		rc = AGORA_ELIMIT;
	}
	if (rc == 0 && b.len <= AG_VAL_INLINE_MAX) {
		rc = ag_val_from_bytes(ret, b.data, b.len, flags);
	} else if (rc == 0) {
		/* Give back the slack of the doubling buffer: values are
		 * kept long. */
		uint8_t *q = realloc(b.data, b.len);
		ag_val v;

		if (q == NULL)
			q = (uint8_t *)b.data;
		memset(&v, 0, sizeof(v));
		memcpy(v.b, &q, sizeof(q));
		v.meta = meta_of(b.len, flags, 0);
		*ret = v;
		return 0;
	}
	ag_buf_deinit(&b);
	return rc;
}

int ag_val_dup(ag_val *ret, const ag_val *v)
{
	return ag_val_from_bytes(ret, ag_val_bytes(v), ag_val_len(v),
				 ag_val_flags(v));
}

void ag_val_deinit(ag_val *v)
{
	if (v == NULL)
		return;
	if (ag_val_heap(v) > 0)
		free((void *)ag_val_bytes(v));
	memset(v, 0, sizeof(*v));
}

int ag_val_unpack(const ag_val *v, msgpack_zone *z, msgpack_object *ret)
{
	size_t off = 0;
	msgpack_unpack_return ur = msgpack_unpack((const char *)ag_val_bytes(v),
						  ag_val_len(v), &off, z, ret);

	if (ur == MSGPACK_UNPACK_SUCCESS)
		return 0;
	return ur == MSGPACK_UNPACK_NOMEM_ERROR ? AGORA_ENOMEM : AGORA_EVALUE;
}

static bool is_float(const msgpack_object *o)
{
	return o->type == MSGPACK_OBJECT_FLOAT32 ||
	       o->type == MSGPACK_OBJECT_FLOAT64;
}

static bool is_int(const msgpack_object *o)
{
	return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
	       o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
}

bool ag_obj_equal(const msgpack_object *a, const msgpack_object *b)
{
	if (is_float(a) && is_float(b)) /* bitwise, as the stored bytes */
		return memcmp(&a->via.f64, &b->via.f64, sizeof(double)) == 0;
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case MSGPACK_OBJECT_NIL:
		return true;
	case MSGPACK_OBJECT_BOOLEAN:
		return a->via.boolean == b->via.boolean;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return a->via.u64 == b->via.u64;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return a->via.i64 == b->via.i64;
	case MSGPACK_OBJECT_STR:
	case MSGPACK_OBJECT_BIN:
		/* msgpack-c may leave ptr NULL when size is 0, and
		 * memcmp(NULL, ...) is undefined even for 0 bytes. */
		return a->via.str.size == b->via.str.size &&
		       (a->via.str.size == 0 ||
			memcmp(a->via.str.ptr, b->via.str.ptr,
			       a->via.str.size) == 0);
	case MSGPACK_OBJECT_EXT:
		return a->via.ext.type == b->via.ext.type &&
		       a->via.ext.size == b->via.ext.size &&
		       (a->via.ext.size == 0 ||
			memcmp(a->via.ext.ptr, b->via.ext.ptr,
			       a->via.ext.size) == 0);
	case MSGPACK_OBJECT_ARRAY:
		if (a->via.array.size != b->via.array.size)
			return false;
		for (uint32_t i = 0; i < a->via.array.size; i++)
			if (!ag_obj_equal(&a->via.array.ptr[i],
					  &b->via.array.ptr[i]))
				return false;
		return true;
	case MSGPACK_OBJECT_MAP:
		if (a->via.map.size != b->via.map.size)
			return false;
		/* Order-free; keys are unique within a map in practice, and
		 * a size match plus every entry of a found in b is equality
		 * for maps with unique keys. */
		for (uint32_t i = 0; i < a->via.map.size; i++) {
			const msgpack_object_kv *x = &a->via.map.ptr[i];
			bool found = false;
			for (uint32_t j = 0; j < b->via.map.size && !found; j++)
				found = ag_obj_equal(&x->key,
						     &b->via.map.ptr[j].key) &&
					ag_obj_equal(&x->val,
						     &b->via.map.ptr[j].val);
			if (!found)
				return false;
		}
		return true;
	default:
		return false;
	}
}

bool ag_val_equal(const ag_val *a, const ag_val *b)
{
	uint32_t af = ag_val_flags(a), bf = ag_val_flags(b);

	if (((af | bf) & AG_VAL_MAP) == 0)
		return ag_val_len(a) == ag_val_len(b) &&
		       memcmp(ag_val_bytes(a), ag_val_bytes(b),
			      ag_val_len(a)) == 0;
	if ((af & AG_VAL_MAP) != (bf & AG_VAL_MAP))
		return false;

	msgpack_zone z;
	msgpack_object x, y;
	bool eq = false;

	if (!msgpack_zone_init(&z, 2048))
		return false;
	if (ag_val_unpack(a, &z, &x) == 0 && ag_val_unpack(b, &z, &y) == 0)
		eq = ag_obj_equal(&x, &y);
	msgpack_zone_destroy(&z);
	return eq;
}

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

uint64_t ag_val_hash(const ag_val *v, uint64_t seed)
{
	/* Values holding a map are never dict keys (unhashable, as in
	 * Python); one hash for all of them keeps equal values equal. */
	if (ag_val_flags(v) & AG_VAL_MAP)
		return mix(seed ^ 0x6d6170);

	uint64_t h = seed ^ (ag_val_len(v) * 0x9e3779b97f4a7c15ULL);
	const uint8_t *p = ag_val_bytes(v);
	size_t n = ag_val_len(v);

	while (n >= 8) {
		uint64_t k;
		memcpy(&k, p, 8);
		h = (h ^ mix(k)) * 0x9e3779b97f4a7c15ULL;
		p += 8;
		n -= 8;
	}
	uint64_t k = 0;
	memcpy(&k, p, n);
	h = (h ^ mix(k ^ n)) * 0x9e3779b97f4a7c15ULL;
	return mix(h);
}

static int cmp_int(const msgpack_object *a, const msgpack_object *b)
{
	bool an = a->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
	bool bn = b->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;

	if (an != bn)
		return an ? -1 : 1;
	if (an)
		return (a->via.i64 > b->via.i64) - (a->via.i64 < b->via.i64);
	return (a->via.u64 > b->via.u64) - (a->via.u64 < b->via.u64);
}

static double num_d(const msgpack_object *o)
{
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		return (double)o->via.u64;
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		return (double)o->via.i64;
	return o->via.f64;
}

/*
 * Compare integer @a with the double @f exactly, on any platform: split @f
 * into its integer part (exact in int64 or uint64 once the range is checked)
 * and its fraction. NaN orders with nothing; call it equal.
 */
static int cmp_int_float(const msgpack_object *a, double f)
{
	if (isnan(f))
		return 0;
	if (f >= 18446744073709551616.0) /* 2^64 */
		return -1;
	if (f < -9223372036854775808.0) /* -2^63 */
		return 1;

	double fl = floor(f);
	msgpack_object b;
	if (fl < 0) {
		b.type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
		b.via.i64 = (int64_t)fl;
	} else {
		b.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
		b.via.u64 = (uint64_t)fl;
	}
	int c = cmp_int(a, &b);
	if (c != 0)
		return c;
	return f > fl ? -1 : 0;
}

int ag_obj_compare(const msgpack_object *a, const msgpack_object *b,
		   int *ret_cmp)
{
	bool anum = is_int(a) || is_float(a), bnum = is_int(b) || is_float(b);

	if (anum && bnum) {
		if (is_int(a) && is_int(b)) {
			*ret_cmp = cmp_int(a, b);
		} else {
			if (is_float(a) && is_float(b))
				*ret_cmp = (a->via.f64 > b->via.f64) -
					   (a->via.f64 < b->via.f64);
			else if (is_int(a))
				*ret_cmp = cmp_int_float(a, b->via.f64);
			else
				*ret_cmp = -cmp_int_float(b, a->via.f64);
		}
		return 0;
	}
	if (a->type != b->type)
		return AGORA_ETYPE;
	switch (a->type) {
	case MSGPACK_OBJECT_BOOLEAN:
		*ret_cmp = (int)a->via.boolean - (int)b->via.boolean;
		return 0;
	case MSGPACK_OBJECT_STR:
	case MSGPACK_OBJECT_BIN: {
		uint32_t n = a->via.str.size < b->via.str.size
				 ? a->via.str.size
				 : b->via.str.size;
		int c = n ? memcmp(a->via.str.ptr, b->via.str.ptr, n) : 0;
		if (c == 0)
			c = (a->via.str.size > b->via.str.size) -
			    (a->via.str.size < b->via.str.size);
		*ret_cmp = (c > 0) - (c < 0);
		return 0;
	}
	case MSGPACK_OBJECT_ARRAY: {
		uint32_t na = a->via.array.size, nb = b->via.array.size;
		for (uint32_t i = 0; i < na && i < nb; i++) {
			const msgpack_object *x = &a->via.array.ptr[i];
			const msgpack_object *y = &b->via.array.ptr[i];
			if (ag_obj_equal(x, y))
				continue;
			return ag_obj_compare(x, y, ret_cmp);
		}
		*ret_cmp = (na > nb) - (na < nb);
		return 0;
	}
	default:
		return AGORA_ETYPE;
	}
}

int ag_num_add(const msgpack_object *a, const msgpack_object *b,
	       msgpack_object *ret, int *ret_which)
{
	if (!is_int(a) && !is_float(a)) {
		if (ret_which)
			*ret_which = 0;
		return AGORA_ETYPE;
	}
	if (!is_int(b) && !is_float(b)) {
		if (ret_which)
			*ret_which = 1;
		return AGORA_ETYPE;
	}
	if (is_float(a) || is_float(b)) {
		/* As Python: the int becomes a double, then a double add. */
		ret->type = MSGPACK_OBJECT_FLOAT64;
		ret->via.f64 = num_d(a) + num_d(b);
		return 0;
	}

	__int128 x = a->type == MSGPACK_OBJECT_POSITIVE_INTEGER
			 ? (__int128)a->via.u64
			 : (__int128)a->via.i64;
	__int128 y = b->type == MSGPACK_OBJECT_POSITIVE_INTEGER
			 ? (__int128)b->via.u64
			 : (__int128)b->via.i64;
	__int128 s = x + y;

	if (s < (__int128)INT64_MIN || s > (__int128)UINT64_MAX)
		return AGORA_EVALUE;
	if (s < 0) {
		ret->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
		ret->via.i64 = (int64_t)s;
	} else {
		ret->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
		ret->via.u64 = (uint64_t)s;
	}
	return 0;
}

const char *ag_obj_type_name(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return "nil";
	case MSGPACK_OBJECT_BOOLEAN:
		return "bool";
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return "int";
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return "float";
	case MSGPACK_OBJECT_STR:
		return "str";
	case MSGPACK_OBJECT_BIN:
		return "bin";
	case MSGPACK_OBJECT_ARRAY:
		return "array";
	case MSGPACK_OBJECT_MAP:
		return "map";
	case MSGPACK_OBJECT_EXT:
		return "ext";
	}
	if (o->type == AG_OBJECT_RAW && o->via.bin.size > 0)
		return ((uint8_t)o->via.bin.ptr[0] & 0xf0) == 0x80 ||
			       (uint8_t)o->via.bin.ptr[0] == 0xde ||
			       (uint8_t)o->via.bin.ptr[0] == 0xdf
			   ? "map"
			   : "array";
	return "unknown";
}

void ag_obj_describe(const msgpack_object *o, char *buf, size_t len)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		snprintf(buf, len, "nil");
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		snprintf(buf, len, "bool %s",
			 o->via.boolean ? "true" : "false");
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		snprintf(buf, len, "int %llu", (unsigned long long)o->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		snprintf(buf, len, "int %lld", (long long)o->via.i64);
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		snprintf(buf, len, "float %g", o->via.f64);
		break;
	case MSGPACK_OBJECT_STR: {
		int n = o->via.str.size > 40 ? 40 : (int)o->via.str.size;
		/* Cut at a character boundary, not inside one. */
		while (n > 0 && (uint32_t)n < o->via.str.size &&
		       ((uint8_t)o->via.str.ptr[n] & 0xc0) == 0x80)
			n--;
		snprintf(buf, len, "str \"%.*s\"%s", n, o->via.str.ptr,
			 o->via.str.size > 40 ? "..." : "");
		break;
	}
	case MSGPACK_OBJECT_BIN:
		snprintf(buf, len, "bin of %u bytes", o->via.bin.size);
		break;
	case MSGPACK_OBJECT_ARRAY:
		snprintf(buf, len, "array of %u", o->via.array.size);
		break;
	case MSGPACK_OBJECT_MAP:
		snprintf(buf, len, "map of %u", o->via.map.size);
		break;
	case MSGPACK_OBJECT_EXT:
		snprintf(buf, len, "ext %d of %u bytes", o->via.ext.type,
			 o->via.ext.size);
		break;
	default:
		if (o->type == AG_OBJECT_RAW) {
			ag_mp_head h;
			if (ag_mp_read_head((const uint8_t *)o->via.bin.ptr,
					    o->via.bin.size, &h) &&
			    (h.kind == AG_MP_ARRAY || h.kind == AG_MP_MAP)) {
				snprintf(buf, len, "%s of %llu",
					 h.kind == AG_MP_ARRAY ? "array"
							       : "map",
					 (unsigned long long)h.n);
				break;
			}
		}
		snprintf(buf, len, "unknown value");
	}
}
