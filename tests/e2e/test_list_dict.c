/*
 * test_list_dict.c - list and dict semantics through the client API, checked
 * against what Python's list and dict do, plus the object registry: named
 * get-or-create, drop, ls, info and stats.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define INTS(...) ((const int64_t[]){ __VA_ARGS__ })
#define NINTS(...) (sizeof((const int64_t[]){ __VA_ARGS__ }) / sizeof(int64_t))
/* Require the list @l to hold exactly the integers given. */
#define EXPECT_LIST(l, ...) \
	expect_list((l), INTS(__VA_ARGS__), NINTS(__VA_ARGS__))
#define EXPECT_EMPTY(l) expect_list((l), NULL, 0)
/* Require l[start:stop:step] to be exactly the integers given. */
#define EXPECT_SLICE(l, a, b, s, ...) \
	expect_slice((l), (a), (b), (s), INTS(__VA_ARGS__), NINTS(__VA_ARGS__))
#define END AGORA_END

static agora_list *new_list(const int64_t *ints, size_t n)
{
	agora_list *l;
	agora_value items[64];

	ck_assert_uint_le(n, 64);
	AGH_OK(agh_cli, agora_list_open(agh_cli, NULL, &l));
	agh_ints(items, ints, n);
	if (n)
		AGH_OK(agh_cli, agora_list_extend(l, items, n));
	return l;
}
#define NEW_LIST(...) new_list(INTS(__VA_ARGS__), NINTS(__VA_ARGS__))

static void expect_list(agora_list *l, const int64_t *want, size_t n)
{
	agora_value v;

	AGH_OK(agh_cli, agora_list_copy(l, &v));
	agh_assert_ints(v, want, n);
	agora_value_free(&v);
}

static void expect_slice(agora_list *l, int64_t a, int64_t b, int64_t s,
			 const int64_t *want, size_t n)
{
	agora_value v;

	AGH_OK(agh_cli, agora_list_slice(l, a, b, s, &v));
	agh_assert_ints(v, want, n);
	agora_value_free(&v);
}

static int64_t get_int(agora_list *l, int64_t i)
{
	int64_t x = 0;

	AGH_OK(agh_cli, agora_list_get_int(l, i, &x));
	return x;
}

/* ---- list ---- */

