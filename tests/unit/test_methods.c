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

#include "internal.h"

#define KEY "agora unit test key, 32 bytes.."

/*
 * A call: the params after the handle, one letter each:
 *   h the handle          i int 0       I int 1       n nil
 *   t true                F false       z timeout 0   k str "k"
 *   S a str of 4 KiB      A an array of 64 strs of 64 bytes
 *   M a map of 64 str keys to strs of 64 bytes
 * stores: 1 when the method may store (the table must say AG_STORES_*).
 */
struct entry {
	const char *method;
	bool stores;
	const char *params;
};

static const struct entry ENTRIES[] = {
	/* server methods */
	{ "open", true, "" }, /* built specially: [type, name, opts] */
	{ "open_ref", false, "i" },
	{ "close", false, "I" },
	{ "drop", false, "k" },
	{ "ls", false, "" },
	{ "info", false, "I" },
	{ "ping", false, "S" },
	{ "stats", false, "" },
	{ "clients", false, "" },
	{ "kill", false, "i" }, /* id 0: no such connection, answers false */
	/* list */
	{ "list.append", true, "hS" },
	{ "list.extend", true, "hA" },
	{ "list.insert", true, "hiS" },
	{ "list.get", false, "hi" },
	{ "list.set", true, "hiS" },
	{ "list.delete", false, "hi" },
	{ "list.slice", false, "h" },
	{ "list.set_slice", true, "hiiA" },
	{ "list.del_slice", false, "hii" },
	{ "list.pop", false, "h" },
	{ "list.remove", false, "hk" },
	{ "list.index", false, "hk" },
	{ "list.count", false, "hk" },
	{ "list.contains", false, "hk" },
	{ "list.len", false, "h" },
	{ "list.reverse", false, "h" },
	{ "list.sort", false, "h" },
	{ "list.clear", false, "h" },
	{ "list.copy", false, "h" },
	/* dict */
	{ "dict.get", false, "hk" },
	{ "dict.getitem", false, "hk" },
	{ "dict.set", true, "hSS" },
	{ "dict.delete", false, "hk" },
	{ "dict.contains", false, "hk" },
	{ "dict.len", false, "h" },
	{ "dict.keys", false, "h" },
	{ "dict.values", false, "h" },
	{ "dict.items", false, "h" },
	{ "dict.pop", false, "hkn" },
	{ "dict.popitem", false, "h" },
	{ "dict.setdefault", true, "hSS" },
	{ "dict.update", true, "hM" },
	{ "dict.clear", false, "h" },
	{ "dict.copy", false, "h" },
	{ "dict.incr", true, "hS" },
	/* queue and joinable_queue */
	{ "queue.put", true, "hS" },
	{ "queue.get", false, "hF" },
	{ "queue.put_nowait", true, "hS" },
	{ "queue.get_nowait", false, "h" },
	{ "queue.qsize", false, "h" },
	{ "queue.peek", false, "hI" },
	{ "queue.empty", false, "h" },
	{ "queue.full", false, "h" },
	{ "joinable_queue.put", true, "hS" },
	{ "joinable_queue.get", false, "hF" },
	{ "joinable_queue.put_nowait", true, "hS" },
	{ "joinable_queue.get_nowait", false, "h" },
	{ "joinable_queue.qsize", false, "h" },
	{ "joinable_queue.peek", false, "hI" },
	{ "joinable_queue.empty", false, "h" },
	{ "joinable_queue.full", false, "h" },
	{ "joinable_queue.task_done", false, "h" },
	{ "joinable_queue.join", false, "hz" },
	/* value */
	{ "value.get", false, "h" },
	{ "value.set", true, "hS" },
	{ "value.add", false, "hI" },
	{ "value.cas", true, "hiS" },
	{ "value.swap", true, "hS" },
	/* array */
	{ "array.get", false, "hi" },
	{ "array.set", false, "hiI" },
	{ "array.len", false, "h" },
	{ "array.slice", false, "h" },
	{ "array.set_slice", false, "hi" }, /* + [1, 1]: see build() */
	{ "array.copy", false, "h" },
	/* namespace */
	{ "namespace.get", false, "hk" },
	{ "namespace.set", true, "hSS" },
	{ "namespace.delete", false, "hk" },
	{ "namespace.items", false, "h" },
	/* locks */
	{ "lock.acquire", false, "hFz" },
	{ "lock.acquire_fenced", false, "hFz" },
	{ "lock.release", false, "h" },
	{ "lock.locked", false, "h" },
	{ "rlock.acquire", false, "hFz" },
	{ "rlock.acquire_fenced", false, "hFz" },
	{ "rlock.release", false, "h" },
	{ "rlock.locked", false, "h" },
	{ "semaphore.acquire", false, "hFz" },
	{ "semaphore.release", false, "h" },
	{ "semaphore.value", false, "h" },
	{ "bounded_semaphore.acquire", false, "hFz" },
	{ "bounded_semaphore.release", false, "h" },
	{ "bounded_semaphore.value", false, "h" },
	{ "condition.acquire", false, "hFz" },
	{ "condition.release", false, "h" },
	{ "condition.wait", false, "hz" },
	{ "condition.notify", false, "h" },
	{ "condition.notify_all", false, "h" },
	{ "event.set", false, "h" },
	{ "event.clear", false, "h" },
	{ "event.is_set", false, "h" },
	{ "event.wait", false, "hz" },
	{ "barrier.wait", false, "hz" },
	{ "barrier.reset", false, "h" },
	{ "barrier.abort", false, "h" },
	{ "barrier.parties", false, "h" },
	{ "barrier.n_waiting", false, "h" },
	{ "barrier.broken", false, "h" },
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
	ag_conn *conn;
	ag_buf out;
	ag_reader rd;
	uint32_t msgid;
} fixture;

