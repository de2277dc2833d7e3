/*
 * soak.c - the fault-injection soak: 8 worker processes do random
 * operations on shared named objects against a real agorad for a bounded
 * time while a killer SIGKILLs a random worker every half second and starts
 * another in its place. Then it checks the server and prints its figures.
 *
 *     soak [--seconds N] [--kill-every SECONDS] [--agorad PATH]
 *
 * The workers (work.c): queue puts of unique ids and gets that count each
 * delivery in a dict (a count of 2 is a duplicate); the same with take and
 * ack on a second queue (a worker killed before its ack gives the id back,
 * to be done again); a lock-protected section and an rlock one (acquired
 * twice) whose mutual exclusion is checked with a mark; an owned semaphore
 * of 3 permits whose holders take one of 3 slots (a 4th holder would find
 * none) and whose value stays in 0..2 while a permit is held; dict
 * increments; list appends.
 *
 * At the end: the server answers; connections and parked waiters are back
 * to the baseline; no lock or rlock is held and the semaphore has all its
 * permits; every section found held by a killed worker is matched by one
 * the server counted abandoned; no queue item was delivered twice, and the
 * ids delivered or left number no more than those put; in the queue taken
 * with acknowledgement (take, record the work, ack) nothing is pending, no
 * id was lost (each is done or left) and none acknowledged twice; the
 * server's stats memory grew less than MEMORY_BOUND and its RSS less than
 * RSS_BOUND, and dropping the objects gives all their memory back. Prints one
 * line of text and one of JSON; exits 1 on any violation or error.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "soak.h"

#define MIB (1024 * 1024)
/* The stated bounds on the server's growth over a run. The ids recorded in
 * "soak-seen" are most of what a run legitimately keeps (some 50 bytes an
 * id); the rest is bounded by the list trimming and the fixed objects. */
#define MEMORY_BOUND (64L * MIB)
#define RSS_BOUND_KIB (64L * 1024)
#define SETTLE_TIMEOUT 10.0
#define WORKER_END_TIMEOUT 30.0

typedef struct run {
	sk_shared *sh;
	sk_server srv;
	agora_client *c;
	pid_t pids[SK_WORKERS];
	unsigned gen[SK_WORKERS];
	unsigned kills;
	unsigned respawns;
	double seconds, kill_every, elapsed;
	int64_t conns0, mem0, mem_end, mem_dropped;
	long rss0, rss_peak, rss_end;
	int64_t delivered, left, lock_abandoned, rlock_abandoned;
	/* The queue taken with acknowledgement: ids done, ids left in it
	 * not done, its redelivered count. */
	int64_t adone, aleft, aredelivered;
} run;

static void spawn(run *r, int slot)
{
	r->pids[slot] = sk_worker_spawn(r->sh, slot, r->gen[slot]++);
	if (r->pids[slot] < 0) {
		sk_error(r->sh, "fork: %s", strerror(errno));
		r->pids[slot] = 0;
	}
}

/* A worker that ended on its own before the deadline failed (it counted
 * why) unless it exited 0 at the deadline. */
static void check_exit(run *r, int slot, int status)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	if (WIFEXITED(status))
		sk_error(r->sh, "worker slot %d exited %d", slot,
			 WEXITSTATUS(status));
	else
		sk_error(r->sh, "worker slot %d died of signal %d", slot,
			 WIFSIGNALED(status) ? WTERMSIG(status) : -1);
}

static void sample_rss(run *r)
{
	long kib = sk_rss_kib(r->srv.pid);
	if (kib > r->rss_peak)
		r->rss_peak = kib;
}

/* Every kill_every seconds until the deadline: reap workers that ended,
 * then SIGKILL a random one and start another in its slot. */
static void killer(run *r)
{
	unsigned rng = (unsigned)getpid();
	double next = sk_now() + r->kill_every;

	while (sk_now() < r->sh->deadline) {
		sk_sleep(next - sk_now());
		next += r->kill_every;
		sample_rss(r);
		for (int i = 0; i < SK_WORKERS; i++) {
			int status;
			if (r->pids[i] > 0 && waitpid(r->pids[i], &status,
						      WNOHANG) == r->pids[i]) {
				check_exit(r, i, status);
				r->pids[i] = 0;
			}
			if (r->pids[i] == 0 && sk_now() < r->sh->deadline)
				spawn(r, i);
		}
		if (sk_now() >= r->sh->deadline)
			break;
		int slot = (int)(rand_r(&rng) % SK_WORKERS);
		pid_t pid = r->pids[slot];
		if (pid <= 0)
			continue;
		int status = 0;
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
			r->kills++;
		else
			check_exit(r, slot, status);
		r->pids[slot] = 0;
		spawn(r, slot);
		r->respawns++;
	}
}

