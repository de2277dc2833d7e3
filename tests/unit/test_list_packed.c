/*
 * test_list_packed.c - the list's packed item store (server/list_packed.c)
 * on its own: no server, no requests.
 *
 * A model (an array of each item's bytes) is changed alongside the store,
 * and after every change each item the store finds (its offset and size,
 * through the marks) is held to the model, so a mark fixed up wrongly
 * after a splice shows as a wrong item. Items are of every size (fixints,
 * strings up to 300 bytes, arrays, maps, references), and the lists are
 * longer than two marks' worth (64 items).
 */
#include <stdint.h>
#include <string.h>

#include "list_store.h"
#include "unit.h"

#define MAXN 600

typedef struct model {
	size_t n;
	uint8_t *item[MAXN];
	size_t len[MAXN];
} model;

/* Item @i's bytes: a mix of forms, every 7th a reference (ext 1). */
static msgpack_sbuffer *item_bytes(unsigned i)
{
	msgpack_sbuffer *sb = msgpack_sbuffer_new();
	msgpack_packer pk;
	char s[300];

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	switch (i % 7) {
	case 0:
		msgpack_pack_uint64(&pk, i % 100);
		break;
	case 1:
		msgpack_pack_int64(&pk, -(int64_t)i * 1000);
		break;
	case 2:
		memset(s, 'a' + i % 26, sizeof(s));
		msgpack_pack_str(&pk, i % 300);
		msgpack_pack_str_body(&pk, s, i % 300);
		break;
	case 3:
		msgpack_pack_array(&pk, 2);
		msgpack_pack_uint64(&pk, i);
		msgpack_pack_double(&pk, i / 2.0);
		break;
	case 4:
		msgpack_pack_map(&pk, 1);
		msgpack_pack_str(&pk, 1);
		msgpack_pack_str_body(&pk, "k", 1);
		msgpack_pack_uint64(&pk, i);
		break;
	case 5:
		msgpack_pack_nil(&pk);
		break;
	default: /* a reference: ext 1 of 8 bytes */
		msgpack_pack_ext(&pk, 8, 1);
		msgpack_pack_ext_body(&pk, "refrefre", 8);
		break;
	}
	return sb;
}

static bool is_ref(unsigned i)
{
	return i % 7 == 6;
}

/* Releases seen through the callback. */
static void count_release(void *ctx, ag_val *v)
{
	ck_assert(ag_val_flags(v) & AG_VAL_REF);
	(*(size_t *)ctx)++;
}

/* Items @ids[0..k) as one run of bytes in *ret (caller frees), the refs
 * among them in *ret_refs. */
static size_t run_of(const unsigned *ids, size_t k, uint8_t **ret,
		     size_t *ret_refs, model *add)
{
	size_t total = 0, refs = 0;
	uint8_t *buf = NULL;

	for (size_t j = 0; j < k; j++) {
		msgpack_sbuffer *sb = item_bytes(ids[j]);

		buf = realloc(buf, total + sb->size + 1);
		memcpy(buf + total, sb->data, sb->size);
		add->item[j] = malloc(sb->size);
		memcpy(add->item[j], sb->data, sb->size);
		add->len[j] = sb->size;
		total += sb->size;
		refs += is_ref(ids[j]);
		msgpack_sbuffer_free(sb);
	}
	add->n = k;
	*ret = buf;
	*ret_refs = refs;
	return total;
}

/* Replace items [lo, hi) of store and model by items @first.. (k of them);
 * returns the releases the store made. */
static size_t splice(ag_lpack *p, model *m, size_t lo, size_t hi, size_t k,
		     unsigned first)
{
	unsigned ids[MAXN];
	model add;
	uint8_t *src;
	size_t a, b, refs, released = 0, srclen;

	for (size_t j = 0; j < k; j++)
		ids[j] = first + (unsigned)j;
	srclen = run_of(ids, k, &src, &refs, &add);
	ag_lpack_range(p, lo, hi, &a, &b);
	ck_assert_int_eq(ag_lpack_splice(p, lo, hi, a, b, src, srclen, k, refs,
					 count_release, &released),
			 0);
	free(src);
	for (size_t j = lo; j < hi; j++)
		free(m->item[j]);
	memmove(m->item + lo + k, m->item + hi, (m->n - hi) * sizeof(*m->item));
	memmove(m->len + lo + k, m->len + hi, (m->n - hi) * sizeof(*m->len));
	memcpy(m->item + lo, add.item, k * sizeof(*m->item));
	memcpy(m->len + lo, add.len, k * sizeof(*m->len));
	m->n = m->n - (hi - lo) + k;
	return released;
}

