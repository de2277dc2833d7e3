/*
 * request.c - a request frame split into its parts, with its params decoded
 * only as far as a method can need them.
 *
 * msgpack-c decodes every element into a 24-byte object, so a frame of
 * small items would cost the server 24 times its size. Here the envelope
 * [0, msgid, method, params] is read from the header bytes (mp.c), and each
 * param is decoded by msgpack-c only when it is a scalar, a str/bin/ext
 * (which point into the frame, uncopied), or a container of at most
 * AG_LAZY_MIN bytes; a larger container of at most AG_SHALLOW_MAX items
 * (an options map with one large value) is decoded item by item by the
 * same rule. A larger container of more items is left as its bytes, marked
 * AG_OBJECT_RAW: the server reads such params through its argument helpers,
 * which make values canonical and iterate items straight from the bytes.
 * Params past AG_MAX_PARAMS are counted, not decoded: no method takes
 * that many, so the dispatcher refuses them by their count alone.
 */
#include <stdio.h>
#include <string.h>

#include "ag_proto.h"

static int bad(char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return AGORA_EPROTOCOL;
}

/*
 * Decode the object of @n bytes at @p into *o: by msgpack-c when it is not
 * a container or holds at most AG_LAZY_MIN bytes; as a container of
 * objects decoded by the same rule when it holds at most AG_SHALLOW_MAX
 * items (an options map with one large value); else left as its bytes.
 * Recursion is bounded by the reader's depth limit.
 */
static int decode_param(const uint8_t *p, size_t n, msgpack_zone *z,
			msgpack_object *o)
{
	ag_mp_head h;

	if (!ag_mp_read_head(p, n, &h))
		return AGORA_EPROTOCOL;
	if ((h.kind == AG_MP_ARRAY || h.kind == AG_MP_MAP) && n > AG_LAZY_MIN) {
		memset(o, 0, sizeof(*o));
		if (h.n > AG_SHALLOW_MAX) {
			o->type = AG_OBJECT_RAW;
			o->via.bin.ptr = (const char *)p;
			o->via.bin.size = (uint32_t)n;
			return 0;
		}
		size_t off = h.hlen;
		uint32_t count = (uint32_t)h.n;
		msgpack_object *items = NULL;
		msgpack_object_kv *kvs = NULL;
		if (h.kind == AG_MP_ARRAY) {
			items = msgpack_zone_malloc(z, count * sizeof(*items));
			o->type = MSGPACK_OBJECT_ARRAY;
			o->via.array.size = count;
			o->via.array.ptr = items;
		} else {
			kvs = msgpack_zone_malloc(z, count * sizeof(*kvs));
			o->type = MSGPACK_OBJECT_MAP;
			o->via.map.size = count;
			o->via.map.ptr = kvs;
		}
		if (count > 0 && items == NULL && kvs == NULL)
			return AGORA_ENOMEM;
		uint64_t total = ag_mp_items(&h);
		for (uint64_t i = 0; i < total; i++) {
			msgpack_object *dst =
			    items ? &items[i]
				  : (i % 2 ? &kvs[i / 2].val : &kvs[i / 2].key);
			size_t len = ag_mp_object_len(p + off, n - off, NULL);
			int rc;
			if (len == 0)
				return AGORA_EPROTOCOL;
			if ((rc = decode_param(p + off, len, z, dst)) < 0)
				return rc;
			off += len;
		}
		return 0;
	}
	size_t used = 0;
	msgpack_unpack_return ur =
	    msgpack_unpack((const char *)p, n, &used, z, o);
	if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
		return AGORA_ENOMEM;
	if (ur != MSGPACK_UNPACK_SUCCESS || used != n)
		return AGORA_EPROTOCOL;
	return 0;
}

int ag_request_params(const uint8_t *p, size_t len, msgpack_zone *z,
		      ag_request *ret, char *err, size_t errlen)
{
	ag_mp_head params;
	size_t off = 0, n;

	if (!ag_mp_read_head(p + off, len - off, &params) ||
	    params.kind != AG_MP_ARRAY)
		return bad(err, errlen,
			   "a request is [0, msgid, method: str, params: "
			   "array]");
	off += params.hlen;
	ret->argc = params.n > UINT32_MAX ? UINT32_MAX : (uint32_t)params.n;

	uint32_t ndec = ret->argc < AG_MAX_PARAMS ? ret->argc : AG_MAX_PARAMS;
	for (uint32_t i = 0; i < ndec; i++) {
		ag_mp_head ph;
		int rc;

		/* A scalar (most params: a handle, an index, a key) is read
		 * from its header, without msgpack-c. */
		if (!ag_mp_read_head(p + off, len - off, &ph))
			return bad(err, errlen, "malformed params");
		if (ph.kind != AG_MP_ARRAY && ph.kind != AG_MP_MAP) {
			n = ph.hlen + (size_t)ag_mp_payload(&ph);
			if (ag_mp_payload(&ph) > len - off - ph.hlen)
				return bad(err, errlen, "malformed params");
			ret->raw[i].p = p + off;
			ret->raw[i].len = n;
			ag_mp_obj(&ph, p + off, n, &ret->argv[i]);
			off += n;
			continue;
		}
		n = ag_mp_object_len(p + off, len - off, NULL);
		if (n == 0)
			return bad(err, errlen, "malformed params");
		ret->raw[i].p = p + off;
		ret->raw[i].len = n;
		rc = decode_param(p + off, n, z, &ret->argv[i]);
		if (rc == AGORA_ENOMEM)
			return rc;
		if (rc < 0)
			return bad(err, errlen, "malformed params");
		off += n;
	}
	return 0;
}

int ag_request_parse(const uint8_t *p, size_t len, msgpack_zone *z,
		     ag_request *ret, char *err, size_t errlen)
{
	ag_mp_head h;
	size_t off = 0, n;

	memset(ret, 0, offsetof(ag_request, argv));
	if (!ag_mp_read_head(p, len, &h) || h.kind != AG_MP_ARRAY || h.n < 1)
		return bad(err, errlen, "not a request");
	uint64_t count = h.n;
	off = h.hlen;

	/* [0] the kind, [1] the msgid: read the msgid first, so that the
	 * error about anything else can be answered. */
	ag_mp_head kind, id;
	if (!ag_mp_read_head(p + off, len - off, &kind))
		return bad(err, errlen, "not a request");
	n = ag_mp_object_len(p + off, len - off, NULL);
	if (n == 0)
		return bad(err, errlen, "not a request");
	off += n;
	if (count >= 2 && ag_mp_read_head(p + off, len - off, &id) &&
	    id.kind == AG_MP_UINT && id.u <= UINT32_MAX) {
		ret->have_msgid = true;
		ret->msgid = (uint32_t)id.u;
	}
	if (count != 4 || kind.kind != AG_MP_UINT || kind.u != AG_MSG_REQUEST)
		return bad(err, errlen,
			   "a request is [0, msgid, method, params]");
	if (!ret->have_msgid)
		return bad(err, errlen, "bad msgid");
	off += id.hlen;

	ag_mp_head m;
	if (!ag_mp_read_head(p + off, len - off, &m) || m.kind != AG_MP_STR ||
	    m.n > len - off - m.hlen)
		return bad(err, errlen,
			   "a request is [0, msgid, method: str, params: "
			   "array]");
	ret->method = (const char *)p + off + m.hlen;
	ret->methodlen = (uint32_t)m.n;
	off += m.hlen + (size_t)m.n;
	return ag_request_params(p + off, len - off, z, ret, err, errlen);
}
