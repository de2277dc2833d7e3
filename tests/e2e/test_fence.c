/*
 * test_fence.c - fencing tokens of locks and rlocks (acquire_fenced): they
 * strictly increase across many holders, some of them SIGKILLed while
 * holding; an rlock's re-entrant acquisition gives back the token held; a
 * timeout answers false and takes no token; info's "fence" is the latest;
 * a lock opened anew under a dropped name gives larger tokens than the old
 * one.
 *
 * The race: NWORKERS processes take the lock "fence" over and over with
 * acquire_fenced and, while holding it, append their token to the list
 * "tokens", so that the list is in the order of acquisition. A worker
 * whose token is a multiple of KILL_BEFORE SIGKILLs itself before it
 * appends (its token is never seen again), one whose token is a multiple
 * of KILL_AFTER after it appends; either way it dies holding the lock, the
 * server releases it as abandoned and hands it on, and the test spawns a
 * replacement. Since every acquisition advances the fence by exactly one,
 * the list must end up exactly 1, 2, 3, ... without the multiples of
 * KILL_BEFORE: strictly increasing, nothing skipped, nothing repeated.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define NWORKERS 8
#define NTOKENS 1000
#define KILL_BEFORE 41
#define KILL_AFTER 37
/* Long enough never to expire in a passing run, valgrind included. */
#define GENEROUS 60.0

/* ---- many holders, some killed --------------------------------------------
 */

/* Take "fence" until the list "tokens" has NTOKENS entries, appending each
 * token while holding the lock; die holding it as described above. */
static int fenced_worker(agora_client *c, int idx, void *arg)
{
	agora_lock *l = NULL;
	agora_list *tokens = NULL;
	uint64_t token = 0, last = 0;
	bool ok = false;
	size_t len = 0;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_lock_open(c, "fence", &l));
	AGH_WCALL(c, agora_list_open(c, "tokens", &tokens));
	do {
		AGH_WCALL(c,
			  agora_lock_acquire_fenced(l, GENEROUS, &ok, &token));
		AGH_WCHECK(ok);
		/* Each of this worker's tokens is larger than its last. */
		AGH_WCHECK(token > last);
		last = token;
		if (token % KILL_BEFORE == 0)
			kill(getpid(), SIGKILL);
		AGH_WCALL(c, agora_list_append(tokens, agora_uint(token)));
		if (token % KILL_AFTER == 0)
			kill(getpid(), SIGKILL);
		AGH_WCALL(c, agora_list_len(tokens, &len));
		AGH_WCALL(c, agora_lock_release(l));
	} while (len < NTOKENS);
	AGH_WCALL(c, agora_list_close(tokens));
	AGH_WCALL(c, agora_lock_close(l));
	return 0;
}

/* The index of @pid in @pids[0..n), or -1. */
static int find_pid(const pid_t *pids, int n, pid_t pid)
{
	for (int i = 0; i < n; i++)
		if (pids[i] == pid)
			return i;
	return -1;
}

