/*
 * commands.c - the subcommands of agora(1), one function each (cli.h), and
 * the named objects they work on: the type from ls, then open by name and
 * type, and what each type takes from the table made from AGORA_TYPES.
 *
 * Everything goes through libagora's generic calls (agora_call with
 * "TYPE.METHOD"), so the tool handles every object type alike.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agora.h"
#include "cli.h"
#include "value_json.h"

/* Set by SIGINT or SIGTERM during watch: stop after the current line. */
static volatile sig_atomic_t stop_requested;

/* ---- named objects ------------------------------------------------------- */

/*
 * What the tool does with each type of object, one row per row of
 * AGORA_TYPES (include/agora.h), each from the CLI_<wire> line below: a
 * type added to the list without its line here does not build.
 */
enum key_kind { NO_KEY, KEY_INDEX, KEY_DICT, KEY_ATTR };

struct cli_type {
	const char *wire;
	enum key_kind key; /* get NAME KEY, set NAME KEY VALUE */
	const char *read;  /* get NAME: the method; NULL for none */
	bool read_attrs;   /* its result is a map of attribute names */
	bool read_owner;   /* get NAME is whether the lock is held (info) */
	bool set_whole;    /* set NAME VALUE */
	const char *push, *pop; /* push NAME VALUE, pop NAME */
	bool holder;            /* info shows who holds the lock */
};

#define CLI_list \
	.key = KEY_INDEX, .read = "copy", .push = "append", .pop = "pop"
#define CLI_dict .key = KEY_DICT, .read = "copy"
#define CLI_queue .read = "qsize", .push = "put_nowait", .pop = "get_nowait"
#define CLI_joinable_queue CLI_queue
#define CLI_value .read = "get", .set_whole = true
#define CLI_array .key = KEY_INDEX, .read = "copy"
#define CLI_namespace .key = KEY_ATTR, .read = "items", .read_attrs = true
#define CLI_lock .read = "locked", .holder = true
#define CLI_rlock CLI_lock
#define CLI_semaphore .read = "value"
#define CLI_bounded_semaphore CLI_semaphore
#define CLI_condition .read_owner = true, .holder = true
#define CLI_event .read = "is_set"
#define CLI_barrier .read = "n_waiting"

static const struct cli_type cli_types[] = {
#define CLI_ROW_(w, ctype, proxy) { .wire = #w, CLI_##w },
	AGORA_TYPES(CLI_ROW_)
#undef CLI_ROW_
};

/* The row of the wire type @type; a type this tool does not know (a newer
 * server's) gets an empty row, so every command refuses it. */
static const struct cli_type *cli_type(const char *type)
{
	static const struct cli_type unknown = { .wire = "" };

	for (size_t i = 0; i < sizeof(cli_types) / sizeof(cli_types[0]); i++)
		if (strcmp(cli_types[i].wire, type) == 0)
			return &cli_types[i];
	return &unknown;
}

struct obj {
	const char *name;
	char type[32];
	uint32_t h;
	const struct cli_type *t;
};

/* agora_call of "TYPE.METHOD" on @o with the params after the handle. */
static int obj_call(struct cli *k, const struct obj *o, const char *method,
		    const agora_value *args, size_t nargs, agora_value *ret)
{
	agora_value params[4];
	char name[64];
	agora_value scratch;
	int rc;

	params[0] = agora_uint(o->h);
	for (size_t i = 0; i < nargs && i < 3; i++)
		params[i + 1] = args[i];
	snprintf(name, sizeof(name), "%s.%s", o->type, method);
	rc = agora_call(k->c, name, agora_array(params, nargs + 1),
			ret ? ret : &scratch);
	if (rc == 0 && ret == NULL)
		agora_value_free(&scratch);
	return rc;
}

/*
 * Open the named object @name with the type ls reports for it. Returns 0,
 * or an exit code after saying why ("no object named X").
 */
