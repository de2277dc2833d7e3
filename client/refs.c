/*
 * refs.c - references to shared objects (protocol section 8) on the client
 * side: the reference of an open object, references inside values, and
 * opening an object from its reference. The typed proxies open and name
 * theirs through ag_proxy_open_ref() and ag_proxy_ref() (proxy.c), which
 * come down to ag_client_open_ref() and agora_ref_of() here.
 */
#include <string.h>

#include "internal.h"

/* @r from the ext 1 payload @data (sizeof(r->bytes) bytes). */
static void ref_set(agora_ref *r, const void *data)
{
	memcpy(r->bytes, data, sizeof(r->bytes));
	r->id = 0;
	for (int i = 0; i < 8; i++)
		r->id = r->id << 8 | r->bytes[i];
}

int agora_ref_of(agora_client *c, uint32_t handle, agora_ref *ret)
{
	agora_value h = agora_uint(handle);
	const msgpack_object *o;
	int rc;

	if (c == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(c, AGORA_EINVAL, "ref_of needs a result");
	rc = ag_client_call(c, "info", &h, 1, &o);
	if (rc < 0)
		return rc;
	if (o->type == MSGPACK_OBJECT_MAP)
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			if (kv->key.type == MSGPACK_OBJECT_STR &&
			    kv->key.via.str.size == 3 &&
			    memcmp(kv->key.via.str.ptr, "ref", 3) == 0 &&
			    kv->val.type == MSGPACK_OBJECT_EXT &&
			    kv->val.via.ext.type == 1 &&
			    kv->val.via.ext.size == sizeof(ret->bytes)) {
				ref_set(ret, kv->val.via.ext.ptr);
				return 0;
			}
		}
	return ag_client_fail(c, AGORA_EPROTOCOL,
			      "info of handle %u has no reference (\"ref\", "
			      "ext 1 of %zu bytes): a server older than this "
			      "library",
			      handle, sizeof(ret->bytes));
}

int agora_ref_from_value(agora_value v, agora_ref *ret)
{
	if (ret == NULL)
		return AGORA_EINVAL;
	if (v.type != AGORA_EXT || v.ext_type != 1)
		return AGORA_ETYPE;
	if (v.via.str.len != sizeof(ret->bytes))
		return AGORA_EVALUE;
	ref_set(ret, v.via.str.ptr);
	return 0;
}

int ag_client_open_ref(agora_client *c, const char *type, const agora_ref *ref,
		       uint32_t *ret_handle)
{
	agora_value params[2];
	const msgpack_object *o;
	int rc;

	if (c == NULL)
		return AGORA_EINVAL;
	if (ref == NULL || ret_handle == NULL)
		return ag_client_fail(
		    c, AGORA_EINVAL, "open_ref needs a reference and a result");
	params[0] = agora_ref_value(ref);
	if (type != NULL)
		params[1] = agora_str(type);
	/* Untyped, the param is left out: [ref] is what every server takes. */
	rc = ag_client_call(c, "open_ref", params, type != NULL ? 2 : 1, &o);
	if (rc < 0)
		return rc;
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    o->via.u64 > UINT32_MAX)
		return ag_client_fail(c, AGORA_EPROTOCOL,
				      "open_ref answered something not a "
				      "handle");
	*ret_handle = (uint32_t)o->via.u64;
	return 0;
}

int agora_open_ref(agora_client *c, const agora_ref *ref, uint32_t *ret)
{
	return ag_client_open_ref(c, NULL, ref, ret);
}
