/*
 * srv_methods.c - the server methods: open, open_ref, close, drop, ls,
 * info, ping and stats (protocol section 3), the operators' clients and
 * kill, expire and ttl (a name's deadline: lifetime.c), and their table.
 *
 * Named objects live in the server's names table, which holds one
 * reference to each; drop takes the name away and lets that reference go.
 */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* An object's name, or nil for an anonymous one. */
static void pack_name(msgpack_packer *pk, const ag_object *o)
{
	if (o->name)
		ag_pack_str(pk, o->name);
	else
		msgpack_pack_nil(pk);
}

static bool has_len(ag_object *o, size_t *ret)
{
	return o->fam->len != NULL && o->fam->len(o, ret);
}

/*
 * A time to live @v (open's ttl, expire's seconds): a number more than 0
 * and at most AG_TTL_MAX, into *ret; else answers ARGS (not a number) or
 * VALUE naming @what, and returns it.
 */
static int arg_ttl(ag_req *r, const char *what, const msgpack_object *v,
		   double *ret)
{
	double t;
	char desc[96];

	switch (v->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		t = (double)v->via.u64;
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		t = (double)v->via.i64;
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		t = v->via.f64;
		break;
	default:
		ag_obj_describe(v, desc, sizeof(desc));
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "%s must be a number of seconds, got %s",
				      what, desc);
	}
	if (!(t > 0) || !(t <= AG_TTL_MAX)) {
		ag_obj_describe(v, desc, sizeof(desc));
		return ag_reply_error(&r->to, AGORA_EVALUE,
				      "%s must be more than 0 and at most %.0f "
				      "seconds, got %s",
				      what, AG_TTL_MAX, desc);
	}
	*ret = t;
	return 0;
}

/*
 * open's own option @name in @opts (may be NULL): a bool, @def when absent
 * or nil. Answers ARGS (and returns it) for any other kind.
 */
static int open_flag(ag_req *r, const msgpack_object *opts, const char *name,
		     bool def, bool *ret)
{
	const msgpack_object *v = ag_opt(opts, name);

	if (v == NULL || v->type == MSGPACK_OBJECT_NIL) {
		*ret = def;
		return 0;
	}
	if (v->type != MSGPACK_OBJECT_BOOLEAN) {
		char desc[96];
		ag_obj_describe(v, desc, sizeof(desc));
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "open: option %s must be a bool, got %s",
				      name, desc);
	}
	*ret = v->via.boolean;
	return 0;
}

/* open's own options, for every type: create, exclusive, and the name's
 * lifetime, ephemeral and ttl (lifetime.c). */
static bool is_open_flag(const msgpack_object *k)
{
	static const char *const own[] = { "create", "exclusive", "ephemeral",
					   "ttl" };

	if (k->type != MSGPACK_OBJECT_STR)
		return false;
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if (k->via.str.size == strlen(own[i]) &&
		    memcmp(k->via.str.ptr, own[i], k->via.str.size) == 0)
			return true;
	return false;
}

/*
 * @opts without open's own options (create, exclusive, ephemeral, ttl),
 * for the family,
 * which knows its own only: @opts itself when it has neither, else a copy
 * of the map in the request zone (NULL when nothing else is left). Answers
 * LIMIT and returns false when out of memory.
 */
static bool family_opts(ag_req *r, const msgpack_object *opts,
			const msgpack_object **ret)
{
	uint32_t n = 0, keep = 0;
	msgpack_object_kv *kv;
	msgpack_object *copy;

	*ret = opts;
	if (opts == NULL)
		return true;
	for (uint32_t i = 0; i < opts->via.map.size; i++)
		if (is_open_flag(&opts->via.map.ptr[i].key))
			n++;
	if (n == 0)
		return true;
	*ret = NULL;
	if (n == opts->via.map.size)
		return true;
	msgpack_zone *z = ag_server_request_zone(r->srv);
	copy = msgpack_zone_malloc(z, sizeof(*copy));
	kv = msgpack_zone_malloc(z, (opts->via.map.size - n) * sizeof(*kv));
	if (copy == NULL || kv == NULL) {
		ag_reply_error(&r->to, AGORA_ELIMIT, "open: out of memory");
		return false;
	}
	for (uint32_t i = 0; i < opts->via.map.size; i++)
		if (!is_open_flag(&opts->via.map.ptr[i].key))
			kv[keep++] = opts->via.map.ptr[i];
	copy->type = MSGPACK_OBJECT_MAP;
	copy->via.map.size = keep;
	copy->via.map.ptr = kv;
	*ret = copy;
	return true;
}

