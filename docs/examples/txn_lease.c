/*
 * txn_lease.c - a transaction: a job moves from a pending queue to a
 * running dict only while its worker still holds its lease.
 *
 * Each worker holds a lease, the lock "lease" taken with
 * agora_lock_acquire_fenced(). To start a job it peeks the head of the
 * queue "pending", then runs one transaction: if the lease is still the
 * acquisition that gave it its token, and the job is still at the head,
 * take it from the queue and record it in the dict "running" (job ->
 * worker). Both happen or neither does.
 *
 * w1 takes the lease and starts job-1. Then its connection drops (the
 * example cuts it with agora_kill()); the server counts the lease
 * abandoned and w2 takes it. w1's client reconnects at its next call
 * without w1 noticing, and w1 tries to start job-2 with its old token:
 * the transaction is refused and nothing moves. w2 starts job-2.
 *
 * Exits 0 when running is {job-1: w1, job-2: w2} and job-3 is still
 * pending.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <agora.h>
#include <agora_server.h> /* agora_manager_*: libagora-server */

/*
 * Start the job at the head of @pending: move it to @running (job ->
 * @worker) if the lease @lease is still the acquisition that gave @token
 * and the job is still at the head. 1 when moved, 0 when not (the lease
 * was lost, another worker took the job first, or no job is pending), -1
 * on error.
 */
static int start_job(agora_client *c, agora_queue *pending, agora_dict *running,
		     agora_lock *lease, uint64_t token, const char *worker)
{
	agora_value head, q = agora_uint(agora_queue_handle(pending));
	agora_value get[2] = { q, agora_bool(false) };
	agora_value set[3];
	agora_txn *t;
	bool moved = false;
	int rc;

	if (agora_queue_peek(pending, 1, &head) < 0)
		return -1;
	if (head.via.array.len == 0) {
		agora_value_free(&head);
		return 0;
	}
	set[0] = agora_uint(agora_dict_handle(running));
	set[1] = head.via.array.items[0]; /* the job */
	set[2] = agora_str(worker);

	t = agora_txn_new(c);
	agora_txn_if_fence(t, agora_lock_handle(lease), token);
	agora_txn_if(t, "eq", "queue.peek", agora_array(&q, 1), head);
	agora_txn_then(t, "queue.get", agora_array(get, 2));
	agora_txn_then(t, "dict.set", agora_array(set, 3));
	rc = agora_txn_run(t, &moved);
	agora_txn_free(t);
	agora_value_free(&head);
	return rc < 0 ? -1 : moved;
}

/* The number of @c's connection, from `clients`, or 0. */
static uint64_t connection_of(agora_client *c)
{
	agora_value all;
	const agora_value *self, *id;
	uint64_t n = 0;

	if (agora_clients(c, &all) < 0)
		return 0;
	for (size_t i = 0; i < all.via.array.len; i++) {
		self = agora_map_get(&all.via.array.items[i], "self");
		id = agora_map_get(&all.via.array.items[i], "id");
		if (self && self->type == AGORA_BOOL && self->via.b && id)
			n = id->type == AGORA_UINT ? id->via.u
						   : (uint64_t)id->via.i;
	}
	agora_value_free(&all);
	return n;
}

/* A worker's client, with its proxies: it reconnects when its connection
 * drops (for up to 10 s), as a long-running worker would. */
struct worker {
	const char *name;
	agora_client *c;
	agora_queue *pending;
	agora_dict *running;
	agora_lock *lease;
	uint64_t token;
};

static int worker_start(struct worker *w, const char *name)
{
	bool got = false;

	w->name = name;
	w->c = agora_client_new();
	if (w->c == NULL || agora_client_connect_env(w->c) < 0 ||
	    agora_client_set_reconnect(w->c, 10, NULL, NULL) < 0 ||
	    agora_queue_open(w->c, "pending", 0, &w->pending) < 0 ||
	    agora_dict_open(w->c, "running", &w->running) < 0 ||
	    agora_lock_open(w->c, "lease", &w->lease) < 0 ||
	    agora_lock_acquire_fenced(w->lease, 10, &got, &w->token) < 0 ||
	    !got) {
		fprintf(stderr, "%s: no lease: %s\n", name,
			w->c ? agora_errmsg(w->c) : "out of memory");
		return -1;
	}
	printf("%s: lease taken, token %" PRIu64 "\n", name, w->token);
	return 0;
}

/* One job for @w: start_job(), saying what happened. */
static int worker_job(struct worker *w)
{
	int rc = start_job(w->c, w->pending, w->running, w->lease, w->token,
			   w->name);

	if (rc < 0)
		fprintf(stderr, "%s: %s\n", w->name, agora_errmsg(w->c));
	else
		printf("%s: %s\n", w->name,
		       rc ? "started the job at the head"
			  : "refused: the lease is no longer mine");
	return rc;
}

static void worker_stop(struct worker *w)
{
	agora_queue_close(w->pending);
	agora_dict_close(w->running);
	agora_lock_close(w->lease);
	agora_client_free(w->c);
}

/* Whether the map @m holds the str @val under the str @key. */
static bool holds(const agora_value *m, const char *key, const char *val)
{
	const agora_value *v = agora_map_get(m, key);

	return v != NULL && agora_value_equal(*v, agora_str(val));
}

int main(void)
{
	struct worker w1, w2;
	agora_manager *m;
	agora_client *c;
	agora_queue *pending;
	agora_dict *running;
	agora_value jobs, who;
	char err[256], buf[128];
	bool killed = false;
	int bad = 0;

	if (agora_manager_start(&m, err, sizeof(err)) < 0) {
		fprintf(stderr, "manager: %s\n", err);
		return 1;
	}
	c = agora_manager_client(m);
	agora_client_set_sticky(c, true);
	agora_queue_open(c, "pending", 0, &pending);
	agora_dict_open(c, "running", &running);
	agora_queue_put(pending, agora_str("job-1"), 0);
	agora_queue_put(pending, agora_str("job-2"), 0);
	agora_queue_put(pending, agora_str("job-3"), 0);

	if (worker_start(&w1, "w1") < 0 || worker_job(&w1) != 1)
		return 1;
	/* w1's connection drops: the server ends it, its lease with it. */
	agora_kill(c, connection_of(w1.c), &killed);
	if (!killed || worker_start(&w2, "w2") < 0)
		return 1;
	/* w1 does not know: its client reconnects, its token is stale. */
	if (worker_job(&w1) != 0 || worker_job(&w2) != 1)
		bad = 1;

	agora_dict_copy(running, &who);
	agora_queue_peek(pending, 10, &jobs);
	agora_value_format(who, buf, sizeof(buf));
	printf("running: %s\n", buf);
	agora_value_format(jobs, buf, sizeof(buf));
	printf("pending: %s\n", buf);
	if (agora_client_error(c) < 0) {
		fprintf(stderr, "txn_lease: %s\n", agora_errmsg(c));
		return 1;
	}
	if (who.via.map.len != 2 || jobs.via.array.len != 1 ||
	    !holds(&who, "job-1", "w1") || !holds(&who, "job-2", "w2"))
		bad = 1;
	agora_value_free(&who);
	agora_value_free(&jobs);
	worker_stop(&w1);
	worker_stop(&w2);
	agora_queue_close(pending);
	agora_dict_close(running);
	return agora_manager_shutdown(m) < 0 || bad;
}
