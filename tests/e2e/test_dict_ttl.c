/*
 * test_dict_ttl.c - per-key TTL on dicts (docs/protocol.md, dict): a set
 * with a ttl, expire, ttl, and what clears or keeps a TTL; no read ever
 * returns a key past its deadline, whether the sweep has reclaimed it yet
 * or not; the writes treat such a key as absent; and with --data-dir the
 * deadlines come back after a restart (journal alone, and a snapshot with
 * the journal after it), those that passed while the server was down
 * gone.
 *
 * The server's deadline of a key set with ttl t lies between the time the
 * set was sent plus t and the time its answer came plus t: the checks use
 * those bounds (lo, hi) and no other timing. A read sent after hi must
 * not see the key; a read answered before lo must.
 */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* Deadlines are wall-clock: so are the bounds here. */
static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Times scale with the build: valgrind runs the server far slower. */
static double slow = 1.0;

static agora_value call(agora_client *c, const char *method,
			agora_value *params, size_t n)
{
	agora_value ret;

	AGH_OK(c, agora_call(c, method, agora_array(params, n), &ret));
	return ret;
}

static agora_dict *open_dict(agora_client *c, const char *name)
{
	agora_dict *d;

	AGH_OK(c, agora_dict_open(c, name, &d));
	return d;
}

static double ttl_of(agora_client *c, agora_dict *d, agora_value k, bool *has)
{
	double s = -1;

	AGH_OK(c, agora_dict_ttl(d, k, &s, has));
	return s;
}

/* ---- the methods ---- */

START_TEST(set_with_a_ttl_expire_and_ttl_and_what_clears_a_ttl)
{
	agora_client *c = agh_cli;
	agora_dict *d = open_dict(c, "ttl-basic");
	agora_value v, p[4];
	uint32_t h = agora_dict_handle(d);
	bool has;
	double s;

	/* set with a TTL, read back; a plain set takes it away. */
	AGH_OK(c, agora_dict_set_ttl(d, agora_str("k"), agora_int(1), 30));
	s = ttl_of(c, d, agora_str("k"), &has);
	ck_assert(has);
	ck_assert(s > 29 && s <= 30);
	AGH_OK(c, agora_dict_set(d, agora_str("k"), agora_int(2)));
	s = ttl_of(c, d, agora_str("k"), &has);
	ck_assert(!has);
	ck_assert(s == 0);

	/* expire sets and clears; absent keys are KEY. */
	AGH_OK(c, agora_dict_expire(d, agora_str("k"), 10));
	s = ttl_of(c, d, agora_str("k"), &has);
	ck_assert(has && s > 9 && s <= 10);
	AGH_OK(c, agora_dict_expire(d, agora_str("k"), -1));
	ttl_of(c, d, agora_str("k"), &has);
	ck_assert(!has);
	AGH_OK(c, agora_dict_expire(d, agora_str("k"), 5));
	AGH_OK(c, agora_dict_expire(d, agora_str("k"), NAN));
	ttl_of(c, d, agora_str("k"), &has);
	ck_assert(!has);
	AGH_CALL_EQ(c, agora_dict_expire(d, agora_str("k"), 0), AGORA_EVALUE);
	ck_assert_ptr_nonnull(strstr(agora_errmsg(c), "0"));
	AGH_CALL_EQ(c, agora_dict_expire(d, agora_str("nope"), 5), AGORA_EKEY);
	AGH_CALL_EQ(c, agora_dict_ttl(d, agora_str("nope"), &s, &has),
		    AGORA_EKEY);
	AGH_CALL_EQ(c, agora_dict_set_ttl(d, agora_str("x"), agora_int(1), -2),
		    AGORA_EVALUE);
	AGH_CALL_EQ(c, agora_dict_set_ttl(d, agora_str("x"), agora_int(1), NAN),
		    AGORA_EVALUE);

	/* The wire: a ttl that is not a number names it; nil is no TTL. */
	p[0] = agora_int(h);
	p[1] = agora_str("x");
	p[2] = agora_int(1);
	p[3] = agora_str("soon");
	AGH_CALL_EQ(c, agora_call(c, "dict.set", agora_array(p, 4), NULL),
		    AGORA_EVALUE);
	ck_assert_ptr_nonnull(strstr(agora_errmsg(c), "soon"));
	p[3] = agora_nil();
	v = call(c, "dict.set", p, 4);
	agora_value_free(&v);
	ttl_of(c, d, agora_str("x"), &has);
	ck_assert(!has);

	/* incr and setdefault of an existing key keep its TTL; update
	 * takes it away. */
	AGH_OK(c, agora_dict_set_ttl(d, agora_str("n"), agora_int(5), 30));
	int64_t n;
	AGH_OK(c, agora_dict_incr_int(d, agora_str("n"), 1, &n));
	ck_assert_int_eq(n, 6);
	ttl_of(c, d, agora_str("n"), &has);
	ck_assert(has);
	AGH_OK(c, agora_dict_setdefault(d, agora_str("n"), agora_int(0), &v));
	agh_assert_int(v, 6);
	agora_value_free(&v);
	ttl_of(c, d, agora_str("n"), &has);
	ck_assert(has);
	agora_pair up = { agora_str("n"), agora_int(7) };
	AGH_OK(c, agora_dict_update(d, agora_map(&up, 1)));
	ttl_of(c, d, agora_str("n"), &has);
	ck_assert(!has);

	/* info counts the keys with a TTL; delete and pop take theirs. */
	AGH_OK(c, agora_dict_set_ttl(d, agora_str("a"), agora_int(1), 30));
	AGH_OK(c, agora_dict_set_ttl(d, agora_str("b"), agora_int(1), 30));
	ck_assert_int_eq(agh_info_int(c, h, "ttl_keys"), 2);
	AGH_OK(c, agora_dict_delete(d, agora_str("a")));
	AGH_OK(c, agora_dict_pop(d, agora_str("b"), &v));
	agora_value_free(&v);
	ck_assert_int_eq(agh_info_int(c, h, "ttl_keys"), 0);

	/* expire_at: an absolute deadline; one already past removes the
	 * key; nil takes the deadline away. */
	p[1] = agora_str("k");
	p[2] = agora_float(wall() + 100);
	v = call(c, "dict.expire_at", p, 3);
	agora_value_free(&v);
	s = ttl_of(c, d, agora_str("k"), &has);
	ck_assert(has && s > 98 && s <= 100);
	p[2] = agora_nil();
	v = call(c, "dict.expire_at", p, 3);
	agora_value_free(&v);
	ttl_of(c, d, agora_str("k"), &has);
	ck_assert(!has);
	p[2] = agora_float(1.5);
	v = call(c, "dict.expire_at", p, 3);
	agora_value_free(&v);
	bool in = true;
	AGH_OK(c, agora_dict_contains(d, agora_str("k"), &in));
	ck_assert(!in);

	AGH_OK(c, agora_dict_close(d));
}
END_TEST

