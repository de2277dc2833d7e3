/*
 * test_persist_calls.c - the objects whose changes the journal records as
 * calls (list, dict, namespace, value, array, event) come back from a data
 * directory exactly as they were (docs/protocol.md section 10): the same
 * items in the same order, each value the same, references naming the
 * same objects with the same secrets.
 *
 * Each test fills objects of every such family through many kinds of
 * calls, reads every object's contents, restarts agorad on the same
 * --data-dir and reads them again, twice over: once from the journal alone
 * (a crash, SIGKILL, with no snapshot), once from a snapshot (`save`, then
 * a stop) and then from that snapshot and the journal after it.
 *
 * The contents are read with the calls a user would make (list.copy,
 * dict.items, namespace.items, value.get, array.copy, event.is_set) and
 * compared strictly: same kinds (an int is not a float, str is not bin),
 * floats bit for bit, references byte for byte.
 */
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

/* More than the items a snapshot record holds (AG_SAVE_CHUNK, 1024). */
#define NINTS 3000
#define NMIXED 2500
#define NENTRIES 1500
/* A list of more bytes than a snapshot record holds (1 MiB). */
#define NBIG 1100
#define BIG_LEN 2000

/* ---- calls ---- */

/* Call @method with @n params, requiring success; returns the result. */
static agora_value call(agora_client *c, const char *method,
			agora_value *params, size_t n)
{
	agora_value ret;

	AGH_OK(c, agora_call(c, method, agora_array(params, n), &ret));
	return ret;
}

/* A handle of @type @name, made with the @nopts options @opts when new. */
static uint32_t open_obj(agora_client *c, const char *type, const char *name,
			 agora_pair *opts, size_t nopts)
{
	agora_value p[3] = { agora_str(type),
			     name ? agora_str(name) : agora_nil(),
			     agora_map(opts, nopts) };
	agora_value h = call(c, "open", p, 3);
	int64_t v;

	ck_assert_int_eq(agora_value_to_int(h, &v), 0);
	agora_value_free(&h);
	return (uint32_t)v;
}

/* A handle of the existing object @name (NO_OBJECT fails the test). */
static uint32_t join(agora_client *c, const char *type, const char *name)
{
	agora_pair o = { agora_str("create"), agora_bool(false) };

	return open_obj(c, type, name, &o, 1);
}

static agora_value H(uint32_t h)
{
	return agora_int(h);
}

/* Call TYPE.METHOD on handle @h with up to three more params. */
static agora_value callh(agora_client *c, const char *method, uint32_t h,
			 size_t n, agora_value a, agora_value b, agora_value d)
{
	agora_value p[4] = { H(h), a, b, d };

	return call(c, method, p, n + 1);
}

static void callh0(agora_client *c, const char *method, uint32_t h, size_t n,
		   agora_value a, agora_value b, agora_value d)
{
	agora_value r = callh(c, method, h, n, a, b, d);

	agora_value_free(&r);
}

#define NIL agora_nil()

static agora_value ref_of(agora_client *c, uint32_t h, agora_ref *r)
{
	AGH_OK(c, agora_ref_of(c, h, r));
	return agora_ref_value(r);
}

/* ---- strict comparison ---- */

static bool same(agora_value a, agora_value b)
{
	if (a.type != b.type)
		return false;
	switch (a.type) {
	case AGORA_NIL:
		return true;
	case AGORA_BOOL:
		return a.via.b == b.via.b;
	case AGORA_INT:
		return a.via.i == b.via.i;
	case AGORA_UINT:
		return a.via.u == b.via.u;
	case AGORA_FLOAT:
		return memcmp(&a.via.f, &b.via.f, sizeof(double)) == 0;
	case AGORA_EXT:
		if (a.ext_type != b.ext_type)
			return false;
		/* fall through */
	case AGORA_STR:
	case AGORA_BIN:
		return a.via.str.len == b.via.str.len &&
		       memcmp(a.via.str.ptr, b.via.str.ptr, a.via.str.len) == 0;
	case AGORA_ARRAY:
		if (a.via.array.len != b.via.array.len)
			return false;
		for (size_t i = 0; i < a.via.array.len; i++)
			if (!same(a.via.array.items[i], b.via.array.items[i]))
				return false;
		return true;
	case AGORA_MAP:
		if (a.via.map.len != b.via.map.len)
			return false;
		for (size_t i = 0; i < a.via.map.len; i++)
			if (!same(a.via.map.items[i].key,
				  b.via.map.items[i].key) ||
			    !same(a.via.map.items[i].val,
				  b.via.map.items[i].val))
				return false;
		return true;
	}
	return false;
}

