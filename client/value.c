/*
 * value.c - agora_value: the values a program sends and gets back.
 *
 * Values the caller builds (agora_int(), agora_str(), ...) point into the
 * caller's memory; values the library returns own every byte they point to,
 * each array, map and string in its own allocation, so agora_value_free()
 * walks the tree. This file packs values into MessagePack for requests
 * (ag_value_pack), decodes msgpack_objects of responses into owned values
 * (ag_value_unpack), and gives the public helpers: free, copy, section 5
 * equality, to_int and a JSON-like formatter for messages and debugging.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- packing ------------------------------------------------------------- */

int ag_value_pack(msgpack_packer *pk, const agora_value *v, unsigned depth)
{
	int rc;

	/* Only containers count toward the server's nesting limit. */
	if ((v->type == AGORA_ARRAY || v->type == AGORA_MAP) &&
	    depth > AG_MAX_DEPTH)
		return AGORA_EINVAL;
	switch (v->type) {
	case AGORA_NIL:
		msgpack_pack_nil(pk);
		return 0;
	case AGORA_BOOL:
		if (v->via.b)
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
		return 0;
	case AGORA_INT:
		msgpack_pack_int64(pk, v->via.i);
		return 0;
	case AGORA_UINT:
		msgpack_pack_uint64(pk, v->via.u);
		return 0;
	case AGORA_FLOAT:
		msgpack_pack_double(pk, v->via.f);
		return 0;
	case AGORA_STR:
	case AGORA_BIN:
	case AGORA_EXT:
		if (v->via.str.len > UINT32_MAX ||
		    (v->via.str.len > 0 && v->via.str.ptr == NULL))
			return AGORA_EINVAL;
		if (v->type == AGORA_STR)
			msgpack_pack_str_with_body(pk, v->via.str.ptr,
						   v->via.str.len);
		else if (v->type == AGORA_BIN)
			msgpack_pack_bin_with_body(pk, v->via.str.ptr,
						   v->via.str.len);
		else
			msgpack_pack_ext_with_body(pk, v->via.str.ptr,
						   v->via.str.len, v->ext_type);
		return 0;
	case AGORA_ARRAY:
		if (v->via.array.len > UINT32_MAX ||
		    (v->via.array.len > 0 && v->via.array.items == NULL))
			return AGORA_EINVAL;
		msgpack_pack_array(pk, v->via.array.len);
		for (size_t i = 0; i < v->via.array.len; i++) {
			rc = ag_value_pack(pk, &v->via.array.items[i],
					   depth + 1);
			if (rc < 0)
				return rc;
		}
		return 0;
	case AGORA_MAP:
		if (v->via.map.len > UINT32_MAX ||
		    (v->via.map.len > 0 && v->via.map.items == NULL))
			return AGORA_EINVAL;
		msgpack_pack_map(pk, v->via.map.len);
		for (size_t i = 0; i < v->via.map.len; i++) {
			rc = ag_value_pack(pk, &v->via.map.items[i].key,
					   depth + 1);
			if (rc < 0)
				return rc;
			rc = ag_value_pack(pk, &v->via.map.items[i].val,
					   depth + 1);
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	return AGORA_EINVAL;
}

/* ---- decoding ------------------------------------------------------------ */

/* A NUL-terminated copy of @len bytes at @p; never NULL unless out of
 * memory, even for @len 0. */
static char *dup_bytes(const char *p, size_t len)
{
	char *s = malloc(len + 1);

	if (s == NULL)
		return NULL;
	if (len > 0)
		memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

int ag_value_unpack(const msgpack_object *o, agora_value *ret)
{
	agora_value v = agora_nil();
	const char *p = NULL;
	size_t len = 0;
	int rc;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		v = agora_bool(o->via.boolean);
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > (uint64_t)INT64_MAX)
			v = agora_uint(o->via.u64);
		else
			v = agora_int((int64_t)o->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		v = agora_int(o->via.i64);
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		v = agora_float(o->via.f64);
		break;
	case MSGPACK_OBJECT_STR:
	case MSGPACK_OBJECT_BIN:
	case MSGPACK_OBJECT_EXT:
		if (o->type == MSGPACK_OBJECT_STR) {
			v.type = AGORA_STR;
			p = o->via.str.ptr;
			len = o->via.str.size;
		} else if (o->type == MSGPACK_OBJECT_BIN) {
			v.type = AGORA_BIN;
			p = o->via.bin.ptr;
			len = o->via.bin.size;
		} else {
			v.type = AGORA_EXT;
			v.ext_type = o->via.ext.type;
			p = o->via.ext.ptr;
			len = o->via.ext.size;
		}
		v.via.str.ptr = dup_bytes(p, len);
		if (v.via.str.ptr == NULL)
			return AGORA_ENOMEM;
		v.via.str.len = len;
		break;
	case MSGPACK_OBJECT_ARRAY:
		v.type = AGORA_ARRAY;
		if (o->via.array.size == 0)
			break;
		v.via.array.items =
		    calloc(o->via.array.size, sizeof(*v.via.array.items));
		if (v.via.array.items == NULL)
			return AGORA_ENOMEM;
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			rc = ag_value_unpack(&o->via.array.ptr[i],
					     &v.via.array.items[i]);
			if (rc < 0) {
				agora_value_free(&v);
				return rc;
			}
			/* Count as we go so that a failure frees only what
			 * was decoded. */
			v.via.array.len = i + 1;
		}
		break;
	case MSGPACK_OBJECT_MAP:
		v.type = AGORA_MAP;
		if (o->via.map.size == 0)
			break;
		v.via.map.items =
		    calloc(o->via.map.size, sizeof(*v.via.map.items));
		if (v.via.map.items == NULL)
			return AGORA_ENOMEM;
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			agora_pair *pair = &v.via.map.items[i];

			rc =
			    ag_value_unpack(&o->via.map.ptr[i].key, &pair->key);
			if (rc == 0) {
				rc = ag_value_unpack(&o->via.map.ptr[i].val,
						     &pair->val);
				if (rc < 0)
					agora_value_free(&pair->key);
			}
			if (rc < 0) {
				agora_value_free(&v);
				return rc;
			}
			v.via.map.len = i + 1;
		}
		break;
	}
	*ret = v;
	return 0;
}

