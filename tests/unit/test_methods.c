/*
 * test_methods.c - every method of the server, from its own tables, held to
 * an entry here: what it may store, and a call that exercises it.
 *
 * The list of methods comes from the server (ag_families(), each family's
 * method table, ag_server_methods()), not from this file: a method added
 * to a table without an entry below fails the test by name. For each
 * method:
 *   - its table says it stores (ag_method.stores) exactly when the entry
 *     here says so, and it takes no more params than a request decodes
 *     (AG_MAX_PARAMS);
 *   - a method that stores, called with room to spare, succeeds and the
 *     server's memory grows; called on a server at its --max-memory, it is
 *     refused with LIMIT and the memory does not grow;
 *   - a method that does not store, called on a server at its limit, does
 *     not make the memory for objects grow.
 * The servers are detached (no socket): requests are fed to a connection
 * and its answers captured (ag_conn_capture).
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "detached.h"
#include "internal.h"

#define KEY "agora unit test key, 32 bytes.."

/*
 * A call: the params after the handle, one letter each:
 *   h the handle          i int 0       I int 1       n nil
 *   t true                F false       z timeout 0   k str "k"
 *   T Unix time 4e9 (a deadline far ahead)
 *   K a str of 4 KiB, a key every dict is opened with
 *   S a str of 4 KiB      A an array of 64 strs of 64 bytes
 *   M a map of 64 str keys to strs of 64 bytes
 *   L an array of one int 1 (handle 1, for get_any's list of handles)
 * stores: 1 when the method may store (the table must say AG_STORES_*).
 * right: what a user needs to call it (the table's ag_method.right):
 *   r read   w write   c create   a admin   - none (close)
 */
struct entry {
	const char *method;
	bool stores;
	const char *params;
	char right;
};