/* ---- the objects ---- */

/* What is read of each object: type, name, the reading method. */
static const struct view {
	const char *type, *name, *method;
} views[] = {
	{ "list", "l.ints", "list.copy" },
	{ "list", "l.mixed", "list.copy" },
	{ "list", "l.big", "list.copy" },
	{ "list", "l.emptied", "list.copy" },
	{ "dict", "d", "dict.items" },
	{ "dict", "d.later", "dict.items" },
	{ "namespace", "ns", "namespace.items" },
	{ "value", "v.num", "value.get" },
	{ "value", "v.float", "value.get" },
	{ "value", "v.init_ref", "value.get" },
	{ "value", "v.fwd_ref", "value.get" },
	{ "value", "v.self", "value.get" },
	{ "array", "a.d", "array.copy" },
	{ "array", "a.f", "array.copy" },
	{ "array", "a.B", "array.copy" },
	{ "array", "a.zero", "array.copy" },
	{ "array", "a.Q", "array.copy" },
	{ "event", "e.set", "event.is_set" },
	{ "event", "e.cleared", "event.is_set" },
	{ "event", "e.new", "event.is_set" },
};
#define NVIEWS (sizeof(views) / sizeof(*views))

/* The contents of every object of views[], and of the anonymous dict that
 * attribute "c" of ns names (NVIEWS + 1 values). */
static void read_all(agora_client *c, agora_value *out)
{
	for (size_t i = 0; i < NVIEWS; i++) {
		uint32_t h = join(c, views[i].type, views[i].name);

		out[i] = callh(c, views[i].method, h, 0, NIL, NIL, NIL);
		if (strcmp(views[i].name, "ns") == 0) {
			const agora_value *v = agh_map_find(out[i], "c");
			agora_ref r;
			uint32_t ah;

			ck_assert_ptr_nonnull(v);
			ck_assert_int_eq(agora_ref_from_value(*v, &r), 0);
			AGH_OK(c, agora_open_ref(c, &r, &ah));
			out[NVIEWS] =
			    callh(c, "dict.items", ah, 0, NIL, NIL, NIL);
		}
	}
}

static void free_all(agora_value *v)
{
	for (size_t i = 0; i <= NVIEWS; i++)
		agora_value_free(&v[i]);
}

/* Require what @c reads now to be @want, object by object. */
static void check_all(agora_client *c, agora_value *want, const char *when)
{
	agora_value got[NVIEWS + 1];

	read_all(c, got);
	for (size_t i = 0; i <= NVIEWS; i++) {
		char a[160], b[160];

		agora_value_format(want[i], a, sizeof(a));
		agora_value_format(got[i], b, sizeof(b));
		ck_assert_msg(same(want[i], got[i]),
			      "%s: %s differs: was %s..., is %s...", when,
			      i < NVIEWS ? views[i].name : "the anonymous dict",
			      a, b);
	}
	free_all(got);
}

/* A str of @n bytes made from @seed. */
static char *text(size_t n, unsigned seed)
{
	char *s = malloc(n + 1);

	ck_assert_ptr_nonnull(s);
	for (size_t i = 0; i < n; i++)
		s[i] = (char)('a' + (seed + i * 7) % 26);
	s[n] = '\0';
	return s;
}