static void wait_workers(run *r)
{
	double deadline = sk_now() + WORKER_END_TIMEOUT;

	for (int i = 0; i < SK_WORKERS; i++) {
		int status = 0;
		pid_t got;
		if (r->pids[i] <= 0)
			continue;
		while ((got = waitpid(r->pids[i], &status, WNOHANG)) == 0 &&
		       sk_now() < deadline)
			sk_sleep(0.005);
		if (got != r->pids[i]) {
			sk_error(r->sh,
				 "worker slot %d did not end within %.0f s "
				 "of the deadline",
				 i, WORKER_END_TIMEOUT);
			kill(r->pids[i], SIGKILL);
			waitpid(r->pids[i], &status, 0);
		} else {
			check_exit(r, i, status);
		}
		r->pids[i] = 0;
	}
}

/* Wait (bounded) until stats @field is @want; a violation otherwise. */
static void settle(run *r, const char *field, int64_t want)
{
	double deadline = sk_now() + SETTLE_TIMEOUT;
	int64_t got;

	while ((got = sk_stats_int(r->c, field)) != want && sk_now() < deadline)
		sk_sleep(0.005);
	if (got != want)
		sk_violation(r->sh, "stats %s is %lld after the run, not %lld",
			     field, (long long)got, (long long)want);
}

static int64_t info_int(agora_value info, const char *field)
{
	const agora_value *v = sk_map_find(info, field);
	int64_t x = -1;
	if (v != NULL)
		agora_value_to_int(*v, &x);
	return x;
}

/* A lock or rlock must be free, with no owner, after the run. Returns its
 * count of abandoned holds. */
static int64_t check_free(run *r, uint32_t handle, const char *what)
{
	agora_value info;
	int64_t abandoned = -1;

	if (agora_info(r->c, handle, &info) != 0) {
		sk_error(r->sh, "info on the %s: %s", what, agora_errmsg(r->c));
		return -1;
	}
	const agora_value *owner = sk_map_find(info, "owner");
	if (owner == NULL || owner->type != AGORA_NIL) {
		char buf[128] = "missing";
		if (owner)
			agora_value_format(*owner, buf, sizeof(buf));
		sk_violation(r->sh, "the %s is held after the run (owner %s)",
			     what, buf);
	}
	abandoned = info_int(info, "abandoned");
	agora_value_free(&info);
	return abandoned;
}

static void check_queue(run *r)
{
	agora_queue *q;
	agora_dict *seen;
	size_t n = 0;
	int64_t id;
	int rc;

	if (agora_queue_open(r->c, SK_QUEUE, 0, &q) != 0 ||
	    agora_dict_open(r->c, SK_SEEN, &seen) != 0) {
		sk_error(r->sh, "opening the queue: %s", agora_errmsg(r->c));
		return;
	}
	if (agora_dict_len(seen, &n) != 0)
		sk_error(r->sh, "len of %s: %s", SK_SEEN, agora_errmsg(r->c));
	r->delivered = (int64_t)n;
	/* What is left was never delivered: none of it may be in "seen". */
	while ((rc = agora_queue_get_int(q, 0, &id)) == 0) {
		bool dup = false;
		r->left++;
		if (agora_dict_contains(seen, agora_int(id), &dup) != 0)
			sk_error(r->sh, "contains: %s", agora_errmsg(r->c));
		if (dup) {
			atomic_fetch_add(&r->sh->duplicates, 1);
			sk_violation(r->sh,
				     "queue: id %#llx left in the queue after "
				     "it was delivered",
				     (unsigned long long)id);
		}
	}
	if (rc != AGORA_EEMPTY)
		sk_error(r->sh, "draining the queue: %s", agora_errmsg(r->c));
	/* Each kill may lose one put that was stored but not counted. */
	uint64_t puts = atomic_load(&r->sh->ops[SK_PUT]);
	if ((uint64_t)(r->delivered + r->left) > puts + r->kills)
		sk_violation(r->sh,
			     "queue: %lld ids delivered and %lld left, but "
			     "only %llu put (+%u killed)",
			     (long long)r->delivered, (long long)r->left,
			     (unsigned long long)puts, r->kills);
	agora_dict_close(seen);
	agora_queue_close(q);
}

