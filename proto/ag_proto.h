/*
 * ag_proto.h - the wire layer shared by agorad and libagora.
 *
 * No sockets and no event loop live here. The parts:
 *   - errors:    names and texts generated from AGORA_ERRORS (errors.c);
 *   - ag_buf:    a growable byte buffer that a msgpack_packer can write to;
 *   - ag_reader: feed it bytes, pull complete messages; it enforces the
 *                limits of docs/protocol.md section 1 before msgpack-c
 *                allocates anything (reader.c);
 *   - encoders:  requests, responses and error arrays (encode.c);
 *   - handshake: nonces and proofs of section 2 (handshake.c);
 *   - values:    canonical stored values, equality, hashing and Python's
 *                ordering per section 5 (value.c).
 */
#ifndef AG_PROTO_H
#define AG_PROTO_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agora_errors.h"

#define AG_PROTOCOL_VERSION 1
#define AG_MAX_DEPTH 32
#define AG_DEFAULT_MAX_MESSAGE ((size_t)64 << 20)
#define AG_PREAUTH_MAX_MESSAGE ((size_t)1024)
/* Seconds a TCP peer may stop answering before its connection is dropped
 * (agorad --peer-timeout, AGORA_PEER_TIMEOUT), and the client's limit on
 * connecting and its handshake (AGORA_CONNECT_TIMEOUT). */
#define AG_DEFAULT_PEER_TIMEOUT 30.0
#define AG_DEFAULT_CONNECT_TIMEOUT 10.0
/* The largest peer or connect timeout accepted: a day, which keeps every
 * derived millisecond count inside an int. */
#define AG_MAX_PEER_TIMEOUT 86400.0
#define AG_NONCE_LEN 32
#define AG_PROOF_LEN 32
/* Bytes of a TLS channel binding (SHA-256 of the server certificate). */
#define AG_BINDING_LEN 32
#define AG_NAME_MAX 255
/* The data of a reference (ext type 1, protocol section 8), in bytes: the
 * object's id (AG_REF_ID_LEN bytes, big-endian), then a secret the server
 * drew for the object (AG_REF_SECRET_LEN bytes), which only those it
 * handed the reference to know. */
#define AG_REF_ID_LEN 8
#define AG_REF_SECRET_LEN 8
#define AG_REF_LEN (AG_REF_ID_LEN + AG_REF_SECRET_LEN)

/* MessagePack-RPC message kinds (first element of the message array). */
enum { AG_MSG_REQUEST = 0, AG_MSG_RESPONSE = 1, AG_MSG_NOTIFY = 2 };

/* ---- errors -------------------------------------------------------------- */

/* "KEY" for AGORA_EKEY (or for the wire code 8 negated); "UNKNOWN" else. */
const char *ag_error_name(int rc);
/* A short English text for a negative code; never NULL. */
const char *ag_error_text(int rc);
/* Write the printf-style message into @err (@errlen bytes; NULL or 0:
 * nothing) and return @rc: for functions that report why they failed. */
int ag_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Wire code for a negative code, or 0 when the code never travels. */
int ag_error_wire_code(int rc);
/* Negative code for a wire code; AGORA_EPROTOCOL for an unknown one. */
int ag_error_from_wire(int64_t code);

/* ---- ag_buf -------------------------------------------------------------- */

typedef struct ag_buf {
	char *data;
	size_t len;
	size_t cap;
	bool oom; /* an append failed; data holds what fitted before it */
} ag_buf;

void ag_buf_init(ag_buf *b);
void ag_buf_deinit(ag_buf *b);
/* Append; on allocation failure sets b->oom and returns AGORA_ENOMEM. */
int ag_buf_append(ag_buf *b, const void *data, size_t len);
/* msgpack_packer write callback; @data is an ag_buf. */
int ag_buf_write(void *data, const char *buf, size_t len);

/* ---- UTF-8 (utf8.c) --------------------------------------------------- */

/* True when the @n bytes at @s are strict UTF-8 (RFC 3629: no overlong
 * form, no surrogate, nothing above U+10FFFF). */
