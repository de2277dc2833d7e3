/*
 * value.c - stored values, per protocol section 5.
 *
 * A stored value is kept as canonical MessagePack bytes: integers in their
 * shortest form and float32 widened to float64. Equal values then have equal
 * bytes, so equality is memcmp() and hashing hashes bytes -- except for
 * values holding a map, whose entries may come in any order; those are
 * decoded and compared structurally (AG_VAL_MAP marks them).
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
			if (o->via.ext.size != 8)
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

int ag_val_from_obj(ag_val *ret, const msgpack_object *o)
{
	ag_buf b;
	uint32_t flags;
	int rc;

	ag_buf_init(&b);
	rc = ag_val_encode(&b, o, &flags);
	if (rc == 0 && b.len > UINT32_MAX)
		rc = AGORA_ELIMIT;
	if (rc < 0) {
		ag_buf_deinit(&b);
		return rc;
	}
	/* Give back the slack of the doubling buffer: values are kept long. */
	uint8_t *p = realloc(b.data, b.len ? b.len : 1);
	ret->data = p ? p : (uint8_t *)b.data;
	ret->len = (uint32_t)b.len;
	ret->flags = flags;
	return 0;
}

int ag_val_dup(ag_val *ret, const ag_val *v)
{
	uint8_t *p = malloc(v->len ? v->len : 1);

	if (p == NULL)
		return AGORA_ENOMEM;
	memcpy(p, v->data, v->len);
	ret->data = p;
	ret->len = v->len;
	ret->flags = v->flags;
	return 0;
}

void ag_val_deinit(ag_val *v)
{
	if (v == NULL)
		return;
	free(v->data);
	v->data = NULL;
	v->len = 0;
	v->flags = 0;
}

int ag_val_unpack(const ag_val *v, msgpack_zone *z, msgpack_object *ret)
{
	size_t off = 0;
	msgpack_unpack_return ur =
	    msgpack_unpack((const char *)v->data, v->len, &off, z, ret);

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
		return a->via.str.size == b->via.str.size &&
		       memcmp(a->via.str.ptr, b->via.str.ptr,
			      a->via.str.size) == 0;
	case MSGPACK_OBJECT_EXT:
		return a->via.ext.type == b->via.ext.type &&
		       a->via.ext.size == b->via.ext.size &&
		       memcmp(a->via.ext.ptr, b->via.ext.ptr,
			      a->via.ext.size) == 0;
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
	if (((a->flags | b->flags) & AG_VAL_MAP) == 0)
		return a->len == b->len &&
		       memcmp(a->data, b->data, a->len) == 0;
	if ((a->flags & AG_VAL_MAP) != (b->flags & AG_VAL_MAP))
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
	if (v->flags & AG_VAL_MAP)
		return mix(seed ^ 0x6d6170);

	uint64_t h = seed ^ (v->len * 0x9e3779b97f4a7c15ULL);
	const uint8_t *p = v->data;
	size_t n = v->len;

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
		snprintf(buf, len, "unknown value");
	}
}
