/*
 * test_sticky.c - sticky mode (agora_client_set_sticky(), include/agora.h):
 * the first failure latches, later calls on the client do nothing (the
 * server's state shows it: a later append did not land), the first error's
 * code and sentence are kept, the outcomes a program branches on never
 * latch, clearing and switching off run calls again, opens while latched
 * give NULL proxies that every function accepts, and pipelines.
 *
 * The client under test is a second client of the fixture's server; the
 * fixture's own client (agh_cli, not sticky) looks at what the server
 * holds.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* A sticky client of the fixture's server. */
static agora_client *sticky_client(void)
{
	agora_client *c = agh_connect(&agh_srv);

	ck_assert_int_eq(agora_client_set_sticky(c, true), 0);
	ck_assert_int_eq(agora_client_error(c), 0);
	return c;
}

/* The length of the list @name, as the fixture's plain client sees it. */
static size_t list_len(const char *name)
{
	agora_list *l = NULL;
	size_t n = 0;

	AGH_OK(agh_cli, agora_list_open(agh_cli, name, &l));
	AGH_OK(agh_cli, agora_list_len(l, &n));
	agora_list_close(l);
	return n;
}

START_TEST(a_failure_latches_and_later_calls_do_nothing)
{
	agora_client *c = sticky_client();
	agora_list *l = NULL;
	agora_value v = { 0 };
	size_t n = 0;

	AGH_OK(c, agora_list_open(c, "log", &l));
	AGH_OK(c, agora_list_append(l, agora_int(1)));

	/* The first failure: the server's INDEX, with its sentence. */
	ck_assert_int_eq(agora_list_get(l, 5, &v), AGORA_EINDEX);
	ck_assert_int_eq(agora_client_error(c), AGORA_EINDEX);
	char first[256];
	snprintf(first, sizeof(first), "%s", agora_errmsg(c));
	ck_assert_msg(strstr(first, "index") != NULL,
		      "the latched sentence is \"%s\"", first);

	/* Later calls return it and send nothing: the append does not land,
	 * the ping is not made, a bad argument does not replace it. */
	ck_assert_int_eq(agora_list_append(l, agora_int(2)), AGORA_EINDEX);
	ck_assert_int_eq(agora_ping(c), AGORA_EINDEX);
	ck_assert_int_eq(agora_list_len(l, NULL), AGORA_EINDEX);
	ck_assert_int_eq(agora_list_len(l, &n), AGORA_EINDEX);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(list_len("log"), 1);
	ck_assert_int_eq(agora_client_error(c), AGORA_EINDEX);
	ck_assert_str_eq(agora_errmsg(c), first);

	/* Closing while latched frees the proxy (valgrind checks) and says
	 * why nothing was sent. */
	ck_assert_int_eq(agora_list_close(l), AGORA_EINDEX);
	agora_client_free(c);
}
END_TEST

START_TEST(a_library_error_latches_with_its_sentence)
{
	agora_client *c = sticky_client();
	agora_queue *q = NULL;
	agora_list *l = NULL;

	AGH_OK(c, agora_queue_open(c, "jobs", 0, &q));
	AGH_OK(c, agora_list_open(c, "log", &l));
	/* A NaN timeout never leaves the client. */
	ck_assert_int_eq(agora_queue_get(q, NAN, NULL), AGORA_EINVAL);
	ck_assert_int_eq(agora_client_error(c), AGORA_EINVAL);
	ck_assert_msg(strstr(agora_errmsg(c), "NaN") != NULL,
		      "the latched sentence is \"%s\"", agora_errmsg(c));
	ck_assert_int_eq(agora_list_append(l, agora_int(1)), AGORA_EINVAL);
	ck_assert_uint_eq(list_len("log"), 0);
	agora_queue_close(q);
	agora_list_close(l);
	agora_client_free(c);
}
END_TEST

