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
#define CLI_topic .read = NULL

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
	agora_value params[10];
	char name[64];
	agora_value scratch;
	int rc;

	if (nargs > 9)
		nargs = 9;
	params[0] = agora_uint(o->h);
	for (size_t i = 0; i < nargs; i++)
		params[i + 1] = args[i];
	snprintf(name, sizeof(name), "%s.%s", o->type, method);
	rc = agora_call(k->c, name, agora_array(params, nargs + 1),
			ret ? ret : &scratch);
	if (rc == 0 && ret == NULL)
		agora_value_free(&scratch);
	return rc;
}

/* Keep @h to close after the command (a session's connection lives on). */
static void remember_handle(struct cli *k, uint32_t h)
{
	if (k->nhandles < sizeof(k->handles) / sizeof(k->handles[0]))
		k->handles[k->nhandles++] = h;
}

void close_handles(struct cli *k)
{
	for (size_t i = 0; i < k->nhandles; i++) {
		agora_value p = agora_uint(k->handles[i]), res;
		if (agora_call(k->c, "close", agora_array(&p, 1), &res) == 0)
			agora_value_free(&res);
	}
	k->nhandles = 0;
}

bool known_type(const char *type)
{
	return cli_type(type)->wire[0] != '\0';
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
	remember_handle(k, o->h);
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

int cmd_ping(struct cli *k, char **args, int nargs)
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

int cmd_stats(struct cli *k, char **args, int nargs)
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

/* save: a snapshot now; prints its generation, size and time. */
static int cmd_save(struct cli *k, char **args, int nargs)
{
	agora_value v;
	struct table t = { .ncol = 2 };
	int rc = agora_save(k->c, &v);

	(void)args;
	(void)nargs;
	if (rc < 0)
		return call_failed(k, rc);
	if (k->json) {
		print_value_json(&v);
	} else if (v.type == AGORA_MAP) {
		for (size_t i = 0; i < v.via.map.len; i++)
			table_add2(&t, cell_text(&v.via.map.items[i].key),
				   cell_text(&v.via.map.items[i].val));
		table_print(&t);
	}
	agora_value_free(&v);
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

static char *duration_text(double secs);
static double field_number(const agora_value *m, const char *key);

int cmd_ls(struct cli *k, char **args, int nargs)
{
	agora_value ls, pat;
	struct table t = { .ncol = 3 };
	int rc;

	if (nargs > 0) {
		pat = agora_str(args[0]);
		rc = agora_call(k->c, "ls", agora_array(&pat, 1), &ls);
	} else {
		rc = agora_ls(k->c, &ls);
	}
	if (rc < 0)
		return call_failed(k, rc);
	if (ls.type == AGORA_ARRAY && ls.via.array.len > 1)
		qsort(ls.via.array.items, ls.via.array.len, sizeof(agora_value),
		      by_name);
	if (k->json) {
		print_value_json(&ls);
	} else if (ls.type != AGORA_ARRAY || ls.via.array.len == 0) {
		printf(nargs > 0 ? "no named objects match\n"
				 : "no named objects\n");
	} else {
		/* OWNER and TTL only when a name listed has one: the
		 * connection whose end drops an ephemeral name, the time
		 * left before a name expires. */
		bool lives = false;
		for (size_t i = 0; i < ls.via.array.len; i++) {
			const agora_value *e = &ls.via.array.items[i];
			if (map_get(e, "ephemeral_owner") != NULL ||
			    map_get(e, "ttl") != NULL)
				lives = true;
		}
		t.ncol = lives ? 5 : 3;
		char *head[5] = { xstrdup("NAME"), xstrdup("TYPE"),
				  xstrdup("LEN"), NULL, NULL };
		if (lives) {
			head[3] = xstrdup("OWNER");
			head[4] = xstrdup("TTL");
		}
		table_add(&t, head);
		for (size_t i = 0; i < ls.via.array.len; i++) {
			const agora_value *e = &ls.via.array.items[i];
			const agora_value *f[3] = { map_get(e, "name"),
						    map_get(e, "type"),
						    map_get(e, "len") };
			char *row[5] = { NULL };
			for (int c = 0; c < 3; c++)
				row[c] = f[c] ? cell_text(f[c]) : xstrdup("-");
			if (lives) {
				row[3] =
				    map_get(e, "ephemeral_owner")
					? xasprintf("%.0f",
						    field_number(
							e, "ephemeral_owner"))
					: xstrdup("-");
				row[4] =
				    map_get(e, "ttl")
					? duration_text(field_number(e, "ttl"))
					: xstrdup("-");
			}
			table_add(&t, row);
		}
		table_print(&t);
	}
	agora_value_free(&ls);
	return EXIT_OK;
}

/* expire NAME SECONDS: SECONDS 0 or "none" clears the deadline. */
int cmd_expire(struct cli *k, char **args, int nargs)
{
	const char *text = args[1];
	double secs = 0;
	char *end;
	int rc;

	(void)nargs;
	if (strcmp(text, "none") != 0) {
		errno = 0;
		secs = strtod(text, &end);
		if (end == text || *end != '\0' || errno != 0 || !(secs >= 0))
			return usage_error("expire: SECONDS %s: want a number "
					   "of seconds, or 0 or none to clear "
					   "the deadline",
					   text);
	}
	rc = agora_expire(k->c, args[0], secs);
	if (rc < 0)
		return call_failed(k, rc);
	if (k->json)
		puts("null");
	return EXIT_OK;
}

/* ttl NAME: the seconds left, or none. */
int cmd_ttl(struct cli *k, char **args, int nargs)
{
	double left = -1;
	int rc;

	(void)nargs;
	rc = agora_ttl(k->c, args[0], &left);
	if (rc < 0)
		return call_failed(k, rc);
	if (left < 0)
		puts(k->json ? "null" : "none");
	else
		printf("%.3f\n", left);
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

/* top, and watch with no NAME: the server's counters every interval. */
int cmd_top(struct cli *k, char **args, int nargs)
{
	struct sigaction sa, old_int, old_term;
	double last_t = 0, interval = k->interval_set ? k->interval : 1.0;
	int64_t last_req = -1;
	int ret = EXIT_OK;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: the signal must cut the nap short. */
	stop_requested = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);

	for (long n = 0; !stop_requested; n++) {
		agora_value st;
		const agora_value *req;
		int64_t reqs = -1;
		double t, rate = -1;
		int rc = agora_stats(k->c, &st);

		if (rc < 0) {
			ret = call_failed(k, rc);
			break;
		}
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
	/* A session goes on after watch: Ctrl-C is its own again. */
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	return ret;
}

/*
 * One line for a "watch" notification @n: "VERSION OP [KEY]", the key as
 * a cell (a str as its text, else JSON); with --json the params map as a
 * JSON object.
 */
static void watch_line(struct cli *k, const agora_notification *n)
{
	const agora_value *ver = map_get(&n->params, "version");
	const agora_value *op = map_get(&n->params, "op");
	const agora_value *key = map_get(&n->params, "key");
	char *vt, *ot, *kt;

	if (k->json) {
		print_value_json(&n->params);
		return;
	}
	vt = ver != NULL ? cell_text(ver) : xstrdup("-");
	ot = op != NULL ? cell_text(op) : xstrdup("-");
	kt = key != NULL ? cell_text(key) : NULL;
	printf("%s %s%s%s\n", vt, ot, kt != NULL ? " " : "",
	       kt != NULL ? kt : "");
	free(vt);
	free(ot);
	free(kt);
}

/*
 * watch NAME [KEY]: the server method "watch" on NAME (only KEY's changes
 * when given), then a line per change as its notification comes, until
 * SIGINT or SIGTERM (exit 0), --count lines, or the connection's end: a
 * "cut" notification (the server cut a watcher too slow to read) or a
 * loss, said on stderr, exit 3.
 */
static int watch_object(struct cli *k, char **args, int nargs)
{
	struct sigaction sa, old_int, old_term;
	agora_value params[2], res, key;
	agora_pair opt;
	const agora_value *w, *ver;
	int64_t wid = -1;
	struct obj o;
	long lines = 0;
	int rc, ret = EXIT_OK;

	if (k->interval_set)
		return usage_error("watch NAME: --interval is for the "
				   "server's counters (agora top)");
	rc = obj_open(k, args[0], &o);
	if (rc != 0)
		return rc;
	params[0] = agora_uint(o.h);
	params[1] = agora_map(&opt, 0);
	if (nargs > 1) {
		if (o.t->key != KEY_DICT && o.t->key != KEY_ATTR)
			return usage_error("watch: %s (type %s) has no KEY "
					   "(a dict's key, a namespace's "
					   "attribute)",
					   o.name, o.type);
		rc = parse_obj_key(k, &o, args[1], &key);
		if (rc != 0)
			return rc;
		opt.key = agora_str("key");
		opt.val = key;
		params[1] = agora_map(&opt, 1);
	}
	rc = agora_call(k->c, "watch", agora_array(params, 2), &res);
	if (rc < 0)
		return call_failed(k, rc);
	w = map_get(&res, "watch");
	ver = map_get(&res, "version");
	if (w == NULL || agora_value_to_int(*w, &wid) < 0) {
		agora_value_free(&res);
		say("the server answered watch with no watch number");
		return EXIT_CONNECT;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	stop_requested = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	{
		char *vt = ver != NULL ? cell_text(ver) : xstrdup("-");

		/* On stderr: stdout has only the changes. */
		fprintf(stderr, "agora: watching %s (type %s) at version %s\n",
			o.name, o.type, vt);
		fflush(stderr);
		free(vt);
	}
	agora_value_free(&res);
	while (!stop_requested && !(k->count_set && lines >= k->count)) {
		agora_notification *n = NULL;
		const agora_value *nw;
		int64_t id;

		/* A short wait, so that a signal ends it soon. */
		rc = agora_notification_next(k->c, 0.2, &n);
		if (rc == AGORA_ETIMEDOUT)
			continue;
		if (rc < 0) {
			ret = call_failed(k, rc);
			break;
		}
		if (strcmp(n->method, "cut") == 0) {
			const agora_value *why = map_get(&n->params, "reason");
			char *wt = why != NULL ? cell_text(why) : xstrdup("-");

			say("the server cut this watcher off (%s): it read "
			    "too slowly",
			    wt);
			free(wt);
			agora_notification_free(n);
			ret = EXIT_CONNECT;
			break;
		}
		nw = map_get(&n->params, "watch");
		if (strcmp(n->method, "watch") == 0 && nw != NULL &&
		    agora_value_to_int(*nw, &id) == 0 && id == wid) {
			watch_line(k, n);
			fflush(stdout);
			lines++;
		}
		agora_notification_free(n);
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	/* A session goes on: it hears no more of this object. */
	if (ret == EXIT_OK && k->session) {
		agora_value p = agora_int(wid), r;
		agora_notification *n;

		if (agora_call(k->c, "unwatch", agora_array(&p, 1), &r) == 0)
			agora_value_free(&r);
		while (agora_notification_next(k->c, 0, &n) == 0)
			agora_notification_free(n);
	}
	return ret;
}

int cmd_watch(struct cli *k, char **args, int nargs)
{
	if (nargs == 0)
		return cmd_top(k, args, nargs);
	return watch_object(k, args, nargs);
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

/* A name's deadline (info's "expires"): "2026-12-07 15:30:00 (in 89.9 s)". */
static char *expires_text(const agora_value *v)
{
	double at, left;
	time_t t;
	struct tm tm;
	char when[32];
	struct timespec now;

	if (v->type != AGORA_FLOAT)
		return cell_text(v);
	at = v->via.f;
	t = (time_t)at;
	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	clock_gettime(CLOCK_REALTIME, &now);
	left = at - ((double)now.tv_sec + (double)now.tv_nsec / 1e9);
	return xasprintf("%s (in %.1f s)", when, left < 0 ? 0 : left);
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

int cmd_info(struct cli *k, char **args, int nargs)
{
	const char *name = args[0];
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
				    : value_is_str(&kv->key, "expires")
					? expires_text(&kv->val)
				    : value_is_str(&kv->key, "ttl") &&
					    kv->val.type == AGORA_FLOAT
					? duration_text(kv->val.via.f)
					: cell_text(&kv->val);
			table_add2(&t, cell_text(&kv->key), val);
		}
		table_print(&t);
	}
	agora_value_free(&info);
	return EXIT_OK;
}

/* ---- get, set, push, pop, drop ------------------------------------------- */

int cmd_get(struct cli *k, char **args, int nargs)
{
	const char *name = args[0], *keytext = nargs > 1 ? args[1] : NULL;
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

/* A value printed as one line: JSON (a str in quotes), or with --json the
 * same. A taken item is one value, even when it is a container. */
static void print_item(struct cli *k, const agora_value *v)
{
	if (k->json) {
		print_value_json(v);
	} else {
		char *s = value_text(v);
		puts(s);
		free(s);
	}
}

static bool is_queue(const struct obj *o)
{
	return strcmp(o->type, "queue") == 0 ||
	       strcmp(o->type, "joinable_queue") == 0;
}

/* "a list", "an array": the type with its article, for messages. */
static const char *a_type(const struct obj *o)
{
	return strchr("aeiou", o->type[0]) ? "an" : "a";
}

/* The wait of --timeout or --wait as queue.get/put params: block, timeout
 * (nil: forever). */
static void wait_params(struct cli *k, agora_value *p)
{
	p[0] = agora_bool(true);
	p[1] = k->wait < 0 ? agora_nil() : agora_float(k->wait);
}

int cmd_push(struct cli *k, char **args, int nargs)
{
	struct obj o;
	agora_value *v, p[3];
	int rc = obj_open(k, args[0], &o);

	if (rc != 0)
		return rc;
	if (o.t->push == NULL)
		return usage_error("push: %s (type %s) is neither a queue "
				   "nor a list",
				   o.name, o.type);
	if (k->wait_set && !is_queue(&o))
		return usage_error("push: %s is %s %s, which never waits: "
				   "--timeout and --wait go with a queue",
				   o.name, a_type(&o), o.type);
	v = check_mem(calloc((size_t)nargs, sizeof(agora_value)));
	for (int i = 1; i < nargs; i++)
		if ((rc = parse_value(k, "VALUE", args[i], &v[i - 1])) != 0)
			goto out;
	if (!is_queue(&o)) {
		/* All or nothing: one extend. */
		agora_value items = agora_array(v, (size_t)nargs - 1);
		rc = obj_call(k, &o, "extend", &items, 1, NULL);
	} else {
		for (int i = 0; i < nargs - 1; i++) {
			p[0] = v[i];
			if (k->wait_set) {
				wait_params(k, &p[1]);
				rc = obj_call(k, &o, "put", p, 3, NULL);
			} else {
				rc = obj_call(k, &o, "put_nowait", p, 1, NULL);
			}
			if (rc < 0) {
				if (i > 0)
					say("%d of the %d values went in "
					    "first",
					    i, nargs - 1);
				break;
			}
		}
	}
	if (rc < 0) {
		rc = call_failed(k, rc);
		goto out;
	}
	print_done(k);
	rc = EXIT_OK;
out:
	free(v);
	return rc;
}

int cmd_pop(struct cli *k, char **args, int nargs)
{
	struct obj o;
	agora_value v, p[2];
	int rc = obj_open(k, args[0], &o);

	if (rc != 0)
		return rc;
	if (k->wait_set && !is_queue(&o))
		return usage_error("pop: %s is %s %s, which never waits: "
				   "--timeout and --wait go with a queue",
				   o.name, a_type(&o), o.type);
	if (is_queue(&o)) {
		if (nargs > 1)
			return usage_error("pop: a queue gives its oldest "
					   "item: agora pop %s",
					   o.name);
		if (k->wait_set) {
			wait_params(k, p);
			rc = obj_call(k, &o, "get", p, 2, &v);
		} else {
			rc = obj_call(k, &o, "get_nowait", NULL, 0, &v);
		}
	} else if (strcmp(o.type, "list") == 0) {
		if (nargs > 1 && (rc = parse_index(args[1], &p[0])) != 0)
			return rc;
		rc = obj_call(k, &o, "pop", p, nargs > 1 ? 1 : 0, &v);
	} else if (strcmp(o.type, "dict") == 0) {
		if (nargs > 1 && (rc = parse_key(k, args[1], &p[0])) != 0)
			return rc;
		rc = nargs > 1 ? obj_call(k, &o, "pop", p, 1, &v)
			       : obj_call(k, &o, "popitem", NULL, 0, &v);
	} else {
		return usage_error("pop: %s (type %s) is not a queue, list "
				   "or dict",
				   o.name, o.type);
	}
	if (rc < 0)
		return call_failed(k, rc);
	print_item(k, &v);
	agora_value_free(&v);
	return EXIT_OK;
}

int cmd_peek(struct cli *k, char **args, int nargs)
{
	struct obj o;
	agora_value v, n = agora_int(1);
	int64_t count = 1;
	int rc = obj_open(k, args[0], &o);

	if (rc != 0)
		return rc;
	if (!is_queue(&o))
		return usage_error("peek: %s (type %s) is not a queue", o.name,
				   o.type);
	if (nargs > 1) {
		char *end;
		errno = 0;
		count = strtoll(args[1], &end, 10);
		if (end == args[1] || *end != '\0' || errno != 0 || count < 0)
			return usage_error("peek: N %s: want a whole number "
					   "from 0",
					   args[1]);
		n = agora_int(count);
	}
	rc = obj_call(k, &o, "peek", &n, 1, &v);
	if (rc < 0)
		return call_failed(k, rc);
	if (v.type != AGORA_ARRAY) {
		agora_value_free(&v);
		say("the server answered peek with no array");
		return EXIT_CONNECT;
	}
	if (nargs == 1) {
		/* The head item alone, as pop would print it. */
		if (v.via.array.len == 0) {
			agora_value_free(&v);
			say("%s is empty (EMPTY)", o.name);
			return EXIT_SERVER;
		}
		print_item(k, &v.via.array.items[0]);
	} else if (k->json) {
		print_value_json(&v);
	} else {
		for (size_t i = 0; i < v.via.array.len; i++) {
			char *s = value_text(&v.via.array.items[i]);
			puts(s);
			free(s);
		}
	}
	agora_value_free(&v);
	return EXIT_OK;
}

int cmd_drop(struct cli *k, char **args, int nargs)
{
	int ret = EXIT_OK;

	/* Each name on its own: one missing does not keep the others. */
	for (int i = 0; i < nargs; i++) {
		bool existed = false;
		int rc = agora_drop(k->c, args[i], &existed);
		if (rc < 0)
			return call_failed(k, rc);
		if (!existed) {
			say("no object named \"%s\"", args[i]);
			ret = EXIT_SERVER;
		}
	}
	if (k->json && ret == EXIT_OK)
		puts("true");
	return ret;
}

/* ---- new ----------------------------------------------------------------- */

/* Which types take each option of new (NULL: every type). */
static const char *const new_option_types[NEW_NOPTS] = {
	[NEW_MAXSIZE] = "queue joinable_queue",
	[NEW_INITIAL] = "value",
	[NEW_VALUE] = "semaphore bounded_semaphore",
	[NEW_OWNED] = "semaphore bounded_semaphore",
	[NEW_PARTIES] = "barrier",
	[NEW_LOCK] = "condition",
	[NEW_TYPECODE] = "array",
	[NEW_LENGTH] = "array",
	[NEW_ITEMS] = "array",
	[NEW_MAX_DELIVERIES] = "queue joinable_queue",
	[NEW_DEAD_LETTER] = "queue joinable_queue",
	[NEW_TTL] = NULL, /* every type */
};

static bool word_in(const char *word, const char *list)
{
	size_t n = strlen(word);

	for (const char *p = list; *p;) {
		size_t m = strcspn(p, " ");
		if (m == n && strncmp(p, word, n) == 0)
			return true;
		p += m;
		p += strspn(p, " ");
	}
	return false;
}

/* @text as a whole number for option --@name. */
static int parse_whole(const char *name, const char *text, agora_value *ret)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(text, &end, 10);
	if (end == text || *end != '\0' || errno != 0)
		return usage_error("new: --%s %s: want a whole number", name,
				   text);
	*ret = agora_int(n);
	return 0;
}

/* The options of `new`, as the protocol names them with '-' for '_' (main.c
 * parses them). */
const char *const new_option_names[NEW_NOPTS] = {
	[NEW_MAXSIZE] = "maxsize",
	[NEW_INITIAL] = "initial",
	[NEW_VALUE] = "value",
	[NEW_OWNED] = "owned",
	[NEW_PARTIES] = "parties",
	[NEW_LOCK] = "lock",
	[NEW_TYPECODE] = "typecode",
	[NEW_LENGTH] = "length",
	[NEW_ITEMS] = "items",
	[NEW_MAX_DELIVERIES] = "max-deliveries",
	[NEW_DEAD_LETTER] = "dead-letter",
	[NEW_TTL] = "ttl",
};

/* The option @i's name in the protocol: its flag with '_' for '-'. */
static agora_value new_option_key(int i, char *buf, size_t len)
{
	size_t n = strlen(new_option_names[i]);

	if (n >= len)
		n = len - 1;
	for (size_t j = 0; j < n; j++)
		buf[j] = new_option_names[i][j] == '-' ? '_'
						       : new_option_names[i][j];
	buf[n] = '\0';
	return agora_str(buf);
}

int cmd_new(struct cli *k, char **args, int nargs)
{
	const char *type = args[0], *name = args[1];
	agora_pair opts[NEW_NOPTS + 1];
	char keys[NEW_NOPTS][24];
	agora_value params[3], h;
	size_t n = 0;
	int rc;

	if (!known_type(type))
		return usage_error("new: unknown type \"%s\" (list, dict, "
				   "queue, joinable_queue, value, array, "
				   "namespace, lock, rlock, semaphore, "
				   "bounded_semaphore, condition, event, "
				   "barrier, topic)",
				   type);
	for (int i = 0; i < NEW_NOPTS; i++) {
		const char *text = k->newopt[i];
		agora_value v;
		if (text == NULL)
			continue;
		if (new_option_types[i] != NULL &&
		    !word_in(type, new_option_types[i]))
			return usage_error("new: --%s does not go with %s "
					   "(it is for: %s)",
					   new_option_names[i], type,
					   new_option_types[i]);
		switch (i) {
		case NEW_OWNED:
			v = agora_bool(true);
			break;
		case NEW_TYPECODE:
		case NEW_DEAD_LETTER:
			v = agora_str(text);
			break;
		case NEW_INITIAL:
			if ((rc = parse_value(k, "--initial", text, &v)) != 0)
				return rc;
			break;
		case NEW_ITEMS:
			if ((rc = parse_value(k, "--items", text, &v)) != 0)
				return rc;
			if (v.type != AGORA_ARRAY)
				return usage_error("new: --items %s: want a "
						   "JSON array of numbers",
						   text);
			break;
		case NEW_LOCK: {
			struct obj l;
			if ((rc = obj_open(k, text, &l)) != 0)
				return rc;
			if (strcmp(l.type, "lock") && strcmp(l.type, "rlock"))
				return usage_error("new: --lock %s is %s %s, "
						   "not a lock or rlock",
						   text, a_type(&l), l.type);
			v = agora_uint(l.h);
			break;
		}
		case NEW_TTL: {
			char *end;
			errno = 0;
			double t = strtod(text, &end);
			if (end == text || *end != '\0' || errno != 0)
				return usage_error("new: --ttl %s: want a "
						   "number of seconds",
						   text);
			v = agora_float(t);
			break;
		}
		default:
			if ((rc = parse_whole(new_option_names[i], text, &v)) !=
			    0)
				return rc;
		}
		opts[n].key = new_option_key(i, keys[i], sizeof(keys[i]));
		opts[n].val = v;
		n++;
	}
	if (strcmp(type, "barrier") == 0 && k->newopt[NEW_PARTIES] == NULL)
		return usage_error("new: a barrier needs --parties N");
	if (strcmp(type, "array") == 0 && k->newopt[NEW_TYPECODE] == NULL)
		return usage_error("new: an array needs --typecode C (one of "
				   "b B h H i I l L q Q f d)");
	/* Like mkdir: an existing name is an error unless --exist-ok. */
	opts[n].key = agora_str("exclusive");
	opts[n].val = agora_bool(!k->exist_ok);
	n++;
	params[0] = agora_str(type);
	params[1] = agora_str(name);
	params[2] = agora_map(opts, n);
	rc = agora_call(k->c, "open", agora_array(params, 3), &h);
	if (rc == AGORA_EEXISTS) {
		rc = call_failed(k, rc);
		say("agora new --exist-ok takes the existing one");
		return rc;
	}
	if (rc < 0)
		return call_failed(k, rc);
	{
		int64_t handle;
		if (agora_value_to_int(h, &handle) == 0 && handle > 0 &&
		    handle <= UINT32_MAX)
			remember_handle(k, (uint32_t)handle);
		agora_value_free(&h);
	}
	/* The name keeps the object after the tool closes its handle. */
	print_done(k);
	return EXIT_OK;
}

/* ---- del, incr, len, keys, has, insert, clear, call ---------------------- */

int cmd_del(struct cli *k, char **args, int nargs)
{
	struct obj o;
	agora_value key;
	int rc = obj_open(k, args[0], &o);

	if (rc != 0)
		return rc;
	if (strcmp(o.type, "dict") && strcmp(o.type, "namespace") &&
	    strcmp(o.type, "list"))
		return usage_error("del: %s (type %s) is not a dict, "
				   "namespace or list",
				   o.name, o.type);
	if (strcmp(o.type, "list") == 0 && nargs > 2)
		return usage_error("del: one INDEX at a time (the items after "
				   "it move down)");
	/* Every key parsed before any is deleted. */
	agora_value *keys = check_mem(calloc((size_t)nargs, sizeof(key)));
	for (int i = 1; i < nargs; i++)
		if ((rc = parse_obj_key(k, &o, args[i], &keys[i - 1])) != 0) {
			free(keys);
			return rc;
		}
	for (int i = 1; i < nargs && rc == 0; i++)
		rc = obj_call(k, &o, "delete", &keys[i - 1], 1, NULL);
	free(keys);
	if (rc < 0)
		return call_failed(k, rc);
	print_done(k);
	return EXIT_OK;
}

/* @text as a DELTA: a JSON number. */
static int parse_delta(struct cli *k, const char *text, agora_value *ret)
{
	int rc = parse_value(k, "DELTA", text, ret);

	if (rc == 0 && ret->type != AGORA_INT && ret->type != AGORA_UINT &&
	    ret->type != AGORA_FLOAT)
		return usage_error("DELTA %s: want a number", text);
	return rc;
}

int cmd_incr(struct cli *k, char **args, int nargs)
{
	struct obj o;
	agora_value p[2] = { agora_int(1), agora_int(1) }, res;
	int rc = obj_open(k, args[0], &o);

	if (rc != 0)
		return rc;
	if (strcmp(o.type, "value") == 0) {
		if (nargs > 2)
			return usage_error("incr: %s is a value: agora incr "
					   "%s [DELTA]",
					   o.name, o.name);
		if (nargs > 1 && (rc = parse_delta(k, args[1], &p[0])) != 0)
			return rc;
		rc = obj_call(k, &o, "add", p, 1, &res);
	} else if (strcmp(o.type, "dict") == 0) {
		if (nargs < 2)
			return usage_error("incr: %s is a dict: agora incr "
					   "%s KEY [DELTA]",
					   o.name, o.name);
		if ((rc = parse_key(k, args[1], &p[0])) != 0 ||
		    (nargs > 2 && (rc = parse_delta(k, args[2], &p[1])) != 0))
			return rc;
		rc = obj_call(k, &o, "incr", p, 2, &res);
	} else {
		return usage_error("incr: %s (type %s) is not a value or a "
				   "dict",
				   o.name, o.type);
	}
	if (rc < 0)
		return call_failed(k, rc);
	print_item(k, &res);
	agora_value_free(&res);
	return EXIT_OK;
}

int cmd_len(struct cli *k, char **args, int nargs)
{
	struct obj o;
	agora_value info;
	const agora_value *len;
	int rc = obj_open(k, args[0], &o);

	if (rc != 0)
		return rc;
	rc = agora_info(k->c, o.h, &info);
	if (rc < 0)
		return call_failed(k, rc);
	len = map_get(&info, "len");
	if (len == NULL || len->type == AGORA_NIL) {
		agora_value_free(&info);
		return usage_error("len: %s (type %s) has no length", o.name,
				   o.type);
	}
	print_item(k, len);
	agora_value_free(&info);
	return EXIT_OK;
}

int cmd_keys(struct cli *k, char **args, int nargs)
{
	struct obj o;
	agora_value res, keys;
	int rc = obj_open(k, args[0], &o);
	bool ns;

	if (rc != 0)
		return rc;
	ns = strcmp(o.type, "namespace") == 0;
	if (!ns && strcmp(o.type, "dict"))
		return usage_error("keys: %s (type %s) is not a dict or a "
				   "namespace",
				   o.name, o.type);
	rc = obj_call(k, &o, ns ? "items" : "keys", NULL, 0, &res);
	if (rc < 0)
		return call_failed(k, rc);
	if (ns) {
		/* A namespace's attribute names, from its items. */
		size_t n = res.type == AGORA_MAP ? res.via.map.len : 0;
		agora_value *a = check_mem(calloc(n + 1, sizeof(*a)));
		for (size_t i = 0; i < n; i++)
			a[i] = res.via.map.items[i].key;
		keys = agora_array(a, n);
		if (k->json)
			print_value_json(&keys);
		else
			for (size_t i = 0; i < n; i++) {
				char *s = cell_text(&a[i]);
				puts(s);
				free(s);
			}
		free(a);
	} else if (k->json) {
		print_value_json(&res);
	} else {
		/* Keys as JSON, so that 42 and "42" differ (as get shows). */
		for (size_t i = 0;
		     res.type == AGORA_ARRAY && i < res.via.array.len; i++) {
			char *s = value_text(&res.via.array.items[i]);
			puts(s);
			free(s);
		}
	}
	agora_value_free(&res);
	return EXIT_OK;
}

int cmd_has(struct cli *k, char **args, int nargs)
{
	struct obj o;
	agora_value key, res;
	int rc = obj_open(k, args[0], &o);

	if (rc != 0)
		return rc;
	if (strcmp(o.type, "dict"))
		return usage_error("has: %s (type %s) is not a dict", o.name,
				   o.type);
	if ((rc = parse_key(k, args[1], &key)) != 0)
		return rc;
	rc = obj_call(k, &o, "contains", &key, 1, &res);
	if (rc < 0)
		return call_failed(k, rc);
	print_item(k, &res);
	agora_value_free(&res);
	return EXIT_OK;
}

int cmd_insert(struct cli *k, char **args, int nargs)
{
	struct obj o;
	agora_value p[2];
	int rc = obj_open(k, args[0], &o);

	if (rc != 0)
		return rc;
	if (strcmp(o.type, "list"))
		return usage_error("insert: %s (type %s) is not a list", o.name,
				   o.type);
	if ((rc = parse_index(args[1], &p[0])) != 0 ||
	    (rc = parse_value(k, "VALUE", args[2], &p[1])) != 0)
		return rc;
	rc = obj_call(k, &o, "insert", p, 2, NULL);
	if (rc < 0)
		return call_failed(k, rc);
	print_done(k);
	return EXIT_OK;
}

int cmd_clear(struct cli *k, char **args, int nargs)
{
	struct obj o;
	int rc = obj_open(k, args[0], &o);

	if (rc != 0)
		return rc;
	if (strcmp(o.type, "dict") && strcmp(o.type, "list"))
		return usage_error("clear: %s (type %s) is not a dict or a "
				   "list",
				   o.name, o.type);
	rc = obj_call(k, &o, "clear", NULL, 0, NULL);
	if (rc < 0)
		return call_failed(k, rc);
	print_done(k);
	return EXIT_OK;
}

int cmd_call(struct cli *k, char **args, int nargs)
{
	struct obj o;
	agora_value p[8], res;
	const char *method = args[1];
	int rc;

	if (method[0] == '\0' || strchr(method, '.') != NULL ||
	    strlen(method) > 40)
		return usage_error("call: METHOD %s: want a method's name, "
				   "as \"append\" (docs/protocol.md, "
				   "section 4)",
				   method);
	if ((rc = obj_open(k, args[0], &o)) != 0)
		return rc;
	for (int i = 2; i < nargs; i++)
		if ((rc = parse_value(k, "ARG", args[i], &p[i - 2])) != 0)
			return rc;
	rc = obj_call(k, &o, method, p, (size_t)nargs - 2, &res);
	if (rc < 0)
		return call_failed(k, rc);
	/* "→ nil" prints nothing, as set does; --json prints null. */
	if (k->json || res.type != AGORA_NIL)
		print_result(k, &res, false);
	agora_value_free(&res);
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

int cmd_clients(struct cli *k, char **args, int nargs)
{
	agora_value cl;
	struct table t = { .ncol = 9 };
	int rc = agora_clients(k->c, &cl);

	if (rc < 0)
		return call_failed(k, rc);
	if (k->json) {
		print_value_json(&cl);
	} else if (cl.type == AGORA_ARRAY) {
		char *head[9] = { xstrdup("ID"),      xstrdup("STATE"),
				  xstrdup("USER"),    xstrdup("PEER"),
				  xstrdup("AGE"),     xstrdup("IDLE"),
				  xstrdup("HANDLES"), xstrdup("PARKED"),
				  xstrdup("HOLDS") };
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		double now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;

		table_add(&t, head);
		for (size_t i = 0; i < cl.via.array.len; i++) {
			const agora_value *e = &cl.via.array.items[i];
			const agora_value *tr = map_get(e, "transport");
			const agora_value *peer = map_get(e, "peer");
			const agora_value *user = map_get(e, "user");
			char *trs = tr ? cell_text(tr) : xstrdup("?");
			char *peers = peer ? cell_text(peer) : xstrdup("?");
			char *row[9] = {
				xasprintf("%.0f", field_number(e, "id")),
				xstrdup(field_true(e, "self") ? "this"
					: field_true(e, "authenticated")
					    ? "ready"
					    : "handshake"),
				/* "-": the default user (nil) */
				user && user->type == AGORA_STR
				    ? cell_text(user)
				    : xstrdup("-"),
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

int cmd_kill(struct cli *k, char **args, int nargs)
{
	const char *idtext = args[0];
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

/* ---- the table ----------------------------------------------------------- */

const struct command cli_commands[] = {
	{ "ping", 0, 0, "", cmd_ping, false },
	{ "stats", 0, 0, "", cmd_stats, false },
	{ "save", 0, 0, "", cmd_save, false },
	{ "ls", 0, 1, " [PATTERN]", cmd_ls, false },
	{ "new", 2, 2, " TYPE NAME [OPTIONS]", cmd_new, false },
	{ "info", 1, 1, " NAME", cmd_info, false },
	{ "get", 1, 2, " NAME [KEY|INDEX]", cmd_get, false },
	{ "set", 2, 3, " NAME [KEY|INDEX|ATTR] VALUE", cmd_set, false },
	{ "del", 2, -1, " NAME KEY|INDEX|ATTR...", cmd_del, false },
	{ "incr", 1, 3, " NAME [KEY] [DELTA]", cmd_incr, false },
	{ "push", 2, -1, " NAME VALUE...", cmd_push, true },
	{ "pop", 1, 2, " NAME [KEY|INDEX]", cmd_pop, true },
	{ "peek", 1, 2, " NAME [N]", cmd_peek, false },
	{ "len", 1, 1, " NAME", cmd_len, false },
	{ "keys", 1, 1, " NAME", cmd_keys, false },
	{ "has", 2, 2, " NAME KEY", cmd_has, false },
	{ "insert", 3, 3, " NAME INDEX VALUE", cmd_insert, false },
	{ "clear", 1, 1, " NAME", cmd_clear, false },
	{ "call", 2, 9, " NAME METHOD [ARG...]", cmd_call, false },
	{ "drop", 1, -1, " NAME...", cmd_drop, false },
	{ "expire", 2, 2, " NAME SECONDS", cmd_expire, false },
	{ "ttl", 1, 1, " NAME", cmd_ttl, false },
	{ "subscribe", 1, 1, " TOPIC", cmd_subscribe, false },
	{ "publish", 2, 2, " TOPIC MSG", cmd_publish, false },
	{ "clients", 0, 0, "", cmd_clients, false },
	{ "kill", 1, 1, " ID", cmd_kill, false },
	{ "watch", 0, 2, " [NAME [KEY]] [--count N]", cmd_watch, false },
	{ "top", 0, 0, " [--interval S] [--count N]", cmd_top, false },
};

const size_t cli_ncommands = sizeof(cli_commands) / sizeof(cli_commands[0]);

const char *cli_type_name(size_t i)
{
	return i < sizeof(cli_types) / sizeof(cli_types[0]) ? cli_types[i].wire
							    : NULL;
}