/* ---- no read returns an expired key ---- */

#define NPERM 10

typedef struct keyset {
	int n;
	double *lo, *hi; /* bounds of each key's deadline */
} keyset;

/* Must key @i be absent for a read sent at @ts, present for one answered
 * at @te? */
static bool gone(const keyset *ks, int i, double ts)
{
	return i >= NPERM && ts > ks->hi[i];
}

static bool there(const keyset *ks, int i, double te)
{
	return i < NPERM || te < ks->lo[i];
}

/* Check the keys of a keys/copy/items answer against the bounds. */
static void check_keys(const keyset *ks, agora_value *keys, size_t n, double ts,
		       double te, const char *what)
{
	char *seen = calloc((size_t)ks->n, 1);

	ck_assert_ptr_nonnull(seen);
	for (size_t j = 0; j < n; j++) {
		ck_assert_int_eq(keys[j].type, AGORA_INT);
		int i = (int)keys[j].via.i;
		ck_assert_msg(!gone(ks, i, ts),
			      "%s returned key %d %.3f s after its deadline",
			      what, i, ts - ks->hi[i]);
		seen[i] = 1;
	}
	for (int i = 0; i < ks->n; i++)
		ck_assert_msg(seen[i] || !there(ks, i, te),
			      "%s left out live key %d", what, i);
	free(seen);
}

static void check_len(const keyset *ks, size_t len, double ts, double te,
		      const char *what)
{
	size_t must = 0, may = 0;

	for (int i = 0; i < ks->n; i++) {
		must += there(ks, i, te);
		may += !gone(ks, i, ts);
	}
	ck_assert_msg(len >= must && len <= may,
		      "%s: %zu keys, not between %zu and %zu", what, len, must,
		      may);
}

