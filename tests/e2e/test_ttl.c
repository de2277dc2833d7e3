/*
 * test_ttl.c - names with a time to live (docs/protocol.md section 3.1:
 * open's option ttl, the server methods expire and ttl), and the
 * lifetimes of names across restarts (section 10).
 *
 *   - a name read after its deadline is never returned: ls, open with
 *     create false, ttl and drop, polled as fast as they answer around
 *     the deadline, never find it once the deadline (a wall-clock time)
 *     has passed, and always do before; a handle opened before keeps the
 *     object, and open makes a new one;
 *   - expire sets, replaces and clears a deadline, ttl reads it, on a name
 *     or a handle, with clear errors for what they refuse;
 *   - with nothing looking, the timer drops the name (the object goes
 *     when nothing else holds it);
 *   - with --data-dir: deadlines come back as the same wall-clock times,
 *     from the journal (after a crash) and from a snapshot; a name whose
 *     deadline passed while the server was down is gone on start; an
 *     ephemeral name is gone after any restart.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

/* The wall clock, as the server's deadlines are (CLOCK_REALTIME). */
static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ls's entry for @name copied into *ret (may be NULL); false when none. */
static bool ls_entry(agora_client *c, const char *name, agora_value *ret)
{
	agora_value ls;
	bool found = false;

	AGH_OK(c, agora_ls(c, &ls));
	for (size_t i = 0; i < ls.via.array.len && !found; i++) {
		const agora_value *n =
		    agh_map_find(ls.via.array.items[i], "name");
		if (n->type == AGORA_STR && n->via.str.len == strlen(name) &&
		    memcmp(n->via.str.ptr, name, n->via.str.len) == 0) {
			found = true;
			if (ret != NULL)
				AGH_OK(c, agora_value_copy(
					      ls.via.array.items[i], ret));
		}
	}
	agora_value_free(&ls);
	return found;
}

/* A float field of map @m (absent: NAN; ttl and expires are there only
 * for a name with a deadline). */
static double map_float(agora_value m, const char *key)
{
	const agora_value *v = agh_map_find(m, key);

	if (v == NULL)
		return NAN;
	ck_assert_int_eq(v->type, AGORA_FLOAT);
	return v->via.f;
}

/* open @type @name with the option ttl @ttl (a number), as a handle. */
static int open_ttl(agora_client *c, const char *type, const char *name,
		    agora_value ttl, uint32_t *ret)
{
	agora_pair opt = { agora_str("ttl"), ttl };
	agora_value p[3] = { agora_str(type),
			     name ? agora_str(name) : agora_nil(),
			     agora_map(&opt, 1) };
	agora_value h;
	int rc = agora_call(c, "open", agora_array(p, 3), &h);

	if (rc == 0) {
		int64_t n = 0;
		ck_assert_int_eq(agora_value_to_int(h, &n), 0);
		*ret = (uint32_t)n;
	}
	return rc;
}

/* open @name as a value with create false: 0 or AGORA_ENO_OBJECT. */
static int join(agora_client *c, const char *name)
{
	agora_var *v;
	int rc =
	    agora_open_ex(c, "value", name, NULL, 0, AGORA_OPEN_NO_CREATE, &v);

	if (rc == 0)
		agora_var_close(v);
	return rc;
}