START_TEST(outcomes_a_program_branches_on_do_not_latch)
{
	agora_client *c = sticky_client();
	agora_queue *q = NULL, *full = NULL;
	agora_dict *d = NULL;
	agora_lock *mine = NULL, *theirs = NULL;
	agora_list *l = NULL;
	agora_value v = { 0 };
	int64_t job = 0, sum = 0;
	bool got = true;
	int rc;

	AGH_OK(c, agora_queue_open(c, "jobs", 0, &q));
	AGH_OK(c, agora_queue_open(c, "small", 1, &full));
	AGH_OK(c, agora_dict_open(c, "results", &d));
	AGH_OK(c, agora_list_open(c, "log", &l));

	/* The README worker's loop: it ends on EMPTY, and nothing latched. */
	for (int i = 1; i <= 3; i++)
		AGH_OK(c, agora_queue_put(q, agora_int(i), 0));
	while ((rc = agora_queue_get_int(q, 0.05, &job)) == 0)
		sum += job;
	ck_assert_int_eq(rc, AGORA_EEMPTY);
	ck_assert_int_eq(sum, 6);

	ck_assert_int_eq(agora_queue_get_nowait(q, &v), AGORA_EEMPTY);
	AGH_OK(c, agora_queue_put(full, agora_int(1), 0));
	ck_assert_int_eq(agora_queue_put(full, agora_int(2), 0.01),
			 AGORA_EFULL);
	ck_assert_int_eq(agora_queue_put_nowait(full, agora_int(2)),
			 AGORA_EFULL);
	ck_assert_int_eq(agora_dict_get(d, agora_str("missing"), &v),
			 AGORA_EKEY);
	ck_assert_int_eq(agora_dict_popitem(d, &v, &v), AGORA_EKEY);
	agora_list *again = NULL;
	ck_assert_int_eq(agora_open_ex(c, "list", "log", NULL, 0,
				       AGORA_OPEN_EXCLUSIVE, &again),
			 AGORA_EEXISTS);
	ck_assert_ptr_null(again);

	/* A lock another client holds: false, a result and no error. */
	AGH_OK(agh_cli, agora_lock_open(agh_cli, "mutex", &theirs));
	AGH_OK(agh_cli, agora_lock_acquire(theirs, 0, &got));
	ck_assert(got);
	AGH_OK(c, agora_lock_open(c, "mutex", &mine));
	AGH_OK(c, agora_lock_acquire(mine, 0.01, &got));
	ck_assert(!got);

	ck_assert_int_eq(agora_client_error(c), 0);
	AGH_OK(c, agora_list_append(l, agora_int(7)));
	ck_assert_uint_eq(list_len("log"), 1);

	agora_lock_close(mine);
	agora_lock_close(theirs);
	agora_queue_close(q);
	agora_queue_close(full);
	agora_dict_close(d);
	agora_list_close(l);
	agora_client_free(c);
}
END_TEST

START_TEST(clearing_or_switching_off_runs_calls_again)
{
	agora_client *c = sticky_client();
	agora_list *l = NULL;
	agora_value v = { 0 };

	AGH_OK(c, agora_list_open(c, "log", &l));
	ck_assert_int_eq(agora_list_pop(l, -1, &v), AGORA_EINDEX);
	ck_assert_int_eq(agora_list_append(l, agora_int(1)), AGORA_EINDEX);
	ck_assert_uint_eq(list_len("log"), 0);

	ck_assert_int_eq(agora_client_clear_error(c), AGORA_EINDEX);
	ck_assert_int_eq(agora_client_error(c), 0);
	AGH_OK(c, agora_list_append(l, agora_int(1)));
	ck_assert_uint_eq(list_len("log"), 1);

	/* Latch again, then switch sticky mode off: the latch goes, and a
	 * failure no longer latches. */
	ck_assert_int_eq(agora_list_get(l, 9, &v), AGORA_EINDEX);
	ck_assert_int_eq(agora_client_error(c), AGORA_EINDEX);
	AGH_OK(c, agora_client_set_sticky(c, false));
	ck_assert_int_eq(agora_client_error(c), 0);
	ck_assert_int_eq(agora_list_get(l, 9, &v), AGORA_EINDEX);
	ck_assert_int_eq(agora_client_error(c), 0);
	AGH_OK(c, agora_list_append(l, agora_int(2)));
	ck_assert_uint_eq(list_len("log"), 2);

	ck_assert_int_eq(agora_client_set_sticky(NULL, true), AGORA_EINVAL);
	ck_assert_int_eq(agora_client_error(NULL), AGORA_EINVAL);
	ck_assert_int_eq(agora_client_clear_error(NULL), AGORA_EINVAL);
	agora_list_close(l);
	agora_client_free(c);
}
END_TEST

START_TEST(opens_while_latched_give_null_proxies_and_create_nothing)
{
	agora_client *c = sticky_client();
	agora_list *l = NULL;
	agora_dict *wrong = (agora_dict *)&wrong; /* not NULL: must be reset */
	agora_queue *q = (agora_queue *)&q;
	agora_value ls = { 0 };

	AGH_OK(c, agora_list_open(c, "log", &l));
	/* The failing open itself leaves NULL. */
	ck_assert_int_eq(agora_dict_open(c, "log", &wrong), AGORA_ETYPE);
	ck_assert_ptr_null(wrong);
	ck_assert_int_eq(agora_client_error(c), AGORA_ETYPE);
	ck_assert_msg(strstr(agora_errmsg(c), "log") != NULL,
		      "the latched sentence is \"%s\"", agora_errmsg(c));

	/* Opens while latched: NULL, and the server made nothing. */
	ck_assert_int_eq(agora_queue_open(c, "later", 0, &q), AGORA_ETYPE);
	ck_assert_ptr_null(q);
	AGH_OK(agh_cli, agora_ls(agh_cli, &ls));
	ck_assert_uint_eq(ls.via.array.len, 1); /* "log" only */
	agora_value_free(&ls);

	/* Every function takes the NULL proxies without doing anything. */
	ck_assert_int_eq(agora_queue_put(q, agora_int(1), 0), AGORA_EINVAL);
	ck_assert_int_eq(agora_dict_set(wrong, agora_int(1), agora_int(2)),
			 AGORA_EINVAL);
	ck_assert_int_eq(agora_queue_close(q), 0);
	ck_assert_int_eq(agora_dict_close(wrong), 0);
	ck_assert_int_eq(agora_list_close(l), AGORA_ETYPE);
	agora_client_free(c);
}
END_TEST