static const struct entry ENTRIES[] = {
	/* server methods */
	{ "open", true, "", 'r' }, /* built specially: [type, name, opts] */
	{ "open_ref", false, "i", 'r' },
	{ "close", false, "I", '-' },
	{ "drop", false, "k", 'a' },
	{ "ls", false, "", 'r' },
	{ "info", false, "I", 'r' },
	{ "ping", false, "S", 'r' },
	{ "stats", false, "", 'r' },
	{ "clients", false, "", 'a' },
	{ "kill", false, "i",
	  'a' }, /* id 0: no such connection, answers false */
	{ "save", false, "", 'a' },     /* no data directory: VALUE */
	{ "expire", false, "In", 'a' }, /* handle 1 (a name): clears */
	{ "ttl", false, "I", 'r' },
	{ "watch", false, "I", 'r' },
	{ "unwatch", false, "I", 'r' },  /* no watch 1: false */
	{ "get_any", false, "LF", 'w' }, /* handle 1 is no queue: TYPE */
	{ "take_any", false, "LF", 'w' },
	{ "wait_any", false, "Lz", 'r' },
	{ "acquire_any", false, "LF", 'w' },
	{ "cancel", false, "I", '-' }, /* nothing parked: false */
	{ "txn", false, "LL", '-' },   /* its calls are checked alone */
	/* list */
	{ "list.append", true, "hS", 'w' },
	{ "list.extend", true, "hA", 'w' },
	{ "list.insert", true, "hiS", 'w' },
	{ "list.get", false, "hi", 'r' },
	{ "list.set", true, "hiS", 'w' },
	{ "list.delete", false, "hi", 'w' },
	{ "list.slice", false, "h", 'r' },
	{ "list.set_slice", true, "hiiA", 'w' },
	{ "list.del_slice", false, "hii", 'w' },
	{ "list.pop", false, "h", 'w' },
	{ "list.remove", false, "hk", 'w' },
	{ "list.index", false, "hk", 'r' },
	{ "list.count", false, "hk", 'r' },
	{ "list.contains", false, "hk", 'r' },
	{ "list.len", false, "h", 'r' },
	{ "list.reverse", false, "h", 'w' },
	{ "list.sort", false, "h", 'w' },
	{ "list.clear", false, "h", 'w' },
	{ "list.copy", false, "h", 'r' },
	/* dict */
	{ "dict.get", false, "hk", 'r' },
	{ "dict.getitem", false, "hk", 'r' },
	{ "dict.set", true, "hSS", 'w' },
	{ "dict.delete", false, "hk", 'w' },
	{ "dict.contains", false, "hk", 'r' },
	{ "dict.len", false, "h", 'r' },
	{ "dict.keys", false, "h", 'r' },
	{ "dict.values", false, "h", 'r' },
	{ "dict.items", false, "h", 'r' },
	{ "dict.pop", false, "hkn", 'w' },
	{ "dict.popitem", false, "h", 'w' },
	{ "dict.setdefault", true, "hSS", 'w' },
	{ "dict.update", true, "hM", 'w' },
	{ "dict.clear", false, "h", 'w' },
	{ "dict.copy", false, "h", 'r' },
	{ "dict.incr", true, "hS", 'w' },
	{ "dict.expire", true, "hKI", 'w' },
	{ "dict.expire_at", true, "hKT", 'w' },
	{ "dict.ttl", false, "hk", 'r' },
	{ "dict.expired", false, "hA", 'w' },
	/* queue and joinable_queue */
	{ "queue.put", true, "hS", 'w' },
	{ "queue.get", false, "hF", 'w' },
	{ "queue.put_nowait", true, "hS", 'w' },
	{ "queue.get_nowait", false, "h", 'w' },
	{ "queue.qsize", false, "h", 'r' },
	{ "queue.peek", false, "hI", 'r' },
	{ "queue.empty", false, "h", 'r' },
	{ "queue.full", false, "h", 'r' },
	{ "queue.take", false, "hF", 'w' },
	{ "queue.ack", false, "hI", 'w' },
	{ "queue.nack", false, "hI", 'w' },
	{ "queue.pending", false, "h", 'r' },
	{ "joinable_queue.put", true, "hS", 'w' },
	{ "joinable_queue.get", false, "hF", 'w' },
	{ "joinable_queue.put_nowait", true, "hS", 'w' },
	{ "joinable_queue.get_nowait", false, "h", 'w' },
	{ "joinable_queue.qsize", false, "h", 'r' },
	{ "joinable_queue.peek", false, "hI", 'r' },
	{ "joinable_queue.empty", false, "h", 'r' },
	{ "joinable_queue.full", false, "h", 'r' },
	{ "joinable_queue.take", false, "hF", 'w' },
	{ "joinable_queue.ack", false, "hI", 'w' },
	{ "joinable_queue.nack", false, "hI", 'w' },
	{ "joinable_queue.pending", false, "h", 'r' },
	{ "joinable_queue.task_done", false, "h", 'w' },
	{ "joinable_queue.join", false, "hz", 'r' },
	/* value */
	{ "value.get", false, "h", 'r' },
	{ "value.set", true, "hS", 'w' },
	{ "value.add", false, "hI", 'w' },
	{ "value.cas", true, "hiS", 'w' },
	{ "value.swap", true, "hS", 'w' },
	/* array */
	{ "array.get", false, "hi", 'r' },
	{ "array.set", false, "hiI", 'w' },
	{ "array.len", false, "h", 'r' },
	{ "array.slice", false, "h", 'r' },
	{ "array.set_slice", false, "hi", 'w' }, /* + [1, 1]: see build() */
	{ "array.copy", false, "h", 'r' },
	/* namespace */
	{ "namespace.get", false, "hk", 'r' },
	{ "namespace.set", true, "hSS", 'w' },
	{ "namespace.delete", false, "hk", 'w' },
	{ "namespace.items", false, "h", 'r' },
	/* locks */
	{ "lock.acquire", false, "hFz", 'w' },
	{ "lock.acquire_fenced", false, "hFz", 'w' },
	{ "lock.release", false, "h", 'w' },
	{ "lock.locked", false, "h", 'r' },
	{ "rlock.acquire", false, "hFz", 'w' },
	{ "rlock.acquire_fenced", false, "hFz", 'w' },
	{ "rlock.release", false, "h", 'w' },
	{ "rlock.locked", false, "h", 'r' },
	{ "semaphore.acquire", false, "hFz", 'w' },
	{ "semaphore.release", false, "h", 'w' },
	{ "semaphore.value", false, "h", 'r' },
	{ "bounded_semaphore.acquire", false, "hFz", 'w' },
	{ "bounded_semaphore.release", false, "h", 'w' },
	{ "bounded_semaphore.value", false, "h", 'r' },
	{ "condition.acquire", false, "hFz", 'w' },
	{ "condition.release", false, "h", 'w' },
	{ "condition.wait", false, "hz", 'w' },
	{ "condition.notify", false, "h", 'w' },
	{ "condition.notify_all", false, "h", 'w' },
	{ "event.set", false, "h", 'w' },
	{ "event.clear", false, "h", 'w' },
	{ "event.is_set", false, "h", 'r' },
	{ "event.wait", false, "hz", 'r' },
	{ "barrier.wait", false, "hz", 'w' },
	{ "barrier.reset", false, "h", 'w' },
	{ "barrier.abort", false, "h", 'w' },
	{ "barrier.parties", false, "h", 'r' },
	{ "barrier.n_waiting", false, "h", 'r' },
	{ "barrier.broken", false, "h", 'r' },
	{ "topic.subscribe", false, "h", 'r' },
	{ "topic.unsubscribe", false, "h", 'r' },
	{ "topic.publish", false, "hS", 'w' },
};

