/*
 * test_value.c - shared values (Python's Value) and dict counters: atomic
 * adds from many processes, compare-and-swap, swap, exact integer range and
 * type errors that leave the value as it was.
 */
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

#define NWORKERS 8
#define NADDS 1000

static int add_many(agora_client *c, int idx, void *arg)
{
	agora_var *v = NULL;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_var_open(c, "counter", agora_int(0), &v));
	for (int i = 0; i < NADDS; i++)
		AGH_WCALL(c, agora_var_add_int(v, 1, NULL));
	AGH_WCALL(c, agora_var_close(v));
	return 0;
}

START_TEST(eight_workers_adding_one_thousand_times_give_exactly_8000)
{
	agora_client *c = agh_cli;
	agora_var *v;
	int64_t x = -1;

	AGH_OK(c, agora_var_open(c, "counter", agora_int(0), &v));
	agh_run_workers(NWORKERS, add_many, NULL, NULL);
	AGH_OK(c, agora_var_get_int(v, &x));
	ck_assert_int_eq(x, NWORKERS * NADDS);
	agora_var_close(v);
}
END_TEST

static int incr_many(agora_client *c, int idx, void *arg)
{
	agora_dict *d = NULL;

	(void)arg;
	AGH_WCALL(c, agora_dict_open(c, "counts", &d));
	for (int i = 0; i < 250; i++) {
		AGH_WCALL(c, agora_dict_incr_int(d, agora_str("all"), 1, NULL));
		AGH_WCALL(c, agora_dict_incr_int(d, agora_int(idx), 2, NULL));
	}
	AGH_WCALL(c, agora_dict_close(d));
	return 0;
}

START_TEST(workers_incrementing_dict_counters_lose_no_update)
{
	agora_client *c = agh_cli;
	agora_dict *d;
	int64_t x = -1;

	AGH_OK(c, agora_dict_open(c, "counts", &d));
	agh_run_workers(4, incr_many, NULL, NULL);
	AGH_OK(c, agora_dict_get_int(d, agora_str("all"), &x));
	ck_assert_int_eq(x, 1000);
	for (int i = 0; i < 4; i++) {
		AGH_OK(c, agora_dict_get_int(d, agora_int(i), &x));
		ck_assert_int_eq(x, 500);
	}
	agora_dict_close(d);
}
END_TEST

START_TEST(initial_value_is_used_only_at_creation)
{
	agora_client *c = agh_cli;
	agora_var *a, *b, *anon;
	agora_value v;
	int64_t x = 0;

	AGH_OK(c, agora_var_open(c, "v", agora_int(10), &a));
	AGH_OK(c, agora_var_open(c, "v", agora_int(20), &b));
	AGH_OK(c, agora_var_get_int(b, &x));
	ck_assert_int_eq(x, 10);
	AGH_OK(c, agora_var_set(a, agora_str("hello")));
	AGH_OK(c, agora_var_get(b, &v));
	agh_assert_str(v, "hello");
	agora_value_free(&v);
	AGH_OK(c, agora_var_open(c, NULL, agora_nil(), &anon));
	AGH_OK(c, agora_var_get(anon, &v));
	ck_assert_int_eq(v.type, AGORA_NIL);
	agora_value_free(&v);
	agora_var_close(anon);
	agora_var_close(b);
	agora_var_close(a);
}
END_TEST

START_TEST(cas_swaps_only_when_the_value_is_the_expected_one)
{
	agora_client *c = agh_cli;
	agora_var *v;
	bool swapped = false;
	int64_t x = 0;

	AGH_OK(c, agora_var_open(c, NULL, agora_int(5), &v));
	AGH_OK(c, agora_var_cas(v, agora_int(5), agora_int(6), &swapped));
	ck_assert(swapped);
	AGH_OK(c, agora_var_get_int(v, &x));
	ck_assert_int_eq(x, 6);
	AGH_OK(c, agora_var_cas(v, agora_int(5), agora_int(7), &swapped));
	ck_assert(!swapped);
	AGH_OK(c, agora_var_get_int(v, &x));
	ck_assert_int_eq(x, 6);
	/* Section 5 equality: the uint 6 is the int 6, the float 6.0 is not. */
	AGH_OK(c, agora_var_cas(v, agora_float(6.0), agora_int(8), &swapped));
	ck_assert(!swapped);
	AGH_OK(c, agora_var_cas(v, agora_uint(6), agora_int(9), &swapped));
	ck_assert(swapped);
	AGH_OK(c, agora_var_get_int(v, &x));
	ck_assert_int_eq(x, 9);
	agora_var_close(v);
}
END_TEST