/*
 * open [type, name, options]. The options create (default true) and
 * exclusive (default false) are open's own, read for every type and
 * whether or not the name exists: create=false joins only (NO_OBJECT when
 * the name does not exist, nothing made), exclusive=true creates only
 * (EXISTS when it does, whatever its type), as O_CREAT and O_EXCL. An
 * anonymous open always creates: create=false with a nil name is ARGS, as
 * is create=false with exclusive=true, which could never succeed. The
 * options ephemeral (a bool) and ttl (seconds) are open's too, for a named
 * object only (ARGS with a nil name) and read when the object is created:
 * ephemeral=true on an existing name opens it when it is ephemeral (whoever
 * made it) and is VALUE when it is not; ttl is ignored then, as the
 * family's options are (expire sets it). The family's create() sees the
 * other options only.
 */
static int srv_open(ag_req *r)
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

	bool create, exclusive, ephemeral;
	if (open_flag(r, opts, "create", true, &create) < 0 ||
	    open_flag(r, opts, "exclusive", false, &exclusive) < 0 ||
	    open_flag(r, opts, "ephemeral", false, &ephemeral) < 0)
		return AGORA_EARGS;
	double ttl = 0;
	const msgpack_object *ttlv = ag_opt(opts, "ttl");
	if (ttlv != NULL && ttlv->type != MSGPACK_OBJECT_NIL &&
	    (rc = arg_ttl(r, "open: option ttl", ttlv, &ttl)) < 0)
		return rc;
	if ((ephemeral || ttl > 0) && name->type == MSGPACK_OBJECT_NIL)
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "open: option %s needs a name (it is "
				      "the name's lifetime)",
				      ephemeral ? "ephemeral" : "ttl");
	if (!create && exclusive)
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "open: create=false and exclusive=true "
				      "can never both hold");
	if (!create && name->type == MSGPACK_OBJECT_NIL)
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "open: create=false needs a name (an "
				      "anonymous open always creates)");

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
		/* Before anything that depends on the object: a name the
		 * user does not reach is DENIED whether it exists or not. */
		if (!ag_user_may(r, AG_RIGHT_READ, name->via.str.ptr, n))
			return AGORA_EDENIED;
		key = ag_val_view(name->via.str.ptr, n, 0);
		hash = ag_table_hash(&s->names, &key);
		ag_entry *e = ag_table_find(&s->names, &key, hash);
		/* A name past its deadline is gone: this open makes anew. */
		if (e != NULL && ag_life_check(e->ptr))
			e = NULL;
		if (e != NULL) {
			ag_object *o = e->ptr;
			if (exclusive)
				return ag_reply_error(
				    &r->to, AGORA_EEXISTS,
				    "open: \"%s\" exists (a %s) and exclusive "
				    "is true",
				    o->name, o->fam->name);
			if (o->fam != fam)
				return ag_reply_error(
				    &r->to, AGORA_ETYPE,
				    "open: \"%s\" is a %s, not a %s", o->name,
				    o->fam->name, fam->name);
			if (ephemeral && ag_life_owner(o) == 0)
				return ag_reply_error(
				    &r->to, AGORA_EVALUE,
				    "open: \"%s\" exists and is not ephemeral "
				    "(ephemeral=true opens only an ephemeral "
				    "name, or creates one)",
				    o->name);
			if (ag_conn_handle_new(r->to.conn, o, &h) < 0)
				return ag_reply_error(&r->to, AGORA_ELIMIT,
						      "open: no more handles");
			ag_reply_uint(&r->to, h);
			return 0;
		}
		if (!create)
			return ag_reply_error(&r->to, AGORA_ENO_OBJECT,
					      "open: no object is named "
					      "\"%.*s\" and create is false",
					      (int)n, name->via.str.ptr);
	}
	/* Creating (a name that does not exist, or an anonymous object). */
	if (!ag_user_may(r, AG_RIGHT_CREATE,
			 ag_val_is_empty(&key) ? NULL : name->via.str.ptr,
			 ag_val_len(&key)))
		return AGORA_EDENIED;
	if (!family_opts(r, opts, &opts))
		return AGORA_ELIMIT;

	/* A new object's fixed part and its name count against max_memory
	 * like stored values do (its contents are checked as they come). */
	size_t cost = sizeof(ag_object) + ag_name_cost(ag_val_len(&key));
	if (s->max_memory && s->memory + cost > s->max_memory)
		return ag_reply_error(
		    &r->to, AGORA_ELIMIT,
		    "open: a new %s (%zu bytes) would pass the server's memory "
		    "limit of %zu bytes (%zu in use)",
		    fam->name, cost, s->max_memory, s->memory);

	if (!ag_persist_admit(r))
		return AGORA_ESTORAGE;
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
	if (!ag_val_is_empty(&key) &&
	    (ag_object_name(o, name->via.str.ptr, ag_val_len(&key)) < 0 ||
	     (ephemeral && ag_life_set_owner(o, r->to.conn) < 0) ||
	     (ttl > 0 && ag_life_set_deadline(o, ag_wall_now() + ttl) < 0))) {
		ag_object_unname(o);
		ag_object_unref(o);
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "open: out of memory");
	}
	/* What create() and the name's lifetime charged besides count too:
	 * past the limit now, the object goes again, as if never made. */
	if (s->max_memory && s->memory > s->max_memory) {
		size_t in_use = s->memory, mem = o->mem;
		ag_object_unname(o);
		ag_object_unref(o);
		return ag_reply_error(
		    &r->to, AGORA_ELIMIT,
		    "open: a new %s (%zu bytes) would pass the server's memory "
		    "limit of %zu bytes (%zu in use)",
		    fam->name, mem, s->max_memory, in_use - mem);
	}
	ag_persist_new(o);
	rc = ag_conn_handle_new(r->to.conn, o, &h);
	ag_object_unref(o);
	if (rc < 0)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "open: no more handles");
	ag_reply_uint(&r->to, h);
	return 0;
}

