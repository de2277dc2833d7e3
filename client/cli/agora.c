/*
 * agora.c - agora(1), the command-line tool: look at and change what an
 * agorad holds.
 *
 * Parts, top to bottom:
 *   - exits, messages and small output helpers (a two-or-more column table);
 *   - the command line: options anywhere, "--" ends them;
 *   - connecting: address and key from the options or the environment;
 *   - named objects: the type from ls, then open by name and type;
 *   - one function per subcommand.
 *
 * Values cross the command line as JSON (value_json.h). Everything goes
 * through libagora's generic calls (agora_call with "TYPE.METHOD"), so the
 * tool handles every object type alike. Nothing here prints the authkey.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ag_keyfile.h"
#include "agora.h"
#include "config.h"
#include "value_json.h"

/* The exit codes agora(1) documents. */
enum {
	EXIT_OK = 0,
	EXIT_SERVER = 1,  /* the server answered an error; no such object */
	EXIT_USAGE = 2,   /* bad command line */
	EXIT_CONNECT = 3, /* cannot connect or authenticate; connection lost */
};

struct cli {
	bool json;
	const char *address_opt, *keyfile_opt;
	double interval; /* watch */
	long count;      /* watch; 0: until interrupted */
	bool interval_set, count_set;
	const char *address;
	char defaddr[512];
	agora_client *c;
	cli_pool pool; /* values parsed from the command line */
	json_t *parsed[4];
	size_t nparsed;
};

static volatile sig_atomic_t stop_requested;

/* ---- messages ------------------------------------------------------------ */

static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
	va_list ap;

	fputs("agora: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void __attribute__((noreturn)) out_of_memory(void)
{
	say("out of memory");
	exit(EXIT_SERVER);
}

static void *check_mem(void *p)
{
	if (p == NULL)
		out_of_memory();
	return p;
}

static char *xstrdup(const char *s)
{
	return check_mem(strdup(s));
}

static char *__attribute__((format(printf, 1, 2)))
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		out_of_memory();
	return s;
}

static void usage(FILE *f)
{
	fputs(
	    "usage: agora [--address ADDR] [--authkey-file FILE] [--json] "
	    "COMMAND [ARGS]\n"
	    "\n"
	    "Look at and change the shared objects an agorad serves.\n"
	    "\n"
	    "commands:\n"
	    "  ping                    check that the server answers\n"
	    "  stats                   the server's counters\n"
	    "  ls                      named objects with type and length\n"
	    "  info NAME               an object's details (a lock's owner, "
	    "waiters, ...)\n"
	    "  get NAME [KEY|INDEX]    a value, a whole container, or one "
	    "item\n"
	    "  set NAME KEY VALUE      store into a dict, list, namespace or "
	    "array\n"
	    "  set NAME VALUE          store a value\n"
	    "  push NAME VALUE         put on a queue (never waits), append "
	    "to a list\n"
	    "  pop NAME                take from a queue (never waits), pop a "
	    "list\n"
	    "  drop NAME               remove the name\n"
	    "  watch [--interval S] [--count N]\n"
	    "                          stats every S seconds (1) until "
	    "interrupted\n"
	    "\n"
	    "options:\n"
	    "  --address ADDR          unix:PATH or tcp:HOST:PORT "
	    "(AGORA_ADDRESS;\n"
	    "                          default agorad's: "
	    "unix:$XDG_RUNTIME_DIR/agora.sock)\n"
	    "  --authkey-file FILE     the key (AGORA_AUTHKEY_FILE, or the "
	    "key in AGORA_AUTHKEY)\n"
	    "  --json                  print one JSON document\n"
	    "  --help, --version\n"
	    "\n"
	    "VALUEs are JSON (quote strings: '\"text\"'); a KEY is JSON if it "
	    "parses, else\n"
	    "a string. Exit: 0 ok, 1 server error, 2 usage, 3 cannot "
	    "connect. See agora(1).\n",
	    f);
}

