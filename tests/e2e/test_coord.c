/*
 * test_coord.c - coordination across processes: the seeds' traffic-light
 * Event, a cyclic Barrier (100 rounds, and what breaks it: a killed party,
 * timeout, abort, reset), and JoinableQueue's task_done/join.
 *
 *     def car(light):                 # the seeds' traffic light
 *         light.wait()                # parked until the light turns green
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* Long enough never to expire in a passing run, valgrind included. */
#define GENEROUS 60.0
#define NCARS 3
#define PARTIES 4
#define ROUNDS 100
#define NPRODUCERS 3
#define NCONSUMERS 2
#define PER_PRODUCER 200
#define SENTINEL (-1)

/* ---- event -------------------------------------------------------------- */

/* A car waits for the light "green", then counts itself in "passed". */
static int car(agora_client *c, int idx, void *arg)
{
	agora_event *green = NULL;
	agora_var *passed = NULL;
	bool set = false;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_event_open(c, "green", &green));
	AGH_WCALL(c, agora_var_open(c, "passed", agora_int(0), &passed));
	AGH_WCALL(c, agora_event_wait(green, GENEROUS, &set));
	AGH_WCHECK(set);
	AGH_WCALL(c, agora_var_add_int(passed, 1, NULL));
	AGH_WCALL(c, agora_var_close(passed));
	AGH_WCALL(c, agora_event_close(green));
	return 0;
}

START_TEST(cars_in_several_processes_wait_until_the_light_turns_green)
{
	agora_client *c = agh_cli;
	agora_event *green;
	agora_var *passed;
	pid_t pids[NCARS];
	int64_t x = -1;
	bool set = true;

	AGH_OK(c, agora_event_open(c, "green", &green));
	AGH_OK(c, agora_var_open(c, "passed", agora_int(0), &passed));
	for (int i = 0; i < NCARS; i++)
		pids[i] = agh_spawn(car, i, NULL);
	/* Every car is parked in the server, none has passed. */
	agh_wait_waiters(c, agora_event_handle(green), NCARS);
	ck_assert_int_eq(agh_stats_int(c, "waiters"), NCARS);
	AGH_OK(c, agora_var_get_int(passed, &x));
	ck_assert_int_eq(x, 0);
	AGH_OK(c, agora_event_is_set(green, &set));
	ck_assert(!set);

	AGH_OK(c, agora_event_set(green));
	agh_wait_all_ok(pids, NCARS);
	AGH_OK(c, agora_var_get_int(passed, &x));
	ck_assert_int_eq(x, NCARS);
	ck_assert_int_eq(agh_info_int(c, agora_event_handle(green), "waiters"),
			 0);
	/* A set light lets anyone through at once. */
	AGH_OK(c, agora_event_is_set(green, &set));
	ck_assert(set);
	set = false;
	AGH_OK(c, agora_event_wait(green, 0, &set));
	ck_assert(set);
	agora_var_close(passed);
	agora_event_close(green);
}
END_TEST

START_TEST(wait_on_a_red_light_times_out_false)
{
	agora_client *c = agh_cli;
	agora_event *e;
	bool set = true;

	AGH_OK(c, agora_event_open(c, NULL, &e));
	double t0 = agh_now();
	AGH_OK(c, agora_event_wait(e, 0.05, &set));
	double took = agh_now() - t0;
	ck_assert(!set);
	ck_assert_msg(took >= 0.04, "wait(0.05) returned after %.3f s", took);
	set = true;
	AGH_OK(c, agora_event_wait(e, 0, &set));
	ck_assert(!set);
	ck_assert_int_eq(agh_info_int(c, agora_event_handle(e), "waiters"), 0);
	agora_event_close(e);
}
END_TEST

START_TEST(clear_turns_the_light_red_again_and_later_cars_wait)
{
	agora_client *c = agh_cli;
	agora_event *green;
	agora_var *passed;
	bool set = false;
	int64_t x = -1;

	AGH_OK(c, agora_event_open(c, "green", &green));
	AGH_OK(c, agora_var_open(c, "passed", agora_int(0), &passed));
	AGH_OK(c, agora_event_set(green));
	AGH_OK(c, agora_event_wait(green, 0.05, &set));
	ck_assert(set);
	AGH_OK(c, agora_event_clear(green));
	AGH_OK(c, agora_event_is_set(green, &set));
	ck_assert(!set);
	set = true;
	AGH_OK(c, agora_event_wait(green, 0.05, &set));
	ck_assert(!set);

	/* A car arriving now is held at the red light... */
	pid_t pid = agh_spawn(car, 0, NULL);
	agh_wait_waiters(c, agora_event_handle(green), 1);
	AGH_OK(c, agora_var_get_int(passed, &x));
	ck_assert_int_eq(x, 0);
	/* ...until it turns green again. */
	AGH_OK(c, agora_event_set(green));
	agh_wait_ok(pid);
	AGH_OK(c, agora_var_get_int(passed, &x));
	ck_assert_int_eq(x, 1);
	agora_var_close(passed);
	agora_event_close(green);
}
END_TEST