static int obj_open(struct cli *k, const char *name, struct obj *o)
{
	agora_value ls, params[2], h;
	const agora_value *type = NULL;
	int64_t handle;
	int rc;

	rc = agora_ls(k->c, &ls);
	if (rc < 0)
		return call_failed(k, rc);
	for (size_t i = 0; ls.type == AGORA_ARRAY && i < ls.via.array.len;
	     i++) {
		const agora_value *e = &ls.via.array.items[i];
		if (value_is_str(map_get(e, "name"), name)) {
			type = map_get(e, "type");
			break;
		}
	}
	if (type == NULL || type->type != AGORA_STR ||
	    type->via.str.len >= sizeof(o->type)) {
		agora_value_free(&ls);
		say("no object named \"%s\" (agora ls lists them)", name);
		return EXIT_SERVER;
	}
	memcpy(o->type, type->via.str.ptr, type->via.str.len);
	o->type[type->via.str.len] = '\0';
	o->name = name;
	o->t = cli_type(o->type);
	agora_value_free(&ls);

	params[0] = agora_str(o->type);
	params[1] = agora_str(name);
	rc = agora_call(k->c, "open", agora_array(params, 2), &h);
	if (rc < 0)
		return call_failed(k, rc);
	rc = agora_value_to_int(h, &handle);
	agora_value_free(&h);
	if (rc < 0 || handle <= 0 || handle > UINT32_MAX) {
		say("the server answered open with no handle");
		return EXIT_CONNECT;
	}
	o->h = (uint32_t)handle;
	return 0;
}

/* Parse @text as the KEY, INDEX or ATTR of @o, as its type takes. */
static int parse_obj_key(struct cli *k, const struct obj *o, const char *text,
			 agora_value *ret)
{
	switch (o->t->key) {
	case KEY_INDEX:
		return parse_index(text, ret);
	case KEY_DICT:
		return parse_key(k, text, ret);
	case KEY_ATTR:
		return parse_attr(k, text, ret);
	case NO_KEY:
		break;
	}
	return usage_error("%s (type %s) has no KEY, INDEX or ATTR", o->name,
			   o->type);
}

/* ---- ping, stats, ls, watch ---------------------------------------------- */

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cmd_ping(struct cli *k)
{
	double t0 = now_mono(), ms;
	int rc = agora_ping(k->c);

	if (rc < 0)
		return call_failed(k, rc);
	ms = (now_mono() - t0) * 1e3;
	if (k->json) {
		json_t *j = json_pack("{s:b, s:s, s:s, s:f}", "ok", 1, "server",
				      agora_server_version(k->c), "address",
				      k->address, "ms", ms);
		print_json(j, 4);
	} else {
		printf("pong from %s at %s in %.3f ms\n",
		       agora_server_version(k->c), k->address, ms);
	}
	return EXIT_OK;
}

static char *size_text(const agora_value *v)
{
	int64_t n;

	if (agora_value_to_int(*v, &n) < 0 || n < 1024)
		return cell_text(v);
	if (n < (1 << 20))
		return xasprintf("%" PRId64 " (%.1f KiB)", n, n / 1024.0);
	if (n < (1 << 30))
		return xasprintf("%" PRId64 " (%.1f MiB)", n,
				 n / (1024.0 * 1024));
	return xasprintf("%" PRId64 " (%.1f GiB)", n,
			 n / (1024.0 * 1024 * 1024));
}

int cmd_stats(struct cli *k)
{
	agora_value st;
	struct table t = { .ncol = 2 };
	int rc = agora_stats(k->c, &st);

	if (rc < 0)
		return call_failed(k, rc);
	if (k->json) {
		print_value_json(&st);
	} else if (st.type == AGORA_MAP) {
		for (size_t i = 0; i < st.via.map.len; i++) {
			const agora_pair *kv = &st.via.map.items[i];
			table_add2(&t, cell_text(&kv->key),
				   value_is_str(&kv->key, "memory")
				       ? size_text(&kv->val)
				       : cell_text(&kv->val));
		}
		table_print(&t);
	}
	agora_value_free(&st);
	return EXIT_OK;
}

static int by_name(const void *a, const void *b)
{
	const agora_value *na = map_get(a, "name"), *nb = map_get(b, "name");
	size_t la = na && na->type == AGORA_STR ? na->via.str.len : 0;
	size_t lb = nb && nb->type == AGORA_STR ? nb->via.str.len : 0;
	int c = memcmp(la ? na->via.str.ptr : "", lb ? nb->via.str.ptr : "",
		       la < lb ? la : lb);

	return c != 0 ? c : (la > lb) - (la < lb);
}

