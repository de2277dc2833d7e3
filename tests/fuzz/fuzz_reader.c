/*
 * fuzz_reader.c - libFuzzer target: the streaming reader (proto/reader.c)
 * and the value functions (proto/value.c) on whatever it hands out.
 *
 * Input: a 4-byte header, then the byte stream.
 *   byte 0: the frame limit, one of LIMITS[]
 *   byte 1: a second limit, set with ag_reader_set_max() ...
 *   byte 2: ... once this many messages came out (0: never), at the end
 *           of a chunk, when a frame may be half read
 *   byte 3: how the stream is cut into chunks: a seed for the chunk sizes,
 *           whose low two bits pick the largest chunk (1, 7, 64 or 4096)
 * The stream goes in chunk by chunk, through ag_reader_feed() or
 * ag_reader_space() + ag_reader_commit(), and after each chunk every
 * complete message is pulled until the reader says 0 or fails.
 *
 * Besides the sanitizers, it checks what the reader promises: each message
 * is the value msgpack-c alone decodes from the same bytes, no frame is
 * larger than the limit in force or deeper than AG_MAX_DEPTH, an error is
 * sticky, and no byte is lost. On each message it runs the header walker
 * (mp.c: the length of the frame is the length of its object) and the value
 * functions: canonical encoding is stable (encoding a decoded canonical
 * value gives the same bytes), canonical values made from the bytes
 * (ag_val_from_raw) are those made from the decoded object, or are refused
 * for a map with two equal keys, and for the first two items of an array
 * that both are valid values, equality is symmetric and implies equal
 * hashes, ordering is antisymmetric and addition commutes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_support.h"

int FUZZ_ENTRY(const uint8_t *data, size_t size);

static const size_t LIMITS[] = { 16, 64, 256, 1024, 4096 };
static const size_t CHUNKS[] = { 1, 7, 64, 4096 };

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

static unsigned obj_depth(const msgpack_object *o)
{
	unsigned d = 0;

	if (o->type == MSGPACK_OBJECT_ARRAY) {
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			unsigned x = obj_depth(&o->via.array.ptr[i]);
			d = x > d ? x : d;
		}
		return d + 1;
	}
	if (o->type == MSGPACK_OBJECT_MAP) {
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			unsigned k = obj_depth(&o->via.map.ptr[i].key);
			unsigned v = obj_depth(&o->via.map.ptr[i].val);
			d = k > d ? k : d;
			d = v > d ? v : d;
		}
		return d + 1;
	}
	return 0;
}

/* Both objects pack to the same bytes (NaN-safe, unlike ==). */
static bool same_bytes(const msgpack_object *a, const msgpack_object *b)
{
	msgpack_sbuffer x, y;
	msgpack_packer px, py;
	bool same;

	msgpack_sbuffer_init(&x);
	msgpack_sbuffer_init(&y);
	msgpack_packer_init(&px, &x, msgpack_sbuffer_write);
	msgpack_packer_init(&py, &y, msgpack_sbuffer_write);
	msgpack_pack_object(&px, *a);
	msgpack_pack_object(&py, *b);
	same = x.size == y.size && memcmp(x.data, y.data, x.size) == 0;
	msgpack_sbuffer_destroy(&x);
	msgpack_sbuffer_destroy(&y);
	return same;
}

static int sign(int x)
{
	return (x > 0) - (x < 0);
}

/* A canonical value of @o made from its packed bytes, as the server makes
 * what it is sent; false when refused (a map with two equal keys). */
static bool raw_val(const msgpack_object *o, ag_val *ret)
{
	msgpack_sbuffer b;
	msgpack_packer pk;
	const char *why = NULL;
	int rc;

	msgpack_sbuffer_init(&b);
	msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
	msgpack_pack_object(&pk, *o);
	rc = ag_val_from_raw(ret, b.data, b.size, &why);
	msgpack_sbuffer_destroy(&b);
	CHECK(rc == 0 || (rc == AGORA_EVALUE && why != NULL) ||
	      rc == AGORA_ELIMIT);
	return rc == 0;
}

