/*
 * c_worker - the C side of test_mixed.py: a libagora worker sharing a
 * queue, a dict and a lock with Python workers.
 *
 *   c_worker values QUEUE DICT    take the values Python put on QUEUE
 *                                 (VALUES below, then a reference to a
 *                                 dict Python made), check each one, write
 *                                 into Python's dict; then put the same
 *                                 values and a reference to a dict of its
 *                                 own, and store both in DICT
 *   c_worker count LOCK DICT N    N times, under LOCK: read DICT["count"],
 *                                 write it back plus one
 *
 * It connects with agora_client_connect_env() (AGORA_ADDRESS,
 * AGORA_AUTHKEY_FILE). Exit status 0 when everything was as expected, else
 * 1 with the reason on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <agora.h>

static agora_client *client;

#define CHECK(call)                                                        \
	do {                                                               \
		int rc_ = (call);                                          \
		if (rc_ < 0) {                                             \
			fprintf(stderr, "c_worker: %s: %s (%s)\n", #call,  \
				agora_errmsg(client), agora_errname(rc_)); \
			exit(1);                                           \
		}                                                          \
	} while (0)

static void fail(const char *what, agora_value got, agora_value want)
{
	char g[512], w[512];
	agora_value_format(got, g, sizeof(g));
	agora_value_format(want, w, sizeof(w));
	fprintf(stderr, "c_worker: %s: got %s, expected %s\n", what, g, w);
	exit(1);
}

/* The values both sides send; test_mixed.py's VALUES, in the same order. */
#define NVALUES 12
static agora_value values[NVALUES];
static agora_value all_values; /* the array of them all */

static void make_values(void)
{
	static const unsigned char bytes[] = { 0x00, 0x01, 0xfe, 0xff };
	static const unsigned char three[] = { 0x03 };
	static const unsigned char blob[] = { 0x00, 0xff };
	static agora_value inner3[1], inner2[3], k_items[2], sizes[3];
	static agora_pair yes[1], deep_map[2], named[4], intkeys[2];
	static agora_value nested[3], minus2[1];

	values[0] = agora_int(42);
	values[1] = agora_int(-7);
	values[2] = agora_int((int64_t)1 << 40);
	values[3] = agora_float(2.5);
	values[4] = agora_float(-0.125);
	values[5] = agora_str("h\xc3\xa9llo, w\xc3\xb6rld");
	values[6] = agora_bin(bytes, sizeof(bytes));
	values[7] = agora_bool(true);
	values[8] = agora_nil();
	/* [1, [2.5, "two", [b"\x03"]], {"k": [1, 2], "deep": {"yes": True}}] */
	inner3[0] = agora_bin(three, sizeof(three));
	inner2[0] = agora_float(2.5);
	inner2[1] = agora_str("two");
	inner2[2] = agora_array(inner3, 1);
	k_items[0] = agora_int(1);
	k_items[1] = agora_int(2);
	yes[0] = (agora_pair){ agora_str("yes"), agora_bool(true) };
	deep_map[0] = (agora_pair){ agora_str("k"), agora_array(k_items, 2) };
	deep_map[1] = (agora_pair){ agora_str("deep"), agora_map(yes, 1) };
	nested[0] = agora_int(1);
	nested[1] = agora_array(inner2, 3);
	nested[2] = agora_map(deep_map, 2);
	values[9] = agora_array(nested, 3);
	/* {"name": "agora", "sizes": [1, 2, 3], "blob": b"\x00\xff",
	 *  "pi": 3.25} */
	sizes[0] = agora_int(1);
	sizes[1] = agora_int(2);
	sizes[2] = agora_int(3);
	named[0] = (agora_pair){ agora_str("name"), agora_str("agora") };
	named[1] = (agora_pair){ agora_str("sizes"), agora_array(sizes, 3) };
	named[2] = (agora_pair){ agora_str("blob"), agora_bin(blob, 2) };
	named[3] = (agora_pair){ agora_str("pi"), agora_float(3.25) };
	values[10] = agora_map(named, 4);
	/* {1: "one", -2: [2.0]} */
	minus2[0] = agora_float(2.0);
	intkeys[0] = (agora_pair){ agora_int(1), agora_str("one") };
	intkeys[1] = (agora_pair){ agora_int(-2), agora_array(minus2, 1) };
	values[11] = agora_map(intkeys, 2);
	all_values = agora_array(values, NVALUES);
}

