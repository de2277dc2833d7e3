/*
 * session.c - agora(1)'s interactive mode (cli.h): a prompt, one command
 * per line in the syntax of the command line, on one connection for the
 * whole session.
 *
 * A line is split into words as a shell splits them: blanks separate
 * words, '...' keeps everything as written, "..." too except that \" \\
 * \$ and \` stand for the character, and a backslash outside quotes
 * stands for the next character. Each line runs as `agora WORDS` would
 * (main.c's run(), handed over), except that connecting was done once: an error
 * is printed and the session goes on. "help" prints the usage, "quit", "exit"
 * or the end of input end the session.
 *
 * With libedit (HAVE_LIBEDIT, an optional dependency) and a terminal,
 * lines are read with editing and history, the history kept in
 * $AGORA_HISTFILE, else $XDG_STATE_HOME/agora_history, else
 * ~/.agora_history (an empty AGORA_HISTFILE keeps none), and Tab
 * completes commands, types, options and object names. Without libedit,
 * or when the input is not a terminal, lines are read as they come, with
 * the prompt only on a terminal.
 *
 * The session outlives a restart of agorad: the client reconnects (for up
 * to RECONNECT_SECONDS at each loss, agora_client_set_reconnect()) and
 * says so on stderr; a command whose answer was lost says AGORA_ELOST (it
 * may have been done) and is not run again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#ifdef HAVE_LIBEDIT
#include <editline/readline.h>
#endif

#define PROMPT "agora> "
/* How long a session tries to reach its server again after losing it. */
#define RECONNECT_SECONDS 30
#define HISTORY_LINES 1000

/* The reconnect's report: one line on stderr. */
static void reconnected(agora_client *c, bool restarted, void *arg)
{
	const struct cli *k = arg;

	say("reconnected to %s%s", k->address,
	    restarted ? " (a new agorad: its objects are new)" : "");
	(void)c;
}

#ifdef HAVE_LIBEDIT
/* The history file's path (malloc'ed), or NULL for none. */
static char *history_path(void)
{
	const char *f = getenv("AGORA_HISTFILE");
	const char *state = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");

	if (f != NULL)
		return f[0] ? xstrdup(f) : NULL;
	if (state != NULL && state[0] == '/')
		return xasprintf("%s/agora_history", state);
	if (home != NULL && home[0] == '/')
		return xasprintf("%s/.agora_history", home);
	return NULL;
}
#endif

/*
 * Split @line into words (above) in *ret_words, a NULL-ended array whose
 * first item is "agora" (argv for run()); the words point into @buf, as
 * long as the line. Returns the number of words with "agora", or -1 after
 * saying what is wrong (an unfinished quote).
 */
static int split_words(const char *line, char *buf, char ***ret_words)
{
	size_t cap = 8, n = 1;
	char **w = check_mem(calloc(cap, sizeof(char *)));
	const char *p = line;
	char *out = buf;

	w[0] = "agora";
	for (;;) {
		char quote = 0;

		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (*p == '\0')
			break;
		if (n + 2 > cap) {
			cap *= 2;
			w = check_mem(realloc(w, cap * sizeof(char *)));
		}
		w[n++] = out;
		for (; *p != '\0'; p++) {
			if (quote == '\'') {
				if (*p == '\'')
					quote = 0;
				else
					*out++ = *p;
			} else if (quote == '"') {
				if (*p == '"')
					quote = 0;
				else if (*p == '\\' && p[1] != '\0' &&
					 strchr("\"\\$`", p[1]))
					*out++ = *++p;
				else
					*out++ = *p;
			} else if (*p == '\'' || *p == '"') {
				quote = *p;
			} else if (*p == '\\' && p[1] != '\0') {
				*out++ = *++p;
			} else if (strchr(" \t\n\r", *p)) {
				break;
			} else {
				*out++ = *p;
			}
		}
		*out++ = '\0';
		if (quote != 0) {
			say("unfinished %s quote",
			    quote == '"' ? "double" : "single");
			free(w);
			return -1;
		}
	}
	w[n] = NULL;
	*ret_words = w;
	return (int)n;
}

#ifdef HAVE_LIBEDIT
/*
 * Tab completion: the first word from the commands, the word after "new"
 * from the types, a word that starts with "--" from the options, any
 * other from the names of the server's objects (an ls for each Tab).
 * readline's callbacks take no context: the session is kept here.
 */
static struct cli *completing;
static char **candidates;
static size_t ncandidates;

static const char *const option_words[] = {
	"--json",           "--timeout",     "--wait",     "--exist-ok",
	"--maxsize",        "--initial",     "--value",    "--owned",
	"--parties",        "--lock",        "--typecode", "--length",
	"--items",          "--interval",    "--count",    "--help",
	"--max-deliveries", "--dead-letter", NULL,
};

static void candidates_free(void)
{
	for (size_t i = 0; i < ncandidates; i++)
		free(candidates[i]);
	free(candidates);
	candidates = NULL;
	ncandidates = 0;
}

static void candidate_add(const char *word, size_t len)
{
	candidates =
	    check_mem(realloc(candidates, (ncandidates + 1) * sizeof(char *)));
	candidates[ncandidates] = check_mem(strndup(word, len));
	ncandidates++;
}

