/*
 * test_shared.c - shared data besides list, dict and value: Python's
 * multiprocessing.Array (typecodes and their ranges, floats, slices of a
 * fixed length, per-worker slots) and Namespace across processes.
 *
 *     arr = multiprocessing.Array('i', 6)
 *     def work(arr, i):
 *         arr[i] += 1                 # each worker its own slot
 */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

#define NSLOTS 6
#define NINCR 200

/* Require a[i] to be the integer @want. */
static void assert_item(struct agora_array *a, int64_t i, int64_t want)
{
	int64_t x = 0;

	AGH_OK(agh_cli, agora_array_get_int(a, i, &x));
	ck_assert_int_eq(x, want);
}

/* ---- array -------------------------------------------------------------- */

START_TEST(int_array_holds_32_bit_integers_and_refuses_the_next_one)
{
	agora_client *c = agh_cli;
	struct agora_array *a;
	size_t n = 0;

	AGH_OK(c, agora_array_open(c, "ints", 'i', 2, &a));
	AGH_OK(c, agora_array_len(a, &n));
	ck_assert_uint_eq(n, 2);
	assert_item(a, 0, 0);
	AGH_OK(c, agora_array_set(a, 0, agora_int(INT32_MAX)));
	assert_item(a, 0, INT32_MAX);
	AGH_CALL_EQ(c, agora_array_set(a, 0, agora_int((int64_t)INT32_MAX + 1)),
		    AGORA_EVALUE);
	assert_item(a, 0, INT32_MAX);
	AGH_OK(c, agora_array_set(a, 1, agora_int(INT32_MIN)));
	assert_item(a, 1, INT32_MIN);
	AGH_CALL_EQ(c, agora_array_set(a, 1, agora_int((int64_t)INT32_MIN - 1)),
		    AGORA_EVALUE);
	assert_item(a, 1, INT32_MIN);
	AGH_CALL_EQ(c, agora_array_set(a, 1, agora_uint(UINT64_MAX)),
		    AGORA_EVALUE);
	assert_item(a, 1, INT32_MIN);
	agora_array_close(a);
}
END_TEST

START_TEST(each_integer_typecode_keeps_to_its_range)
{
	static const struct {
		char tc;
		int64_t lo, hi;
	} ranges[] = {
		{ 'b', INT8_MIN, INT8_MAX },   { 'B', 0, UINT8_MAX },
		{ 'h', INT16_MIN, INT16_MAX }, { 'H', 0, UINT16_MAX },
		{ 'i', INT32_MIN, INT32_MAX }, { 'I', 0, UINT32_MAX },
		{ 'l', INT64_MIN, INT64_MAX }, { 'q', INT64_MIN, INT64_MAX },
	};
	agora_client *c = agh_cli;

	for (size_t k = 0; k < sizeof(ranges) / sizeof(ranges[0]); k++) {
		struct agora_array *a;
		AGH_OK(c, agora_array_open(c, NULL, ranges[k].tc, 1, &a));
		AGH_OK(c, agora_array_set(a, 0, agora_int(ranges[k].hi)));
		assert_item(a, 0, ranges[k].hi);
		AGH_OK(c, agora_array_set(a, 0, agora_int(ranges[k].lo)));
		assert_item(a, 0, ranges[k].lo);
		if (ranges[k].hi < INT64_MAX)
			AGH_CALL_EQ(
			    c,
			    agora_array_set(a, 0, agora_int(ranges[k].hi + 1)),
			    AGORA_EVALUE);
		else
			AGH_CALL_EQ(
			    c,
			    agora_array_set(
				a, 0, agora_uint((uint64_t)INT64_MAX + 1)),
			    AGORA_EVALUE);
		if (ranges[k].lo > INT64_MIN)
			AGH_CALL_EQ(
			    c,
			    agora_array_set(a, 0, agora_int(ranges[k].lo - 1)),
			    AGORA_EVALUE);
		assert_item(a, 0, ranges[k].lo);
		agora_array_close(a);
	}
}
END_TEST

START_TEST(unsigned_byte_array_refuses_minus_one)
{
	agora_client *c = agh_cli;
	struct agora_array *a;

	AGH_OK(c, agora_array_open(c, "bytes", 'B', 3, &a));
	AGH_CALL_EQ(c, agora_array_set(a, 0, agora_int(-1)), AGORA_EVALUE);
	AGH_CALL_EQ(c, agora_array_set(a, 1, agora_int(256)), AGORA_EVALUE);
	AGH_OK(c, agora_array_set(a, 2, agora_int(255)));
	assert_item(a, 0, 0);
	assert_item(a, 1, 0);
	assert_item(a, 2, 255);
	agora_array_close(a);
}
END_TEST