/* Every proxy type's functions accept NULL: AGORA_EINVAL, nothing done. */
START_TEST(every_function_accepts_a_null_proxy)
{
	agora_value v = { 0 };
	int64_t i = 0;
	size_t n = 0;
	bool b = false;
	double f = 0;
	char *s = NULL;
	uint64_t tok = 0;
	const int E = AGORA_EINVAL;

	ck_assert_int_eq(agora_list_append(NULL, agora_int(1)), E);
	ck_assert_int_eq(agora_list_get(NULL, 0, &v), E);
	ck_assert_int_eq(agora_list_len(NULL, &n), E);
	ck_assert_int_eq(agora_list_pop(NULL, -1, &v), E);
	ck_assert_int_eq(agora_dict_get(NULL, agora_int(1), &v), E);
	ck_assert_int_eq(agora_dict_set(NULL, agora_int(1), agora_int(1)), E);
	ck_assert_int_eq(agora_dict_incr_int(NULL, agora_int(1), 1, &i), E);
	ck_assert_int_eq(agora_queue_put(NULL, agora_int(1), 0), E);
	ck_assert_int_eq(agora_queue_get_int(NULL, 0, &i), E);
	ck_assert_int_eq(agora_queue_get_str(NULL, 0, &s), E);
	ck_assert_int_eq(agora_jqueue_put(NULL, agora_int(1), 0), E);
	ck_assert_int_eq(agora_jqueue_task_done(NULL), E);
	ck_assert_int_eq(agora_jqueue_join(NULL, 0, &b), E);
	ck_assert_int_eq(agora_var_set(NULL, agora_int(1)), E);
	ck_assert_int_eq(agora_var_add_int(NULL, 1, &i), E);
	ck_assert_int_eq(agora_lock_acquire(NULL, 0, &b), E);
	ck_assert_int_eq(agora_lock_acquire_fenced(NULL, 0, &b, &tok), E);
	ck_assert_int_eq(agora_lock_release(NULL), E);
	ck_assert_int_eq(agora_rlock_acquire(NULL, 0, &b), E);
	ck_assert_int_eq(agora_semaphore_acquire(NULL, 0, &b), E);
	ck_assert_int_eq(agora_semaphore_release(NULL, 1), E);
	ck_assert_int_eq(agora_condition_wait(NULL, 0, &b), E);
	ck_assert_int_eq(agora_condition_notify_all(NULL), E);
	ck_assert_int_eq(agora_event_set(NULL), E);
	ck_assert_int_eq(agora_event_wait(NULL, 0, &b), E);
	ck_assert_int_eq(agora_barrier_wait(NULL, 0, &i), E);
	ck_assert_int_eq(agora_array_get_float(NULL, 0, &f), E);
	ck_assert_int_eq(agora_array_set(NULL, 0, agora_int(1)), E);
	ck_assert_int_eq(agora_namespace_set(NULL, "a", agora_int(1)), E);
	ck_assert_int_eq(agora_namespace_get(NULL, "a", &v), E);
	ck_assert_int_eq(agora_lock_close(NULL), 0);
	ck_assert_int_eq(agora_barrier_close(NULL), 0);
	ck_assert_uint_eq(agora_event_handle(NULL), 0);
	ck_assert_int_eq(
	    agora_pipeline_call(NULL, "ping", agora_array(NULL, 0)), E);
}
END_TEST

