/*
 * encode.c - MessagePack-RPC requests, responses and error arrays, and the
 * parsing of responses on the client side.
 */
#include <stdio.h>
#include <string.h>

#include "ag_proto.h"

void ag_pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

void ag_pack_request_head(msgpack_packer *pk, uint32_t msgid,
			  const char *method)
{
	msgpack_pack_array(pk, 4);
	msgpack_pack_uint8(pk, AG_MSG_REQUEST);
	msgpack_pack_uint32(pk, msgid);
	ag_pack_str(pk, method);
}

void ag_pack_response_head(msgpack_packer *pk, uint32_t msgid)
{
	msgpack_pack_array(pk, 4);
	msgpack_pack_uint8(pk, AG_MSG_RESPONSE);
	msgpack_pack_uint32(pk, msgid);
	msgpack_pack_nil(pk);
}

void ag_pack_error_response(msgpack_packer *pk, uint32_t msgid, int rc,
			    const char *message)
{
	int code = ag_error_wire_code(rc);

	if (code == 0) { /* a local code never travels: say LIMIT */
		rc = AGORA_ELIMIT;
		code = -rc;
	}
	msgpack_pack_array(pk, 4);
	msgpack_pack_uint8(pk, AG_MSG_RESPONSE);
	msgpack_pack_uint32(pk, msgid);
	msgpack_pack_array(pk, 3);
	msgpack_pack_uint8(pk, (uint8_t)code);
	ag_pack_str(pk, ag_error_name(rc));
	ag_pack_str(pk, message ? message : ag_error_text(rc));
	msgpack_pack_nil(pk);
}

int ag_parse_response(const msgpack_object *m, uint32_t *ret_msgid,
		      const msgpack_object **ret_error,
		      const msgpack_object **ret_result)
{
	if (m->type != MSGPACK_OBJECT_ARRAY || m->via.array.size != 4)
		return AGORA_EPROTOCOL;
	const msgpack_object *a = m->via.array.ptr;
	if (a[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    a[0].via.u64 != AG_MSG_RESPONSE)
		return AGORA_EPROTOCOL;
	if (a[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    a[1].via.u64 > UINT32_MAX)
		return AGORA_EPROTOCOL;
	if (a[2].type != MSGPACK_OBJECT_NIL &&
	    a[2].type != MSGPACK_OBJECT_ARRAY)
		return AGORA_EPROTOCOL;
	*ret_msgid = (uint32_t)a[1].via.u64;
	*ret_error = a[2].type == MSGPACK_OBJECT_NIL ? NULL : &a[2];
	*ret_result = &a[3];
	return 0;
}

int ag_parse_error(const msgpack_object *err, char *msg, size_t msglen)
{
	int rc = AGORA_EPROTOCOL;
	const char *text = "malformed error from the server";
	size_t textlen = strlen(text);

	if (err->type == MSGPACK_OBJECT_ARRAY && err->via.array.size >= 3) {
		const msgpack_object *a = err->via.array.ptr;
		if (a[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			rc = ag_error_from_wire(
			    (int64_t)(a[0].via.u64 & 0xffff));
		if (a[2].type == MSGPACK_OBJECT_STR) {
			text = a[2].via.str.ptr;
			textlen = a[2].via.str.size;
		}
	}
	if (msglen > 0) {
		if (textlen >= msglen)
			textlen = msglen - 1;
		memcpy(msg, text, textlen);
		msg[textlen] = '\0';
	}
	return rc;
}