static int __attribute__((format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("agora: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'agora --help'.\n", stderr);
	return EXIT_USAGE;
}

/*
 * Report the failed call @rc and return the exit code for it: 3 when the
 * connection is gone, else 1 (the server said no).
 */
static int call_failed(struct cli *k, int rc)
{
	const char *msg = agora_errmsg(k->c);

	if (msg[0] == '\0')
		msg = agora_strerror(rc);
	if (rc == AGORA_EIO || rc == AGORA_EAUTH || rc == AGORA_EPROTOCOL) {
		say("%s", msg);
		return EXIT_CONNECT;
	}
	say("%s (%s)", msg, agora_errname(rc));
	return EXIT_SERVER;
}

/* ---- output -------------------------------------------------------------- */

/* Print @j as one line and drop the reference. */
static void print_json(json_t *j, int prec)
{
	char *s = check_mem(cli_json_dump(check_mem(j), prec));

	puts(s);
	free(s);
	json_decref(j);
}

static void print_value_json(const agora_value *v)
{
	int prec = 1;
	json_t *j = cli_value_to_json(v, &prec);

	print_json(j, prec);
}

static char *value_text(const agora_value *v)
{
	return check_mem(cli_value_dump(v));
}

/* A cell as people read it: a str as its text, anything else as JSON. */
static char *cell_text(const agora_value *v)
{
	if (v->type == AGORA_STR && v->via.str.ptr != NULL &&
	    memchr(v->via.str.ptr, '\0', v->via.str.len) == NULL)
		return xasprintf("%.*s", (int)v->via.str.len, v->via.str.ptr);
	if (v->type == AGORA_NIL)
		return xstrdup("-");
	return value_text(v);
}

struct table {
	size_t ncol, nrows, cap;
	char **cells; /* nrows * ncol, row by row; owned */
};

static void table_add(struct table *t, char **row)
{
	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->cells = check_mem(
		    realloc(t->cells, t->cap * t->ncol * sizeof(char *)));
	}
	memcpy(&t->cells[t->nrows * t->ncol], row, t->ncol * sizeof(char *));
	t->nrows++;
}

static void table_add2(struct table *t, char *a, char *b)
{
	char *row[2] = { a, b };
	table_add(t, row);
}

/* Print aligned columns (the last one is not padded) and free the table. */
static void table_print(struct table *t)
{
	size_t width[8] = { 0 };

	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c + 1 < t->ncol && c < 8; c++) {
			size_t n = strlen(t->cells[r * t->ncol + c]);
			if (n > width[c])
				width[c] = n;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncol; c++) {
			const char *s = t->cells[r * t->ncol + c];
			if (c + 1 < t->ncol)
				printf("%-*s  ", (int)width[c], s);
			else
				printf("%s\n", s);
		}
	}
	for (size_t i = 0; i < t->nrows * t->ncol; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = t->cap = 0;
}

/* The value under the str key @key in the map @m, or NULL. */
static const agora_value *map_get(const agora_value *m, const char *key)
{
	size_t n = strlen(key);

	if (m == NULL || m->type != AGORA_MAP)
		return NULL;
	for (size_t i = 0; i < m->via.map.len; i++) {
		const agora_value *k = &m->via.map.items[i].key;
		if (k->type == AGORA_STR && k->via.str.len == n &&
		    memcmp(k->via.str.ptr, key, n) == 0)
			return &m->via.map.items[i].val;
	}
	return NULL;
}

static bool value_is_str(const agora_value *v, const char *s)
{
	return v != NULL && v->type == AGORA_STR &&
	       v->via.str.len == strlen(s) &&
	       memcmp(v->via.str.ptr, s, v->via.str.len) == 0;
}

/*
 * A value as people read it: scalars as JSON; a map as a table of its
 * keys (JSON, so that 42 and "42" differ) and values; an array as a table
 * of indices and items; empty containers as {} and [].
 */
