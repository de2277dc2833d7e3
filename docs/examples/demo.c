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
 * queue. Each client is in sticky mode: after its first error its calls
 * do nothing, and a check at the end reports it. Exits 0 when every worker
 * and every job left its mark, else 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <agora.h>

#define NWORKERS 10
#define NJOBS 20

static agora_value job_key(char *buf, size_t len, int64_t n)
{
	snprintf(buf, len, "job:%lld", (long long)n);
	return agora_str(buf);
}

/* A worker: its own connection, d[pid] = ppid, l.append(pid), then square
 * jobs until the nil sentinel. */
static int worker(void)
{
	agora_client *c = agora_client_new();
	agora_dict *d;
	agora_list *l;
	agora_queue *q;
	agora_value job;
	int64_t n = 0;
	char key[32];
	int rc;

	agora_client_set_sticky(c, true);
	agora_client_connect_env(c);
	agora_dict_open(c, "demo.results", &d);
	agora_list_open(c, "demo.pids", &l);
	agora_queue_open(c, "demo.jobs", 0, &q);

	agora_dict_set(d, agora_int(getpid()), agora_int(getppid()));
	agora_list_append(l, agora_int(getpid()));
	while (agora_queue_get(q, AGORA_FOREVER, &job) == 0 &&
	       job.type != AGORA_NIL) {
		agora_value_to_int(job, &n);
		agora_value_free(&job);
		agora_dict_set(d, job_key(key, sizeof(key), n),
			       agora_int(n * n));
	}

	agora_queue_close(q);
	agora_list_close(l);
	agora_dict_close(d);
	rc = agora_client_error(c);
	if (rc < 0)
		fprintf(stderr, "demo[%d]: %s\n", (int)getpid(),
			agora_errmsg(c));
	agora_client_free(c);
	return rc < 0;
}

/* @v as text (agora_value_format), malloc'ed, whatever its length. */
static char *format(agora_value v)
{
	size_t len = agora_value_format(v, NULL, 0) + 1;
	char *buf = malloc(len);

	if (!buf) {
		perror("demo");
		exit(1);
	}
	agora_value_format(v, buf, len);
	return buf;
}

int main(void)
{
	agora_client *c = agora_client_new();
	agora_dict *d;
	agora_list *l;
	agora_queue *q;
	agora_value v = { 0 };
	pid_t pids[NWORKERS];
	size_t len = 0;
	int bad = 0;
	char key[32], *text;

	agora_client_set_sticky(c, true);
	agora_client_connect_env(c);
	agora_dict_open(c, "demo.results", &d);
	agora_list_open(c, "demo.pids", &l);
	agora_queue_open(c, "demo.jobs", 0, &q);

	/* Start clean, even after a run that failed half-way. */
	agora_dict_clear(d);
	agora_list_clear(l);
	while (agora_queue_get_nowait(q, &v) == 0) /* until EMPTY */
		agora_value_free(&v);

	for (int n = 1; n <= NJOBS; n++)
		agora_queue_put(q, agora_int(n), AGORA_FOREVER);
	for (int i = 0; i < NWORKERS; i++)
		agora_queue_put(q, agora_nil(), AGORA_FOREVER);
	/* Workers would wait for jobs that never came: check before. */
	if (agora_client_error(c) < 0) {
		fprintf(stderr, "demo: %s\n", agora_errmsg(c));
		return 1;
	}
	printf("connected to %s\n", agora_server_version(c));

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

	agora_list_copy(l, &v);
	text = format(v);
	printf("demo.pids = %s\n", text);
	free(text);
	agora_value_free(&v);

	agora_dict_copy(d, &v);
	printf("demo.results = {\n");
	for (size_t i = 0; v.type == AGORA_MAP && i < v.via.map.len; i++) {
		char *k = format(v.via.map.items[i].key);
		char *x = format(v.via.map.items[i].val);

		printf("    %s: %s,\n", k, x);
		free(k);
		free(x);
	}
	printf("}\n");
	agora_value_free(&v);

	/* Every worker wrote d[pid] = our pid and appended its pid once. */
	agora_list_len(l, &len);
	if (len != NWORKERS) {
		fprintf(stderr, "demo: %zu pids in the list, not %d\n", len,
			NWORKERS);
		bad = 1;
	}
	for (int i = 0; i < NWORKERS; i++) {
		int64_t ppid = 0, count = 0;

		agora_dict_get_int(d, agora_int(pids[i]), &ppid);
		agora_list_count(l, agora_int(pids[i]), &count);
		if (ppid != getpid() || count != 1) {
			fprintf(stderr, "demo: worker %d left a wrong mark\n",
				(int)pids[i]);
			bad = 1;
		}
	}
	/* Every job was squared, under its own key. */
	for (int n = 1; n <= NJOBS; n++) {
		int64_t square = 0;

		agora_dict_get_int(d, job_key(key, sizeof(key), n), &square);
		if (square != (int64_t)n * n) {
			fprintf(stderr, "demo: job %d gave %lld\n", n,
				(long long)square);
			bad = 1;
		}
	}
	agora_dict_len(d, &len);
	if (len != NWORKERS + NJOBS) {
		fprintf(stderr, "demo: %zu keys in the dict, not %d\n", len,
			NWORKERS + NJOBS);
		bad = 1;
	}

	agora_queue_close(q);
	agora_list_close(l);
	agora_dict_close(d);
	if (agora_client_error(c) < 0) {
		fprintf(stderr, "demo: %s\n", agora_errmsg(c));
		bad = 1;
	}
	agora_client_free(c);
	if (!bad)
		printf("ok: %d workers shared a dict, a list and a queue; "
		       "%d jobs done\n",
		       NWORKERS, NJOBS);
	return bad;
}