/* ---- public helpers ------------------------------------------------------ */

void agora_value_free(agora_value *v)
{
	if (v == NULL)
		return;
	switch (v->type) {
	case AGORA_STR:
	case AGORA_BIN:
	case AGORA_EXT:
		free((char *)v->via.str.ptr);
		break;
	case AGORA_ARRAY:
		for (size_t i = 0; i < v->via.array.len; i++)
			agora_value_free(&v->via.array.items[i]);
		free(v->via.array.items);
		break;
	case AGORA_MAP:
		for (size_t i = 0; i < v->via.map.len; i++) {
			agora_value_free(&v->via.map.items[i].key);
			agora_value_free(&v->via.map.items[i].val);
		}
		free(v->via.map.items);
		break;
	default:
		break;
	}
	*v = agora_nil();
}

/* Deep copy; on failure *ret holds nothing that needs freeing. */
static int copy_value(const agora_value *v, agora_value *ret, unsigned depth)
{
	agora_value c = *v;
	int rc;

	if (depth > AG_MAX_DEPTH * 2)
		return AGORA_EINVAL;
	switch (v->type) {
	case AGORA_NIL:
	case AGORA_BOOL:
	case AGORA_INT:
	case AGORA_UINT:
	case AGORA_FLOAT:
		break;
	case AGORA_STR:
	case AGORA_BIN:
	case AGORA_EXT:
		if (v->via.str.len > 0 && v->via.str.ptr == NULL)
			return AGORA_EINVAL;
		c.via.str.ptr = dup_bytes(v->via.str.ptr, v->via.str.len);
		if (c.via.str.ptr == NULL)
			return AGORA_ENOMEM;
		break;
	case AGORA_ARRAY:
		c.via.array.items = NULL;
		c.via.array.len = 0;
		if (v->via.array.len == 0)
			break;
		if (v->via.array.items == NULL)
			return AGORA_EINVAL;
		c.via.array.items =
		    calloc(v->via.array.len, sizeof(*c.via.array.items));
		if (c.via.array.items == NULL)
			return AGORA_ENOMEM;
		for (size_t i = 0; i < v->via.array.len; i++) {
			rc = copy_value(&v->via.array.items[i],
					&c.via.array.items[i], depth + 1);
			if (rc < 0) {
				agora_value_free(&c);
				return rc;
			}
			c.via.array.len = i + 1;
		}
		break;
	case AGORA_MAP:
		c.via.map.items = NULL;
		c.via.map.len = 0;
		if (v->via.map.len == 0)
			break;
		if (v->via.map.items == NULL)
			return AGORA_EINVAL;
		c.via.map.items =
		    calloc(v->via.map.len, sizeof(*c.via.map.items));
		if (c.via.map.items == NULL)
			return AGORA_ENOMEM;
		for (size_t i = 0; i < v->via.map.len; i++) {
			agora_pair *pair = &c.via.map.items[i];

			rc = copy_value(&v->via.map.items[i].key, &pair->key,
					depth + 1);
			if (rc == 0) {
				rc = copy_value(&v->via.map.items[i].val,
						&pair->val, depth + 1);
				if (rc < 0)
					agora_value_free(&pair->key);
			}
			if (rc < 0) {
				agora_value_free(&c);
				return rc;
			}
			c.via.map.len = i + 1;
		}
		break;
	default:
		return AGORA_EINVAL;
	}
	*ret = c;
	return 0;
}