START_TEST(tokens_strictly_increase_across_1000_acquisitions_by_8_workers)
{
	agora_client *c = agh_cli;
	agora_lock *l;
	agora_list *tokens;
	agora_value all;
	pid_t pids[NWORKERS];
	int running = NWORKERS, killed = 0;
	double deadline = agh_now() + 90.0;

	AGH_OK(c, agora_lock_open(c, "fence", &l));
	AGH_OK(c, agora_list_open(c, "tokens", &tokens));
	ck_assert_int_eq(agh_info_int(c, agora_lock_handle(l), "fence"), 0);
	for (int i = 0; i < NWORKERS; i++)
		pids[i] = agh_spawn(fenced_worker, i, NULL);

	/* Every worker that dies killed is replaced; the run ends when all
	 * of them have seen NTOKENS entries and left. */
	while (running > 0) {
		int status, i;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		ck_assert_msg(pid >= 0, "waitpid: %s", strerror(errno));
		if (pid == 0) {
			ck_assert_msg(agh_now() < deadline,
				      "the workers did not finish in time");
			/* Not a fixed sleep: the next exit is what we wait
			 * for, checked every 10 ms against the deadline. */
			usleep(10000);
			continue;
		}
		i = find_pid(pids, NWORKERS, pid);
		ck_assert_msg(i >= 0, "child %d is not a worker", (int)pid);
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
			killed++;
			pids[i] = agh_spawn(fenced_worker, i, NULL);
			continue;
		}
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			      "worker %d failed (status 0x%x)", (int)pid,
			      status);
		pids[i] = 0;
		running--;
	}

	/* 1, 2, 3 ... without the multiples of KILL_BEFORE. */
	AGH_OK(c, agora_list_copy(tokens, &all));
	ck_assert_int_eq(all.type, AGORA_ARRAY);
	ck_assert_uint_ge(all.via.array.len, NTOKENS);
	int64_t want = 0, prev = 0, got = 0;
	for (size_t i = 0; i < all.via.array.len; i++) {
		do
			want++;
		while (want % KILL_BEFORE == 0);
		ck_assert_int_eq(
		    agora_value_to_int(all.via.array.items[i], &got), 0);
		ck_assert_msg(got > prev, "token %lld after %lld at entry %zu",
			      (long long)got, (long long)prev, i);
		ck_assert_msg(got == want,
			      "entry %zu is token %lld, expected %lld", i,
			      (long long)got, (long long)want);
		prev = got;
	}
	/* The last token given is the fence now; every death was while
	 * holding (an abandonment), one for each multiple of KILL_BEFORE or
	 * KILL_AFTER up to it. */
	ck_assert_int_eq(agh_info_int(c, agora_lock_handle(l), "fence"), prev);
	ck_assert_int_eq(killed, prev / KILL_BEFORE + prev / KILL_AFTER -
				     prev / (KILL_BEFORE * KILL_AFTER));
	ck_assert_int_eq(agh_info_int(c, agora_lock_handle(l), "abandoned"),
			 killed);
	printf("%zu tokens in order, %d holders killed\n", all.via.array.len,
	       killed);
	agora_value_free(&all);
	agora_list_close(tokens);
	agora_lock_close(l);
}
END_TEST

/* ---- one client at a time ----------------------------------------------- */

START_TEST(plain_and_fenced_acquisitions_each_advance_the_fence)
{
	agora_client *c = agh_cli;
	agora_lock *l;
	uint64_t token = 0;
	bool ok = false;

	AGH_OK(c, agora_lock_open(c, "printer", &l));
	ck_assert_int_eq(agh_info_int(c, agora_lock_handle(l), "fence"), 0);
	AGH_OK(c, agora_lock_acquire_fenced(l, AGORA_FOREVER, &ok, &token));
	ck_assert(ok);
	ck_assert_uint_eq(token, 1);
	ck_assert_int_eq(agh_info_int(c, agora_lock_handle(l), "fence"), 1);
	AGH_OK(c, agora_lock_release(l));
	/* A plain acquire takes a token too, unseen: the next is 3. */
	AGH_OK(c, agora_lock_acquire(l, AGORA_FOREVER, &ok));
	ck_assert_int_eq(agh_info_int(c, agora_lock_handle(l), "fence"), 2);
	AGH_OK(c, agora_lock_release(l));
	AGH_OK(c, agora_lock_acquire_fenced(l, 0, &ok, &token));
	ck_assert(ok);
	ck_assert_uint_eq(token, 3);
	AGH_OK(c, agora_lock_release(l));
	/* Either result pointer may be NULL. */
	AGH_OK(c, agora_lock_acquire_fenced(l, 1.0, NULL, NULL));
	ck_assert_int_eq(agh_info_int(c, agora_lock_handle(l), "fence"), 4);
	AGH_OK(c, agora_lock_release(l));
	agora_lock_close(l);
}
END_TEST

