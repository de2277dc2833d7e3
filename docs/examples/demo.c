/*
 * demo.c - worker processes sharing a dict, a list and a queue through
 * agorad: the C version of this Python program.
 *
 *     def worker(d, l, q):
 *         d[os.getpid()] = os.getppid()
 *         l.append(os.getpid())
 *         while (n := q.get()) is not None:
 *             d[f"job:{n}"] = n * n
 *
 *     with Manager() as m:
 *         d, l, q = m.dict(), m.list(), m.Queue()
 *         for n in range(1, 21): q.put(n)
 *         for _ in range(10): q.put(None)
 *         ps = [Process(target=worker, args=(d, l, q)) for _ in range(10)]
 *         for p in ps: p.start()
 *         for p in ps: p.join()
 *         print(d, l)
 *
 * The parent and each worker connect from the environment (AGORA_ADDRESS,
 * AGORA_AUTHKEY_FILE or AGORA_AUTHKEY), as scripts/demo.sh sets it. The
 * objects are named, so every process that opens "demo.jobs" gets the same
 * queue. Exits 0 when every worker and every job left its mark, else 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <agora.h>

#define NWORKERS 10
#define NJOBS 20

/* Report a failed call and exit: every return code is checked. */
#define CHECK(c, call)                         \
	do {                                   \
		int rc_ = (call);              \
		if (rc_ < 0)                   \
			fail((c), #call, rc_); \
	} while (0)

static void fail(const agora_client *c, const char *what, int rc)
{
	fprintf(stderr, "demo[%d]: %s: %s: %s\n", (int)getpid(), what,
		agora_strerror(rc), c ? agora_errmsg(c) : "");
	exit(1);
}

static agora_client *connect_env(void)
{
	agora_client *c = agora_client_new();
	if (!c)
		fail(NULL, "agora_client_new", AGORA_ENOMEM);
	CHECK(c, agora_client_connect_env(c));
	return c;
}

static agora_value job_key(char *buf, size_t len, int64_t n)
{
	snprintf(buf, len, "job:%lld", (long long)n);
	return agora_str(buf);
}

/* A worker: its own connection, d[pid] = ppid, l.append(pid), then square
 * jobs until the nil sentinel. */
static int worker(void)
{
	agora_client *c = connect_env();
	agora_dict *d;
	agora_list *l;
	agora_queue *q;
	char key[32];

	CHECK(c, agora_dict_open(c, "demo.results", &d));
	CHECK(c, agora_list_open(c, "demo.pids", &l));
	CHECK(c, agora_queue_open(c, "demo.jobs", 0, &q));

	CHECK(c, agora_dict_set(d, agora_int(getpid()), agora_int(getppid())));
	CHECK(c, agora_list_append(l, agora_int(getpid())));
	for (;;) {
		agora_value job;
		int64_t n;

		CHECK(c, agora_queue_get(q, AGORA_FOREVER, &job));
		if (job.type == AGORA_NIL)
			break;
		CHECK(c, agora_value_to_int(job, &n));
		agora_value_free(&job);
		CHECK(c, agora_dict_set(d, job_key(key, sizeof(key), n),
					agora_int(n * n)));
	}

	CHECK(c, agora_queue_close(q));
	CHECK(c, agora_list_close(l));
	CHECK(c, agora_dict_close(d));
	agora_client_free(c);
	return 0;
}

/* @v as text (agora_value_format), malloc'ed, whatever its length. */
static char *format(agora_value v)
{
	size_t len = agora_value_format(v, NULL, 0) + 1;
	char *buf = malloc(len);

	if (!buf)
		fail(NULL, "malloc", AGORA_ENOMEM);
	agora_value_format(v, buf, len);
	return buf;
}

int main(void)
{
	agora_client *c = connect_env();
	agora_dict *d;
	agora_list *l;
	agora_queue *q;
	agora_value v;
	pid_t pids[NWORKERS];
	size_t len;
	int rc, bad = 0;
	char key[32], *text;

	printf("connected to %s\n", agora_server_version(c));
	CHECK(c, agora_dict_open(c, "demo.results", &d));
	CHECK(c, agora_list_open(c, "demo.pids", &l));
	CHECK(c, agora_queue_open(c, "demo.jobs", 0, &q));

	/* Start clean, even after a run that failed half-way. */
	CHECK(c, agora_dict_clear(d));
	CHECK(c, agora_list_clear(l));
	while ((rc = agora_queue_get_nowait(q, &v)) == 0)
		agora_value_free(&v);
	if (rc != AGORA_EEMPTY)
		fail(c, "agora_queue_get_nowait", rc);

	for (int n = 1; n <= NJOBS; n++)
		CHECK(c, agora_queue_put(q, agora_int(n), AGORA_FOREVER));
	for (int i = 0; i < NWORKERS; i++)
		CHECK(c, agora_queue_put(q, agora_nil(), AGORA_FOREVER));

	fflush(stdout);
	for (int i = 0; i < NWORKERS; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("demo: fork");
			return 1;
		}
		if (pids[i] == 0)
			exit(worker());
	}
	for (int i = 0; i < NWORKERS; i++) {
		int status;

		if (waitpid(pids[i], &status, 0) < 0) {
			perror("demo: waitpid");
			return 1;
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "demo: worker %d failed\n",
				(int)pids[i]);
			bad = 1;
		}
	}

	CHECK(c, agora_list_copy(l, &v));
	text = format(v);
	printf("demo.pids = %s\n", text);
	free(text);
	agora_value_free(&v);

	CHECK(c, agora_dict_copy(d, &v));
	printf("demo.results = {\n");
	for (size_t i = 0; i < v.via.map.len; i++) {
		char *k = format(v.via.map.items[i].key);
		char *x = format(v.via.map.items[i].val);

		printf("    %s: %s,\n", k, x);
		free(k);
		free(x);
	}
	printf("}\n");
	agora_value_free(&v);

	/* Every worker wrote d[pid] = our pid and appended its pid once. */
	CHECK(c, agora_list_len(l, &len));
	if (len != NWORKERS) {
		fprintf(stderr, "demo: %zu pids in the list, not %d\n", len,
			NWORKERS);
		bad = 1;
	}
	for (int i = 0; i < NWORKERS; i++) {
		int64_t ppid, count;

		CHECK(c, agora_dict_get_int(d, agora_int(pids[i]), &ppid));
		CHECK(c, agora_list_count(l, agora_int(pids[i]), &count));
		if (ppid != getpid() || count != 1) {
			fprintf(stderr, "demo: worker %d left a wrong mark\n",
				(int)pids[i]);
			bad = 1;
		}
	}
	/* Every job was squared, under its own key. */
	for (int n = 1; n <= NJOBS; n++) {
		int64_t square;

		CHECK(c, agora_dict_get_int(d, job_key(key, sizeof(key), n),
					    &square));
		if (square != (int64_t)n * n) {
			fprintf(stderr, "demo: job %d gave %lld\n", n,
				(long long)square);
			bad = 1;
		}
	}
	CHECK(c, agora_dict_len(d, &len));
	if (len != NWORKERS + NJOBS) {
		fprintf(stderr, "demo: %zu keys in the dict, not %d\n", len,
			NWORKERS + NJOBS);
		bad = 1;
	}

	CHECK(c, agora_queue_close(q));
	CHECK(c, agora_list_close(l));
	CHECK(c, agora_dict_close(d));
	agora_client_free(c);
	if (!bad)
		printf("ok: %d workers shared a dict, a list and a queue; "
		       "%d jobs done\n",
		       NWORKERS, NJOBS);
	return bad;
}