START_TEST(unsigned_64_bit_array_holds_values_above_int64_max)
{
	agora_client *c = agh_cli;
	struct agora_array *a;
	agora_value v;
	int64_t x = 7;

	AGH_OK(c, agora_array_open(c, NULL, 'Q', 1, &a));
	AGH_OK(c, agora_array_set(a, 0, agora_uint(UINT64_MAX)));
	AGH_OK(c, agora_array_get(a, 0, &v));
	ck_assert_int_eq(v.type, AGORA_UINT);
	ck_assert(v.via.u == UINT64_MAX);
	agora_value_free(&v);
	/* Not an int64: refused, and the out-parameter is left alone. */
	AGH_CALL_EQ(c, agora_array_get_int(a, 0, &x), AGORA_EVALUE);
	ck_assert_int_eq(x, 7);
	AGH_CALL_EQ(c, agora_array_set(a, 0, agora_int(-1)), AGORA_EVALUE);
	agora_array_close(a);
}
END_TEST

START_TEST(double_array_stores_floats_and_ints_as_floats)
{
	agora_client *c = agh_cli;
	struct agora_array *a, *f;
	agora_value v;
	double d = 0;
	int64_t x = 0;

	AGH_OK(c, agora_array_open(c, "doubles", 'd', 2, &a));
	AGH_OK(c, agora_array_set(a, 0, agora_float(1.5)));
	AGH_OK(c, agora_array_set(a, 1, agora_int(3)));
	AGH_OK(c, agora_array_get_float(a, 0, &d));
	ck_assert(d == 1.5);
	AGH_OK(c, agora_array_get(a, 1, &v));
	ck_assert_int_eq(v.type, AGORA_FLOAT);
	ck_assert(v.via.f == 3.0);
	agora_value_free(&v);
	AGH_CALL_EQ(c, agora_array_get_int(a, 0, &x), AGORA_ETYPE);
	AGH_CALL_EQ(c, agora_array_set(a, 0, agora_str("1.5")), AGORA_ETYPE);
	AGH_CALL_EQ(c, agora_array_set(a, 0, agora_nil()), AGORA_ETYPE);
	AGH_OK(c, agora_array_get_float(a, 0, &d));
	ck_assert(d == 1.5);

	AGH_OK(c, agora_array_open(c, NULL, 'f', 1, &f));
	AGH_OK(c, agora_array_set(f, 0, agora_float(0.25)));
	AGH_OK(c, agora_array_get_float(f, 0, &d));
	ck_assert(d == 0.25);
	agora_array_close(f);
	agora_array_close(a);
}
END_TEST

START_TEST(float_or_string_into_an_int_array_is_type)
{
	agora_client *c = agh_cli;
	struct agora_array *a;

	AGH_OK(c, agora_array_open(c, "ints", 'i', 1, &a));
	AGH_OK(c, agora_array_set(a, 0, agora_int(5)));
	AGH_CALL_EQ(c, agora_array_set(a, 0, agora_float(1.0)), AGORA_ETYPE);
	AGH_CALL_EQ(c, agora_array_set(a, 0, agora_float(2.5)), AGORA_ETYPE);
	AGH_CALL_EQ(c, agora_array_set(a, 0, agora_str("6")), AGORA_ETYPE);
	assert_item(a, 0, 5);
	agora_array_close(a);
}
END_TEST

START_TEST(unknown_typecode_is_value)
{
	agora_client *c = agh_cli;
	struct agora_array *a = NULL;

	AGH_CALL_EQ(c, agora_array_open(c, "bad", 'z', 3, &a), AGORA_EVALUE);
	AGH_CALL_EQ(c, agora_array_open(c, NULL, 'u', 3, &a), AGORA_EVALUE);
	ck_assert_ptr_null(a);
}
END_TEST

START_TEST(array_indices_count_from_the_end_and_stop_at_the_length)
{
	agora_client *c = agh_cli;
	struct agora_array *a;
	agora_value items[4], v;
	const int64_t init[4] = { 10, 20, 30, 40 };

	agh_ints(items, init, 4);
	AGH_OK(c, agora_array_open_items(c, "idx", 'q', items, 4, &a));
	assert_item(a, -1, 40);
	assert_item(a, -4, 10);
	AGH_CALL_EQ(c, agora_array_get(a, 4, &v), AGORA_EINDEX);
	AGH_CALL_EQ(c, agora_array_get(a, -5, &v), AGORA_EINDEX);
	AGH_CALL_EQ(c, agora_array_set(a, 4, agora_int(1)), AGORA_EINDEX);
	AGH_OK(c, agora_array_set(a, -2, agora_int(33)));
	AGH_OK(c, agora_array_copy(a, &v));
	const int64_t want[4] = { 10, 20, 33, 40 };
	agh_assert_ints(v, want, 4);
	agora_value_free(&v);
	agora_array_close(a);
}
END_TEST