START_TEST(a_name_read_after_its_deadline_is_never_returned)
{
	agora_client *c = agh_cli;
	/* Long enough for reads before it under valgrind and ASan too. */
	const double ttl = agh_under_valgrind() || agh_under_asan() ? 2 : 0.5;
	uint32_t h;
	unsigned before = 0, after = 0;

	double t0 = wall_now();
	AGH_OK(c, open_ttl(c, "value", "short", agora_float(ttl), &h));
	double t1 = wall_now();
	double limit = agh_now() + AGH_STATE_TIMEOUT;
	/* The server's deadline is in [t0 + ttl, t1 + ttl]. Read until
	 * 50 rounds of reads were sent after it. */
	while (after < 50) {
		double sent = wall_now();
		ck_assert_msg(agh_now() < limit, "the reads took too long");
		bool listed = ls_entry(c, "short", NULL);
		int joined = join(c, "short");
		double left = -2;
		int rc = agora_ttl(c, "short", &left);
		double got = wall_now();
		ck_assert(joined == 0 || joined == AGORA_ENO_OBJECT);
		ck_assert(rc == 0 || rc == AGORA_ENO_OBJECT);
		if (sent > t1 + ttl) {
			/* Past the deadline: found by nobody. */
			ck_assert_msg(!listed && joined == AGORA_ENO_OBJECT &&
					  rc == AGORA_ENO_OBJECT,
				      "read %.3f s after its deadline: ls %d, "
				      "open %d, ttl %d",
				      sent - (t1 + ttl), listed, joined, rc);
			after++;
		} else if (got < t0 + ttl) {
			/* Answered before it: still there. */
			ck_assert(listed && joined == 0 && rc == 0);
			ck_assert(left > 0 && left <= ttl);
			before++;
		}
	}
	printf("reads before the deadline: %u, after: %u\n", before, after);
	ck_assert_uint_gt(before, 0);
	ck_assert_uint_gt(after, 0);

	/* The handle opened before keeps the object; open makes anew. */
	agora_value v, info;
	agora_value hv = agora_uint(h);
	AGH_OK(c, agora_call(c, "value.get", agora_array(&hv, 1), &v));
	agh_assert_int(v, 0);
	AGH_OK(c, agora_info(c, h, &info));
	ck_assert_int_eq(agh_map_find(info, "name")->type, AGORA_NIL);
	ck_assert(isnan(map_float(info, "ttl")));
	agora_value_free(&info);
	bool existed = true;
	AGH_OK(c, agora_drop(c, "short", &existed));
	ck_assert(!existed);
	agora_var *nv;
	AGH_OK(c, agora_open_ex(c, "value", "short", NULL, 0,
				AGORA_OPEN_EXCLUSIVE, &nv));
	double left = 0;
	AGH_OK(c, agora_ttl(c, "short", &left));
	ck_assert(left == -1);
	agora_var_close(nv);
}
END_TEST