static size_t model_refs(const model *m)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n; i++)
		n += m->item[i][0] == 0xd7 && m->item[i][1] == 1;
	return n;
}

/* Every item the store finds, in any order, is the model's. */
static void check(ag_lpack *p, const model *m)
{
	size_t used = 0;

	ck_assert_uint_eq(p->len, m->n);
	ck_assert_uint_eq(p->nrefs, model_refs(m));
	/* Backwards first, so that stale marks are brought up to date from
	 * far away, then forwards. */
	for (size_t i = m->n; i-- > 0;) {
		size_t off = ag_lpack_offset(p, i);

		ck_assert_uint_eq(ag_lpack_item_len(p, off), m->len[i]);
		ck_assert_msg(memcmp(p->buf + off, m->item[i], m->len[i]) == 0,
			      "item %zu of %zu differs", i, m->n);
	}
	for (size_t i = 0; i < m->n; i++) {
		ck_assert_uint_eq(ag_lpack_offset(p, i), used);
		used += m->len[i];
	}
	ck_assert_uint_eq(ag_lpack_offset(p, m->n), used);
	ck_assert_uint_eq(p->used, used);
	ck_assert_uint_eq(ag_lpack_mem(p),
			  p->cap + p->marks_cap * sizeof(size_t));
}

static void model_free(model *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->item[i]);
	m->n = 0;
}

START_TEST(append_in_runs_finds_every_item_past_many_marks)
{
	ag_lpack p;
	model m = { 0 };

	ag_lpack_init(&p);
	ck_assert_uint_eq(ag_lpack_mem(&p), 0);
	for (unsigned r = 0; r < 20; r++)
		ck_assert_uint_eq(splice(&p, &m, m.n, m.n, 1 + r % 17, r * 17),
				  0);
	ck_assert_uint_gt(m.n, 64);
	check(&p, &m);
	ag_lpack_deinit(&p, NULL, NULL);
	model_free(&m);
}
END_TEST

/* Splices of every shape around mark boundaries: [lo, hi) replaced by k. */
static const struct {
	size_t lo, hi, k;
} shapes[] = {
	{ 0, 0, 1 },      { 0, 0, 40 },    { 0, 1, 0 },    { 0, 40, 0 },
	{ 0, 5, 3 },      { 31, 31, 1 },   { 31, 33, 0 },  { 32, 32, 1 },
	{ 32, 33, 1 },    { 33, 97, 2 },   { 63, 65, 40 }, { 64, 64, 33 },
	{ 50, 150, 100 }, { 100, 101, 0 }, { 1, 140, 1 },  { 10, 20, 30 },
};

START_TEST(splice_at_start_middle_and_end_keeps_every_item_in_place)
{
	size_t lo = shapes[_i].lo, hi = shapes[_i].hi, k = shapes[_i].k;
	ag_lpack p;
	model m = { 0 };

	/* Once with every mark up to date, once with them stale. */
	for (int stale = 0; stale < 2; stale++) {
		ag_lpack_init(&p);
		splice(&p, &m, 0, 0, 150, 1000);
		if (stale)
			splice(&p, &m, 0, 0, 3, 5000); /* front: stales */
		else
			check(&p, &m);
		splice(&p, &m, lo, hi, k, 2000);
		check(&p, &m);
		/* And the end of the list. */
		splice(&p, &m, m.n - 5, m.n, 7, 3000);
		check(&p, &m);
		ag_lpack_deinit(&p, NULL, NULL);
		model_free(&m);
	}
}
END_TEST

START_TEST(many_random_splices_match_the_model)
{
	uint32_t seed = 12345;
	ag_lpack p;
	model m = { 0 };

	ag_lpack_init(&p);
	for (int r = 0; r < 300; r++) {
		size_t lo, hi, k;

		seed = seed * 1103515245 + 12345;
		lo = m.n ? (seed >> 8) % (m.n + 1) : 0;
		hi = lo + (m.n - lo ? (seed >> 16) % (m.n - lo + 1) % 70 : 0);
		k = (seed >> 4) % 70;
		if (m.n - (hi - lo) + k > MAXN)
			k = 0;
		splice(&p, &m, lo, hi, k, (unsigned)r * 100);
		if (r % 10 == 0)
			check(&p, &m);
	}
	check(&p, &m);
	ag_lpack_deinit(&p, NULL, NULL);
	model_free(&m);
}
END_TEST