static void print_value_people(const agora_value *v, bool raw_keys)
{
	struct table t = { .ncol = 2 };

	if (v->type == AGORA_MAP && v->via.map.len > 0) {
		for (size_t i = 0; i < v->via.map.len; i++) {
			const agora_pair *kv = &v->via.map.items[i];
			table_add2(&t,
				   raw_keys ? cell_text(&kv->key)
					    : value_text(&kv->key),
				   value_text(&kv->val));
		}
		table_print(&t);
	} else if (v->type == AGORA_ARRAY && v->via.array.len > 0) {
		for (size_t i = 0; i < v->via.array.len; i++)
			table_add2(&t, xasprintf("%zu", i),
				   value_text(&v->via.array.items[i]));
		table_print(&t);
	} else {
		char *s = value_text(v);
		puts(s);
		free(s);
	}
}

static void print_result(struct cli *k, const agora_value *v, bool raw_keys)
{
	if (k->json)
		print_value_json(v);
	else
		print_value_people(v, raw_keys);
}

/* ---- the command line ---------------------------------------------------- */

/* The option @name takes a value: from "--name=V" or the next argument. */
static int option_value(char **argv, int argc, int *i, const char *eq,
			const char **ret)
{
	if (eq != NULL) {
		*ret = eq + 1;
		return 0;
	}
	if (*i + 1 >= argc)
		return usage_error("%s needs a value", argv[*i]);
	*ret = argv[++*i];
	return 0;
}

/*
 * Sort argv into options (anywhere; "--" ends them) and positional
 * arguments (@pos, at most @maxpos). Words that start with a single '-'
 * ("-1", "-") are positional, so that negative indices need no "--".
 * Returns -1 to go on, or an exit code.
 */
static int parse_args(struct cli *k, int argc, char **argv, char **pos,
		      int maxpos, int *ret_npos)
{
	bool opts = true;
	int npos = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val, *eq;
		size_t nlen;

		if (!opts || strncmp(a, "--", 2) != 0) {
			if (opts && strcmp(a, "-h") == 0) {
				usage(stdout);
				return EXIT_OK;
			}
			if (npos == maxpos)
				return usage_error("too many arguments (from "
						   "\"%s\")",
						   a);
			pos[npos++] = argv[i];
			continue;
		}
		if (a[2] == '\0') {
			opts = false;
			continue;
		}
		eq = strchr(a, '=');
		nlen = eq ? (size_t)(eq - a) : strlen(a);
#define IS(name) (nlen == strlen(name) && strncmp(a, name, nlen) == 0)
		if (IS("--help")) {
			usage(stdout);
			return EXIT_OK;
		} else if (IS("--version")) {
			printf("agora %s (protocol 1)\n", AGORA_VERSION_STRING);
			return EXIT_OK;
		} else if (IS("--json")) {
			k->json = true;
		} else if (IS("--address")) {
			if (option_value(argv, argc, &i, eq, &k->address_opt))
				return EXIT_USAGE;
		} else if (IS("--authkey-file")) {
			if (option_value(argv, argc, &i, eq, &k->keyfile_opt))
				return EXIT_USAGE;
		} else if (IS("--interval")) {
			char *end;
			if (option_value(argv, argc, &i, eq, &val))
				return EXIT_USAGE;
			k->interval = strtod(val, &end);
			if (end == val || *end != '\0' ||
			    !(k->interval >= 0.01 && k->interval <= 86400))
				return usage_error("--interval %s: want "
						   "seconds from 0.01 to "
						   "86400",
						   val);
			k->interval_set = true;
		} else if (IS("--count")) {
			char *end;
			if (option_value(argv, argc, &i, eq, &val))
				return EXIT_USAGE;
			errno = 0;
			k->count = strtol(val, &end, 10);
			if (end == val || *end != '\0' || errno != 0 ||
			    k->count < 1)
				return usage_error("--count %s: want a whole "
						   "number from 1",
						   val);
			k->count_set = true;
		} else {
			return usage_error("unknown option %.*s (a KEY or "
					   "VALUE that starts with -- goes "
					   "after \"--\")",
					   (int)nlen, a);
		}
#undef IS
	}
	*ret_npos = npos;
	return -1;
}

