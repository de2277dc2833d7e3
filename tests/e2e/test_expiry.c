/*
 * test_expiry.c - a million keys with TTLs expire on time (suite stress):
 * 1,000,000 keys of one dict are set with TTLs spread over a few seconds,
 * 10,000 per pipelined batch; then a reader checks, until every deadline
 * has passed, that no key is returned after its deadline and none is lost
 * before it (getitem of keys near their deadline, len, now and then the
 * whole keys()); at the end len is 0, the sweep has reclaimed them all
 * and the server's memory for objects is what it was before the keys.
 *
 * A key set with ttl t in a batch sent at ts and answered by te has its
 * deadline in [ts + t, te + t] (wall clock): a read sent after the upper
 * bound must not see it, a read answered before the lower one must.
 *
 * The TTLs start after the time filling takes, measured first on one
 * batch of another dict; under valgrind (100 times fewer keys) and ASan
 * (20 times fewer) the same paths run in bounded time.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

#define NKEYS 1000000
#define BATCH 10000

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double *lo, *hi;
static double spread_start, ttl_base, ttl_span;

/* Key i's TTL: spread over ttl_span, in an order unlike the keys'. */
static double ttl_of_key(int i)
{
	return ttl_base + ttl_span * (double)((i * 7919) % 1000) / 1000.0;
}

/* Seconds to fill @n keys, from one batch on a dict of its own, with
 * room to spare: the TTLs must not start passing before the fill ends. */
static double fill_estimate(agora_client *c, int n)
{
	agora_dict *d;
	int m = n < BATCH ? n : BATCH;

	AGH_OK(c, agora_dict_open(c, "calibrate", &d));
	uint32_t h = agora_dict_handle(d);
	agora_pipeline *p = agora_pipeline_new(c);
	ck_assert_ptr_nonnull(p);
	double t0 = wall();
	for (int i = 0; i < m; i++) {
		agora_value a[4] = { agora_int(h), agora_int(i), agora_int(i),
				     agora_float(3600) };
		AGH_OK(c,
		       agora_pipeline_call(p, "dict.set", agora_array(a, 4)));
	}
	for (int i = 0; i < m; i++)
		AGH_OK(c, agora_pipeline_result(p, NULL));
	double per_key = (wall() - t0) / m;
	agora_pipeline_free(p);
	AGH_OK(c, agora_dict_clear(d));
	agora_dict_close(d);
	double est = 2 * per_key * n + 3;
	return est < 8 ? 8 : est;
}

START_TEST(a_million_keys_with_ttls_expire_on_time)
{
	agora_client *c = agh_cli;
	agora_dict *d;
	int n = NKEYS;

	/* Under the checkers the same code paths, in bounded time. */
	if (agh_under_valgrind())
		n = NKEYS / 100;
	else if (agh_under_asan())
		n = NKEYS / 20;
	ttl_base = fill_estimate(c, n);
	ttl_span = 3;
	lo = calloc((size_t)n, sizeof(double));
	hi = calloc((size_t)n, sizeof(double));
	ck_assert(lo != NULL && hi != NULL);

	AGH_OK(c, agora_dict_open(c, "million", &d));
	uint32_t h = agora_dict_handle(d);
	int64_t mem0 = agh_stats_int(c, "memory");

	/* Fill; the TTLs count from each batch's send. */
	agora_pipeline *p = agora_pipeline_new(c);
	ck_assert_ptr_nonnull(p);
	spread_start = wall();
	for (int b = 0; b < n; b += BATCH) {
		int e = b + BATCH < n ? b + BATCH : n;
		double ts = wall();
		for (int i = b; i < e; i++) {
			agora_value a[4] = { agora_int(h), agora_int(i),
					     agora_int(i),
					     agora_float(ttl_of_key(i)) };
			AGH_OK(c, agora_pipeline_call(p, "dict.set",
						      agora_array(a, 4)));
		}
		for (int i = b; i < e; i++)
			AGH_OK(c, agora_pipeline_result(p, NULL));
		double te = wall();
		for (int i = b; i < e; i++) {
			lo[i] = ts + ttl_of_key(i);
			hi[i] = te + ttl_of_key(i);
		}
	}
	agora_pipeline_free(p);
	double fill_end = wall();
	ck_assert_msg(fill_end < spread_start + ttl_base,
		      "filling took %.1f s, longer than the TTLs",
		      fill_end - spread_start);
	size_t len;
	AGH_OK(c, agora_dict_len(d, &len));
	ck_assert_uint_eq(len, (size_t)n);
	double last = 0;
	for (int i = 0; i < n; i++)
		if (hi[i] > last)
			last = hi[i];

	/* Read until every deadline has passed. */
	unsigned seed = 1;
	long reads = 0, seen_gone = 0;
	for (int round = 0; wall() < last + 0.2; round++) {
		double ts = wall(), te;
		if (round % 200 == 199) {
			AGH_OK(c, agora_dict_len(d, &len));
			te = wall();
			size_t must = 0, may = 0;
			for (int i = 0; i < n; i++) {
				must += te < lo[i];
				may += ts <= hi[i];
			}
			ck_assert_msg(len >= must && len <= may,
				      "len %zu not in [%zu, %zu]", len, must,
				      may);
			continue;
		}
		if (round % 4000 == 3999) {
			agora_value v;
			AGH_OK(c, agora_dict_keys(d, &v));
			for (size_t j = 0; j < v.via.array.len; j++) {
				int i = (int)v.via.array.items[j].via.i;
				ck_assert_msg(ts <= hi[i],
					      "keys returned key %d %.3f s "
					      "after its deadline",
					      i, ts - hi[i]);
			}
			agora_value_free(&v);
			continue;
		}
		/* A key whose deadline is about now. */
		int i = (int)(rand_r(&seed) % (unsigned)n);
		for (int tries = 0;
		     tries < 64 && (hi[i] < ts - 0.2 || lo[i] > ts + 0.2);
		     tries++)
			i = (int)(rand_r(&seed) % (unsigned)n);
		int64_t x;
		int rc = agora_dict_get_int(d, agora_int(i), &x);
		te = wall();
		ck_assert_msg(rc == 0 || rc == AGORA_EKEY, "getitem: %s",
			      agora_strerror(rc));
		ck_assert_msg(rc == AGORA_EKEY || ts <= hi[i],
			      "key %d returned %.4f s after its deadline", i,
			      ts - hi[i]);
		ck_assert_msg(rc == 0 || te >= lo[i],
			      "key %d lost %.4f s before its deadline", i,
			      lo[i] - te);
		reads++;
		seen_gone += rc == AGORA_EKEY;
	}
	ck_assert_int_gt(reads, 0);
	ck_assert_int_gt(seen_gone, 0);

	AGH_OK(c, agora_dict_len(d, &len));
	ck_assert_uint_eq(len, 0);
	agh_wait_info(c, h, "ttl_keys", 0);
	ck_assert_int_eq(agh_info_int(c, h, "expired"), n);
	/* Everything the keys took is given back. */
	int64_t mem1 = agh_stats_int(c, "memory");
	ck_assert_msg(mem1 <= mem0 + 4096,
		      "memory for objects %lld before the keys, %lld after",
		      (long long)mem0, (long long)mem1);
	AGH_OK(c, agora_dict_close(d));
	free(lo);
	free(hi);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("expiry");
	TCase *tc = AGH_ADD(s, a_million_keys_with_ttls_expire_on_time);

	tcase_set_timeout(tc, 110);
	return agh_run_suite(s);
}
