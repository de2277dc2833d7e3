/*
 * test_txn.c - transactions from C (agora_txn; docs/protocol.md section
 * 12), as a user sees them:
 *
 *   - the bank: 8 processes move random amounts between 16 accounts (value
 *     objects holding ints), each transfer one transaction (the source
 *     must hold the amount: ["ge", "value.get", [src], amount]; then
 *     value.add -amount to it and +amount to the destination), while the
 *     test SIGKILLs random workers and starts them again; a reader process
 *     reads all 16 in one transaction, over and over, and the sum must
 *     always be exact (no transfer seen half done) and no account below
 *     0. AGORA_TXN_SECONDS long (default 2; the 'durability' suite runs
 *     20). Then the same with agorad --data-dir, killed with SIGKILL while
 *     the transfers go on and started again: the sum is exact after the
 *     crash too (every transfer journaled whole or not at all);
 *   - a holder that lost its lock (its connection was killed, another
 *     holder came) is refused by ["fence", lock, its token] and ["held",
 *     lock], and nothing is written; the new holder's token goes through;
 *   - a transaction whose third call fails leaves every object as it was
 *     (contents, versions, no watch notification) and answers that call's
 *     code and place; a condition's read call that fails and a call that
 *     may wait are named the same way; building mistakes are named;
 *   - waking waits for the commit: a getter parked on a queue that a
 *     transaction puts to gets the item only after the transaction's
 *     answer (seen on one raw connection), and a failed transaction that
 *     put wakes nobody.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* ---- the bank --------------------------------------------------------------
 */

#define ACCOUNTS 16
#define TELLERS 8
#define INITIAL 1000
#define TOTAL ((int64_t)ACCOUNTS * INITIAL)
#define MAX_AMOUNT 300

/* Shared by the test and its processes (MAP_SHARED). */
struct bank {
	atomic_int stop;
	/* The server may die (the crash test): a teller or the reader that
	 * finds the connection gone stops, and does not fail. */
	int crash;
	atomic_ullong transfers, refused, reads;
	char why[256]; /* the reader's complaint */
};

static bool gone(int rc)
{
	return rc == AGORA_EIO || rc == AGORA_ELOST || rc == AGORA_ETIMEDOUT;
}

/* Open the 16 accounts (get-or-create, INITIAL each) into @v. */
static int open_accounts(agora_client *c, agora_var **v)
{
	char name[32];
	int rc;

	for (int i = 0; i < ACCOUNTS; i++) {
		snprintf(name, sizeof(name), "acct.%d", i);
		rc = agora_var_open(c, name, agora_int(INITIAL), &v[i]);
		if (rc < 0) {
			while (i-- > 0)
				agora_var_close(v[i]);
			return rc;
		}
	}
	return 0;
}

/* Close the accounts @v opened (on a lost connection too: the proxies are
 * freed). */
static void close_accounts(agora_var **v)
{
	for (int i = 0; i < ACCOUNTS; i++)
		agora_var_close(v[i]);
}

static int teller(agora_client *c, int idx, void *arg)
{
	struct bank *b = arg;
	agora_var *v[ACCOUNTS];
	unsigned seed = (unsigned)getpid() * 2654435761u + (unsigned)idx;
	agora_txn *t;
	int rc;

	rc = open_accounts(c, v);
	if (rc < 0 && b->crash && gone(rc))
		return 0;
	AGH_WCALL(c, rc);
	t = agora_txn_new(c);
	AGH_WCHECK(t != NULL);
	while (!atomic_load(&b->stop)) {
		int from = (int)(rand_r(&seed) % ACCOUNTS);
		int to = (from + 1 + (int)(rand_r(&seed) % (ACCOUNTS - 1))) %
			 ACCOUNTS;
		int64_t amount = 1 + (int64_t)(rand_r(&seed) % MAX_AMOUNT);
		agora_value src[2] = { agora_uint(agora_var_handle(v[from])),
				       agora_int(-amount) };
		agora_value dst[2] = { agora_uint(agora_var_handle(v[to])),
				       agora_int(amount) };
		agora_value after;
		bool moved = false;
		int64_t left = -1;

		agora_txn_reset(t);
		agora_txn_if(t, "ge", "value.get", agora_array(src, 1),
			     agora_int(amount));
		agora_txn_then(t, "value.add", agora_array(src, 2));
		agora_txn_then(t, "value.add", agora_array(dst, 2));
		rc = agora_txn_run(t, &moved);
		if (rc < 0 && b->crash && gone(rc))
			break;
		AGH_WCALL(c, rc);
		if (!moved) {
			/* The else branch is empty: no result. */
			AGH_WCHECK(agora_txn_count(t) == 0);
			atomic_fetch_add(&b->refused, 1);
			continue;
		}
		/* Each call's result: what the source has left, never below
		 * 0, as the condition held when the calls ran. */
		AGH_WCHECK(agora_txn_count(t) == 2);
		AGH_WCALL(c, agora_txn_result(t, 0, &after));
		AGH_WCHECK(agora_value_to_int(after, &left) == 0);
		agora_value_free(&after);
		AGH_WCHECK(left >= 0);
		AGH_WCALL(c, agora_txn_result(t, 1, NULL));
		atomic_fetch_add(&b->transfers, 1);
	}
	agora_txn_free(t);
	close_accounts(v);
	return 0;
}