static int srv_open_ref(ag_req *r)
{
	const msgpack_object *a = &r->argv[0];
	uint32_t h;

	if (a->type != MSGPACK_OBJECT_EXT || a->via.ext.type != 1) {
		char desc[96];
		ag_obj_describe(a, desc, sizeof(desc));
		return ag_reply_error(
		    &r->to, AGORA_EARGS,
		    "open_ref: want a reference (ext 1), got %s", desc);
	}
	if (a->via.ext.size != AG_REF_LEN)
		return ag_reply_error(&r->to, AGORA_EVALUE,
				      "open_ref: a reference has %d bytes of "
				      "data, this one %u",
				      AG_REF_LEN, a->via.ext.size);
	ag_object *o = ag_object_by_ref(r->srv, a->via.ext.ptr, AG_REF_LEN);
	if (o == NULL)
		return ag_reply_error(&r->to, AGORA_ENO_OBJECT,
				      "open_ref: the reference names no "
				      "object (it was freed, or was never "
				      "given out by this server)");
	if (!ag_user_may_obj(r, AG_RIGHT_READ, o))
		return AGORA_EDENIED;
	/* An optional expected type, as open's: another type is TYPE. */
	if (ag_arg_given(r, 1)) {
		const msgpack_object *t = &r->argv[1];
		const ag_family *fam = NULL;
		if (t->type == MSGPACK_OBJECT_STR)
			fam =
			    ag_family_by_name(t->via.str.ptr, t->via.str.size);
		if (fam == NULL) {
			char desc[96];
			ag_obj_describe(t, desc, sizeof(desc));
			return ag_reply_error(&r->to, AGORA_EARGS,
					      "open_ref: unknown type %s",
					      desc);
		}
		if (o->fam != fam)
			return ag_reply_error(&r->to, AGORA_ETYPE,
					      "open_ref: object %llu is a %s, "
					      "not a %s",
					      (unsigned long long)o->id,
					      o->fam->name, fam->name);
	}
	if (ag_conn_handle_new(r->to.conn, o, &h) < 0)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "open_ref: no more handles");
	/* Every hold passed to this connection for @o becomes this handle. */
	ag_conn_unpass(r->to.conn, o);
	ag_reply_uint(&r->to, h);
	return 0;
}

