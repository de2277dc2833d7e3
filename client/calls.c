/*
 * calls.c - the server-level methods of protocol section 3 that belong to
 * no object type: agora_call() (any method by name), ping, stats, ls,
 * drop, info, expire, ttl, and "open", which the proxies open their objects
 * with (proxy.c). "open_ref" and the references are refs.c's. Each is one round
 * trip through ag_client_call() or ag_client_call_as() (call.c), which give
 * every return and message.
 */
#include <inttypes.h>

#include "internal.h"

int ag_client_open(agora_client *c, const char *type, const char *name,
		   const agora_pair *opts, size_t nopts, uint32_t *ret_handle)
{
	agora_value params[3];
	const msgpack_object *o;
	int rc;

	params[0] = agora_str(type);
	params[1] = name != NULL ? agora_str(name) : agora_nil();
	params[2] = agora_map((agora_pair *)opts, nopts);
	rc = ag_client_call(c, "open", params, 3, &o);
	if (rc < 0)
		return rc;
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    o->via.u64 > UINT32_MAX)
		return ag_client_bad_result(c, "open", o, "a handle");
	*ret_handle = (uint32_t)o->via.u64;
	return 0;
}

/*
 * Call @method with the params in the array @params; *ret gets the decoded
 * result (free it), or it is discarded when @ret is NULL. AGORA_EINVAL when
 * @params is not an array. Other returns as ag_client_call(). Blocks until
 * the server answers.
 */
int agora_call(agora_client *c, const char *method, agora_value params,
	       agora_value *ret)
{
	if (c == NULL)
		return AGORA_EINVAL;
	if (method == NULL || params.type != AGORA_ARRAY)
		return ag_client_fail(c, AGORA_EINVAL,
				      "agora_call needs a method and an array "
				      "of params");
	return ag_client_call_as(c, method, params.via.array.items,
				 params.via.array.len, AG_RESULT_VALUE, ret);
}

/* A round trip that checks the server echoes what it was sent. */
int agora_ping(agora_client *c)
{
	agora_value p;
	int64_t got;
	int rc;

	if (c == NULL)
		return AGORA_EINVAL;
	p = agora_int((int64_t)(++c->pings & INT64_MAX));
	rc = ag_client_call_as(c, "ping", &p, 1, AG_RESULT_INT, &got);
	if (rc < 0)
		return rc;
	if (got != p.via.i)
		return ag_client_fail(c, AGORA_EPROTOCOL,
				      "%s answered ping %" PRId64
				      " with %" PRId64,
				      c->address, p.via.i, got);
	return 0;
}

int agora_stats(agora_client *c, agora_value *ret)
{
	if (c == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(c, AGORA_EINVAL, "stats needs a result");
	return ag_client_call_as(c, "stats", NULL, 0, AG_RESULT_VALUE, ret);
}

int agora_save(agora_client *c, agora_value *ret)
{
	agora_value v;
	int rc;

	if (c == NULL)
		return AGORA_EINVAL;
	rc = ag_client_call_as(c, "save", NULL, 0, AG_RESULT_VALUE, &v);
	if (rc == 0 && ret != NULL)
		*ret = v;
	else if (rc == 0)
		agora_value_free(&v);
	return rc;
}

int agora_ls(agora_client *c, agora_value *ret)
{
	if (c == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(c, AGORA_EINVAL, "ls needs a result");
	return ag_client_call_as(c, "ls", NULL, 0, AG_RESULT_VALUE, ret);
}

int agora_ls_match(agora_client *c, const char *pattern, agora_value *ret)
{
	agora_value p;

	if (c == NULL)
		return AGORA_EINVAL;
	if (ret == NULL || pattern == NULL)
		return ag_client_fail(c, AGORA_EINVAL,
				      "ls needs a pattern and a result");
	p = agora_str(pattern);
	return ag_client_call_as(c, "ls", &p, 1, AG_RESULT_VALUE, ret);
}

int agora_clients(agora_client *c, agora_value *ret)
{
	if (c == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(c, AGORA_EINVAL,
				      "clients needs a result");
	return ag_client_call_as(c, "clients", NULL, 0, AG_RESULT_VALUE, ret);
}

int agora_kill(agora_client *c, uint64_t id, bool *ret_killed)
{
	agora_value p = agora_uint(id);

	if (c == NULL)
		return AGORA_EINVAL;
	return ag_client_call_as(c, "kill", &p, 1, AG_RESULT_BOOL, ret_killed);
}

int agora_drop(agora_client *c, const char *name, bool *ret_existed)
{
	agora_value p;

	if (c == NULL)
		return AGORA_EINVAL;
	if (name == NULL)
		return ag_client_fail(c, AGORA_EINVAL, "drop needs a name");
	p = agora_str(name);
	return ag_client_call_as(c, "drop", &p, 1, AG_RESULT_BOOL, ret_existed);
}

int agora_info(agora_client *c, uint32_t handle, agora_value *ret)
{
	agora_value p = agora_uint(handle);

	if (c == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(c, AGORA_EINVAL, "info needs a result");
	return ag_client_call_as(c, "info", &p, 1, AG_RESULT_VALUE, ret);
}

int agora_expire(agora_client *c, const char *name, double seconds)
{
	agora_value p[2];

	if (c == NULL)
		return AGORA_EINVAL;
	if (name == NULL)
		return ag_client_fail(c, AGORA_EINVAL, "expire needs a name");
	p[0] = agora_str(name);
	/* 0 clears the deadline: nil on the wire. The server checks the
	 * rest (VALUE for a negative or too large a time). */
	p[1] = seconds == 0 ? agora_nil() : agora_float(seconds);
	return ag_client_call_as(c, "expire", p, 2, AG_RESULT_VALUE, NULL);
}

int agora_ttl(agora_client *c, const char *name, double *ret_seconds)
{
	agora_value p;
	const msgpack_object *o;
	int rc;

	if (c == NULL)
		return AGORA_EINVAL;
	if (name == NULL)
		return ag_client_fail(c, AGORA_EINVAL, "ttl needs a name");
	p = agora_str(name);
	rc = ag_client_call(c, "ttl", &p, 1, &o);
	if (rc < 0)
		return rc;
	if (o->type == MSGPACK_OBJECT_NIL) {
		if (ret_seconds != NULL)
			*ret_seconds = -1;
		return 0;
	}
	if (o->type != MSGPACK_OBJECT_FLOAT64 &&
	    o->type != MSGPACK_OBJECT_FLOAT32 &&
	    o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return ag_client_bad_result(c, "ttl", o, "a float or nil");
	if (ret_seconds != NULL)
		*ret_seconds = o->type == MSGPACK_OBJECT_POSITIVE_INTEGER
				   ? (double)o->via.u64
				   : o->via.f64;
	return 0;
}