START_TEST(list_negative_indices_count_from_the_end)
{
	agora_client *c = agh_cli;
	agora_list *l = NEW_LIST(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
	agora_value v;

	ck_assert_int_eq(get_int(l, -1), 9);
	ck_assert_int_eq(get_int(l, -10), 0);
	ck_assert_int_eq(get_int(l, 3), 3);
	AGH_CALL_EQ(c, agora_list_get(l, 10, &v), AGORA_EINDEX);
	AGH_CALL_EQ(c, agora_list_get(l, -11, &v), AGORA_EINDEX);
	AGH_OK(c, agora_list_set(l, -2, agora_int(80)));
	AGH_CALL_EQ(c, agora_list_set(l, 10, agora_int(1)), AGORA_EINDEX);
	AGH_CALL_EQ(c, agora_list_set(l, -11, agora_int(1)), AGORA_EINDEX);
	AGH_OK(c, agora_list_delete(l, -1));
	AGH_OK(c, agora_list_delete(l, 0));
	AGH_CALL_EQ(c, agora_list_delete(l, 8), AGORA_EINDEX);
	EXPECT_LIST(l, 1, 2, 3, 4, 5, 6, 7, 80);
	agora_list_close(l);
}
END_TEST

START_TEST(list_slices_take_open_ends_and_negative_steps)
{
	agora_client *c = agh_cli;
	agora_list *l = NEW_LIST(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
	agora_value v;

	EXPECT_SLICE(l, END, END, END, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
	EXPECT_SLICE(l, 2, END, END, 2, 3, 4, 5, 6, 7, 8, 9);
	EXPECT_SLICE(l, END, 3, END, 0, 1, 2);
	EXPECT_SLICE(l, -3, END, END, 7, 8, 9);
	EXPECT_SLICE(l, END, -7, END, 0, 1, 2);
	EXPECT_SLICE(l, END, END, -1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
	EXPECT_SLICE(l, 8, 2, -2, 8, 6, 4);
	EXPECT_SLICE(l, END, END, 3, 0, 3, 6, 9);
	EXPECT_SLICE(l, -1, -4, -1, 9, 8, 7);
	EXPECT_SLICE(l, END, 5, -1, 9, 8, 7, 6);
	EXPECT_SLICE(l, 3, END, -1, 3, 2, 1, 0);
	EXPECT_SLICE(l, -100, 100, END, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
	EXPECT_SLICE(l, 100, -100, -4, 9, 5, 1);
	expect_slice(l, 5, 2, END, NULL, 0);
	expect_slice(l, 2, 5, -1, NULL, 0);
	/* Python: ValueError: slice step cannot be zero. */
	AGH_CALL_EQ(c, agora_list_slice(l, END, END, 0, &v), AGORA_EVALUE);
	agora_list_close(l);
}
END_TEST

START_TEST(list_set_slice_replaces_inserts_and_shrinks)
{
	agora_client *c = agh_cli;
	agora_list *l = NEW_LIST(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
	agora_value items[3];

	agh_ints(items, INTS(20, 30), 2);
	AGH_OK(c, agora_list_set_slice(l, 2, 5, items, 2));
	EXPECT_LIST(l, 0, 1, 20, 30, 5, 6, 7, 8, 9);
	agh_ints(items, INTS(-1), 1);
	AGH_OK(c, agora_list_set_slice(l, 0, 0, items, 1));
	EXPECT_LIST(l, -1, 0, 1, 20, 30, 5, 6, 7, 8, 9);
	AGH_OK(c, agora_list_set_slice(l, -2, END, NULL, 0));
	EXPECT_LIST(l, -1, 0, 1, 20, 30, 5, 6, 7);
	agh_ints(items, INTS(100, 101, 102), 3);
	AGH_OK(c, agora_list_set_slice(l, 100, 200, items, 3));
	EXPECT_LIST(l, -1, 0, 1, 20, 30, 5, 6, 7, 100, 101, 102);
	/* l[5:2] = [99] inserts at 5. */
	agh_ints(items, INTS(99), 1);
	AGH_OK(c, agora_list_set_slice(l, 5, 2, items, 1));
	EXPECT_LIST(l, -1, 0, 1, 20, 30, 99, 5, 6, 7, 100, 101, 102);
	agh_ints(items, INTS(7, 8), 2);
	AGH_OK(c, agora_list_set_slice(l, END, END, items, 2));
	EXPECT_LIST(l, 7, 8);
	agora_list_close(l);
}
END_TEST

START_TEST(list_del_slice_removes_a_range)
{
	agora_client *c = agh_cli;
	agora_list *l = NEW_LIST(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);

	AGH_OK(c, agora_list_del_slice(l, 7, END));
	EXPECT_LIST(l, 0, 1, 2, 3, 4, 5, 6);
	AGH_OK(c, agora_list_del_slice(l, END, 2));
	EXPECT_LIST(l, 2, 3, 4, 5, 6);
	AGH_OK(c, agora_list_del_slice(l, 3, 1));
	EXPECT_LIST(l, 2, 3, 4, 5, 6);
	AGH_OK(c, agora_list_del_slice(l, 1, -1));
	EXPECT_LIST(l, 2, 6);
	AGH_OK(c, agora_list_del_slice(l, END, END));
	EXPECT_EMPTY(l);
	agora_list_close(l);
}
END_TEST

START_TEST(list_insert_clamps_out_of_range_positions)
{
	agora_client *c = agh_cli;
	agora_list *l = NEW_LIST(1, 2, 3);

	AGH_OK(c, agora_list_insert(l, 100, agora_int(4)));
	EXPECT_LIST(l, 1, 2, 3, 4);
	AGH_OK(c, agora_list_insert(l, -100, agora_int(0)));
	EXPECT_LIST(l, 0, 1, 2, 3, 4);
	AGH_OK(c, agora_list_insert(l, -1, agora_int(9)));
	EXPECT_LIST(l, 0, 1, 2, 3, 9, 4);
	AGH_OK(c, agora_list_insert(l, 2, agora_int(7)));
	EXPECT_LIST(l, 0, 1, 7, 2, 3, 9, 4);
	agora_list_close(l);
}
END_TEST

START_TEST(list_pop_defaults_to_the_last_and_empty_pop_is_index_error)
{
	agora_client *c = agh_cli;
	agora_list *l = NEW_LIST(1, 2, 3, 4);
	agora_value v;

	AGH_OK(c, agora_list_pop(l, -1, &v));
	agh_assert_int(v, 4);
	agora_value_free(&v);
	AGH_OK(c, agora_list_pop(l, 0, &v));
	agh_assert_int(v, 1);
	agora_value_free(&v);
	AGH_CALL_EQ(c, agora_list_pop(l, 5, &v), AGORA_EINDEX);
	AGH_CALL_EQ(c, agora_list_pop(l, -3, &v), AGORA_EINDEX);
	AGH_OK(c, agora_list_pop(l, -2, &v));
	agh_assert_int(v, 2);
	agora_value_free(&v);
	EXPECT_LIST(l, 3);
	/* pop() with no index: the raw method takes the default. */
	agora_value params[1] = { agora_int(agora_list_handle(l)) };
	AGH_OK(c, agora_call(c, "list.pop", agora_array(params, 1), &v));
	agh_assert_int(v, 3);
	agora_value_free(&v);
	AGH_CALL_EQ(c, agora_list_pop(l, -1, &v), AGORA_EINDEX);
	ck_assert_str_ne(agora_errmsg(c), "");
	AGH_CALL_EQ(c, agora_list_pop(l, 0, &v), AGORA_EINDEX);
	agora_list_close(l);
}
END_TEST

START_TEST(list_remove_takes_the_first_match_and_absent_is_value_error)
{
	agora_client *c = agh_cli;
	agora_list *l = NEW_LIST(1, 2, 1, 3);

	AGH_OK(c, agora_list_remove(l, agora_int(1)));
	EXPECT_LIST(l, 2, 1, 3);
	AGH_CALL_EQ(c, agora_list_remove(l, agora_int(5)), AGORA_EVALUE);
	AGH_CALL_EQ(c, agora_list_remove(l, agora_str("1")), AGORA_EVALUE);
	EXPECT_LIST(l, 2, 1, 3);
	AGH_OK(c, agora_list_remove(l, agora_uint(1)));
	EXPECT_LIST(l, 2, 3);
	agora_list_close(l);
}
END_TEST

START_TEST(list_index_searches_between_start_and_stop)
{
	agora_client *c = agh_cli;
	agora_list *l = NEW_LIST(5, 6, 7, 5, 6);
	int64_t i = -1;

	AGH_OK(c, agora_list_index(l, agora_int(6), 0, END, &i));
	ck_assert_int_eq(i, 1);
	AGH_OK(c, agora_list_index(l, agora_int(6), 2, END, &i));
	ck_assert_int_eq(i, 4);
	AGH_CALL_EQ(c, agora_list_index(l, agora_int(6), 2, 4, &i),
		    AGORA_EVALUE);
	AGH_OK(c, agora_list_index(l, agora_int(5), -2, END, &i));
	ck_assert_int_eq(i, 3);
	AGH_OK(c, agora_list_index(l, agora_int(7), 0, -2, &i));
	ck_assert_int_eq(i, 2);
	AGH_OK(c, agora_list_index(l, agora_int(6), -100, 100, &i));
	ck_assert_int_eq(i, 1);
	AGH_OK(c, agora_list_index(l, agora_uint(7), 0, END, &i));
	ck_assert_int_eq(i, 2);
	AGH_CALL_EQ(c, agora_list_index(l, agora_int(9), 0, END, &i),
		    AGORA_EVALUE);
	agora_list_close(l);
}
END_TEST

START_TEST(list_count_and_contains_compare_by_value)
{
	agora_client *c = agh_cli;
	agora_list *l = NEW_LIST(5, 6, 7, 5, 6, 5);
	int64_t n = -1;
	bool b = false;

	AGH_OK(c, agora_list_count(l, agora_int(5), &n));
	ck_assert_int_eq(n, 3);
	AGH_OK(c, agora_list_count(l, agora_uint(6), &n));
	ck_assert_int_eq(n, 2);
	AGH_OK(c, agora_list_count(l, agora_int(9), &n));
	ck_assert_int_eq(n, 0);
	AGH_OK(c, agora_list_contains(l, agora_int(7), &b));
	ck_assert(b);
	AGH_OK(c, agora_list_contains(l, agora_int(8), &b));
	ck_assert(!b);
	AGH_OK(c, agora_list_contains(l, agora_str("7"), &b));
	ck_assert(!b);
	agora_list_close(l);
}
END_TEST

START_TEST(list_sort_orders_ascending_and_reverse)
{
	agora_client *c = agh_cli;
	agora_list *l = NEW_LIST(3, -1, 2, 10, 0);
	agora_value v;

	AGH_OK(c, agora_list_sort(l, false));
	EXPECT_LIST(l, -1, 0, 2, 3, 10);
	AGH_OK(c, agora_list_sort(l, true));
	EXPECT_LIST(l, 10, 3, 2, 0, -1);

	AGH_OK(c, agora_list_clear(l));
	const char *words[] = { "pear", "apple", "fig" };
	for (int i = 0; i < 3; i++)
		AGH_OK(c, agora_list_append(l, agora_str(words[i])));
	AGH_OK(c, agora_list_sort(l, false));
	AGH_OK(c, agora_list_copy(l, &v));
	ck_assert_uint_eq(v.via.array.len, 3);
	agh_assert_str(v.via.array.items[0], "apple");
	agh_assert_str(v.via.array.items[1], "fig");
	agh_assert_str(v.via.array.items[2], "pear");
	agora_value_free(&v);
	agora_list_close(l);
}
END_TEST

/* Require the list to be these numbers, with these types: 'i' int, 'f'
 * float. */
static void expect_numbers(agora_list *l, const double *want, const char *types)
{
	agora_value v;
	char got[256];
	size_t n = strlen(types);

	AGH_OK(agh_cli, agora_list_copy(l, &v));
	agora_value_format(v, got, sizeof(got));
	ck_assert_msg(v.type == AGORA_ARRAY && v.via.array.len == n, "got %s",
		      got);
	for (size_t i = 0; i < n; i++) {
		agora_value *x = &v.via.array.items[i];
		if (types[i] == 'f')
			ck_assert_msg(x->type == AGORA_FLOAT &&
					  x->via.f == want[i],
				      "item %zu should be float %g in %s", i,
				      want[i], got);
		else
			ck_assert_msg(
			    x->type == AGORA_INT && (double)x->via.i == want[i],
			    "item %zu should be int %g in %s", i, want[i], got);
	}
	agora_value_free(&v);
}

START_TEST(list_sort_is_stable_for_equal_int_and_float)
{
	agora_client *c = agh_cli;
	agora_list *l;
	agora_value items[5];

	/* Python: sorted([2, 1.0, 3, 1, 0]) == [0, 1.0, 1, 2, 3], the 1.0
	 * staying before the 1 because they compare equal. */
	items[0] = agora_int(2);
	items[1] = agora_float(1.0);
	items[2] = agora_int(3);
	items[3] = agora_int(1);
	items[4] = agora_int(0);
	AGH_OK(c, agora_list_open(c, NULL, &l));
	AGH_OK(c, agora_list_extend(l, items, 5));
	AGH_OK(c, agora_list_sort(l, false));
	expect_numbers(l, (const double[]){ 0, 1, 1, 2, 3 }, "ifiii");

	/* reverse=True keeps equal items in their original order too. */
	AGH_OK(c, agora_list_clear(l));
	AGH_OK(c, agora_list_extend(l, items, 5));
	AGH_OK(c, agora_list_sort(l, true));
	expect_numbers(l, (const double[]){ 3, 2, 1, 1, 0 }, "iifii");

	AGH_OK(c, agora_list_clear(l));
	items[1] = agora_int(1);
	items[3] = agora_float(1.0);
	AGH_OK(c, agora_list_extend(l, items, 5));
	AGH_OK(c, agora_list_sort(l, false));
	expect_numbers(l, (const double[]){ 0, 1, 1, 2, 3 }, "iifii");
	agora_list_close(l);
}
END_TEST

START_TEST(list_sort_of_mixed_str_and_int_is_type_error_and_leaves_list)
{
	agora_client *c = agh_cli;
	agora_list *l = NEW_LIST(3, 1);
	agora_value v;

	AGH_OK(c, agora_list_insert(l, 1, agora_str("a")));
	AGH_OK(c, agora_list_append(l, agora_int(2)));
	AGH_CALL_EQ(c, agora_list_sort(l, false), AGORA_ETYPE);
	ck_assert_str_ne(agora_errmsg(c), "");
	AGH_CALL_EQ(c, agora_list_sort(l, true), AGORA_ETYPE);
	AGH_OK(c, agora_list_copy(l, &v));
	ck_assert_uint_eq(v.via.array.len, 4);
	agh_assert_int(v.via.array.items[0], 3);
	agh_assert_str(v.via.array.items[1], "a");
	agh_assert_int(v.via.array.items[2], 1);
	agh_assert_int(v.via.array.items[3], 2);
	agora_value_free(&v);
	agora_list_close(l);
}
END_TEST

START_TEST(list_reverse_clear_copy_and_len)
{
	agora_client *c = agh_cli;
	agora_list *l = NEW_LIST(1, 2, 3);
	agora_value v;
	size_t n = 0;

	AGH_OK(c, agora_list_reverse(l));
	EXPECT_LIST(l, 3, 2, 1);
	AGH_OK(c, agora_list_copy(l, &v));
	AGH_OK(c, agora_list_append(l, agora_int(0)));
	/* The copy does not follow the list. */
	agh_assert_ints(v, INTS(3, 2, 1), 3);
	agora_value_free(&v);
	AGH_OK(c, agora_list_len(l, &n));
	ck_assert_uint_eq(n, 4);
	AGH_OK(c, agora_list_clear(l));
	AGH_OK(c, agora_list_len(l, &n));
	ck_assert_uint_eq(n, 0);
	EXPECT_EMPTY(l);
	AGH_OK(c, agora_list_reverse(l));
	EXPECT_EMPTY(l);
	agora_list_close(l);
}
END_TEST

START_TEST(list_stores_any_value_and_gives_it_back_unchanged)
{
	agora_client *c = agh_cli;
	agora_list *l;
	agora_value v;
	agora_pair pairs[2] = { { agora_str("k"), agora_bin("\0\1", 2) },
				{ agora_int(-5), agora_nil() } };
	agora_value inner[3] = { agora_bool(true), agora_float(-0.25),
				 agora_map(pairs, 2) };
	agora_value all = agora_array(inner, 3);

	AGH_OK(c, agora_list_open(c, NULL, &l));
	AGH_OK(c, agora_list_append(l, all));
	AGH_OK(c, agora_list_append(l, agora_uint(UINT64_MAX)));
	AGH_OK(c, agora_list_get(l, 0, &v));
	ck_assert(agora_value_equal(v, all));
	agora_value_free(&v);
	AGH_OK(c, agora_list_get(l, 1, &v));
	ck_assert_int_eq(v.type, AGORA_UINT);
	ck_assert_uint_eq(v.via.u, UINT64_MAX);
	agora_value_free(&v);
	agora_list_close(l);
}
END_TEST

/* ---- dict ---- */

/* Require the keys of @d, as strings, to be @want (space-separated). */
static void expect_keys(agora_dict *d, const char *want)
{
	agora_value keys;
	char got[256] = "";
	size_t len = 0;

	AGH_OK(agh_cli, agora_dict_keys(d, &keys));
	ck_assert_int_eq(keys.type, AGORA_ARRAY);
	for (size_t i = 0; i < keys.via.array.len; i++) {
		agora_value *k = &keys.via.array.items[i];
		ck_assert_int_eq(k->type, AGORA_STR);
		len += (size_t)snprintf(got + len, sizeof(got) - len, "%s%.*s",
					i ? " " : "", (int)k->via.str.len,
					k->via.str.ptr);
		ck_assert_uint_lt(len, sizeof(got));
	}
	agora_value_free(&keys);
	ck_assert_str_eq(got, want);
}

static int64_t dict_int(agora_dict *d, const char *key)
{
	int64_t x = 0;

	AGH_OK(agh_cli, agora_dict_get_int(d, agora_str(key), &x));
	return x;
}

START_TEST(dict_keeps_insertion_order_and_reset_keys_keep_their_place)
{
	agora_client *c = agh_cli;
	agora_dict *d;
	agora_value v;

	AGH_OK(c, agora_dict_open(c, NULL, &d));
	AGH_OK(c, agora_dict_set(d, agora_str("a"), agora_int(1)));
	AGH_OK(c, agora_dict_set(d, agora_str("b"), agora_int(2)));
	AGH_OK(c, agora_dict_set(d, agora_str("c"), agora_int(3)));
	expect_keys(d, "a b c");
	AGH_OK(c, agora_dict_set(d, agora_str("b"), agora_int(20)));
	expect_keys(d, "a b c");
	AGH_OK(c, agora_dict_values(d, &v));
	agh_assert_ints(v, INTS(1, 20, 3), 3);
	agora_value_free(&v);
	AGH_OK(c, agora_dict_delete(d, agora_str("a")));
	AGH_CALL_EQ(c, agora_dict_delete(d, agora_str("a")), AGORA_EKEY);
	AGH_OK(c, agora_dict_set(d, agora_str("a"), agora_int(4)));
	expect_keys(d, "b c a");

	AGH_OK(c, agora_dict_items(d, &v));
	ck_assert_int_eq(v.type, AGORA_ARRAY);
	ck_assert_uint_eq(v.via.array.len, 3);
	const char *ks[] = { "b", "c", "a" };
	const int64_t vs[] = { 20, 3, 4 };
	for (size_t i = 0; i < 3; i++) {
		agora_value *it = &v.via.array.items[i];
		ck_assert_int_eq(it->type, AGORA_ARRAY);
		ck_assert_uint_eq(it->via.array.len, 2);
		agh_assert_str(it->via.array.items[0], ks[i]);
		agh_assert_int(it->via.array.items[1], vs[i]);
	}
	agora_value_free(&v);

	AGH_OK(c, agora_dict_copy(d, &v));
	ck_assert_int_eq(v.type, AGORA_MAP);
	ck_assert_uint_eq(v.via.map.len, 3);
	for (size_t i = 0; i < 3; i++) {
		agh_assert_str(v.via.map.items[i].key, ks[i]);
		agh_assert_int(v.via.map.items[i].val, vs[i]);
	}
	agora_value_free(&v);
	agora_dict_close(d);
}
END_TEST

START_TEST(dict_popitem_is_last_in_first_out_and_empty_is_key_error)
{
	agora_client *c = agh_cli;
	agora_dict *d;
	agora_value k, v;

	AGH_OK(c, agora_dict_open(c, NULL, &d));
	AGH_OK(c, agora_dict_set(d, agora_str("x"), agora_int(1)));
	AGH_OK(c, agora_dict_set(d, agora_str("y"), agora_int(2)));
	AGH_OK(c, agora_dict_set(d, agora_str("z"), agora_int(3)));
	AGH_OK(c, agora_dict_set(d, agora_str("x"), agora_int(10)));
	const char *ks[] = { "z", "y", "x" };
	const int64_t vs[] = { 3, 2, 10 };
	for (int i = 0; i < 3; i++) {
		AGH_OK(c, agora_dict_popitem(d, &k, &v));
		agh_assert_str(k, ks[i]);
		agh_assert_int(v, vs[i]);
		agora_value_free(&k);
		agora_value_free(&v);
	}
	AGH_CALL_EQ(c, agora_dict_popitem(d, &k, &v), AGORA_EKEY);
	agora_dict_close(d);
}
END_TEST

START_TEST(dict_getitem_of_missing_key_is_key_error_and_get_gives_default)
{
	agora_client *c = agh_cli;
	agora_dict *d;
	agora_value v;

	AGH_OK(c, agora_dict_open(c, NULL, &d));
	AGH_OK(c, agora_dict_set(d, agora_str("here"), agora_int(1)));
	AGH_CALL_EQ(c, agora_dict_get(d, agora_str("gone"), &v), AGORA_EKEY);
	ck_assert_str_ne(agora_errmsg(c), "");
	AGH_OK(c,
	       agora_dict_get_default(d, agora_str("gone"), agora_int(7), &v));
	agh_assert_int(v, 7);
	agora_value_free(&v);
	AGH_OK(c,
	       agora_dict_get_default(d, agora_str("gone"), agora_nil(), &v));
	ck_assert_int_eq(v.type, AGORA_NIL);
	agora_value_free(&v);
	AGH_OK(c,
	       agora_dict_get_default(d, agora_str("here"), agora_int(7), &v));
	agh_assert_int(v, 1);
	agora_value_free(&v);
	/* get(k) with no default is nil for a missing key. */
	agora_value params[2] = { agora_int(agora_dict_handle(d)),
				  agora_str("gone") };
	AGH_OK(c, agora_call(c, "dict.get", agora_array(params, 2), &v));
	ck_assert_int_eq(v.type, AGORA_NIL);
	agora_value_free(&v);
	agora_dict_close(d);
}
END_TEST

START_TEST(dict_pop_with_and_without_default)
{
	agora_client *c = agh_cli;
	agora_dict *d;
	agora_value v;
	size_t n = 9;

	AGH_OK(c, agora_dict_open(c, NULL, &d));
	AGH_OK(c, agora_dict_set(d, agora_str("a"), agora_int(1)));
	AGH_OK(c, agora_dict_pop(d, agora_str("a"), &v));
	agh_assert_int(v, 1);
	agora_value_free(&v);
	AGH_CALL_EQ(c, agora_dict_pop(d, agora_str("a"), &v), AGORA_EKEY);
	AGH_OK(c, agora_dict_pop_default(d, agora_str("a"), agora_str("none"),
					 &v));
	agh_assert_str(v, "none");
	agora_value_free(&v);
	AGH_OK(c, agora_dict_len(d, &n));
	ck_assert_uint_eq(n, 0);
	agora_dict_close(d);
}
END_TEST

START_TEST(dict_setdefault_inserts_only_when_missing)
{
	agora_client *c = agh_cli;
	agora_dict *d;
	agora_value v;

	AGH_OK(c, agora_dict_open(c, NULL, &d));
	AGH_OK(c, agora_dict_setdefault(d, agora_str("k"), agora_int(5), &v));
	agh_assert_int(v, 5);
	agora_value_free(&v);
	AGH_OK(c, agora_dict_setdefault(d, agora_str("k"), agora_int(6), &v));
	agh_assert_int(v, 5);
	agora_value_free(&v);
	ck_assert_int_eq(dict_int(d, "k"), 5);
	AGH_OK(c, agora_dict_setdefault(d, agora_str("n"), agora_nil(), &v));
	ck_assert_int_eq(v.type, AGORA_NIL);
	agora_value_free(&v);
	bool has = false;
	AGH_OK(c, agora_dict_contains(d, agora_str("n"), &has));
	ck_assert(has);
	expect_keys(d, "k n");
	agora_dict_close(d);
}
END_TEST

START_TEST(dict_update_overwrites_in_place_and_appends_new_keys)
{
	agora_client *c = agh_cli;
	agora_dict *d;
	agora_pair first[2] = { { agora_str("a"), agora_int(1) },
				{ agora_str("b"), agora_int(2) } };
	agora_pair second[2] = { { agora_str("c"), agora_int(3) },
				 { agora_str("a"), agora_int(10) } };
	size_t n = 0;
	bool has = true;

	AGH_OK(c, agora_dict_open(c, NULL, &d));
	AGH_OK(c, agora_dict_update(d, agora_map(first, 2)));
	AGH_OK(c, agora_dict_update(d, agora_map(second, 2)));
	expect_keys(d, "a b c");
	ck_assert_int_eq(dict_int(d, "a"), 10);
	ck_assert_int_eq(dict_int(d, "b"), 2);
	ck_assert_int_eq(dict_int(d, "c"), 3);
	AGH_OK(c, agora_dict_len(d, &n));
	ck_assert_uint_eq(n, 3);
	AGH_OK(c, agora_dict_contains(d, agora_str("z"), &has));
	ck_assert(!has);
	AGH_OK(c, agora_dict_clear(d));
	AGH_OK(c, agora_dict_len(d, &n));
	ck_assert_uint_eq(n, 0);
	expect_keys(d, "");
	agora_dict_close(d);
}
END_TEST

START_TEST(dict_keys_compare_by_value_across_encodings_but_not_types)
{
	agora_client *c = agh_cli;
	agora_dict *d;
	agora_value v;
	size_t n = 0;
	bool has = false;

	AGH_OK(c, agora_dict_open(c, NULL, &d));
	/* The int 1 and the uint 1 are one key. */
	AGH_OK(c, agora_dict_set(d, agora_int(1), agora_str("one")));
	AGH_OK(c, agora_dict_get(d, agora_uint(1), &v));
	agh_assert_str(v, "one");
	agora_value_free(&v);
	AGH_OK(c, agora_dict_set(d, agora_uint(1), agora_str("uno")));
	AGH_OK(c, agora_dict_len(d, &n));
	ck_assert_uint_eq(n, 1);
	/* 1 and 1.0 are two keys. */
	AGH_OK(c, agora_dict_contains(d, agora_float(1.0), &has));
	ck_assert(!has);
	AGH_OK(c, agora_dict_set(d, agora_float(1.0), agora_str("float")));
	AGH_OK(c, agora_dict_len(d, &n));
	ck_assert_uint_eq(n, 2);
	AGH_OK(c, agora_dict_get(d, agora_int(1), &v));
	agh_assert_str(v, "uno");
	agora_value_free(&v);
	AGH_OK(c, agora_dict_get(d, agora_float(1.0), &v));
	agh_assert_str(v, "float");
	agora_value_free(&v);
	/* str and bin with the same bytes are two keys. */
	AGH_OK(c, agora_dict_set(d, agora_str("k"), agora_int(1)));
	AGH_OK(c, agora_dict_set(d, agora_bin("k", 1), agora_int(2)));
	AGH_OK(c, agora_dict_len(d, &n));
	ck_assert_uint_eq(n, 4);
	AGH_OK(c, agora_dict_get(d, agora_str("k"), &v));
	agh_assert_int(v, 1);
	agora_value_free(&v);
	AGH_OK(c, agora_dict_get(d, agora_bin("k", 1), &v));
	agh_assert_int(v, 2);
	agora_value_free(&v);
	/* Big integers too: 2^63 as uint is one key however it is sent. */
	AGH_OK(c,
	       agora_dict_set(d, agora_uint((uint64_t)1 << 63), agora_int(63)));
	AGH_OK(c, agora_dict_contains(d, agora_uint((uint64_t)1 << 63), &has));
	ck_assert(has);
	AGH_OK(c, agora_dict_contains(d, agora_int(-1), &has));
	ck_assert(!has);
	agora_dict_close(d);
}
END_TEST

/* ---- registry ---- */

START_TEST(named_open_is_get_or_create_across_clients)
{
	agora_client *c = agh_cli;
	agora_client *c2 = agh_connect(&agh_srv);
	agora_list *a, *b;
	agora_dict *d;
	agora_queue *q;
	size_t n = 0;

	AGH_OK(c, agora_list_open(c, "shared", &a));
	AGH_OK(c2, agora_list_open(c2, "shared", &b));
	AGH_OK(c, agora_list_append(a, agora_int(1)));
	AGH_OK(c2, agora_list_append(b, agora_int(2)));
	EXPECT_LIST(a, 1, 2);
	AGH_OK(c2, agora_list_len(b, &n));
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(agh_info_int(c, agora_list_handle(a), "id"),
			 agh_info_int(c2, agora_list_handle(b), "id"));

	AGH_CALL_EQ(c, agora_dict_open(c, "shared", &d), AGORA_ETYPE);
	ck_assert_str_ne(agora_errmsg(c), "");
	AGH_CALL_EQ(c2, agora_queue_open(c2, "shared", 0, &q), AGORA_ETYPE);
	/* Opening it again on the same connection gives a new handle. */
	agora_list *a2;
	AGH_OK(c, agora_list_open(c, "shared", &a2));
	ck_assert_uint_ne(agora_list_handle(a2), agora_list_handle(a));
	agora_list_close(a2);
	EXPECT_LIST(a, 1, 2);

	agora_list_close(b);
	agora_client_free(c2);
	agora_list_close(a);
}
END_TEST

START_TEST(drop_removes_the_name_while_open_handles_keep_working)
{
	agora_client *c = agh_cli;
	agora_list *a, *fresh;
	agora_dict *d;
	bool existed = false;
	size_t n = 9;

	AGH_OK(c, agora_list_open(c, "tmp", &a));
	AGH_OK(c, agora_list_append(a, agora_int(1)));
	AGH_OK(c, agora_drop(c, "tmp", &existed));
	ck_assert(existed);
	AGH_OK(c, agora_drop(c, "tmp", &existed));
	ck_assert(!existed);
	AGH_OK(c, agora_drop(c, "never", NULL));
	AGH_OK(c, agora_list_append(a, agora_int(2)));
	EXPECT_LIST(a, 1, 2);

	/* The name is free again: a new object, of any type. */
	AGH_OK(c, agora_list_open(c, "tmp", &fresh));
	AGH_OK(c, agora_list_len(fresh, &n));
	ck_assert_uint_eq(n, 0);
	agora_list_close(fresh);
	AGH_OK(c, agora_drop(c, "tmp", &existed));
	ck_assert(existed);
	AGH_OK(c, agora_dict_open(c, "tmp", &d));
	agora_dict_close(d);
	agora_list_close(a);
}
END_TEST

static const agora_value *ls_entry(agora_value ls, const char *name)
{
	for (size_t i = 0; i < ls.via.array.len; i++) {
		const agora_value *nm =
		    agh_map_find(ls.via.array.items[i], "name");
		if (nm && nm->type == AGORA_STR &&
		    nm->via.str.len == strlen(name) &&
		    memcmp(nm->via.str.ptr, name, nm->via.str.len) == 0)
			return &ls.via.array.items[i];
	}
	return NULL;
}

START_TEST(ls_lists_named_objects_with_type_and_len)
{
	agora_client *c = agh_cli;
	agora_list *named, *anon;
	agora_dict *d;
	agora_var *v;
	agora_value ls;
	const agora_value *e, *f;

	AGH_OK(c, agora_list_open(c, "L", &named));
	AGH_OK(c, agora_list_extend(named,
				    (agora_value[]){ agora_int(1), agora_int(2),
						     agora_int(3) },
				    3));
	AGH_OK(c, agora_list_open(c, NULL, &anon));
	AGH_OK(c, agora_dict_open(c, "D", &d));
	AGH_OK(c, agora_dict_set(d, agora_str("x"), agora_int(1)));
	AGH_OK(c, agora_var_open(c, "V", agora_int(5), &v));

	AGH_OK(c, agora_ls(c, &ls));
	ck_assert_int_eq(ls.type, AGORA_ARRAY);
	ck_assert_uint_eq(ls.via.array.len, 3);
	ck_assert_ptr_nonnull(e = ls_entry(ls, "L"));
	ck_assert_ptr_nonnull(f = agh_map_find(*e, "type"));
	agh_assert_str(*f, "list");
	ck_assert_int_eq(agh_map_int(*e, "len"), 3);
	ck_assert_ptr_nonnull(e = ls_entry(ls, "D"));
	ck_assert_ptr_nonnull(f = agh_map_find(*e, "type"));
	agh_assert_str(*f, "dict");
	ck_assert_int_eq(agh_map_int(*e, "len"), 1);
	ck_assert_ptr_nonnull(e = ls_entry(ls, "V"));
	ck_assert_ptr_nonnull(f = agh_map_find(*e, "type"));
	agh_assert_str(*f, "value");
	ck_assert_ptr_nonnull(f = agh_map_find(*e, "len"));
	ck_assert_int_eq(f->type, AGORA_NIL);
	agora_value_free(&ls);

	AGH_OK(c, agora_drop(c, "D", NULL));
	AGH_OK(c, agora_ls(c, &ls));
	ck_assert_uint_eq(ls.via.array.len, 2);
	ck_assert_ptr_null(ls_entry(ls, "D"));
	agora_value_free(&ls);

	agora_var_close(v);
	agora_dict_close(d);
	agora_list_close(anon);
	agora_list_close(named);
}
END_TEST

START_TEST(info_describes_an_open_handle)
{
	agora_client *c = agh_cli;
	agora_list *l, *anon;
	agora_value info;
	const agora_value *f;

	AGH_OK(c, agora_list_open(c, "infoed", &l));
	AGH_OK(c, agora_list_append(l, agora_int(1)));
	AGH_OK(c, agora_list_append(l, agora_int(2)));
	AGH_OK(c, agora_info(c, agora_list_handle(l), &info));
	ck_assert_ptr_nonnull(f = agh_map_find(info, "type"));
	agh_assert_str(*f, "list");
	ck_assert_ptr_nonnull(f = agh_map_find(info, "name"));
	agh_assert_str(*f, "infoed");
	ck_assert_int_eq(agh_map_int(info, "len"), 2);
	ck_assert_int_eq(agh_map_int(info, "waiters"), 0);
	int64_t id = agh_map_int(info, "id");
	agora_value_free(&info);

	AGH_OK(c, agora_list_open(c, NULL, &anon));
	AGH_OK(c, agora_info(c, agora_list_handle(anon), &info));
	ck_assert_ptr_nonnull(f = agh_map_find(info, "name"));
	ck_assert_int_eq(f->type, AGORA_NIL);
	ck_assert_int_ne(agh_map_int(info, "id"), id);
	agora_value_free(&info);

	/* A handle that was never opened is NO_OBJECT. */
	AGH_CALL_EQ(c, agora_info(c, 9999, &info), AGORA_ENO_OBJECT);
	agora_list_close(anon);
	agora_list_close(l);
}
END_TEST

START_TEST(stats_count_connections_objects_requests_and_memory)
{
	agora_client *c = agh_cli;
	agora_list *anon, *named;

	ck_assert_int_eq(agh_stats_int(c, "connections"), 1);
	agora_client *c2 = agh_connect(&agh_srv);
	ck_assert_int_eq(agh_stats_int(c, "connections"), 2);
	agora_client_free(c2);
	agh_wait_stats(c, "connections", 1);

	int64_t objects = agh_stats_int(c, "objects");
	AGH_OK(c, agora_list_open(c, NULL, &anon));
	ck_assert_int_eq(agh_stats_int(c, "objects"), objects + 1);
	AGH_OK(c, agora_list_open(c, "n", &named));
	ck_assert_int_eq(agh_stats_int(c, "objects"), objects + 2);
	agora_list_close(anon);
	/* The anonymous list goes with its last handle; the named one
	 * lives on until dropped. */
	ck_assert_int_eq(agh_stats_int(c, "objects"), objects + 1);
	int64_t mem = agh_stats_int(c, "memory");
	char *big = malloc(100000);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', 100000);
	AGH_OK(c, agora_list_append(named, agora_strn(big, 100000)));
	free(big);
	ck_assert_int_ge(agh_stats_int(c, "memory"), mem + 100000);
	agora_list_close(named);
	ck_assert_int_eq(agh_stats_int(c, "objects"), objects + 1);
	AGH_OK(c, agora_drop(c, "n", NULL));
	ck_assert_int_eq(agh_stats_int(c, "objects"), objects);
	ck_assert_int_lt(agh_stats_int(c, "memory"), mem + 100000);

	int64_t requests = agh_stats_int(c, "requests");
	AGH_OK(c, agora_ping(c));
	AGH_OK(c, agora_ping(c));
	ck_assert_int_ge(agh_stats_int(c, "requests"), requests + 3);
	ck_assert_int_eq(agh_stats_int(c, "waiters"), 0);
}
END_TEST

/* Open anonymous objects and a named one, close the handles and exit. */
static int open_and_leave(agora_client *c, int idx, void *arg)
{
	agora_list *l = NULL;
	agora_dict *d = NULL;
	agora_list *named = NULL;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_list_open(c, NULL, &l));
	AGH_WCALL(c, agora_list_append(l, agora_int(1)));
	AGH_WCALL(c, agora_dict_open(c, NULL, &d));
	AGH_WCALL(c, agora_list_open(c, "stays", &named));
	AGH_WCALL(c, agora_list_append(named, agora_int(7)));
	agora_list_close(l);
	agora_dict_close(d);
	agora_list_close(named);
	return 0;
}

/* Open objects and park; the parent kills us with the handles open. */
static int open_and_hang(agora_client *c, int idx, void *arg)
{
	agora_list *l = NULL;
	agora_queue *q = NULL;
	agora_value v;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_list_open(c, NULL, &l));
	AGH_WCALL(c, agora_queue_open(c, "hang", 0, &q));
	/* Parks forever; the parent kills us. */
	agora_queue_get(q, AGORA_FOREVER, &v);
	return 1;
}

START_TEST(objects_of_a_connection_that_dies_are_released)
{
	agora_client *c = agh_cli;
	agora_queue *q;
	agora_list *named;
	size_t n = 0;

	int64_t objects = agh_stats_int(c, "objects");
	agh_run_workers(1, open_and_leave, NULL, NULL);
	/* Only the named list is left. */
	agh_wait_stats(c, "objects", objects + 1);
	agh_wait_stats(c, "connections", 1);
	AGH_OK(c, agora_list_open(c, "stays", &named));
	AGH_OK(c, agora_list_len(named, &n));
	ck_assert_uint_eq(n, 1);

	AGH_OK(c, agora_queue_open(c, "hang", 0, &q));
	pid_t pid = agh_spawn(open_and_hang, 0, NULL);
	agh_wait_waiters(c, agora_queue_handle(q), 1);
	ck_assert_int_eq(agh_stats_int(c, "objects"), objects + 3);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	agh_wait_pid(pid, AGH_WORKER_TIMEOUT);
	/* Its anonymous list goes; the queue stays (named). */
	agh_wait_stats(c, "objects", objects + 2);
	agh_wait_stats(c, "connections", 1);
	ck_assert_int_eq(agh_stats_int(c, "waiters"), 0);
	agora_queue_close(q);
	agora_list_close(named);
}
END_TEST

/* list pop and dict pop as a C type: an item of another type is removed
 * and kept for the caller, never lost. */
START_TEST(typed_pop_of_another_type_keeps_the_item_for_the_caller)
{
	agora_client *c = agh_cli;
	agora_list *l;
	agora_dict *d;
	agora_value v;
	int64_t x = 0;
	char *str = NULL;
	size_t n;
	bool has;

	AGH_OK(c, agora_list_open(c, "typed-l", &l));
	AGH_OK(c, agora_list_append(l, agora_int(7)));
	AGH_OK(c, agora_list_append(l, agora_str("seven")));
	ck_assert_int_eq(agora_list_pop_int(l, -1, &x), AGORA_ETYPE);
	AGH_OK(c, agora_list_len(l, &n));
	ck_assert_uint_eq(n, 1);
	AGH_OK(c, agora_client_take_item(c, &v));
	agh_assert_str(v, "seven");
	agora_value_free(&v);
	ck_assert_int_eq(agora_list_pop_str(l, 0, &str), AGORA_ETYPE);
	ck_assert_ptr_null(str);
	AGH_OK(c, agora_client_take_item(c, &v));
	agh_assert_int(v, 7);
	agora_value_free(&v);
	/* The matching types go through, and an empty list is INDEX. */
	AGH_OK(c, agora_list_append(l, agora_str("s")));
	AGH_OK(c, agora_list_append(l, agora_int(8)));
	AGH_OK(c, agora_list_pop_int(l, -1, &x));
	ck_assert_int_eq(x, 8);
	AGH_OK(c, agora_list_pop_str(l, -1, &str));
	ck_assert_str_eq(str, "s");
	free(str);
	ck_assert_int_eq(agora_list_pop_int(l, -1, &x), AGORA_EINDEX);

	AGH_OK(c, agora_dict_open(c, "typed-d", &d));
	AGH_OK(c, agora_dict_set(d, agora_str("n"), agora_str("not a number")));
	AGH_OK(c, agora_dict_set(d, agora_str("big"), agora_uint(UINT64_MAX)));
	ck_assert_int_eq(agora_dict_pop_int(d, agora_str("n"), &x),
			 AGORA_ETYPE);
	ck_assert_int_eq(agora_dict_pop_int(d, agora_str("big"), &x),
			 AGORA_EVALUE);
	AGH_OK(c, agora_dict_contains(d, agora_str("n"), &has));
	ck_assert(!has);
	AGH_OK(c, agora_client_take_item(c, &v));
	agh_assert_str(v, "not a number");
	agora_value_free(&v);
	AGH_OK(c, agora_client_take_item(c, &v));
	ck_assert_int_eq(v.type, AGORA_UINT);
	ck_assert(v.via.u == UINT64_MAX);
	agora_value_free(&v);
	ck_assert_int_eq(agora_client_take_item(c, &v), AGORA_EEMPTY);
	ck_assert_int_eq(agora_dict_pop_str(d, agora_str("n"), &str),
			 AGORA_EKEY);
	AGH_OK(c, agora_dict_set(d, agora_str("k"), agora_str("v")));
	AGH_OK(c, agora_dict_pop_str(d, agora_str("k"), &str));
	ck_assert_str_eq(str, "v");
	free(str);
	AGH_OK(c, agora_dict_close(d));
	AGH_OK(c, agora_list_close(l));
}
END_TEST

START_TEST(ls_match_lists_the_names_a_pattern_matches)
{
	agora_client *c = agh_cli;
	agora_list *a, *b, *x;
	agora_value v;

	AGH_OK(c, agora_list_open(c, "job.1", &a));
	AGH_OK(c, agora_list_open(c, "job.2", &b));
	AGH_OK(c, agora_list_open(c, "other", &x));
	AGH_OK(c, agora_ls_match(c, "job.*", &v));
	ck_assert_int_eq(v.type, AGORA_ARRAY);
	ck_assert_uint_eq(v.via.array.len, 2);
	for (size_t i = 0; i < 2; i++) {
		const agora_value *name =
		    agh_map_find(v.via.array.items[i], "name");
		ck_assert_ptr_nonnull(name);
		ck_assert(strncmp(name->via.str.ptr, "job.", 4) == 0);
	}
	agora_value_free(&v);
	AGH_OK(c, agora_ls_match(c, "nothing*", &v));
	ck_assert_uint_eq(v.via.array.len, 0);
	agora_value_free(&v);
	agora_list_close(a);
	agora_list_close(b);
	agora_list_close(x);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("list_dict");

	AGH_ADD(s, list_negative_indices_count_from_the_end);
	AGH_ADD(s, list_slices_take_open_ends_and_negative_steps);
	AGH_ADD(s, list_set_slice_replaces_inserts_and_shrinks);
	AGH_ADD(s, list_del_slice_removes_a_range);
	AGH_ADD(s, list_insert_clamps_out_of_range_positions);
	AGH_ADD(s, list_pop_defaults_to_the_last_and_empty_pop_is_index_error);
	AGH_ADD(s, list_remove_takes_the_first_match_and_absent_is_value_error);
	AGH_ADD(s, list_index_searches_between_start_and_stop);
	AGH_ADD(s, list_count_and_contains_compare_by_value);
	AGH_ADD(s, list_sort_orders_ascending_and_reverse);
	AGH_ADD(s, list_sort_is_stable_for_equal_int_and_float);
	AGH_ADD(s,
		list_sort_of_mixed_str_and_int_is_type_error_and_leaves_list);
	AGH_ADD(s, list_reverse_clear_copy_and_len);
	AGH_ADD(s, list_stores_any_value_and_gives_it_back_unchanged);
	AGH_ADD(s, dict_keeps_insertion_order_and_reset_keys_keep_their_place);
	AGH_ADD(s, dict_popitem_is_last_in_first_out_and_empty_is_key_error);
	AGH_ADD(s,
		dict_getitem_of_missing_key_is_key_error_and_get_gives_default);
	AGH_ADD(s, dict_pop_with_and_without_default);
	AGH_ADD(s, dict_setdefault_inserts_only_when_missing);
	AGH_ADD(s, dict_update_overwrites_in_place_and_appends_new_keys);
	AGH_ADD(s, dict_keys_compare_by_value_across_encodings_but_not_types);
	AGH_ADD(s, named_open_is_get_or_create_across_clients);
	AGH_ADD(s, drop_removes_the_name_while_open_handles_keep_working);
	AGH_ADD(s, ls_lists_named_objects_with_type_and_len);
	AGH_ADD(s, info_describes_an_open_handle);
	AGH_ADD(s, stats_count_connections_objects_requests_and_memory);
	AGH_ADD(s, objects_of_a_connection_that_dies_are_released);
	AGH_ADD(s, typed_pop_of_another_type_keeps_the_item_for_the_caller);
	AGH_ADD(s, ls_match_lists_the_names_a_pattern_matches);
	return agh_run_suite(s);
}