int cmd_ls(struct cli *k)
{
	agora_value ls;
	struct table t = { .ncol = 3 };
	int rc = agora_ls(k->c, &ls);

	if (rc < 0)
		return call_failed(k, rc);
	if (k->json) {
		print_value_json(&ls);
	} else if (ls.type != AGORA_ARRAY || ls.via.array.len == 0) {
		printf("no named objects\n");
	} else {
		char *head[3] = { xstrdup("NAME"), xstrdup("TYPE"),
				  xstrdup("LEN") };
		table_add(&t, head);
		qsort(ls.via.array.items, ls.via.array.len, sizeof(agora_value),
		      by_name);
		for (size_t i = 0; i < ls.via.array.len; i++) {
			const agora_value *e = &ls.via.array.items[i];
			const agora_value *f[3] = { map_get(e, "name"),
						    map_get(e, "type"),
						    map_get(e, "len") };
			char *row[3];
			for (int c = 0; c < 3; c++)
				row[c] = f[c] ? cell_text(f[c]) : xstrdup("-");
			table_add(&t, row);
		}
		table_print(&t);
	}
	agora_value_free(&ls);
	return EXIT_OK;
}

static void on_stop_signal(int sig)
{
	stop_requested = 1;
}

/* Sleep @secs, or less when SIGINT or SIGTERM comes. */
static void nap(double secs)
{
	struct timespec ts = { (time_t)secs,
			       (long)((secs - (double)(time_t)secs) * 1e9) };

	while (!stop_requested && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void watch_row(const agora_value *st, double rate, bool first)
{
	static const char *const cols[] = { "connections", "objects",
					    "requests", "waiters", "memory" };
	char now[16], *cell[5];
	time_t t = time(NULL);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(now, sizeof(now), "%H:%M:%S", &tm);
	for (int i = 0; i < 5; i++) {
		const agora_value *v = map_get(st, cols[i]);
		cell[i] = v ? cell_text(v) : xstrdup("-");
	}
	if (first)
		printf("%-8s %11s %8s %10s %8s %8s %12s\n", "TIME",
		       "CONNECTIONS", "OBJECTS", "REQUESTS", "REQ/S", "WAITERS",
		       "MEMORY");
	if (rate >= 0)
		printf("%-8s %11s %8s %10s %8.0f %8s %12s\n", now, cell[0],
		       cell[1], cell[2], rate, cell[3], cell[4]);
	else
		printf("%-8s %11s %8s %10s %8s %8s %12s\n", now, cell[0],
		       cell[1], cell[2], "-", cell[3], cell[4]);
	for (int i = 0; i < 5; i++)
		free(cell[i]);
}

int cmd_watch(struct cli *k)
{
	struct sigaction sa;
	double last_t = 0, interval = k->interval_set ? k->interval : 1.0;
	int64_t last_req = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: the signal must cut the nap short. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	for (long n = 0; !stop_requested; n++) {
		agora_value st;
		const agora_value *req;
		int64_t reqs = -1;
		double t, rate = -1;
		int rc = agora_stats(k->c, &st);

		if (rc < 0)
			return call_failed(k, rc);
		t = now_mono();
		req = map_get(&st, "requests");
		if (req != NULL && agora_value_to_int(*req, &reqs) == 0 &&
		    last_req >= 0 && t > last_t)
			rate = (double)(reqs - last_req) / (t - last_t);
		last_req = reqs;
		last_t = t;
		if (k->json) {
			struct timespec ts;
			int prec = 1;
			json_t *j = check_mem(cli_value_to_json(&st, &prec));
			clock_gettime(CLOCK_REALTIME, &ts);
			json_object_set_new(
			    j, "time",
			    json_real((double)ts.tv_sec +
				      (double)(ts.tv_nsec / 1000000) / 1e3));
			/* Milliseconds of an epoch time need 13 digits. */
			print_json(j, prec > 13 ? prec : 13);
		} else {
			watch_row(&st, rate, n == 0);
		}
		fflush(stdout);
		agora_value_free(&st);
		if (k->count_set && n + 1 >= k->count)
			break;
		nap(interval);
	}
	return EXIT_OK;
}

/* ---- info ---------------------------------------------------------------- */

static char *since_text(const agora_value *v)
{
	double at, ago;
	time_t t;
	struct tm tm;
	char when[32];
	struct timespec now;

	if (v->type != AGORA_FLOAT && v->type != AGORA_INT)
		return cell_text(v);
	at = v->type == AGORA_FLOAT ? v->via.f : (double)v->via.i;
	t = (time_t)at;
	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	clock_gettime(CLOCK_REALTIME, &now);
	ago = (double)now.tv_sec + (double)now.tv_nsec / 1e9 - at;
	return xasprintf("%s (%.1f s ago)", when, ago < 0 ? 0 : ago);
}

/* "held by connection 7 (pid 42, uid 1000)" or "free". */
static char *holder_text(const agora_value *info)
{
	const agora_value *owner = map_get(info, "owner");
	const agora_value *pid = map_get(info, "owner_pid");
	const agora_value *uid = map_get(info, "owner_uid");
	const agora_value *addr = map_get(info, "owner_addr"); /* TCP */
	int64_t n, p, u;

	if (owner == NULL || agora_value_to_int(*owner, &n) < 0)
		return xstrdup("free");
	if (pid != NULL && agora_value_to_int(*pid, &p) == 0 && uid != NULL &&
	    agora_value_to_int(*uid, &u) == 0)
		return xasprintf("held by connection %" PRId64 " (pid %" PRId64
				 ", uid %" PRId64 ")",
				 n, p, u);
	if (addr != NULL && addr->type == AGORA_STR)
		return xasprintf("held by connection %" PRId64 " (%.*s)", n,
				 (int)addr->via.str.len, addr->via.str.ptr);
	return xasprintf("held by connection %" PRId64
			 " (pid and uid unknown: not a Unix socket)",
			 n);
}

int cmd_info(struct cli *k, const char *name)
{
	struct obj o;
	agora_value info;
	struct table t = { .ncol = 2 };
	int rc = obj_open(k, name, &o);

	if (rc != 0)
		return rc;
	rc = agora_info(k->c, o.h, &info);
	if (rc < 0)
		return call_failed(k, rc);
	if (k->json) {
		print_value_json(&info);
	} else {
		if (o.t->holder)
			table_add2(&t, xstrdup("state"), holder_text(&info));
		for (size_t i = 0;
		     info.type == AGORA_MAP && i < info.via.map.len; i++) {
			const agora_pair *kv = &info.via.map.items[i];
			char *val = value_is_str(&kv->key, "since")
					? since_text(&kv->val)
					: cell_text(&kv->val);
			table_add2(&t, cell_text(&kv->key), val);
		}
		table_print(&t);
	}
	agora_value_free(&info);
	return EXIT_OK;
}

/* ---- get, set, push, pop, drop ------------------------------------------- */

int cmd_get(struct cli *k, const char *name, const char *keytext)
{
	struct obj o;
	agora_value key, res, info;
	const char *method = NULL;
	bool raw_keys = false;
	int rc = obj_open(k, name, &o);

	if (rc != 0)
		return rc;
	if (keytext != NULL) {
		if (o.t->key == NO_KEY)
			return usage_error("get: %s (type %s) has no KEY or "
					   "INDEX",
					   name, o.type);
		rc = parse_obj_key(k, &o, keytext, &key);
		if (rc != 0)
			return rc;
		method = o.t->key == KEY_DICT ? "getitem" : "get";
		rc = obj_call(k, &o, method, &key, 1, &res);
	} else if (o.t->read_owner) {
		/* A condition has no "locked": its lock's owner says it. */
		rc = agora_info(k->c, o.h, &info);
		if (rc == 0) {
			res = agora_bool(map_get(&info, "owner") != NULL &&
					 map_get(&info, "owner")->type !=
					     AGORA_NIL);
			agora_value_free(&info);
		}
	} else {
		if (o.t->read == NULL)
			return usage_error("get: cannot read %s (type %s)",
					   name, o.type);
		raw_keys = o.t->read_attrs;
		rc = obj_call(k, &o, o.t->read, NULL, 0, &res);
	}
	if (rc < 0)
		return call_failed(k, rc);
	print_result(k, &res, raw_keys);
	agora_value_free(&res);
	return EXIT_OK;
}

static void print_done(struct cli *k)
{
	if (k->json)
		puts("null");
}

int cmd_set(struct cli *k, char **args, int nargs)
{
	struct obj o;
	agora_value kv[2];
	int rc = obj_open(k, args[0], &o);

	if (rc != 0)
		return rc;
	if (o.t->set_whole) {
		if (nargs != 2)
			return usage_error("set: %s is a value: agora set %s "
					   "VALUE",
					   o.name, o.name);
		if ((rc = parse_value(k, "VALUE", args[1], &kv[0])) != 0)
			return rc;
		rc = obj_call(k, &o, "set", kv, 1, NULL);
	} else if (o.t->key != NO_KEY) {
		if (nargs != 3)
			return usage_error(
			    "set: %s is %s %s: agora set %s %s "
			    "VALUE",
			    o.name, strchr("aeiou", o.type[0]) ? "an" : "a",
			    o.type, o.name,
			    o.t->key == KEY_DICT   ? "KEY"
			    : o.t->key == KEY_ATTR ? "ATTR"
						   : "INDEX");
		rc = parse_obj_key(k, &o, args[1], &kv[0]);
		if (rc != 0 ||
		    (rc = parse_value(k, "VALUE", args[2], &kv[1])) != 0)
			return rc;
		rc = obj_call(k, &o, "set", kv, 2, NULL);
	} else {
		return usage_error("set: cannot set %s (type %s); set "
				   "works on a value, dict, list, namespace "
				   "or array",
				   o.name, o.type);
	}
	if (rc < 0)
		return call_failed(k, rc);
	print_done(k);
	return EXIT_OK;
}

int cmd_push(struct cli *k, const char *name, const char *text)
{
	struct obj o;
	agora_value v;
	int rc = obj_open(k, name, &o);

	if (rc != 0)
		return rc;
	if (o.t->push == NULL)
		return usage_error("push: %s (type %s) is neither a queue "
				   "nor a list",
				   name, o.type);
	if ((rc = parse_value(k, "VALUE", text, &v)) != 0)
		return rc;
	rc = obj_call(k, &o, o.t->push, &v, 1, NULL);
	if (rc < 0)
		return call_failed(k, rc);
	print_done(k);
	return EXIT_OK;
}

int cmd_pop(struct cli *k, const char *name)
{
	struct obj o;
	agora_value v;
	int rc = obj_open(k, name, &o);

	if (rc != 0)
		return rc;
	if (o.t->pop == NULL)
		return usage_error("pop: %s (type %s) is neither a queue "
				   "nor a list",
				   name, o.type);
	rc = obj_call(k, &o, o.t->pop, NULL, 0, &v);
	if (rc < 0)
		return call_failed(k, rc);
	/* A popped item is one value, even when it is a container. */
	if (k->json) {
		print_value_json(&v);
	} else {
		char *s = value_text(&v);
		puts(s);
		free(s);
	}
	agora_value_free(&v);
	return EXIT_OK;
}

int cmd_drop(struct cli *k, const char *name)
{
	bool existed = false;
	int rc = agora_drop(k->c, name, &existed);

	if (rc < 0)
		return call_failed(k, rc);
	if (!existed) {
		say("no object named \"%s\"", name);
		return EXIT_SERVER;
	}
	if (k->json)
		puts("true");
	return EXIT_OK;
}

/* ---- clients, kill ------------------------------------------------------- */

/* A span of @secs seconds as people read it: 42s, 3m05s, 2h07m, 3d04h. */
static char *duration_text(double secs)
{
	int64_t n = secs > 0 ? (int64_t)secs : 0;

	if (n < 60)
		return xasprintf("%.1fs", secs > 0 ? secs : 0.0);
	if (n < 3600)
		return xasprintf("%" PRId64 "m%02" PRId64 "s", n / 60, n % 60);
	if (n < 86400)
		return xasprintf("%" PRId64 "h%02" PRId64 "m", n / 3600,
				 n / 60 % 60);
	return xasprintf("%" PRId64 "d%02" PRId64 "h", n / 86400,
			 n / 3600 % 24);
}

static double field_number(const agora_value *m, const char *key)
{
	const agora_value *v = map_get(m, key);
	int64_t i;

	if (v != NULL && v->type == AGORA_FLOAT)
		return v->via.f;
	if (v != NULL && agora_value_to_int(*v, &i) == 0)
		return (double)i;
	return 0;
}

static bool field_true(const agora_value *m, const char *key)
{
	const agora_value *v = map_get(m, key);

	return v != NULL && v->type == AGORA_BOOL && v->via.b;
}

/* What a connection holds: "lock printer, rlock #7 x2", or "-". */
static char *holds_text(const agora_value *holds)
{
	char *out = xstrdup("");

	for (size_t i = 0; holds != NULL && holds->type == AGORA_ARRAY &&
			   i < holds->via.array.len;
	     i++) {
		const agora_value *h = &holds->via.array.items[i];
		const agora_value *type = map_get(h, "type");
		const agora_value *name = map_get(h, "name");
		char *t = type ? cell_text(type) : xstrdup("?");
		char *what = name && name->type == AGORA_STR
				 ? cell_text(name)
				 : xasprintf("#%.0f", field_number(h, "id"));
		double count = field_number(h, "count");
		char *x = count != 1 ? xasprintf(" x%.0f", count) : xstrdup("");
		char *next =
		    xasprintf("%s%s%s %s%s", out, i ? ", " : "", t, what, x);
		free(out);
		free(t);
		free(what);
		free(x);
		out = next;
	}
	if (out[0] == '\0') {
		free(out);
		out = xstrdup("-");
	}
	return out;
}

int cmd_clients(struct cli *k)
{
	agora_value cl;
	struct table t = { .ncol = 8 };
	int rc = agora_clients(k->c, &cl);

	if (rc < 0)
		return call_failed(k, rc);
	if (k->json) {
		print_value_json(&cl);
	} else if (cl.type == AGORA_ARRAY) {
		char *head[8] = { xstrdup("ID"),     xstrdup("STATE"),
				  xstrdup("PEER"),   xstrdup("AGE"),
				  xstrdup("IDLE"),   xstrdup("HANDLES"),
				  xstrdup("PARKED"), xstrdup("HOLDS") };
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		double now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;

		table_add(&t, head);
		for (size_t i = 0; i < cl.via.array.len; i++) {
			const agora_value *e = &cl.via.array.items[i];
			const agora_value *tr = map_get(e, "transport");
			const agora_value *peer = map_get(e, "peer");
			char *trs = tr ? cell_text(tr) : xstrdup("?");
			char *peers = peer ? cell_text(peer) : xstrdup("?");
			char *row[8] = {
				xasprintf("%.0f", field_number(e, "id")),
				xstrdup(field_true(e, "self") ? "this"
					: field_true(e, "authenticated")
					    ? "ready"
					    : "handshake"),
				xasprintf("%s %s", trs, peers),
				duration_text(now - field_number(e, "since")),
				duration_text(field_number(e, "idle")),
				xasprintf("%.0f", field_number(e, "handles")),
				xasprintf("%.0f", field_number(e, "parked")),
				holds_text(map_get(e, "holds")),
			};
			free(trs);
			free(peers);
			table_add(&t, row);
		}
		table_print(&t);
	}
	agora_value_free(&cl);
	return EXIT_OK;
}

int cmd_kill(struct cli *k, const char *idtext)
{
	char *end;
	bool killed = false;
	unsigned long long id;
	int rc;

	errno = 0;
	id = strtoull(idtext, &end, 10);
	if (idtext[0] < '0' || idtext[0] > '9' || *end != '\0' || errno != 0 ||
	    id == 0)
		return usage_error("kill: ID is a connection's id, a number "
				   "from agora clients; got \"%s\"",
				   idtext);
	rc = agora_kill(k->c, id, &killed);
	if (rc < 0)
		return call_failed(k, rc);
	if (!killed) {
		say("no connection %llu (agora clients lists them)", id);
		return EXIT_SERVER;
	}
	if (k->json)
		puts("true");
	return EXIT_OK;
}