/* One read, chosen by @round, of key @i or of the whole dict. */
static void read_once(agora_client *c, agora_dict *d, const keyset *ks,
		      int round, int i)
{
	agora_value v, k = agora_int(i);
	double ts = wall(), te;
	int rc;
	bool b, has;
	double s;
	size_t len;

	switch (round % 9) {
	case 0:
		rc = agora_dict_get(d, k, &v);
		te = wall();
		if (rc == 0)
			agora_value_free(&v);
		ck_assert(rc == 0 || rc == AGORA_EKEY);
		ck_assert_msg(rc == AGORA_EKEY || !gone(ks, i, ts),
			      "getitem returned expired key %d", i);
		ck_assert_msg(rc == 0 || !there(ks, i, te),
			      "getitem lost live key %d", i);
		break;
	case 1:
		AGH_OK(c, agora_dict_get_default(d, k, agora_str("gone"), &v));
		te = wall();
		b = v.type == AGORA_STR;
		agora_value_free(&v);
		ck_assert_msg(b || !gone(ks, i, ts),
			      "get returned expired key %d", i);
		ck_assert_msg(!b || !there(ks, i, te), "get lost live key %d",
			      i);
		break;
	case 2:
		AGH_OK(c, agora_dict_contains(d, k, &b));
		te = wall();
		ck_assert_msg(!b || !gone(ks, i, ts),
			      "contains saw expired key %d", i);
		ck_assert_msg(b || !there(ks, i, te),
			      "contains lost live key %d", i);
		break;
	case 3:
		rc = agora_dict_ttl(d, k, &s, &has);
		te = wall();
		ck_assert(rc == 0 || rc == AGORA_EKEY);
		ck_assert_msg(rc == AGORA_EKEY || !gone(ks, i, ts),
			      "ttl answered for expired key %d", i);
		ck_assert_msg(rc == 0 || !there(ks, i, te),
			      "ttl lost live key %d", i);
		ck_assert(rc != 0 || i < NPERM || (has && s >= 0));
		break;
	case 4:
		AGH_OK(c, agora_dict_len(d, &len));
		check_len(ks, len, ts, wall(), "len");
		break;
	case 5:
		AGH_OK(c, agora_dict_keys(d, &v));
		te = wall();
		check_keys(ks, v.via.array.items, v.via.array.len, ts, te,
			   "keys");
		agora_value_free(&v);
		break;
	case 6:
		AGH_OK(c, agora_dict_values(d, &v));
		check_len(ks, v.via.array.len, ts, wall(), "values");
		agora_value_free(&v);
		break;
	case 7: {
		AGH_OK(c, agora_dict_items(d, &v));
		te = wall();
		size_t n = v.via.array.len;
		agora_value *keys = calloc(n + 1, sizeof(*keys));
		for (size_t j = 0; j < n; j++)
			keys[j] = v.via.array.items[j].via.array.items[0];
		check_keys(ks, keys, n, ts, te, "items");
		free(keys);
		agora_value_free(&v);
		break;
	}
	case 8: {
		AGH_OK(c, agora_dict_copy(d, &v));
		te = wall();
		size_t n = v.via.map.len;
		agora_value *keys = calloc(n + 1, sizeof(*keys));
		for (size_t j = 0; j < n; j++)
			keys[j] = v.via.map.items[j].key;
		check_keys(ks, keys, n, ts, te, "copy");
		free(keys);
		agora_value_free(&v);
		break;
	}
	}
}