/*
 * Copy @v deeply into library-owned memory. Returns 0, AGORA_ENOMEM, or
 * AGORA_EINVAL for a malformed value (NULL data with a length, an unknown
 * type, absurd nesting). *ret is written only on success.
 */
int agora_value_copy(agora_value v, agora_value *ret)
{
	if (ret == NULL)
		return AGORA_EINVAL;
	return copy_value(&v, ret, 0);
}

static bool bytes_equal(const agora_value *a, const agora_value *b)
{
	return a->via.str.len == b->via.str.len &&
	       (a->via.str.len == 0 ||
		memcmp(a->via.str.ptr, b->via.str.ptr, a->via.str.len) == 0);
}

static bool equal_depth(const agora_value *a, const agora_value *b,
			unsigned depth)
{
	if (depth > AG_MAX_DEPTH * 2)
		return false;
	/* Integers compare by value whichever of INT and UINT carries them. */
	if ((a->type == AGORA_INT || a->type == AGORA_UINT) &&
	    (b->type == AGORA_INT || b->type == AGORA_UINT)) {
		bool an = a->type == AGORA_INT && a->via.i < 0;
		bool bn = b->type == AGORA_INT && b->via.i < 0;

		if (an || bn)
			return an && bn && a->via.i == b->via.i;
		return (a->type == AGORA_INT ? (uint64_t)a->via.i : a->via.u) ==
		       (b->type == AGORA_INT ? (uint64_t)b->via.i : b->via.u);
	}
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case AGORA_NIL:
		return true;
	case AGORA_BOOL:
		return a->via.b == b->via.b;
	case AGORA_FLOAT:
		return a->via.f == b->via.f;
	case AGORA_STR:
	case AGORA_BIN:
		return bytes_equal(a, b);
	case AGORA_EXT:
		return a->ext_type == b->ext_type && bytes_equal(a, b);
	case AGORA_ARRAY:
		if (a->via.array.len != b->via.array.len)
			return false;
		for (size_t i = 0; i < a->via.array.len; i++)
			if (!equal_depth(&a->via.array.items[i],
					 &b->via.array.items[i], depth + 1))
				return false;
		return true;
	case AGORA_MAP:
		if (a->via.map.len != b->via.map.len)
			return false;
		/* Entry order does not matter: look each key of @a up in
		 * @b. Quadratic, but maps compared here are small. */
		for (size_t i = 0; i < a->via.map.len; i++) {
			const agora_pair *pa = &a->via.map.items[i];
			bool found = false;

			for (size_t j = 0; j < b->via.map.len && !found; j++) {
				const agora_pair *pb = &b->via.map.items[j];

				if (equal_depth(&pa->key, &pb->key,
						depth + 1)) {
					if (!equal_depth(&pa->val, &pb->val,
							 depth + 1))
						return false;
					found = true;
				}
			}
			if (!found)
				return false;
		}
		return true;
	default:
		return false;
	}
}