static int srv_close(ag_req *r)
{
	int64_t h;

	if (ag_arg_int(r, 0, &h) < 0)
		return AGORA_EARGS;
	if (!ag_conn_handle_close(r->to.conn, (uint64_t)h))
		return ag_reply_error(
		    &r->to, AGORA_ENO_OBJECT,
		    "close: no handle %lld on this connection", (long long)h);
	ag_reply_nil(&r->to);
	return 0;
}

static int srv_drop(ag_req *r)
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
	if (!ag_user_may(r, AG_RIGHT_ADMIN, name->via.str.ptr,
			 name->via.str.size))
		return AGORA_EDENIED;
	ag_object *o = ag_name_find(s, name->via.str.ptr, name->via.str.size);
	if (o == NULL) {
		ag_reply_bool(&r->to, false);
		return 0;
	}
	if (!ag_persist_admit(r))
		return AGORA_ESTORAGE;
	ag_changed(o, "drop", NULL);
	ag_persist_drop(o);
	ag_object_unname(o);
	ag_reply_bool(&r->to, true);
	return 0;
}

/*
 * ls [pattern=nil]: every named object, or those whose name matches the
 * fnmatch(3) pattern (no flags: '*' matches '/' and a leading '.' too);
 * only names the connection's user reaches (users.c).
 */
static int srv_ls(ag_req *r)
{
	ag_server *s = r->srv;
	const msgpack_object *pat = r->argc > 0 ? &r->argv[0] : NULL;
	const ag_user *user = r->to.conn->user; /* ls shows what it reaches */
	char *glob = NULL;
	uint32_t n = 0;
	msgpack_packer *pk;

	if (pat != NULL && pat->type != MSGPACK_OBJECT_NIL) {
		char desc[96];
		if (pat->type != MSGPACK_OBJECT_STR) {
			ag_obj_describe(pat, desc, sizeof(desc));
			return ag_reply_error(&r->to, AGORA_EARGS,
					      "ls: the pattern must be a str "
					      "or nil, got %s",
					      desc);
		}
		if (memchr(pat->via.str.ptr, '\0', pat->via.str.size) != NULL)
			return ag_reply_error(&r->to, AGORA_EVALUE,
					      "ls: the pattern holds a NUL "
					      "byte");
		glob = strndup(pat->via.str.ptr, pat->via.str.size);
		if (glob == NULL)
			return ag_reply_error(&r->to, AGORA_ELIMIT,
					      "ls: out of memory");
	}
	/* A name past its deadline is left out (its timer drops it). */
	double now = ag_wall_now();
	ag_table_foreach (&s->names, e) {
		ag_object *o = e->ptr;
		if (ag_life_due(o, now) ||
		    !ag_user_reaches(user, o->name, strlen(o->name)))
			continue;
		if (glob == NULL || fnmatch(glob, o->name, 0) == 0)
			n++;
	}
	pk = ag_reply_begin(&r->to);
	msgpack_pack_array(pk, n);
	ag_table_foreach (&s->names, e) {
		ag_object *o = e->ptr;
		size_t len;
		if (ag_life_due(o, now) ||
		    !ag_user_reaches(user, o->name, strlen(o->name)))
			continue;
		if (glob != NULL && fnmatch(glob, o->name, 0) != 0)
			continue;
		msgpack_pack_map(pk, 3 + ag_life_count(o));
		ag_pack_str(pk, "name");
		ag_pack_str(pk, o->name);
		ag_pack_str(pk, "type");
		ag_pack_str(pk, o->fam->name);
		ag_pack_str(pk, "len");
		if (has_len(o, &len))
			msgpack_pack_uint64(pk, len);
		else
			msgpack_pack_nil(pk);
		ag_life_pack(o, pk, now);
	}
	free(glob);
	return 0;
}

