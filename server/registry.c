/*
 * registry.c - the objects of a server: families by name, named objects,
 * reference counts, and the server methods open, drop, ls, info and stats.
 *
 * An object is held by its name (while named), by each handle, by each
 * parked request and by each stored reference; the last one to go destroys
 * it. Ids count up from 1 and are never reused while the server runs.
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The scratch buffer is freed after a request that made it larger. */
#define SCRATCH_KEEP ((size_t)1 << 20)
/* See heap_trim(). */
#define HEAP_TRIM_STEP ((size_t)16 << 20)

static const ag_family *const families[] = {
	&ag_family_list,
	&ag_family_dict,
	&ag_family_queue,
	&ag_family_joinable_queue,
	&ag_family_value,
	&ag_family_array,
	&ag_family_namespace,
	&ag_family_lock,
	&ag_family_rlock,
	&ag_family_semaphore,
	&ag_family_bounded_semaphore,
	&ag_family_condition,
	&ag_family_event,
	&ag_family_barrier,
	NULL,
};

const ag_family *const *ag_families(void)
{
	return families;
}

const ag_family *ag_family_by_name(const char *name, size_t len)
{
	for (const ag_family *const *f = families; *f; f++)
		if (strlen((*f)->name) == len &&
		    memcmp((*f)->name, name, len) == 0)
			return *f;
	return NULL;
}

void ag_object_ref(ag_object *o)
{
	o->refs++;
}

/* Destroy @o, which no reference names any more. */
static void destroy(ag_object *o)
{
	ag_server *s = o->srv;

	if (o->fam->destroy)
		o->fam->destroy(o);
	s->memory -= o->mem;
	s->nobjects--;
	free(o->name);
	free(o);
}

static void on_reap(evutil_socket_t fd, short what, void *arg);
static void heap_trim(ag_server *s);

/*
 * Destroy queued objects, first in first out, until the queue is empty or
 * this turn's budget is spent; then, if some are left, come back on the
 * next loop turn. Destroying one queues those whose last reference it
 * held: a chain of a million goes a budget at a time, at constant depth.
 */
static void reap(ag_server *s)
{
	static const struct timeval now = { 0, 0 };
	unsigned n = 0;
	size_t bytes = 0;
	bool bounded = true;

	s->reaping = true;
	while (s->dead_head != NULL) {
		if (bounded &&
		    (n >= AG_REAP_OBJECTS || bytes >= AG_REAP_BYTES)) {
			/* A timer of no delay, not event_active(), which would
			 * run again in this turn before the loop polls the
			 * connections. Without one, finish now. */
			if (s->reap_ev == NULL && s->base != NULL)
				s->reap_ev = evtimer_new(s->base, on_reap, s);
			if (s->reap_ev != NULL &&
			    evtimer_add(s->reap_ev, &now) == 0)
				break;
			bounded = false;
		}
		ag_object *o = s->dead_head;
		s->dead_head = o->next_dead;
		if (s->dead_head == NULL)
			s->dead_tail = &s->dead_head;
		s->ndead--;
		n++;
		bytes += o->mem;
		destroy(o);
	}
	s->reaping = false;
	if (s->dead_head == NULL)
		heap_trim(s);
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	reap(arg);
}

void ag_object_unref(ag_object *o)
{
	ag_server *s = o->srv;

	if (s->freeing || --o->refs > 0)
		return;
	ag_object_unindex(o);
	o->next_dead = NULL;
	*s->dead_tail = o;
	s->dead_tail = &o->next_dead;
	s->ndead++;
	/* Inside a destroy, the loop in reap() takes it; else start one. */
	if (!s->reaping)
		reap(s);
}

/* What a name of @len bytes costs the server: the object's copy and the
 * names table's key (an approximation of the allocator's share). */
static size_t name_cost(size_t len)
{
	return len == 0 ? 0 : 2 * (len + 1);
}

ag_object *ag_object_new(ag_server *s, const ag_family *fam)
{
	ag_object *o = calloc(1, sizeof(*o));

	if (o == NULL)
		return NULL;
	o->fam = fam;
	o->srv = s;
	o->id = s->next_obj_id++;
	o->refs = 1;
	if (ag_object_secret(o) < 0 || ag_object_index(o) < 0) {
		free(o);
		return NULL;
	}
	s->nobjects++;
	ag_object_mem(o, (ssize_t)sizeof(*o));
	return o;
}