/*
 * Equality of section 5: INT 1 equals UINT 1, 1 differs from 1.0, bool is
 * not an integer, str differs from bin, maps equal whatever their entry
 * order. NaN equals nothing. Never fails.
 */
bool agora_value_equal(agora_value a, agora_value b)
{
	return equal_depth(&a, &b, 0);
}

/*
 * The integer in @v: 0 with *ret set for an INT, or a UINT that fits
 * int64_t; AGORA_EVALUE for a UINT above INT64_MAX; AGORA_ETYPE for any
 * other type (bool and float included); AGORA_EINVAL for a NULL @ret.
 */
int agora_value_to_int(agora_value v, int64_t *ret)
{
	if (ret == NULL)
		return AGORA_EINVAL;
	if (v.type == AGORA_INT) {
		*ret = v.via.i;
		return 0;
	}
	if (v.type != AGORA_UINT)
		return AGORA_ETYPE;
	if (v.via.u > (uint64_t)INT64_MAX)
		return AGORA_EVALUE;
	*ret = (int64_t)v.via.u;
	return 0;
}

/* ---- formatting ---------------------------------------------------------- */

/* An output that counts everything and stores what fits, as snprintf. */
struct out {
	char *buf;
	size_t cap; /* bytes of buf, the NUL included */
	size_t len; /* bytes the whole text needs */
};

static void out_bytes(struct out *o, const char *s, size_t n)
{
	if (o->len < o->cap) {
		size_t room = o->cap - 1 - o->len;

		memcpy(o->buf + o->len, s, n < room ? n : room);
	}
	o->len += n;
}

static void out_str(struct out *o, const char *s)
{
	out_bytes(o, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3)))
out_fmt(struct out *o, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		out_bytes(o, tmp,
			  (size_t)n < sizeof(tmp) ? (size_t)n
						  : sizeof(tmp) - 1);
}

/* A double in the fewest digits that read back as the same double, always
 * with a '.' or exponent so that it reads as a float. */
static void out_double(struct out *o, double f)
{
	char tmp[40];

	if (isnan(f)) {
		out_str(o, "nan");
		return;
	}
	if (isinf(f)) {
		out_str(o, f < 0 ? "-inf" : "inf");
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, f);
		if (strtod(tmp, NULL) == f)
			break;
	}
	out_str(o, tmp);
	if (strpbrk(tmp, ".e") == NULL)
		out_str(o, ".0");
}

static void out_quoted(struct out *o, const char *s, size_t n)
{
	out_bytes(o, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		switch (ch) {
		case '"':
			out_str(o, "\\\"");
			break;
		case '\\':
			out_str(o, "\\\\");
			break;
		case '\n':
			out_str(o, "\\n");
			break;
		case '\r':
			out_str(o, "\\r");
			break;
		case '\t':
			out_str(o, "\\t");
			break;
		case '\b':
			out_str(o, "\\b");
			break;
		case '\f':
			out_str(o, "\\f");
			break;
		default:
			if (ch < 0x20 || ch == 0x7f)
				out_fmt(o, "\\u%04x", ch);
			else
				out_bytes(o, (const char *)&s[i], 1);
		}
	}
	out_bytes(o, "\"", 1);
}

/* Bins up to this size print as base64; longer ones only as their size. */
#define FORMAT_BIN_MAX 48