static int run_values(const char *qname, const char *dname)
{
	agora_queue *q;
	agora_dict *shared, *theirs, *mine;
	agora_value got, ref_value;
	agora_ref ref, my_ref;
	char *from = NULL;
	char what[64];

	CHECK(agora_queue_open(client, qname, 0, &q));
	CHECK(agora_dict_open(client, dname, &shared));

	/* Python's values, in order, then a reference to Python's dict. */
	for (int i = 0; i < NVALUES; i++) {
		CHECK(agora_queue_get(q, 10.0, &got));
		snprintf(what, sizeof(what), "queue item %d", i);
		if (!agora_value_equal(got, values[i]))
			fail(what, got, values[i]);
		agora_value_free(&got);
	}
	CHECK(agora_queue_get(q, 10.0, &ref_value));
	if (agora_ref_from_value(ref_value, &ref) != 0)
		fail("queue item after the values (a reference)", ref_value,
		     agora_str("a reference"));
	agora_value_free(&ref_value);
	CHECK(agora_dict_open_ref(client, &ref, &theirs));
	CHECK(agora_dict_get_str(theirs, agora_str("from"), &from));
	if (strcmp(from, "py") != 0)
		fail("python's dict[\"from\"]", agora_str(from),
		     agora_str("py"));
	free(from);
	CHECK(agora_dict_set(theirs, agora_str("seen_by"), agora_str("c")));
	CHECK(agora_dict_close(theirs));

	/* The values Python stored in the shared dict. */
	CHECK(agora_dict_get(shared, agora_str("py.values"), &got));
	if (!agora_value_equal(got, all_values))
		fail("dict[\"py.values\"]", got, all_values);
	agora_value_free(&got);

	/* And the other way: the same values, then a dict of C's own. */
	for (int i = 0; i < NVALUES; i++)
		CHECK(agora_queue_put(q, values[i], 10.0));
	CHECK(agora_dict_open(client, NULL, &mine));
	CHECK(agora_dict_set(mine, agora_str("from"), agora_str("c")));
	CHECK(agora_dict_set(mine, agora_str("pid"), agora_int(getpid())));
	CHECK(agora_dict_ref(mine, &my_ref));
	CHECK(agora_queue_put(q, agora_ref_value(&my_ref), 10.0));
	CHECK(agora_dict_set(shared, agora_str("c.dict"),
			     agora_ref_value(&my_ref)));
	CHECK(agora_dict_set(shared, agora_str("c.values"), all_values));
	/* The references stored keep the anonymous dict alive. */
	CHECK(agora_dict_close(mine));
	CHECK(agora_dict_close(shared));
	CHECK(agora_queue_close(q));
	return 0;
}

static int run_count(const char *lname, const char *dname, long n)
{
	agora_lock *lock;
	agora_dict *d;

	CHECK(agora_lock_open(client, lname, &lock));
	CHECK(agora_dict_open(client, dname, &d));
	for (long i = 0; i < n; i++) {
		bool got = false;
		int64_t count;
		CHECK(agora_lock_acquire(lock, 10.0, &got));
		if (!got) {
			fprintf(stderr, "c_worker: the lock not acquired in "
					"10 s\n");
			return 1;
		}
		/* A read-modify-write: without the lock, updates are lost. */
		CHECK(agora_dict_get_int(d, agora_str("count"), &count));
		usleep(200);
		CHECK(agora_dict_set(d, agora_str("count"),
				     agora_int(count + 1)));
		CHECK(agora_lock_release(lock));
	}
	CHECK(agora_dict_close(d));
	CHECK(agora_lock_close(lock));
	return 0;
}

int main(int argc, char **argv)
{
	int rc;

	client = agora_client_new();
	if (!client) {
		fprintf(stderr, "c_worker: out of memory\n");
		return 1;
	}
	CHECK(agora_client_connect_env(client));
	make_values();
	if (argc == 4 && strcmp(argv[1], "values") == 0) {
		rc = run_values(argv[2], argv[3]);
	} else if (argc == 5 && strcmp(argv[1], "count") == 0) {
		char *end;
		long n = strtol(argv[4], &end, 10);
		if (*end || n < 0) {
			fprintf(stderr,
				"c_worker: count: N must be a "
				"non-negative number, not '%s'\n",
				argv[4]);
			return 2;
		}
		rc = run_count(argv[2], argv[3], n);
	} else {
		fprintf(stderr, "usage: c_worker values QUEUE DICT | "
				"c_worker count LOCK DICT N\n");
		return 2;
	}
	agora_client_free(client);
	return rc;
}