void ag_object_mem(ag_object *o, ssize_t delta)
{
	o->mem += (size_t)delta;
	o->srv->memory += (size_t)delta;
}

msgpack_zone *ag_server_zone(ag_server *s)
{
	return &s->zone;
}

msgpack_zone *ag_server_request_zone(ag_server *s)
{
	return &s->req_zone;
}

/* A zone that had to grow past its first chunk (a large request, a sort
 * of a long list) is made anew, so that what it took goes back: a cleared
 * zone keeps its chunks until destroyed. A zone's head chunk changes only
 * when it grows. */
static void zone_trim(msgpack_zone *z, void **head0)
{
	msgpack_zone fresh;

	if ((void *)z->chunk_list.head == *head0)
		return;
	if (msgpack_zone_init(&fresh, 8192)) {
		msgpack_zone_destroy(z);
		*z = fresh;
	} else {
		msgpack_zone_clear(z);
	}
	*head0 = z->chunk_list.head;
}

/*
 * Give the allocator's free pages back to the system once what the server
 * holds has fallen by HEAP_TRIM_STEP since its last peak: freed small
 * blocks (a cleared dict's entries) otherwise stay in the process, out of
 * reach of the brk-top trim when anything still in use lies above them.
 */
static void heap_trim(ag_server *s)
{
	size_t now = s->memory + s->conn_memory;

	if (now > s->heap_peak)
		s->heap_peak = now;
	else if (s->heap_peak - now >= HEAP_TRIM_STEP) {
		malloc_trim(0);
		s->heap_peak = now;
	}
}

void ag_server_trim(ag_server *s)
{
	zone_trim(&s->zone, &s->zone_head);
	zone_trim(&s->req_zone, &s->req_zone_head);
	if (s->scratch.cap > SCRATCH_KEEP)
		ag_buf_deinit(&s->scratch);
	heap_trim(s);
}

ag_buf *ag_server_scratch(ag_server *s)
{
	return &s->scratch;
}

uint64_t ag_server_seed(const ag_server *s)
{
	return s->seed;
}

void ag_registry_init(ag_server *s)
{
	s->zone_head = s->zone.chunk_list.head;
	s->req_zone_head = s->req_zone.chunk_list.head;
	ag_table_init(&s->names, s->seed);
	ag_table_init(&s->ids, s->seed);
	s->next_obj_id = 1;
	s->dead_tail = &s->dead_head;
}

void ag_registry_deinit(ag_server *s)
{
	/* Every object goes, whoever holds it: names, stored references,
	 * cycles of anonymous objects. With s->freeing set, the releases
	 * that destroying values would make are skipped. */
	s->freeing = true;
	ag_table_foreach (&s->names, e) {
		ag_object *o = e->ptr;
		e->ptr = NULL; /* .ptr shares storage with .val, freed next */
		free(o->name);
		o->name = NULL;
	}
	ag_table_clear_vals(&s->names);
	ag_table_deinit(&s->names);
	ag_table_foreach (&s->ids, e) {
		ag_object *o = e->ptr;
		e->ptr = NULL;
		if (o->fam->destroy)
			o->fam->destroy(o);
		free(o->name);
		free(o);
	}
	ag_table_clear_vals(&s->ids);
	ag_table_deinit(&s->ids);
	/* Those queued to be freed are out of the index already. */
	while (s->dead_head != NULL) {
		ag_object *o = s->dead_head;
		s->dead_head = o->next_dead;
		if (o->fam->destroy)
			o->fam->destroy(o);
		free(o->name);
		free(o);
	}
	s->dead_tail = &s->dead_head;
	s->ndead = 0;
	if (s->reap_ev != NULL) {
		event_free(s->reap_ev);
		s->reap_ev = NULL;
	}
	s->nobjects = 0;
	s->memory = 0;
}

static bool has_len(ag_object *o, size_t *ret)
{
	return o->fam->len != NULL && o->fam->len(o, ret);
}

