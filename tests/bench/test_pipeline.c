/*
 * test_pipeline.c - agora_pipeline against a real agorad: results come back
 * in call order even when the server answers out of order, each call keeps
 * its own error, more calls than the in-flight window all arrive, and the
 * client is an ordinary client again once the pipeline is done.
 */
#include <stdlib.h>

#include "harness.h"

static agora_value handle_of(uint32_t h)
{
	return agora_uint(h);
}

START_TEST(a_get_that_waits_still_returns_in_call_order)
{
	agora_client *c = agh_cli;
	agora_pipeline *p = agora_pipeline_new(c);
	agora_queue *q;
	agora_value a[2], r;

	AGH_OK(c, agora_queue_open(c, "jobs", 0, &q));
	a[0] = handle_of(agora_queue_handle(q));
	/* The get parks on the empty queue; the server answers the pings
	 * and the put first, then the get. */
	AGH_OK(c, agora_pipeline_call(p, "queue.get", agora_array(a, 1)));
	a[1] = agora_int(7);
	AGH_OK(c, agora_pipeline_call(p, "ping", agora_array(&a[1], 1)));
	a[1] = agora_int(42);
	AGH_OK(c, agora_pipeline_call(p, "queue.put", agora_array(a, 2)));
	a[1] = agora_int(8);
	AGH_OK(c, agora_pipeline_call(p, "ping", agora_array(&a[1], 1)));
	ck_assert_uint_eq(agora_pipeline_pending(p), 4);

	AGH_OK(c, agora_pipeline_result(p, &r));
	agh_assert_int(r, 42);
	agora_value_free(&r);
	AGH_OK(c, agora_pipeline_result(p, &r));
	agh_assert_int(r, 7);
	agora_value_free(&r);
	AGH_OK(c, agora_pipeline_result(p, &r));
	ck_assert_int_eq(r.type, AGORA_NIL);
	AGH_OK(c, agora_pipeline_result(p, &r));
	agh_assert_int(r, 8);
	agora_value_free(&r);
	ck_assert_uint_eq(agora_pipeline_pending(p), 0);
	AGH_CALL_EQ(c, agora_pipeline_result(p, &r), AGORA_EINVAL);
	agora_pipeline_free(p);
	AGH_OK(c, agora_ping(c));
	agora_queue_close(q);
}
END_TEST

START_TEST(each_call_keeps_its_own_error)
{
	agora_client *c = agh_cli;
	agora_pipeline *p = agora_pipeline_new(c);
	agora_dict *d;
	agora_value a[3], r;

	AGH_OK(c, agora_dict_open(c, "d", &d));
	a[0] = handle_of(agora_dict_handle(d));
	a[1] = agora_str("missing");
	AGH_OK(c, agora_pipeline_call(p, "dict.getitem", agora_array(a, 2)));
	a[2] = agora_int(1);
	AGH_OK(c, agora_pipeline_call(p, "dict.set", agora_array(a, 3)));
	AGH_OK(c, agora_pipeline_call(p, "dict.getitem", agora_array(a, 2)));
	AGH_OK(c, agora_pipeline_call(p, "no.such", agora_array(a, 0)));

	AGH_CALL_EQ(c, agora_pipeline_result(p, &r), AGORA_EKEY);
	ck_assert_str_ne(agora_errmsg(c), "");
	AGH_OK(c, agora_pipeline_result(p, NULL));
	AGH_OK(c, agora_pipeline_result(p, &r));
	agh_assert_int(r, 1);
	agora_value_free(&r);
	ck_assert_int_lt(agora_pipeline_result(p, &r), 0);
	agora_pipeline_free(p);
	AGH_OK(c, agora_ping(c));
	agora_dict_close(d);
}
END_TEST

START_TEST(twenty_thousand_calls_queued_before_any_result_all_arrive)
{
	agora_client *c = agh_cli;
	agora_pipeline *p = agora_pipeline_new(c);
	agora_list *l;
	agora_value a[2];
	size_t n = 0;

	AGH_OK(c, agora_list_open(c, "many", &l));
	a[0] = handle_of(agora_list_handle(l));
	for (int i = 0; i < 20000; i++) {
		a[1] = agora_int(i);
		AGH_OK(c, agora_pipeline_call(p, "list.append",
					      agora_array(a, 2)));
	}
	for (int i = 0; i < 20000; i++)
		AGH_OK(c, agora_pipeline_result(p, NULL));
	agora_pipeline_free(p);
	AGH_OK(c, agora_list_len(l, &n));
	ck_assert_uint_eq(n, 20000);
	int64_t last = -1;
	AGH_OK(c, agora_list_get_int(l, -1, &last));
	ck_assert_int_eq(last, 19999);
	agora_list_close(l);
}
END_TEST

START_TEST(freeing_a_pipeline_with_calls_outstanding_leaves_the_client_usable)
{
	agora_client *c = agh_cli;
	agora_pipeline *p = agora_pipeline_new(c);
	agora_value a = agora_int(1);

	for (int i = 0; i < 100; i++)
		AGH_OK(c, agora_pipeline_call(p, "ping", agora_array(&a, 1)));
	AGH_OK(c, agora_pipeline_flush(p));
	agora_pipeline_free(p);
	AGH_OK(c, agora_ping(c));
	agora_pipeline_free(NULL);
	ck_assert_ptr_null(agora_pipeline_new(NULL));
}
END_TEST

START_TEST(bad_params_are_refused_and_nothing_is_queued)
{
	agora_client *c = agh_cli;
	agora_pipeline *p = agora_pipeline_new(c);

	AGH_CALL_EQ(c, agora_pipeline_call(p, "ping", agora_int(1)),
		    AGORA_EINVAL);
	AGH_CALL_EQ(c, agora_pipeline_call(p, NULL, agora_array(NULL, 0)),
		    AGORA_EINVAL);
	ck_assert_uint_eq(agora_pipeline_pending(p), 0);
	agora_pipeline_free(p);
	AGH_OK(c, agora_ping(c));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pipeline");

	AGH_ADD(s, a_get_that_waits_still_returns_in_call_order);
	AGH_ADD(s, each_call_keeps_its_own_error);
	AGH_ADD(s, twenty_thousand_calls_queued_before_any_result_all_arrive);
	AGH_ADD(
	    s,
	    freeing_a_pipeline_with_calls_outstanding_leaves_the_client_usable);
	AGH_ADD(s, bad_params_are_refused_and_nothing_is_queued);
	return agh_run_suite(s);
}