static int srv_info(ag_req *r)
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
	if (!ag_user_may_obj(r, AG_RIGHT_READ, o))
		return AGORA_EDENIED;
	ag_life_check(o); /* past its deadline: no name */
	unsigned extra = o->fam->info_count ? o->fam->info_count(o) : 0;
	msgpack_packer *pk = ag_reply_begin(&r->to);
	msgpack_pack_map(pk, 7 + extra + ag_life_count(o));
	ag_pack_str(pk, "id");
	msgpack_pack_uint64(pk, o->id);
	ag_pack_str(pk, "ref");
	ag_pack_ref(pk, o);
	ag_pack_str(pk, "type");
	ag_pack_str(pk, o->fam->name);
	ag_pack_str(pk, "name");
	pack_name(pk, o);
	ag_pack_str(pk, "len");
	if (has_len(o, &len))
		msgpack_pack_uint64(pk, len);
	else
		msgpack_pack_nil(pk);
	ag_pack_str(pk, "waiters");
	msgpack_pack_uint32(pk, o->nwaiters);
	ag_pack_str(pk, "version");
	msgpack_pack_uint64(pk, o->version);
	if (extra)
		o->fam->info_pack(o, pk);
	ag_life_pack(o, pk, ag_wall_now());
	return 0;
}

static int srv_ping(ag_req *r)
{
	msgpack_packer *pk = ag_reply_begin(&r->to);

	if (r->argc > 0)
		ag_pack_arg(pk, r, 0);
	else
		msgpack_pack_nil(pk);
	return 0;
}

static int srv_stats(ag_req *r)
{
	ag_server *s = r->srv;
	msgpack_packer *pk = ag_reply_begin(&r->to);

	/* run, started and uptime were added after 0.1.0, persistence
	 * after 1.1.0. */
	msgpack_pack_map(pk, 11);
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
	ag_pack_str(pk, "run");
	ag_pack_str(pk, s->run_id);
	ag_pack_str(pk, "started");
	msgpack_pack_double(pk, s->started);
	ag_pack_str(pk, "uptime");
	msgpack_pack_double(pk, (double)(ag_mono_ms() - s->started_ms) / 1e3);
	ag_pack_str(pk, "persistence");
	ag_persist_pack_stats(s, pk);
	return 0;
}

/* ---- the server methods expire and ttl ----------------------------------- */

/*
 * The named object param 0 of @r names: a str, its name, or an int, a
 * handle of this connection whose object still has its name. The user
 * needs @right on the name. NULL after answering ARGS, NO_OBJECT or
 * DENIED.
 */
static ag_object *target(ag_req *r, const char *method, unsigned right)
{
	const msgpack_object *a = &r->argv[0];
	ag_object *o;
	char desc[96];

	if (a->type == MSGPACK_OBJECT_STR) {
		if (!ag_user_may(r, right, a->via.str.ptr, a->via.str.size))
			return NULL;
		o = ag_name_find(r->srv, a->via.str.ptr, a->via.str.size);
		if (o == NULL)
			ag_reply_error(&r->to, AGORA_ENO_OBJECT,
				       "%s: no object is named \"%.*s\"",
				       method, (int)a->via.str.size,
				       a->via.str.ptr);
		return o;
	}
	if (a->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		o = ag_conn_handle_get(r->to.conn, a->via.u64);
		if (o == NULL) {
			ag_reply_error(&r->to, AGORA_ENO_OBJECT,
				       "%s: no handle %llu on this connection",
				       method, (unsigned long long)a->via.u64);
			return NULL;
		}
		if (!ag_user_may_obj(r, right, o))
			return NULL;
		ag_life_check(o);
		if (o->name == NULL) {
			ag_reply_error(&r->to, AGORA_ENO_OBJECT,
				       "%s: the object of handle %llu has no "
				       "name (anonymous, dropped or expired): "
				       "only a name has a time to live",
				       method, (unsigned long long)a->via.u64);
			return NULL;
		}
		return o;
	}
	ag_obj_describe(a, desc, sizeof(desc));
	ag_reply_error(&r->to, AGORA_EARGS,
		       "%s: want a name (str) or a handle (int), got %s",
		       method, desc);
	return NULL;
}