/* The candidates for a word that starts at @start of the line. */
static void candidates_find(const char *text, int start)
{
	const char *line = rl_line_buffer;
	int first = 0, words = 0;
	agora_value ls;

	candidates_free();
	/* Which word this is: count the words before it. */
	for (int i = 0; i < start; i++) {
		bool blank = line[i] == ' ' || line[i] == '\t';
		if (!blank &&
		    (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) {
			if (words == 0)
				first = i;
			words++;
		}
	}
	if (strncmp(text, "--", 2) == 0) {
		for (size_t i = 0; option_words[i] != NULL; i++)
			candidate_add(option_words[i], strlen(option_words[i]));
	} else if (words == 0) {
		for (size_t i = 0; i < cli_ncommands; i++)
			candidate_add(cli_commands[i].name,
				      strlen(cli_commands[i].name));
		candidate_add("help", 4);
		candidate_add("quit", 4);
	} else if (words == 1 && strncmp(line + first, "new ", 4) == 0) {
		for (size_t i = 0; cli_type_name(i) != NULL; i++)
			candidate_add(cli_type_name(i),
				      strlen(cli_type_name(i)));
	} else if (agora_ls(completing->c, &ls) == 0) {
		for (size_t i = 0;
		     ls.type == AGORA_ARRAY && i < ls.via.array.len; i++) {
			const agora_value *n =
			    map_get(&ls.via.array.items[i], "name");
			if (n != NULL && n->type == AGORA_STR)
				candidate_add(n->via.str.ptr, n->via.str.len);
		}
		agora_value_free(&ls);
	}
}

static char *complete_next(const char *text, int state)
{
	static size_t i;
	size_t len = strlen(text);

	if (state == 0)
		i = 0;
	while (i < ncandidates) {
		const char *c = candidates[i++];
		if (strncmp(c, text, len) == 0)
			return xstrdup(c);
	}
	return NULL;
}

static char **complete(const char *text, int start, int end)
{
	(void)end;
	candidates_find(text, start);
	/* No file names when nothing matches. */
	rl_attempted_completion_over = 1;
	return rl_completion_matches(text, complete_next);
}
#endif

/* The next line, without its newline (free it), or NULL at the end. */
static char *next_line(bool edit, bool prompt)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

#ifdef HAVE_LIBEDIT
	if (edit)
		return readline(PROMPT);
#else
	(void)edit;
#endif
	if (prompt) {
		fputs(PROMPT, stdout);
		fflush(stdout);
	}
	len = getline(&line, &cap, stdin);
	if (len < 0) {
		free(line);
		return NULL;
	}
	if (len > 0 && line[len - 1] == '\n')
		line[len - 1] = '\0';
	return line;
}

int cli_session(struct cli *k, cli_run_fn *run)
{
	bool tty = isatty(0) && isatty(1);
	bool edit = false, json = k->json;
	char *hist = NULL;
	char *line;

	k->session = true;
	agora_client_set_reconnect(k->c, RECONNECT_SECONDS, reconnected, k);
	/* Connected: the lines may not name another server or key. */
	k->address_opt = k->keyfile_opt = k->user_opt = NULL;
	k->tls_ca_opt = k->tls_cert_opt = k->tls_key_opt = NULL;
	set_usage_hint("Type help for the commands.");
#ifdef HAVE_LIBEDIT
	edit = tty;
	if (edit) {
		completing = k;
		rl_readline_name = "agora";
		rl_attempted_completion_function = complete;
		hist = history_path();
		using_history();
		stifle_history(HISTORY_LINES);
		if (hist != NULL)
			read_history(hist);
	}
#endif
	if (tty)
		printf("connected to %s (%s); help lists the commands, quit "
		       "ends\n",
		       k->address, agora_server_version(k->c));
	while ((line = next_line(edit, tty)) != NULL) {
		char **words, *buf = check_mem(malloc(strlen(line) + 1));
		int n = split_words(line, buf, &words);

		if (n > 1) {
#ifdef HAVE_LIBEDIT
			if (edit) {
				add_history(line);
				if (hist != NULL)
					write_history(hist);
			}
#endif
			if (!strcmp(words[1], "quit") ||
			    !strcmp(words[1], "exit")) {
				free(words);
				free(buf);
				free(line);
				break;
			}
			if (!strcmp(words[1], "help")) {
				usage(stdout);
			} else {
				/* Each line starts from the session's own
				 * options. */
				k->json = json;
				k->timeout_text = NULL;
				k->wait = 0;
				k->wait_set = k->exist_ok = false;
				k->interval_set = k->count_set = false;
				k->interactive = false;
				memset(k->newopt, 0, sizeof(k->newopt));
				run(k, n, words);
				close_handles(k);
				forget_parsed(k);
			}
		}
		if (n > 0)
			free(words);
		free(buf);
		free(line);
		fflush(stdout);
		fflush(stderr);
	}
	if (line == NULL && tty)
		putchar('\n');
	k->json = json;
	free(hist);
#ifdef HAVE_LIBEDIT
	candidates_free();
#endif
	return EXIT_OK;
}