int ag_registry_open(ag_req *r)
{
	ag_server *s = r->srv;
	const msgpack_object *type = &r->argv[0], *name = &r->argv[1];
	const msgpack_object *opts = r->argc > 2 ? &r->argv[2] : NULL;
	const ag_family *fam = NULL;
	char desc[96];
	uint32_t h;
	int rc;

	if (type->type == MSGPACK_OBJECT_STR)
		fam = ag_family_by_name(type->via.str.ptr, type->via.str.size);
	if (fam == NULL) {
		ag_obj_describe(type, desc, sizeof(desc));
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "open: unknown type %s", desc);
	}
	if (opts && opts->type == MSGPACK_OBJECT_NIL)
		opts = NULL;
	if (opts && opts->type == AG_OBJECT_RAW)
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "open: options must be a map of at most "
				      "%d entries",
				      AG_SHALLOW_MAX);
	if (opts && opts->type != MSGPACK_OBJECT_MAP) {
		ag_obj_describe(opts, desc, sizeof(desc));
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "open: options must be a map, got %s",
				      desc);
	}
	if (name->type != MSGPACK_OBJECT_NIL &&
	    name->type != MSGPACK_OBJECT_STR) {
		ag_obj_describe(name, desc, sizeof(desc));
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "open: name must be a str or nil, got %s",
				      desc);
	}

	ag_val key = { 0 };
	uint64_t hash = 0;
	if (name->type == MSGPACK_OBJECT_STR) {
		uint32_t n = name->via.str.size;
		if (n < 1 || n > AG_NAME_MAX)
			return ag_reply_error(&r->to, AGORA_EVALUE,
					      "open: a name is 1 to %d bytes, "
					      "got %u",
					      AG_NAME_MAX, n);
		if (!ag_utf8_valid(name->via.str.ptr, n))
			return ag_reply_error(&r->to, AGORA_EVALUE,
					      "open: the name is not valid "
					      "UTF-8");
		if (memchr(name->via.str.ptr, '\0', n) != NULL)
			return ag_reply_error(&r->to, AGORA_EVALUE,
					      "open: the name contains a NUL "
					      "byte");
		key = ag_val_view(name->via.str.ptr, n, 0);
		hash = ag_table_hash(&s->names, &key);
		ag_entry *e = ag_table_find(&s->names, &key, hash);
		if (e != NULL) {
			ag_object *o = e->ptr;
			if (o->fam != fam)
				return ag_reply_error(
				    &r->to, AGORA_ETYPE,
				    "open: \"%s\" is a %s, not a %s", o->name,
				    o->fam->name, fam->name);
			if (ag_conn_handle_new(r->to.conn, o, &h) < 0)
				return ag_reply_error(&r->to, AGORA_ELIMIT,
						      "open: no more handles");
			ag_reply_uint(&r->to, h);
			return 0;
		}
	}

	/* A new object's fixed part and its name count against max_memory
	 * like stored values do (its contents are checked as they come). */
	size_t cost = sizeof(ag_object) + name_cost(ag_val_len(&key));
	if (s->max_memory && s->memory + cost > s->max_memory)
		return ag_reply_error(
		    &r->to, AGORA_ELIMIT,
		    "open: a new %s (%zu bytes) would pass the server's memory "
		    "limit of %zu bytes (%zu in use)",
		    fam->name, cost, s->max_memory, s->memory);

	/* The reference ag_object_new() gives this function is dropped at
	 * the end: by then the name and the handle hold their own. */
	ag_object *o = ag_object_new(s, fam);
	if (o == NULL)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "open: out of memory");
	r->obj = o;
	rc = fam->create(o, r, opts);
	if (rc < 0) {
		/* The family set nothing up: take the object out by hand. */
		ag_object_unindex(o);
		s->nobjects--;
		s->memory -= o->mem;
		free(o);
		return rc;
	}
	if (!ag_val_is_empty(&key)) {
		ag_val owned;
		ag_entry *e = NULL;
		o->name = strndup(name->via.str.ptr, ag_val_len(&key));
		if (o->name != NULL && ag_val_dup(&owned, &key) == 0) {
			e = ag_table_add(&s->names, &owned, hash);
			if (e == NULL)
				ag_val_deinit(&owned);
		}
		if (e == NULL) {
			ag_object_unref(o);
			return ag_reply_error(&r->to, AGORA_ELIMIT,
					      "open: out of memory");
		}
		e->ptr = o;
		ag_object_ref(o); /* the name's hold */
		ag_object_mem(o, (ssize_t)name_cost(ag_val_len(&key)));
	}
	rc = ag_conn_handle_new(r->to.conn, o, &h);
	ag_object_unref(o);
	if (rc < 0)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "open: no more handles");
	ag_reply_uint(&r->to, h);
	return 0;
}