/*
 * The queue taken with acknowledgement, once every worker is gone: nothing
 * is pending (what killed workers held went back), and no id was lost:
 * every id put is either done (recorded before its ack) or still in the
 * queue, so done + left-and-not-done is at least the puts counted (and at
 * most one more per kill: a put stored but not counted).
 */
static void check_acked_queue(run *r)
{
	agora_queue *q;
	agora_dict *done;
	agora_value pending, info;
	size_t n = 0;
	int64_t id;
	int rc;

	if (agora_queue_open(r->c, SK_AQUEUE, 0, &q) != 0 ||
	    agora_dict_open(r->c, SK_ADONE, &done) != 0) {
		sk_error(r->sh, "opening the acked queue: %s",
			 agora_errmsg(r->c));
		return;
	}
	if (agora_queue_pending(q, &pending) != 0)
		sk_error(r->sh, "pending: %s", agora_errmsg(r->c));
	else if (pending.via.array.len != 0)
		sk_violation(r->sh,
			     "acked queue: %zu items still pending after "
			     "every worker is gone",
			     pending.via.array.len);
	agora_value_free(&pending);
	if (agora_info(r->c, agora_queue_handle(q), &info) == 0) {
		const agora_value *v = sk_map_find(info, "redelivered");
		if (v != NULL)
			agora_value_to_int(*v, &r->aredelivered);
		agora_value_free(&info);
	}
	if (agora_dict_len(done, &n) != 0)
		sk_error(r->sh, "len of %s: %s", SK_ADONE, agora_errmsg(r->c));
	r->adone = (int64_t)n;
	while ((rc = agora_queue_get_int(q, 0, &id)) == 0) {
		bool was_done = false;
		if (agora_dict_contains(done, agora_int(id), &was_done) != 0)
			sk_error(r->sh, "contains: %s", agora_errmsg(r->c));
		r->aleft += !was_done;
	}
	if (rc != AGORA_EEMPTY)
		sk_error(r->sh, "draining the acked queue: %s",
			 agora_errmsg(r->c));
	uint64_t puts = atomic_load(&r->sh->ops[SK_APUT]);
	if ((uint64_t)(r->adone + r->aleft) < puts)
		sk_violation(r->sh,
			     "acked queue: %llu ids put, but only %lld done "
			     "and %lld left: %lld lost",
			     (unsigned long long)puts, (long long)r->adone,
			     (long long)r->aleft,
			     (long long)puts - r->adone - r->aleft);
	if ((uint64_t)(r->adone + r->aleft) > puts + r->kills)
		sk_violation(r->sh,
			     "acked queue: %lld ids done and %lld left, but "
			     "only %llu put (+%u killed)",
			     (long long)r->adone, (long long)r->aleft,
			     (unsigned long long)puts, r->kills);
	agora_dict_close(done);
	agora_queue_close(q);
}