/* ---- barrier ------------------------------------------------------------ */

/* Wait ROUNDS times on the barrier "b4"; store the arrival indices as an
 * array under the key @idx of the dict "rounds". */
static int barrier_rounds(agora_client *c, int idx, void *arg)
{
	agora_barrier *b = NULL;
	agora_dict *d = NULL;
	agora_value got[ROUNDS];

	(void)arg;
	AGH_WCALL(c, agora_barrier_open(c, "b4", PARTIES, &b));
	AGH_WCALL(c, agora_dict_open(c, "rounds", &d));
	for (int r = 0; r < ROUNDS; r++) {
		int64_t i = -1;
		AGH_WCALL(c, agora_barrier_wait(b, GENEROUS, &i));
		got[r] = agora_int(i);
	}
	AGH_WCALL(c,
		  agora_dict_set(d, agora_int(idx), agora_array(got, ROUNDS)));
	AGH_WCALL(c, agora_dict_close(d));
	AGH_WCALL(c, agora_barrier_close(b));
	return 0;
}

START_TEST(four_parties_for_100_rounds_get_indices_0_to_3_every_round)
{
	agora_client *c = agh_cli;
	agora_barrier *b;
	agora_dict *d;
	agora_value per[PARTIES];
	int64_t x = -1;
	bool broken = true;

	AGH_OK(c, agora_barrier_open(c, "b4", PARTIES, &b));
	AGH_OK(c, agora_dict_open(c, "rounds", &d));
	AGH_OK(c, agora_barrier_parties(b, &x));
	ck_assert_int_eq(x, PARTIES);
	agh_run_workers(PARTIES, barrier_rounds, NULL, NULL);

	for (int w = 0; w < PARTIES; w++) {
		AGH_OK(c, agora_dict_get(d, agora_int(w), &per[w]));
		ck_assert_int_eq(per[w].type, AGORA_ARRAY);
		ck_assert_uint_eq(per[w].via.array.len, ROUNDS);
	}
	for (int r = 0; r < ROUNDS; r++) {
		unsigned seen = 0;
		for (int w = 0; w < PARTIES; w++) {
			int64_t i = -1;
			ck_assert_int_eq(
			    agora_value_to_int(per[w].via.array.items[r], &i),
			    0);
			ck_assert_msg(i >= 0 && i < PARTIES,
				      "round %d: worker %d got index %lld", r,
				      w, (long long)i);
			ck_assert_msg(!(seen & (1u << i)),
				      "round %d: index %lld given twice", r,
				      (long long)i);
			seen |= 1u << i;
		}
		ck_assert_uint_eq(seen, (1u << PARTIES) - 1);
	}
	for (int w = 0; w < PARTIES; w++)
		agora_value_free(&per[w]);
	AGH_OK(c, agora_barrier_n_waiting(b, &x));
	ck_assert_int_eq(x, 0);
	AGH_OK(c, agora_barrier_broken(b, &broken));
	ck_assert(!broken);
	agora_dict_close(d);
	agora_barrier_close(b);
}
END_TEST

/* Wait on the barrier @arg names and require BROKEN. */
static int wait_expect_broken(agora_client *c, int idx, void *arg)
{
	agora_barrier *b = NULL;
	int64_t i = -1;

	(void)idx;
	AGH_WCALL(c, agora_barrier_open(c, arg, PARTIES, &b));
	int rc = agora_barrier_wait(b, GENEROUS, &i);
	if (rc != AGORA_EBROKEN) {
		fprintf(stderr,
			"barrier wait returned %s (index %lld), "
			"expected BROKEN\n",
			agora_errname(rc), (long long)i);
		return 1;
	}
	AGH_WCALL(c, agora_barrier_close(b));
	return 0;
}