/*
 * @text as a VALUE: JSON, strictly. Returns 0, or EXIT_USAGE after saying
 * why. The value lives until the tool exits.
 */
static int parse_value(struct cli *k, const char *what, const char *text,
		       agora_value *ret)
{
	char err[200];
	json_t *j = cli_json_parse(text, err, sizeof(err));

	if (j == NULL)
		return usage_error("%s %s is not JSON (%s); a string is "
				   "written in quotes, as '\"%s\"'",
				   what, text, err, text);
	k->parsed[k->nparsed++] = j;
	if (cli_json_to_value(j, &k->pool, ret, err, sizeof(err)) < 0)
		return usage_error("%s %s: %s", what, text, err);
	return 0;
}

/* @text as a KEY: JSON when it parses as JSON, else the text as a str. */
static int parse_key(struct cli *k, const char *text, agora_value *ret)
{
	char err[200];
	json_t *j = cli_json_parse(text, err, sizeof(err));

	if (j == NULL) {
		*ret = agora_str(text);
		return 0;
	}
	k->parsed[k->nparsed++] = j;
	if (cli_json_to_value(j, &k->pool, ret, err, sizeof(err)) < 0)
		return usage_error("KEY %s: %s", text, err);
	return 0;
}

/* @text as an INDEX: a JSON integer. */
static int parse_index(const char *text, agora_value *ret)
{
	char *end;
	long long i;

	errno = 0;
	i = strtoll(text, &end, 10);
	if (end == text || *end != '\0' || errno != 0)
		return usage_error("INDEX %s: want an integer (-1 is the last "
				   "item)",
				   text);
	*ret = agora_int(i);
	return 0;
}

/* @text as a namespace attribute: a JSON string's text, else as given. */
static int parse_attr(struct cli *k, const char *text, agora_value *ret)
{
	int rc = parse_key(k, text, ret);

	if (rc == 0 && ret->type != AGORA_STR)
		*ret = agora_str(text);
	return rc;
}

/* ---- connecting ---------------------------------------------------------- */

/* agorad's default address, worked out as agorad does (nothing created). */
static const char *default_address(struct cli *k)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (xdg != NULL && xdg[0] == '/')
		snprintf(k->defaddr, sizeof(k->defaddr), "unix:%s/agora.sock",
			 xdg);
	else
		snprintf(k->defaddr, sizeof(k->defaddr),
			 "unix:/tmp/agora-%u/agora.sock", (unsigned)getuid());
	return k->defaddr;
}

/*
 * The key from @path, by the rules of every Agora program (ag_keyfile.h),
 * into *ret (free with ag_keyfile_free()). Returns 0, or EXIT_CONNECT after
 * saying why, with @from naming where the path came from.
 */
static int read_keyfile(const char *path, const char *from, uint8_t **ret,
			size_t *ret_len)
{
	char err[512];
	int rc = ag_keyfile_read(path, 0, ret, ret_len, err, sizeof(err));

	if (rc == AGORA_ENOMEM)
		out_of_memory();
	if (rc < 0) {
		say("%s (%s)", err, from);
		return EXIT_CONNECT;
	}
	return 0;
}

