/*
 * text.c - agora(1)'s text in and out (cli.h): messages on stderr, the
 * exit code of a failed call, results as JSON or as tables for people, and
 * the values, keys and indices given on the command line, as JSON
 * (value_json.h). Nothing here connects or calls the server.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agora.h"
#include "cli.h"
#include "value_json.h"

/* ---- messages ------------------------------------------------------------ */

void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
	va_list ap;

	fputs("agora: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void __attribute__((noreturn)) out_of_memory(void)
{
	say("out of memory");
	exit(EXIT_SERVER);
}

void *check_mem(void *p)
{
	if (p == NULL)
		out_of_memory();
	return p;
}

char *xstrdup(const char *s)
{
	return check_mem(strdup(s));
}

char *__attribute__((format(printf, 1, 2))) xasprintf(const char *fmt, ...)
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

/* The hint after a usage error: a session has its own "help". */
static const char *usage_hint = "Try 'agora --help'.";

void set_usage_hint(const char *hint)
{
	usage_hint = hint;
}

int __attribute__((format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("agora: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s\n", usage_hint);
	return EXIT_USAGE;
}

/*
 * Report the failed call @rc and return the exit code for it: 3 when the
 * connection is gone, else 1 (the server said no).
 */
int call_failed(struct cli *k, int rc)
{
	const char *msg = agora_errmsg(k->c);

	if (msg[0] == '\0')
		msg = agora_strerror(rc);
	/* A call that timed out broke the client, as a lost connection. */
	if (rc == AGORA_EIO || rc == AGORA_EAUTH || rc == AGORA_EPROTOCOL ||
	    rc == AGORA_ETIMEDOUT || rc == AGORA_ELOST || rc == AGORA_ECERT) {
		say("%s", msg);
		return EXIT_CONNECT;
	}
	say("%s (%s)", msg, agora_errname(rc));
	return EXIT_SERVER;
}

/* ---- usage --------------------------------------------------------------- */

void usage(FILE *f)
{
	fputs(
	    "usage: agora [--address ADDR] [--authkey-file FILE] [--user NAME] "
	    "[--json] COMMAND [ARGS]\n"
	    "       agora [-i]            interactive: one command per line\n"
	    "\n"
	    "Look at and change the shared objects an agorad serves.\n"
	    "\n"
	    "the server:\n"
	    "  ping                    check that the server answers\n"
	    "  stats                   the server's counters\n"
	    "  ls [PATTERN]            named objects (matching a glob), "
	    "sorted by name\n"
	    "  new TYPE NAME [OPTION...]\n"
	    "                          create a named object (EXISTS if the "
	    "name is taken\n"
	    "                          unless --exist-ok): --maxsize N "
	    "(queue), --initial V\n"
	    "                          (value), --value N --owned "
	    "(semaphore), --parties N\n"
	    "                          (barrier), --lock NAME (condition), "
	    "--typecode C\n"
	    "                          --length N --items JSON (array)\n"
	    "                          --max-deliveries N --dead-letter "
	    "QUEUE (queue: a job\n"
	    "                          delivered N times goes to QUEUE)\n"
	    "                          --ttl S (any type: dropped S seconds "
	    "from now)\n"
	    "  drop NAME...            remove the names\n"
	    "  expire NAME SECONDS     drop the name SECONDS from now (0 or "
	    "none: never)\n"
	    "  ttl NAME                the seconds left before the name is "
	    "dropped\n"
	    "  info NAME               an object's details (a lock's owner, "
	    "waiters, ...)\n"
	    "  clients                 the connections: peer, idle time, "
	    "what each holds\n"
	    "  kill ID                 end connection ID (from clients): its "
	    "locks go on\n"
	    "  top [--interval S] [--count N]\n"
	    "                          stats every S seconds (1) until "
	    "interrupted\n"
	    "                          (also: watch with no NAME)\n"
	    "  watch NAME [KEY] [--count N]\n"
	    "                          a line per change of NAME (of KEY): "
	    "VERSION OP [KEY]\n"
	    "objects:\n"
	    "  get NAME [KEY|INDEX]    a value, a whole container, or one "
	    "item\n"
	    "  set NAME KEY VALUE      store into a dict, list, namespace or "
	    "array\n"
	    "  set NAME VALUE          store a value\n"
	    "  del NAME KEY...         delete dict keys, namespace "
	    "attributes, a list item\n"
	    "  incr NAME [KEY] [DELTA] add DELTA (1) to a value or a dict's "
	    "key; print it\n"
	    "  push NAME VALUE...      put on a queue (--timeout S, --wait: "
	    "wait for room),\n"
	    "                          append to a list\n"
	    "  pop NAME [KEY|INDEX]    take from a queue (--timeout S, "
	    "--wait: wait for\n"
	    "                          one), pop a list item or a dict key "
	    "(the last pair)\n"
	    "  peek NAME [N]           a queue's oldest item (or N items), "
	    "left in place\n"
	    "  len NAME                the number of items\n"
	    "  keys NAME               a dict's keys, a namespace's "
	    "attributes\n"
	    "  has NAME KEY            whether a dict has KEY\n"
	    "  insert NAME INDEX VALUE insert into a list\n"
	    "  clear NAME              empty a list or dict\n"
	    "  call NAME METHOD [ARG...]\n"
	    "                          any method (docs/protocol.md, section "
	    "4), ARGs as\n"
	    "                          JSON\n"
	    "  subscribe TOPIC         print each message published to "
	    "TOPIC, a JSON line\n"
	    "                          each, until interrupted\n"
	    "  publish TOPIC MSG       send MSG (JSON) to TOPIC's "
	    "subscribers; prints how\n"
	    "                          many received it\n"
	    "\n"
	    "options:\n"
	    "  --address ADDR          unix:PATH, tcp:HOST:PORT or "
	    "tls:HOST:PORT\n"
	    "                          (AGORA_ADDRESS; default agorad's:\n"
	    "                          unix:$XDG_RUNTIME_DIR/agora.sock)\n"
	    "  --authkey-file FILE     the key (AGORA_AUTHKEY_FILE, or the "
	    "key in\n"
	    "                          AGORA_AUTHKEY)\n"
	    "  --user NAME             the user of agorad's users file "
	    "whose key that is\n"
	    "                          (AGORA_USER; default: the server's "
	    "default user)\n"
	    "  --tls-ca FILE           tls: the CAs to trust, a PEM file or "
	    "a hashed\n"
	    "                          directory (AGORA_TLS_CA; default the "
	    "system's)\n"
	    "  --tls-cert FILE         tls: a client certificate "
	    "(AGORA_TLS_CERT)\n"
	    "  --tls-key FILE          tls: its key (AGORA_TLS_KEY; default: "
	    "in the\n"
	    "                          cert file)\n"
	    "  --timeout SECONDS       give up connecting, and on each call, "
	    "after that long\n"
	    "                          (AGORA_CONNECT_TIMEOUT, default 10; "
	    "over TCP also\n"
	    "                          AGORA_PEER_TIMEOUT, default 30); with "
	    "pop and push:\n"
	    "                          how long to wait for an item or for "
	    "room\n"
	    "  --json                  print one JSON document\n"
	    "  -i                      the interactive mode (the default "
	    "with no command\n"
	    "                          on a terminal): a line is a command "
	    "as above,\n"
	    "                          without \"agora\", quoted as in sh; "
	    "help, quit\n"
	    "  --help, --version\n"
	    "\n"
	    "VALUEs are JSON (quote strings: '\"text\"'); a KEY is JSON if "
	    "it parses, else\n"
	    "a string. Exit: 0 ok, 1 server error, 2 usage, 3 cannot "
	    "connect. See agora(1).\n",
	    f);
}

/* ---- output -------------------------------------------------------------- */

/* Print @j as one line and drop the reference. */
void print_json(json_t *j, int prec)
{
	char *s = check_mem(cli_json_dump(check_mem(j), prec));

	puts(s);
	free(s);
	json_decref(j);
}

void print_value_json(const agora_value *v)
{
	int prec = 1;
	json_t *j = cli_value_to_json(v, &prec);

	print_json(j, prec);
}

char *value_text(const agora_value *v)
{
	return check_mem(cli_value_dump(v));
}

/* A cell as people read it: a str as its text, anything else as JSON. */
char *cell_text(const agora_value *v)
{
	if (v->type == AGORA_STR && v->via.str.ptr != NULL &&
	    memchr(v->via.str.ptr, '\0', v->via.str.len) == NULL)
		return xasprintf("%.*s", (int)v->via.str.len, v->via.str.ptr);
	if (v->type == AGORA_NIL)
		return xstrdup("-");
	return value_text(v);
}

void table_add(struct table *t, char **row)
{
	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->cells = check_mem(
		    realloc(t->cells, t->cap * t->ncol * sizeof(char *)));
	}
	memcpy(&t->cells[t->nrows * t->ncol], row, t->ncol * sizeof(char *));
	t->nrows++;
}

void table_add2(struct table *t, char *a, char *b)
{
	char *row[2] = { a, b };
	table_add(t, row);
}

/* Print aligned columns (the last one is not padded) and free the table. */
void table_print(struct table *t)
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
const agora_value *map_get(const agora_value *m, const char *key)
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

bool value_is_str(const agora_value *v, const char *s)
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

void print_result(struct cli *k, const agora_value *v, bool raw_keys)
{
	if (k->json)
		print_value_json(v);
	else
		print_value_people(v, raw_keys);
}

/* ---- values from the command line --------------------------------------- */

void keep_parsed(struct cli *k, json_t *j)
{
	if (k->nparsed == k->capparsed) {
		k->capparsed = k->capparsed ? 2 * k->capparsed : 8;
		k->parsed = check_mem(
		    realloc(k->parsed, k->capparsed * sizeof(json_t *)));
	}
	k->parsed[k->nparsed++] = j;
}

void forget_parsed(struct cli *k)
{
	for (size_t i = 0; i < k->nparsed; i++)
		json_decref(k->parsed[i]);
	k->nparsed = 0;
	cli_pool_free(&k->pool);
	memset(&k->pool, 0, sizeof(k->pool));
}

/*
 * @text as a VALUE: JSON, strictly. Returns 0, or EXIT_USAGE after saying
 * why. The value lives until the tool exits.
 */
int parse_value(struct cli *k, const char *what, const char *text,
		agora_value *ret)
{
	char err[200];
	json_t *j = cli_json_parse(text, err, sizeof(err));

	if (j == NULL)
		return usage_error("%s %s is not JSON (%s); a string is "
				   "written in quotes, as '\"%s\"'",
				   what, text, err, text);
	keep_parsed(k, j);
	if (cli_json_to_value(j, &k->pool, ret, err, sizeof(err)) < 0)
		return usage_error("%s %s: %s", what, text, err);
	return 0;
}

/* @text as a KEY: JSON when it parses as JSON, else the text as a str. */
int parse_key(struct cli *k, const char *text, agora_value *ret)
{
	char err[200];
	json_t *j = cli_json_parse(text, err, sizeof(err));

	if (j == NULL) {
		*ret = agora_str(text);
		return 0;
	}
	keep_parsed(k, j);
	if (cli_json_to_value(j, &k->pool, ret, err, sizeof(err)) < 0)
		return usage_error("KEY %s: %s", text, err);
	return 0;
}

/* @text as an INDEX: a JSON integer. */
int parse_index(const char *text, agora_value *ret)
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
int parse_attr(struct cli *k, const char *text, agora_value *ret)
{
	int rc = parse_key(k, text, ret);

	if (rc == 0 && ret->type != AGORA_STR)
		*ret = agora_str(text);
	return rc;
}
