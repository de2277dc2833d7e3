/*
 * watch.c - watches from C: agora_watch() and agora_unwatch() (the server
 * methods watch and unwatch, docs/protocol.md section 11.1), and
 * agora_change_of(), which reads a "watch" notification.
 */
#include <string.h>

#include "internal.h"

/* Read the unsigned int at @key of the map @m into *ret: false if absent. */
static bool map_uint(const msgpack_object *m, const char *key, uint64_t *ret)
{
	size_t n = strlen(key);

	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object *k = &m->via.map.ptr[i].key;
		const msgpack_object *v = &m->via.map.ptr[i].val;
		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
		    memcmp(k->via.str.ptr, key, n) == 0 &&
		    v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
			*ret = v->via.u64;
			return true;
		}
	}
	return false;
}

static const msgpack_object *map_find(const msgpack_object *m, const char *key)
{
	size_t n = strlen(key);

	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object *k = &m->via.map.ptr[i].key;
		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
		    memcmp(k->via.str.ptr, key, n) == 0)
			return &m->via.map.ptr[i].val;
	}
	return NULL;
}

int agora_watch(agora_client *c, uint32_t handle, const agora_value *key,
		const agora_watch_info *since, agora_watch_info *ret)
{
	agora_value p[2], opts;
	agora_pair kv[3];
	const msgpack_object *o, *run, *changed;
	agora_watch_info info;
	size_t n = 0;
	int rc;

	if (c == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(c, AGORA_EINVAL, "watch needs a result");
	if (key != NULL) {
		kv[n].key = agora_str("key");
		kv[n++].val = *key;
	}
	if (since != NULL) {
		kv[n].key = agora_str("since");
		kv[n++].val = agora_uint(since->version);
		kv[n].key = agora_str("run");
		kv[n++].val = agora_str(since->run);
	}
	opts = agora_nil();
	opts.type = AGORA_MAP;
	opts.via.map.items = kv;
	opts.via.map.len = n;
	p[0] = agora_uint(handle);
	p[1] = opts;
	rc = ag_client_call(c, "watch", p, 2, &o);
	if (rc < 0)
		return rc;
	memset(&info, 0, sizeof(info));
	info.changed = -1;
	run = o->type == MSGPACK_OBJECT_MAP ? map_find(o, "run") : NULL;
	if (run == NULL || run->type != MSGPACK_OBJECT_STR ||
	    run->via.str.size >= sizeof(info.run) ||
	    !map_uint(o, "watch", &info.watch) ||
	    !map_uint(o, "version", &info.version))
		return ag_client_bad_result(c, "watch", o,
					    "a map of watch, version and run");
	memcpy(info.run, run->via.str.ptr, run->via.str.size);
	changed = map_find(o, "changed");
	if (changed != NULL && changed->type == MSGPACK_OBJECT_BOOLEAN)
		info.changed = changed->via.boolean ? 1 : 0;
	*ret = info;
	return 0;
}

int agora_unwatch(agora_client *c, uint64_t watch, bool *ret_had)
{
	agora_value p = agora_uint(watch);
	const msgpack_object *o;
	int rc;

	if (c == NULL)
		return AGORA_EINVAL;
	rc = ag_client_call(c, "unwatch", &p, 1, &o);
	if (rc < 0)
		return rc;
	if (o->type != MSGPACK_OBJECT_BOOLEAN)
		return ag_client_bad_result(c, "unwatch", o, "a bool");
	if (ret_had != NULL)
		*ret_had = o->via.boolean;
	return 0;
}

int agora_change_of(const agora_notification *n, agora_change *ret)
{
	const agora_value *w, *v, *op;

	if (n == NULL || ret == NULL || n->method == NULL ||
	    strcmp(n->method, "watch") != 0)
		return AGORA_EINVAL;
	w = agora_map_get(&n->params, "watch");
	v = agora_map_get(&n->params, "version");
	op = agora_map_get(&n->params, "op");
	if (w == NULL || v == NULL || op == NULL ||
	    (w->type != AGORA_INT && w->type != AGORA_UINT) ||
	    (v->type != AGORA_INT && v->type != AGORA_UINT) ||
	    op->type != AGORA_STR)
		return AGORA_EINVAL;
	ret->watch = w->type == AGORA_INT ? (uint64_t)w->via.i : w->via.u;
	ret->version = v->type == AGORA_INT ? (uint64_t)v->via.i : v->via.u;
	ret->op = op->via.str.ptr;
	ret->key = agora_map_get(&n->params, "key");
	return 0;
}