bool ag_utf8_valid(const void *s, size_t n);
/*
 * Make the NUL-terminated message @s of @n bytes valid UTF-8 in place: a
 * character cut short at its end (by a bounded buffer) is dropped, any
 * other invalid byte becomes '?'. Returns the new length.
 */
size_t ag_utf8_fix(char *s, size_t n);

/* ---- the header walker (mp.c) ------------------------------------------- */

/*
 * One MessagePack header, as ag_mp_read_head() reads it. For str, bin and
 * ext, n is the payload's size (ext_type the ext's type); for an array its
 * items, for a map its pairs. Scalars carry their value: u (UINT, and BOOL
 * as 0/1), i (INT: negative or signed forms), f (FLOAT32 widened, FLOAT64).
 */
typedef enum ag_mp_kind {
	AG_MP_NIL,
	AG_MP_BOOL,
	AG_MP_UINT,
	AG_MP_INT,
	AG_MP_FLOAT32,
	AG_MP_FLOAT64,
	AG_MP_STR,
	AG_MP_BIN,
	AG_MP_EXT,
	AG_MP_ARRAY,
	AG_MP_MAP,
} ag_mp_kind;

typedef struct ag_mp_head {
	uint8_t kind; /* ag_mp_kind */
	uint8_t hlen; /* bytes of the header (a scalar: all of it) */
	int8_t ext_type;
	uint64_t n;
	union {
		uint64_t u;
		int64_t i;
		double f;
	};
} ag_mp_head;

/* The header length that the first byte @b announces (length fields and
 * an ext's type included); 0 for 0xc1, which MessagePack never uses. */
extern const uint8_t ag_mp_hlen[256];
static inline unsigned ag_mp_head_len(uint8_t b)
{
	return ag_mp_hlen[b];
}
/* Read the header at @p (@have bytes there). False when the header is
 * incomplete or 0xc1; *ret is written only on success. The one-byte
 * headers of small ints, short strs, arrays and maps (most of a request)
 * are read inline; the rest by ag_mp_read_head_slow(). */
bool ag_mp_read_head_slow(const uint8_t *p, size_t have, ag_mp_head *ret);
static inline bool ag_mp_read_head(const uint8_t *p, size_t have,
				   ag_mp_head *ret)
{
	static const uint8_t kind[4] = { AG_MP_MAP, AG_MP_ARRAY, AG_MP_STR,
					 AG_MP_STR };
	uint8_t b;

	if (have == 0)
		return false;
	b = p[0];
	if (b <= 0x7f || b >= 0xe0) {
		ret->kind = b <= 0x7f ? AG_MP_UINT : AG_MP_INT;
		ret->hlen = 1;
		ret->ext_type = 0;
		ret->n = 0;
		ret->i = (int8_t)b;
		if (b <= 0x7f)
			ret->u = b;
		return true;
	}
	if (b <= 0xbf) {
		ret->kind = kind[(b - 0x80) >> 4];
		ret->hlen = 1;
		ret->ext_type = 0;
		ret->n = b <= 0x9f ? b & 0x0f : b & 0x1f;
		ret->u = 0;
		return true;
	}
	/* uint 8 to 32 (msgids, handles), str 8 and bin 8 (keys, values) */
	if ((b >= 0xcc && b <= 0xce) || b == 0xd9 || b == 0xc4) {
		unsigned w = b == 0xce ? 4 : b == 0xcd ? 2 : 1;
		uint64_t v;
		if (have < 1 + w)
			return false;
		v = w == 4 ? (uint64_t)p[1] << 24 | (uint64_t)p[2] << 16 |
				 (uint64_t)p[3] << 8 | p[4]
		    : w == 2 ? (uint64_t)p[1] << 8 | p[2]
			     : p[1];
		ret->hlen = (uint8_t)(1 + w);
		ret->ext_type = 0;
		if (b >= 0xcc && b <= 0xce) {
			ret->kind = AG_MP_UINT;
			ret->n = 0;
			ret->u = v;
		} else {
			ret->kind = b == 0xd9 ? AG_MP_STR : AG_MP_BIN;
			ret->n = v;
			ret->u = 0;
		}
		return true;
	}
	return ag_mp_read_head_slow(p, have, ret);
}
/* Items that follow a header (an array's n, a map's 2n), and payload bytes
 * (str/bin/ext n); 0 for anything else. */