START_TEST(swap_stores_the_new_value_and_returns_the_old)
{
	agora_client *c = agh_cli;
	agora_var *v;
	agora_value old;
	int64_t x = 0;

	AGH_OK(c, agora_var_open(c, NULL, agora_str("first"), &v));
	AGH_OK(c, agora_var_swap(v, agora_int(2), &old));
	agh_assert_str(old, "first");
	agora_value_free(&old);
	AGH_OK(c, agora_var_swap(v, agora_int(3), &old));
	agh_assert_int(old, 2);
	agora_value_free(&old);
	AGH_OK(c, agora_var_get_int(v, &x));
	ck_assert_int_eq(x, 3);
	agora_var_close(v);
}
END_TEST

START_TEST(add_is_exact_up_to_uint64_max_and_overflow_leaves_the_value)
{
	agora_client *c = agh_cli;
	agora_var *v;
	agora_value r;

	AGH_OK(c, agora_var_open(c, NULL, agora_int(INT64_MAX), &v));
	/* INT64_MAX + 1 = 2^63 still fits MessagePack's range. */
	AGH_OK(c, agora_var_add(v, agora_int(1), &r));
	ck_assert_int_eq(r.type, AGORA_UINT);
	ck_assert_uint_eq(r.via.u, (uint64_t)INT64_MAX + 1);
	agora_value_free(&r);
	AGH_OK(c, agora_var_add(v, agora_uint(UINT64_MAX - ((uint64_t)1 << 63)),
				&r));
	ck_assert_int_eq(r.type, AGORA_UINT);
	ck_assert_uint_eq(r.via.u, UINT64_MAX);
	agora_value_free(&r);

	AGH_CALL_EQ(c, agora_var_add(v, agora_int(1), &r), AGORA_EVALUE);
	AGH_CALL_EQ(c, agora_var_add_int(v, 1, NULL), AGORA_EVALUE);
	AGH_OK(c, agora_var_get(v, &r));
	ck_assert_int_eq(r.type, AGORA_UINT);
	ck_assert_uint_eq(r.via.u, UINT64_MAX);
	agora_value_free(&r);

	/* Coming back down below INT64_MAX gives a plain int again. */
	AGH_OK(c, agora_var_add(v, agora_int(INT64_MIN), &r));
	ck_assert_int_eq(r.type, AGORA_INT);
	ck_assert_int_eq(r.via.i, INT64_MAX);
	agora_value_free(&r);

	AGH_OK(c, agora_var_set(v, agora_int(INT64_MIN)));
	AGH_CALL_EQ(c, agora_var_add_int(v, -1, NULL), AGORA_EVALUE);
	int64_t x = 0;
	AGH_OK(c, agora_var_get_int(v, &x));
	ck_assert_int_eq(x, INT64_MIN);
	agora_var_close(v);
}
END_TEST

START_TEST(add_to_a_str_value_is_a_type_error_and_leaves_it)
{
	agora_client *c = agh_cli;
	agora_var *v;
	agora_value r;

	AGH_OK(c, agora_var_open(c, NULL, agora_str("abc"), &v));
	AGH_CALL_EQ(c, agora_var_add_int(v, 1, NULL), AGORA_ETYPE);
	ck_assert_str_ne(agora_errmsg(c), "");
	AGH_OK(c, agora_var_get(v, &r));
	agh_assert_str(r, "abc");
	agora_value_free(&r);
	/* A str delta is refused too (TYPE or ARGS, but never stored). */
	AGH_OK(c, agora_var_set(v, agora_int(1)));
	int rc = agora_var_add(v, agora_str("x"), &r);
	ck_assert_msg(rc == AGORA_ETYPE || rc == AGORA_EARGS,
		      "add of a str delta gave %s", agora_errname(rc));
	int64_t x = 0;
	AGH_OK(c, agora_var_get_int(v, &x));
	ck_assert_int_eq(x, 1);
	agora_var_close(v);
}
END_TEST

