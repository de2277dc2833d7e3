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

/* The option of `new` named @name (@len bytes), or -1. */
static int new_option(const char *name, size_t len)
{
	for (int i = 0; i < NEW_NOPTS; i++)
		if (strlen(new_option_names[i]) == len &&
		    strncmp(new_option_names[i], name, len) == 0)
			return i;
	return -1;
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
		const char *a = argv[i], *val = NULL, *eq;
		size_t nlen;

		if (!opts || strncmp(a, "--", 2) != 0) {
			if (opts && strcmp(a, "-h") == 0) {
				usage(stdout);
				return EXIT_OK;
			}
			if (opts && strcmp(a, "-i") == 0) {
				k->interactive = true;
				continue;
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
#ifdef HAVE_LIBEDIT
			printf("agora %s (protocol 1, libedit)\n",
			       AGORA_VERSION_STRING);
#else
			printf("agora %s (protocol 1)\n", AGORA_VERSION_STRING);
#endif
			return EXIT_OK;
		} else if (IS("--json")) {
			k->json = true;
		} else if (IS("--address")) {
			if (option_value(argv, argc, &i, eq, &k->address_opt))
				return EXIT_USAGE;
		} else if (IS("--authkey-file")) {
			if (option_value(argv, argc, &i, eq, &k->keyfile_opt))
				return EXIT_USAGE;
		} else if (IS("--tls-ca")) {
			if (option_value(argv, argc, &i, eq, &k->tls_ca_opt))
				return EXIT_USAGE;
		} else if (IS("--tls-cert")) {
			if (option_value(argv, argc, &i, eq, &k->tls_cert_opt))
				return EXIT_USAGE;
		} else if (IS("--tls-key")) {
			if (option_value(argv, argc, &i, eq, &k->tls_key_opt))
				return EXIT_USAGE;
		} else if (IS("--user")) {
			if (option_value(argv, argc, &i, eq, &k->user_opt))
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
			/* Checked once the command is known (run()). */
			if (option_value(argv, argc, &i, eq, &k->timeout_text))
				return EXIT_USAGE;
		} else if (IS("--wait")) {
			k->wait_set = true;
			k->wait = -1;
		} else if (IS("--exist-ok")) {
			k->exist_ok = true;
		} else if (IS("--owned")) {
			k->newopt[NEW_OWNED] = "true";
		} else if (new_option(a + 2, nlen - 2) >= 0) {
			if (option_value(argv, argc, &i, eq, &val))
				return EXIT_USAGE;
			k->newopt[new_option(a + 2, nlen - 2)] = val;
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
	const char *tls_note;
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
	/* NULL leaves each to AGORA_TLS_CA, AGORA_TLS_CERT, AGORA_TLS_KEY. */
	if (agora_client_set_tls(k->c, k->tls_ca_opt, k->tls_cert_opt,
				 k->tls_key_opt) < 0)
		return usage_error("%s", agora_errmsg(k->c));
	/* The commands never wait in the server: one limit serves
	 * connecting and every call. */
	if (k->timeout > 0) {
		agora_client_set_connect_timeout(k->c, k->timeout);
		agora_client_set_peer_timeout(k->c, k->timeout);
	}
	/* The user: --user, else AGORA_USER, else the default user. */
	const char *user = k->user_opt ? k->user_opt : e.user;
	if (user != NULL && agora_client_set_user(k->c, user) < 0) {
		ag_endpoint_clear(&e);
		return usage_error("%s %s: a user name is 1 to 64 bytes",
				   k->user_opt ? "--user" : "AGORA_USER", user);
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
		tls_note = strncmp(k->address, "tls:", 4) == 0
			       ? ", or something that is not agorad holds a "
				 "certificate this client trusts"
			       : "";
		if (user != NULL)
			say("the key (from %s) is not user \"%s\"'s, or agorad "
			    "has no such user (--users)%s",
			    e.key_from, user, tls_note);
		else
			say("the key (from %s) is not the one agorad was "
			    "started with%s",
			    e.key_from, tls_note);
		return EXIT_CONNECT;
	case AGORA_ECERT:
		say("%s", agora_errmsg(k->c));
		say("the CAs trusted come from --tls-ca or AGORA_TLS_CA, else "
		    "the system's store");
		return EXIT_CONNECT;
	default:
		say("cannot connect to %s: %s", k->address,
		    agora_errmsg(k->c)[0] ? agora_errmsg(k->c)
					  : agora_strerror(rc));
		return EXIT_CONNECT;
	}
}

/* ---- main ---------------------------------------------------------------- */

/* --timeout, as the command takes it: a wait (0 to 86400) or a limit on
 * connecting and each call (0.01 to 86400). Returns 0 or EXIT_USAGE. */
static int check_timeout(struct cli *k, const struct command *cmd)
{
	const char *val = k->timeout_text;
	char *end;
	double t;

	if (val == NULL)
		return 0;
	t = strtod(val, &end);
	if (cmd->waits) {
		if (end == val || *end != '\0' || !(t >= 0 && t <= 86400))
			return usage_error("--timeout %s: want seconds to "
					   "wait, from 0 to 86400",
					   val);
		if (k->wait_set)
			return usage_error("--timeout and --wait: give one");
		k->wait = t;
		k->wait_set = true;
		return 0;
	}
	if (end == val || *end != '\0' || !(t >= 0.01 && t <= 86400))
		return usage_error("--timeout %s: want seconds from 0.01 to "
				   "86400",
				   val);
	if (k->session)
		return usage_error("--timeout: the session is connected "
				   "already (it goes on the command line)");
	k->timeout = t;
	return 0;
}

static int run(struct cli *k, int argc, char **argv)
{
	char **pos = check_mem(calloc((size_t)argc + 1, sizeof(char *)));
	int npos = 0, rc;
	const struct command *cmd = NULL;

	rc = parse_args(k, argc, argv, pos, argc, &npos);
	if (rc >= 0)
		goto out;
	if (npos == 0 && !k->session &&
	    (k->interactive || (isatty(0) && isatty(1)))) {
		bool newopt = false;
		for (int i = 0; i < NEW_NOPTS; i++)
			newopt = newopt || k->newopt[i] != NULL;
		if (newopt || k->wait_set || k->exist_ok || k->interval_set ||
		    k->count_set) {
			rc = usage_error("the interactive mode takes only "
					 "--address, --authkey-file, "
					 "--user, --timeout and --json");
			goto out;
		}
		if ((rc = check_timeout(k, &cli_commands[0])) != 0 ||
		    (rc = cli_connect(k)) != 0)
			goto out;
		rc = cli_session(k, run);
		goto out;
	}
	rc = EXIT_USAGE;
	if (npos == 0) {
		usage_error("no command given");
		goto out;
	}
	if (k->interactive) {
		usage_error("-i takes no command");
		goto out;
	}
	for (size_t i = 0; i < cli_ncommands; i++)
		if (strcmp(pos[0], cli_commands[i].name) == 0)
			cmd = &cli_commands[i];
	if (cmd == NULL) {
		usage_error("unknown command \"%s\"", pos[0]);
		goto out;
	}
	if (npos - 1 < cmd->min || (cmd->max >= 0 && npos - 1 > cmd->max)) {
		usage_error("usage: agora %s%s", cmd->name, cmd->args);
		goto out;
	}
	if ((k->interval_set || k->count_set) && strcmp(cmd->name, "watch") &&
	    strcmp(cmd->name, "top")) {
		usage_error("--interval and --count go with watch and top");
		goto out;
	}
	if (k->wait_set && !cmd->waits) {
		usage_error("--wait goes with pop and push");
		goto out;
	}
	if (k->exist_ok && strcmp(cmd->name, "new")) {
		usage_error("--exist-ok goes with new");
		goto out;
	}
	for (int i = 0; i < NEW_NOPTS; i++)
		if (k->newopt[i] != NULL && strcmp(cmd->name, "new")) {
			usage_error("--%s goes with new", new_option_names[i]);
			goto out;
		}
	if ((rc = check_timeout(k, cmd)) != 0)
		goto out;
	if (k->session &&
	    (k->address_opt || k->keyfile_opt || k->user_opt || k->tls_ca_opt ||
	     k->tls_cert_opt || k->tls_key_opt)) {
		rc =
		    usage_error("the session is connected already: "
				"--address, --authkey-file, --user and --tls-* "
				"go on "
				"the command line");
		goto out;
	}
	if (!k->session && (rc = cli_connect(k)) != 0)
		goto out;
	rc = cmd->fn(k, pos + 1, npos - 1);
out:
	free(pos);
	return rc;
}

int main(int argc, char **argv)
{
	struct cli k;
	int rc;

	memset(&k, 0, sizeof(k));
	rc = run(&k, argc, argv);
	/* Freeing the client closes its handles in the server too. */
	agora_client_free(k.c);
	forget_parsed(&k);
	free(k.parsed);
	if (fflush(stdout) != 0 && rc == EXIT_OK) {
		say("cannot write the output: %s", strerror(errno));
		rc = EXIT_SERVER;
	}
	return rc;
}
