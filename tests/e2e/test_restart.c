/*
 * test_restart.c - restart and existence (protocol sections 2 and 3.1):
 * the run id a server draws at each start, its start time and uptime, and
 * open's options create (join only) and exclusive (create only), through
 * agora_server_run_id() and agora_open_ex().
 *
 * A restart is done as an operator does it: agorad stopped, and a new one
 * started on the same socket path with the same key file, which the
 * harness's servers get here as a second --listen and a later
 * --authkey-file; the worker's client connects again to the same address.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define RACERS 8
#define RACE_ROUNDS 5

/* ---- helpers ---- */

/* Require @s to be a run id: 32 lowercase hex digits. */
static void assert_run_id(const char *s)
{
	ck_assert_msg(strlen(s) == 32, "run id \"%s\" is not 32 digits", s);
	for (const char *p = s; *p; p++)
		ck_assert_msg((*p >= '0' && *p <= '9') ||
				  (*p >= 'a' && *p <= 'f'),
			      "run id \"%s\" is not lowercase hex", s);
}

/* The float (or integer) field @key of @map; fails the test otherwise. */
static double map_num(agora_value map, const char *key)
{
	const agora_value *v = agh_map_find(map, key);

	ck_assert_msg(v != NULL, "no %s in the map", key);
	if (v->type == AGORA_FLOAT)
		return v->via.f;
	return (double)agh_map_int(map, key);
}

static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Whether `ls` lists the name @name. */
static bool ls_has(agora_client *c, const char *name)
{
	agora_value ls;
	bool found = false;

	AGH_OK(c, agora_ls(c, &ls));
	ck_assert_int_eq(ls.type, AGORA_ARRAY);
	for (size_t i = 0; i < ls.via.array.len; i++) {
		const agora_value *n =
		    agh_map_find(ls.via.array.items[i], "name");
		if (n != NULL && n->type == AGORA_STR &&
		    n->via.str.len == strlen(name) &&
		    memcmp(n->via.str.ptr, name, n->via.str.len) == 0)
			found = true;
	}
	agora_value_free(&ls);
	return found;
}

/* ---- the run id, the start time, the uptime ---- */

START_TEST(run_id_is_one_per_server_start_and_stats_agree)
{
	agh_server s;
	double before = wall_now(), mono_before = agh_now();

	agh_server_start(&s);
	double after = wall_now();
	agora_client *a = agh_connect(&s), *b = agh_connect(&s);
	char run[64];

	snprintf(run, sizeof(run), "%s", agora_server_run_id(a));
	assert_run_id(run);
	ck_assert_str_eq(agora_server_run_id(b), run);

	agora_value st;
	AGH_OK(a, agora_stats(a, &st));
	agh_assert_str(*agh_map_find(st, "run"), run);
	double started = map_num(st, "started");
	double uptime = map_num(st, "uptime");
	/* The server started between the two readings of the clock that
	 * bracket its start (a millisecond of slack for the clock's
	 * rounding). */
	ck_assert_msg(started >= before - 0.001 && started <= after + 0.001,
		      "started %.3f is not within [%.3f, %.3f]", started,
		      before, after);
	ck_assert_msg(uptime >= 0 && uptime <= agh_now() - mono_before + 0.001,
		      "uptime %.3f is not within the %.3f s since the start",
		      uptime, agh_now() - mono_before);
	agora_value_free(&st);

	/* A later stats: the same run and start, an uptime not smaller. */
	AGH_OK(b, agora_stats(b, &st));
	agh_assert_str(*agh_map_find(st, "run"), run);
	ck_assert(map_num(st, "started") == started);
	ck_assert(map_num(st, "uptime") >= uptime);
	agora_value_free(&st);

	agora_client_free(a);
	agora_client_free(b);
	agh_server_stop(&s);
}
END_TEST

