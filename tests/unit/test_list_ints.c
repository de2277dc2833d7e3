/*
 * test_list_ints.c - the list's int store (server/list_ints.c) on its own:
 * widths, splicing with widening in place, trimming, reading, and the
 * conversion to the packed store, whose bytes must be what msgpack-c packs
 * for each int in its shortest form (what a packed list would hold).
 */
#include <stdint.h>
#include <string.h>

#include "list_store.h"
#include "unit.h"

/* Append @x as the last item. */
static void push(ag_lints *s, int64_t x)
{
	ck_assert_int_eq(
	    ag_lints_splice(s, s->len, s->len, 1, ag_lints_width_for(x)), 0);
	ag_lints_set(s, s->len - 1, x);
}

START_TEST(width_is_the_narrowest_that_holds_the_value)
{
	ck_assert_uint_eq(ag_lints_width_for(0), 1);
	ck_assert_uint_eq(ag_lints_width_for(INT8_MIN), 1);
	ck_assert_uint_eq(ag_lints_width_for(INT8_MAX), 1);
	ck_assert_uint_eq(ag_lints_width_for(INT8_MAX + 1), 2);
	ck_assert_uint_eq(ag_lints_width_for(INT16_MIN), 2);
	ck_assert_uint_eq(ag_lints_width_for(INT16_MIN - 1), 4);
	ck_assert_uint_eq(ag_lints_width_for(INT32_MAX), 4);
	ck_assert_uint_eq(ag_lints_width_for((int64_t)INT32_MAX + 1), 8);
	ck_assert_uint_eq(ag_lints_width_for(INT64_MIN), 8);
}
END_TEST

START_TEST(a_wider_int_widens_every_item_in_place)
{
	static const int64_t wide[] = { 1000, -70000, INT64_MIN, INT64_MAX };
	static const unsigned width[] = { 2, 4, 8, 8 };
	ag_lints s;

	ag_lints_init(&s);
	ck_assert_uint_eq(s.width, 1);
	ck_assert_uint_eq(ag_lints_mem(&s), 0);
	for (int i = 0; i < 100; i++)
		push(&s, i - 50);
	ck_assert_uint_eq(s.width, 1);
	ck_assert_uint_ge(ag_lints_mem(&s), 100);
	for (int w = 0; w < 4; w++) {
		push(&s, wide[w]);
		ck_assert_uint_eq(s.width, width[w]);
		ck_assert_uint_ge(ag_lints_mem(&s), s.len * s.width);
		for (int i = 0; i < 100; i++)
			ck_assert_int_eq(ag_lints_get(&s, (size_t)i), i - 50);
		for (int j = 0; j <= w; j++)
			ck_assert_int_eq(ag_lints_get(&s, 100 + (size_t)j),
					 wide[j]);
	}
	ag_lints_deinit(&s);
}
END_TEST

START_TEST(splice_at_start_middle_and_end_moves_the_rest)
{
	ag_lints s;

	ag_lints_init(&s);
	for (int i = 0; i < 100; i++)
		push(&s, i);
	/* Start: 3 items where 0..9 were. */
	ck_assert_int_eq(ag_lints_splice(&s, 0, 10, 3, 1), 0);
	for (int i = 0; i < 3; i++)
		ag_lints_set(&s, (size_t)i, -1);
	ck_assert_uint_eq(s.len, 93);
	ck_assert_int_eq(ag_lints_get(&s, 3), 10);
	/* Middle, widening: one 16-bit item inserted at 50. */
	ck_assert_int_eq(ag_lints_splice(&s, 50, 50, 1, 2), 0);
	ag_lints_set(&s, 50, 30000);
	ck_assert_uint_eq(s.width, 2);
	ck_assert_int_eq(ag_lints_get(&s, 49), 56);
	ck_assert_int_eq(ag_lints_get(&s, 50), 30000);
	ck_assert_int_eq(ag_lints_get(&s, 51), 57);
	/* End: the last 4 removed. */
	ck_assert_int_eq(ag_lints_splice(&s, 90, 94, 0, 0), 0);
	ck_assert_uint_eq(s.len, 90);
	ck_assert_int_eq(ag_lints_get(&s, 89), 95);
	ck_assert_uint_eq(ag_lints_find(&s, 30000, 0, s.len), 50);
	ck_assert_uint_eq(ag_lints_find(&s, 30000, 51, s.len), SIZE_MAX);
	ck_assert_uint_eq(ag_lints_count(&s, -1), 3);
	ag_lints_deinit(&s);
}
END_TEST

START_TEST(trim_gives_slack_back_and_an_empty_store_starts_at_width_1)
{
	ag_lints s;
	size_t big;

	ag_lints_init(&s);
	for (int i = 0; i < 1000; i++)
		push(&s, 100000 + i);
	big = ag_lints_mem(&s);
	ck_assert_uint_ge(big, 4000);
	ck_assert_int_eq(ag_lints_splice(&s, 10, 1000, 0, 0), 0);
	ag_lints_trim(&s);
	ck_assert_uint_lt(ag_lints_mem(&s), big / 4);
	ck_assert_int_eq(ag_lints_get(&s, 9), 100009);
	ck_assert_int_eq(ag_lints_splice(&s, 0, 10, 0, 0), 0);
	ag_lints_trim(&s);
	ck_assert_uint_eq(ag_lints_mem(&s), 0);
	ck_assert_uint_eq(s.width, 1);
	ag_lints_deinit(&s);
}
END_TEST