uint64_t ag_mp_items(const ag_mp_head *h);
uint64_t ag_mp_payload(const ag_mp_head *h);
/*
 * Length of the one complete object at @p within @len bytes, or 0 when it
 * is incomplete or not MessagePack. *ret_flags (may be NULL) gets AG_VAL_MAP
 * when it holds a map and AG_VAL_REF when it holds an ext 1. No recursion.
 */
size_t ag_mp_object_len(const uint8_t *p, size_t len, uint32_t *ret_flags);
/*
 * Length of the one complete object at @p whose bytes are known to be whole
 * and valid (checked when they came in, as a stored value's are): nothing
 * is bounds-checked, so never give it bytes off the wire. When @flags is
 * not NULL, ORs into it AG_VAL_MAP and AG_VAL_REF as ag_mp_object_len()
 * sets them. No recursion. The list's item store skips items with it.
 */
size_t ag_mp_skip(const uint8_t *p, uint32_t *flags);

/* ag_mp_skip(@p, NULL), with the scalars of fixed size answered inline. */
static inline size_t ag_mp_skip_fast(const uint8_t *p)
{
	uint8_t b = p[0];

	if (b <= 0x7f || b >= 0xe0) /* fixint */
		return 1;
	if (b >= 0xa0 && b <= 0xbf) /* fixstr */
		return 1 + (size_t)(b & 0x1f);
	if (b >= 0xcc && b <= 0xd3) /* (u)int 8, 16, 32, 64 */
		return 1 + ((size_t)1 << (b & 3));
	if (b == 0xcb) /* float 64 */
		return 9;
	return ag_mp_skip(p, NULL);
}

/* The object whose header @h was read at @p (@len bytes in all) as
 * msgpack-c would decode a scalar, str/bin/ext pointing into @p; a
 * container as AG_OBJECT_RAW holding its bytes. No allocation. */
void ag_mp_obj(const ag_mp_head *h, const uint8_t *p, size_t len,
	       msgpack_object *ret);
/* Every header of the bytes [p, p + len) in order, payloads stepped over. */
typedef struct ag_mp_walk {
	const uint8_t *p, *end;
} ag_mp_walk;
void ag_mp_walk_init(ag_mp_walk *w, const void *p, size_t len);
/* The next header and (may be NULL) where its payload starts; false at the
 * end or at bytes that are not MessagePack. */
bool ag_mp_walk_next(ag_mp_walk *w, ag_mp_head *ret,
		     const uint8_t **ret_payload);

/* ---- reader -------------------------------------------------------------- */

/*
 * A reader owns a byte buffer. Bytes go in through ag_reader_space() +
 * ag_reader_commit() (read(2) straight into it) or ag_reader_feed().
 * ag_reader_next() scans only bytes it has not scanned before, checks the
 * limits (frame size, depth, declared container and string lengths) and only
 * then lets msgpack-c decode the complete frame into a zone the reader reuses.
 */
typedef struct ag_reader {
	char *buf;
	size_t cap;
	size_t len;      /* bytes held: [0, len) */
	size_t start;    /* first byte of the frame being scanned */
	size_t pos;      /* next byte to scan */
	size_t max;      /* frame limit in bytes */
	size_t next_max; /* limit from the next frame on, or 0 */
	size_t skip;     /* payload bytes of a str/bin/ext still to pass */
	unsigned depth;
	/* items still due per open container */
	uint64_t left[AG_MAX_DEPTH + 1];
	msgpack_zone zone;
	bool zone_ok;
	int err; /* sticky: once a frame was refused the stream is dead */
	char errmsg[160];
} ag_reader;

/* @max_message: the frame limit. Returns 0 or AGORA_ENOMEM. */
int ag_reader_init(ag_reader *r, size_t max_message);
void ag_reader_deinit(ag_reader *r);
/* Free the buffer when it holds nothing and is larger than @keep bytes
 * (after a large frame). */