START_TEST(pipelines_latch_on_a_failed_result_and_then_take_no_call)
{
	agora_client *c = sticky_client();
	agora_list *l = NULL;
	agora_pipeline *p;
	agora_value args[2], v = { 0 };

	AGH_OK(c, agora_list_open(c, "log", &l));
	p = agora_pipeline_new(c);
	ck_assert_ptr_nonnull(p);
	args[0] = agora_uint(agora_list_handle(l));
	args[1] = agora_int(1);
	AGH_OK(c, agora_pipeline_call(p, "list.append", agora_array(args, 2)));
	args[1] = agora_int(5);
	AGH_OK(c, agora_pipeline_call(p, "list.get", agora_array(args, 2)));
	args[1] = agora_int(2);
	AGH_OK(c, agora_pipeline_call(p, "list.append", agora_array(args, 2)));

	/* Calls already sent are answered and collected in order; the
	 * failed one latches. */
	AGH_OK(c, agora_pipeline_result(p, NULL));
	ck_assert_int_eq(agora_pipeline_result(p, &v), AGORA_EINDEX);
	ck_assert_int_eq(agora_client_error(c), AGORA_EINDEX);
	ck_assert_int_eq(agora_pipeline_result(p, NULL), 0);
	ck_assert_uint_eq(list_len("log"), 2);

	/* Latched: no new call, no slot. */
	args[1] = agora_int(3);
	ck_assert_int_eq(
	    agora_pipeline_call(p, "list.append", agora_array(args, 2)),
	    AGORA_EINDEX);
	ck_assert_uint_eq(agora_pipeline_pending(p), 0);
	agora_pipeline_free(p);
	ck_assert_uint_eq(list_len("log"), 2);
	agora_list_close(l);
	agora_client_free(c);
}
END_TEST

START_TEST(a_failed_connect_latches_and_the_calls_after_it_do_nothing)
{
	agora_client *c = agora_client_new();
	agora_list *l = (agora_list *)&l;
	char bad[200];

	ck_assert_ptr_nonnull(c);
	AGH_OK(c, agora_client_set_sticky(c, true));
	snprintf(bad, sizeof(bad), "unix:%s/none.sock", agh_srv.dir);
	ck_assert_int_eq(agora_client_connect(c, bad, agh_srv.key, AGH_KEYLEN),
			 AGORA_EIO);
	ck_assert_int_eq(agora_list_open(c, "log", &l), AGORA_EIO);
	ck_assert_ptr_null(l);
	ck_assert_int_eq(agora_list_append(l, agora_int(1)), AGORA_EINVAL);
	ck_assert_int_eq(agora_client_error(c), AGORA_EIO);
	ck_assert_msg(strstr(agora_errmsg(c), "none.sock") != NULL,
		      "the latched sentence is \"%s\"", agora_errmsg(c));

	/* A program that retries clears; the connect then serves. */
	AGH_OK(c, agora_client_connect(c, agh_srv.address, agh_srv.key,
				       AGH_KEYLEN));
	ck_assert_int_eq(agora_ping(c), AGORA_EIO);
	ck_assert_int_eq(agora_client_clear_error(c), AGORA_EIO);
	AGH_OK(c, agora_ping(c));
	agora_client_free(c);
}
END_TEST

START_TEST(a_lost_connection_latches_eio)
{
	agora_client *c = sticky_client();
	agora_list *l = NULL;

	AGH_OK(c, agora_list_open(c, "log", &l));
	agh_server_stop(&agh_srv);
	int rc = agora_list_append(l, agora_int(1));
	ck_assert_msg(rc == AGORA_EIO, "a call to a stopped server gave %s",
		      agora_errname(rc));
	ck_assert_int_eq(agora_client_error(c), AGORA_EIO);
	ck_assert_msg(strstr(agora_errmsg(c), "connection") != NULL,
		      "the latched sentence is \"%s\"", agora_errmsg(c));
	ck_assert_int_eq(agora_ping(c), AGORA_EIO);
	agora_list_close(l);
	agora_client_free(c);
}
END_TEST

START_TEST(sticky_mode_is_off_by_default)
{
	agora_list *l = NULL;
	agora_value v = { 0 };

	AGH_OK(agh_cli, agora_list_open(agh_cli, "log", &l));
	ck_assert_int_eq(agora_list_get(l, 3, &v), AGORA_EINDEX);
	ck_assert_int_eq(agora_client_error(agh_cli), 0);
	AGH_OK(agh_cli, agora_list_append(l, agora_int(1)));
	ck_assert_uint_eq(list_len("log"), 1);
	agora_list_close(l);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sticky");

	AGH_ADD(s, a_failure_latches_and_later_calls_do_nothing);
	AGH_ADD(s, a_library_error_latches_with_its_sentence);
	AGH_ADD(s, outcomes_a_program_branches_on_do_not_latch);
	AGH_ADD(s, clearing_or_switching_off_runs_calls_again);
	AGH_ADD(s, opens_while_latched_give_null_proxies_and_create_nothing);
	AGH_ADD(s, every_function_accepts_a_null_proxy);
	AGH_ADD(s, pipelines_latch_on_a_failed_result_and_then_take_no_call);
	AGH_ADD(s, a_failed_connect_latches_and_the_calls_after_it_do_nothing);
	AGH_ADD(s, a_lost_connection_latches_eio);
	AGH_ADD(s, sticky_mode_is_off_by_default);
	return agh_run_suite(s);
}
