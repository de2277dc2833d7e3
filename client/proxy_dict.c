/*
 * proxy_dict.c - agora_dict: a proxy for a shared dict in the server.
 *
 * One function per method of section 3.1 ("dict.METHOD", handle first), each
 * one blocking round trip through the ag_proxy helpers (internal.h). Keys
 * are any value and compare by section 5 equality in the server. Note the
 * two lookups: agora_dict_get() is d[k] (method "dict.getitem", AGORA_EKEY
 * when missing) and agora_dict_get_default() is d.get(k, dflt) (method
 * "dict.get").
 */
#include <stdlib.h>

#include "internal.h"

/*
 * Open the dict @name (get-or-create), or a new anonymous dict when @name is
 * NULL; *ret gets a proxy to close with agora_dict_close(). Returns 0,
 * AGORA_ETYPE when @name is another type, else as any call.
 */
int agora_dict_open(agora_client *c, const char *name, agora_dict **ret)
{
	return ag_proxy_open(c, ret, sizeof(**ret), "dict", name, NULL, 0);
}

int agora_dict_get(agora_dict *d, agora_value k, agora_value *ret)
{
	if (d == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&d->p, "getitem");
	return ag_proxy_call_value(&d->p, "getitem", &k, 1, ret);
}

int agora_dict_get_default(agora_dict *d, agora_value k, agora_value dflt,
			   agora_value *ret)
{
	agora_value a[2] = { k, dflt };

	if (d == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&d->p, "get");
	return ag_proxy_call_value(&d->p, "get", a, 2, ret);
}

/* d[k] as an integer: AGORA_EKEY when missing, AGORA_ETYPE when not an
 * integer, AGORA_EVALUE when it does not fit int64_t. */
int agora_dict_get_int(agora_dict *d, agora_value k, int64_t *ret)
{
	if (d == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&d->p, "getitem");
	return ag_proxy_call_as_int(&d->p, "getitem", &k, 1, "the dict value",
				    ret);
}

int agora_dict_get_str(agora_dict *d, agora_value k, char **ret)
{
	if (d == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&d->p, "getitem");
	return ag_proxy_call_as_str(&d->p, "getitem", &k, 1, "the dict value",
				    ret);
}

int agora_dict_set(agora_dict *d, agora_value k, agora_value v)
{
	agora_value a[2] = { k, v };

	if (d == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&d->p, "set", a, 2, NULL);
}

/* del d[k]: AGORA_EKEY when missing. */
int agora_dict_delete(agora_dict *d, agora_value k)
{
	if (d == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&d->p, "delete", &k, 1, NULL);
}

int agora_dict_contains(agora_dict *d, agora_value k, bool *ret)
{
	if (d == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&d->p, "contains");
	return ag_proxy_call_bool(&d->p, "contains", &k, 1, ret);
}

int agora_dict_len(agora_dict *d, size_t *ret)
{
	if (d == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&d->p, "len");
	return ag_proxy_call_size(&d->p, "len", NULL, 0, ret);
}

/* The common shape of keys, values, items and copy: [h] -> a value that the
 * caller must want. */
static int query(agora_dict *d, const char *method, agora_value *ret)
{
	if (d == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&d->p, method);
	return ag_proxy_call_value(&d->p, method, NULL, 0, ret);
}

int agora_dict_keys(agora_dict *d, agora_value *ret)
{
	return query(d, "keys", ret);
}

int agora_dict_values(agora_dict *d, agora_value *ret)
{
	return query(d, "values", ret);
}

int agora_dict_items(agora_dict *d, agora_value *ret)
{
	return query(d, "items", ret);
}

/* A NULL @ret removes the key and drops its value. */
int agora_dict_pop(agora_dict *d, agora_value k, agora_value *ret)
{
	if (d == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&d->p, "pop", &k, 1, ret);
}

int agora_dict_pop_int(agora_dict *d, agora_value k, int64_t *ret)
{
	if (d == NULL)
		return AGORA_EINVAL;
	return ag_proxy_take_as_int(&d->p, "pop", &k, 1, "the dict value", ret);
}

int agora_dict_pop_str(agora_dict *d, agora_value k, char **ret)
{
	if (d == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&d->p, "pop");
	return ag_proxy_take_as_str(&d->p, "pop", &k, 1, "the dict value", ret);
}

int agora_dict_pop_default(agora_dict *d, agora_value k, agora_value dflt,
			   agora_value *ret)
{
	agora_value a[2] = { k, dflt };

	if (d == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&d->p, "pop", a, 2, ret);
}

/*
 * Remove the last inserted pair; *ret_key and *ret_val get its key and value
 * (either may be NULL to drop it). AGORA_EKEY when the dict is empty.
 */