void ag_reader_shrink(ag_reader *r, size_t keep);
/* Change the limit (after authentication). Applies from the next frame on. */
void ag_reader_set_max(ag_reader *r, size_t max_message);
/*
 * Writable space of at least @min bytes at the end of the buffer; its size
 * goes to *ret_avail. NULL (AGORA_ENOMEM) on allocation failure. Invalidates
 * objects returned by ag_reader_next().
 */
char *ag_reader_space(ag_reader *r, size_t min, size_t *ret_avail);
void ag_reader_commit(ag_reader *r, size_t n);
/* Copy @len bytes in. Returns 0 or AGORA_ENOMEM. */
int ag_reader_feed(ag_reader *r, const void *data, size_t len);
/*
 * Pull the next complete message. Returns 1 with *ret set (valid until the
 * next call on @r), 0 when more bytes are needed, or AGORA_EPROTOCOL when the
 * stream broke a limit or is not MessagePack (r->errmsg says what; every later
 * call returns the same). AGORA_ENOMEM when decoding ran out of memory.
 */
int ag_reader_next(ag_reader *r, msgpack_object *ret);
/*
 * The same, without decoding: 1 with the next complete, checked frame's
 * bytes in *ret_p and *ret_len (valid until the next call on @r), 0 when
 * more bytes are needed, or the sticky AGORA_EPROTOCOL.
 */
int ag_reader_next_frame(ag_reader *r, const uint8_t **ret_p, size_t *ret_len);
/* Bytes held that were not yet returned as messages. */
size_t ag_reader_pending(const ag_reader *r);

/* ---- requests (request.c) ------------------------------------------------ */

/* No method takes more params than this; more are counted, not decoded. */
#define AG_MAX_PARAMS 16
/* A container param larger than this (in bytes) and of more than
 * AG_SHALLOW_MAX items is left undecoded. */
#define AG_LAZY_MIN ((size_t)16384)
#define AG_SHALLOW_MAX 32
/*
 * The type of a param left undecoded (a container of more than AG_LAZY_MIN
 * bytes): via.bin.ptr and via.bin.size are its bytes. It is no MessagePack
 * type, so a method that expects anything but a value or items refuses it
 * as it would any wrong kind.
 */
#define AG_OBJECT_RAW ((msgpack_object_type)0x7f)

typedef struct ag_span {
	const uint8_t *p;
	size_t len;
} ag_span;

typedef struct ag_request {
	bool have_msgid;
	uint32_t msgid;
	const char *method; /* not NUL-terminated: methodlen bytes */
	uint32_t methodlen;
	uint32_t argc; /* params sent; argv and raw hold the first
			  min(argc, AG_MAX_PARAMS) */
	msgpack_object argv[AG_MAX_PARAMS];
	ag_span raw[AG_MAX_PARAMS]; /* each param's bytes */
} ag_request;

/*
 * Split the request frame [@p, @p + @len) (complete and checked by the
 * reader). Decoded params live in @z and point into the frame: both must
 * outlive *ret. Returns 0, AGORA_ENOMEM, or AGORA_EPROTOCOL with a sentence
 * in @err; ret->have_msgid and ret->msgid are then set when the frame has
 * a msgid to answer to.
 */
int ag_request_parse(const uint8_t *p, size_t len, msgpack_zone *z,
		     ag_request *ret, char *err, size_t errlen);
/* The params array at [@p, @p + @len) into @ret's argc, argv and raw, as
 * ag_request_parse() reads them (method and msgid are the caller's): a
 * transaction's calls, whose params lie inside its request. */
int ag_request_params(const uint8_t *p, size_t len, msgpack_zone *z,
		      ag_request *ret, char *err, size_t errlen);

/* ---- encoders ------------------------------------------------------------ */

/* [0, msgid, method, <params follow>]: the caller then packs one array. */
void ag_pack_request_head(msgpack_packer *pk, uint32_t msgid,
			  const char *method);
/* [1, msgid, nil, <result follows>]: the caller then packs one object. */
void ag_pack_response_head(msgpack_packer *pk, uint32_t msgid);
/* A whole error response: [1, msgid, [code, NAME, message], nil]. */
void ag_pack_error_response(msgpack_packer *pk, uint32_t msgid, int rc,
			    const char *message);
