/*
 * main.c - agora(1), the command-line tool: look at and change what an
 * agorad holds.
 *
 * Parts, top to bottom:
 *   - the usage text and the command line: options anywhere, "--" ends
 *     them;
 *   - connecting: address and key from the options or the environment;
 *   - main: the subcommand's arguments checked, then its function in
 *     commands.c, which also opens named objects by their type.
 *
 * Values cross the command line as JSON (value_json.h). Everything goes
 * through libagora's generic calls (agora_call with "TYPE.METHOD"), so the
 * tool handles every object type alike. Nothing here prints the authkey.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ag_keyfile.h"
#include "agora.h"
#include "cli.h"
#include "config.h"
#include "value_json.h"

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
	    "  clients                 the connections: peer, idle time, "
	    "what each holds\n"
	    "  kill ID                 end connection ID (from clients): its "
	    "locks go on\n"
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
	    "  --timeout SECONDS       give up connecting, and on each call, "
	    "after that long\n"
	    "                          (AGORA_CONNECT_TIMEOUT, default 10; "
	    "over TCP also\n"
	    "                          AGORA_PEER_TIMEOUT, default 30)\n"
	    "  --json                  print one JSON document\n"
	    "  --help, --version\n"
	    "\n"
	    "VALUEs are JSON (quote strings: '\"text\"'); a KEY is JSON if it "
	    "parses, else\n"
	    "a string. Exit: 0 ok, 1 server error, 2 usage, 3 cannot "
	    "connect. See agora(1).\n",
	    f);
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
		} else if (IS("--timeout")) {
			char *end;
			if (option_value(argv, argc, &i, eq, &val))
				return EXIT_USAGE;
			k->timeout = strtod(val, &end);
			if (end == val || *end != '\0' ||
			    !(k->timeout >= 0.01 && k->timeout <= 86400))
				return usage_error("--timeout %s: want "
						   "seconds from 0.01 to "
						   "86400",
						   val);
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

/* ---- connecting ---------------------------------------------------------- */

/*
 * Connect k->c, with the address and the key found in the order every
 * client follows (ag_endpoint_resolve(): the options, the environment,
 * agorad's default address). Returns 0, or an exit code after saying why.
 */
static int cli_connect(struct cli *k)
{
	struct ag_endpoint e;
	char err[600];
	int rc;

	rc = ag_endpoint_resolve(&e, k->address_opt, k->keyfile_opt, err,
				 sizeof(err));
	if (rc == AGORA_ENOMEM)
		out_of_memory();
	if (rc == AGORA_EINVAL)
		return usage_error("%s; give --authkey-file FILE", err);
	if (rc < 0) {
		say("%s", err);
		return EXIT_CONNECT;
	}
	/* A Unix socket's path is at most 107 bytes: defaddr holds it. */
	snprintf(k->defaddr, sizeof(k->defaddr), "%s", e.address);
	k->address = k->defaddr;

	k->c = check_mem(agora_client_new());
	/* The commands never wait in the server: one limit serves
	 * connecting and every call. */
	if (k->timeout > 0) {
		agora_client_set_connect_timeout(k->c, k->timeout);
		agora_client_set_peer_timeout(k->c, k->timeout);
	}
	rc = agora_client_connect(k->c, k->address, e.key, e.keylen);
	ag_endpoint_clear(&e);
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
			    e.address_from);
		return EXIT_CONNECT;
	case AGORA_ETIMEDOUT:
		say("%s", agora_errmsg(k->c));
		say("nothing answered the handshake in time (--timeout, "
		    "AGORA_CONNECT_TIMEOUT): is an agorad listening at %s?",
		    k->address);
		return EXIT_CONNECT;
	case AGORA_EAUTH:
		say("cannot authenticate: %s", agora_errmsg(k->c));
		say("the key (from %s) is not the one agorad was started with",
		    e.key_from);
		return EXIT_CONNECT;
	default:
		say("cannot connect to %s: %s", k->address,
		    agora_errmsg(k->c)[0] ? agora_errmsg(k->c)
					  : agora_strerror(rc));
		return EXIT_CONNECT;
	}
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
	{ "clients", 0, 0, "" },
	{ "kill", 1, 1, " ID" },
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
	if (!strcmp(cmd->name, "clients"))
		return cmd_clients(k);
	if (!strcmp(cmd->name, "kill"))
		return cmd_kill(k, pos[1]);
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