START_TEST(removed_references_are_released_and_counted)
{
	size_t released, before, expect = 0;
	ag_lpack p;
	model m = { 0 };

	ag_lpack_init(&p);
	splice(&p, &m, 0, 0, 140, 0); /* ids 6, 13, ...: 20 references */
	ck_assert_uint_eq(p.nrefs, 20);
	for (size_t i = 40; i < 100; i++)
		expect += is_ref((unsigned)i);
	released = splice(&p, &m, 40, 100, 0, 0);
	ck_assert_uint_eq(released, expect);
	ck_assert_uint_eq(p.nrefs, 20 - expect);
	check(&p, &m);
	/* A set over a reference releases it; over a plain item, nothing. */
	ck_assert_uint_eq(splice(&p, &m, 6, 7, 1, 0), 1);
	ck_assert_uint_eq(splice(&p, &m, 0, 1, 1, 1), 0);
	check(&p, &m);
	/* A NULL callback: the caller took over what it holds (pop). */
	before = p.nrefs;
	{
		size_t a, b;

		ag_lpack_range(&p, 13, 14, &a, &b);
		ck_assert(is_ref(13));
		ck_assert_int_eq(ag_lpack_splice(&p, 13, 14, a, b, NULL, 0, 0,
						 0, NULL, NULL),
				 0);
		free(m.item[13]);
		memmove(m.item + 13, m.item + 14, (m.n - 14) * sizeof(*m.item));
		memmove(m.len + 13, m.len + 14, (m.n - 14) * sizeof(*m.len));
		m.n--;
	}
	ck_assert_uint_eq(p.nrefs, before - 1);
	check(&p, &m);
	released = 0;
	before = p.nrefs;
	ag_lpack_deinit(&p, count_release, &released);
	ck_assert_uint_eq(released, before);
	ck_assert_uint_eq(p.nrefs, 0);
	ck_assert_uint_eq(ag_lpack_mem(&p), 0);
	model_free(&m);
}
END_TEST

START_TEST(memory_grows_with_items_and_trim_gives_it_back)
{
	ag_lpack p;
	model m = { 0 };
	size_t big;

	ag_lpack_init(&p);
	splice(&p, &m, 0, 0, 500, 0);
	big = ag_lpack_mem(&p);
	ck_assert_uint_ge(big, p.used + (500 / 32 + 1) * sizeof(size_t));
	splice(&p, &m, 5, 500, 0, 0);
	ck_assert_uint_eq(ag_lpack_mem(&p), big); /* a splice keeps room */
	ag_lpack_trim(&p);
	ck_assert_uint_lt(ag_lpack_mem(&p), big / 4);
	ck_assert_uint_ge(p.cap, p.used);
	check(&p, &m);
	splice(&p, &m, 0, 5, 0, 0);
	ag_lpack_trim(&p);
	ck_assert_uint_eq(ag_lpack_mem(&p), 0);
	ck_assert_ptr_null(p.buf);
	ag_lpack_deinit(&p, NULL, NULL);
}
END_TEST

START_TEST(exact_room_and_push_set_every_mark)
{
	uint8_t item[2] = { 0xcc, 200 };
	ag_lpack p;

	ck_assert_int_eq(ag_lpack_init_room(&p, 2 * 100, 100), 0);
	ck_assert_uint_eq(ag_lpack_mem(&p), 200 + 4 * sizeof(size_t));
	for (int i = 0; i < 100; i++)
		ag_lpack_push(&p, item, 2);
	ck_assert_uint_eq(p.nvalid, 4);
	for (size_t i = 0; i <= 100; i++)
		ck_assert_uint_eq(ag_lpack_offset(&p, i), 2 * i);
	ag_lpack_deinit(&p, NULL, NULL);
}
END_TEST