void ag_pack_str(msgpack_packer *pk, const char *s);

/*
 * Split a decoded message. For a response: *ret_msgid, *ret_error (NULL when
 * nil) and *ret_result. Returns 0 or AGORA_EPROTOCOL if it is not a
 * well-formed response.
 */
int ag_parse_response(const msgpack_object *m, uint32_t *ret_msgid,
		      const msgpack_object **ret_error,
		      const msgpack_object **ret_result);
/*
 * Turn an error array into a negative code and copy its message into
 * @msg (NUL-terminated, truncated to @msglen).
 */
int ag_parse_error(const msgpack_object *err, char *msg, size_t msglen);

/* ---- handshake ----------------------------------------------------------- */

#define AG_LABEL_SERVER "agora-v1 server"
#define AG_LABEL_CLIENT "agora-v1 client"

/* Fill @nonce with AG_NONCE_LEN random bytes. 0 or AGORA_ENOMEM/AGORA_EIO. */
int ag_nonce(uint8_t nonce[AG_NONCE_LEN]);
/* sproof = HMAC-SHA256(key, "agora-v1 server" || cnonce || snonce). */
int ag_server_proof(const void *key, size_t keylen,
		    const uint8_t cnonce[AG_NONCE_LEN],
		    const uint8_t snonce[AG_NONCE_LEN],
		    uint8_t out[AG_PROOF_LEN]);
/* cproof = HMAC-SHA256(key, "agora-v1 client" || snonce || cnonce). */
int ag_client_proof(const void *key, size_t keylen,
		    const uint8_t snonce[AG_NONCE_LEN],
		    const uint8_t cnonce[AG_NONCE_LEN],
		    uint8_t out[AG_PROOF_LEN]);
/*
 * The same proofs bound to a TLS channel (protocol section 2.1): @cb, the
 * channel binding (ag_tls_binding() of the server's certificate), is
 * appended to what the HMAC covers. @cblen is AG_BINDING_LEN, or 0 for a
 * connection without TLS (then these are the proofs above); any other
 * length is AGORA_EINVAL.
 */
int ag_server_proof_bound(const void *key, size_t keylen,
			  const uint8_t cnonce[AG_NONCE_LEN],
			  const uint8_t snonce[AG_NONCE_LEN], const uint8_t *cb,
			  size_t cblen, uint8_t out[AG_PROOF_LEN]);
int ag_client_proof_bound(const void *key, size_t keylen,
			  const uint8_t snonce[AG_NONCE_LEN],
			  const uint8_t cnonce[AG_NONCE_LEN], const uint8_t *cb,
			  size_t cblen, uint8_t out[AG_PROOF_LEN]);
/* The channel binding of a TLS connection: SHA-256 of the server's
 * certificate, its DER bytes @der (protocol section 2.1). 0, or
 * AGORA_ENOMEM. */
int ag_tls_binding(const void *der, size_t len, uint8_t out[AG_BINDING_LEN]);
/* Constant-time: true when @len bytes of @got equal @want. */
bool ag_proof_equal(const void *got, size_t gotlen,
		    const uint8_t want[AG_PROOF_LEN]);
/* Parse an authkey file's bytes: drops one trailing "\n". */
size_t ag_key_trim(const char *data, size_t len);

/* ---- values -------------------------------------------------------------- */

/*
 * A stored value: its canonical MessagePack bytes, owned (or borrowed, for a
 * view made by ag_val_view() to look a key up). Canonical means
 * integers in their shortest form (whatever width the client used) and
 * float32 widened to float64, so that equal values of section 5 have equal
 * bytes -- except maps, whose entry order may differ: AG_VAL_MAP marks a value
 * that holds a map somewhere, and only those are compared structurally.
 */
#define AG_VAL_MAP 0x1u /* holds a map somewhere */
#define AG_VAL_REF 0x2u /* holds an ext 1 reference somewhere */