START_TEST(rlock_reentrant_acquire_fenced_answers_the_token_it_holds)
{
	agora_client *c = agh_cli;
	agora_rlock *r;
	uint64_t first = 0, again = 0;
	bool ok = false;

	AGH_OK(c, agora_rlock_open(c, "deep", &r));
	AGH_OK(c, agora_rlock_acquire_fenced(r, AGORA_FOREVER, &ok, &first));
	ck_assert(ok);
	ck_assert_uint_eq(first, 1);
	AGH_OK(c, agora_rlock_acquire_fenced(r, 0, &ok, &again));
	ck_assert(ok);
	ck_assert_uint_eq(again, first);
	AGH_OK(c, agora_rlock_acquire(r, AGORA_FOREVER, &ok));
	again = 0;
	AGH_OK(c, agora_rlock_acquire_fenced(r, 5.0, &ok, &again));
	ck_assert_uint_eq(again, first);
	ck_assert_int_eq(agh_info_int(c, agora_rlock_handle(r), "count"), 4);
	ck_assert_int_eq(agh_info_int(c, agora_rlock_handle(r), "fence"), 1);
	for (int i = 0; i < 4; i++)
		AGH_OK(c, agora_rlock_release(r));
	/* Free again: the next holder, this client too, gets a new one. */
	AGH_OK(c, agora_rlock_acquire_fenced(r, AGORA_FOREVER, &ok, &again));
	ck_assert_uint_eq(again, first + 1);
	AGH_OK(c, agora_rlock_release(r));
	agora_rlock_close(r);
}
END_TEST

/* Park on "printer" with acquire_fenced and store the token handed over
 * in the value "token". */
static int park_fenced(agora_client *c, int idx, void *arg)
{
	agora_lock *l = NULL;
	agora_var *v = NULL;
	uint64_t token = 0;
	bool ok = false;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_lock_open(c, "printer", &l));
	AGH_WCALL(c, agora_var_open(c, "token", agora_int(0), &v));
	AGH_WCALL(c, agora_lock_acquire_fenced(l, GENEROUS, &ok, &token));
	AGH_WCHECK(ok);
	AGH_WCALL(c, agora_var_set(v, agora_uint(token)));
	AGH_WCALL(c, agora_lock_release(l));
	AGH_WCALL(c, agora_var_close(v));
	AGH_WCALL(c, agora_lock_close(l));
	return 0;
}

START_TEST(acquire_fenced_on_a_held_lock_times_out_false_then_gets_the_next)
{
	agora_client *c = agh_cli;
	agora_client *holder = agh_connect(&agh_srv);
	agora_lock *l, *hl;
	agora_rlock *r, *hr;
	agora_var *v;
	uint64_t token = 0, mine = 0;
	int64_t handed = 0;
	bool ok = true;

	AGH_OK(c, agora_lock_open(c, "printer", &l));
	AGH_OK(holder, agora_lock_open(holder, "printer", &hl));
	AGH_OK(holder, agora_lock_acquire_fenced(hl, 0, &ok, &mine));
	ck_assert(ok);

	/* Not blocking, and a short wait: false, no token written, the
	 * fence unmoved. */
	token = 77;
	AGH_OK(c, agora_lock_acquire_fenced(l, 0, &ok, &token));
	ck_assert(!ok);
	ck_assert_uint_eq(token, 77);
	ok = true;
	AGH_OK(c, agora_lock_acquire_fenced(l, 0.05, &ok, &token));
	ck_assert(!ok);
	ck_assert_uint_eq(token, 77);
	ck_assert_int_eq(agh_info_int(c, agora_lock_handle(l), "fence"),
			 (int64_t)mine);

	/* The same for an rlock held by another client. */
	AGH_OK(c, agora_rlock_open(c, "deep", &r));
	AGH_OK(holder, agora_rlock_open(holder, "deep", &hr));
	AGH_OK(holder, agora_rlock_acquire(hr, 0, &ok));
	ck_assert(ok);
	AGH_OK(c, agora_rlock_acquire_fenced(r, 0.05, &ok, &token));
	ck_assert(!ok);
	ck_assert_uint_eq(token, 77);

	/* A parked acquire_fenced is answered the token of the hand-over. */
	AGH_OK(c, agora_var_open(c, "token", agora_int(0), &v));
	pid_t w = agh_spawn(park_fenced, 0, NULL);
	agh_wait_waiters(c, agora_lock_handle(l), 1);
	AGH_OK(holder, agora_lock_release(hl));
	agh_wait_ok(w);
	AGH_OK(c, agora_var_get_int(v, &handed));
	/* One more than the rlock's token: the server's next. */
	ck_assert_int_eq(handed, (int64_t)mine + 2);
	ck_assert_int_eq(agh_info_int(c, agora_lock_handle(l), "fence"),
			 handed);

	agora_var_close(v);
	agora_rlock_close(hr);
	agora_rlock_close(r);
	agora_lock_close(hl);
	agora_lock_close(l);
	agora_client_free(holder);
}
END_TEST

