/*
 * value_json.c - agora values as JSON and back (value_json.h has the
 * mapping). Base64 is written here rather than borrowed so that the tool
 * needs nothing beyond libagora and jansson.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "value_json.h"

/* The tag names; a map with one of them as a key is written as "$map". */
static const char *const tag_names[] = { "$bin",  "$ext",   "$map",
					 "$uint", "$float", "$str64" };

static bool is_tag_name(const char *s, size_t len)
{
	for (size_t i = 0; i < sizeof(tag_names) / sizeof(tag_names[0]); i++)
		if (strlen(tag_names[i]) == len &&
		    memcmp(tag_names[i], s, len) == 0)
			return true;
	return false;
}

/* ---- pool ---------------------------------------------------------------- */

void cli_pool_free(cli_pool *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->len; i++)
		free(p->ptrs[i]);
	free(p->ptrs);
	p->ptrs = NULL;
	p->len = p->cap = 0;
}

/* @n bytes (zeroed) owned by @p; NULL when out of memory. */
static void *pool_alloc(cli_pool *p, size_t n)
{
	void *m;

	if (p->len == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		void **ptrs = realloc(p->ptrs, cap * sizeof(*ptrs));
		if (ptrs == NULL)
			return NULL;
		p->ptrs = ptrs;
		p->cap = cap;
	}
	m = calloc(1, n ? n : 1);
	if (m != NULL)
		p->ptrs[p->len++] = m;
	return m;
}

/* ---- base64 (RFC 4648, with padding) ------------------------------------- */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 of @p[0..n) as a NUL-terminated malloc'ed string, or NULL. */
static char *base64_encode(const unsigned char *p, size_t n)
{
	char *out = malloc((n + 2) / 3 * 4 + 1), *q = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t w = (uint32_t)p[i] << 16;

		if (i + 1 < n)
			w |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			w |= p[i + 2];
		*q++ = b64[(w >> 18) & 63];
		*q++ = b64[(w >> 12) & 63];
		*q++ = i + 1 < n ? b64[(w >> 6) & 63] : '=';
		*q++ = i + 2 < n ? b64[w & 63] : '=';
	}
	*q = '\0';
	return out;
}

static int b64_digit(char c)
{
	const char *at = c ? strchr(b64, c) : NULL;
	return at ? (int)(at - b64) : -1;
}

/*
 * Decode @s[0..len) into @pool. Padding may be left out; anything else
 * that is not base64 fails. Returns 0 with the bytes in *ret and *ret_len, or
 * -1 (bad text or out of memory: *ret_len is then 0 or 1).
 */