START_TEST(reconnecting_after_a_restart_sees_a_new_run_and_no_old_names)
{
	char dir[] = "/tmp/agora-restart-XXXXXX";
	char sock[128], addr[160], keyfile[128];
	unsigned char key[AGH_KEYLEN];
	agh_server s;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/agora.sock", dir);
	snprintf(addr, sizeof(addr), "unix:%s", sock);
	snprintf(keyfile, sizeof(keyfile), "%s/key", dir);
	ck_assert_int_eq(getrandom(key, sizeof(key), 0), sizeof(key));
	FILE *f = fopen(keyfile, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fchmod(fileno(f), 0600), 0);
	ck_assert_int_eq(fwrite(key, 1, sizeof(key), f), sizeof(key));
	ck_assert_int_eq(fclose(f), 0);
	const char *const args[] = { "--listen", addr, "--authkey-file",
				     keyfile, NULL };

	/* The first run: a coordinator makes "jobs" and puts work in it. */
	agh_server_start_args(&s, args);
	agora_client *c = agora_client_new();
	AGH_OK(c, agora_client_connect(c, addr, key, sizeof(key)));
	char run1[64];
	snprintf(run1, sizeof(run1), "%s", agora_server_run_id(c));
	assert_run_id(run1);
	agora_queue *q = NULL;
	AGH_OK(c, agora_open_ex(c, "queue", "jobs", NULL, 0,
				AGORA_OPEN_EXCLUSIVE, &q));
	AGH_OK(c, agora_queue_put(q, agora_int(7), -1));
	agora_client *again = agora_client_new();
	AGH_OK(again, agora_client_connect(again, addr, key, sizeof(key)));
	ck_assert_str_eq(agora_server_run_id(again), run1);
	agora_client_free(again);
	agh_server_stop(&s);
	ck_assert(!agh_path_exists(sock));

	/* The second run, same path, same key. */
	agh_server_start_args(&s, args);
	ck_assert_int_eq(agora_ping(c), AGORA_EIO); /* the old connection */
	/* The proxy of the connection that is gone: freed, nothing sent. */
	ck_assert_int_eq(agora_queue_close(q), AGORA_EIO);
	AGH_OK(c, agora_client_connect(c, addr, key, sizeof(key)));
	assert_run_id(agora_server_run_id(c));
	ck_assert_str_ne(agora_server_run_id(c), run1);
	/* A worker that insists on joining learns the queue is not there,
	 * rather than waiting on a new empty one. */
	q = NULL;
	AGH_CALL_EQ(c,
		    agora_open_ex(c, "queue", "jobs", NULL, 0,
				  AGORA_OPEN_NO_CREATE, &q),
		    AGORA_ENO_OBJECT);
	ck_assert_ptr_null(q);
	ck_assert(!ls_has(c, "jobs"));
	agora_client_free(c);
	agh_server_stop(&s);
	unlink(keyfile);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* ---- create=false ---- */

START_TEST(open_without_create_is_no_object_and_creates_nothing)
{
	agora_client *c = agh_cli;
	agora_queue *q = NULL, *joined = NULL;
	int64_t objects = agh_stats_int(c, "objects");

	AGH_CALL_EQ(c,
		    agora_open_ex(c, "queue", "jobs", NULL, 0,
				  AGORA_OPEN_NO_CREATE, &q),
		    AGORA_ENO_OBJECT);
	ck_assert_ptr_null(q);
	ck_assert(!ls_has(c, "jobs"));
	ck_assert_int_eq(agh_stats_int(c, "objects"), objects);

	/* Once made, the same call joins it: what one puts the other gets. */
	AGH_OK(c, agora_queue_open(c, "jobs", 0, &q));
	AGH_OK(c, agora_open_ex(c, "queue", "jobs", NULL, 0,
				AGORA_OPEN_NO_CREATE, &joined));
	AGH_OK(c, agora_queue_put(q, agora_int(42), -1));
	int64_t got = 0;
	AGH_OK(c, agora_queue_get_int(joined, 5.0, &got));
	ck_assert_int_eq(got, 42);
	/* Joining ignores the creation options, as get-or-create does. */
	agora_queue *j2 = NULL;
	agora_pair o = { agora_str("maxsize"), agora_int(-1) };
	AGH_OK(c, agora_open_ex(c, "queue", "jobs", &o, 1, AGORA_OPEN_NO_CREATE,
				&j2));
	/* Joining a name of another type is TYPE, as without the flag. */
	agora_dict *d = NULL;
	AGH_CALL_EQ(
	    c,
	    agora_open_ex(c, "dict", "jobs", NULL, 0, AGORA_OPEN_NO_CREATE, &d),
	    AGORA_ETYPE);
	ck_assert_ptr_null(d);
	AGH_OK(c, agora_queue_close(j2));
	AGH_OK(c, agora_queue_close(joined));
	AGH_OK(c, agora_queue_close(q));
}
END_TEST

START_TEST(open_ex_refuses_what_could_never_work)
{
	agora_client *c = agh_cli;
	agora_list *l = NULL;
	int64_t objects = agh_stats_int(c, "objects");

	/* An anonymous open always creates. */
	AGH_CALL_EQ(
	    c,
	    agora_open_ex(c, "list", NULL, NULL, 0, AGORA_OPEN_NO_CREATE, &l),
	    AGORA_EARGS);
	AGH_CALL_EQ(c,
		    agora_open_ex(c, "list", "both", NULL, 0,
				  AGORA_OPEN_NO_CREATE | AGORA_OPEN_EXCLUSIVE,
				  &l),
		    AGORA_EARGS);
	AGH_CALL_EQ(c, agora_open_ex(c, "lists", "x", NULL, 0, 0, &l),
		    AGORA_EINVAL);
	AGH_CALL_EQ(c, agora_open_ex(c, "list", "x", NULL, 0, 0x10, &l),
		    AGORA_EINVAL);
	ck_assert_ptr_null(l);
	ck_assert_int_eq(agh_stats_int(c, "objects"), objects);
	ck_assert(!ls_has(c, "both") && !ls_has(c, "x"));

	/* No flags: get-or-create, as agora_list_open(). */
	agora_list *a = NULL, *b = NULL;
	AGH_OK(c, agora_open_ex(c, "list", "x", NULL, 0, 0, &a));
	AGH_OK(c, agora_open_ex(c, "list", "x", NULL, 0, 0, &b));
	AGH_OK(c, agora_list_append(a, agora_int(1)));
	size_t n = 0;
	AGH_OK(c, agora_list_len(b, &n));
	ck_assert_uint_eq(n, 1);
	AGH_OK(c, agora_list_close(a));
	AGH_OK(c, agora_list_close(b));
}
END_TEST

/* ---- exclusive=true ---- */

START_TEST(exclusive_open_creates_once_then_is_exists_whatever_the_type)
{
	agora_client *c = agh_cli;
	agora_queue *q = NULL, *q2 = NULL;
	agora_pair o = { agora_str("maxsize"), agora_int(2) };

	AGH_OK(c, agora_open_ex(c, "queue", "work", &o, 1, AGORA_OPEN_EXCLUSIVE,
				&q));
	ck_assert_int_eq(agh_info_int(c, agora_queue_handle(q), "maxsize"), 2);
	AGH_CALL_EQ(
	    c,
	    agora_open_ex(c, "queue", "work", &o, 1, AGORA_OPEN_EXCLUSIVE, &q2),
	    AGORA_EEXISTS);
	ck_assert_str_eq(agora_errname(AGORA_EEXISTS), "EXISTS");
	agora_lock *l = NULL;
	AGH_CALL_EQ(
	    c,
	    agora_open_ex(c, "lock", "work", NULL, 0, AGORA_OPEN_EXCLUSIVE, &l),
	    AGORA_EEXISTS);
	ck_assert_ptr_null(q2);
	ck_assert_ptr_null(l);
	/* The object is untouched: still the one queue of maxsize 2. */
	AGH_OK(c, agora_queue_put(q, agora_int(1), -1));
	AGH_OK(c, agora_queue_put(q, agora_int(2), -1));
	ck_assert_int_eq(agora_queue_put(q, agora_int(3), 0), AGORA_EFULL);
	AGH_OK(c, agora_queue_close(q));

	/* A shared row opens as its C type: a bounded semaphore. */
	agora_semaphore *s = NULL;
	agora_pair v = { agora_str("value"), agora_int(1) };
	AGH_OK(c, agora_open_ex(c, "bounded_semaphore", "slots", &v, 1,
				AGORA_OPEN_EXCLUSIVE, &s));
	bool got = false;
	AGH_OK(c, agora_semaphore_acquire(s, 0, &got));
	ck_assert(got);
	AGH_OK(c, agora_semaphore_release(s, 1));
	ck_assert_int_eq(agora_semaphore_release(s, 1), AGORA_EVALUE);
	AGH_OK(c, agora_semaphore_close(s));

	/* Anonymous: each exclusive open is a new object. */
	agora_list *a = NULL, *b = NULL;
	AGH_OK(c, agora_open_ex(c, "list", NULL, NULL, 0, AGORA_OPEN_EXCLUSIVE,
				&a));
	AGH_OK(c, agora_open_ex(c, "list", NULL, NULL, 0, AGORA_OPEN_EXCLUSIVE,
				&b));
	ck_assert_int_ne(agh_info_int(c, agora_list_handle(a), "id"),
			 agh_info_int(c, agora_list_handle(b), "id"));
	AGH_OK(c, agora_list_close(a));
	AGH_OK(c, agora_list_close(b));
}
END_TEST

/* A racer: meet the others at the barrier, then open "race.N" exclusively.
 * Exits 0 when it made the lock, 2 on EXISTS, 1 else. */
static int racer(agora_client *c, int idx, void *arg)
{
	int round = *(const int *)arg;
	char name[32], meet[32];
	agora_barrier *b;
	agora_lock *l = NULL;
	int64_t at;

	(void)idx;
	snprintf(name, sizeof(name), "race.%d", round);
	snprintf(meet, sizeof(meet), "meet.%d", round);
	AGH_WCALL(c, agora_barrier_open(c, meet, RACERS, &b));
	AGH_WCALL(c, agora_barrier_wait(b, 60.0, &at));
	AGH_WCALL(c, agora_barrier_close(b));
	int rc =
	    agora_open_ex(c, "lock", name, NULL, 0, AGORA_OPEN_EXCLUSIVE, &l);
	if (rc == AGORA_EEXISTS)
		return l == NULL ? 2 : 1;
	AGH_WCALL(c, rc);
	AGH_WCALL(c, agora_lock_close(l));
	return 0;
}

START_TEST(eight_processes_open_one_name_exclusively_and_one_wins)
{
	agora_client *c = agh_cli;

	for (int round = 0; round < RACE_ROUNDS; round++) {
		pid_t pids[RACERS];
		int won = 0, exists = 0;

		for (int i = 0; i < RACERS; i++)
			pids[i] = agh_spawn(racer, i, &round);
		for (int i = 0; i < RACERS; i++) {
			int st = agh_wait_pid(pids[i], AGH_WORKER_TIMEOUT);
			ck_assert_msg(WIFEXITED(st), "racer %d died", i);
			if (WEXITSTATUS(st) == 0)
				won++;
			else if (WEXITSTATUS(st) == 2)
				exists++;
			else
				ck_abort_msg("racer %d failed (exit %d)", i,
					     WEXITSTATUS(st));
		}
		ck_assert_int_eq(won, 1);
		ck_assert_int_eq(exists, RACERS - 1);
		/* The one lock the winner made is there. */
		char name[32];
		snprintf(name, sizeof(name), "race.%d", round);
		ck_assert(ls_has(c, name));
		agora_lock *l = NULL;
		AGH_OK(c, agora_open_ex(c, "lock", name, NULL, 0,
					AGORA_OPEN_NO_CREATE, &l));
		AGH_OK(c, agora_lock_close(l));
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("restart");

	AGH_ADD_BARE(s, run_id_is_one_per_server_start_and_stats_agree);
	AGH_ADD_BARE(
	    s, reconnecting_after_a_restart_sees_a_new_run_and_no_old_names);
	AGH_ADD(s, open_without_create_is_no_object_and_creates_nothing);
	AGH_ADD(s, open_ex_refuses_what_could_never_work);
	AGH_ADD(s,
		exclusive_open_creates_once_then_is_exists_whatever_the_type);
	AGH_ADD(s, eight_processes_open_one_name_exclusively_and_one_wins);
	return agh_run_suite(s);
}
