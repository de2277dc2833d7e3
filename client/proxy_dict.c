/*
 * proxy_dict.c - agora_dict: a proxy for a shared dict in the server.
 *
 * One function per method of section 3.1 ("dict.METHOD", handle first), each
 * one blocking round trip through ag_client_call(). Keys are any value and
 * compare by section 5 equality in the server. Note the two lookups:
 * agora_dict_get() is d[k] (method "dict.getitem", AGORA_EKEY when missing)
 * and agora_dict_get_default() is d.get(k, dflt) (method "dict.get").
 */
#include <stdlib.h>

#include "internal.h"

struct agora_dict {
	agora_client *c;
	uint32_t handle;
};

/*
 * Open the dict @name (get-or-create), or a new anonymous dict when @name is
 * NULL; *ret gets a proxy to close with agora_dict_close(). Returns 0,
 * AGORA_ETYPE when @name is another type, else as any call.
 */
int agora_dict_open(agora_client *c, const char *name, agora_dict **ret)
{
	agora_dict *d;
	int rc;

	if (c == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(c, AGORA_EINVAL, "open needs a result");
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return ag_client_fail(c, AGORA_ENOMEM, "out of memory");
	rc = ag_client_open(c, "dict", name, NULL, 0, &d->handle);
	if (rc < 0) {
		free(d);
		return rc;
	}
	d->c = c;
	*ret = d;
	return 0;
}

/* Release the handle and free @d, even when the call fails; from a fork()
 * child nothing is sent (AGORA_EINVAL). Accepts NULL. */
int agora_dict_close(agora_dict *d)
{
	int rc;

	if (d == NULL)
		return 0;
	rc = ag_client_close_handle(d->c, d->handle);
	free(d);
	return rc;
}

uint32_t agora_dict_handle(const agora_dict *d)
{
	return d != NULL ? d->handle : 0;
}

/* The common shape: [h, k] -> a value into @ret. */
static int call_key(agora_dict *d, const char *method, agora_value k,
		    agora_value *ret)
{
	agora_value p[2];

	p[0] = agora_uint(d->handle);
	p[1] = k;
	return ag_client_call_value(d->c, method, p, 2, ret);
}

/* [h, k, v] -> a value into @ret (or dropped when NULL). */
static int call_key_val(agora_dict *d, const char *method, agora_value k,
			agora_value v, agora_value *ret)
{
	agora_value p[3];

	p[0] = agora_uint(d->handle);
	p[1] = k;
	p[2] = v;
	return ag_client_call_value(d->c, method, p, 3, ret);
}

/* [h] -> a value into @ret (or dropped when NULL). */
static int call_plain(agora_dict *d, const char *method, agora_value *ret)
{
	agora_value p = agora_uint(d->handle);

	return ag_client_call_value(d->c, method, &p, 1, ret);
}

int agora_dict_get(agora_dict *d, agora_value k, agora_value *ret)
{
	if (d == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(d->c, AGORA_EINVAL,
				      "dict.getitem needs a result");
	return call_key(d, "dict.getitem", k, ret);
}

int agora_dict_get_default(agora_dict *d, agora_value k, agora_value dflt,
			   agora_value *ret)
{
	if (d == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(d->c, AGORA_EINVAL,
				      "dict.get needs a result");
	return call_key_val(d, "dict.get", k, dflt, ret);
}

/* d[k] as an integer: AGORA_EKEY when missing, AGORA_ETYPE when not an
 * integer, AGORA_EVALUE when it does not fit int64_t. */
int agora_dict_get_int(agora_dict *d, agora_value k, int64_t *ret)
{
	const msgpack_object *o;
	agora_value p[2];
	int rc;

	if (d == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(d->c, AGORA_EINVAL,
				      "dict.getitem needs a result");
	p[0] = agora_uint(d->handle);
	p[1] = k;
	rc = ag_client_call(d->c, "dict.getitem", p, 2, &o);
	if (rc < 0)
		return rc;
	return ag_client_obj_int(d->c, o, "the dict value", ret);
}

int agora_dict_get_str(agora_dict *d, agora_value k, char **ret)
{
	const msgpack_object *o;
	agora_value p[2];
	int rc;

	if (d == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(d->c, AGORA_EINVAL,
				      "dict.getitem needs a result");
	p[0] = agora_uint(d->handle);
	p[1] = k;
	rc = ag_client_call(d->c, "dict.getitem", p, 2, &o);
	if (rc < 0)
		return rc;
	return ag_client_obj_str(d->c, o, "the dict value", ret);
}

int agora_dict_set(agora_dict *d, agora_value k, agora_value v)
{
	if (d == NULL)
		return AGORA_EINVAL;
	return call_key_val(d, "dict.set", k, v, NULL);
}

/* del d[k]: AGORA_EKEY when missing. */
int agora_dict_delete(agora_dict *d, agora_value k)
{
	if (d == NULL)
		return AGORA_EINVAL;
	return call_key(d, "dict.delete", k, NULL);
}

int agora_dict_contains(agora_dict *d, agora_value k, bool *ret)
{
	agora_value p[2];

	if (d == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(d->c, AGORA_EINVAL,
				      "dict.contains needs a result");
	p[0] = agora_uint(d->handle);
	p[1] = k;
	return ag_client_call_bool(d->c, "dict.contains", p, 2, ret);
}

int agora_dict_len(agora_dict *d, size_t *ret)
{
	agora_value p;

	if (d == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(d->c, AGORA_EINVAL,
				      "dict.len needs a result");
	p = agora_uint(d->handle);
	return ag_client_call_size(d->c, "dict.len", &p, 1, ret);
}

int agora_dict_keys(agora_dict *d, agora_value *ret)
{
	if (d == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(d->c, AGORA_EINVAL,
				      "dict.keys needs a result");
	return call_plain(d, "dict.keys", ret);
}

int agora_dict_values(agora_dict *d, agora_value *ret)
{
	if (d == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(d->c, AGORA_EINVAL,
				      "dict.values needs a result");
	return call_plain(d, "dict.values", ret);
}

int agora_dict_items(agora_dict *d, agora_value *ret)
{
	if (d == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(d->c, AGORA_EINVAL,
				      "dict.items needs a result");
	return call_plain(d, "dict.items", ret);
}

/* A NULL @ret removes the key and drops its value. */
int agora_dict_pop(agora_dict *d, agora_value k, agora_value *ret)
{
	if (d == NULL)
		return AGORA_EINVAL;
	return call_key(d, "dict.pop", k, ret);
}

int agora_dict_pop_default(agora_dict *d, agora_value k, agora_value dflt,
			   agora_value *ret)
{
	if (d == NULL)
		return AGORA_EINVAL;
	return call_key_val(d, "dict.pop", k, dflt, ret);
}

/*
 * Remove the last inserted pair; *ret_key and *ret_val get its key and value
 * (either may be NULL to drop it). AGORA_EKEY when the dict is empty.
 */
int agora_dict_popitem(agora_dict *d, agora_value *ret_key,
		       agora_value *ret_val)
{
	const msgpack_object *o;
	agora_value p, k, v;
	int rc;

	if (d == NULL)
		return AGORA_EINVAL;
	p = agora_uint(d->handle);
	rc = ag_client_call(d->c, "dict.popitem", &p, 1, &o);
	if (rc < 0)
		return rc;
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 2)
		return ag_client_fail(d->c, AGORA_EPROTOCOL,
				      "the server answered dict.popitem with "
				      "%s, not a [key, value] pair",
				      ag_obj_type_name(o));
	rc = ag_value_unpack(&o->via.array.ptr[0], &k);
	if (rc < 0)
		return ag_client_fail(d->c, rc, "out of memory");
	rc = ag_value_unpack(&o->via.array.ptr[1], &v);
	if (rc < 0) {
		agora_value_free(&k);
		return ag_client_fail(d->c, rc, "out of memory");
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
	if (d == NULL)
		return AGORA_EINVAL;
	return call_key_val(d, "dict.setdefault", k, dflt, ret);
}

int agora_dict_update(agora_dict *d, agora_value map)
{
	agora_value p[2];

	if (d == NULL)
		return AGORA_EINVAL;
	if (map.type != AGORA_MAP)
		return ag_client_fail(d->c, AGORA_EINVAL,
				      "dict.update needs a map value");
	p[0] = agora_uint(d->handle);
	p[1] = map;
	return ag_client_call_value(d->c, "dict.update", p, 2, NULL);
}

int agora_dict_clear(agora_dict *d)
{
	if (d == NULL)
		return AGORA_EINVAL;
	return call_plain(d, "dict.clear", NULL);
}

int agora_dict_copy(agora_dict *d, agora_value *ret)
{
	if (d == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(d->c, AGORA_EINVAL,
				      "dict.copy needs a result");
	return call_plain(d, "dict.copy", ret);
}

int agora_dict_incr(agora_dict *d, agora_value k, agora_value delta,
		    agora_value *ret)
{
	if (d == NULL)
		return AGORA_EINVAL;
	return call_key_val(d, "dict.incr", k, delta, ret);
}

/* agora_dict_incr() for integers; AGORA_ETYPE when the stored value was a
 * float (the sum is then a float too; it is stored all the same). */
int agora_dict_incr_int(agora_dict *d, agora_value k, int64_t delta,
			int64_t *ret)
{
	const msgpack_object *o;
	agora_value p[3];
	int64_t n;
	int rc;

	if (d == NULL)
		return AGORA_EINVAL;
	p[0] = agora_uint(d->handle);
	p[1] = k;
	p[2] = agora_int(delta);
	rc = ag_client_call(d->c, "dict.incr", p, 3, &o);
	if (rc < 0)
		return rc;
	rc = ag_client_obj_int(d->c, o, "the new value", &n);
	if (rc == 0 && ret != NULL)
		*ret = n;
	return rc;
}