/* Read all the accounts in one transaction until told to stop: the sum is
 * TOTAL every time and no account is below 0. */
static int reader(agora_client *c, int idx, void *arg)
{
	struct bank *b = arg;
	agora_var *v[ACCOUNTS];
	agora_txn *t;
	int rc;

	(void)idx;
	rc = open_accounts(c, v);
	if (rc < 0 && b->crash && gone(rc))
		return 0;
	AGH_WCALL(c, rc);
	t = agora_txn_new(c);
	AGH_WCHECK(t != NULL);
	for (int i = 0; i < ACCOUNTS; i++) {
		agora_value h = agora_uint(agora_var_handle(v[i]));

		AGH_WCALL(c,
			  agora_txn_then(t, "value.get", agora_array(&h, 1)));
	}
	/* The same transaction, run again and again. */
	while (!atomic_load(&b->stop)) {
		bool ok = false;
		int64_t sum = 0;

		rc = agora_txn_run(t, &ok);
		if (rc < 0 && b->crash && gone(rc))
			break;
		AGH_WCALL(c, rc);
		AGH_WCHECK(ok);
		AGH_WCHECK(agora_txn_count(t) == ACCOUNTS);
		for (size_t i = 0; i < ACCOUNTS; i++) {
			agora_value x;
			int64_t n = -1;

			AGH_WCALL(c, agora_txn_result(t, i, &x));
			AGH_WCHECK(agora_value_to_int(x, &n) == 0);
			agora_value_free(&x);
			if (n < 0)
				snprintf(b->why, sizeof(b->why),
					 "account %zu is at %" PRId64, i, n);
			sum += n;
		}
		if (sum != TOTAL && b->why[0] == '\0')
			snprintf(b->why, sizeof(b->why),
				 "read %" PRId64 " in all after %llu reads, "
				 "where %" PRId64 " was put in",
				 sum,
				 (unsigned long long)atomic_load(&b->reads),
				 TOTAL);
		if (b->why[0] != '\0') {
			fprintf(stderr, "reader: %s\n", b->why);
			return 1;
		}
		atomic_fetch_add(&b->reads, 1);
	}
	agora_txn_free(t);
	close_accounts(v);
	return 0;
}

/* How long the bank runs: AGORA_TXN_SECONDS, default 2. */
static double bank_seconds(void)
{
	const char *s = getenv("AGORA_TXN_SECONDS");
	double d = s != NULL ? strtod(s, NULL) : 2.0;

	ck_assert_msg(d > 0 && d <= 600, "AGORA_TXN_SECONDS=%s: want 0 to 600",
		      s);
	return d;
}

/* Pause @ms milliseconds: the pace of the kills, not a wait for an
 * event. */