START_TEST(expire_sets_replaces_and_clears_and_ttl_reads)
{
	agora_client *c = agh_cli;
	agora_dict *d;
	double left = 0;
	agora_value info, res, p[2];

	AGH_OK(c, agora_dict_open(c, "d", &d));
	AGH_OK(c, agora_ttl(c, "d", &left));
	ck_assert(left == -1);
	AGH_OK(c, agora_expire(c, "d", 100));
	AGH_OK(c, agora_ttl(c, "d", &left));
	ck_assert_msg(left > 99 && left <= 100, "ttl %f", left);
	/* info and ls show it: seconds left, and the wall-clock deadline. */
	AGH_OK(c, agora_info(c, agora_dict_handle(d), &info));
	double expires = map_float(info, "expires");
	ck_assert(fabs(expires - (wall_now() + 100)) < 5);
	ck_assert(map_float(info, "ttl") > 99);
	agora_value_free(&info);
	agora_value e;
	ck_assert(ls_entry(c, "d", &e));
	ck_assert(map_float(e, "expires") == expires);
	ck_assert_ptr_null(agh_map_find(e, "ephemeral_owner"));
	agora_value_free(&e);

	/* Replaced, by handle; then cleared (0 is nil on the wire). */
	p[0] = agora_uint(agora_dict_handle(d));
	p[1] = agora_int(5);
	AGH_OK(c, agora_call(c, "expire", agora_array(p, 2), &res));
	ck_assert_int_eq(res.type, AGORA_NIL);
	AGH_OK(c, agora_call(c, "ttl", agora_array(p, 1), &res));
	ck_assert(res.type == AGORA_FLOAT && res.via.f > 4 && res.via.f <= 5);
	AGH_OK(c, agora_expire(c, "d", 0));
	AGH_OK(c, agora_ttl(c, "d", &left));
	ck_assert(left == -1);

	/* What they refuse, with a message naming it. */
	AGH_CALL_EQ(c, agora_expire(c, "nothing", 5), AGORA_ENO_OBJECT);
	ck_assert_ptr_nonnull(strstr(agora_errmsg(c), "nothing"));
	AGH_CALL_EQ(c, agora_ttl(c, "nothing", &left), AGORA_ENO_OBJECT);
	AGH_CALL_EQ(c, agora_expire(c, "d", -1), AGORA_EVALUE);
	AGH_CALL_EQ(c, agora_expire(c, "d", 2e9), AGORA_EVALUE);
	ck_assert_ptr_nonnull(strstr(agora_errmsg(c), "at most 1000000000"));
	p[0] = agora_str("d");
	p[1] = agora_str("soon");
	AGH_CALL_EQ(c, agora_call(c, "expire", agora_array(p, 2), &res),
		    AGORA_EARGS);
	ck_assert_ptr_nonnull(strstr(agora_errmsg(c), "soon"));
	p[0] = agora_float(1.5);
	p[1] = agora_int(5);
	AGH_CALL_EQ(c, agora_call(c, "expire", agora_array(p, 2), &res),
		    AGORA_EARGS);
	p[0] = agora_uint(999);
	AGH_CALL_EQ(c, agora_call(c, "ttl", agora_array(p, 1), &res),
		    AGORA_ENO_OBJECT);
	/* An anonymous object has no name to expire. */
	uint32_t h;
	agora_list *l;
	AGH_OK(c, agora_list_open(c, NULL, &l));
	p[0] = agora_uint(agora_list_handle(l));
	p[1] = agora_int(5);
	AGH_CALL_EQ(c, agora_call(c, "expire", agora_array(p, 2), &res),
		    AGORA_ENO_OBJECT);
	ck_assert_ptr_nonnull(strstr(agora_errmsg(c), "no name"));
	agora_list_close(l);
	/* open's ttl: a number more than 0, for a name. */
	AGH_CALL_EQ(c, open_ttl(c, "list", "l", agora_str("soon"), &h),
		    AGORA_EARGS);
	AGH_CALL_EQ(c, open_ttl(c, "list", "l", agora_int(0), &h),
		    AGORA_EVALUE);
	AGH_CALL_EQ(c, open_ttl(c, "list", "l", agora_float(NAN), &h),
		    AGORA_EVALUE);
	AGH_CALL_EQ(c, open_ttl(c, "list", NULL, agora_int(5), &h),
		    AGORA_EARGS);
	ck_assert(!ls_entry(c, "l", NULL));
	/* On an existing name open's ttl is ignored, as the type's options
	 * are: expire changes it. */
	AGH_OK(c, open_ttl(c, "dict", "d", agora_int(5), &h));
	AGH_OK(c, agora_ttl(c, "d", &left));
	ck_assert(left == -1);
	agora_dict_close(d);
}
END_TEST

START_TEST(with_nothing_looking_the_timer_drops_the_name)
{
	agora_client *c = agh_cli;
	uint32_t h;
	agora_value res, p = agora_uint(0);

	int64_t objects = agh_stats_int(c, "objects");
	AGH_OK(c, open_ttl(c, "list", "gone-soon", agora_float(0.2), &h));
	p.via.u = h;
	AGH_OK(c, agora_call(c, "close", agora_array(&p, 1), &res));
	/* Only the name holds it: stats (which looks up no name) sees it
	 * freed once the timer dropped the name. */
	ck_assert_int_eq(agh_stats_int(c, "objects"), objects + 1);
	agh_wait_stats(c, "objects", objects);
	ck_assert(!ls_entry(c, "gone-soon", NULL));
}
END_TEST

/* ---- restarts with a data directory ---- */