static void final_checks(run *r)
{
	sk_shared *sh = r->sh;
	agora_lock *l;
	agora_rlock *rl;
	agora_semaphore *sem;
	int64_t value = -1;

	if (agora_ping(r->c) != 0) {
		sk_violation(sh, "the server does not answer: %s",
			     agora_errmsg(r->c));
		return;
	}
	settle(r, "connections", r->conns0);
	settle(r, "waiters", 0);

	if (agora_lock_open(r->c, SK_LOCK_NAME, &l) != 0 ||
	    agora_rlock_open(r->c, SK_RLOCK_NAME, &rl) != 0 ||
	    agora_semaphore_open(r->c, SK_SEM_NAME, SK_PERMITS, true, &sem) !=
		0) {
		sk_error(sh, "opening the locks: %s", agora_errmsg(r->c));
		return;
	}
	r->lock_abandoned = check_free(r, agora_lock_handle(l), "lock");
	r->rlock_abandoned = check_free(r, agora_rlock_handle(rl), "rlock");
	if (agora_semaphore_value(sem, &value) != 0 || value != SK_PERMITS)
		sk_violation(sh,
			     "the semaphore has %lld of its %d permits "
			     "after the run",
			     (long long)value, SK_PERMITS);
	/* A takeover is a holder killed inside its section: the server must
	 * have counted at least as many abandoned holds. */
	if ((int64_t)atomic_load(&sh->lock_takeovers) > r->lock_abandoned)
		sk_violation(
		    sh, "lock: %llu takeovers but %lld abandoned",
		    (unsigned long long)atomic_load(&sh->lock_takeovers),
		    (long long)r->lock_abandoned);
	if ((int64_t)atomic_load(&sh->rlock_takeovers) > r->rlock_abandoned)
		sk_violation(
		    sh, "rlock: %llu takeovers but %lld abandoned",
		    (unsigned long long)atomic_load(&sh->rlock_takeovers),
		    (long long)r->rlock_abandoned);
	agora_semaphore_close(sem);
	agora_rlock_close(rl);
	agora_lock_close(l);

	check_queue(r);
	check_acked_queue(r);

	r->mem_end = sk_stats_int(r->c, "memory");
	r->rss_end = sk_rss_kib(r->srv.pid);
	sample_rss(r);
	if (r->mem_end - r->mem0 >= MEMORY_BOUND)
		sk_violation(sh, "stats memory grew by %lld bytes (bound %ld)",
			     (long long)(r->mem_end - r->mem0), MEMORY_BOUND);
	if (r->rss_peak - r->rss0 >= RSS_BOUND_KIB)
		sk_violation(sh, "agorad RSS grew by %ld KiB (bound %ld)",
			     r->rss_peak - r->rss0, RSS_BOUND_KIB);
	sk_objects_drop(r->c);
	r->mem_dropped = sk_stats_int(r->c, "memory");
	if (r->mem_dropped != r->mem0)
		sk_violation(sh,
			     "stats memory is %lld after dropping every "
			     "object, %lld before the run",
			     (long long)r->mem_dropped, (long long)r->mem0);
}

static void report(const run *r)
{
	const sk_shared *sh = r->sh;
	uint64_t ops = sk_total_ops(sh);

	printf("soak: %.1f s, %d workers, %llu operations (%.0f/s), %u kills, "
	       "%llu violations, %llu errors, %llu duplicates; queue %llu "
	       "put, %lld delivered, %lld left; takeovers lock %llu (%lld "
	       "abandoned), rlock %llu (%lld), semaphore %llu; stats memory "
	       "%lld -> %lld bytes (%lld after drop); agorad RSS %ld -> %ld "
	       "KiB (peak %ld)\n",
	       r->elapsed, SK_WORKERS, (unsigned long long)ops,
	       (double)ops / r->elapsed, r->kills,
	       (unsigned long long)sh->violations,
	       (unsigned long long)sh->errors,
	       (unsigned long long)sh->duplicates,
	       (unsigned long long)sh->ops[SK_PUT], (long long)r->delivered,
	       (long long)r->left, (unsigned long long)sh->lock_takeovers,
	       (long long)r->lock_abandoned,
	       (unsigned long long)sh->rlock_takeovers,
	       (long long)r->rlock_abandoned,
	       (unsigned long long)sh->sem_takeovers, (long long)r->mem0,
	       (long long)r->mem_end, (long long)r->mem_dropped, r->rss0,
	       r->rss_end, r->rss_peak);
	printf("{\"test\":\"soak\",\"seconds\":%.1f,\"workers\":%d,"
	       "\"operations\":%llu,\"ops_per_second\":%.0f,\"kills\":%u,"
	       "\"violations\":%llu,\"errors\":%llu,\"duplicates\":%llu,"
	       "\"puts\":%llu,\"gets\":%llu,\"empty_gets\":%llu,"
	       "\"lock_sections\":%llu,\"rlock_sections\":%llu,"
	       "\"semaphore_sections\":%llu,\"increments\":%llu,"
	       "\"appends\":%llu,\"delivered\":%lld,\"left\":%lld,"
	       "\"lock_takeovers\":%llu,\"lock_abandoned\":%lld,"
	       "\"rlock_takeovers\":%llu,\"rlock_abandoned\":%lld,"
	       "\"semaphore_takeovers\":%llu,\"acquire_timeouts\":%llu,"
	       "\"memory_start\":%lld,\"memory_end\":%lld,"
	       "\"memory_after_drop\":%lld,\"memory_bound\":%ld,"
	       "\"rss_start_kib\":%ld,\"rss_end_kib\":%ld,"
	       "\"rss_peak_kib\":%ld,\"rss_bound_kib\":%ld}\n",
	       r->elapsed, SK_WORKERS, (unsigned long long)ops,
	       (double)ops / r->elapsed, r->kills,
	       (unsigned long long)sh->violations,
	       (unsigned long long)sh->errors,
	       (unsigned long long)sh->duplicates,
	       (unsigned long long)sh->ops[SK_PUT],
	       (unsigned long long)sh->ops[SK_GET],
	       (unsigned long long)sh->ops[SK_GET_EMPTY],
	       (unsigned long long)sh->ops[SK_LOCK],
	       (unsigned long long)sh->ops[SK_RLOCK],
	       (unsigned long long)sh->ops[SK_SEM],
	       (unsigned long long)sh->ops[SK_INCR],
	       (unsigned long long)sh->ops[SK_APPEND], (long long)r->delivered,
	       (long long)r->left, (unsigned long long)sh->lock_takeovers,
	       (long long)r->lock_abandoned,
	       (unsigned long long)sh->rlock_takeovers,
	       (long long)r->rlock_abandoned,
	       (unsigned long long)sh->sem_takeovers,
	       (unsigned long long)sh->acquire_timeouts, (long long)r->mem0,
	       (long long)r->mem_end, (long long)r->mem_dropped, MEMORY_BOUND,
	       r->rss0, r->rss_end, r->rss_peak, RSS_BOUND_KIB);
	printf("soak: acknowledged queue: %llu put, %llu taken and acked "
	       "(%llu empty takes), %lld done, %lld left, %lld redelivered, "
	       "%llu acknowledged twice\n",
	       (unsigned long long)sh->ops[SK_APUT],
	       (unsigned long long)sh->ops[SK_TAKE],
	       (unsigned long long)sh->ops[SK_TAKE_EMPTY], (long long)r->adone,
	       (long long)r->aleft, (long long)r->aredelivered,
	       (unsigned long long)sh->double_acks);
	if (sh->have_first)
		printf("soak: first problem: %s\n", sh->first);
	fflush(stdout);
}