START_TEST(find_count_reverse_and_pack_items_agree_with_the_model)
{
	msgpack_sbuffer *out = msgpack_sbuffer_new();
	msgpack_packer pk;
	ag_lpack p;
	model m = { 0 };
	ag_val v;
	size_t off = 0;

	ag_lpack_init(&p);
	splice(&p, &m, 0, 0, 100, 0);
	splice(&p, &m, 100, 100, 1, 2); /* a second item like item 2 */
	v = ag_val_view(m.item[2], (uint32_t)m.len[2], 0);
	ck_assert_uint_eq(ag_lpack_find(&p, &v, 0, 200), 2);
	ck_assert_uint_eq(ag_lpack_find(&p, &v, 3, 200), 100);
	ck_assert_uint_eq(ag_lpack_find(&p, &v, 3, 100), SIZE_MAX);
	ck_assert_uint_eq(ag_lpack_count(&p, &v), 2);
	/* Every third item from the end, through the block cursor. */
	msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
	ag_lpack_pack_items(&p, &pk, 100, 34, -3);
	for (size_t k = 0; k < 34; k++) {
		size_t i = 100 - 3 * k;

		ck_assert(memcmp(out->data + off, m.item[i], m.len[i]) == 0);
		off += m.len[i];
	}
	ck_assert_uint_eq(out->size, off);
	ag_lpack_reverse(&p);
	for (size_t i = 0; i < m.n; i++) {
		size_t o = ag_lpack_offset(&p, i), j = m.n - 1 - i;

		ck_assert_uint_eq(ag_lpack_item_len(&p, o), m.len[j]);
		ck_assert(memcmp(p.buf + o, m.item[j], m.len[j]) == 0);
	}
	msgpack_sbuffer_free(out);
	ag_lpack_deinit(&p, NULL, NULL);
	model_free(&m);
}
END_TEST

START_TEST(sort_orders_ints_stably_and_refuses_mixed_items_unchanged)
{
	msgpack_zone z;
	msgpack_object a, b;
	ag_lpack p;
	uint8_t *before;
	size_t used;

	msgpack_zone_init(&z, 4096);
	ag_lpack_init(&p);
	ck_assert_int_eq(ag_lpack_reserve(&p, 300, 100), 0);
	for (int i = 0; i < 100; i++) {
		uint8_t x = (uint8_t)((i * 37) % 100);

		ag_lpack_push(&p, &x, 1);
	}
	ck_assert_int_eq(ag_lpack_sort(&p, false, &z, &a, &b), 0);
	for (size_t i = 0; i < 100; i++)
		ck_assert_uint_eq(p.buf[ag_lpack_offset(&p, i)], i);
	ck_assert_int_eq(ag_lpack_sort(&p, true, &z, &a, &b), 0);
	for (size_t i = 0; i < 100; i++)
		ck_assert_uint_eq(p.buf[ag_lpack_offset(&p, i)], 99 - i);
	ag_lpack_push(&p, (const uint8_t[]){ 0xa1, 'x' }, 2);
	used = p.used;
	before = malloc(used);
	memcpy(before, p.buf, used);
	ck_assert_int_eq(ag_lpack_sort(&p, false, &z, &a, &b), AGORA_ETYPE);
	ck_assert(a.type == MSGPACK_OBJECT_STR || b.type == MSGPACK_OBJECT_STR);
	ck_assert_uint_eq(p.used, used);
	ck_assert(memcmp(p.buf, before, used) == 0);
	free(before);
	ag_lpack_deinit(&p, NULL, NULL);
	msgpack_zone_destroy(&z);
}
END_TEST

static Suite *list_packed_suite(void)
{
	Suite *s = suite_create("list_packed");
	TCase *tc = tcase_create("splice");

	tcase_add_test(tc, append_in_runs_finds_every_item_past_many_marks);
	tcase_add_loop_test(
	    tc, splice_at_start_middle_and_end_keeps_every_item_in_place, 0,
	    (int)(sizeof(shapes) / sizeof(shapes[0])));
	tcase_add_test(tc, many_random_splices_match_the_model);
	suite_add_tcase(s, tc);
	tc = tcase_create("references");
	tcase_add_test(tc, removed_references_are_released_and_counted);
	suite_add_tcase(s, tc);
	tc = tcase_create("memory");
	tcase_add_test(tc, memory_grows_with_items_and_trim_gives_it_back);
	tcase_add_test(tc, exact_room_and_push_set_every_mark);
	suite_add_tcase(s, tc);
	tc = tcase_create("reading");
	tcase_add_test(tc,
		       find_count_reverse_and_pack_items_agree_with_the_model);
	tcase_add_test(
	    tc, sort_orders_ints_stably_and_refuses_mixed_items_unchanged);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(list_packed_suite());
}
