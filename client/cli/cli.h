/*
 * cli.h - what the files of agora(1) share. Never installed. Each uses only
 * those listed after it (no cycle: scripts/check-layers.py BUILD client/cli):
 *   main.c        the command line, connecting, main;
 *   session.c     the interactive mode: a prompt, one command per line;
 *   commands.c    named objects and one function per subcommand;
 *   pubsub.c      the subcommands of topics, subscribe and publish;
 *   text.c        messages, output, values from the command line;
 *   value_json.c  agora_value to JSON and back.
 *
 * The helpers keep the short names they had as static functions of one
 * file: they are a program's, and nothing links against them.
 */
#ifndef AG_CLI_H
#define AG_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "agora.h"
#include "value_json.h"

/* The exit codes agora(1) documents. */
enum {
	EXIT_OK = 0,
	EXIT_SERVER = 1,  /* the server answered an error; no such object */
	EXIT_USAGE = 2,   /* bad command line */
	EXIT_CONNECT = 3, /* cannot connect or authenticate; connection lost */
};

/* The options of `agora new`, as given (NULL: not given). */
enum {
	NEW_MAXSIZE,
	NEW_INITIAL,
	NEW_VALUE,
	NEW_OWNED,
	NEW_PARTIES,
	NEW_LOCK,
	NEW_TYPECODE,
	NEW_LENGTH,
	NEW_ITEMS,
	NEW_MAX_DELIVERIES,
	NEW_DEAD_LETTER,
	NEW_TTL,
	NEW_NOPTS
};
/* Their flags without the "--" ("maxsize", "max-deliveries", ...): the
 * protocol's names, with '-' for '_'. */
extern const char *const new_option_names[NEW_NOPTS];

struct cli {
	bool json;
	const char *address_opt, *keyfile_opt;
	const char *tls_ca_opt, *tls_cert_opt, *tls_key_opt; /* NULL: env */
	/* --user, or NULL (then AGORA_USER) */
	const char *user_opt;
	double interval; /* watch */
	long count;      /* watch; 0: until interrupted */
	bool interval_set, count_set;
	double timeout; /* --timeout; 0: not given */
	const char *address;
	char defaddr[512];
	agora_client *c;
	cli_pool pool; /* values parsed from the command line */
	json_t **parsed;
	size_t nparsed, capparsed;
	/* Per command (a session resets them for each line): */
	const char *timeout_text; /* --timeout as given */
	double wait;              /* pop, push: --timeout as a wait; */
	bool wait_set;            /* given (--wait: wait = -1, forever) */
	bool exist_ok;            /* new --exist-ok */
	const char *newopt[NEW_NOPTS];
	bool interactive;     /* -i */
	bool session;         /* in the interactive mode: connected already */
	uint32_t handles[16]; /* opened by this command, closed after it */
	size_t nhandles;
};

struct table {
	size_t ncol, nrows, cap;
	char **cells; /* nrows * ncol, row by row; owned */
};

/* ---- text.c: messages ---------------------------------------------------- */

/* "agora: " and the message on stderr. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Say so and exit 1. */
void out_of_memory(void) __attribute__((noreturn));
/* @p, or out_of_memory() when it is NULL. */
void *check_mem(void *p);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The usage text of --help and of a session's "help". */
void usage(FILE *f);
/* The line usage_error() ends with ("Try 'agora --help'."). */
void set_usage_hint(const char *hint);
/* Say the message and the usage hint; returns EXIT_USAGE. */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Report the failed call @rc and return the exit code for it: 3 when the
 * connection is gone, else 1 (the server said no). */
int call_failed(struct cli *k, int rc);

/* ---- text.c: output -------------------------------------------------------
 */

/* Print @j as one line and drop the reference. */
void print_json(json_t *j, int prec);
void print_value_json(const agora_value *v);
/* @v as JSON text (malloc'ed). */
char *value_text(const agora_value *v);
/* A cell as people read it: a str as its text, anything else as JSON. */
char *cell_text(const agora_value *v);
/* Add a row of t->ncol cells (taken over) to @t. */
void table_add(struct table *t, char **row);
void table_add2(struct table *t, char *a, char *b);
/* Print aligned columns (the last one is not padded) and free the table. */
void table_print(struct table *t);
/* The value under the str key @key in the map @m, or NULL. */
const agora_value *map_get(const agora_value *m, const char *key);
/* True when @v is the str @s. */
bool value_is_str(const agora_value *v, const char *s);
/* A command's result: JSON with --json, else for people (a map of
 * attribute names keeps its keys raw when @raw_keys). */
void print_result(struct cli *k, const agora_value *v, bool raw_keys);

/* ---- text.c: values from the command line -------------------------------- */

/* @text as a VALUE: JSON, strictly. Returns 0, or EXIT_USAGE after saying
 * why. The value lives until the tool exits. */
int parse_value(struct cli *k, const char *what, const char *text,
		agora_value *ret);
/* @text as a KEY: JSON when it parses as JSON, else the text as a str. */
int parse_key(struct cli *k, const char *text, agora_value *ret);
/* @text as an INDEX: a JSON integer. */
int parse_index(const char *text, agora_value *ret);
/* @text as a namespace attribute: a JSON string's text, else as given. */
int parse_attr(struct cli *k, const char *text, agora_value *ret);

/* Keep @j (a parsed command-line value) until the command ends. */
void keep_parsed(struct cli *k, json_t *j);
/* Drop what the last command parsed (values, the pool). */
void forget_parsed(struct cli *k);

/* ---- commands.c ----------------------------------------------------------
 *
 * One function per subcommand, on a connected k->c, with the arguments
 * after the command's name (their number already checked against the
 * command table of main.c): each prints its result and returns the exit
 * code (EXIT_OK, or the code after saying why).
 */
typedef int cmd_fn(struct cli *k, char **args, int nargs);
cmd_fn cmd_ping, cmd_stats, cmd_ls, cmd_watch, cmd_top, cmd_info, cmd_get,
    cmd_set, cmd_push, cmd_pop, cmd_peek, cmd_drop, cmd_clients, cmd_kill,
    cmd_new, cmd_del, cmd_incr, cmd_len, cmd_keys, cmd_has, cmd_clear,
    cmd_insert, cmd_call, cmd_expire, cmd_ttl;
/* pubsub.c: topics. */
cmd_fn cmd_subscribe, cmd_publish;
/* The subcommands, with the number of arguments each takes after its
 * name (main.c checks them) and whether --timeout is a wait. */
struct command {
	const char *name;
	int min, max; /* arguments after the command; -1: no limit */
	const char *args;
	cmd_fn *fn;
	bool waits; /* --timeout and --wait are how long to wait */
};
extern const struct command cli_commands[];
extern const size_t cli_ncommands;
/* The wire name of the @i-th type agora knows, or NULL past the last. */
const char *cli_type_name(size_t i);
/* Whether the type @type is one agora knows (a row of AGORA_TYPES). */
bool known_type(const char *type);
/* Close the handles the last command opened (a session's next command
 * must not find them still open). */
void close_handles(struct cli *k);

/* ---- session.c ----------------------------------------------------------- */

/*
 * One command line, argv[0] being the program's name: options, the
 * command, connecting unless in a session, running it. Returns the exit
 * code. (main.c's run(), handed to the session: a callback, so that
 * session.c sits below main.c.)
 */
typedef int cli_run_fn(struct cli *k, int argc, char **argv);
/* The interactive mode on the connected k->c, until "quit" or end of
 * input, each line run by @run. Returns the exit code (0). */
int cli_session(struct cli *k, cli_run_fn *run);

#endif