START_TEST(add_mixes_ints_and_floats_like_python)
{
	agora_client *c = agh_cli;
	agora_var *v;
	agora_value r;

	AGH_OK(c, agora_var_open(c, NULL, agora_int(1), &v));
	AGH_OK(c, agora_var_add(v, agora_float(1.5), &r));
	ck_assert_int_eq(r.type, AGORA_FLOAT);
	ck_assert(r.via.f == 2.5);
	agora_value_free(&r);
	AGH_OK(c, agora_var_add(v, agora_int(-2), &r));
	ck_assert_int_eq(r.type, AGORA_FLOAT);
	ck_assert(r.via.f == 0.5);
	agora_value_free(&r);
	agora_var_close(v);
}
END_TEST

START_TEST(dict_incr_counts_a_missing_key_as_zero)
{
	agora_client *c = agh_cli;
	agora_dict *d;
	agora_value r;
	int64_t x = 0;

	AGH_OK(c, agora_dict_open(c, NULL, &d));
	AGH_OK(c, agora_dict_incr_int(d, agora_str("n"), 1, &x));
	ck_assert_int_eq(x, 1);
	AGH_OK(c, agora_dict_incr_int(d, agora_str("n"), 5, &x));
	ck_assert_int_eq(x, 6);
	AGH_OK(c, agora_dict_incr_int(d, agora_str("n"), -10, &x));
	ck_assert_int_eq(x, -4);
	AGH_OK(c, agora_dict_incr(d, agora_str("f"), agora_float(0.5), &r));
	ck_assert_int_eq(r.type, AGORA_FLOAT);
	ck_assert(r.via.f == 0.5);
	agora_value_free(&r);

	AGH_OK(c, agora_dict_set(d, agora_str("s"), agora_str("text")));
	AGH_CALL_EQ(c, agora_dict_incr_int(d, agora_str("s"), 1, NULL),
		    AGORA_ETYPE);
	AGH_OK(c, agora_dict_get(d, agora_str("s"), &r));
	agh_assert_str(r, "text");
	agora_value_free(&r);

	AGH_OK(c, agora_dict_set(d, agora_str("big"), agora_uint(UINT64_MAX)));
	AGH_CALL_EQ(c, agora_dict_incr_int(d, agora_str("big"), 1, NULL),
		    AGORA_EVALUE);
	AGH_OK(c, agora_dict_get(d, agora_str("big"), &r));
	ck_assert_int_eq(r.type, AGORA_UINT);
	ck_assert_uint_eq(r.via.u, UINT64_MAX);
	agora_value_free(&r);

	size_t n = 0;
	AGH_OK(c, agora_dict_len(d, &n));
	ck_assert_uint_eq(n, 4);
	agora_dict_close(d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("value");

	AGH_ADD(s, eight_workers_adding_one_thousand_times_give_exactly_8000);
	AGH_ADD(s, workers_incrementing_dict_counters_lose_no_update);
	AGH_ADD(s, initial_value_is_used_only_at_creation);
	AGH_ADD(s, cas_swaps_only_when_the_value_is_the_expected_one);
	AGH_ADD(s, swap_stores_the_new_value_and_returns_the_old);
	AGH_ADD(s, add_is_exact_up_to_uint64_max_and_overflow_leaves_the_value);
	AGH_ADD(s, add_to_a_str_value_is_a_type_error_and_leaves_it);
	AGH_ADD(s, add_mixes_ints_and_floats_like_python);
	AGH_ADD(s, dict_incr_counts_a_missing_key_as_zero);
	return agh_run_suite(s);
}
