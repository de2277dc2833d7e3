/*
 * proxy_value.c - agora_var: a proxy for one shared value in the server.
 *
 * The wire type is "value" (Python's multiprocessing.Value, holding any
 * MessagePack value); its methods are "value.METHOD", handle first, each one
 * blocking round trip through the ag_proxy helpers (internal.h). add and cas
 * are atomic in the server.
 */
#include <stdlib.h>

#include "internal.h"

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

	opt.key = agora_str("initial");
	opt.val = initial;
	return ag_proxy_open(c, ret, sizeof(**ret), "value", name, &opt, 1);
}

int agora_var_get(agora_var *v, agora_value *ret)
{
	if (v == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&v->p, "get");
	return ag_proxy_call_value(&v->p, "get", NULL, 0, ret);
}

/* The value as an integer: AGORA_ETYPE when it is not one, AGORA_EVALUE
 * when it does not fit int64_t. */
int agora_var_get_int(agora_var *v, int64_t *ret)
{
	if (v == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&v->p, "get");
	return ag_proxy_call_as_int(&v->p, "get", NULL, 0, "the value", ret);
}

int agora_var_set(agora_var *v, agora_value x)
{
	if (v == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&v->p, "set", &x, 1, NULL);
}

/* Atomic add: AGORA_ETYPE for a non-number, AGORA_EVALUE when the integer
 * sum leaves -2^63..2^64-1 (the value is then unchanged). */
int agora_var_add(agora_var *v, agora_value delta, agora_value *ret)
{
	if (v == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&v->p, "add", &delta, 1, ret);
}

/* agora_var_add() for integers; AGORA_ETYPE when the stored value was a
 * float (the float sum is stored all the same), AGORA_EVALUE when the new
 * value is above INT64_MAX (also stored). */
int agora_var_add_int(agora_var *v, int64_t delta, int64_t *ret)
{
	agora_value a = agora_int(delta);

	if (v == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_as_int(&v->p, "add", &a, 1, "the new value", ret);
}

int agora_var_cas(agora_var *v, agora_value expected, agora_value desired,
		  bool *ret_swapped)
{
	agora_value a[2] = { expected, desired };

	if (v == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_bool(&v->p, "cas", a, 2, ret_swapped);
}

int agora_var_swap(agora_var *v, agora_value x, agora_value *ret_old)
{
	if (v == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&v->p, "swap", &x, 1, ret_old);
}