/* Wait on the barrier @arg names and require an index. */
static int wait_expect_pass(agora_client *c, int idx, void *arg)
{
	agora_barrier *b = NULL;
	int64_t i = -1;

	(void)idx;
	AGH_WCALL(c, agora_barrier_open(c, arg, PARTIES, &b));
	AGH_WCALL(c, agora_barrier_wait(b, GENEROUS, &i));
	AGH_WCHECK(i >= 0 && i < PARTIES);
	AGH_WCALL(c, agora_barrier_close(b));
	return 0;
}

/* Wait on the barrier "kb" until killed. */
static int wait_until_killed(agora_client *c, int idx, void *arg)
{
	agora_barrier *b = NULL;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_barrier_open(c, "kb", PARTIES, &b));
	int rc = agora_barrier_wait(b, AGORA_FOREVER, NULL);
	fprintf(stderr, "the party to be killed returned %s\n",
		agora_errname(rc));
	return 1;
}

START_TEST(a_waiting_party_killed_breaks_the_barrier_and_reset_repairs_it)
{
	agora_client *c = agh_cli;
	agora_barrier *b;
	pid_t others[2], pass[PARTIES - 1];
	int64_t x = -1;
	bool broken = false;

	AGH_OK(c, agora_barrier_open(c, "kb", PARTIES, &b));
	uint32_t h = agora_barrier_handle(b);
	for (int i = 0; i < 2; i++) {
		others[i] = agh_spawn(wait_expect_broken, i, "kb");
		agh_wait_waiters(c, h, i + 1);
	}
	pid_t victim = agh_spawn(wait_until_killed, 2, NULL);
	agh_wait_waiters(c, h, 3);
	AGH_OK(c, agora_barrier_n_waiting(b, &x));
	ck_assert_int_eq(x, 3);

	ck_assert_int_eq(kill(victim, SIGKILL), 0);
	int status = agh_wait_pid(victim, AGH_WORKER_TIMEOUT);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	agh_wait_all_ok(others, 2);
	AGH_OK(c, agora_barrier_broken(b, &broken));
	ck_assert(broken);
	/* Broken stays broken for a newcomer. */
	AGH_CALL_EQ(c, agora_barrier_wait(b, GENEROUS, &x), AGORA_EBROKEN);

	AGH_OK(c, agora_barrier_reset(b));
	AGH_OK(c, agora_barrier_broken(b, &broken));
	ck_assert(!broken);
	AGH_OK(c, agora_barrier_n_waiting(b, &x));
	ck_assert_int_eq(x, 0);
	/* Usable again: three workers and this process make a round. */
	for (int i = 0; i < PARTIES - 1; i++)
		pass[i] = agh_spawn(wait_expect_pass, i, "kb");
	agh_wait_waiters(c, h, PARTIES - 1);
	x = -1;
	AGH_OK(c, agora_barrier_wait(b, GENEROUS, &x));
	ck_assert_int_eq(x, PARTIES - 1);
	agh_wait_all_ok(pass, PARTIES - 1);
	agora_barrier_close(b);
}
END_TEST

START_TEST(abort_breaks_the_barrier_for_waiters_and_later_callers)
{
	agora_client *c = agh_cli;
	agora_barrier *b;
	pid_t pids[2];
	bool broken = false;
	int64_t x = -1;

	AGH_OK(c, agora_barrier_open(c, "ab", PARTIES, &b));
	for (int i = 0; i < 2; i++)
		pids[i] = agh_spawn(wait_expect_broken, i, "ab");
	agh_wait_waiters(c, agora_barrier_handle(b), 2);
	AGH_OK(c, agora_barrier_abort(b));
	agh_wait_all_ok(pids, 2);
	AGH_OK(c, agora_barrier_broken(b, &broken));
	ck_assert(broken);
	AGH_CALL_EQ(c, agora_barrier_wait(b, GENEROUS, &x), AGORA_EBROKEN);
	ck_assert_int_eq(x, -1);
	AGH_OK(c, agora_barrier_n_waiting(b, &x));
	ck_assert_int_eq(x, 0);
	agora_barrier_close(b);
}
END_TEST

