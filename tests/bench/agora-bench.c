/*
 * agora-bench - how fast Agora serves its common operations.
 *
 * For each cell (transport x op x client count x pipeline depth) it forks
 * that many client processes, each with its own connection, runs them
 * together for a fixed time and reports the aggregate rate and the
 * latency quantiles (bench.h). The table goes to stderr, one JSON line
 * per cell to stdout, so `agora-bench > results.jsonl` keeps both apart.
 *
 * It starts its own agorad (--agorad PATH, default $AGORAD, else agorad
 * from PATH), listening on a Unix socket in a private directory and on
 * tcp:127.0.0.1 with a free port (with --transport tls also on
 * tls:127.0.0.1, with a self-signed certificate made by the openssl
 * command, which the clients trust), optionally pinned (--cpu-server), and
 * stops it at the end; or it uses a running server (--address, with the
 * key from --authkey-file or the environment as for
 * agora_client_connect_env()).
 *
 * Ops, and what one op is:
 *   ping              one ping round trip
 *   list.append       append an int to one shared list
 *   dict.set          d[k] = v on one shared dict, k among 1024 keys
 *   dict.get          d[k] on that dict (prefilled)
 *   value.add         atomic add on one shared value
 *   queue.put+get     put an int on one shared queue, then get one
 *   lock.acq+rel      acquire and release a lock of this client's own
 *   lock.contended    acquire and release one lock all clients share
 * Pipelined (--depth above 1), a unit is a batch of that many ops sent
 * through agora_pipeline and collected in call order; the lock ops are
 * not pipelined (a release queued behind a parked acquire would be served
 * first) and are skipped there.
 *
 * --agorad-arg ARG (repeatable) passes ARG to the agorad it starts, after
 * its own arguments (e.g. --agorad-arg --data-dir --agorad-arg DIR), and
 * --system LABEL names the server in the output (default "agora"), so
 * one run can tell apart servers set up differently.
 *
 * --memory N instead measures storage: N small ints appended to a list,
 * and N int->int entries in a dict, in batches of 1000, each reported as
 * bytes per element of agorad's RSS growth and of the server's own
 * "memory" figure from stats.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agora.h"
#include "bench.h"

#define MAX_LIST 16
#define DICT_KEYS 1024
#define MEM_BATCH 1000
#define MAX_AGORAD_ARGS 16

static const char *const all_ops[] = {
	"ping",      "list.append",   "dict.set",     "dict.get",
	"value.add", "queue.put+get", "lock.acq+rel", "lock.contended",
};
#define NOPS (sizeof(all_ops) / sizeof(all_ops[0]))

enum op {
	OP_PING,
	OP_LIST_APPEND,
	OP_DICT_SET,
	OP_DICT_GET,
	OP_VALUE_ADD,
	OP_QUEUE,
	OP_LOCK,
	OP_LOCK_CONTENDED,
};

/* Where the clients connect; @ca: the CA file of a tls: address. */
struct target {
	char address[256];
	char key[256];
	size_t keylen;
	char ca[160];
};

/* One client process's state. */
struct client {
	agora_client *c;
	enum op op;
	int depth;
	agora_list *list;
	agora_dict *dict;
	agora_var *var;
	agora_queue *queue;
	agora_lock *lock;
	uint32_t handle; /* the handle of the op's object, for pipelining */
	agora_pipeline *pipe;
};

/* The server agora-bench started, if any, and what it adds to its
 * arguments (--agorad-arg). */
static pid_t server_pid;
static char server_dir[64];
static const char *extra_args[MAX_AGORAD_ARGS];
static int nextra;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void stop_server(void)
{
	char path[128];

	if (server_pid > 0) {
		int status;

		/* one that is gone already says how, for whoever reads why
		 * a cell failed */
		if (waitpid(server_pid, &status, WNOHANG) == server_pid) {
			if (WIFSIGNALED(status))
				fprintf(stderr,
					"agora-bench: agorad (pid %ld) was "
					"killed by signal %d (%s)\n",
					(long)server_pid, WTERMSIG(status),
					strsignal(WTERMSIG(status)));
			else
				fprintf(stderr,
					"agora-bench: agorad (pid %ld) exited "
					"with status %d\n",
					(long)server_pid, WEXITSTATUS(status));
		} else {
			kill(server_pid, SIGTERM);
			waitpid(server_pid, &status, 0);
		}
		server_pid = 0;
	}
	if (server_dir[0] != '\0') {
		snprintf(path, sizeof(path), "%s/key", server_dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/agora.sock", server_dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/tls.pem", server_dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/tls.key", server_dir);
		unlink(path);
		rmdir(server_dir);
		server_dir[0] = '\0';
	}
}

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "agora-bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	stop_server();
	exit(1);
}