/* Connect k->c. Returns 0, or an exit code after saying why. */
static int cli_connect(struct cli *k)
{
	const char *env_addr = getenv("AGORA_ADDRESS");
	const char *env_file = getenv("AGORA_AUTHKEY_FILE");
	const char *env_key = getenv("AGORA_AUTHKEY");
	uint8_t *key = NULL;
	size_t keylen = 0;
	int rc;

	if (k->address_opt != NULL)
		k->address = k->address_opt;
	else if (env_addr != NULL && env_addr[0] != '\0')
		k->address = env_addr;
	else
		k->address = default_address(k);

	if (k->keyfile_opt != NULL) {
		rc = read_keyfile(k->keyfile_opt, "--authkey-file", &key,
				  &keylen);
	} else if (env_file != NULL && env_file[0] != '\0') {
		rc =
		    read_keyfile(env_file, "AGORA_AUTHKEY_FILE", &key, &keylen);
	} else if (env_key != NULL && env_key[0] != '\0') {
		keylen = strlen(env_key);
		key = check_mem(malloc(keylen));
		memcpy(key, env_key, keylen);
		rc = 0;
	} else {
		return usage_error("no authkey: give --authkey-file FILE, or "
				   "set AGORA_AUTHKEY_FILE or AGORA_AUTHKEY");
	}
	if (rc != 0)
		return rc;

	k->c = check_mem(agora_client_new());
	rc = agora_client_connect(k->c, k->address, key, keylen);
	ag_keyfile_free(key, keylen);
	switch (rc) {
	case 0:
		return 0;
	case AGORA_EINVAL:
		return usage_error("%s", agora_errmsg(k->c));
	case AGORA_EIO:
		say("%s", agora_errmsg(k->c));
		/* Only when nothing answered: a server that hung up is there.
		 */
		if (strncmp(agora_errmsg(k->c), "cannot connect", 14) == 0)
			say("is agorad running there? (the address comes from "
			    "%s)",
			    k->address_opt           ? "--address"
			    : k->address == env_addr ? "AGORA_ADDRESS"
						     : "agorad's default");
		return EXIT_CONNECT;
	case AGORA_EAUTH:
		say("cannot authenticate: %s", agora_errmsg(k->c));
		say("the key (from %s) is not the one agorad was started with",
		    k->keyfile_opt            ? "--authkey-file"
		    : env_file && env_file[0] ? "AGORA_AUTHKEY_FILE"
					      : "AGORA_AUTHKEY");
		return EXIT_CONNECT;
	default:
		say("cannot connect to %s: %s", k->address,
		    agora_errmsg(k->c)[0] ? agora_errmsg(k->c)
					  : agora_strerror(rc));
		return EXIT_CONNECT;
	}
}

/* ---- named objects ------------------------------------------------------- */

struct obj {
	const char *name;
	char type[32];
	uint32_t h;
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

static bool obj_is(const struct obj *o, const char *type)
{
	return strcmp(o->type, type) == 0;
}

static bool obj_is_queue(const struct obj *o)
{
	return obj_is(o, "queue") || obj_is(o, "joinable_queue");
}

static bool obj_is_lockish(const struct obj *o)
{
	return obj_is(o, "lock") || obj_is(o, "rlock") ||
	       obj_is(o, "condition");
}

/* ---- ping, stats, ls, watch ---------------------------------------------- */

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmd_ping(struct cli *k)
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

static int cmd_stats(struct cli *k)
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

static int cmd_ls(struct cli *k)
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

static int cmd_watch(struct cli *k)
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
	int64_t n, p, u;

	if (owner == NULL || agora_value_to_int(*owner, &n) < 0)
		return xstrdup("free");
	if (pid != NULL && agora_value_to_int(*pid, &p) == 0 && uid != NULL &&
	    agora_value_to_int(*uid, &u) == 0)
		return xasprintf("held by connection %" PRId64 " (pid %" PRId64
				 ", uid %" PRId64 ")",
				 n, p, u);
	return xasprintf("held by connection %" PRId64
			 " (pid and uid unknown: not a Unix socket)",
			 n);
}

static int cmd_info(struct cli *k, const char *name)
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
		if (obj_is_lockish(&o))
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