#define NENTRIES (sizeof(ENTRIES) / sizeof(ENTRIES[0]))

static const struct entry *entry_for(const char *method)
{
	for (size_t i = 0; i < NENTRIES; i++)
		if (strcmp(ENTRIES[i].method, method) == 0)
			return &ENTRIES[i];
	return NULL;
}

/* ---- a detached server and a connection whose answers we read ----------- */

typedef struct fixture {
	ag_server *srv;
	unit_peer p; /* the connection, its answers */
	uint32_t msgid;
	uint32_t last_len; /* items of the last array answered (ls) */
} fixture;

static void fixture_init(fixture *f, size_t max_memory)
{
	memset(f, 0, sizeof(*f));
	ck_assert_int_eq(ag_server_new_detached(KEY, strlen(KEY), &f->srv), 0);
	f->srv->max_memory = max_memory;
	unit_peer_init(&f->p, f->srv, (size_t)1 << 30);
}

static void fixture_deinit(fixture *f)
{
	agora_server_free(f->srv);
	unit_peer_deinit(&f->p);
}

static void pack_str_n(msgpack_packer *pk, char c, size_t n)
{
	char *s = malloc(n);
	ck_assert_ptr_nonnull(s);
	memset(s, c, n);
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
	free(s);
}

/* Pack one param by its letter (see struct entry). */
static void pack_param(msgpack_packer *pk, char p, uint32_t h)
{
	switch (p) {
	case 'h':
		msgpack_pack_uint32(pk, h);
		break;
	case 'i':
		msgpack_pack_int(pk, 0);
		break;
	case 'I':
		msgpack_pack_int(pk, 1);
		break;
	case 'n':
		msgpack_pack_nil(pk);
		break;
	case 't':
		msgpack_pack_true(pk);
		break;
	case 'F':
		msgpack_pack_false(pk);
		break;
	case 'z':
		msgpack_pack_double(pk, 0.0);
		break;
	case 'k':
		ag_pack_str(pk, "k");
		break;
	case 'K':
		pack_str_n(pk, 'K', 4096);
		break;
	case 'T':
		msgpack_pack_double(pk, 4e9); /* a deadline, in 2096 */
		break;
	case 'S':
		pack_str_n(pk, 's', 4096);
		break;
	case 'L':
		msgpack_pack_array(pk, 1);
		msgpack_pack_int(pk, 1);
		break;
	case 'A':
		msgpack_pack_array(pk, 64);
		for (int i = 0; i < 64; i++)
			pack_str_n(pk, (char)('a' + i % 26), 64);
		break;
	case 'M':
		msgpack_pack_map(pk, 64);
		for (int i = 0; i < 64; i++) {
			char k[16];
			snprintf(k, sizeof(k), "key%d", i);
			ag_pack_str(pk, k);
			pack_str_n(pk, 'v', 64);
		}
		break;
	default:
		ck_abort_msg("unknown param letter %c", p);
	}
}

/* Send one request. Returns 0 on success, the error code negated (a
 * positive number: -AGORA_ELIMIT ...) on an error, the handle negated for a
 * successful open, and INT_MAX when no answer came (a parked call). */