static int base64_decode(cli_pool *pool, const char *s, size_t len,
			 unsigned char **ret, size_t *ret_len)
{
	unsigned char *out;
	size_t n = 0;
	uint32_t acc = 0;
	int bits = 0;

	*ret_len = 0;
	while (len > 0 && s[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return -1;
	out = pool_alloc(pool, len / 4 * 3 + 3);
	if (out == NULL) {
		*ret_len = 1;
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		int d = b64_digit(s[i]);
		if (d < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	*ret = out;
	*ret_len = n;
	return 0;
}

/* ---- values to JSON ------------------------------------------------------ */

/* The fewest significant digits that print @d so that it reads back. */
static int float_digits(double d)
{
	char buf[40];

	for (int p = 1; p < 17; p++) {
		snprintf(buf, sizeof(buf), "%.*g", p, d);
		if (strtod(buf, NULL) == d)
			return p;
	}
	return 17;
}

/* {"@tag": @val} (steals @val); NULL when out of memory. */
static json_t *tagged(const char *tag, json_t *val)
{
	json_t *o = json_object();

	if (o == NULL || val == NULL || json_object_set_new(o, tag, val) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *tagged_b64(const char *tag, const char *p, size_t n)
{
	char *text = base64_encode((const unsigned char *)p, n);
	json_t *o = text ? tagged(tag, json_string(text)) : NULL;

	free(text);
	return o;
}

static json_t *map_as_pairs(const agora_value *v, int *prec)
{
	json_t *pairs = json_array();

	if (pairs == NULL)
		return NULL;
	for (size_t i = 0; i < v->via.map.len; i++) {
		json_t *pair = json_array();
		if (pair == NULL ||
		    json_array_append_new(
			pair, cli_value_to_json(&v->via.map.items[i].key,
						prec)) < 0 ||
		    json_array_append_new(
			pair, cli_value_to_json(&v->via.map.items[i].val,
						prec)) < 0 ||
		    json_array_append_new(pairs, pair) < 0) {
			json_decref(pairs);
			return NULL;
		}
	}
	return tagged("$map", pairs);
}

static json_t *map_to_json(const agora_value *v, int *prec)
{
	json_t *o;

	for (size_t i = 0; i < v->via.map.len; i++) {
		const agora_value *k = &v->via.map.items[i].key;
		if (k->type != AGORA_STR ||
		    is_tag_name(k->via.str.ptr, k->via.str.len))
			return map_as_pairs(v, prec);
	}
	o = json_object();
	if (o == NULL)
		return NULL;
	for (size_t i = 0; i < v->via.map.len; i++) {
		const agora_pair *kv = &v->via.map.items[i];
		json_t *val = cli_value_to_json(&kv->val, prec);

		if (val == NULL) {
			json_decref(o);
			return NULL;
		}
		/* Fails for a key that is not UTF-8 (or out of memory):
		 * then the pairs form says it exactly. */
		if (json_object_setn_new(o, kv->key.via.str.ptr,
					 kv->key.via.str.len, val) < 0) {
			json_decref(o);
			return map_as_pairs(v, prec);
		}
	}
	return o;
}

json_t *cli_value_to_json(const agora_value *v, int *prec)
{
	json_t *j;
	char digits[24];

	switch (v->type) {
	case AGORA_NIL:
		return json_null();
	case AGORA_BOOL:
		return json_boolean(v->via.b);
	case AGORA_INT:
		return json_integer((json_int_t)v->via.i);
	case AGORA_UINT:
		if (v->via.u <= INT64_MAX)
			return json_integer((json_int_t)v->via.u);
		snprintf(digits, sizeof(digits), "%" PRIu64, v->via.u);
		return tagged("$uint", json_string(digits));
	case AGORA_FLOAT:
		if (isnan(v->via.f))
			return tagged("$float", json_string("nan"));
		if (isinf(v->via.f))
			return tagged(
			    "$float",
			    json_string(v->via.f > 0 ? "inf" : "-inf"));
		if (float_digits(v->via.f) > *prec)
			*prec = float_digits(v->via.f);
		return json_real(v->via.f);
	case AGORA_STR:
		j = json_stringn(v->via.str.ptr ? v->via.str.ptr : "",
				 v->via.str.len);
		if (j == NULL)
			return tagged_b64("$str64", v->via.str.ptr,
					  v->via.str.len);
		return j;
	case AGORA_BIN:
		return tagged_b64("$bin", v->via.str.ptr, v->via.str.len);
	case AGORA_EXT: {
		char *text = base64_encode(
		    (const unsigned char *)v->via.str.ptr, v->via.str.len);
		j = text ? tagged("$ext", json_integer(v->ext_type)) : NULL;
		if (j != NULL &&
		    json_object_set_new(j, "data", json_string(text)) < 0) {
			json_decref(j);
			j = NULL;
		}
		free(text);
		return j;
	}
	case AGORA_ARRAY:
		j = json_array();
		for (size_t i = 0; j != NULL && i < v->via.array.len; i++) {
			if (json_array_append_new(
				j, cli_value_to_json(&v->via.array.items[i],
						     prec)) < 0) {
				json_decref(j);
				j = NULL;
			}
		}
		return j;
	case AGORA_MAP:
		return map_to_json(v, prec);
	}
	return NULL;
}

char *cli_json_dump(const json_t *j, int prec)
{
	size_t flags = JSON_ENCODE_ANY | JSON_INDENT(0);

	if (prec > 0)
		flags |= JSON_REAL_PRECISION(prec);
	return json_dumps(j, flags);
}

char *cli_value_dump(const agora_value *v)
{
	int prec = 1;
	json_t *j = cli_value_to_json(v, &prec);
	char *s = j ? cli_json_dump(j, prec) : NULL;

	json_decref(j);
	return s;
}

/* ---- JSON to values ------------------------------------------------------ */

json_t *cli_json_parse(const char *text, char *err, size_t errlen)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);

	if (j == NULL)
		snprintf(err, errlen, "%s", e.text);
	return j;
}

struct conv {
	cli_pool *pool;
	char *err;
	size_t errlen;
};

static int __attribute__((format(printf, 2, 3)))
conv_fail(struct conv *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int from_json(struct conv *c, json_t *j, agora_value *out);

static int b64_field(struct conv *c, json_t *o, const char *tag,
		     const char *field, agora_value *out)
{
	json_t *s = json_object_get(o, field);
	unsigned char *bytes = NULL;
	size_t n;

	if (!json_is_string(s))
		return conv_fail(c, "%s: \"%s\" must be a base64 string", tag,
				 field);
	if (base64_decode(c->pool, json_string_value(s), json_string_length(s),
			  &bytes, &n) < 0)
		return n ? conv_fail(c, "out of memory")
			 : conv_fail(c, "%s: \"%s\" is not base64", tag, field);
	out->via.str.ptr = (const char *)bytes;
	out->via.str.len = n;
	return 0;
}

/* The object @o holds the tag @tag: read it into @out. */
static int from_tag(struct conv *c, json_t *o, const char *tag,
		    agora_value *out)
{
	size_t want = strcmp(tag, "$ext") == 0 ? 2 : 1;
	json_t *v = json_object_get(o, tag);

	if (json_object_size(o) != want)
		return conv_fail(c,
				 "%s: a tagged object has %s; for a map with "
				 "this key write {\"$map\": [[KEY, VALUE], "
				 "...]}",
				 tag,
				 want == 2 ? "the keys \"$ext\" and \"data\" "
					     "only"
					   : "one key only");
	*out = agora_nil();
	if (strcmp(tag, "$bin") == 0) {
		out->type = AGORA_BIN;
		return b64_field(c, o, tag, tag, out);
	}
	if (strcmp(tag, "$str64") == 0) {
		out->type = AGORA_STR;
		return b64_field(c, o, tag, tag, out);
	}
	if (strcmp(tag, "$ext") == 0) {
		json_int_t t = json_is_integer(v) ? json_integer_value(v) : 999;
		if (t < -128 || t > 127)
			return conv_fail(c, "$ext: the type must be an integer "
					    "from -128 to 127");
		out->type = AGORA_EXT;
		out->ext_type = (int8_t)t;
		return b64_field(c, o, tag, "data", out);
	}
	if (strcmp(tag, "$uint") == 0) {
		const char *s = json_is_string(v) ? json_string_value(v) : "";
		char *end;
		errno = 0;
		unsigned long long u = strtoull(s, &end, 10);
		if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0)
			return conv_fail(c,
					 "$uint: want a string of decimal "
					 "digits up to 18446744073709551615");
		*out = agora_uint(u);
		return 0;
	}
	if (strcmp(tag, "$float") == 0) {
		const char *s = json_is_string(v) ? json_string_value(v) : "";
		if (strcmp(s, "nan") == 0)
			*out = agora_float(NAN);
		else if (strcmp(s, "inf") == 0)
			*out = agora_float(INFINITY);
		else if (strcmp(s, "-inf") == 0)
			*out = agora_float(-INFINITY);
		else
			return conv_fail(c, "$float: want \"nan\", \"inf\" or "
					    "\"-inf\"");
		return 0;
	}
	/* $map */
	if (!json_is_array(v))
		return conv_fail(c,
				 "$map: want an array of [KEY, VALUE] pairs");
	size_t n = json_array_size(v);
	agora_pair *items = pool_alloc(c->pool, n * sizeof(*items));
	if (items == NULL)
		return conv_fail(c, "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_t *pair = json_array_get(v, i);
		if (!json_is_array(pair) || json_array_size(pair) != 2)
			return conv_fail(c,
					 "$map: item %zu is not a [KEY, "
					 "VALUE] pair",
					 i);
		if (from_json(c, json_array_get(pair, 0), &items[i].key) < 0 ||
		    from_json(c, json_array_get(pair, 1), &items[i].val) < 0)
			return -1;
	}
	*out = agora_map(items, n);
	return 0;
}

static int from_object(struct conv *c, json_t *o, agora_value *out)
{
	const char *key;
	size_t keylen, i = 0;
	json_t *val;
	agora_pair *items;

	json_object_keylen_foreach(o, key, keylen, val)
	{
		if (is_tag_name(key, keylen))
			return from_tag(c, o, key, out);
	}
	items = pool_alloc(c->pool, json_object_size(o) * sizeof(*items));
	if (items == NULL)
		return conv_fail(c, "out of memory");
	json_object_keylen_foreach(o, key, keylen, val)
	{
		items[i].key = agora_strn(key, keylen);
		if (from_json(c, val, &items[i].val) < 0)
			return -1;
		i++;
	}
	*out = agora_map(items, i);
	return 0;
}

static int from_json(struct conv *c, json_t *j, agora_value *out)
{
	switch (json_typeof(j)) {
	case JSON_NULL:
		*out = agora_nil();
		return 0;
	case JSON_TRUE:
	case JSON_FALSE:
		*out = agora_bool(json_is_true(j));
		return 0;
	case JSON_INTEGER:
		*out = agora_int(json_integer_value(j));
		return 0;
	case JSON_REAL:
		*out = agora_float(json_real_value(j));
		return 0;
	case JSON_STRING:
		*out = agora_strn(json_string_value(j), json_string_length(j));
		return 0;
	case JSON_ARRAY: {
		size_t n = json_array_size(j);
		agora_value *items = pool_alloc(c->pool, n * sizeof(*items));
		if (items == NULL)
			return conv_fail(c, "out of memory");
		for (size_t i = 0; i < n; i++)
			if (from_json(c, json_array_get(j, i), &items[i]) < 0)
				return -1;
		*out = agora_array(items, n);
		return 0;
	}
	case JSON_OBJECT:
		return from_object(c, j, out);
	}
	return conv_fail(c, "unknown JSON type");
}

int cli_json_to_value(json_t *j, cli_pool *pool, agora_value *ret, char *err,
		      size_t errlen)
{
	struct conv c = { pool, err, errlen };
	agora_value v;

	if (from_json(&c, j, &v) < 0)
		return -1;
	*ret = v;
	return 0;
}