static void fixture_init(fixture *f, size_t max_memory)
{
	memset(f, 0, sizeof(*f));
	ck_assert_int_eq(ag_server_new_detached(KEY, strlen(KEY), &f->srv), 0);
	f->srv->max_memory = max_memory;
	f->conn = ag_conn_new_detached(f->srv, true);
	ck_assert_ptr_nonnull(f->conn);
	ag_buf_init(&f->out);
	ag_conn_capture(f->conn, &f->out);
	ck_assert_int_eq(ag_reader_init(&f->rd, (size_t)1 << 30), 0);
}

static void fixture_deinit(fixture *f)
{
	agora_server_free(f->srv);
	ag_buf_deinit(&f->out);
	ag_reader_deinit(&f->rd);
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
	case 'S':
		pack_str_n(pk, 's', 4096);
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
	ck_assert(ag_conn_feed(f->conn, req.data, req.len));
	ag_buf_deinit(&req);
	ag_server_run_pending(f->srv);

	/* The answer with our msgid (a parked call answers later: none). */
	int rc = INT_MAX;
	if (f->out.len > 0) {
		ck_assert_int_eq(
		    ag_reader_feed(&f->rd, f->out.data, f->out.len), 0);
		f->out.len = 0;
	}
	msgpack_object m;
	while (ag_reader_next(&f->rd, &m) == 1) {
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
		}
	}
	return rc;
}

/* Open an object of @type holding one item where it can (key "k" of a
 * dict or namespace, item "k" of a list or queue), so that the sample
 * calls are valid; returns its handle. */
static uint32_t open_obj(fixture *f, const char *type, const char *name)
{
	static const struct {
		const char *type, *method, *params;
	} seeds[] = {
		{ "list", "list.append", "hk" },
		{ "dict", "dict.set", "hkk" },
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
			ck_assert(ag_conn_feed(f->conn, req.data, req.len));
			ag_buf_deinit(&req);
		}
	}
	ag_server_run_pending(f->srv);
	f->out.len = 0;
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

int main(void)
{
	Suite *s = suite_create("methods");
	TCase *tc = tcase_create("table");

	tcase_add_test(tc, families_are_the_rows_of_the_one_list_of_types);
	tcase_add_test(tc, every_method_has_an_entry_that_matches_its_table);
	tcase_add_test(tc, every_storing_method_is_refused_past_max_memory);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