START_TEST(array_slices_read_and_write_within_the_fixed_length)
{
	agora_client *c = agh_cli;
	struct agora_array *a;
	agora_value items[10], v;
	int64_t init[10];
	size_t n = 0;

	for (int i = 0; i < 10; i++)
		init[i] = i;
	agh_ints(items, init, 10);
	AGH_OK(c, agora_array_open_items(c, "sl", 'i', items, 10, &a));

	AGH_OK(c, agora_array_slice(a, 2, 5, &v));
	agh_assert_ints(v, (const int64_t[]){ 2, 3, 4 }, 3);
	agora_value_free(&v);
	AGH_OK(c, agora_array_slice(a, AGORA_END, 3, &v));
	agh_assert_ints(v, (const int64_t[]){ 0, 1, 2 }, 3);
	agora_value_free(&v);
	AGH_OK(c, agora_array_slice(a, -3, AGORA_END, &v));
	agh_assert_ints(v, (const int64_t[]){ 7, 8, 9 }, 3);
	agora_value_free(&v);
	AGH_OK(c, agora_array_slice(a, 5, 2, &v));
	agh_assert_ints(v, NULL, 0);
	agora_value_free(&v);
	AGH_OK(c, agora_array_slice(a, AGORA_END, AGORA_END, &v));
	agh_assert_ints(v, init, 10);
	agora_value_free(&v);

	const int64_t tail[2] = { 80, 90 };
	agh_ints(items, tail, 2);
	AGH_OK(c, agora_array_set_slice(a, 8, items, 2));
	/* Past the end: the length cannot grow. */
	AGH_CALL_EQ(c, agora_array_set_slice(a, 9, items, 2), AGORA_EINDEX);
	AGH_CALL_EQ(c, agora_array_set_slice(a, 11, items, 1), AGORA_EINDEX);
	AGH_OK(c, agora_array_len(a, &n));
	ck_assert_uint_eq(n, 10);
	AGH_OK(c, agora_array_copy(a, &v));
	agh_assert_ints(v, (const int64_t[]){ 0, 1, 2, 3, 4, 5, 6, 7, 80, 90 },
			10);
	agora_value_free(&v);
	agora_array_close(a);
}
END_TEST

/* Add 1 to slot @idx of the array "slots" NINCR times. */
static int bump_own_slot(agora_client *c, int idx, void *arg)
{
	struct agora_array *a = NULL;

	(void)arg;
	AGH_WCALL(c, agora_array_open(c, "slots", 'l', NSLOTS, &a));
	for (int i = 0; i < NINCR; i++) {
		int64_t x = -1;
		AGH_WCALL(c, agora_array_get_int(a, idx, &x));
		AGH_WCALL(c, agora_array_set(a, idx, agora_int(x + 1)));
	}
	AGH_WCALL(c, agora_array_close(a));
	return 0;
}

START_TEST(workers_each_incrementing_their_own_slot_lose_nothing)
{
	agora_client *c = agh_cli;
	struct agora_array *a;
	agora_value v;
	int64_t want[NSLOTS];

	AGH_OK(c, agora_array_open(c, "slots", 'l', NSLOTS, &a));
	agh_run_workers(NSLOTS, bump_own_slot, NULL, NULL);
	for (int i = 0; i < NSLOTS; i++)
		want[i] = NINCR;
	AGH_OK(c, agora_array_copy(a, &v));
	agh_assert_ints(v, want, NSLOTS);
	agora_value_free(&v);
	agora_array_close(a);
}
END_TEST

/* ---- namespace ---------------------------------------------------------- */

/* Set three attributes of the namespace "cfg". */
static int ns_writer(agora_client *c, int idx, void *arg)
{
	agora_namespace *ns = NULL;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_namespace_open(c, "cfg", &ns));
	AGH_WCALL(c, agora_namespace_set(ns, "workers", agora_int(4)));
	AGH_WCALL(c, agora_namespace_set(ns, "name", agora_str("agora")));
	AGH_WCALL(c, agora_namespace_set(ns, "ratio", agora_float(0.5)));
	AGH_WCALL(c, agora_namespace_close(ns));
	return 0;
}