START_TEST(no_read_returns_a_key_past_its_deadline)
{
	agora_client *c = agh_cli;
	agora_dict *d = open_dict(c, "ttl-reads");
	uint32_t h = agora_dict_handle(d);
	int n = (agh_under_valgrind() || agh_under_asan()) ? 3000 : 20000;
	keyset ks = { n, calloc((size_t)n, sizeof(double)),
		      calloc((size_t)n, sizeof(double)) };
	double last = 0;

	for (int i = 0; i < NPERM; i++)
		AGH_OK(c, agora_dict_set(d, agora_int(i), agora_int(i)));
	/* Keys with deadlines spread over half a second, many at once. */
	agora_pipeline *p = agora_pipeline_new(c);
	ck_assert_ptr_nonnull(p);
	double t0 = wall();
	for (int i = NPERM; i < n; i++) {
		double ttl = slow * (0.3 + (i % 50) * 0.01);
		agora_value a[4] = { agora_int(h), agora_int(i), agora_int(i),
				     agora_float(ttl) };
		AGH_OK(c,
		       agora_pipeline_call(p, "dict.set", agora_array(a, 4)));
		ks.lo[i] = t0 + ttl;
	}
	for (int i = NPERM; i < n; i++)
		AGH_OK(c, agora_pipeline_result(p, NULL));
	agora_pipeline_free(p);
	double t1 = wall();
	for (int i = NPERM; i < n; i++) {
		ks.hi[i] = ks.lo[i] - t0 + t1;
		if (ks.hi[i] > last)
			last = ks.hi[i];
	}

	/* Read until every deadline has passed, keys near their deadline
	 * first: many are read before the sweep could take them. */
	unsigned seed = 7;
	for (int round = 0; wall() < last + 0.1 * slow; round++) {
		int i = NPERM + (int)(rand_r(&seed) % (unsigned)(n - NPERM));
		read_once(c, d, &ks, round, i);
	}
	for (int round = 0; round < 9; round++)
		read_once(c, d, &ks, round, NPERM + round);

	/* The writes see them absent too, swept or not. */
	agora_value v;
	AGH_OK(c, agora_dict_pop_default(d, agora_int(n - 1), agora_str("dflt"),
					 &v));
	agh_assert_str(v, "dflt");
	agora_value_free(&v);
	AGH_OK(c, agora_dict_setdefault(d, agora_int(n - 2), agora_str("new"),
					&v));
	agh_assert_str(v, "new");
	agora_value_free(&v);
	int64_t x;
	AGH_OK(c, agora_dict_incr_int(d, agora_int(n - 3), 1, &x));
	ck_assert_int_eq(x, 1);
	AGH_CALL_EQ(c, agora_dict_delete(d, agora_int(n - 4)), AGORA_EKEY);
	AGH_CALL_EQ(c, agora_dict_expire(d, agora_int(n - 5), 9), AGORA_EKEY);
	agora_value pk, pv;
	AGH_OK(c, agora_dict_popitem(d, &pk, &pv));
	/* The last inserted live key: incr's. */
	agh_assert_int(pk, n - 3);
	agora_value_free(&pk);
	agora_value_free(&pv);
	AGH_OK(c, agora_dict_popitem(d, &pk, &pv));
	agh_assert_int(pk, n - 2);
	agora_value_free(&pk);
	agora_value_free(&pv);
	AGH_OK(c, agora_dict_popitem(d, &pk, &pv));
	agh_assert_int(pk, NPERM - 1);
	agora_value_free(&pk);
	agora_value_free(&pv);
	size_t len;
	AGH_OK(c, agora_dict_len(d, &len));
	ck_assert_uint_eq(len, NPERM - 1);

	/* And the sweep reclaims them all. */
	agh_wait_info(c, h, "ttl_keys", 0);
	ck_assert_int_ge(agh_info_int(c, h, "expired"), n - NPERM - 5);
	free(ks.lo);
	free(ks.hi);
	AGH_OK(c, agora_dict_close(d));
}
END_TEST

/* ---- restarts ---- */

/* Set @k to @v with @ttl; *ret_lo and *ret_hi bound its deadline. */
static void set_ttl(agora_client *c, agora_dict *d, const char *k, int64_t v,
		    double ttl, double *ret_lo, double *ret_hi)
{
	double ts = wall();

	AGH_OK(c, agora_dict_set_ttl(d, agora_str(k), agora_int(v), ttl));
	*ret_lo = ts + ttl;
	*ret_hi = wall() + ttl;
}

static void assert_absent(agora_client *c, agora_dict *d, const char *k)
{
	bool in = true;

	AGH_OK(c, agora_dict_contains(d, agora_str(k), &in));
	ck_assert_msg(!in, "key %s is still there", k);
}

static void assert_int_key(agora_client *c, agora_dict *d, const char *k,
			   int64_t want, bool want_ttl)
{
	int64_t v;
	bool has;

	AGH_OK(c, agora_dict_get_int(d, agora_str(k), &v));
	ck_assert_msg(v == want, "%s is %lld, not %lld", k, (long long)v,
		      (long long)want);
	ttl_of(c, d, agora_str(k), &has);
	ck_assert_msg(has == want_ttl, "%s %s a TTL", k,
		      has ? "has" : "has no");
}

/* Wait (bounded) until the wall clock passes @t. */
static void wait_past(double t)
{
	ck_assert(t - wall() < 60);
	while (wall() <= t)
		usleep(5000);
}

