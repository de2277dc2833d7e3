/*
 * proxy_var.c - agora_var: a proxy for one shared value in the server.
 *
 * The wire type is "value" (Python's multiprocessing.Value, holding any
 * MessagePack value); its methods are "value.METHOD", handle first, each one
 * blocking round trip through ag_client_call(). add and cas are atomic in
 * the server.
 */
#include <stdlib.h>

#include "internal.h"

struct agora_var {
	agora_client *c;
	uint32_t handle;
};

/*
 * Open the value @name (get-or-create), or a new anonymous one for NULL;
 * @initial is stored only when the value is created. *ret gets a proxy to
 * close with agora_var_close(). AGORA_ETYPE when @name is another type;
 * else as any call.
 */
int agora_var_open(agora_client *c, const char *name, agora_value initial,
		   agora_var **ret)
{
	agora_pair opt;
	agora_var *v;
	int rc;

	if (c == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(c, AGORA_EINVAL, "open needs a result");
	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return ag_client_fail(c, AGORA_ENOMEM, "out of memory");
	opt.key = agora_str("initial");
	opt.val = initial;
	rc = ag_client_open(c, "value", name, &opt, 1, &v->handle);
	if (rc < 0) {
		free(v);
		return rc;
	}
	v->c = c;
	*ret = v;
	return 0;
}

/* Release the handle and free @v, even when the call fails; from a fork()
 * child nothing is sent (AGORA_EINVAL). Accepts NULL. */
int agora_var_close(agora_var *v)
{
	int rc;

	if (v == NULL)
		return 0;
	rc = ag_client_close_handle(v->c, v->handle);
	free(v);
	return rc;
}

uint32_t agora_var_handle(const agora_var *v)
{
	return v != NULL ? v->handle : 0;
}

int agora_var_get(agora_var *v, agora_value *ret)
{
	agora_value p;

	if (v == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(v->c, AGORA_EINVAL,
				      "value.get needs a result");
	p = agora_uint(v->handle);
	return ag_client_call_value(v->c, "value.get", &p, 1, ret);
}

/* The value as an integer: AGORA_ETYPE when it is not one, AGORA_EVALUE
 * when it does not fit int64_t. */
int agora_var_get_int(agora_var *v, int64_t *ret)
{
	const msgpack_object *o;
	agora_value p;
	int rc;

	if (v == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(v->c, AGORA_EINVAL,
				      "value.get needs a result");
	p = agora_uint(v->handle);
	rc = ag_client_call(v->c, "value.get", &p, 1, &o);
	if (rc < 0)
		return rc;
	return ag_client_obj_int(v->c, o, "the value", ret);
}

int agora_var_set(agora_var *v, agora_value x)
{
	agora_value p[2];

	if (v == NULL)
		return AGORA_EINVAL;
	p[0] = agora_uint(v->handle);
	p[1] = x;
	return ag_client_call_value(v->c, "value.set", p, 2, NULL);
}

/* Atomic add: AGORA_ETYPE for a non-number, AGORA_EVALUE when the integer
 * sum leaves -2^63..2^64-1 (the value is then unchanged). */
int agora_var_add(agora_var *v, agora_value delta, agora_value *ret)
{
	agora_value p[2];

	if (v == NULL)
		return AGORA_EINVAL;
	p[0] = agora_uint(v->handle);
	p[1] = delta;
	return ag_client_call_value(v->c, "value.add", p, 2, ret);
}

/* agora_var_add() for integers; AGORA_ETYPE when the stored value was a
 * float (the float sum is stored all the same), AGORA_EVALUE when the new
 * value is above INT64_MAX (also stored). */
int agora_var_add_int(agora_var *v, int64_t delta, int64_t *ret)
{
	const msgpack_object *o;
	agora_value p[2];
	int64_t n;
	int rc;

	if (v == NULL)
		return AGORA_EINVAL;
	p[0] = agora_uint(v->handle);
	p[1] = agora_int(delta);
	rc = ag_client_call(v->c, "value.add", p, 2, &o);
	if (rc < 0)
		return rc;
	rc = ag_client_obj_int(v->c, o, "the new value", &n);
	if (rc == 0 && ret != NULL)
		*ret = n;
	return rc;
}

int agora_var_cas(agora_var *v, agora_value expected, agora_value desired,
		  bool *ret_swapped)
{
	agora_value p[3];

	if (v == NULL)
		return AGORA_EINVAL;
	p[0] = agora_uint(v->handle);
	p[1] = expected;
	p[2] = desired;
	return ag_client_call_bool(v->c, "value.cas", p, 3, ret_swapped);
}

int agora_var_swap(agora_var *v, agora_value x, agora_value *ret_old)
{
	agora_value p[2];

	if (v == NULL)
		return AGORA_EINVAL;
	p[0] = agora_uint(v->handle);
	p[1] = x;
	return ag_client_call_value(v->c, "value.swap", p, 2, ret_old);
}