/*
 * Make and fill the objects of views[]: every family, through every
 * write method, with ints of every width, floats (-0.0, inf, NaN), str,
 * bin, nested maps and arrays, and references to named and anonymous
 * objects (one to an object made after the value holding it, one to
 * itself).
 */
static void fill(agora_client *c)
{
	agora_value *items = calloc(NINTS, sizeof(*items));
	uint64_t *binkeys = calloc(NENTRIES, sizeof(*binkeys));
	agora_ref rd, rinner, rlater, rself;
	char *strs[NBIG];

	ck_assert_ptr_nonnull(items);
	ck_assert_ptr_nonnull(binkeys);

	/* l.ints: ints only (the int store), more than a record holds. */
	uint32_t li = open_obj(c, "list", "l.ints", NULL, 0);
	for (size_t i = 0; i < NINTS; i++)
		items[i] = agora_int(i % 5 == 0   ? INT64_MIN + (int64_t)i
				     : i % 5 == 1 ? INT64_MAX - (int64_t)i
				     : i % 5 == 2 ? -(int64_t)i
				     : i % 5 == 3 ? (int64_t)i * 1000
						  : (int64_t)(i % 100));
	callh0(c, "list.extend", li, 1, agora_array(items, NINTS / 2), NIL,
	       NIL);
	callh0(c, "list.extend", li, 1,
	       agora_array(items + NINTS / 2, NINTS - NINTS / 2), NIL, NIL);
	callh0(c, "list.insert", li, 2, agora_int(-3), agora_int(1 << 20), NIL);
	callh0(c, "list.set", li, 2, agora_int(7), agora_int(-70000), NIL);
	callh0(c, "list.delete", li, 1, agora_int(11), NIL, NIL);
	callh0(c, "list.pop", li, 1, agora_int(0), NIL, NIL);
	callh0(c, "list.append", li, 1, agora_int(42), NIL, NIL);
	callh0(c, "list.remove", li, 1, agora_int(42), NIL, NIL);
	callh0(c, "list.sort", li, 1, agora_bool(true), NIL, NIL);
	callh0(c, "list.del_slice", li, 2, agora_int(100), agora_int(120), NIL);
	callh0(c, "list.reverse", li, 0, NIL, NIL, NIL);

	/* d: a named dict others refer to; and an anonymous one. */
	uint32_t d = open_obj(c, "dict", "d", NULL, 0);
	uint32_t inner = open_obj(c, "dict", NULL, NULL, 0);
	ref_of(c, d, &rd);
	ref_of(c, inner, &rinner);
	callh0(c, "dict.set", inner, 2, agora_str("deep"), agora_ref_value(&rd),
	       NIL);

	/* l.mixed: every kind of value (the packed store). */
	uint32_t lm = open_obj(c, "list", "l.mixed", NULL, 0);
	agora_value two[2] = { agora_int(1), agora_str("two") };
	agora_pair pairs[3] = {
		{ agora_str("k"), agora_array(two, 2) },
		{ agora_int(-1), agora_float(-0.0) },
		{ agora_str("m"), agora_map(pairs, 0) },
	};
	unsigned char bin[4] = { 0, 0xff, 1, 0x80 };
	agora_value head[8] = {
		agora_str("first"),     agora_float(NAN),
		agora_uint(UINT64_MAX), agora_ref_value(&rinner),
		agora_map(pairs, 3),    agora_bin(bin, sizeof(bin)),
		agora_ref_value(&rd),   agora_bool(false),
	};
	callh0(c, "list.extend", lm, 1, agora_array(head, 8), NIL, NIL);
	for (size_t i = 0; i < NMIXED; i++)
		items[i] = i % 4 == 0   ? agora_int((int64_t)i)
			   : i % 4 == 1 ? agora_float((double)i / 3)
			   : i % 4 == 2 ? agora_str(i % 8 == 2 ? "x" : "yz")
					: agora_nil();
	callh0(c, "list.extend", lm, 1, agora_array(items, NMIXED), NIL, NIL);
	callh0(c, "list.insert", lm, 2, agora_int(5), agora_float(INFINITY),
	       NIL);
	callh0(c, "list.set_slice", lm, 3, agora_int(20), agora_int(30),
	       agora_array(head, 3));
	callh0(c, "list.pop", lm, 0, NIL, NIL, NIL);
	callh0(c, "list.remove", lm, 1, agora_str("yz"), NIL, NIL);

	/* l.big: more bytes than a record holds. */
	uint32_t lb = open_obj(c, "list", "l.big", NULL, 0);
	for (size_t i = 0; i < NBIG; i++) {
		strs[i] = text(BIG_LEN, (unsigned)i);
		items[i] = agora_str(strs[i]);
	}
	callh0(c, "list.extend", lb, 1, agora_array(items, NBIG), NIL, NIL);
	for (size_t i = 0; i < NBIG; i++)
		free(strs[i]);

	/* l.emptied: packed, emptied, ints again. */
	uint32_t le = open_obj(c, "list", "l.emptied", NULL, 0);
	callh0(c, "list.append", le, 1, agora_str("gone"), NIL, NIL);
	callh0(c, "list.clear", le, 0, NIL, NIL, NIL);
	callh0(c, "list.extend", le, 1, agora_array(head + 2, 1), NIL, NIL);
	callh0(c, "list.append", le, 1, agora_int(-5), NIL, NIL);

	/* d: more entries than a record holds, with holes, every kind of
	 * key, nested values. */
	agora_pair *ents = calloc(NENTRIES, sizeof(*ents));
	ck_assert_ptr_nonnull(ents);
	for (size_t i = 0; i < NENTRIES; i++) {
		binkeys[i] = i;
		ents[i].key = i % 3 == 0   ? agora_int((int64_t)i - 700)
			      : i % 3 == 1 ? agora_float((double)i + 0.5)
					   : agora_bin(&binkeys[i], 8);
		ents[i].val = i % 4 == 0   ? agora_map(pairs, 3)
			      : i % 4 == 1 ? agora_ref_value(&rinner)
			      : i % 4 == 2 ? agora_array(head, 8)
					   : agora_int((int64_t)i);
	}
	callh0(c, "dict.update", d, 1, agora_map(ents, NENTRIES), NIL, NIL);
	free(ents);
	for (int64_t k = -700; k < 0; k += 9)
		callh0(c, "dict.delete", d, 1, agora_int(k), NIL, NIL);
	callh0(c, "dict.set", d, 2, agora_int(-700), agora_str("back"), NIL);
	callh0(c, "dict.incr", d, 2, agora_str("count"), agora_float(0.25),
	       NIL);
	callh0(c, "dict.incr", d, 2, agora_str("count"), agora_int(3), NIL);
	callh0(c, "dict.setdefault", d, 2, agora_bool(true),
	       agora_array(head, 8), NIL);
	callh0(c, "dict.pop", d, 1, agora_int(-697), NIL, NIL);
	callh0(c, "dict.popitem", d, 0, NIL, NIL, NIL);
	callh0(c, "dict.set", d, 2, agora_str("self"), agora_ref_value(&rd),
	       NIL);

	/* ns: attributes set, overwritten (keeping their place), deleted. */
	uint32_t ns = open_obj(c, "namespace", "ns", NULL, 0);
	callh0(c, "namespace.set", ns, 2, agora_str("a"), agora_int(1), NIL);
	callh0(c, "namespace.set", ns, 2, agora_str("b"), agora_map(pairs, 3),
	       NIL);
	callh0(c, "namespace.set", ns, 2, agora_str("c"),
	       agora_ref_value(&rinner), NIL);
	callh0(c, "namespace.set", ns, 2, agora_str("a"), agora_str("again"),
	       NIL);
	callh0(c, "namespace.delete", ns, 1, agora_str("b"), NIL, NIL);
	callh0(c, "namespace.set", ns, 2, agora_str("b"), agora_float(-0.0),
	       NIL);

	/* Values: arithmetic, compare-and-swap, references old and new. */
	agora_pair init = { agora_str("initial"), agora_int(40) };
	uint32_t vn = open_obj(c, "value", "v.num", &init, 1);
	callh0(c, "value.add", vn, 1, agora_int(2), NIL, NIL);
	callh0(c, "value.cas", vn, 2, agora_int(42), agora_uint(UINT64_MAX),
	       NIL);
	callh0(c, "value.cas", vn, 2, agora_int(0), agora_int(1), NIL);
	uint32_t vf = open_obj(c, "value", "v.float", NULL, 0);
	callh0(c, "value.set", vf, 1, agora_float(0.1), NIL, NIL);
	callh0(c, "value.add", vf, 1, agora_float(0.2), NIL, NIL);
	init.val = agora_ref_value(&rd);
	open_obj(c, "value", "v.init_ref", &init, 1);
	uint32_t vw = open_obj(c, "value", "v.fwd_ref", NULL, 0);
	uint32_t dl = open_obj(c, "dict", "d.later", NULL, 0);
	callh0(c, "dict.set", dl, 2, agora_str("x"), agora_int(1), NIL);
	callh0(c, "value.swap", vw, 1, ref_of(c, dl, &rlater), NIL, NIL);
	uint32_t vs = open_obj(c, "value", "v.self", NULL, 0);
	callh0(c, "value.set", vs, 1, ref_of(c, vs, &rself), NIL, NIL);

	/* Arrays: given items, set, set_slice; -0.0, NaN, inf. */
	agora_value fl[4] = { agora_float(-0.0), agora_float(NAN),
			      agora_float(-INFINITY), agora_float(1e300) };
	agora_pair ao[2] = { { agora_str("typecode"), agora_str("d") },
			     { agora_str("items"), agora_array(fl, 4) } };
	uint32_t ad = open_obj(c, "array", "a.d", ao, 2);
	callh0(c, "array.set", ad, 2, agora_int(-1), agora_float(2.5), NIL);
	ao[0].val = agora_str("f");
	fl[3] = agora_float(0.1);
	uint32_t af = open_obj(c, "array", "a.f", ao, 2);
	callh0(c, "array.set_slice", af, 2, agora_int(2), agora_array(fl, 2),
	       NIL);
	ao[0].val = agora_str("B");
	ao[1] = (agora_pair){ agora_str("length"), agora_int(5000) };
	uint32_t ab = open_obj(c, "array", "a.B", ao, 2);
	for (size_t i = 0; i < 300; i++)
		items[i] = agora_int((int64_t)(i * 7 % 256));
	callh0(c, "array.set_slice", ab, 2, agora_int(-400),
	       agora_array(items, 300), NIL);
	callh0(c, "array.set", ab, 2, agora_int(3), agora_int(255), NIL);
	ao[0].val = agora_str("i");
	ao[1].val = agora_int(100);
	open_obj(c, "array", "a.zero", ao, 2);
	ao[0].val = agora_str("Q");
	ao[1].val = agora_int(3);
	uint32_t aq = open_obj(c, "array", "a.Q", ao, 2);
	callh0(c, "array.set", aq, 2, agora_int(1), agora_uint(UINT64_MAX),
	       NIL);

	/* Events. */
	uint32_t es = open_obj(c, "event", "e.set", NULL, 0);
	callh0(c, "event.set", es, 0, NIL, NIL, NIL);
	uint32_t ec = open_obj(c, "event", "e.cleared", NULL, 0);
	callh0(c, "event.set", ec, 0, NIL, NIL, NIL);
	callh0(c, "event.clear", ec, 0, NIL, NIL, NIL);
	open_obj(c, "event", "e.new", NULL, 0);
	free(items);
	free(binkeys);
}