static int call(fixture *f, const char *method, const char *params, uint32_t h,
		const char *type, const char *name)
{
	ag_buf req;
	msgpack_packer pk;
	uint32_t id = ++f->msgid;

	ag_buf_init(&req);
	msgpack_packer_init(&pk, &req, ag_buf_write);
	ag_pack_request_head(&pk, id, method);
	if (strcmp(method, "open") == 0) {
		msgpack_pack_array(&pk, 3);
		ag_pack_str(&pk, type);
		if (name)
			ag_pack_str(&pk, name);
		else
			msgpack_pack_nil(&pk);
		/* The options each type needs, and for a named value (the
		 * sample call of open) an initial value of 4 KiB. */
		if (strcmp(type, "array") == 0) {
			msgpack_pack_map(&pk, 2);
			ag_pack_str(&pk, "typecode");
			ag_pack_str(&pk, "i");
			ag_pack_str(&pk, "length");
			msgpack_pack_int(&pk, 4);
		} else if (strcmp(type, "barrier") == 0) {
			msgpack_pack_map(&pk, 1);
			ag_pack_str(&pk, "parties");
			msgpack_pack_int(&pk, 1);
		} else if (strcmp(type, "value") == 0 && name != NULL) {
			msgpack_pack_map(&pk, 1);
			ag_pack_str(&pk, "initial");
			pack_str_n(&pk, 'i', 4096);
		} else {
			msgpack_pack_map(&pk, 0);
		}
	} else {
		size_t n = strlen(params);
		bool array_slice = strcmp(method, "array.set_slice") == 0;
		msgpack_pack_array(&pk, n + (array_slice ? 1 : 0));
		for (size_t i = 0; i < n; i++)
			pack_param(&pk, params[i], h);
		if (array_slice) {
			msgpack_pack_array(&pk, 2);
			msgpack_pack_int(&pk, 1);
			msgpack_pack_int(&pk, 1);
		}
	}
	ck_assert(!req.oom);
	ck_assert(ag_conn_feed(f->p.conn, req.data, req.len));
	ag_buf_deinit(&req);
	ag_server_run_pending(f->srv);

	/* The answer with our msgid (a parked call answers later: none). */
	int rc = INT_MAX;
	if (f->p.out.len > 0) {
		ck_assert_int_eq(
		    ag_reader_feed(&f->p.rd, f->p.out.data, f->p.out.len), 0);
		f->p.out.len = 0;
	}
	msgpack_object m;
	while (ag_reader_next(&f->p.rd, &m) == 1) {
		uint32_t mid;
		const msgpack_object *err, *res;
		ck_assert_int_eq(ag_parse_response(&m, &mid, &err, &res), 0);
		if (mid != id)
			continue;
		if (err != NULL) {
			char msg[256];
			rc = ag_parse_error(err, msg, sizeof(msg));
			ck_assert_int_lt(rc, 0);
			rc = -rc; /* errors come out positive */
		} else if (strcmp(method, "open") == 0) {
			rc = -(int)res->via.u64; /* the handle, negated */
		} else {
			rc = 0;
			if (res->type == MSGPACK_OBJECT_ARRAY)
				f->last_len = res->via.array.size;
		}
	}
	return rc;
}

/* Open an object of @type holding one item where it can (key "k" of a
 * dict or namespace, and a dict's 4 KiB key K, item "k" of a list or
 * queue), so that the sample calls are valid; returns its handle. */
static uint32_t open_obj(fixture *f, const char *type, const char *name)
{
	static const struct {
		const char *type, *method, *params;
	} seeds[] = {
		{ "list", "list.append", "hk" },
		{ "dict", "dict.set", "hkk" },
		{ "dict", "dict.set", "hKk" },
		{ "namespace", "namespace.set", "hkk" },
		{ "queue", "queue.put", "hk" },
		{ "joinable_queue", "joinable_queue.put", "hk" },
	};
	int rc = call(f, "open", "", 0, type, name);
	ck_assert_msg(rc < 0, "open %s failed with %d", type, -rc);
	uint32_t h = (uint32_t)-rc;
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		if (strcmp(seeds[i].type, type) == 0)
			ck_assert_int_eq(call(f, seeds[i].method,
					      seeds[i].params, h, NULL, NULL),
					 0);
	return h;
}