static void restart_keeps_deadlines(bool snapshot)
{
	agh_server s;
	double lo, hi, lo_short, hi_short, lo_bump, hi_bump, hi_long;
	agora_value v;

	agh_server_start_args(&s, agh_datadir_args);
	agora_client *c = agh_connect(&s);
	agora_dict *d = open_dict(c, "sessions");

	set_ttl(c, d, "long", 1, 60, &lo, &hi_long);
	set_ttl(c, d, "short", 2, 2.0 * slow, &lo_short, &hi_short);
	AGH_OK(c, agora_dict_set(d, agora_str("plain"), agora_int(3)));
	set_ttl(c, d, "cleared", 4, 60, &lo, &hi);
	AGH_OK(c, agora_dict_expire(d, agora_str("cleared"), -1));
	set_ttl(c, d, "counter", 5, 60, &lo, &hi);
	AGH_OK(c, agora_dict_incr_int(d, agora_str("counter"), 1, NULL));
	/* incr of a key past its deadline makes a new one, without TTL;
	 * the replay must do the same, whatever the time. */
	set_ttl(c, d, "revived", 10, 0.05, &lo, &hi);
	wait_past(hi);
	AGH_OK(c, agora_dict_incr_int(d, agora_str("revived"), 1, NULL));
	/* incr of a live key keeps its deadline: gone after the restart. */
	set_ttl(c, d, "bumped", 20, 2.0 * slow, &lo_bump, &hi_bump);
	AGH_OK(c, agora_dict_incr_int(d, agora_str("bumped"), 1, NULL));
	if (snapshot) {
		v = call(c, "save", NULL, 0);
		agora_value_free(&v);
		AGH_OK(c, agora_dict_set_ttl(d, agora_str("after"),
					     agora_int(6), 60));
	}
	/* short and bumped are live now... */
	ck_assert_msg(wall() < lo_short && wall() < lo_bump,
		      "the calls took longer than the TTLs");
	assert_int_key(c, d, "short", 2, true);
	assert_int_key(c, d, "bumped", 21, true);

	AGH_OK(c, agora_dict_close(d));

	/* ...and their deadlines pass while the server is stopped. */
	ck_assert_int_eq(kill(s.pid, SIGSTOP), 0);
	wait_past(hi_short > hi_bump ? hi_short : hi_bump);
	agora_client_free(c);
	agh_server_restart(&s, SIGKILL);
	c = agh_connect(&s);
	d = open_dict(c, "sessions");

	assert_absent(c, d, "short");
	assert_absent(c, d, "bumped");
	assert_int_key(c, d, "long", 1, true);
	bool has;
	double left = ttl_of(c, d, agora_str("long"), &has);
	ck_assert_msg(left <= hi_long - wall() + 0.01 &&
			  left > hi_long - wall() - 2,
		      "long has %.3f s left", left);
	assert_int_key(c, d, "plain", 3, false);
	assert_int_key(c, d, "cleared", 4, false);
	assert_int_key(c, d, "counter", 6, true);
	assert_int_key(c, d, "revived", 1, false);
	if (snapshot)
		assert_int_key(c, d, "after", 6, true);
	size_t len;
	AGH_OK(c, agora_dict_len(d, &len));
	ck_assert_uint_eq(len, snapshot ? 6 : 5);
	/* The sweep takes what expired while the server was down. */
	agh_wait_info(c, agora_dict_handle(d), "ttl_keys", snapshot ? 3 : 2);

	AGH_OK(c, agora_dict_close(d));
	agora_client_free(c);
	agh_server_stop(&s);
}

START_TEST(deadlines_come_back_from_the_journal_and_passed_ones_are_gone)
{
	restart_keeps_deadlines(false);
}
END_TEST

START_TEST(deadlines_come_back_from_a_snapshot_and_its_journal)
{
	restart_keeps_deadlines(true);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dict_ttl");

	if (agh_under_valgrind())
		slow = 4;
	else if (agh_under_asan())
		slow = 2;
	AGH_ADD(s, set_with_a_ttl_expire_and_ttl_and_what_clears_a_ttl);
	AGH_ADD(s, no_read_returns_a_key_past_its_deadline);
	TCase *tc[2] = {
		AGH_ADD_BARE(
		    s,
		    deadlines_come_back_from_the_journal_and_passed_ones_are_gone),
		AGH_ADD_BARE(
		    s, deadlines_come_back_from_a_snapshot_and_its_journal),
	};
	for (int i = 0; i < 2; i++)
		tcase_add_unchecked_fixture(tc[i], agh_datadir_make,
					    agh_datadir_remove);
	return agh_run_suite(s);
}