START_TEST(reset_breaks_parties_already_waiting)
{
	agora_client *c = agh_cli;
	agora_barrier *b;
	bool broken = true;
	pid_t pid;

	AGH_OK(c, agora_barrier_open(c, "rb", PARTIES, &b));
	pid = agh_spawn(wait_expect_broken, 0, "rb");
	agh_wait_waiters(c, agora_barrier_handle(b), 1);
	AGH_OK(c, agora_barrier_reset(b));
	agh_wait_ok(pid);
	/* As Python's: after reset the barrier is not broken. */
	AGH_OK(c, agora_barrier_broken(b, &broken));
	ck_assert(!broken);
	agora_barrier_close(b);
}
END_TEST

START_TEST(barrier_wait_that_times_out_breaks_the_barrier)
{
	agora_client *c = agh_cli;
	agora_barrier *b;
	bool broken = false;
	int64_t x = -1;

	AGH_OK(c, agora_barrier_open(c, NULL, 2, &b));
	AGH_CALL_EQ(c, agora_barrier_wait(b, 0.05, &x), AGORA_EBROKEN);
	AGH_OK(c, agora_barrier_broken(b, &broken));
	ck_assert(broken);
	ck_assert_int_eq(agh_info_int(c, agora_barrier_handle(b), "waiters"),
			 0);
	AGH_OK(c, agora_barrier_reset(b));
	AGH_OK(c, agora_barrier_broken(b, &broken));
	ck_assert(!broken);
	agora_barrier_close(b);
}
END_TEST

/* ---- joinable queue ----------------------------------------------------- */

static void nap_ms(long ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	nanosleep(&ts, NULL);
}

/* Producer @idx puts its PER_PRODUCER items into "jobs". */
static int jq_produce(agora_client *c, int idx, void *arg)
{
	agora_jqueue *q = NULL;

	(void)arg;
	AGH_WCALL(c, agora_jqueue_open(c, "jobs", 0, &q));
	for (int i = 0; i < PER_PRODUCER; i++)
		AGH_WCALL(c,
			  agora_jqueue_put(q, agora_int(idx * PER_PRODUCER + i),
					   AGORA_FOREVER));
	AGH_WCALL(c, agora_jqueue_close(q));
	return 0;
}

/*
 * A consumer starts only once the parent's join is parked on "jobs" (the
 * only request that can be: puts to an unbounded queue never wait), so
 * that join has work to wait for. It then counts each item in "processed"
 * before its task_done, up to a sentinel, which it also marks done.
 */
static int jq_consume(agora_client *c, int idx, void *arg)
{
	agora_jqueue *q = NULL;
	agora_var *processed = NULL;
	double deadline = agh_now() + AGH_STATE_TIMEOUT;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_jqueue_open(c, "jobs", 0, &q));
	AGH_WCALL(c, agora_var_open(c, "processed", agora_int(0), &processed));
	for (;;) {
		agora_value info;
		int64_t waiters = 0;
		AGH_WCALL(c, agora_info(c, agora_jqueue_handle(q), &info));
		const agora_value *w = agh_map_find(info, "waiters");
		int rc = w != NULL ? agora_value_to_int(*w, &waiters) : -1;
		agora_value_free(&info);
		AGH_WCHECK(rc == 0);
		if (waiters >= 1)
			break;
		AGH_WCHECK(agh_now() < deadline);
		nap_ms(1);
	}
	for (;;) {
		int64_t x = 0;
		AGH_WCALL(c, agora_jqueue_get_int(q, GENEROUS, &x));
		if (x == SENTINEL) {
			AGH_WCALL(c, agora_jqueue_task_done(q));
			break;
		}
		AGH_WCALL(c, agora_var_add_int(processed, 1, NULL));
		AGH_WCALL(c, agora_jqueue_task_done(q));
	}
	AGH_WCALL(c, agora_var_close(processed));
	AGH_WCALL(c, agora_jqueue_close(q));
	return 0;
}