/* The value functions on one decoded object. */
static void check_object(const msgpack_object *o)
{
	char small[8], big[160];
	ag_val v, v2;
	msgpack_zone z;
	msgpack_object back;

	ag_obj_describe(o, small, sizeof(small));
	ag_obj_describe(o, big, sizeof(big));
	CHECK(strlen(small) < sizeof(small));
	(void)ag_obj_type_name(o);

	if (ag_val_from_obj(&v, o) == 0) {
		CHECK(msgpack_zone_init(&z, 1024));
		CHECK(ag_val_unpack(&v, &z, &back) == 0);
		CHECK(ag_val_from_obj(&v2, &back) == 0);
		CHECK(ag_val_len(&v) == ag_val_len(&v2) &&
		      memcmp(ag_val_bytes(&v), ag_val_bytes(&v2),
			     ag_val_len(&v)) == 0);
		CHECK(ag_val_flags(&v) == ag_val_flags(&v2));
		CHECK(ag_val_equal(&v, &v2));
		ag_val_deinit(&v2);
		msgpack_zone_destroy(&z);
		ag_val_deinit(&v);
	}
}

/* The value functions on one decoded object, whose bytes are @p. */
static void check_value(const msgpack_object *o, const uint8_t *p, size_t n)
{
	ag_val r1, r2;
	const char *why = NULL;
	int rc;

	/* The walker finds the frame's end where the reader did. */
	CHECK(ag_mp_object_len(p, n, NULL) == n);
	rc = ag_val_from_raw(&r1, p, n, &why);
	if (rc == 0) {
		ag_val v;
		/* The same bytes as from the decoded object, and stable. */
		CHECK(ag_val_from_obj(&v, o) == 0);
		CHECK(ag_val_len(&v) == ag_val_len(&r1) &&
		      memcmp(ag_val_bytes(&v), ag_val_bytes(&r1),
			     ag_val_len(&v)) == 0);
		CHECK(ag_val_flags(&v) == ag_val_flags(&r1));
		CHECK(ag_val_from_raw(&r2, ag_val_bytes(&r1), ag_val_len(&r1),
				      NULL) == 0);
		CHECK(ag_val_len(&r2) == ag_val_len(&r1) &&
		      memcmp(ag_val_bytes(&r2), ag_val_bytes(&r1),
			     ag_val_len(&r1)) == 0);
		ag_val_deinit(&r2);
		ag_val_deinit(&v);
		ag_val_deinit(&r1);
	} else {
		CHECK(rc == AGORA_EVALUE || rc == AGORA_ELIMIT);
		CHECK(why != NULL);
	}
	check_object(o);
}

/* Relations between two decoded objects. */
static void check_pair(const msgpack_object *a, const msgpack_object *b)
{
	bool eq = ag_obj_equal(a, b);
	int c1 = 0, c2 = 0, w1 = 0, w2 = 0;
	int r1, r2;
	msgpack_object s1, s2;

	ag_val va, vb;

	/* Equality is for values the server accepts: with a map of two
	 * equal keys it would depend on the direction, so such a value is
	 * refused where it comes in (ag_val_from_raw). */
	if (!raw_val(a, &va))
		return;
	if (!raw_val(b, &vb)) {
		ag_val_deinit(&va);
		return;
	}
	CHECK(eq == ag_obj_equal(b, a));
	CHECK(eq == ag_val_equal(&va, &vb));
	CHECK(eq == ag_val_equal(&vb, &va));
	if (eq && !(ag_val_flags(&va) & AG_VAL_MAP))
		CHECK(ag_val_hash(&va, 7) == ag_val_hash(&vb, 7));
	ag_val_deinit(&vb);
	ag_val_deinit(&va);

	r1 = ag_obj_compare(a, b, &c1);
	r2 = ag_obj_compare(b, a, &c2);
	CHECK(r1 == r2);
	if (r1 == 0)
		CHECK(sign(c1) == -sign(c2));

	r1 = ag_num_add(a, b, &s1, &w1);
	r2 = ag_num_add(b, a, &s2, &w2);
	CHECK((r1 == 0) == (r2 == 0));
	if (r1 == 0 && s1.type == s2.type) {
		if (s1.type == MSGPACK_OBJECT_FLOAT64)
			CHECK(s1.via.f64 == s2.via.f64 ||
			      (isnan(s1.via.f64) && isnan(s2.via.f64)));
		else
			CHECK(s1.via.u64 == s2.via.u64);
	} else {
		CHECK(r1 != 0 || s1.type == s2.type);
	}
}