/* More changes on top of what fill() made (after a restart, or after a
 * snapshot), for the journal that follows. */
static void change(agora_client *c)
{
	uint32_t li = join(c, "list", "l.ints");
	uint32_t lm = join(c, "list", "l.mixed");
	uint32_t d = join(c, "dict", "d");
	uint32_t ns = join(c, "namespace", "ns");
	uint32_t vn = join(c, "value", "v.num");
	uint32_t ab = join(c, "array", "a.B");
	uint32_t es = join(c, "event", "e.set");
	uint32_t en = join(c, "event", "e.new");

	callh0(c, "list.sort", li, 0, NIL, NIL, NIL);
	callh0(c, "list.append", li, 1, agora_int(INT64_MIN), NIL, NIL);
	callh0(c, "list.reverse", lm, 0, NIL, NIL, NIL);
	callh0(c, "list.del_slice", lm, 2, agora_int(-50), NIL, NIL);
	callh0(c, "dict.incr", d, 2, agora_str("count"), agora_int(-1), NIL);
	callh0(c, "dict.set", d, 2, agora_str("new"), agora_str("entry"), NIL);
	callh0(c, "namespace.delete", ns, 1, agora_str("a"), NIL, NIL);
	callh0(c, "value.add", vn, 1, agora_float(0.5), NIL, NIL);
	callh0(c, "array.set", ab, 2, agora_int(0), agora_int(1), NIL);
	callh0(c, "event.clear", es, 0, NIL, NIL, NIL);
	callh0(c, "event.set", en, 0, NIL, NIL, NIL);
}