/* The type a "TYPE.METHOD" name is opened as. */
static void type_of(const char *method, char *buf, size_t len)
{
	const char *dot = strchr(method, '.');
	snprintf(buf, len, "%.*s", (int)(dot - method), method);
}

/* Fill @f's server to within @room bytes of its memory limit, with
 * anonymous values (no container whose capacity doubles past the limit). */
static void fill(fixture *f, size_t room)
{
	for (size_t chunk = 4096; chunk >= 16; chunk /= 2) {
		while (f->srv->memory + chunk + 512 + room <=
		       f->srv->max_memory) {
			ag_buf req;
			msgpack_packer pk;
			ag_buf_init(&req);
			msgpack_packer_init(&pk, &req, ag_buf_write);
			ag_pack_request_head(&pk, ++f->msgid, "open");
			msgpack_pack_array(&pk, 3);
			ag_pack_str(&pk, "value");
			msgpack_pack_nil(&pk);
			msgpack_pack_map(&pk, 1);
			ag_pack_str(&pk, "initial");
			pack_str_n(&pk, 'f', chunk);
			ck_assert(ag_conn_feed(f->p.conn, req.data, req.len));
			ag_buf_deinit(&req);
		}
	}
	ag_server_run_pending(f->srv);
	f->p.out.len = 0;
}

/* ---- the tests ----------------------------------------------------------- */

/* Call @fn on every method of every table. */
static void for_each_method(void (*fn)(const char *name, const ag_method *m))
{
	char name[64];

	for (const ag_method *m = ag_server_methods(); m->name; m++)
		fn(m->name, m);
	for (const ag_family *const *fp = ag_families(); *fp; fp++)
		for (const ag_method *m = (*fp)->methods; m->name; m++) {
			snprintf(name, sizeof(name), "%s.%s", (*fp)->name,
				 m->name);
			fn(name, m);
		}
}

/* The AG_RIGHT_* bit of an entry's right letter. */
static unsigned right_bit(char letter)
{
	switch (letter) {
	case 'r':
		return AG_RIGHT_READ;
	case 'w':
		return AG_RIGHT_WRITE;
	case 'c':
		return AG_RIGHT_CREATE;
	case 'a':
		return AG_RIGHT_ADMIN;
	case '-':
		return AG_RIGHT_ANY;
	}
	ck_abort_msg("unknown right letter %c", letter);
	return 0;
}

static void check_entry(const char *name, const ag_method *m)
{
	const struct entry *e = entry_for(name);

	ck_assert_msg(e != NULL,
		      "method %s has no entry in tests/unit/test_methods.c: "
		      "say whether it stores and how to call it",
		      name);
	ck_assert_msg((m->stores != AG_STORES_NONE) == e->stores,
		      "%s: the server's table says stores=%d, the test says "
		      "%d",
		      name, m->stores, e->stores);
	ck_assert_msg(m->right == right_bit(e->right),
		      "%s: the server's table says right %u (%s), the test "
		      "says '%c': every method names the one right it needs",
		      name, m->right, ag_right_name(m->right), e->right);
	ck_assert_msg(m->max_args <= AG_MAX_PARAMS,
		      "%s takes up to %u params, more than a request decodes "
		      "(%d)",
		      name, m->max_args, AG_MAX_PARAMS);
}

/* The server's families are the rows of AGORA_TYPES, in its order, each
 * answering to its row's wire name. */
START_TEST(families_are_the_rows_of_the_one_list_of_types)
{
#define WIRE_NAME(wire, ctype, proxy) #wire,
	static const char *const wire[] = { AGORA_TYPES(WIRE_NAME) };
#undef WIRE_NAME
	const ag_family *const *f = ag_families();
	size_t n = 0;

	for (; f[n] != NULL; n++) {
		ck_assert_uint_lt(n, sizeof(wire) / sizeof(wire[0]));
		ck_assert_str_eq(f[n]->name, wire[n]);
		ck_assert_ptr_eq(ag_family_by_name(wire[n], strlen(wire[n])),
				 f[n]);
	}
	ck_assert_uint_eq(n, sizeof(wire) / sizeof(wire[0]));
}
END_TEST

