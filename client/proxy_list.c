/*
 * proxy_list.c - agora_list: a proxy for a shared list in the server.
 *
 * One function per method of section 3.1 ("list.METHOD", handle first), each
 * one blocking round trip through the ag_proxy helpers (internal.h), which
 * give every return and message. AGORA_END bounds travel as nil.
 */
#include <stdlib.h>

#include "internal.h"

/*
 * Open the list @name (get-or-create), or a new anonymous list when @name is
 * NULL; *ret gets a proxy to close with agora_list_close(). Returns 0,
 * AGORA_ETYPE when @name is another type, AGORA_EINVAL/EIO/ENOMEM as any
 * call. Blocks for one round trip.
 */
int agora_list_open(agora_client *c, const char *name, agora_list **ret)
{
	return ag_proxy_open(c, ret, sizeof(**ret), "list", name, NULL, 0);
}

int agora_list_append(agora_list *l, agora_value v)
{
	if (l == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&l->p, "append", &v, 1, NULL);
}

int agora_list_extend(agora_list *l, const agora_value *items, size_t n)
{
	agora_value a;

	if (l == NULL)
		return AGORA_EINVAL;
	if (items == NULL && n > 0)
		return ag_client_fail(l->p.c, AGORA_EINVAL,
				      "list.extend: NULL items");
	a = agora_array((agora_value *)items, n);
	return ag_proxy_call_value(&l->p, "extend", &a, 1, NULL);
}

int agora_list_insert(agora_list *l, int64_t i, agora_value v)
{
	agora_value a[2] = { agora_int(i), v };

	if (l == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&l->p, "insert", a, 2, NULL);
}

int agora_list_get(agora_list *l, int64_t i, agora_value *ret)
{
	agora_value a = agora_int(i);

	if (l == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&l->p, "get");
	return ag_proxy_call_value(&l->p, "get", &a, 1, ret);
}

/* l[i] as an integer: AGORA_ETYPE when it is not one, AGORA_EVALUE when it
 * does not fit int64_t, AGORA_EINDEX when out of range. */
int agora_list_get_int(agora_list *l, int64_t i, int64_t *ret)
{
	agora_value a = agora_int(i);

	if (l == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&l->p, "get");
	return ag_proxy_call_as_int(&l->p, "get", &a, 1, "the list item", ret);
}

int agora_list_set(agora_list *l, int64_t i, agora_value v)
{
	agora_value a[2] = { agora_int(i), v };

	if (l == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&l->p, "set", a, 2, NULL);
}

int agora_list_delete(agora_list *l, int64_t i)
{
	agora_value a = agora_int(i);

	if (l == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&l->p, "delete", &a, 1, NULL);
}

int agora_list_slice(agora_list *l, int64_t start, int64_t stop, int64_t step,
		     agora_value *ret)
{
	agora_value a[3] = { ag_bound(start), ag_bound(stop), ag_bound(step) };

	if (l == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&l->p, "slice");
	return ag_proxy_call_value(&l->p, "slice", a, 3, ret);
}

int agora_list_set_slice(agora_list *l, int64_t start, int64_t stop,
			 const agora_value *items, size_t n)
{
	agora_value a[3] = { ag_bound(start), ag_bound(stop),
			     agora_array((agora_value *)items, n) };

	if (l == NULL)
		return AGORA_EINVAL;
	if (items == NULL && n > 0)
		return ag_client_fail(l->p.c, AGORA_EINVAL,
				      "list.set_slice: NULL items");
	return ag_proxy_call_value(&l->p, "set_slice", a, 3, NULL);
}

int agora_list_del_slice(agora_list *l, int64_t start, int64_t stop)
{
	agora_value a[2] = { ag_bound(start), ag_bound(stop) };

	if (l == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&l->p, "del_slice", a, 2, NULL);
}

int agora_list_pop(agora_list *l, int64_t i, agora_value *ret)
{
	agora_value a = agora_int(i);

	if (l == NULL)
		return AGORA_EINVAL;
	/* A NULL @ret pops and drops the item. */
	return ag_proxy_call_value(&l->p, "pop", &a, 1, ret);
}

int agora_list_pop_int(agora_list *l, int64_t i, int64_t *ret)
{
	agora_value a = agora_int(i);

	if (l == NULL)
		return AGORA_EINVAL;
	return ag_proxy_take_as_int(&l->p, "pop", &a, 1, "the list item", ret);
}

int agora_list_pop_str(agora_list *l, int64_t i, char **ret)
{
	agora_value a = agora_int(i);

	if (l == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&l->p, "pop");
	return ag_proxy_take_as_str(&l->p, "pop", &a, 1, "the list item", ret);
}

int agora_list_remove(agora_list *l, agora_value v)
{
	if (l == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&l->p, "remove", &v, 1, NULL);
}

/* index(v, start, stop); an AGORA_END start means 0 (Python takes no None
 * there), an AGORA_END stop the end. AGORA_EVALUE when absent. */
int agora_list_index(agora_list *l, agora_value v, int64_t start, int64_t stop,
		     int64_t *ret)
{
	agora_value a[3] = { v, agora_int(start == AGORA_END ? 0 : start),
			     ag_bound(stop) };

	if (l == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&l->p, "index");
	return ag_proxy_call_int(&l->p, "index", a, 3, ret);
}

int agora_list_count(agora_list *l, agora_value v, int64_t *ret)
{
	if (l == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&l->p, "count");
	return ag_proxy_call_int(&l->p, "count", &v, 1, ret);
}

int agora_list_contains(agora_list *l, agora_value v, bool *ret)
{
	if (l == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&l->p, "contains");
	return ag_proxy_call_bool(&l->p, "contains", &v, 1, ret);
}

int agora_list_len(agora_list *l, size_t *ret)
{
	if (l == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&l->p, "len");
	return ag_proxy_call_size(&l->p, "len", NULL, 0, ret);
}

int agora_list_reverse(agora_list *l)
{
	if (l == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&l->p, "reverse", NULL, 0, NULL);
}

/* Sort in the server by Python's ordering; AGORA_ETYPE for items that do
 * not order together. */
int agora_list_sort(agora_list *l, bool reverse)
{
	agora_value a = agora_bool(reverse);

	if (l == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&l->p, "sort", &a, 1, NULL);
}

int agora_list_clear(agora_list *l)
{
	if (l == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&l->p, "clear", NULL, 0, NULL);
}

int agora_list_copy(agora_list *l, agora_value *ret)
{
	if (l == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&l->p, "copy");
	return ag_proxy_call_value(&l->p, "copy", NULL, 0, ret);
}