static void usage(FILE *f)
{
	fputs("usage: soak [--seconds N] [--kill-every SECONDS] "
	      "[--agorad PATH]\n"
	      "  --seconds N           how long the workers run (default 60)\n"
	      "  --kill-every SECONDS  a worker is SIGKILLed this often "
	      "(default 0.5)\n"
	      "  --agorad PATH         the server to test (default $AGORAD)\n",
	      f);
}

static bool parse_seconds(const char *s, double *ret)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end != '\0' || !(v > 0 && v < 86400 * 7))
		return false;
	*ret = v;
	return true;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "kill-every", required_argument, NULL, 'k' },
		{ "agorad", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static run r;
	const char *agorad = NULL;
	int o;

	r.seconds = 60;
	r.kill_every = 0.5;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			if (!parse_seconds(optarg, &r.seconds)) {
				fprintf(stderr, "soak: --seconds %s?\n",
					optarg);
				return 2;
			}
			break;
		case 'k':
			if (!parse_seconds(optarg, &r.kill_every)) {
				fprintf(stderr, "soak: --kill-every %s?\n",
					optarg);
				return 2;
			}
			break;
		case 'a':
			agorad = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	r.sh = sk_shared_new();
	if (r.sh == NULL || sk_server_start(&r.srv, agorad) < 0)
		return 1;
	r.c = agora_client_new();
	if (r.c == NULL || agora_client_connect_env(r.c) != 0 ||
	    (r.mem0 = sk_stats_int(r.c, "memory")) < 0 ||
	    sk_objects_create(r.c) < 0) {
		fprintf(stderr, "soak: cannot set up: %s\n",
			r.c ? agora_errmsg(r.c) : "out of memory");
		sk_server_stop(&r.srv);
		return 1;
	}
	r.conns0 = sk_stats_int(r.c, "connections");
	r.rss0 = r.rss_peak = sk_rss_kib(r.srv.pid);

	double start = sk_now();
	r.sh->deadline = start + r.seconds;
	for (int i = 0; i < SK_WORKERS; i++)
		spawn(&r, i);
	killer(&r);
	wait_workers(&r);
	r.elapsed = sk_now() - start;

	final_checks(&r);
	agora_client_free(r.c);
	if (sk_server_stop(&r.srv) < 0)
		sk_error(r.sh, "agorad did not stop cleanly");
	report(&r);
	return r.sh->violations == 0 && r.sh->errors == 0 ? 0 : 1;
}