START_TEST(join_returns_only_after_every_item_is_marked_done)
{
	agora_client *c = agh_cli;
	agora_jqueue *q;
	agora_var *processed;
	pid_t prod[NPRODUCERS], cons[NCONSUMERS];
	size_t n = 0;
	int64_t x = -1;
	bool done = false;

	AGH_OK(c, agora_jqueue_open(c, "jobs", 0, &q));
	AGH_OK(c, agora_var_open(c, "processed", agora_int(0), &processed));
	for (int i = 0; i < NPRODUCERS; i++)
		prod[i] = agh_spawn(jq_produce, i, NULL);
	agh_wait_all_ok(prod, NPRODUCERS);
	for (int i = 0; i < NCONSUMERS; i++)
		AGH_OK(c, agora_jqueue_put(q, agora_int(SENTINEL), 0));
	AGH_OK(c, agora_jqueue_qsize(q, &n));
	ck_assert_uint_eq(n, NPRODUCERS * PER_PRODUCER + NCONSUMERS);

	for (int i = 0; i < NCONSUMERS; i++)
		cons[i] = agh_spawn(jq_consume, i, NULL);
	AGH_OK(c, agora_jqueue_join(q, GENEROUS, &done));
	ck_assert(done);
	/* Read at once: every item was counted before its task_done. */
	AGH_OK(c, agora_var_get_int(processed, &x));
	ck_assert_int_eq(x, NPRODUCERS * PER_PRODUCER);
	agh_wait_all_ok(cons, NCONSUMERS);
	AGH_OK(c, agora_jqueue_qsize(q, &n));
	ck_assert_uint_eq(n, 0);
	/* Nothing unfinished: join answers at once. */
	done = false;
	AGH_OK(c, agora_jqueue_join(q, 0, &done));
	ck_assert(done);
	agora_var_close(processed);
	agora_jqueue_close(q);
}
END_TEST

START_TEST(join_times_out_false_while_an_item_is_unfinished)
{
	agora_client *c = agh_cli;
	agora_jqueue *q;
	agora_value v;
	bool done = true;

	AGH_OK(c, agora_jqueue_open(c, NULL, 0, &q));
	AGH_OK(c, agora_jqueue_put(q, agora_str("job"), 0));
	AGH_OK(c, agora_jqueue_join(q, 0.05, &done));
	ck_assert(!done);
	/* Taken but not done is still unfinished. */
	AGH_OK(c, agora_jqueue_get(q, 0, &v));
	agh_assert_str(v, "job");
	agora_value_free(&v);
	done = true;
	AGH_OK(c, agora_jqueue_join(q, 0.05, &done));
	ck_assert(!done);
	AGH_OK(c, agora_jqueue_task_done(q));
	AGH_OK(c, agora_jqueue_join(q, 0.05, &done));
	ck_assert(done);
	agora_jqueue_close(q);
}
END_TEST

START_TEST(one_task_done_too_many_is_value)
{
	agora_client *c = agh_cli;
	agora_jqueue *q;
	int64_t x = 0;
	bool done = false;

	AGH_OK(c, agora_jqueue_open(c, NULL, 0, &q));
	AGH_CALL_EQ(c, agora_jqueue_task_done(q), AGORA_EVALUE);
	AGH_OK(c, agora_jqueue_put(q, agora_int(1), 0));
	AGH_OK(c, agora_jqueue_put(q, agora_int(2), 0));
	AGH_OK(c, agora_jqueue_get_int(q, 0, &x));
	AGH_OK(c, agora_jqueue_get_int(q, 0, &x));
	AGH_OK(c, agora_jqueue_task_done(q));
	AGH_OK(c, agora_jqueue_task_done(q));
	AGH_CALL_EQ(c, agora_jqueue_task_done(q), AGORA_EVALUE);
	/* The failed call changed nothing. */
	AGH_OK(c, agora_jqueue_join(q, 0, &done));
	ck_assert(done);
	AGH_OK(c, agora_jqueue_put(q, agora_int(3), 0));
	done = true;
	AGH_OK(c, agora_jqueue_join(q, 0, &done));
	ck_assert(!done);
	agora_jqueue_close(q);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("coord");

	AGH_ADD(s, cars_in_several_processes_wait_until_the_light_turns_green);
	AGH_ADD(s, wait_on_a_red_light_times_out_false);
	AGH_ADD(s, clear_turns_the_light_red_again_and_later_cars_wait);
	AGH_ADD(s, four_parties_for_100_rounds_get_indices_0_to_3_every_round);
	AGH_ADD(s,
		a_waiting_party_killed_breaks_the_barrier_and_reset_repairs_it);
	AGH_ADD(s, abort_breaks_the_barrier_for_waiters_and_later_callers);
	AGH_ADD(s, reset_breaks_parties_already_waiting);
	AGH_ADD(s, barrier_wait_that_times_out_breaks_the_barrier);
	AGH_ADD(s, join_returns_only_after_every_item_is_marked_done);
	AGH_ADD(s, join_times_out_false_while_an_item_is_unfinished);
	AGH_ADD(s, one_task_done_too_many_is_value);
	return agh_run_suite(s);
}