static int cmd_get(struct cli *k, const char *name, const char *keytext)
{
	struct obj o;
	agora_value key, res, info;
	const char *method = NULL;
	bool raw_keys = false;
	int rc = obj_open(k, name, &o);

	if (rc != 0)
		return rc;
	if (keytext != NULL) {
		if (obj_is(&o, "list") || obj_is(&o, "array"))
			rc = parse_index(keytext, &key);
		else if (obj_is(&o, "dict"))
			rc = parse_key(k, keytext, &key);
		else if (obj_is(&o, "namespace"))
			rc = parse_attr(k, keytext, &key);
		else
			return usage_error("get: %s (type %s) has no KEY or "
					   "INDEX",
					   name, o.type);
		if (rc != 0)
			return rc;
		method = obj_is(&o, "dict") ? "getitem" : "get";
		rc = obj_call(k, &o, method, &key, 1, &res);
	} else if (obj_is(&o, "condition")) {
		/* A condition has no "locked": its lock's owner says it. */
		rc = agora_info(k->c, o.h, &info);
		if (rc == 0) {
			res = agora_bool(map_get(&info, "owner") != NULL &&
					 map_get(&info, "owner")->type !=
					     AGORA_NIL);
			agora_value_free(&info);
		}
	} else {
		if (obj_is(&o, "list") || obj_is(&o, "dict") ||
		    obj_is(&o, "array"))
			method = "copy";
		else if (obj_is(&o, "namespace")) {
			method = "items";
			raw_keys = true;
		} else if (obj_is(&o, "value"))
			method = "get";
		else if (obj_is_queue(&o))
			method = "qsize";
		else if (obj_is(&o, "event"))
			method = "is_set";
		else if (obj_is(&o, "semaphore") ||
			 obj_is(&o, "bounded_semaphore"))
			method = "value";
		else if (obj_is(&o, "lock") || obj_is(&o, "rlock"))
			method = "locked";
		else if (obj_is(&o, "barrier"))
			method = "n_waiting";
		else
			return usage_error("get: cannot read %s (type %s)",
					   name, o.type);
		rc = obj_call(k, &o, method, NULL, 0, &res);
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

static int cmd_set(struct cli *k, char **args, int nargs)
{
	struct obj o;
	agora_value kv[2];
	int rc = obj_open(k, args[0], &o);

	if (rc != 0)
		return rc;
	if (obj_is(&o, "value")) {
		if (nargs != 2)
			return usage_error("set: %s is a value: agora set %s "
					   "VALUE",
					   o.name, o.name);
		if ((rc = parse_value(k, "VALUE", args[1], &kv[0])) != 0)
			return rc;
		rc = obj_call(k, &o, "set", kv, 1, NULL);
	} else if (obj_is(&o, "dict") || obj_is(&o, "list") ||
		   obj_is(&o, "namespace") || obj_is(&o, "array")) {
		if (nargs != 3)
			return usage_error(
			    "set: %s is %s %s: agora set %s %s "
			    "VALUE",
			    o.name, strchr("aeiou", o.type[0]) ? "an" : "a",
			    o.type, o.name,
			    obj_is(&o, "dict")        ? "KEY"
			    : obj_is(&o, "namespace") ? "ATTR"
						      : "INDEX");
		if (obj_is(&o, "dict"))
			rc = parse_key(k, args[1], &kv[0]);
		else if (obj_is(&o, "namespace"))
			rc = parse_attr(k, args[1], &kv[0]);
		else
			rc = parse_index(args[1], &kv[0]);
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

static int cmd_push(struct cli *k, const char *name, const char *text)
{
	struct obj o;
	agora_value v;
	int rc = obj_open(k, name, &o);

	if (rc != 0)
		return rc;
	if (!obj_is_queue(&o) && !obj_is(&o, "list"))
		return usage_error("push: %s (type %s) is neither a queue "
				   "nor a list",
				   name, o.type);
	if ((rc = parse_value(k, "VALUE", text, &v)) != 0)
		return rc;
	rc = obj_call(k, &o, obj_is(&o, "list") ? "append" : "put_nowait", &v,
		      1, NULL);
	if (rc < 0)
		return call_failed(k, rc);
	print_done(k);
	return EXIT_OK;
}

static int cmd_pop(struct cli *k, const char *name)
{
	struct obj o;
	agora_value v;
	int rc = obj_open(k, name, &o);

	if (rc != 0)
		return rc;
	if (!obj_is_queue(&o) && !obj_is(&o, "list"))
		return usage_error("pop: %s (type %s) is neither a queue "
				   "nor a list",
				   name, o.type);
	rc = obj_call(k, &o, obj_is(&o, "list") ? "pop" : "get_nowait", NULL, 0,
		      &v);
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

static int cmd_drop(struct cli *k, const char *name)
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

/* ---- main ---------------------------------------------------------------- */

struct command {
	const char *name;
	int min, max; /* arguments after the command */
	const char *args;
};

static const struct command commands[] = {
	{ "ping", 0, 0, "" },
	{ "stats", 0, 0, "" },
	{ "ls", 0, 0, "" },
	{ "info", 1, 1, " NAME" },
	{ "get", 1, 2, " NAME [KEY|INDEX]" },
	{ "set", 2, 3, " NAME [KEY|INDEX|ATTR] VALUE" },
	{ "push", 2, 2, " NAME VALUE" },
	{ "pop", 1, 1, " NAME" },
	{ "drop", 1, 1, " NAME" },
	{ "watch", 0, 0, " [--interval S] [--count N]" },
};

static int run(struct cli *k, int argc, char **argv)
{
	char *pos[8];
	int npos = 0, rc;
	const struct command *cmd = NULL;

	rc = parse_args(k, argc, argv, pos, 8, &npos);
	if (rc >= 0)
		return rc;
	if (npos == 0)
		return usage_error("no command given");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(pos[0], commands[i].name) == 0)
			cmd = &commands[i];
	if (cmd == NULL)
		return usage_error("unknown command \"%s\"", pos[0]);
	if (npos - 1 < cmd->min || npos - 1 > cmd->max)
		return usage_error("usage: agora %s%s", cmd->name, cmd->args);
	if ((k->interval_set || k->count_set) && strcmp(cmd->name, "watch"))
		return usage_error("--interval and --count go with watch");

	rc = cli_connect(k);
	if (rc != 0)
		return rc;
	if (!strcmp(cmd->name, "ping"))
		return cmd_ping(k);
	if (!strcmp(cmd->name, "stats"))
		return cmd_stats(k);
	if (!strcmp(cmd->name, "ls"))
		return cmd_ls(k);
	if (!strcmp(cmd->name, "watch"))
		return cmd_watch(k);
	if (!strcmp(cmd->name, "info"))
		return cmd_info(k, pos[1]);
	if (!strcmp(cmd->name, "get"))
		return cmd_get(k, pos[1], npos > 2 ? pos[2] : NULL);
	if (!strcmp(cmd->name, "set"))
		return cmd_set(k, pos + 1, npos - 1);
	if (!strcmp(cmd->name, "push"))
		return cmd_push(k, pos[1], pos[2]);
	if (!strcmp(cmd->name, "pop"))
		return cmd_pop(k, pos[1]);
	return cmd_drop(k, pos[1]);
}

int main(int argc, char **argv)
{
	struct cli k;
	int rc;

	memset(&k, 0, sizeof(k));
	rc = run(&k, argc, argv);
	/* Freeing the client closes its handles in the server too. */
	agora_client_free(k.c);
	for (size_t i = 0; i < k.nparsed; i++)
		json_decref(k.parsed[i]);
	cli_pool_free(&k.pool);
	if (fflush(stdout) != 0 && rc == EXIT_OK) {
		say("cannot write the output: %s", strerror(errno));
		rc = EXIT_SERVER;
	}
	return rc;
}
