/*
 * object.c - objects' lives: made with an id and a secret, entered in the
 * id index, named in the names table, reference counted, and freed from a
 * work list a bounded amount per loop turn; the memory they are charged,
 * and the server's scratch space (zones, buffer) that requests use and
 * give back. (How long a name lives is lifetime.c's.)
 *
 * An object is held by its name (while named), by each handle, by each
 * parked request and by each stored reference; the last one to go queues
 * it to be destroyed. Ids count up from 1 and are never reused while the
 * server runs.
 */
#include <malloc.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The scratch buffer is freed after a request that made it larger. */
#define SCRATCH_KEEP ((size_t)1 << 20)
/* See heap_trim(). */
#define HEAP_TRIM_STEP ((size_t)16 << 20)

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
 * this loop turn's budget is spent (s->reap_n, s->reap_bytes: what was
 * destroyed since the turn began); then come back on the next turn from a
 * timer of no delay. Not event_active(), which would run again in this
 * same turn, before the loop polls the connections. Destroying one queues
 * those whose last reference it held: a chain of a million goes a budget
 * at a time, at constant depth, and so do a million objects let go by one
 * list.clear. Without a timer (out of memory) it finishes now.
 */
static void reap(ag_server *s)
{
	static const struct timeval now = { 0, 0 };
	bool bounded = true;

	s->reaping = true;
	while (s->dead_head != NULL) {
		if (bounded && (s->reap_n >= AG_REAP_OBJECTS ||
				s->reap_bytes >= AG_REAP_BYTES)) {
			if (s->reap_ev == NULL && s->base != NULL)
				s->reap_ev = evtimer_new(s->base, on_reap, s);
			if (s->reap_ev != NULL &&
			    evtimer_add(s->reap_ev, &now) == 0) {
				s->reap_later = true;
				break;
			}
			bounded = false;
		}
		ag_object *o = s->dead_head;
		s->dead_head = o->next_dead;
		if (s->dead_head == NULL)
			s->dead_tail = &s->dead_head;
		s->reap_n++;
		s->reap_bytes += o->mem;
		destroy(o);
	}
	s->reaping = false;
	if (s->dead_head == NULL)
		heap_trim(s);
}

/* A new loop turn: a new budget. */
static void on_reap(evutil_socket_t fd, short what, void *arg)
{
	ag_server *s = arg;

	(void)fd;
	(void)what;
	s->reap_later = false;
	s->reap_n = 0;
	s->reap_bytes = 0;
	reap(s);
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
	/* Inside a destroy, the loop in reap() takes it; with a turn to
	 * come, the timer does; else start now. */
	if (!s->reaping && !s->reap_later)
		reap(s);
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
	o->version = ++s->revision; /* a new object: a new version */
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

static void id_key(uint64_t id, uint8_t buf[8], ag_val *ret)
{
	for (int i = 7; i >= 0; i--, id >>= 8)
		buf[i] = (uint8_t)id;
	*ret = ag_val_view(buf, 8, 0);
}

ag_object *ag_object_by_id(ag_server *s, uint64_t id)
{
	uint8_t buf[8];
	ag_val key;

	id_key(id, buf, &key);
	ag_entry *e =
	    ag_table_find(&s->ids, &key, ag_table_hash(&s->ids, &key));
	return e ? e->ptr : NULL;
}

int ag_object_secret(ag_object *o)
{
	ag_server *s = o->srv;

	if (s->secret_left < AG_REF_SECRET_LEN) {
		if (RAND_bytes(s->secret_pool, sizeof(s->secret_pool)) != 1)
			return AGORA_EIO;
		s->secret_left = sizeof(s->secret_pool);
	}
	s->secret_left -= AG_REF_SECRET_LEN;
	memcpy(o->secret, s->secret_pool + s->secret_left, AG_REF_SECRET_LEN);
	/* A secret is used once: what is handed out is gone from the pool. */
	OPENSSL_cleanse(s->secret_pool + s->secret_left, AG_REF_SECRET_LEN);
	return 0;
}

int ag_object_index(ag_object *o)
{
	ag_server *s = o->srv;
	uint8_t buf[8];
	ag_val key, owned;

	id_key(o->id, buf, &key);
	if (ag_val_dup(&owned, &key) < 0)
		return AGORA_ENOMEM;
	ag_entry *e =
	    ag_table_add(&s->ids, &owned, ag_table_hash(&s->ids, &key));
	if (e == NULL) {
		ag_val_deinit(&owned);
		return AGORA_ENOMEM;
	}
	e->ptr = o;
	return 0;
}

void ag_object_unindex(ag_object *o)
{
	ag_server *s = o->srv;
	uint8_t buf[8];
	ag_val key;

	id_key(o->id, buf, &key);
	ag_entry *e =
	    ag_table_find(&s->ids, &key, ag_table_hash(&s->ids, &key));
	if (e != NULL)
		ag_table_remove(&s->ids, e);
}

/* ---- names (the server's names table) ----------------------------------- */

size_t ag_name_cost(size_t len)
{
	return len == 0 ? 0 : 2 * (len + 1);
}

int ag_object_name(ag_object *o, const char *name, size_t len)
{
	ag_server *s = o->srv;
	ag_val key = ag_val_view(name, (uint32_t)len, 0), owned;
	uint64_t hash = ag_table_hash(&s->names, &key);
	ag_entry *e = NULL;

	if (ag_table_find(&s->names, &key, hash) != NULL)
		return AGORA_EEXISTS;
	o->name = strndup(name, len);
	if (o->name != NULL && ag_val_dup(&owned, &key) == 0) {
		e = ag_table_add(&s->names, &owned, hash);
		if (e == NULL)
			ag_val_deinit(&owned);
	}
	if (e == NULL) {
		free(o->name);
		o->name = NULL;
		return AGORA_ENOMEM;
	}
	e->ptr = o;
	ag_object_ref(o); /* the name's hold */
	ag_object_mem(o, (ssize_t)ag_name_cost(len));
	return 0;
}

void ag_object_unname(ag_object *o)
{
	ag_server *s = o->srv;
	ag_val key;
	ag_entry *e;

	ag_life_free(o); /* its lifetime is its name's */
	if (o->name == NULL)
		return;
	key = ag_val_view(o->name, (uint32_t)strlen(o->name), 0);
	e = ag_table_find(&s->names, &key, ag_table_hash(&s->names, &key));
	ag_object_mem(o, -(ssize_t)ag_name_cost(strlen(o->name)));
	if (e != NULL)
		ag_table_remove(&s->names, e);
	free(o->name);
	o->name = NULL;
	ag_object_unref(o);
}

void ag_life_free(ag_object *o)
{
	struct ag_life *l = o->life;

	if (l == NULL)
		return;
	if (l->owner != NULL) {
		*l->oprev = l->onext;
		if (l->onext != NULL)
			l->onext->oprev = l->oprev;
	}
	if (l->ev != NULL)
		event_free(l->ev);
	free(l);
	o->life = NULL;
	ag_object_mem(o, -(ssize_t)ag_life_cost());
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
		ag_life_free(o);
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
	if (s->reap_ev != NULL) {
		event_free(s->reap_ev);
		s->reap_ev = NULL;
	}
	s->nobjects = 0;
	s->memory = 0;
}