static void on_signal(int sig)
{
	stop_server();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* ---- the server ---------------------------------------------------------- */

/* The listening line of @prefix ("tcp:", "tls:") in @out into @t. */
static void find_listener(const char *out, const char *prefix, struct target *t)
{
	char head[64];
	const char *l;

	snprintf(head, sizeof(head), "agorad: listening on %s", prefix);
	l = strstr(out, head);
	if (l != NULL && strchr(l, '\n') != NULL)
		sscanf(l, "agorad: listening on %255s", t->address);
}

/*
 * Start @agorad on a Unix socket and tcp:127.0.0.1:0 with a fresh key,
 * pinned to @cpu; fill @unix_t and @tcp_t from its listening lines. With
 * @tls_t, also on tls:127.0.0.1:0 with a self-signed certificate (EC
 * P-256) made now, which @tls_t's clients trust.
 */
static void start_server(const char *agorad, int cpu, struct target *unix_t,
			 struct target *tcp_t, struct target *tls_t)
{
	char keyfile[128], sock[128], listen_unix[160], out[2048] = "";
	char cert[160], tkey[160], cmd[600];
	unsigned char raw[16];
	size_t len = 0;
	int fds[2], fd;

	snprintf(server_dir, sizeof(server_dir), "/tmp/agora-bench-XXXXXX");
	if (mkdtemp(server_dir) == NULL)
		die("mkdtemp: %s", strerror(errno));
	snprintf(keyfile, sizeof(keyfile), "%s/key", server_dir);
	snprintf(sock, sizeof(sock), "%s/agora.sock", server_dir);
	snprintf(listen_unix, sizeof(listen_unix), "unix:%s", sock);
	if (getrandom(raw, sizeof(raw), 0) != sizeof(raw))
		die("getrandom: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(raw); i++)
		sprintf(unix_t->key + 2 * i, "%02x", raw[i]);
	unix_t->keylen = 2 * sizeof(raw);
	fd = open(keyfile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 ||
	    write(fd, unix_t->key, unix_t->keylen) != (ssize_t)unix_t->keylen)
		die("cannot write %s: %s", keyfile, strerror(errno));
	close(fd);
	*tcp_t = *unix_t;
	snprintf(unix_t->address, sizeof(unix_t->address), "%s", listen_unix);
	snprintf(cert, sizeof(cert), "%s/tls.pem", server_dir);
	snprintf(tkey, sizeof(tkey), "%s/tls.key", server_dir);
	if (tls_t != NULL) {
		*tls_t = *tcp_t;
		snprintf(tls_t->ca, sizeof(tls_t->ca), "%s", cert);
		snprintf(cmd, sizeof(cmd),
			 "openssl req -x509 -newkey ec -pkeyopt "
			 "ec_paramgen_curve:P-256 -nodes -keyout '%s' -out "
			 "'%s' -days 2 -subj /CN=agora-bench -addext "
			 "subjectAltName=IP:127.0.0.1 2>/dev/null",
			 tkey, cert);
		if (system(cmd) != 0)
			die("cannot make a certificate with the openssl "
			    "command (for --transport tls)");
	}

	if (pipe2(fds, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	server_pid = fork();
	if (server_pid < 0)
		die("fork: %s", strerror(errno));
	if (server_pid == 0) {
		dup2(fds[1], 1);
		if (bench_pin(cpu) < 0) {
			fprintf(stderr, "agora-bench: cannot pin agorad: %s\n",
				strerror(errno));
			_exit(127);
		}
		const char *argv[16 + MAX_AGORAD_ARGS];
		int n = 0;

		argv[n++] = agorad;
		argv[n++] = "--listen";
		argv[n++] = listen_unix;
		argv[n++] = "--listen";
		argv[n++] = "tcp:127.0.0.1:0";
		if (tls_t != NULL) {
			argv[n++] = "--listen";
			argv[n++] = "tls:127.0.0.1:0";
			argv[n++] = "--tls-cert";
			argv[n++] = cert;
			argv[n++] = "--tls-key";
			argv[n++] = tkey;
		}
		argv[n++] = "--authkey-file";
		argv[n++] = keyfile;
		for (int i = 0; i < nextra; i++)
			argv[n++] = extra_args[i];
		argv[n] = NULL;
		execvp(agorad, (char *const *)argv);
		fprintf(stderr, "agora-bench: exec %s: %s\n", agorad,
			strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		struct pollfd p = { fds[0], POLLIN, 0 };
		ssize_t n;

		if (strstr(out, "agorad: listening on tcp:") != NULL &&
		    strstr(out, "agorad: listening on unix:") != NULL &&
		    (tls_t == NULL ||
		     strstr(out, "agorad: listening on tls:") != NULL) &&
		    out[len - 1] == '\n')
			break;
		if (poll(&p, 1, 20000) <= 0)
			die("agorad did not say it listens");
		n = read(fds[0], out + len, sizeof(out) - 1 - len);
		if (n <= 0)
			die("agorad exited before it listened");
		len += (size_t)n;
		out[len] = '\0';
		find_listener(out, "tcp:", tcp_t);
		if (tls_t != NULL)
			find_listener(out, "tls:", tls_t);
	}
	/* agorad prints nothing more on stdout; its log goes to stderr. */
	close(fds[0]);
}

/* VmRSS of @pid in bytes, or -1. */
static long long rss_of(pid_t pid)
{
	char path[64], line[256];
	long long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

/* ---- one client ---------------------------------------------------------- */

static enum op op_of(const char *name)
{
	for (size_t i = 0; i < NOPS; i++)
		if (strcmp(all_ops[i], name) == 0)
			return (enum op)i;
	die("unknown op %s", name);
	return OP_PING;
}

static void *client_setup(const bench_cell *cell, int index, void *ud,
			  char *err, size_t errlen)
{
	const struct target *t = ud;
	struct client *cl = calloc(1, sizeof(*cl));
	char name[64];
	int rc = AGORA_ENOMEM;

	if (cl == NULL)
		goto fail;
	cl->op = op_of(cell->op);
	cl->depth = cell->depth;
	cl->c = agora_client_new();
	if (cl->c == NULL)
		goto fail;
	if (t->ca[0] != '\0')
		agora_client_set_tls(cl->c, t->ca, NULL, NULL);
	rc = agora_client_connect(cl->c, t->address, t->key, t->keylen);
	if (rc < 0)
		goto fail;
	switch (cl->op) {
	case OP_PING:
		break;
	case OP_LIST_APPEND:
		rc = agora_list_open(cl->c, "bench.list", &cl->list);
		if (rc == 0)
			cl->handle = agora_list_handle(cl->list);
		break;
	case OP_DICT_SET:
	case OP_DICT_GET:
		rc = agora_dict_open(cl->c, "bench.dict", &cl->dict);
		if (rc == 0)
			cl->handle = agora_dict_handle(cl->dict);
		break;
	case OP_VALUE_ADD:
		rc = agora_var_open(cl->c, "bench.value", agora_int(0),
				    &cl->var);
		if (rc == 0)
			cl->handle = agora_var_handle(cl->var);
		break;
	case OP_QUEUE:
		rc = agora_queue_open(cl->c, "bench.queue", 0, &cl->queue);
		if (rc == 0)
			cl->handle = agora_queue_handle(cl->queue);
		break;
	case OP_LOCK:
	case OP_LOCK_CONTENDED:
		if (cl->op == OP_LOCK)
			snprintf(name, sizeof(name), "bench.lock.%d", index);
		else
			snprintf(name, sizeof(name), "bench.lock");
		rc = agora_lock_open(cl->c, name, &cl->lock);
		break;
	}
	if (rc < 0)
		goto fail;
	if (cl->depth > 1) {
		cl->pipe = agora_pipeline_new(cl->c);
		rc = AGORA_ENOMEM;
		if (cl->pipe == NULL)
			goto fail;
	}
	return cl;
fail:
	snprintf(err, errlen, "setup: %s: %s", agora_strerror(rc),
		 cl != NULL ? agora_errmsg(cl->c) : "");
	if (cl != NULL)
		agora_client_free(cl->c);
	free(cl);
	return NULL;
}

static int unit_sync(struct client *cl, uint64_t seq)
{
	int64_t i = (int64_t)seq, got;
	int rc = 0;

	switch (cl->op) {
	case OP_PING:
		return agora_ping(cl->c);
	case OP_LIST_APPEND:
		return agora_list_append(cl->list, agora_int(i));
	case OP_DICT_SET:
		return agora_dict_set(cl->dict, agora_int(i % DICT_KEYS),
				      agora_int(i));
	case OP_DICT_GET:
		return agora_dict_get_int(cl->dict, agora_int(i % DICT_KEYS),
					  &got);
	case OP_VALUE_ADD:
		return agora_var_add_int(cl->var, 1, NULL);
	case OP_QUEUE:
		rc = agora_queue_put(cl->queue, agora_int(i), AGORA_FOREVER);
		if (rc == 0)
			rc =
			    agora_queue_get_int(cl->queue, AGORA_FOREVER, &got);
		return rc;
	case OP_LOCK:
	case OP_LOCK_CONTENDED:
		rc = agora_lock_acquire(cl->lock, AGORA_FOREVER, NULL);
		if (rc == 0)
			rc = agora_lock_release(cl->lock);
		return rc;
	}
	return AGORA_EINVAL;
}

/* Queue one op's calls on the pipeline: 1 or 2 calls. */
static int queue_op(struct client *cl, uint64_t seq, int *ncalls)
{
	agora_value a[3];
	int64_t i = (int64_t)seq;
	int rc;

	a[0] = agora_uint(cl->handle);
	*ncalls = 1;
	switch (cl->op) {
	case OP_PING:
		a[0] = agora_int(i);
		return agora_pipeline_call(cl->pipe, "ping", agora_array(a, 1));
	case OP_LIST_APPEND:
		a[1] = agora_int(i);
		return agora_pipeline_call(cl->pipe, "list.append",
					   agora_array(a, 2));
	case OP_DICT_SET:
		a[1] = agora_int(i % DICT_KEYS);
		a[2] = agora_int(i);
		return agora_pipeline_call(cl->pipe, "dict.set",
					   agora_array(a, 3));
	case OP_DICT_GET:
		a[1] = agora_int(i % DICT_KEYS);
		return agora_pipeline_call(cl->pipe, "dict.getitem",
					   agora_array(a, 2));
	case OP_VALUE_ADD:
		a[1] = agora_int(1);
		return agora_pipeline_call(cl->pipe, "value.add",
					   agora_array(a, 2));
	case OP_QUEUE:
		a[1] = agora_int(i);
		rc = agora_pipeline_call(cl->pipe, "queue.put",
					 agora_array(a, 2));
		if (rc < 0)
			return rc;
		*ncalls = 2;
		return agora_pipeline_call(cl->pipe, "queue.get",
					   agora_array(a, 1));
	default:
		return AGORA_EINVAL;
	}
}

static int unit_pipelined(struct client *cl, uint64_t seq)
{
	int calls = 0, n, rc;

	for (int k = 0; k < cl->depth; k++) {
		rc = queue_op(cl, seq * (uint64_t)cl->depth + (uint64_t)k, &n);
		if (rc < 0)
			return rc;
		calls += n;
	}
	for (int k = 0; k < calls; k++) {
		rc = agora_pipeline_result(cl->pipe, NULL);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int client_unit(void *state, uint64_t seq, char *err, size_t errlen)
{
	struct client *cl = state;
	int rc;

	if (cl->depth > 1)
		rc = unit_pipelined(cl, seq);
	else
		rc = unit_sync(cl, seq);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", agora_strerror(rc),
			 agora_errmsg(cl->c));
		return rc;
	}
	return cl->depth;
}

static void client_teardown(void *state)
{
	struct client *cl = state;

	agora_pipeline_free(cl->pipe);
	agora_list_close(cl->list);
	agora_dict_close(cl->dict);
	agora_var_close(cl->var);
	agora_queue_close(cl->queue);
	agora_lock_close(cl->lock);
	agora_client_free(cl->c);
	free(cl);
}

/* ---- the parent's own client --------------------------------------------- */

static agora_client *connect_or_die(const struct target *t)
{
	agora_client *c = agora_client_new();
	int rc;

	if (c == NULL)
		die("out of memory");
	rc = agora_client_connect(c, t->address, t->key, t->keylen);
	if (rc < 0)
		die("cannot connect to %s: %s: %s", t->address,
		    agora_strerror(rc), agora_errmsg(c));
	return c;
}

static void check(agora_client *c, int rc, const char *what)
{
	if (rc < 0)
		die("%s: %s: %s", what, agora_strerror(rc), agora_errmsg(c));
}

/* Fill bench.dict with DICT_KEYS keys, so that dict.get always hits. */
static void prefill(agora_client *c)
{
	agora_dict *d;

	check(c, agora_dict_open(c, "bench.dict", &d), "open bench.dict");
	for (int64_t k = 0; k < DICT_KEYS; k++)
		check(c, agora_dict_set(d, agora_int(k), agora_int(k)),
		      "prefill bench.dict");
	agora_dict_close(d);
}

/* Empty bench.list after a cell, so that memory stays flat. */
static void clear_list(agora_client *c)
{
	agora_list *l;

	check(c, agora_list_open(c, "bench.list", &l), "open bench.list");
	check(c, agora_list_clear(l), "clear bench.list");
	agora_list_close(l);
}

/* ---- memory -------------------------------------------------------------- */

static int64_t stats_memory(agora_client *c)
{
	agora_value st;
	int64_t mem = -1;

	check(c, agora_stats(c, &st), "stats");
	for (size_t i = 0; st.type == AGORA_MAP && i < st.via.map.len; i++) {
		const agora_pair *p = &st.via.map.items[i];

		if (p->key.type == AGORA_STR &&
		    strcmp(p->key.via.str.ptr, "memory") == 0)
			agora_value_to_int(p->val, &mem);
	}
	agora_value_free(&st);
	return mem;
}

static void print_mem(const char *what, long n, long long rss0, long long rss1,
		      int64_t self0, int64_t self1)
{
	double rss = rss0 >= 0 && rss1 >= 0 ? (double)(rss1 - rss0) / n : -1;
	double self =
	    self0 >= 0 && self1 >= 0 ? (double)(self1 - self0) / n : -1;

	fprintf(stderr,
		"agora   %-14s n=%ld  RSS %.1f B/elem  stats %.1f "
		"B/elem\n",
		what, n, rss, self);
	printf("{\"system\":\"agora\",\"mem\":\"%s\",\"n\":%ld,"
	       "\"rss_bytes_per_elem\":%.2f,\"self_bytes_per_elem\":%.2f}\n",
	       what, n, rss, self);
	fflush(stdout);
}

static void measure_memory(agora_client *c, long n)
{
	agora_value *items = calloc(MEM_BATCH, sizeof(*items));
	agora_pair *pairs = calloc(MEM_BATCH, sizeof(*pairs));
	long long rss0, rss1;
	int64_t self0, self1;
	agora_list *l;
	agora_dict *d;

	if (items == NULL || pairs == NULL)
		die("out of memory");
	check(c, agora_list_open(c, "bench.mem.list", &l), "open list");
	rss0 = server_pid > 0 ? rss_of(server_pid) : -1;
	self0 = stats_memory(c);
	for (long i = 0; i < n; i += MEM_BATCH) {
		long k = n - i < MEM_BATCH ? n - i : MEM_BATCH;

		for (long j = 0; j < k; j++)
			items[j] = agora_int(i + j);
		check(c, agora_list_extend(l, items, (size_t)k), "extend");
	}
	rss1 = server_pid > 0 ? rss_of(server_pid) : -1;
	self1 = stats_memory(c);
	print_mem("list.int", n, rss0, rss1, self0, self1);

	check(c, agora_dict_open(c, "bench.mem.dict", &d), "open dict");
	rss0 = rss1;
	self0 = self1;
	for (long i = 0; i < n; i += MEM_BATCH) {
		long k = n - i < MEM_BATCH ? n - i : MEM_BATCH;

		for (long j = 0; j < k; j++) {
			pairs[j].key = agora_int(i + j);
			pairs[j].val = agora_int(i + j);
		}
		check(c, agora_dict_update(d, agora_map(pairs, (size_t)k)),
		      "update");
	}
	rss1 = server_pid > 0 ? rss_of(server_pid) : -1;
	self1 = stats_memory(c);
	print_mem("dict.int_int", n, rss0, rss1, self0, self1);

	agora_list_clear(l);
	agora_dict_clear(d);
	agora_list_close(l);
	agora_dict_close(d);
	agora_drop(c, "bench.mem.list", NULL);
	agora_drop(c, "bench.mem.dict", NULL);
	free(items);
	free(pairs);
}

/* ---- main ---------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: agora-bench [options]\n"
		"  --agorad PATH        agorad to start (default $AGORAD, else "
		"agorad)\n"
		"  --agorad-arg ARG     pass ARG to the agorad it starts "
		"(repeatable)\n"
		"  --system LABEL       the system field of the output "
		"(default agora)\n"
		"  --address ADDR       use a running server instead "
		"(unix:PATH or tcp:HOST:PORT)\n"
		"  --authkey-file FILE  its key (default: "
		"$AGORA_AUTHKEY_FILE or $AGORA_AUTHKEY)\n"
		"  --ops LIST           comma-separated, or all (default):\n"
		"                       ping,list.append,dict.set,dict.get,"
		"value.add,\n"
		"                       queue.put+get,lock.acq+rel,"
		"lock.contended\n"
		"  --clients LIST       client processes (default 1,8,32)\n"
		"  --depth LIST         pipeline depths (default 1,64)\n"
		"  --transport LIST     unix,tcp,tls (default unix,tcp; with "
		"--address its own)\n"
		"  --duration SECONDS   per cell (default 1)\n"
		"  --cpu-server N       pin the agorad it starts to CPU N\n"
		"  --cpu-client N       pin every client process to CPU N\n"
		"  --pin LABEL          the pin field of the JSON lines "
		"(default: derived)\n"
		"  --memory N           measure the storage of N elements "
		"instead\n"
		"  --quiet              no table on stderr\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "agorad", required_argument, NULL, 'a' },
		{ "agorad-arg", required_argument, NULL, 'x' },
		{ "system", required_argument, NULL, 's' },
		{ "address", required_argument, NULL, 'A' },
		{ "authkey-file", required_argument, NULL, 'k' },
		{ "ops", required_argument, NULL, 'o' },
		{ "clients", required_argument, NULL, 'c' },
		{ "depth", required_argument, NULL, 'd' },
		{ "transport", required_argument, NULL, 't' },
		{ "duration", required_argument, NULL, 'D' },
		{ "cpu-server", required_argument, NULL, 'S' },
		{ "cpu-client", required_argument, NULL, 'C' },
		{ "pin", required_argument, NULL, 'p' },
		{ "memory", required_argument, NULL, 'm' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *agorad = getenv("AGORAD"), *address = NULL;
	const char *keyfile = NULL, *ops = "all", *transports = "unix,tcp";
	const char *pin = NULL, *system = "agora";
	int clients[MAX_LIST] = { 1, 8, 32 }, nclients = 3;
	int depths[MAX_LIST] = { 1, 64 }, ndepths = 2;
	int cpu_server = -1, cpu_client = -1, o;
	double duration = 1.0;
	long memory = 0;
	bool quiet = false;
	struct target unix_t = { 0 }, tcp_t = { 0 }, tls_t = { 0 };

	if (agorad == NULL || *agorad == '\0')
		agorad = "agorad";
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a':
			agorad = optarg;
			break;
		case 'A':
			address = optarg;
			break;
		case 'x':
			if (nextra == MAX_AGORAD_ARGS)
				die("--agorad-arg %s: at most %d of them",
				    optarg, MAX_AGORAD_ARGS);
			extra_args[nextra++] = optarg;
			break;
		case 's':
			system = optarg;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'o':
			ops = optarg;
			break;
		case 'c':
			nclients = bench_parse_ints(optarg, clients, MAX_LIST);
			if (nclients < 0)
				die("--clients %s: want a list of counts",
				    optarg);
			break;
		case 'd':
			ndepths = bench_parse_ints(optarg, depths, MAX_LIST);
			if (ndepths < 0)
				die("--depth %s: want a list of depths",
				    optarg);
			break;
		case 't':
			transports = optarg;
			break;
		case 'D':
			duration = strtod(optarg, NULL);
			if (!(duration > 0))
				die("--duration %s: want seconds", optarg);
			break;
		case 'S':
			cpu_server = atoi(optarg);
			break;
		case 'C':
			cpu_client = atoi(optarg);
			break;
		case 'p':
			pin = optarg;
			break;
		case 'm':
			memory = atol(optarg);
			if (memory <= 0)
				die("--memory %s: want a count", optarg);
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (strcmp(ops, "all") != 0) {
		char *copy = strdup(ops), *save = NULL;

		for (char *w = strtok_r(copy, ",", &save); w != NULL;
		     w = strtok_r(NULL, ",", &save))
			op_of(w);
		free(copy);
	}
	if (pin == NULL)
		pin = cpu_server < 0 || cpu_client < 0 ? "none"
		      : cpu_server == cpu_client       ? "same"
						       : "diff";
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	if (address != NULL) {
		const char *env = NULL;
		FILE *f;

		snprintf(unix_t.address, sizeof(unix_t.address), "%s", address);
		if (keyfile == NULL)
			keyfile = getenv("AGORA_AUTHKEY_FILE");
		if (keyfile != NULL && *keyfile != '\0') {
			f = fopen(keyfile, "r");
			if (f == NULL)
				die("cannot open %s: %s", keyfile,
				    strerror(errno));
			unix_t.keylen =
			    fread(unix_t.key, 1, sizeof(unix_t.key) - 1, f);
			fclose(f);
			if (unix_t.keylen > 0 &&
			    unix_t.key[unix_t.keylen - 1] == '\n')
				unix_t.keylen--;
		} else if ((env = getenv("AGORA_AUTHKEY")) != NULL) {
			unix_t.keylen = strlen(env) < sizeof(unix_t.key)
					    ? strlen(env)
					    : sizeof(unix_t.key) - 1;
			memcpy(unix_t.key, env, unix_t.keylen);
		} else {
			die("--address needs --authkey-file or "
			    "AGORA_AUTHKEY_FILE or AGORA_AUTHKEY");
		}
		tcp_t = unix_t;
		tls_t = unix_t;
		transports = strncmp(address, "tcp:", 4) == 0   ? "tcp"
			     : strncmp(address, "tls:", 4) == 0 ? "tls"
								: "unix";
		/* A tls: server's CA comes from AGORA_TLS_CA. */
	} else {
		start_server(agorad, cpu_server, &unix_t, &tcp_t,
			     bench_list_has(transports, "tls") ? &tls_t : NULL);
	}

	agora_client *admin = connect_or_die(&unix_t);
	if (memory > 0) {
		measure_memory(admin, memory);
		agora_client_free(admin);
		stop_server();
		return 0;
	}
	/* Only the dict ops need it (and a cost measured per request,
	 * tests/bench/tls-cost, would count it). */
	if (bench_list_has(ops, "dict.get") || bench_list_has(ops, "dict.set"))
		prefill(admin);

	if (!quiet)
		bench_print_header(stderr);
	int failures = 0;
	const char *tnames[] = { "unix", "tcp", "tls" };
	for (int ti = 0; ti < 3; ti++) {
		struct target *t = ti == 0   ? &unix_t
				   : ti == 1 ? &tcp_t
					     : &tls_t;

		if (!bench_list_has(transports, tnames[ti]))
			continue;
		for (int di = 0; di < ndepths; di++) {
			for (size_t oi = 0; oi < NOPS; oi++) {
				if (!bench_list_has(ops, all_ops[oi]))
					continue;
				for (int ci = 0; ci < nclients; ci++) {
					bench_cell cell = {
						.system = system,
						.op = all_ops[oi],
						.transport = tnames[ti],
						.pin = pin,
						.clients = clients[ci],
						.depth = depths[di],
						.duration = duration,
						.cpu_client = cpu_client,
					};
					bench_worker w = {
						client_setup,
						client_unit,
						client_teardown,
						t,
					};
					bench_result r;

					if (oi == OP_LOCK_CONTENDED &&
					    clients[ci] < 2)
						continue;
					if ((oi == OP_LOCK ||
					     oi == OP_LOCK_CONTENDED) &&
					    depths[di] > 1)
						continue;
					if (bench_run(&cell, &w, &r) < 0) {
						fprintf(stderr,
							"agora-bench: %s %d "
							"clients depth %d: "
							"%s\n",
							cell.op, cell.clients,
							cell.depth, r.err);
						failures++;
						continue;
					}
					if (!quiet)
						bench_print_row(stderr, &cell,
								&r);
					bench_print_json(stdout, &cell, &r);
					if (oi == OP_LIST_APPEND)
						clear_list(admin);
				}
			}
		}
	}
	agora_client_free(admin);
	stop_server();
	return failures > 0 ? 1 : 0;
}