/* ---- the data directory ----
 *
 * Made and removed around each test by an unchecked fixture, which runs in
 * the test process whether the test passes or fails. */

/* Restart @s with @sig and connect again (@c freed). */
static agora_client *restart(agh_server *s, agora_client *c, int sig)
{
	agora_client_free(c);
	agh_server_restart(s, sig);
	return agh_connect(s);
}

/* ---- tests ---- */

START_TEST(the_journal_alone_brings_every_object_back_after_a_crash)
{
	agh_server s;
	agora_value want[NVIEWS + 1];

	agh_server_start_args(&s, agh_datadir_args);
	agora_client *c = agh_connect(&s);
	fill(c);
	read_all(c, want);

	/* A crash: nothing but the journal. */
	c = restart(&s, c, SIGKILL);
	check_all(c, want, "after a crash");

	/* Changes on top of what was loaded, then a stop. */
	change(c);
	free_all(want);
	read_all(c, want);
	c = restart(&s, c, SIGTERM);
	check_all(c, want, "after a second start");

	free_all(want);
	agora_client_free(c);
	agh_server_stop(&s);
}
END_TEST

START_TEST(a_snapshot_and_the_journal_after_it_bring_every_object_back)
{
	agh_server s;
	agora_value want[NVIEWS + 1], saved;

	agh_server_start_args(&s, agh_datadir_args);
	agora_client *c = agh_connect(&s);
	fill(c);
	read_all(c, want);
	saved = call(c, "save", NULL, 0);
	ck_assert_int_gt(agh_map_int(saved, "bytes"), 0);
	agora_value_free(&saved);

	/* The snapshot alone (its journal is empty). */
	c = restart(&s, c, SIGKILL);
	check_all(c, want, "from the snapshot");

	/* A snapshot of what was loaded from a snapshot, changes after it,
	 * then a crash: the second snapshot and its journal. */
	saved = call(c, "save", NULL, 0);
	agora_value_free(&saved);
	change(c);
	free_all(want);
	read_all(c, want);
	c = restart(&s, c, SIGKILL);
	check_all(c, want, "from a snapshot and its journal");

	free_all(want);
	agora_client_free(c);
	agh_server_stop(&s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("persist_calls");

	TCase *tc[2] = {
		AGH_ADD_BARE(
		    s,
		    the_journal_alone_brings_every_object_back_after_a_crash),
		AGH_ADD_BARE(
		    s,
		    a_snapshot_and_the_journal_after_it_bring_every_object_back),
	};

	for (int i = 0; i < 2; i++)
		tcase_add_unchecked_fixture(tc[i], agh_datadir_make,
					    agh_datadir_remove);
	return agh_run_suite(s);
}