START_TEST(reverse_and_sort_in_either_order)
{
	ag_lints s;

	ag_lints_init(&s);
	for (int i = 0; i < 50; i++)
		push(&s, (i * 37) % 50 - 25);
	ag_lints_sort(&s, false);
	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(ag_lints_get(&s, (size_t)i), i - 25);
	ag_lints_reverse(&s);
	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(ag_lints_get(&s, (size_t)i), 24 - i);
	ag_lints_sort(&s, false);
	ag_lints_sort(&s, true);
	ck_assert_int_eq(ag_lints_get(&s, 0), 24);
	ag_lints_deinit(&s);
}
END_TEST

START_TEST(only_ints_that_fit_int64_are_held)
{
	static const uint8_t u64max[] = { 0xcf, 0xff, 0xff, 0xff, 0xff,
					  0xff, 0xff, 0xff, 0xff };
	static const uint8_t i16[] = { 0xd1, 0xfc, 0x18 }; /* -1000 */
	static const uint8_t f64[] = { 0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t negfix = 0xff;
	int64_t x;
	ag_val v;

	v = ag_val_view(u64max, sizeof(u64max), 0);
	ck_assert(!ag_lints_val_int(&v, &x));
	v = ag_val_view(f64, sizeof(f64), 0);
	ck_assert(!ag_lints_val_int(&v, &x));
	v = ag_val_view(i16, sizeof(i16), 0);
	ck_assert(ag_lints_val_int(&v, &x));
	ck_assert_int_eq(x, -1000);
	v = ag_val_view(&negfix, 1, 0);
	ck_assert(ag_lints_val_int(&v, &x));
	ck_assert_int_eq(x, -1);
}
END_TEST

START_TEST(to_packed_holds_each_int_as_msgpack_packs_it)
{
	msgpack_sbuffer *sb = msgpack_sbuffer_new();
	msgpack_packer pk;
	ag_lints s;
	ag_lpack p;
	int64_t vals[200];

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	ag_lints_init(&s);
	for (int i = 0; i < 200; i++) {
		vals[i] = i % 3 == 0 ? -(int64_t)i * i * i * 1000 : i;
		push(&s, vals[i]);
		if (vals[i] >= 0)
			msgpack_pack_uint64(&pk, (uint64_t)vals[i]);
		else
			msgpack_pack_int64(&pk, vals[i]);
	}
	ck_assert_int_eq(ag_lints_to_packed(&s, &p), 0);
	ck_assert_uint_eq(p.len, 200);
	ck_assert_uint_eq(p.used, sb->size);
	ck_assert(memcmp(p.buf, sb->data, sb->size) == 0);
	ck_assert_uint_eq(p.nrefs, 0);
	ck_assert_uint_eq(p.nvalid, 7); /* every mark set */
	ck_assert_uint_eq(ag_lpack_mem(&p), sb->size + 7 * sizeof(size_t));
	/* The marks find each item: item 150 is the 151st packed. */
	{
		size_t off = ag_lpack_offset(&p, 150);
		msgpack_unpacked u;
		const msgpack_object *o =
		    unit_unpack(&u, p.buf + off, ag_lpack_item_len(&p, off));

		ck_assert_int_eq(o->via.i64, vals[150]);
		msgpack_unpacked_destroy(&u);
	}
	/* The int store is left as it was. */
	ck_assert_uint_eq(s.len, 200);
	ck_assert_int_eq(ag_lints_get(&s, 3), vals[3]);
	ag_lpack_deinit(&p, NULL, NULL);
	ag_lints_deinit(&s);
	msgpack_sbuffer_free(sb);
}
END_TEST

START_TEST(an_empty_store_converts_to_an_empty_packed_one)
{
	ag_lints s;
	ag_lpack p;

	ag_lints_init(&s);
	ck_assert_int_eq(ag_lints_to_packed(&s, &p), 0);
	ck_assert_uint_eq(p.len, 0);
	ck_assert_uint_eq(ag_lpack_mem(&p), 16);
	ag_lpack_deinit(&p, NULL, NULL);
}
END_TEST

START_TEST(pack_items_packs_a_stepped_run)
{
	msgpack_sbuffer *sb = msgpack_sbuffer_new();
	msgpack_packer pk;
	ag_lints s;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	ag_lints_init(&s);
	for (int i = 0; i < 10; i++)
		push(&s, i * 100 - 300);
	ag_lints_pack_items(&s, &pk, 9, 4, -3); /* 600, 300, 0, -300 */
	ck_assert_uint_eq(sb->size, 3 + 3 + 1 + 3);
	ck_assert(
	    memcmp(sb->data,
		   (const char[]){ (char)0xcd, 2, 0x58, (char)0xcd, 1, 0x2c, 0,
				   (char)0xd1, (char)0xfe, (char)0xd4 },
		   sb->size) == 0);
	ag_lints_deinit(&s);
	msgpack_sbuffer_free(sb);
}
END_TEST

static Suite *list_ints_suite(void)
{
	Suite *s = suite_create("list_ints");
	TCase *tc = tcase_create("store");

	tcase_add_test(tc, width_is_the_narrowest_that_holds_the_value);
	tcase_add_test(tc, a_wider_int_widens_every_item_in_place);
	tcase_add_test(tc, splice_at_start_middle_and_end_moves_the_rest);
	tcase_add_test(
	    tc, trim_gives_slack_back_and_an_empty_store_starts_at_width_1);
	tcase_add_test(tc, reverse_and_sort_in_either_order);
	tcase_add_test(tc, only_ints_that_fit_int64_are_held);
	suite_add_tcase(s, tc);
	tc = tcase_create("to_packed");
	tcase_add_test(tc, to_packed_holds_each_int_as_msgpack_packs_it);
	tcase_add_test(tc, an_empty_store_converts_to_an_empty_packed_one);
	tcase_add_test(tc, pack_items_packs_a_stepped_run);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(list_ints_suite());
}