/* See the parent's changes to "cfg", and leave a mark. */
static int ns_reader(agora_client *c, int idx, void *arg)
{
	agora_namespace *ns = NULL;
	agora_value v;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_namespace_open(c, "cfg", &ns));
	int rc = agora_namespace_get(ns, "ratio", &v);
	AGH_WCHECK(rc == AGORA_EKEY);
	AGH_WCALL(c, agora_namespace_get(ns, "workers", &v));
	AGH_WCHECK(v.type == AGORA_INT && v.via.i == 5);
	agora_value_free(&v);
	AGH_WCALL(c, agora_namespace_set(ns, "seen", agora_bool(true)));
	AGH_WCALL(c, agora_namespace_close(ns));
	return 0;
}

START_TEST(namespace_attributes_are_shared_between_processes)
{
	agora_client *c = agh_cli;
	agora_namespace *ns;
	agora_value v;

	AGH_OK(c, agora_namespace_open(c, "cfg", &ns));
	agh_run_workers(1, ns_writer, NULL, NULL);
	AGH_OK(c, agora_namespace_get(ns, "workers", &v));
	agh_assert_int(v, 4);
	agora_value_free(&v);
	AGH_OK(c, agora_namespace_get(ns, "name", &v));
	agh_assert_str(v, "agora");
	agora_value_free(&v);
	AGH_OK(c, agora_namespace_get(ns, "ratio", &v));
	ck_assert_int_eq(v.type, AGORA_FLOAT);
	ck_assert(v.via.f == 0.5);
	agora_value_free(&v);

	AGH_OK(c, agora_namespace_delete(ns, "ratio"));
	AGH_OK(c, agora_namespace_set(ns, "workers", agora_int(5)));
	agh_run_workers(1, ns_reader, NULL, NULL);

	AGH_OK(c, agora_namespace_items(ns, &v));
	ck_assert_int_eq(v.type, AGORA_MAP);
	ck_assert_uint_eq(v.via.map.len, 3);
	agh_assert_int(*agh_map_find(v, "workers"), 5);
	agh_assert_str(*agh_map_find(v, "name"), "agora");
	const agora_value *seen = agh_map_find(v, "seen");
	ck_assert_ptr_nonnull(seen);
	ck_assert(seen->type == AGORA_BOOL && seen->via.b);
	ck_assert_ptr_null(agh_map_find(v, "ratio"));
	agora_value_free(&v);
	agora_namespace_close(ns);
}
END_TEST

START_TEST(missing_namespace_attribute_is_key)
{
	agora_client *c = agh_cli;
	agora_namespace *ns;
	agora_value v = agora_int(9);

	AGH_OK(c, agora_namespace_open(c, NULL, &ns));
	AGH_CALL_EQ(c, agora_namespace_get(ns, "nope", &v), AGORA_EKEY);
	ck_assert_int_eq(v.type, AGORA_INT);
	AGH_CALL_EQ(c, agora_namespace_delete(ns, "nope"), AGORA_EKEY);
	AGH_OK(c, agora_namespace_set(ns, "x", agora_nil()));
	AGH_OK(c, agora_namespace_get(ns, "x", &v));
	ck_assert_int_eq(v.type, AGORA_NIL);
	agora_value_free(&v);
	AGH_OK(c, agora_namespace_delete(ns, "x"));
	AGH_CALL_EQ(c, agora_namespace_delete(ns, "x"), AGORA_EKEY);
	AGH_OK(c, agora_namespace_items(ns, &v));
	ck_assert_int_eq(v.type, AGORA_MAP);
	ck_assert_uint_eq(v.via.map.len, 0);
	agora_value_free(&v);
	agora_namespace_close(ns);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("shared");

	AGH_ADD(s, int_array_holds_32_bit_integers_and_refuses_the_next_one);
	AGH_ADD(s, each_integer_typecode_keeps_to_its_range);
	AGH_ADD(s, unsigned_byte_array_refuses_minus_one);
	AGH_ADD(s, unsigned_64_bit_array_holds_values_above_int64_max);
	AGH_ADD(s, double_array_stores_floats_and_ints_as_floats);
	AGH_ADD(s, float_or_string_into_an_int_array_is_type);
	AGH_ADD(s, unknown_typecode_is_value);
	AGH_ADD(s, array_indices_count_from_the_end_and_stop_at_the_length);
	AGH_ADD(s, array_slices_read_and_write_within_the_fixed_length);
	AGH_ADD(s, workers_each_incrementing_their_own_slot_lose_nothing);
	AGH_ADD(s, namespace_attributes_are_shared_between_processes);
	AGH_ADD(s, missing_namespace_attribute_is_key);
	return agh_run_suite(s);
}