/*
 * The layout is private to value.c and the accessors below. b[] holds the
 * bytes themselves when they fit (AG_VAL_INLINE_MAX: every integer and
 * float, short strings), else a pointer to them: owned heap bytes, or a
 * borrowed view's. meta packs the length (low AG_VAL_LEN_BITS bits), the
 * AG_VAL_* flags and the two internal bits below. An empty value is all
 * zero. Inline bytes move with the struct: a pointer from ag_val_bytes()
 * is valid only while the value stays where it is.
 */
#define AG_VAL_INLINE_MAX 12u
#define AG_VAL_LEN_BITS 28
#define AG_VAL_MAX_LEN ((UINT32_C(1) << AG_VAL_LEN_BITS) - 1)
#define AG_VAL_META_INLINE (UINT32_C(1) << 30)   /* bytes in b[] */
#define AG_VAL_META_BORROWED (UINT32_C(1) << 31) /* a view: never freed */

typedef struct ag_val {
	_Alignas(8) uint8_t b[AG_VAL_INLINE_MAX];
	uint32_t meta;
} ag_val;
_Static_assert(sizeof(ag_val) == 16, "ag_val is 16 bytes");

/*
 * Read a value only through these, never through its fields: the layout is
 * private to value.c and may keep small values inline.
 */
static inline const uint8_t *ag_val_bytes(const ag_val *v)
{
	const uint8_t *p;

	if (v->meta & AG_VAL_META_INLINE)
		return v->b;
	memcpy(&p, v->b, sizeof(p));
	return p;
}
static inline uint32_t ag_val_len(const ag_val *v)
{
	return v->meta & AG_VAL_MAX_LEN;
}
static inline uint32_t ag_val_flags(const ag_val *v)
{
	return (v->meta >> AG_VAL_LEN_BITS) & (AG_VAL_MAP | AG_VAL_REF);
}
/* True for a value that holds nothing (zeroed, freed, or moved out). */
static inline bool ag_val_is_empty(const ag_val *v)
{
	return v->meta == 0;
}
/* Bytes @v holds on the heap beyond its struct (0 inline or borrowed). */
static inline size_t ag_val_heap(const ag_val *v)
{
	return (v->meta & (AG_VAL_META_INLINE | AG_VAL_META_BORROWED))
		   ? 0
		   : ag_val_len(v);
}
/*
 * A borrowed view of @len (<= AG_VAL_MAX_LEN) bytes at @p, for lookup keys:
 * never freed by ag_val_deinit(), valid while the bytes are.
 */
static inline ag_val ag_val_view(const void *p, uint32_t len, uint32_t flags)
{
	ag_val v;

	memset(&v, 0, sizeof(v));
	memcpy(v.b, &p, sizeof(p));
	v.meta = (len & AG_VAL_MAX_LEN) |
		 ((flags & (AG_VAL_MAP | AG_VAL_REF)) << AG_VAL_LEN_BITS) |
		 AG_VAL_META_BORROWED;
	return v;
}

/*
 * Canonical encoding of @o appended to @b; *ret_flags gets AG_VAL_*.
 * Returns 0, AGORA_ENOMEM, or AGORA_EVALUE for an ext 1 whose data is not
 * 8 bytes.
 */
int ag_val_encode(ag_buf *b, const msgpack_object *o, uint32_t *ret_flags);
/*
 * A new owned ag_val holding the canonical copy of @o; no allocation when
 * it fits inline. Same returns, and AGORA_ELIMIT beyond AG_VAL_MAX_LEN.
 */
int ag_val_from_obj(ag_val *ret, const msgpack_object *o);
/*
 * An owned value holding a copy of the @len canonical bytes at @p with the
 * AG_VAL_* @flags. Returns 0, AGORA_ENOMEM, or AGORA_ELIMIT beyond
 * AG_VAL_MAX_LEN; never allocates for AG_VAL_INLINE_MAX bytes or fewer.
 */
int ag_val_from_bytes(ag_val *ret, const void *p, size_t len, uint32_t flags);
/*
 * The canonical form of the one MessagePack object in [@p, @p + @len),
 * appended to @out, made from the bytes without decoding them into objects;
 * *ret_flags gets AG_VAL_*. Returns 0, AGORA_ENOMEM, or AGORA_EVALUE for a
 * map with two equal keys (section 6), a reference whose data is not
 * AG_REF_LEN bytes, or bytes that are not one complete object; then *ret_why
 * (may be NULL) says which, and @out is as it was.
 */