int agora_dict_popitem(agora_dict *d, agora_value *ret_key,
		       agora_value *ret_val)
{
	const msgpack_object *o;
	agora_value k, v;
	int rc;

	if (d == NULL)
		return AGORA_EINVAL;
	rc = ag_proxy_call(&d->p, "popitem", NULL, 0, &o);
	if (rc < 0)
		return rc;
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 2)
		return ag_client_fail(d->p.c, AGORA_EPROTOCOL,
				      "the server answered dict.popitem with "
				      "%s, not a [key, value] pair",
				      ag_obj_type_name(o));
	rc = ag_value_unpack(&o->via.array.ptr[0], &k);
	if (rc < 0)
		return ag_client_fail(d->p.c, rc, "out of memory");
	rc = ag_value_unpack(&o->via.array.ptr[1], &v);
	if (rc < 0) {
		agora_value_free(&k);
		return ag_client_fail(d->p.c, rc, "out of memory");
	}
	if (ret_key != NULL)
		*ret_key = k;
	else
		agora_value_free(&k);
	if (ret_val != NULL)
		*ret_val = v;
	else
		agora_value_free(&v);
	return 0;
}

/* d.setdefault(k, dflt): *ret gets d[k] after the call (may be NULL). */
int agora_dict_setdefault(agora_dict *d, agora_value k, agora_value dflt,
			  agora_value *ret)
{
	agora_value a[2] = { k, dflt };

	if (d == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&d->p, "setdefault", a, 2, ret);
}

int agora_dict_update(agora_dict *d, agora_value map)
{
	if (d == NULL)
		return AGORA_EINVAL;
	if (map.type != AGORA_MAP)
		return ag_client_fail(d->p.c, AGORA_EINVAL,
				      "dict.update needs a map value");
	return ag_proxy_call_value(&d->p, "update", &map, 1, NULL);
}

int agora_dict_clear(agora_dict *d)
{
	if (d == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&d->p, "clear", NULL, 0, NULL);
}

int agora_dict_copy(agora_dict *d, agora_value *ret)
{
	return query(d, "copy", ret);
}

int agora_dict_incr(agora_dict *d, agora_value k, agora_value delta,
		    agora_value *ret)
{
	agora_value a[2] = { k, delta };

	if (d == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&d->p, "incr", a, 2, ret);
}

/* agora_dict_incr() for integers; AGORA_ETYPE when the stored value was a
 * float (the sum is then a float too; it is stored all the same). */
int agora_dict_incr_int(agora_dict *d, agora_value k, int64_t delta,
			int64_t *ret)
{
	agora_value a[2] = { k, agora_int(delta) };

	if (d == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_as_int(&d->p, "incr", a, 2, "the new value", ret);
}

/* ---- per-key TTL ---------------------------------------------------------
 */

/* d[k] = v with a time to live of @seconds (> 0): method set with its
 * ttl param. */
int agora_dict_set_ttl(agora_dict *d, agora_value k, agora_value v,
		       double seconds)
{
	agora_value a[3] = { k, v, agora_float(seconds) };

	if (d == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&d->p, "set", a, 3, NULL);
}

/* Set the TTL of existing key @k to @seconds (> 0), or take it away
 * (@seconds negative or NAN): method expire. */
int agora_dict_expire(agora_dict *d, agora_value k, double seconds)
{
	agora_value a[2] = { k, agora_nil() };

	if (d == NULL)
		return AGORA_EINVAL;
	if (seconds >= 0)
		a[1] = agora_float(seconds);
	return ag_proxy_call_value(&d->p, "expire", a, 2, NULL);
}

/* The seconds left before @k expires: method ttl. */
int agora_dict_ttl(agora_dict *d, agora_value k, double *ret_seconds,
		   bool *ret_has_ttl)
{
	agora_value v;
	int rc;

	if (d == NULL)
		return AGORA_EINVAL;
	if ((rc = ag_proxy_call_value(&d->p, "ttl", &k, 1, &v)) < 0)
		return rc;
	if (v.type != AGORA_NIL && v.type != AGORA_FLOAT &&
	    v.type != AGORA_INT && v.type != AGORA_UINT) {
		agora_value_free(&v);
		return AGORA_EPROTOCOL;
	}
	if (ret_has_ttl != NULL)
		*ret_has_ttl = v.type != AGORA_NIL;
	if (ret_seconds != NULL)
		*ret_seconds = v.type == AGORA_FLOAT  ? v.via.f
			       : v.type == AGORA_INT  ? (double)v.via.i
			       : v.type == AGORA_UINT ? (double)v.via.u
						      : 0.0;
	agora_value_free(&v);
	return 0;
}