static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Whether the status of a teller or the reader is a good end: exit 0, or
 * in the crash test also a connect that failed while agorad was down
 * (agh_spawn()'s 123). */
static bool ended_well(int status, bool crash)
{
	return WIFEXITED(status) && (WEXITSTATUS(status) == 0 ||
				     (crash && WEXITSTATUS(status) == 123));
}

/* The sum of the accounts, read one by one with @c (nothing else runs);
 * *ret_moved: whether some account is not at INITIAL. With @no_create the
 * accounts must exist already (a server that came back from its data
 * directory with nothing would otherwise make new ones, summing right). */
static int64_t bank_sum(agora_client *c, bool no_create, bool *ret_moved)
{
	int64_t sum = 0;
	char name[32];

	*ret_moved = false;
	for (int i = 0; i < ACCOUNTS; i++) {
		agora_var *v = NULL;
		int64_t n = 0;

		snprintf(name, sizeof(name), "acct.%d", i);
		if (no_create)
			AGH_OK(c, agora_open_ex(c, "value", name, NULL, 0,
						AGORA_OPEN_NO_CREATE, &v));
		else
			AGH_OK(c,
			       agora_var_open(c, name, agora_int(INITIAL), &v));
		AGH_OK(c, agora_var_get_int(v, &n));
		ck_assert_int_ge(n, 0);
		if (n != INITIAL)
			*ret_moved = true;
		sum += n;
		AGH_OK(c, agora_var_close(v));
	}
	return sum;
}

/*
 * Run the bank on @s for bank_seconds(): tellers SIGKILLed at random and
 * started again, the reader checking. With @crash, agorad itself is then
 * killed with SIGKILL while the tellers go on, and started again (on its
 * data directory). Then everyone stops and the sum is checked.
 */
static void run_bank(agh_server *s, bool crash)
{
	struct bank *b;
	pid_t tellers[TELLERS], rd;
	double seconds = bank_seconds(), end;
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	int killed = 0, status;
	agora_client *c = agh_connect(s);
	agora_var *v[ACCOUNTS];
	bool moved;

	/* The accounts exist before anyone moves money. */
	AGH_OK(c, open_accounts(c, v));
	close_accounts(v);
	agora_client_free(c);

	b = mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert(b != MAP_FAILED);
	memset(b, 0, sizeof(*b));
	b->crash = crash;
	printf("bank%s: %d tellers for %.0f s, seed %u\n",
	       crash ? " (agorad killed after)" : "", TELLERS, seconds, seed);
	srandom(seed);

	rd = agh_spawn(reader, 0, b);
	for (int i = 0; i < TELLERS; i++)
		tellers[i] = agh_spawn(teller, i, b);
	end = agh_now() + seconds;
	while (agh_now() < end) {
		int i = (int)(random() % TELLERS);

		pause_ms(20 + random() % 130);
		/* The reader must be alive and content all along. */
		ck_assert_msg(waitpid(rd, &status, WNOHANG) == 0,
			      "the reader ended (status 0x%x): %s", status,
			      b->why);
		kill(tellers[i], SIGKILL);
		status = agh_wait_pid(tellers[i], AGH_WORKER_TIMEOUT);
		/* It may have failed before the kill came. */
		ck_assert_msg(
		    (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ||
			ended_well(status, false),
		    "teller %d failed (status 0x%x)", i, status);
		killed++;
		tellers[i] = agh_spawn(teller, i, b);
	}
	if (crash)
		agh_server_restart(s, SIGKILL);
	atomic_store(&b->stop, 1);
	status = agh_wait_pid(rd, AGH_WORKER_TIMEOUT);
	ck_assert_msg(ended_well(status, crash), "the reader failed: %s",
		      b->why[0] ? b->why : "(see its output)");
	for (int i = 0; i < TELLERS; i++) {
		status = agh_wait_pid(tellers[i], AGH_WORKER_TIMEOUT);
		ck_assert_msg(ended_well(status, crash),
			      "teller %d failed (status 0x%x)", i, status);
	}

	c = agh_connect(s);
	ck_assert_int_eq(bank_sum(c, crash, &moved), TOTAL);
	agora_client_free(c);
	printf("bank%s: %llu transfers, %llu refused (too little), %llu "
	       "reads, %d tellers killed\n",
	       crash ? " (agorad killed after)" : "",
	       (unsigned long long)atomic_load(&b->transfers),
	       (unsigned long long)atomic_load(&b->refused),
	       (unsigned long long)atomic_load(&b->reads), killed);
	ck_assert_uint_gt(atomic_load(&b->transfers), 0);
	ck_assert_uint_gt(atomic_load(&b->reads), 0);
	/* Acknowledged transfers were kept: money moved (that every one of
	 * them left each account where it began has no real chance). */
	ck_assert_msg(moved, "every account is back at %d", INITIAL);
	munmap(b, sizeof(*b));
}

START_TEST(the_sum_never_changes_while_tellers_are_killed)
{
	run_bank(&agh_srv, false);
}
END_TEST

START_TEST(the_sum_is_exact_after_agorad_is_killed)
{
	agh_server s = { 0 };

	agh_server_start_args(&s, agh_datadir_args);
	run_bank(&s, true);
	agh_server_stop(&s);
}
END_TEST

/* ---- a holder that lost its lock ---------------------------------------- */

/* The id of @c's own connection, from `clients`. */
static uint64_t own_connection(agora_client *c)
{
	agora_value all;
	uint64_t id = 0;

	AGH_OK(c, agora_clients(c, &all));
	ck_assert_int_eq(all.type, AGORA_ARRAY);
	for (size_t i = 0; i < all.via.array.len; i++) {
		const agora_value *self =
		    agh_map_find(all.via.array.items[i], "self");

		if (self != NULL && self->type == AGORA_BOOL && self->via.b)
			id =
			    (uint64_t)agh_map_int(all.via.array.items[i], "id");
	}
	agora_value_free(&all);
	ck_assert_uint_gt(id, 0);
	return id;
}

/* Run a transaction on @c: if fence(@lock, @token) [and held(@lock)] then
 * dict.set [@d, "writer", @who]. Returns whether it went through,
 * requiring that the run itself succeeded. */
static bool write_if_fenced(agora_client *c, agora_lock *lock, uint64_t token,
			    bool held, agora_dict *d, const char *who)
{
	agora_value set[3] = { agora_uint(agora_dict_handle(d)),
			       agora_str("writer"), agora_str(who) };
	agora_txn *t = agora_txn_new(c);
	bool ok = true;

	ck_assert_ptr_nonnull(t);
	AGH_OK(c, agora_txn_if_fence(t, agora_lock_handle(lock), token));
	if (held)
		AGH_OK(c, agora_txn_if_held(t, agora_lock_handle(lock)));
	AGH_OK(c, agora_txn_then(t, "dict.set", agora_array(set, 3)));
	AGH_OK(c, agora_txn_run(t, &ok));
	ck_assert_uint_eq(agora_txn_count(t), ok ? 1 : 0);
	ck_assert(!agora_txn_failed(t, NULL, NULL));
	agora_txn_free(t);
	return ok;
}

/* Run if held(@lock) then dict.set [@d, "writer", @who] on @c. */
static bool write_if_held(agora_client *c, agora_lock *lock, agora_dict *d,
			  const char *who)
{
	agora_value set[3] = { agora_uint(agora_dict_handle(d)),
			       agora_str("writer"), agora_str(who) };
	agora_txn *t = agora_txn_new(c);
	bool ok = true;

	ck_assert_ptr_nonnull(t);
	AGH_OK(c, agora_txn_if_held(t, agora_lock_handle(lock)));
	AGH_OK(c, agora_txn_then(t, "dict.set", agora_array(set, 3)));
	AGH_OK(c, agora_txn_run(t, &ok));
	agora_txn_free(t);
	return ok;
}

START_TEST(a_holder_that_lost_its_lock_is_refused_and_writes_nothing)
{
	agora_client *b = agh_cli, *a = agh_connect(&agh_srv), *a2;
	agora_lock *la, *lb, *la2;
	agora_dict *db, *da2;
	uint64_t f1 = 0, f2 = 0, aid;
	agora_value got;
	size_t len = 9;
	bool ok = false, killed = false;

	AGH_OK(a, agora_lock_open(a, "lease", &la));
	AGH_OK(b, agora_lock_open(b, "lease", &lb));
	AGH_OK(b, agora_dict_open(b, "store", &db));
	AGH_OK(a, agora_lock_acquire_fenced(la, AGORA_FOREVER, &ok, &f1));
	ck_assert(ok);

	/* A loses the lock without knowing: its connection is cut (the
	 * server counts the lock abandoned), and B takes it. */
	aid = own_connection(a);
	AGH_OK(b, agora_kill(b, aid, &killed));
	ck_assert(killed);
	agh_wait_info(b, agora_lock_handle(lb), "abandoned", 1);
	AGH_OK(b, agora_lock_acquire_fenced(lb, AGORA_FOREVER, &ok, &f2));
	ck_assert(ok);
	ck_assert_uint_gt(f2, f1);
	agora_lock_close(la); /* its connection is gone: nothing to send */
	agora_client_free(a);

	/* A comes back on a new connection, still believing its token. */
	a2 = agh_connect(&agh_srv);
	AGH_OK(a2, agora_lock_open(a2, "lease", &la2));
	AGH_OK(a2, agora_dict_open(a2, "store", &da2));
	ck_assert(!write_if_fenced(a2, la2, f1, false, da2, "A"));
	ck_assert(!write_if_held(a2, la2, da2, "A"));
	AGH_OK(b, agora_dict_len(db, &len));
	ck_assert_uint_eq(len, 0);

	/* B, the holder, goes through with its token, and with held. */
	ck_assert(write_if_fenced(b, lb, f2, true, db, "B"));
	AGH_OK(b, agora_dict_get(db, agora_str("writer"), &got));
	agh_assert_str(got, "B");
	agora_value_free(&got);
	/* A stale token is refused even to the holder. */
	ck_assert(!write_if_fenced(b, lb, f1, false, db, "B-old"));
	ck_assert(write_if_held(b, lb, db, "B2"));
	/* Once B released, its token is stale too. */
	AGH_OK(b, agora_lock_release(lb));
	ck_assert(!write_if_fenced(b, lb, f2, false, db, "B3"));
	ck_assert(!write_if_held(b, lb, db, "B3"));
	AGH_OK(b, agora_dict_get(db, agora_str("writer"), &got));
	agh_assert_str(got, "B2");
	agora_value_free(&got);

	agora_lock_close(la2);
	agora_dict_close(da2);
	agora_client_free(a2);
	agora_lock_close(lb);
	agora_dict_close(db);
}
END_TEST

/* ---- a failure undoes everything ---------------------------------------- */

/* The version of the object of @handle now (a watch, ended at once). */
static uint64_t version_of(agora_client *c, uint32_t handle)
{
	agora_watch_info w;

	AGH_OK(c, agora_watch(c, handle, NULL, NULL, &w));
	AGH_OK(c, agora_unwatch(c, w.watch, NULL));
	return w.version;
}

START_TEST(a_failing_third_call_leaves_everything_as_it_was)
{
	agora_client *c = agh_cli;
	agora_dict *d;
	agora_list *l;
	agora_var *v;
	agora_value got, h[3];
	agora_watch_info wd, wl, wv;
	uint64_t vd, vl, vv;
	const char *branch = NULL;
	size_t index = 99;
	int64_t n = 0;
	bool ok = true;
	const int64_t two[2] = { 1, 2 };

	AGH_OK(c, agora_dict_open(c, "acc.d", &d));
	AGH_OK(c, agora_list_open(c, "acc.l", &l));
	AGH_OK(c, agora_var_open(c, "acc.v", agora_int(10), &v));
	AGH_OK(c, agora_dict_set(d, agora_str("a"), agora_int(1)));
	AGH_OK(c, agora_list_append(l, agora_int(1)));
	AGH_OK(c, agora_list_append(l, agora_int(2)));
	h[0] = agora_uint(agora_dict_handle(d));
	h[1] = agora_uint(agora_list_handle(l));
	h[2] = agora_uint(agora_var_handle(v));
	vd = version_of(c, agora_dict_handle(d));
	vl = version_of(c, agora_list_handle(l));
	vv = version_of(c, agora_var_handle(v));
	/* Watches see no change of a transaction that failed. */
	AGH_OK(c, agora_watch(c, agora_dict_handle(d), NULL, NULL, &wd));
	AGH_OK(c, agora_watch(c, agora_list_handle(l), NULL, NULL, &wl));
	AGH_OK(c, agora_watch(c, agora_var_handle(v), NULL, NULL, &wv));

	agora_txn *t = agora_txn_new(c);
	agora_value set[3] = { h[0], agora_str("a"), agora_int(2) };
	agora_value app[2] = { h[1], agora_int(3) };
	agora_value pop[2] = { h[0], agora_str("nokey") };
	agora_value add[2] = { h[2], agora_int(5) };
	AGH_OK(c, agora_txn_if(t, "eq", "value.get", agora_array(&h[2], 1),
			       agora_int(10)));
	AGH_OK(c, agora_txn_then(t, "dict.set", agora_array(set, 3)));
	AGH_OK(c, agora_txn_then(t, "list.append", agora_array(app, 2)));
	AGH_OK(c, agora_txn_then(t, "dict.pop", agora_array(pop, 2)));
	AGH_OK(c, agora_txn_then(t, "value.add", agora_array(add, 2)));
	AGH_CALL_EQ(c, agora_txn_run(t, &ok), AGORA_EKEY);
	ck_assert_msg(strstr(agora_errmsg(c), "dict.pop") != NULL,
		      "the message does not name the call: %s",
		      agora_errmsg(c));
	ck_assert(agora_txn_failed(t, &branch, &index));
	ck_assert_str_eq(branch, "then");
	ck_assert_uint_eq(index, 2);
	ck_assert_uint_eq(agora_txn_count(t), 0);
	AGH_CALL_EQ(c, agora_txn_result(t, 0, &got), AGORA_EINVAL);

	/* Read back: as before, versions too, and nothing notified. */
	AGH_OK(c, agora_dict_copy(d, &got));
	ck_assert_int_eq(got.type, AGORA_MAP);
	ck_assert_uint_eq(got.via.map.len, 1);
	agh_assert_int(*agh_map_find(got, "a"), 1);
	agora_value_free(&got);
	AGH_OK(c, agora_list_copy(l, &got));
	agh_assert_ints(got, two, 2);
	agora_value_free(&got);
	AGH_OK(c, agora_var_get_int(v, &n));
	ck_assert_int_eq(n, 10);
	ck_assert_uint_eq(version_of(c, agora_dict_handle(d)), vd);
	ck_assert_uint_eq(version_of(c, agora_list_handle(l)), vl);
	ck_assert_uint_eq(version_of(c, agora_var_handle(v)), vv);
	ck_assert_uint_eq(agora_notification_count(c), 0);

	/* The same calls without the failing one go through, each change
	 * notified once. */
	agora_txn_reset(t);
	AGH_OK(c, agora_txn_then(t, "dict.set", agora_array(set, 3)));
	AGH_OK(c, agora_txn_then(t, "list.append", agora_array(app, 2)));
	AGH_OK(c, agora_txn_then(t, "value.add", agora_array(add, 2)));
	AGH_OK(c, agora_txn_run(t, &ok));
	ck_assert(ok);
	ck_assert(!agora_txn_failed(t, NULL, NULL));
	ck_assert_uint_eq(agora_txn_count(t), 3);
	AGH_OK(c, agora_txn_result(t, 2, &got));
	agh_assert_int(got, 15);
	agora_value_free(&got);
	AGH_OK(c, agora_var_get_int(v, &n)); /* the notifications come first */
	ck_assert_int_eq(n, 15);
	ck_assert_uint_eq(agora_notification_count(c), 3);
	ck_assert_uint_gt(version_of(c, agora_var_handle(v)), vv);

	/* A condition whose read call fails (an int and a str do not
	 * order: TYPE) is named in the conditions. */
	agora_txn_reset(t);
	AGH_OK(c, agora_txn_if(t, "exists", "value.get", agora_array(&h[2], 1),
			       agora_nil()));
	AGH_OK(c, agora_txn_if(t, "lt", "value.get", agora_array(&h[2], 1),
			       agora_str("x")));
	AGH_OK(c, agora_txn_then(t, "value.add", agora_array(add, 2)));
	AGH_CALL_EQ(c, agora_txn_run(t, &ok), AGORA_ETYPE);
	ck_assert(agora_txn_failed(t, &branch, &index));
	ck_assert_str_eq(branch, "conditions");
	ck_assert_uint_eq(index, 1);

	/* A call that may wait is refused before anything runs; with block
	 * false it answers at once (EMPTY here, failing the transaction). */
	agora_queue *q;
	AGH_OK(c, agora_queue_open(c, "acc.q", 0, &q));
	agora_value get[2] = { agora_uint(agora_queue_handle(q)),
			       agora_bool(false) };
	agora_txn_reset(t);
	AGH_OK(c, agora_txn_then(t, "value.add", agora_array(add, 2)));
	AGH_OK(c, agora_txn_then(t, "queue.get", agora_array(get, 1)));
	AGH_CALL_EQ(c, agora_txn_run(t, &ok), AGORA_EARGS);
	ck_assert(agora_txn_failed(t, &branch, &index));
	ck_assert_str_eq(branch, "then");
	ck_assert_uint_eq(index, 1);
	agora_txn_reset(t);
	AGH_OK(c, agora_txn_if(t, "missing", "dict.getitem",
			       agora_array(pop, 2), agora_nil()));
	AGH_OK(c, agora_txn_else(t, "value.add", agora_array(add, 2)));
	AGH_OK(c, agora_txn_then(t, "value.add", agora_array(add, 2)));
	AGH_OK(c, agora_txn_then(t, "queue.get", agora_array(get, 2)));
	AGH_CALL_EQ(c, agora_txn_run(t, &ok), AGORA_EEMPTY);
	AGH_OK(c, agora_var_get_int(v, &n));
	ck_assert_int_eq(n, 15);

	agora_txn_free(t);
	agora_queue_close(q);
	agora_dict_close(d);
	agora_list_close(l);
	agora_var_close(v);
}
END_TEST

START_TEST(building_mistakes_are_named_and_nothing_is_sent)
{
	agora_client *c = agh_cli;
	agora_var *v;
	agora_txn *t = agora_txn_new(c);
	agora_value h, add[2];
	int64_t n = 0;
	bool ok = false;

	ck_assert_ptr_null(agora_txn_new(NULL));
	ck_assert_int_eq(agora_txn_run(NULL, &ok), AGORA_EINVAL);
	ck_assert_int_eq(agora_txn_then(NULL, "x.y", agora_array(NULL, 0)),
			 AGORA_EINVAL);
	ck_assert(!agora_txn_failed(NULL, NULL, NULL));
	ck_assert_uint_eq(agora_txn_count(NULL), 0);
	agora_txn_free(NULL);

	AGH_OK(c, agora_var_open(c, "mist.v", agora_int(1), &v));
	h = agora_uint(agora_var_handle(v));
	add[0] = h;
	add[1] = agora_int(1);
	AGH_OK(c, agora_txn_then(t, "value.add", agora_array(add, 2)));
	AGH_CALL_EQ(c,
		    agora_txn_if(t, "bigger", "value.get", agora_array(&h, 1),
				 agora_int(1)),
		    AGORA_EINVAL);
	ck_assert_msg(strstr(agora_errmsg(c), "\"bigger\"") != NULL,
		      "the message does not name the op: %s", agora_errmsg(c));
	AGH_CALL_EQ(c, agora_txn_then(t, "value.add", agora_int(3)),
		    AGORA_EINVAL);
	ck_assert_msg(strstr(agora_errmsg(c), "value.add") != NULL,
		      "the message does not name the call: %s",
		      agora_errmsg(c));
	AGH_CALL_EQ(c, agora_txn_else(t, NULL, agora_array(&h, 1)),
		    AGORA_EINVAL);
	AGH_CALL_EQ(
	    c,
	    agora_txn_if(t, NULL, "value.get", agora_array(&h, 1), agora_nil()),
	    AGORA_EINVAL);
	/* The run refuses, naming the first mistake; nothing was done. */
	AGH_CALL_EQ(c, agora_txn_run(t, &ok), AGORA_EINVAL);
	ck_assert_msg(strstr(agora_errmsg(c), "\"bigger\"") != NULL,
		      "the run does not name the mistake: %s", agora_errmsg(c));
	ck_assert(!agora_txn_failed(t, NULL, NULL));
	AGH_OK(c, agora_var_get_int(v, &n));
	ck_assert_int_eq(n, 1);
	/* A reset clears it. */
	agora_txn_reset(t);
	AGH_OK(c, agora_txn_then(t, "value.add", agora_array(add, 2)));
	AGH_OK(c, agora_txn_run(t, &ok));
	ck_assert(ok);
	AGH_OK(c, agora_var_get_int(v, &n));
	ck_assert_int_eq(n, 2);
	/* Sticky mode: a call not added while an error is latched leaves the
	 * transaction unrunnable once the error is cleared. */
	AGH_OK(c, agora_client_set_sticky(c, true));
	agora_txn_reset(t);
	AGH_OK(c, agora_txn_then(t, "value.add", agora_array(add, 2)));
	ck_assert_int_eq(agora_call(c, "no.such", agora_array(NULL, 0), NULL),
			 AGORA_ENO_METHOD);
	ck_assert_int_eq(agora_txn_then(t, "value.add", agora_array(add, 2)),
			 AGORA_ENO_METHOD);
	ck_assert_int_eq(agora_txn_run(t, &ok), AGORA_ENO_METHOD);
	ck_assert_int_eq(agora_client_clear_error(c), AGORA_ENO_METHOD);
	ck_assert_int_eq(agora_txn_run(t, &ok), AGORA_ENO_METHOD);
	ck_assert_msg(strstr(agora_errmsg(c), "not added") != NULL,
		      "the run does not say a call is missing: %s",
		      agora_errmsg(c));
	AGH_OK(c, agora_client_set_sticky(c, false));
	AGH_OK(c, agora_var_get_int(v, &n));
	ck_assert_int_eq(n, 2);
	/* An empty transaction goes through with no result. */
	agora_txn_reset(t);
	AGH_OK(c, agora_txn_run(t, &ok));
	ck_assert(ok);
	ck_assert_uint_eq(agora_txn_count(t), 0);
	agora_txn_free(t);
	agora_var_close(v);
}
END_TEST

/* ---- waking waits for the commit ---------------------------------------- */

static int getter(agora_client *c, int idx, void *arg)
{
	agora_queue *q;
	agora_value v;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_queue_open(c, "wake.q", 0, &q));
	AGH_WCALL(c, agora_queue_get(q, AGH_WORKER_TIMEOUT, &v));
	/* Never the item of the transaction that failed. */
	AGH_WCHECK(v.type == AGORA_STR && strcmp(v.via.str.ptr, "item") == 0);
	agora_value_free(&v);
	AGH_WCALL(c, agora_queue_close(q));
	return 0;
}

START_TEST(a_failed_put_wakes_nobody_and_a_committed_one_wakes_the_getter)
{
	agora_client *c = agh_cli;
	agora_queue *q;
	agora_dict *d;
	agora_txn *t = agora_txn_new(c);
	size_t n = 9;
	bool ok = false;
	pid_t pid;

	AGH_OK(c, agora_queue_open(c, "wake.q", 0, &q));
	AGH_OK(c, agora_dict_open(c, "wake.d", &d));
	pid = agh_spawn(getter, 0, NULL);
	agh_wait_waiters(c, agora_queue_handle(q), 1);

	/* A put may wait (for room): in a transaction it says not to. */
	agora_value early[3] = { agora_uint(agora_queue_handle(q)),
				 agora_str("early"), agora_bool(false) };
	agora_value item[3] = { agora_uint(agora_queue_handle(q)),
				agora_str("item"), agora_bool(false) };
	agora_value pop[2] = { agora_uint(agora_dict_handle(d)),
			       agora_str("nokey") };
	AGH_OK(c, agora_txn_then(t, "queue.put", agora_array(early, 3)));
	AGH_OK(c, agora_txn_then(t, "dict.pop", agora_array(pop, 2)));
	AGH_CALL_EQ(c, agora_txn_run(t, &ok), AGORA_EKEY);
	/* Had the put woken the getter, it would be served by now (the
	 * server serves waiters before it reads the next request). */
	ck_assert_int_eq(agh_info_int(c, agora_queue_handle(q), "waiters"), 1);
	AGH_OK(c, agora_queue_qsize(q, &n));
	ck_assert_uint_eq(n, 0);

	agora_txn_reset(t);
	AGH_OK(c, agora_txn_then(t, "queue.put", agora_array(item, 3)));
	AGH_OK(c, agora_txn_run(t, &ok));
	ck_assert(ok);
	agh_wait_ok(pid);
	AGH_OK(c, agora_queue_qsize(q, &n));
	ck_assert_uint_eq(n, 0);
	agora_txn_free(t);
	agora_queue_close(q);
	agora_dict_close(d);
}
END_TEST

/* Pack a txn request @msgid on @pk whose then branch is @ncalls calls on
 * the queue @h: put @item (block false), then get_nowait (@ncalls - 1)
 * times. */
static void pack_put_txn(msgpack_packer *pk, uint32_t msgid, uint64_t h,
			 const char *item, int ncalls)
{
	agh_pack_head(pk, msgid, "txn", 3);
	msgpack_pack_array(pk, 0);
	msgpack_pack_array(pk, (size_t)ncalls);
	msgpack_pack_array(pk, 2);
	msgpack_pack_str_with_body(pk, "queue.put", 9);
	msgpack_pack_array(pk, 3);
	msgpack_pack_uint64(pk, h);
	msgpack_pack_str_with_body(pk, item, strlen(item));
	msgpack_pack_false(pk); /* block: a transaction never waits */
	for (int i = 1; i < ncalls; i++) {
		msgpack_pack_array(pk, 2);
		msgpack_pack_str_with_body(pk, "queue.get_nowait", 16);
		msgpack_pack_array(pk, 1);
		msgpack_pack_uint64(pk, h);
	}
	msgpack_pack_array(pk, 0);
}

/* The msgid of the response @o ([1, msgid, error, result]). */
static uint64_t response_msgid(msgpack_object o)
{
	ck_assert(o.type == MSGPACK_OBJECT_ARRAY && o.via.array.size == 4);
	ck_assert_int_eq(o.via.array.ptr[1].type,
			 MSGPACK_OBJECT_POSITIVE_INTEGER);
	return o.via.array.ptr[1].via.u64;
}

START_TEST(on_one_connection_the_answer_comes_before_the_woken_get)
{
	agh_raw *r = agh_raw_connect(&agh_srv);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked m;
	msgpack_object res, err;
	uint64_t h;

	agh_raw_handshake(r, &agh_srv);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	agh_pack_head(&pk, 3, "open", 3);
	msgpack_pack_str_with_body(&pk, "queue", 5);
	msgpack_pack_str_with_body(&pk, "raw.q", 5);
	msgpack_pack_map(&pk, 0);
	agh_raw_send_sbuf(r, &sb);
	msgpack_unpacked_init(&m);
	ck_assert_int_eq(agh_raw_read(r, &m, AGH_RAW_TIMEOUT), 1);
	res = agh_ok_result(m.data, 3);
	ck_assert_int_eq(res.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	h = res.via.u64;

	/* A get parks (4); a transaction that puts, takes it back and
	 * fails on an empty queue (5) wakes nobody: the next answer is the
	 * failure, then the ping's (6), not the get's. */
	agh_pack_head(&pk, 4, "queue.get", 1);
	msgpack_pack_uint64(&pk, h);
	pack_put_txn(&pk, 5, h, "early", 3);
	agh_pack_head(&pk, 6, "ping", 1);
	msgpack_pack_int(&pk, 6);
	agh_raw_send_sbuf(r, &sb);
	ck_assert_int_eq(agh_raw_read(r, &m, AGH_RAW_TIMEOUT), 1);
	ck_assert_uint_eq(response_msgid(m.data), 5);
	err = m.data.via.array.ptr[2];
	ck_assert_int_eq(err.type, MSGPACK_OBJECT_ARRAY);
	ck_assert_uint_eq(err.via.array.size, 4);
	ck_assert_uint_eq(err.via.array.ptr[0].via.u64, -AGORA_EEMPTY);
	ck_assert_int_eq(agh_raw_read(r, &m, AGH_RAW_TIMEOUT), 1);
	ck_assert_uint_eq(response_msgid(m.data), 6);

	/* A transaction that puts (7): its answer first, then the get's
	 * with the item. */
	pack_put_txn(&pk, 7, h, "item", 1);
	agh_raw_send_sbuf(r, &sb);
	ck_assert_int_eq(agh_raw_read(r, &m, AGH_RAW_TIMEOUT), 1);
	ck_assert_uint_eq(response_msgid(m.data), 7);
	res = agh_ok_result(m.data, 7);
	ck_assert_int_eq(res.type, MSGPACK_OBJECT_MAP);
	ck_assert_int_eq(agh_raw_read(r, &m, AGH_RAW_TIMEOUT), 1);
	res = agh_ok_result(m.data, 4);
	ck_assert_int_eq(res.type, MSGPACK_OBJECT_STR);
	ck_assert_int_eq(res.via.str.size, 4);
	ck_assert(memcmp(res.via.str.ptr, "item", 4) == 0);

	msgpack_unpacked_destroy(&m);
	msgpack_sbuffer_destroy(&sb);
	agh_raw_free(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("txn");
	TCase *tc;

	agh_tcase(s, "bank", the_sum_never_changes_while_tellers_are_killed);
	tc = agh_tcase_bare(s, "bank_crash",
			    the_sum_is_exact_after_agorad_is_killed);
	tcase_add_unchecked_fixture(tc, agh_datadir_make, agh_datadir_remove);
	AGH_ADD(s, a_holder_that_lost_its_lock_is_refused_and_writes_nothing);
	AGH_ADD(s, a_failing_third_call_leaves_everything_as_it_was);
	AGH_ADD(s, building_mistakes_are_named_and_nothing_is_sent);
	AGH_ADD(s,
		a_failed_put_wakes_nobody_and_a_committed_one_wakes_the_getter);
	AGH_ADD(s, on_one_connection_the_answer_comes_before_the_woken_get);
	return agh_run_suite(s);
}