/* The deadline ls shows for @name (NAN: none); fails when no such name. */
static double expires_of(agora_client *c, const char *name)
{
	agora_value e;

	ck_assert_msg(ls_entry(c, name, &e), "%s is gone", name);
	double x = map_float(e, "expires");
	agora_value_free(&e);
	return x;
}

/* Wait (bounded) until the wall clock passes @t. */
static void wait_wall(double t)
{
	double limit = agh_now() + AGH_STATE_TIMEOUT;

	while (wall_now() <= t) {
		ck_assert_msg(agh_now() < limit, "the clock did not pass");
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	}
}

/* Make the objects of the restart tests: "long" (ttl 1000), "set"
 * (expire 500), "cleared" (ttl then cleared), "short" (ttl @short),
 * "keep" and the ephemeral "eph", each a value. */
static void make(agora_client *c, double short_ttl, agora_var **eph)
{
	uint32_t h;
	agora_var *v;

	AGH_OK(c, open_ttl(c, "value", "long", agora_int(1000), &h));
	AGH_OK(c, agora_var_open(c, "set", agora_int(0), &v));
	AGH_OK(c, agora_expire(c, "set", 500));
	agora_var_close(v);
	AGH_OK(c, open_ttl(c, "value", "cleared", agora_int(1000), &h));
	AGH_OK(c, agora_expire(c, "cleared", 0));
	AGH_OK(c, open_ttl(c, "value", "short", agora_float(short_ttl), &h));
	AGH_OK(c, agora_var_open(c, "keep", agora_int(0), &v));
	agora_var_close(v);
	AGH_OK(c, agora_open_ex(c, "value", "eph", NULL, 0,
				AGORA_OPEN_EPHEMERAL, eph));
}

/* After a restart: the same deadlines, "short" and "eph" gone. */
static void check(agora_client *c, double want_long, double want_set,
		  const char *when)
{
	double left;

	ck_assert_msg(expires_of(c, "long") == want_long,
		      "%s: long expires at %f, not %f", when,
		      expires_of(c, "long"), want_long);
	ck_assert_msg(expires_of(c, "set") == want_set, "%s: set", when);
	ck_assert_msg(isnan(expires_of(c, "cleared")), "%s: cleared", when);
	ck_assert_msg(isnan(expires_of(c, "keep")), "%s: keep", when);
	ck_assert_msg(!ls_entry(c, "short", NULL), "%s: short is back", when);
	ck_assert_msg(!ls_entry(c, "eph", NULL), "%s: eph is back", when);
	AGH_CALL_EQ(c, join(c, "short"), AGORA_ENO_OBJECT);
	AGH_CALL_EQ(c, join(c, "eph"), AGORA_ENO_OBJECT);
	AGH_OK(c, agora_ttl(c, "long", &left));
	ck_assert(left > 900 && left <= 1000);
}

/* @how: SIGKILL (the journal alone), SIGTERM, or 0: save first. */
static void restart_keeps_deadlines(int how)
{
	agh_server s;
	agora_var *eph;

	agh_server_start_args(&s, agh_datadir_args);
	agora_client *c = agh_connect(&s);
	/* "short" must outlive make(), and expire before the next start. */
	make(c, agh_under_valgrind() || agh_under_asan() ? 3 : 1, &eph);
	double want_long = expires_of(c, "long");
	double want_set = expires_of(c, "set");
	double short_at = expires_of(c, "short");
	if (how == 0) {
		AGH_OK(c, agora_save(c, NULL));
		how = SIGTERM;
	}
	agora_var_close(eph); /* a handle: the name stays */
	agora_client_free(c); /* the ephemeral "eph" goes now... */
	if (how == SIGKILL) {
		/* ...unless the server dies first: make it again and crash
		 * with its creator connected. */
		c = agh_connect(&s);
		AGH_OK(c, agora_open_ex(c, "value", "eph", NULL, 0,
					AGORA_OPEN_EPHEMERAL, &eph));
		ck_assert(ls_entry(c, "eph", NULL));
		agh_server_kill(&s);
		agora_var_close(eph); /* fails: the server is gone */
		agora_client_free(c);
	} else {
		agh_server_stop(&s);
	}
	/* "short" expires while the server is down. */
	wait_wall(short_at);
	agh_server_start_args(&s, agh_datadir_args);
	c = agh_connect(&s);
	check(c, want_long, want_set,
	      how == SIGKILL ? "after a crash" : "after a stop");

	/* Once more from what that start left (a snapshot of it, too). */
	AGH_OK(c, agora_save(c, NULL));
	agora_client_free(c);
	agh_server_restart(&s, SIGTERM);
	c = agh_connect(&s);
	check(c, want_long, want_set, "after a second start");
	agora_client_free(c);
	agh_server_stop(&s);
}