START_TEST(every_method_has_an_entry_that_matches_its_table)
{
	for_each_method(check_entry);
}
END_TEST

/* One method on a fresh server with room (must succeed and, if it stores,
 * grow memory), and on a fresh server at its limit (storing: LIMIT and
 * no growth; not storing: no growth). */
static void exercise(const char *name, const ag_method *m)
{
	const struct entry *e = entry_for(name);
	char type[32] = "";
	fixture f;
	int rc;

	if (e == NULL)
		return; /* reported by the test above */
	if (strchr(name, '.'))
		type_of(name, type, sizeof(type));

	/* With room: the sample call is valid, and a storing one stores. */
	if (e->stores) {
		fixture_init(&f, 0);
		uint32_t h = type[0] ? open_obj(&f, type, NULL) : 0;
		size_t before = f.srv->memory;
		rc = type[0] ? call(&f, name, e->params, h, NULL, NULL)
			     : call(&f, name, "", 0, "value", "v");
		ck_assert_msg(rc <= 0, "%s with room answered error %d", name,
			      -rc);
		ck_assert_msg(f.srv->memory > before,
			      "%s stored nothing (memory %zu before and after)",
			      name, before);
		fixture_deinit(&f);
	}

	/* At the limit. */
	fixture_init(&f, 256 * 1024);
	uint32_t h = type[0] ? open_obj(&f, type, NULL) : 0;
	fill(&f, 512);
	size_t before = f.srv->memory;
	ck_assert_uint_le(before, f.srv->max_memory);
	rc = type[0] ? call(&f, name, e->params, h, NULL, NULL)
		     : call(&f, name, "", 0, "value", "v2");
	if (e->stores)
		ck_assert_msg(rc == -AGORA_ELIMIT,
			      "%s at the memory limit answered %d, not LIMIT",
			      name, -rc);
	ck_assert_msg(f.srv->memory <= before + (e->stores ? 0 : 64),
		      "%s made memory grow from %zu to %zu at the limit", name,
		      before, f.srv->memory);
	fixture_deinit(&f);
}

START_TEST(every_storing_method_is_refused_past_max_memory)
{
	for_each_method(exercise);
}
END_TEST

/* ---- users and rights -----------------------------------------------------
 */

/* Three users: read-only, limited to "jobs.*" (no admin), and admin. */
static const char USERS[] =
    "# the users of the rights tests\n"
    "reader key=00112233445566778899aabbccddeeff rights=read\n"
    "\n"
    "worker key=00112233445566778899aabbccddeef0 rights=read,write,create "
    "names=jobs.*\n"
    "admin  key=00112233445566778899aabbccddeef1 rights=all  # all four\n";

/* Load @text as a users file (written to a private file, mode 0600). */
static ag_users *users_from(const char *text)
{
	char dir[] = "/tmp/agora-users-XXXXXX", path[64], err[512];
	ag_users *us = NULL;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/users", dir);
	FILE *fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fclose(fp);
	ck_assert_int_eq(chmod(path, 0600), 0);
	int rc = ag_users_load(path, &us, err, sizeof(err));
	ck_assert_msg(rc == 0, "users file refused: %s", err);
	unlink(path);
	rmdir(dir);
	return us;
}

static ag_users *test_users;

/* @name as user @user: must be DENIED exactly when @want_denied; a
 * refused call leaves the connection usable. */
static void expect(fixture *f, const char *name, const char *user,
		   const char *on, int rc, bool want_denied)
{
	ck_assert_msg((rc == -AGORA_EDENIED) == want_denied,
		      "%s as user %s on %s answered %d, want %s", name, user,
		      on, rc == INT_MAX ? 0 : -rc,
		      want_denied ? "DENIED" : "anything but DENIED");
	if (want_denied)
		ck_assert_msg(call(f, "ping", "", 0, NULL, NULL) == 0,
			      "%s as %s: the connection is not usable after "
			      "DENIED",
			      name, user);
}

/* Every method, as each user: DENIED exactly when the user lacks the
 * right its entry names, or (TYPE.METHOD) does not reach the object's
 * name. The objects are opened by the default user, then the
 * connection becomes the user's (as a reload that changed its rights). */
