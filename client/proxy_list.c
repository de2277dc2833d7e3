/*
 * proxy_list.c - agora_list: a proxy for a shared list in the server.
 *
 * One function per method of section 3.1 ("list.METHOD", handle first), each
 * one blocking round trip through ag_client_call(). The proxy holds nothing
 * but its client and handle; every return and message comes from there
 * (see internal.h). AGORA_END bounds travel as nil.
 */
#include <stdlib.h>

#include "internal.h"

struct agora_list {
	agora_client *c;
	uint32_t handle;
};

/*
 * Open the list @name (get-or-create), or a new anonymous list when @name is
 * NULL; *ret gets a proxy to close with agora_list_close(). Returns 0,
 * AGORA_ETYPE when @name is another type, AGORA_EINVAL/EIO/ENOMEM as any
 * call. Blocks for one round trip.
 */
int agora_list_open(agora_client *c, const char *name, agora_list **ret)
{
	agora_list *l;
	int rc;

	if (c == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(c, AGORA_EINVAL, "open needs a result");
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return ag_client_fail(c, AGORA_ENOMEM, "out of memory");
	rc = ag_client_open(c, "list", name, NULL, 0, &l->handle);
	if (rc < 0) {
		free(l);
		return rc;
	}
	l->c = c;
	*ret = l;
	return 0;
}

/* Release the handle (one round trip) and free @l, even when the call
 * fails; from a fork() child nothing is sent (AGORA_EINVAL). Accepts NULL. */
int agora_list_close(agora_list *l)
{
	int rc;

	if (l == NULL)
		return 0;
	rc = ag_client_close_handle(l->c, l->handle);
	free(l);
	return rc;
}

/* The handle on this connection, for agora_info(); 0 for NULL. */
uint32_t agora_list_handle(const agora_list *l)
{
	return l != NULL ? l->handle : 0;
}

int agora_list_append(agora_list *l, agora_value v)
{
	agora_value p[2];

	if (l == NULL)
		return AGORA_EINVAL;
	p[0] = agora_uint(l->handle);
	p[1] = v;
	return ag_client_call_value(l->c, "list.append", p, 2, NULL);
}

int agora_list_extend(agora_list *l, const agora_value *items, size_t n)
{
	agora_value p[2];

	if (l == NULL)
		return AGORA_EINVAL;
	if (items == NULL && n > 0)
		return ag_client_fail(l->c, AGORA_EINVAL,
				      "list.extend: NULL items");
	p[0] = agora_uint(l->handle);
	p[1] = agora_array((agora_value *)items, n);
	return ag_client_call_value(l->c, "list.extend", p, 2, NULL);
}

int agora_list_insert(agora_list *l, int64_t i, agora_value v)
{
	agora_value p[3];

	if (l == NULL)
		return AGORA_EINVAL;
	p[0] = agora_uint(l->handle);
	p[1] = agora_int(i);
	p[2] = v;
	return ag_client_call_value(l->c, "list.insert", p, 3, NULL);
}

int agora_list_get(agora_list *l, int64_t i, agora_value *ret)
{
	agora_value p[2];

	if (l == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(l->c, AGORA_EINVAL,
				      "list.get needs a result");
	p[0] = agora_uint(l->handle);
	p[1] = agora_int(i);
	return ag_client_call_value(l->c, "list.get", p, 2, ret);
}

/* l[i] as an integer: AGORA_ETYPE when it is not one, AGORA_EVALUE when it
 * does not fit int64_t, AGORA_EINDEX when out of range. */
int agora_list_get_int(agora_list *l, int64_t i, int64_t *ret)
{
	const msgpack_object *o;
	agora_value p[2];
	int rc;

	if (l == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(l->c, AGORA_EINVAL,
				      "list.get needs a result");
	p[0] = agora_uint(l->handle);
	p[1] = agora_int(i);
	rc = ag_client_call(l->c, "list.get", p, 2, &o);
	if (rc < 0)
		return rc;
	return ag_client_obj_int(l->c, o, "the list item", ret);
}

int agora_list_set(agora_list *l, int64_t i, agora_value v)
{
	agora_value p[3];

	if (l == NULL)
		return AGORA_EINVAL;
	p[0] = agora_uint(l->handle);
	p[1] = agora_int(i);
	p[2] = v;
	return ag_client_call_value(l->c, "list.set", p, 3, NULL);
}

int agora_list_delete(agora_list *l, int64_t i)
{
	agora_value p[2];

	if (l == NULL)
		return AGORA_EINVAL;
	p[0] = agora_uint(l->handle);
	p[1] = agora_int(i);
	return ag_client_call_value(l->c, "list.delete", p, 2, NULL);
}

int agora_list_slice(agora_list *l, int64_t start, int64_t stop, int64_t step,
		     agora_value *ret)
{
	agora_value p[4];

	if (l == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(l->c, AGORA_EINVAL,
				      "list.slice needs a result");
	p[0] = agora_uint(l->handle);
	p[1] = ag_bound(start);
	p[2] = ag_bound(stop);
	p[3] = ag_bound(step);
	return ag_client_call_value(l->c, "list.slice", p, 4, ret);
}

int agora_list_set_slice(agora_list *l, int64_t start, int64_t stop,
			 const agora_value *items, size_t n)
{
	agora_value p[4];

	if (l == NULL)
		return AGORA_EINVAL;
	if (items == NULL && n > 0)
		return ag_client_fail(l->c, AGORA_EINVAL,
				      "list.set_slice: NULL items");
	p[0] = agora_uint(l->handle);
	p[1] = ag_bound(start);
	p[2] = ag_bound(stop);
	p[3] = agora_array((agora_value *)items, n);
	return ag_client_call_value(l->c, "list.set_slice", p, 4, NULL);
}

int agora_list_del_slice(agora_list *l, int64_t start, int64_t stop)
{
	agora_value p[3];

	if (l == NULL)
		return AGORA_EINVAL;
	p[0] = agora_uint(l->handle);
	p[1] = ag_bound(start);
	p[2] = ag_bound(stop);
	return ag_client_call_value(l->c, "list.del_slice", p, 3, NULL);
}

int agora_list_pop(agora_list *l, int64_t i, agora_value *ret)
{
	agora_value p[2];

	if (l == NULL)
		return AGORA_EINVAL;
	p[0] = agora_uint(l->handle);
	p[1] = agora_int(i);
	/* A NULL @ret pops and drops the item. */
	return ag_client_call_value(l->c, "list.pop", p, 2, ret);
}

int agora_list_remove(agora_list *l, agora_value v)
{
	agora_value p[2];

	if (l == NULL)
		return AGORA_EINVAL;
	p[0] = agora_uint(l->handle);
	p[1] = v;
	return ag_client_call_value(l->c, "list.remove", p, 2, NULL);
}

/* index(v, start, stop); an AGORA_END start means 0 (Python takes no None
 * there), an AGORA_END stop the end. AGORA_EVALUE when absent. */
int agora_list_index(agora_list *l, agora_value v, int64_t start, int64_t stop,
		     int64_t *ret)
{
	agora_value p[4];

	if (l == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(l->c, AGORA_EINVAL,
				      "list.index needs a result");
	p[0] = agora_uint(l->handle);
	p[1] = v;
	p[2] = agora_int(start == AGORA_END ? 0 : start);
	p[3] = ag_bound(stop);
	return ag_client_call_int(l->c, "list.index", p, 4, ret);
}

int agora_list_count(agora_list *l, agora_value v, int64_t *ret)
{
	agora_value p[2];

	if (l == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(l->c, AGORA_EINVAL,
				      "list.count needs a result");
	p[0] = agora_uint(l->handle);
	p[1] = v;
	return ag_client_call_int(l->c, "list.count", p, 2, ret);
}

int agora_list_contains(agora_list *l, agora_value v, bool *ret)
{
	agora_value p[2];

	if (l == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(l->c, AGORA_EINVAL,
				      "list.contains needs a result");
	p[0] = agora_uint(l->handle);
	p[1] = v;
	return ag_client_call_bool(l->c, "list.contains", p, 2, ret);
}

int agora_list_len(agora_list *l, size_t *ret)
{
	agora_value p;

	if (l == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(l->c, AGORA_EINVAL,
				      "list.len needs a result");
	p = agora_uint(l->handle);
	return ag_client_call_size(l->c, "list.len", &p, 1, ret);
}

int agora_list_reverse(agora_list *l)
{
	agora_value p;

	if (l == NULL)
		return AGORA_EINVAL;
	p = agora_uint(l->handle);
	return ag_client_call_value(l->c, "list.reverse", &p, 1, NULL);
}

/* Sort in the server by Python's ordering; AGORA_ETYPE for items that do
 * not order together. */
int agora_list_sort(agora_list *l, bool reverse)
{
	agora_value p[2];

	if (l == NULL)
		return AGORA_EINVAL;
	p[0] = agora_uint(l->handle);
	p[1] = agora_bool(reverse);
	return ag_client_call_value(l->c, "list.sort", p, 2, NULL);
}

int agora_list_clear(agora_list *l)
{
	agora_value p;

	if (l == NULL)
		return AGORA_EINVAL;
	p = agora_uint(l->handle);
	return ag_client_call_value(l->c, "list.clear", &p, 1, NULL);
}

int agora_list_copy(agora_list *l, agora_value *ret)
{
	agora_value p;

	if (l == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(l->c, AGORA_EINVAL,
				      "list.copy needs a result");
	p = agora_uint(l->handle);
	return ag_client_call_value(l->c, "list.copy", &p, 1, ret);
}