static void out_base64(struct out *o, const unsigned char *p, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789+/";
	char q[4];

	for (size_t i = 0; i < n; i += 3) {
		uint32_t w = (uint32_t)p[i] << 16;

		if (i + 1 < n)
			w |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			w |= p[i + 2];
		q[0] = tab[(w >> 18) & 63];
		q[1] = tab[(w >> 12) & 63];
		q[2] = i + 1 < n ? tab[(w >> 6) & 63] : '=';
		q[3] = i + 2 < n ? tab[w & 63] : '=';
		out_bytes(o, q, 4);
	}
}

static void format_value(struct out *o, const agora_value *v, unsigned depth)
{
	if (depth > AG_MAX_DEPTH * 2) {
		out_str(o, "...");
		return;
	}
	switch (v->type) {
	case AGORA_NIL:
		out_str(o, "null");
		break;
	case AGORA_BOOL:
		out_str(o, v->via.b ? "true" : "false");
		break;
	case AGORA_INT:
		out_fmt(o, "%" PRId64, v->via.i);
		break;
	case AGORA_UINT:
		out_fmt(o, "%" PRIu64, v->via.u);
		break;
	case AGORA_FLOAT:
		out_double(o, v->via.f);
		break;
	case AGORA_STR:
		out_quoted(o, v->via.str.ptr,
			   v->via.str.ptr ? v->via.str.len : 0);
		break;
	case AGORA_BIN:
		if (v->via.str.len <= FORMAT_BIN_MAX && v->via.str.ptr) {
			out_str(o, "b64\"");
			out_base64(o, (const unsigned char *)v->via.str.ptr,
				   v->via.str.len);
			out_str(o, "\"");
		} else {
			out_fmt(o, "<bin %zu bytes>", v->via.str.len);
		}
		break;
	case AGORA_EXT:
		out_fmt(o, "ext(%d, %zu bytes)", v->ext_type, v->via.str.len);
		break;
	case AGORA_ARRAY:
		out_str(o, "[");
		for (size_t i = 0; i < v->via.array.len; i++) {
			if (i > 0)
				out_str(o, ",");
			format_value(o, &v->via.array.items[i], depth + 1);
		}
		out_str(o, "]");
		break;
	case AGORA_MAP:
		out_str(o, "{");
		for (size_t i = 0; i < v->via.map.len; i++) {
			if (i > 0)
				out_str(o, ",");
			format_value(o, &v->via.map.items[i].key, depth + 1);
			out_str(o, ":");
			format_value(o, &v->via.map.items[i].val, depth + 1);
		}
		out_str(o, "}");
		break;
	default:
		out_fmt(o, "<type %d>", (int)v->type);
		break;
	}
}

/*
 * Write @v as compact JSON-like text into @buf, at most @len bytes with the
 * NUL (nothing is written when @len is 0; @buf may then be NULL). nil is
 * null, strings are quoted with JSON escapes, floats always show a '.' or an
 * exponent (nan, inf), bins of up to 48 bytes print as b64"...", longer ones
 * as <bin N bytes>, ext as ext(TYPE, N bytes); arrays [a,b], maps {k:v}.
 * Returns the length of the whole text, as snprintf does.
 */
size_t agora_value_format(agora_value v, char *buf, size_t len)
{
	struct out o = { buf, len, 0 };

	format_value(&o, &v, 0);
	if (len > 0)
		buf[o.len < len ? o.len : len - 1] = '\0';
	return o.len;
}

const agora_value *agora_map_get(const agora_value *m, const char *key)
{
	size_t n;

	if (m == NULL || key == NULL || m->type != AGORA_MAP)
		return NULL;
	n = strlen(key);
	for (size_t i = 0; i < m->via.map.len; i++) {
		const agora_value *k = &m->via.map.items[i].key;

		if (k->type == AGORA_STR && k->via.str.len == n &&
		    memcmp(k->via.str.ptr, key, n) == 0)
			return &m->via.map.items[i].val;
	}
	return NULL;
}