static void rights_of(const char *name, const ag_method *m)
{
	static const char *const users[] = { "reader", "worker", "admin" };
	static const char *const targets[] = { "jobs.x", "other.x" };
	const struct entry *e = entry_for(name);
	char type[32] = "";
	(void)m;

	if (e == NULL)
		return;
	if (strchr(name, '.'))
		type_of(name, type, sizeof(type));
	for (size_t u = 0; u < 3; u++) {
		const ag_user *user =
		    ag_users_find(test_users, users[u], strlen(users[u]));
		ck_assert_ptr_nonnull(user);
		for (size_t t = 0; t < (type[0] ? 2 : 1); t++) {
			fixture f;
			int rc;
			bool denied;

			fixture_init(&f, 0);
			f.srv->users = test_users;
			if (type[0]) {
				uint32_t h = open_obj(&f, type, targets[t]);
				f.p.conn->user = user;
				rc = call(&f, name, e->params, h, NULL, NULL);
				denied =
				    (user->rights & right_bit(e->right)) == 0 ||
				    !ag_user_reaches(user, targets[t],
						     strlen(targets[t]));
			} else if (strcmp(name, "open") == 0) {
				/* A name that does not exist: create too. */
				f.p.conn->user = user;
				rc = call(&f, name, "", 0, "value", "jobs.new");
				denied = (user->rights & AG_RIGHT_CREATE) == 0;
			} else {
				/* Handle 1 (info, close) is "jobs.x". */
				open_obj(&f, "value", "jobs.x");
				f.p.conn->user = user;
				rc = call(&f, name, e->params, 0, NULL, NULL);
				denied =
				    e->right != '-' &&
				    (user->rights & right_bit(e->right)) == 0;
			}
			expect(&f, name, users[u], type[0] ? targets[t] : "-",
			       rc, denied);
			f.srv->users = NULL;
			fixture_deinit(&f);
		}
	}
}

START_TEST(every_method_is_checked_against_each_users_rights)
{
	test_users = users_from(USERS);
	for_each_method(rights_of);
	ag_users_free(test_users);
	test_users = NULL;
}
END_TEST

/* Names a user does not reach: open (existing or not), open_ref, drop and
 * info are DENIED alike, and ls lists only what it reaches. */
START_TEST(names_out_of_reach_are_denied_and_not_listed)
{
	fixture f;
	ag_users *us = users_from(USERS);
	const ag_user *worker = ag_users_find(us, "worker", 6);

	fixture_init(&f, 0);
	f.srv->users = us;
	uint32_t hj = open_obj(&f, "list", "jobs.a");
	uint32_t ho = open_obj(&f, "list", "other.b");
	open_obj(&f, "dict", "jobs.c");
	ck_assert_int_eq(call(&f, "ls", "", 0, NULL, NULL), 0);
	ck_assert_uint_eq(f.last_len, 3);

	f.p.conn->user = worker;
	ck_assert_int_eq(call(&f, "ls", "", 0, NULL, NULL), 0);
	ck_assert_uint_eq(f.last_len, 2); /* jobs.a, jobs.c */
	/* existing and missing alike: nothing tells them apart */
	ck_assert_int_eq(call(&f, "open", "", 0, "list", "other.b"),
			 -AGORA_EDENIED);
	ck_assert_int_eq(call(&f, "open", "", 0, "list", "other.none"),
			 -AGORA_EDENIED);
	/* its own names: open an existing one, create a new one */
	ck_assert_int_lt(call(&f, "open", "", 0, "list", "jobs.a"), 0);
	ck_assert_int_lt(call(&f, "open", "", 0, "list", "jobs.new"), 0);
	/* anonymous objects: create (its right) and use by handle */
	int anon = call(&f, "open", "", 0, "list", NULL);
	ck_assert_int_lt(anon, 0);
	ck_assert_int_eq(
	    call(&f, "list.append", "hk", (uint32_t)-anon, NULL, NULL), 0);
	/* handles opened before its rights shrank */
	ck_assert_int_eq(call(&f, "list.len", "h", ho, NULL, NULL),
			 -AGORA_EDENIED);
	ck_assert_int_eq(call(&f, "info", "I", 0, NULL, NULL), 0); /* h 1 */
	ck_assert_int_eq(hj, 1);
	ck_assert_int_eq(call(&f, "drop", "k", 0, NULL, NULL),
			 -AGORA_EDENIED); /* no admin */
	f.srv->users = NULL;
	fixture_deinit(&f);
	ag_users_free(us);
}
END_TEST

