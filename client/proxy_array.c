/*
 * proxy_array.c - agora_array: a proxy for a fixed-length typed array of
 * numbers in the server (multiprocessing.Array).
 *
 * One function per method of protocol section 3.1 ("array.METHOD", handle
 * first), each one round trip through the ag_proxy helpers (internal.h).
 * The typecode is checked by the server only, so this file needs no table
 * of them. AGORA_END bounds travel as nil.
 */
#include <stdlib.h>

#include "internal.h"

/*
 * Open the array @name (get-or-create), or a new anonymous one for NULL;
 * @typecode and @length (zeros) are used only at creation. AGORA_EVALUE
 * for an unknown typecode; AGORA_ETYPE when @name is another type.
 */
int agora_array_open(agora_client *c, const char *name, char typecode,
		     size_t length, struct agora_array **ret)
{
	agora_pair opts[2];

	opts[0].key = agora_str("typecode");
	opts[0].val = agora_strn(&typecode, 1);
	opts[1].key = agora_str("length");
	opts[1].val = agora_uint(length);
	return ag_proxy_open(c, ret, sizeof(**ret), "array", name, opts, 2);
}

/* agora_array_open() for an array that starts as @items[0..n): as storing
 * them would, a non-number or a float into an integer array is
 * AGORA_ETYPE, an integer that does not fit AGORA_EVALUE. */
int agora_array_open_items(agora_client *c, const char *name, char typecode,
			   const agora_value *items, size_t n,
			   struct agora_array **ret)
{
	agora_pair opts[2];

	if (items == NULL && n > 0)
		return ag_proxy_open_failed(
		    c, ret,
		    ag_client_fail(c, AGORA_EINVAL, "open array: NULL items"));
	opts[0].key = agora_str("typecode");
	opts[0].val = agora_strn(&typecode, 1);
	opts[1].key = agora_str("items");
	opts[1].val = agora_array((agora_value *)items, n);
	return ag_proxy_open(c, ret, sizeof(**ret), "array", name, opts, 2);
}

int agora_array_get(struct agora_array *a, int64_t i, agora_value *ret)
{
	agora_value arg;

	if (a == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&a->p, "get");
	arg = agora_int(i);
	return ag_proxy_call_value(&a->p, "get", &arg, 1, ret);
}

int agora_array_get_int(struct agora_array *a, int64_t i, int64_t *ret)
{
	agora_value arg = agora_int(i);

	if (a == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&a->p, "get");
	return ag_proxy_call_as_int(&a->p, "get", &arg, 1, "the array item",
				    ret);
}

/* AGORA_EPROTOCOL if the server answers with something not a number. */
int agora_array_get_float(struct agora_array *a, int64_t i, double *ret)
{
	agora_value arg = agora_int(i);
	const msgpack_object *o;
	int rc;

	if (a == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&a->p, "get");
	rc = ag_proxy_call(&a->p, "get", &arg, 1, &o);
	if (rc < 0)
		return rc;
	switch (o->type) {
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		*ret = o->via.f64;
		return 0;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		*ret = (double)o->via.u64;
		return 0;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		*ret = (double)o->via.i64;
		return 0;
	default:
		return ag_client_fail(a->p.c, AGORA_EPROTOCOL,
				      "array.get answered %s, not a number",
				      ag_obj_type_name(o));
	}
}

/* a[i] = v: AGORA_ETYPE, AGORA_EVALUE as the typecode demands. */
int agora_array_set(struct agora_array *a, int64_t i, agora_value v)
{
	agora_value args[2];

	if (a == NULL)
		return AGORA_EINVAL;
	args[0] = agora_int(i);
	args[1] = v;
	return ag_proxy_call_value(&a->p, "set", args, 2, NULL);
}

int agora_array_len(struct agora_array *a, size_t *ret)
{
	if (a == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&a->p, "len");
	return ag_proxy_call_size(&a->p, "len", NULL, 0, ret);
}

int agora_array_slice(struct agora_array *a, int64_t start, int64_t stop,
		      agora_value *ret)
{
	agora_value args[2];

	if (a == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&a->p, "slice");
	args[0] = ag_bound(start);
	args[1] = ag_bound(stop);
	return ag_proxy_call_value(&a->p, "slice", args, 2, ret);
}

int agora_array_set_slice(struct agora_array *a, int64_t start,
			  const agora_value *items, size_t n)
{
	agora_value args[2];

	if (a == NULL)
		return AGORA_EINVAL;
	if (items == NULL && n > 0)
		return ag_client_fail(a->p.c, AGORA_EINVAL,
				      "array.set_slice: NULL items");
	args[0] = ag_bound(start);
	args[1] = agora_array((agora_value *)items, n);
	return ag_proxy_call_value(&a->p, "set_slice", args, 2, NULL);
}

int agora_array_copy(struct agora_array *a, agora_value *ret)
{
	if (a == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&a->p, "copy");
	return ag_proxy_call_value(&a->p, "copy", NULL, 0, ret);
}