/* expire [name or handle, seconds or nil]: nil clears the deadline. */
static int srv_expire(ag_req *r)
{
	double secs = 0;
	ag_object *o;
	int rc;

	if (ag_arg_given(r, 1) &&
	    (rc = arg_ttl(r, "expire: seconds", &r->argv[1], &secs)) < 0)
		return rc;
	o = target(r, "expire", AG_RIGHT_ADMIN);
	if (o == NULL)
		return AGORA_ENO_OBJECT;
	if (!ag_persist_admit(r))
		return AGORA_ESTORAGE;
	if (ag_life_set_deadline(o, secs > 0 ? ag_wall_now() + secs : 0) < 0)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "expire: out of memory");
	ag_persist_expire(o);
	ag_reply_nil(&r->to);
	return 0;
}

/* ttl [name or handle]: the seconds left, or nil without a deadline. */
static int srv_ttl(ag_req *r)
{
	ag_object *o = target(r, "ttl", AG_RIGHT_READ);
	double deadline, now = ag_wall_now();

	if (o == NULL)
		return AGORA_ENO_OBJECT;
	deadline = ag_life_deadline(o);
	if (deadline > 0)
		ag_reply_double(&r->to, deadline > now ? deadline - now : 0.0);
	else
		ag_reply_nil(&r->to);
	return 0;
}

/* ---- operators: clients and kill ------------------------------------------
 *
 * clients lists every connection, authenticated or in the handshake,
 * except those already closing (they are freed in this loop turn). Its
 * holds come from the connection's ag_conn_hold() set: one entry per
 * object it owns something of. The families record an object there once,
 * whatever the depth (obj_lock.c: once per owner, however deep an rlock's
 * count; obj_semaphore.c: once while the connection holds one or more
 * permits of an owned semaphore), so the entry's own count is 1; the
 * family's held() hook, where it has one, gives the real figure.
 */

/* How much of @o connection @c holds (see above). */
static uint64_t held_count(const struct ag_hold *h, const ag_conn *c)
{
	ag_object *o = h->obj;

	return o->fam->held != NULL ? o->fam->held(o, c) : h->count;
}

static void pack_holds(msgpack_packer *pk, const ag_conn *c)
{
	msgpack_pack_array(pk, c->nholds);
	for (uint32_t i = 0; i < c->nholds; i++) {
		ag_object *o = c->holds[i].obj;
		msgpack_pack_map(pk, 4);
		ag_pack_str(pk, "type");
		ag_pack_str(pk, o->fam->name);
		ag_pack_str(pk, "name");
		pack_name(pk, o);
		ag_pack_str(pk, "id");
		msgpack_pack_uint64(pk, o->id);
		ag_pack_str(pk, "count");
		msgpack_pack_uint64(pk, held_count(&c->holds[i], c));
	}
}

/* Milliseconds from @then_ms to @now_ms (ag_mono_ms()), as seconds. */
static double secs_since(int64_t then_ms, int64_t now_ms)
{
	return now_ms > then_ms ? (double)(now_ms - then_ms) / 1000.0 : 0.0;
}

/* The map of connection @c; @now is the unix time at @now_ms. */
static void pack_client(msgpack_packer *pk, const ag_conn *c,
			const ag_conn *self, int64_t now_ms, double now)
{

	msgpack_pack_map(pk, 14);
	ag_pack_str(pk, "id");
	msgpack_pack_uint64(pk, c->id);
	ag_pack_str(pk, "self");
	if (c == self)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	ag_pack_str(pk, "authenticated");
	if (c->state == AG_CONN_READY)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	ag_pack_str(pk, "transport");
	ag_pack_str(pk, ag_conn_transport(c));
	ag_pack_str(pk, "peer");
	ag_pack_str(pk, c->peer);
	ag_pack_str(pk, "pid");
	if (c->have_peer)
		msgpack_pack_int64(pk, c->peer_pid);
	else
		msgpack_pack_nil(pk);
	ag_pack_str(pk, "uid");
	if (c->have_peer)
		msgpack_pack_int64(pk, c->peer_uid);
	else
		msgpack_pack_nil(pk);
	ag_pack_str(pk, "since");
	msgpack_pack_double(pk, now - secs_since(c->since_ms, now_ms));
	ag_pack_str(pk, "idle");
	msgpack_pack_double(pk, secs_since(c->active_ms, now_ms));
	ag_pack_str(pk, "handles");
	msgpack_pack_uint32(pk, c->nused - c->nfree);
	ag_pack_str(pk, "parked");
	msgpack_pack_uint32(pk, c->nparked);
	ag_pack_str(pk, "holds");
	pack_holds(pk, c);
	ag_pack_str(pk, "output");
	msgpack_pack_uint64(pk, ag_conn_unsent(c));
	/* Its user (added with users): nil for the default user, and for
	 * one in the handshake that named no user the server knows. */
	ag_pack_str(pk, "user");
	if (c->user != NULL)
		ag_pack_str(pk, c->user->name);
	else
		msgpack_pack_nil(pk);
}