int ag_registry_drop(ag_req *r)
{
	ag_server *s = r->srv;
	const msgpack_object *name = &r->argv[0];

	if (name->type != MSGPACK_OBJECT_STR) {
		char desc[96];
		ag_obj_describe(name, desc, sizeof(desc));
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "drop: the name must be a str, got %s",
				      desc);
	}
	ag_entry *e = NULL;
	/* A longer name was never given to an object. */
	if (name->via.str.size <= AG_NAME_MAX) {
		ag_val key =
		    ag_val_view(name->via.str.ptr, name->via.str.size, 0);
		e = ag_table_find(&s->names, &key,
				  ag_table_hash(&s->names, &key));
	}
	if (e == NULL) {
		ag_reply_bool(&r->to, false);
		return 0;
	}
	ag_object *o = e->ptr;
	ag_object_mem(o, -(ssize_t)name_cost(strlen(o->name)));
	ag_table_remove(&s->names, e);
	free(o->name);
	o->name = NULL;
	ag_object_unref(o);
	ag_reply_bool(&r->to, true);
	return 0;
}

int ag_registry_ls(ag_req *r)
{
	ag_server *s = r->srv;
	msgpack_packer *pk = ag_reply_begin(&r->to);

	msgpack_pack_array(pk, s->names.count);
	ag_table_foreach (&s->names, e) {
		ag_object *o = e->ptr;
		size_t len;
		msgpack_pack_map(pk, 3);
		ag_pack_str(pk, "name");
		ag_pack_str(pk, o->name);
		ag_pack_str(pk, "type");
		ag_pack_str(pk, o->fam->name);
		ag_pack_str(pk, "len");
		if (has_len(o, &len))
			msgpack_pack_uint64(pk, len);
		else
			msgpack_pack_nil(pk);
	}
	return 0;
}

int ag_registry_info(ag_req *r)
{
	int64_t h;
	ag_object *o;
	size_t len;

	if (ag_arg_int(r, 0, &h) < 0)
		return AGORA_EARGS;
	o = h > 0 ? ag_conn_handle_get(r->to.conn, (uint64_t)h) : NULL;
	if (o == NULL)
		return ag_reply_error(&r->to, AGORA_ENO_OBJECT,
				      "info: no handle %lld on this connection",
				      (long long)h);
	unsigned extra = o->fam->info_count ? o->fam->info_count(o) : 0;
	msgpack_packer *pk = ag_reply_begin(&r->to);
	msgpack_pack_map(pk, 6 + extra);
	ag_pack_str(pk, "id");
	msgpack_pack_uint64(pk, o->id);
	ag_pack_str(pk, "ref");
	ag_pack_ref(pk, o);
	ag_pack_str(pk, "type");
	ag_pack_str(pk, o->fam->name);
	ag_pack_str(pk, "name");
	if (o->name)
		ag_pack_str(pk, o->name);
	else
		msgpack_pack_nil(pk);
	ag_pack_str(pk, "len");
	if (has_len(o, &len))
		msgpack_pack_uint64(pk, len);
	else
		msgpack_pack_nil(pk);
	ag_pack_str(pk, "waiters");
	msgpack_pack_uint32(pk, o->nwaiters);
	if (extra)
		o->fam->info_pack(o, pk);
	return 0;
}

int ag_registry_stats(ag_req *r)
{
	ag_server *s = r->srv;
	msgpack_packer *pk = ag_reply_begin(&r->to);

	msgpack_pack_map(pk, 7);
	ag_pack_str(pk, "connections");
	msgpack_pack_uint32(pk, s->nconns);
	ag_pack_str(pk, "objects");
	msgpack_pack_uint64(pk, s->nobjects);
	ag_pack_str(pk, "requests");
	msgpack_pack_uint64(pk, s->requests);
	ag_pack_str(pk, "waiters");
	msgpack_pack_uint64(pk, s->nwaiters);
	ag_pack_str(pk, "memory");
	msgpack_pack_uint64(pk, s->memory);
	ag_pack_str(pk, "memory_connections");
	msgpack_pack_uint64(pk, s->conn_memory);
	ag_pack_str(pk, "memory_total");
	msgpack_pack_uint64(pk, s->memory + s->conn_memory + s->scratch.cap);
	return 0;
}