static void check_message(const msgpack_object *m, const uint8_t *stream,
			  size_t len, size_t *off, size_t limit)
{
	msgpack_zone z;
	msgpack_object ref;
	size_t start = *off;

	/* The reader checked this frame: msgpack-c may decode it. */
	CHECK(msgpack_zone_init(&z, 1024));
	msgpack_unpack_return ur =
	    msgpack_unpack((const char *)stream, len, off, &z, &ref);
	CHECK(ur == MSGPACK_UNPACK_SUCCESS || ur == MSGPACK_UNPACK_EXTRA_BYTES);
	CHECK(*off - start <= limit);
	CHECK(same_bytes(m, &ref));
	CHECK(obj_depth(m) <= AG_MAX_DEPTH);
	msgpack_zone_destroy(&z);

	check_value(m, stream + start, *off - start);
	if (m->type == MSGPACK_OBJECT_ARRAY && m->via.array.size >= 2)
		check_pair(&m->via.array.ptr[0], &m->via.array.ptr[1]);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	fz in = { data, size };
	size_t limit = LIMITS[fz_u8(&in) % 5];
	size_t limit2 = LIMITS[fz_u8(&in) % 5];
	unsigned switch_after = fz_u8(&in);
	uint8_t cut = fz_u8(&in);
	uint32_t rng = 0x9e3779b9u ^ cut;
	size_t max_chunk = CHUNKS[cut & 3];
	const uint8_t *stream = in.p;
	size_t len = in.n, fed = 0, off = 0, next_limit = 0;
	unsigned nmsg = 0;
	ag_reader r;
	int rc = 0;

	if (ag_reader_init(&r, limit) < 0)
		return 0;
	while (fed < len && rc >= 0) {
		size_t chunk, avail;

		rng ^= rng << 13; /* xorshift32 */
		rng ^= rng >> 17;
		rng ^= rng << 5;
		chunk = 1 + rng % max_chunk;
		if (chunk > len - fed)
			chunk = len - fed;
		if (rng & 0x80000000u) {
			CHECK(ag_reader_feed(&r, stream + fed, chunk) == 0);
		} else {
			char *p = ag_reader_space(&r, chunk, &avail);
			CHECK(p != NULL && avail >= chunk);
			memcpy(p, stream + fed, chunk);
			ag_reader_commit(&r, chunk);
		}
		fed += chunk;

		msgpack_object m;
		while ((rc = ag_reader_next(&r, &m)) == 1) {
			check_message(&m, stream, fed, &off, limit);
			if (next_limit) {
				limit = next_limit;
				next_limit = 0;
			}
			nmsg++;
		}
		if (rc == 0 && switch_after > 0 && nmsg >= switch_after) {
			/* Mid-frame, the new limit waits for the next frame
			 * (protocol section 1). */
			if (r.pos > r.start)
				next_limit = limit2;
			else
				limit = limit2;
			ag_reader_set_max(&r, limit2);
			switch_after = 0;
		}
		if (rc < 0) {
			CHECK(rc == AGORA_EPROTOCOL);
			CHECK(r.errmsg[0] != '\0');
			CHECK(ag_reader_next(&r, &m) == rc); /* sticky */
		} else {
			CHECK(ag_reader_pending(&r) == fed - off);
		}
	}
	ag_reader_deinit(&r);
	return 0;
}