int ag_val_canon(ag_buf *out, const void *p, size_t len, uint32_t *ret_flags,
		 const char **ret_why);
/* An owned ag_val of the canonical form of the object at @p, as
 * ag_val_canon() makes it; AGORA_ELIMIT beyond AG_VAL_MAX_LEN too. */
int ag_val_from_raw(ag_val *ret, const void *p, size_t len,
		    const char **ret_why);
/* Owned copy of a value (a view's bytes are copied). 0 or AGORA_ENOMEM. */
int ag_val_dup(ag_val *ret, const ag_val *v);
/* Free what @v owns (nothing for a view) and leave it empty. NULL is ok. */
void ag_val_deinit(ag_val *v);
/*
 * Decode @v into @z. Returns 0 or AGORA_ENOMEM. The str, bin and ext of
 * *ret point into @v's bytes, which for an inline value are inside *v
 * itself: keep @v where it is, unchanged, while *ret is in use.
 */
int ag_val_unpack(const ag_val *v, msgpack_zone *z, msgpack_object *ret);
/* Section 5 equality. */
bool ag_val_equal(const ag_val *a, const ag_val *b);
/* Hash of a value for dict keys; equal values hash equal. */
uint64_t ag_val_hash(const ag_val *v, uint64_t seed);

/* Section 5 equality of decoded objects (1 == uint64 1, 1 != 1.0, ...). */
bool ag_obj_equal(const msgpack_object *a, const msgpack_object *b);
/*
 * Python's ordering: numbers with numbers (ints and floats by exact value),
 * bools with bools, str with str and bin with bin (bytewise), arrays
 * lexicographically. *ret_cmp gets <0, 0 or >0. Returns 0, or AGORA_ETYPE
 * when the two do not order (nil, maps, mixed kinds).
 */
int ag_obj_compare(const msgpack_object *a, const msgpack_object *b,
		   int *ret_cmp);
/*
 * a + b for numbers, per section 5: integers exact over -2^63..2^64-1, an
 * int with a float gives a float. *ret is a scalar object (no zone needed).
 * Returns 0, AGORA_ETYPE when @a (*ret_which = 0) or @b (1) is not a number
 * (bool is not), or AGORA_EVALUE when the integer result is out of range.
 */
int ag_num_add(const msgpack_object *a, const msgpack_object *b,
	       msgpack_object *ret, int *ret_which);
/* A short human description of @o for error messages ("str \"ab\""). */
void ag_obj_describe(const msgpack_object *o, char *buf, size_t len);
/* The MessagePack type name of @o: "int", "str", "array", ... */
const char *ag_obj_type_name(const msgpack_object *o);

/*
 * The TCP settings that drop a peer that stops answering for @timeout
 * seconds (> 0), on either end: keepalive probes after @timeout/3 seconds
 * without traffic, then every @timeout/9 (each at least 1 s), 3 of them;
 * and TCP_USER_TIMEOUT of @timeout, which bounds how long data may go
 * unacknowledged and, with keepalive on, ends the connection at the first
 * unanswered probe past @timeout since the peer was last heard. So a peer
 * that vanished is dropped within @timeout plus one probe interval.
 */
typedef struct ag_keepalive {
	int idle, interval, count; /* seconds, seconds, probes */
	unsigned user_timeout_ms;
} ag_keepalive;

static inline ag_keepalive ag_keepalive_for(double timeout)
{
	ag_keepalive k;

	if (timeout > AG_MAX_PEER_TIMEOUT)
		timeout = AG_MAX_PEER_TIMEOUT;
	k.idle = (int)(timeout / 3);
	k.interval = (int)(timeout / 9);
	k.idle = k.idle < 1 ? 1 : k.idle;
	k.interval = k.interval < 1 ? 1 : k.interval;
	k.count = 3;
	k.user_timeout_ms = (unsigned)(timeout * 1000);
	if (k.user_timeout_ms < 1)
		k.user_timeout_ms = 1;
	return k;
}

#endif