/* A reload: rights that shrink apply from the next call; a user removed
 * has its connection closed. */
START_TEST(a_reload_applies_to_open_connections)
{
	fixture f;

	fixture_init(&f, 0);
	ag_users_apply(f.srv, users_from(USERS));
	uint32_t h = open_obj(&f, "list", "jobs.a");
	f.p.conn->user = ag_users_find(f.srv->users, "worker", 6);
	ck_assert_int_eq(call(&f, "list.append", "hk", h, NULL, NULL), 0);

	ag_users_apply(f.srv,
		       users_from("worker key=00112233445566778899aabbccddeef0 "
				  "rights=read names=jobs.*\n"));
	ck_assert_ptr_eq(f.p.conn->user,
			 ag_users_find(f.srv->users, "worker", 6));
	ck_assert_int_eq(call(&f, "list.append", "hk", h, NULL, NULL),
			 -AGORA_EDENIED);
	ck_assert_int_eq(call(&f, "list.len", "h", h, NULL, NULL), 0);
	ck_assert(!f.p.conn->closing);

	ag_users_apply(f.srv,
		       users_from("admin key=00112233445566778899aabbccddeef1 "
				  "rights=all\n"));
	ck_assert(f.p.conn->closing);
	fixture_deinit(&f);
}
END_TEST

/* A bad users file names the file, the line and the problem. */
static void refused(const char *text, const char *want)
{
	char dir[] = "/tmp/agora-users-XXXXXX", path[64], err[512];
	ag_users *us = NULL;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/users", dir);
	FILE *fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fclose(fp);
	ck_assert_int_eq(chmod(path, 0600), 0);
	ck_assert_int_lt(ag_users_load(path, &us, err, sizeof(err)), 0);
	ck_assert_ptr_null(us);
	ck_assert_msg(strstr(err, path) != NULL && strstr(err, want) != NULL,
		      "message \"%s\" lacks the path or \"%s\"", err, want);
	unlink(path);
	rmdir(dir);
}

START_TEST(bad_users_files_are_refused_with_the_line)
{
	refused("a key=00112233445566778899aabbccddeeff rights=read\n"
		"b key=0011 rights=read\n",
		"line 2: user b: key= wants");
	refused("a key=00112233445566778899aabbccddeeff rights=fly\n",
		"line 1: user a: unknown right \"fly\"");
	refused("a rights=read\n", "line 1: user a has no key");
	refused("a key=00112233445566778899aabbccddeeff\n",
		"line 1: user a has no rights=");
	refused("a key=00112233445566778899aabbccddeeff rights=read\n"
		"#\n"
		"a key=00112233445566778899aabbccddeef0 rights=read\n",
		"line 3: user a is also on line 1");
	refused("b/c key=00112233445566778899aabbccddeeff rights=read\n",
		"line 1: the user name \"b/c\"");
	refused("a key=00112233445566778899aabbccddeeff rights=read "
		"color=red\n",
		"line 1: user a: unknown field \"color\"");
	refused("a key-file=missing rights=read\n", "line 1: user a: ");

	/* group or others may read it */
	char dir[] = "/tmp/agora-users-XXXXXX", path[64], err[512];
	ag_users *us = NULL;
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/users", dir);
	FILE *fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fclose(fp);
	ck_assert_int_eq(chmod(path, 0640), 0);
	ck_assert_int_lt(ag_users_load(path, &us, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "chmod 600") != NULL, "%s", err);
	unlink(path);
	rmdir(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("methods");
	TCase *tc = tcase_create("table");

	tcase_add_test(tc, families_are_the_rows_of_the_one_list_of_types);
	tcase_add_test(tc, every_method_has_an_entry_that_matches_its_table);
	tcase_add_test(tc, every_storing_method_is_refused_past_max_memory);
	tcase_add_test(tc, every_method_is_checked_against_each_users_rights);
	tcase_add_test(tc, names_out_of_reach_are_denied_and_not_listed);
	tcase_add_test(tc, a_reload_applies_to_open_connections);
	tcase_add_test(tc, bad_users_files_are_refused_with_the_line);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