static int srv_clients(ag_req *r)
{
	ag_server *s = r->srv;
	int64_t now_ms = ag_mono_ms();
	struct timespec ts;
	uint32_t n = 0;
	ag_conn *c;

	clock_gettime(CLOCK_REALTIME, &ts);
	double now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;

	TAILQ_FOREACH (c, &s->conns, link)
		if (!c->closing)
			n++;
	msgpack_packer *pk = ag_reply_begin(&r->to);
	msgpack_pack_array(pk, n);
	TAILQ_FOREACH (c, &s->conns, link)
		if (!c->closing)
			pack_client(pk, c, r->to.conn, now_ms, now);
	return 0;
}

static int srv_kill(ag_req *r)
{
	ag_server *s = r->srv;
	int64_t id;
	ag_conn *c;

	if (ag_arg_int(r, 0, &id) < 0)
		return AGORA_EARGS;
	TAILQ_FOREACH (c, &s->conns, link)
		if (id > 0 && c->id == (uint64_t)id && !c->closing)
			break;
	if (c == NULL) {
		ag_reply_bool(&r->to, false);
		return 0;
	}
	ag_server_logf(s, AGORA_LOG_INFO,
		       "connection %llu from %s: ended by kill from "
		       "connection %llu (%s)",
		       (unsigned long long)c->id, c->peer,
		       (unsigned long long)r->to.conn->id, r->to.conn->peer);
	ag_conn_end_why(c, "killed by kill");
	/* Answer first: killing itself, the caller still gets true. */
	ag_reply_bool(&r->to, true);
	ag_conn_kill(c, r->to.conn);
	return 0;
}

static const ag_method server_methods[] = {
	{ "open", srv_open, 2, 3, AG_STORES_BYTES, AG_RIGHT_READ },
	{ "open_ref", srv_open_ref, 1, 2, AG_STORES_NONE, AG_RIGHT_READ },
	{ "close", srv_close, 1, 1, AG_STORES_NONE, AG_RIGHT_ANY },
	{ "drop", srv_drop, 1, 1, AG_STORES_NONE, AG_RIGHT_ADMIN },
	{ "ls", srv_ls, 0, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ "info", srv_info, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ "ping", srv_ping, 0, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ "stats", srv_stats, 0, 0, AG_STORES_NONE, AG_RIGHT_READ },
	{ "clients", srv_clients, 0, 0, AG_STORES_NONE, AG_RIGHT_ADMIN },
	{ "kill", srv_kill, 1, 1, AG_STORES_NONE, AG_RIGHT_ADMIN },
	{ "save", ag_persist_save, 0, 0, AG_STORES_NONE, AG_RIGHT_ADMIN },
	{ "expire", srv_expire, 2, 2, AG_STORES_NONE, AG_RIGHT_ADMIN },
	{ "ttl", srv_ttl, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ "watch", ag_srv_watch, 1, 2, AG_STORES_NONE, AG_RIGHT_READ },
	{ "unwatch", ag_srv_unwatch, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ "get_any", ag_srv_get_any, 1, 3, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "take_any", ag_srv_take_any, 1, 5, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "wait_any", ag_srv_wait_any, 1, 2, AG_STORES_NONE, AG_RIGHT_READ },
	{ "acquire_any", ag_srv_acquire_any, 1, 3, AG_STORES_NONE,
	  AG_RIGHT_WRITE },
	{ "cancel", ag_srv_cancel, 1, 1, AG_STORES_NONE, AG_RIGHT_ANY },
	{ "txn", ag_srv_txn, 2, 3, AG_STORES_NONE, AG_RIGHT_ANY },
	{ NULL, NULL, 0, 0, AG_STORES_NONE, 0 },
};

const ag_method *ag_server_methods(void)
{
	return server_methods;
}