/* The tokens of a lock made after another under the same name (drop, then
 * open) are larger than any the old one gave, even while the old one is
 * still held: a resource keyed by the name refuses the old holder. */
START_TEST(a_lock_opened_anew_under_a_dropped_name_gives_larger_tokens)
{
	agora_client *c = agh_cli;
	agora_client *old_holder = agh_connect(&agh_srv);
	agora_lock *old, *l;
	uint64_t t_old = 0, t_new = 0;
	bool existed = false, ok = false;

	AGH_OK(old_holder, agora_lock_open(old_holder, "printer", &old));
	for (int i = 0; i < 5; i++) {
		AGH_OK(old_holder,
		       agora_lock_acquire_fenced(old, 0, &ok, &t_old));
		ck_assert(ok);
		AGH_OK(old_holder, agora_lock_release(old));
	}
	AGH_OK(old_holder, agora_lock_acquire_fenced(old, 0, &ok, &t_old));
	AGH_OK(c, agora_drop(c, "printer", &existed));
	ck_assert(existed);
	AGH_OK(c, agora_lock_open(c, "printer", &l));
	ck_assert_int_eq(agh_info_int(c, agora_lock_handle(l), "fence"), 0);
	AGH_OK(c, agora_lock_acquire_fenced(l, 0, &ok, &t_new));
	ck_assert(ok); /* a new object: the old one is still held */
	ck_assert_uint_gt(t_new, t_old);
	agora_lock_close(l);
	agora_lock_close(old);
	agora_client_free(old_holder);
}
END_TEST

START_TEST(info_reports_fence_and_no_owner_addr_for_a_unix_holder)
{
	agora_client *c = agh_cli;
	agora_lock *l;
	agora_value info;
	uint64_t token = 0;
	const agora_value *addr, *pid;
	int64_t p = 0;

	AGH_OK(c, agora_lock_open(c, "printer", &l));
	AGH_OK(c, agora_lock_acquire_fenced(l, 0, NULL, &token));
	AGH_OK(c, agora_info(c, agora_lock_handle(l), &info));
	ck_assert_int_eq(agh_map_int(info, "fence"), (int64_t)token);
	/* Over a Unix socket the holder is told by pid; no address. */
	addr = agh_map_find(info, "owner_addr");
	ck_assert_ptr_nonnull(addr);
	ck_assert_int_eq(addr->type, AGORA_NIL);
	pid = agh_map_find(info, "owner_pid");
	ck_assert_ptr_nonnull(pid);
	ck_assert_int_eq(agora_value_to_int(*pid, &p), 0);
	ck_assert_int_eq(p, getpid());
	agora_value_free(&info);
	AGH_OK(c, agora_lock_release(l));
	agora_lock_close(l);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fence");

	AGH_ADD(s,
		tokens_strictly_increase_across_1000_acquisitions_by_8_workers);
	AGH_ADD(s, plain_and_fenced_acquisitions_each_advance_the_fence);
	AGH_ADD(s, rlock_reentrant_acquire_fenced_answers_the_token_it_holds);
	AGH_ADD(
	    s,
	    acquire_fenced_on_a_held_lock_times_out_false_then_gets_the_next);
	AGH_ADD(s, a_lock_opened_anew_under_a_dropped_name_gives_larger_tokens);
	AGH_ADD(s, info_reports_fence_and_no_owner_addr_for_a_unix_holder);
	return agh_run_suite(s);
}