START_TEST(deadlines_come_back_from_the_journal_after_a_crash)
{
	restart_keeps_deadlines(SIGKILL);
}
END_TEST

START_TEST(deadlines_come_back_after_a_stop)
{
	restart_keeps_deadlines(SIGTERM);
}
END_TEST

START_TEST(deadlines_come_back_from_a_snapshot)
{
	restart_keeps_deadlines(0);
}
END_TEST

/* An ephemeral name dropped by a restart, made again (as a plain name),
 * then another restart: the journal holds the name twice, and the start
 * gives it to the second object. */
START_TEST(a_name_made_again_after_its_ephemeral_one_went_comes_back)
{
	agh_server s;
	agora_var *v;
	agora_value got;

	agh_server_start_args(&s, agh_datadir_args);
	agora_client *c = agh_connect(&s);
	AGH_OK(c, agora_open_ex(c, "value", "w", NULL, 0, AGORA_OPEN_EPHEMERAL,
				&v));
	agora_var_close(v);
	agora_client_free(c);
	agh_server_restart(&s, SIGKILL); /* the creator never ended */
	c = agh_connect(&s);
	ck_assert(!ls_entry(c, "w", NULL));
	AGH_OK(c, agora_var_open(c, "w", agora_int(7), &v));
	agora_var_close(v);
	for (int i = 0; i < 2; i++) {
		agora_client_free(c);
		agh_server_restart(&s, i == 0 ? SIGKILL : SIGTERM);
		c = agh_connect(&s);
		AGH_OK(c, agora_var_open(c, "w", agora_int(0), &v));
		AGH_OK(c, agora_var_get(v, &got));
		agh_assert_int(got, 7);
		agora_value_free(&got);
		agora_var_close(v);
	}
	agora_client_free(c);
	agh_server_stop(&s);
}
END_TEST

static TCase *with_datadir(Suite *s, const char *name, const TTest *fn)
{
	TCase *tc = agh_tcase_bare(s, name, fn);

	tcase_add_unchecked_fixture(tc, agh_datadir_make, agh_datadir_remove);
	return tc;
}

int main(void)
{
	Suite *s = suite_create("ttl");

	AGH_ADD(s, a_name_read_after_its_deadline_is_never_returned);
	AGH_ADD(s, expire_sets_replaces_and_clears_and_ttl_reads);
	AGH_ADD(s, with_nothing_looking_the_timer_drops_the_name);
	with_datadir(s, "deadlines_come_back_from_the_journal_after_a_crash",
		     deadlines_come_back_from_the_journal_after_a_crash);
	with_datadir(s, "deadlines_come_back_after_a_stop",
		     deadlines_come_back_after_a_stop);
	with_datadir(s, "deadlines_come_back_from_a_snapshot",
		     deadlines_come_back_from_a_snapshot);
	with_datadir(s,
		     "a_name_made_again_after_its_ephemeral_one_went_comes_"
		     "back",
		     a_name_made_again_after_its_ephemeral_one_went_comes_back);
	return agh_run_suite(s);
}
