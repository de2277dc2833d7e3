/*
 * test_limits.c - each of agorad's limits hit on a server started with a
 * small value of it, and answered LIMIT (or, for the limits of the
 * protocol, the offending connection closed), while a bystander client
 * connected alongside keeps working and finds its data intact:
 *
 *   --max-connections  the extra connection's first request gets LIMIT
 *   --max-message      an oversize request closes only its connection
 *   --max-memory       storing past it is LIMIT; deleting makes room
 *   --max-items        list append/extend, dict set, queue put, namespace
 *                      set, array length past it are LIMIT
 *   --max-parked       the (N+1)th parked get of one connection is LIMIT
 *   --max-output       a raw client that pipelines and never reads is cut
 *                      off while the bystander's pings keep answering
 *   --auth-timeout     a silent connection, and one that dribbles a byte a
 *                      second, are closed once it passes
 *
 * Raw connections (agh_raw, harness.h: for pipelining, and for the
 * protocol-level limits) build MessagePack with msgpack-c and do the
 * handshake of protocol.md section 2 by hand.
 */
#include <msgpack.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define MAX_ITEMS 4
/* The bystander's pings while a slow reader is cut off: none may take
 * longer than this. A bystander starved by the flood would wait for the
 * whole of it (up to 60 s); a ping takes milliseconds, and the bound leaves
 * room for a loaded 2-core machine running the tests under valgrind. */
#define PING_BOUND 10.0

/* The --auth-timeout of the two tests about it: short, so that they do not
 * wait long, but not under valgrind, where the bystander itself may take
 * over a second to authenticate (AGORA_TEST_SETUP: the top meson.build). */
static double auth_timeout(double wanted)
{
	const char *setup = getenv("AGORA_TEST_SETUP");

	return setup && strcmp(setup, "valgrind") == 0 ? 3.0 : wanted;
}

/* ---- the bystander ------------------------------------------------------ */

/* A client with the list "keep" = [1, 2, 3], connected alongside. */
typedef struct bystander {
	agora_client *c;
	agora_list *keep;
} bystander;

static void bystander_start(bystander *b, const agh_server *s)
{
	agora_value items[3] = { agora_int(1), agora_int(2), agora_int(3) };

	b->c = agh_connect(s);
	AGH_OK(b->c, agora_list_open(b->c, "keep", &b->keep));
	AGH_OK(b->c, agora_list_extend(b->keep, items, 3));
}

/* It answers, and "keep" is still [1, 2, 3]. */
static void bystander_check_reads(bystander *b)
{
	static const int64_t want[3] = { 1, 2, 3 };
	agora_value v;

	AGH_OK(b->c, agora_ping(b->c));
	AGH_OK(b->c, agora_list_copy(b->keep, &v));
	agh_assert_ints(v, want, 3);
	agora_value_free(&v);
}

/* The same, and it can still store: append 4 and pop it again. */
static void bystander_check(bystander *b)
{
	agora_value v;

	bystander_check_reads(b);
	AGH_OK(b->c, agora_list_append(b->keep, agora_int(4)));
	AGH_OK(b->c, agora_list_pop(b->keep, -1, &v));
	agh_assert_int(v, 4);
	agora_value_free(&v);
	bystander_check_reads(b);
}

static void bystander_stop(bystander *b)
{
	agora_list_close(b->keep);
	agora_client_free(b->c);
}

/* Start a server with @flags (NULL-terminated) and the bystander. */
static void start(agh_server *s, bystander *b, const char *const *flags)
{
	agh_server_start_args(s, flags);
	bystander_start(b, s);
}

static void stop(agh_server *s, bystander *b)
{
	bystander_check(b);
	bystander_stop(b);
	agh_server_stop(s);
}

/* ---- raw connections ---------------------------------------------------- */

/* Read the response to @msgid; fails the test on anything else. The result
 * points into @m. */
static msgpack_object expect_result(agh_raw *r, msgpack_unpacked *m,
				    uint32_t msgid)
{
	ck_assert_int_eq(agh_raw_read(r, m, AGH_RAW_TIMEOUT), 1);
	return agh_ok_result(m->data, msgid);
}

/* hello [1, cnonce] with msgid 1, packed into @sb. */
static void pack_hello(msgpack_sbuffer *sb, const unsigned char cnonce[32])
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	agh_pack_head(&pk, 1, "hello", 2);
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_bin_with_body(&pk, cnonce, 32);
}

/* A raw connection that has done the handshake (msgids 1 and 2). */
static agh_raw *raw_authed(const agh_server *s)
{
	agh_raw *r = agh_raw_connect(s);

	agh_raw_handshake(r, s);
	return r;
}

/* open [type, name, {}] as @msgid; returns the handle. */
static uint64_t raw_open(agh_raw *r, uint32_t msgid, const char *type,
			 const char *name)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked m;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	agh_pack_head(&pk, msgid, "open", 3);
	msgpack_pack_str_with_body(&pk, type, strlen(type));
	msgpack_pack_str_with_body(&pk, name, strlen(name));
	msgpack_pack_map(&pk, 0);
	agh_raw_send_sbuf(r, &sb);
	msgpack_sbuffer_destroy(&sb);
	msgpack_unpacked_init(&m);
	msgpack_object h = expect_result(r, &m, msgid);
	ck_assert_int_eq(h.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	uint64_t handle = h.via.u64;
	msgpack_unpacked_destroy(&m);
	return handle;
}

/* The server and bystander of the running test: static, so that the
 * harness's exit handler can still reach the server after a failure. */
static agh_server srv;
static bystander by;

/* ---- connections -------------------------------------------------------- */

START_TEST(an_extra_connection_gets_limit_and_the_others_keep_working)
{
	static const char *const flags[] = { "--max-connections", "3", NULL };
	unsigned char cnonce[32] = { 1 };
	msgpack_sbuffer sb;

	start(&srv, &by, flags);
	agora_client *c2 = agh_connect(&srv);
	agora_client *c3 = agh_connect(&srv);
	agh_wait_stats(by.c, "connections", 3);

	/* The fourth, by hand: its first request is answered LIMIT, then
	 * the server closes it. */
	agh_raw *r = agh_raw_connect(&srv);
	msgpack_sbuffer_init(&sb);
	pack_hello(&sb, cnonce);
	agh_raw_send_sbuf(r, &sb);
	msgpack_sbuffer_destroy(&sb);
	agh_raw_expect_error(r, 1, "LIMIT");
	agh_raw_expect_close(r);
	agh_raw_free(r);

	/* And through the library: connect says LIMIT. */
	agora_client *c4 = agora_client_new();
	ck_assert_ptr_nonnull(c4);
	AGH_CALL_EQ(c4,
		    agora_client_connect(c4, srv.address, srv.key, AGH_KEYLEN),
		    AGORA_ELIMIT);
	agora_client_free(c4);

	agh_wait_stats(by.c, "connections", 3);
	bystander_check(&by);
	AGH_OK(c2, agora_ping(c2));
	AGH_OK(c3, agora_ping(c3));

	/* A slot freed is a slot a new client gets. */
	agora_client_free(c3);
	agh_wait_stats(by.c, "connections", 2);
	c3 = agh_connect(&srv);
	AGH_OK(c3, agora_ping(c3));
	agora_client_free(c3);
	agora_client_free(c2);
	stop(&srv, &by);
}
END_TEST

/* ---- messages ----------------------------------------------------------- */

START_TEST(an_oversize_request_closes_only_its_connection)
{
	static const char *const flags[] = { "--max-message", "4096", NULL };
	static char big[8192], fits[3000];
	agora_list *l;
	agora_value v;

	start(&srv, &by, flags);
	agora_client *x = agh_connect(&srv);
	AGH_OK(x, agora_list_open(x, "keep", &l));
	agh_wait_stats(by.c, "connections", 2);

	/* The server answers PROTOCOL, then closes: the client is broken. */
	AGH_CALL_EQ(x, agora_list_append(l, agora_bin(big, sizeof(big))),
		    AGORA_EPROTOCOL);
	AGH_CALL_EQ(x, agora_ping(x), AGORA_EIO);
	agora_list_close(l);
	agora_client_free(x);
	agh_wait_stats(by.c, "connections", 1);

	/* Nothing of it was stored, and a request under the limit is
	 * served. */
	bystander_check(&by);
	AGH_OK(by.c, agora_list_append(by.keep, agora_bin(fits, sizeof(fits))));
	AGH_OK(by.c, agora_list_pop(by.keep, -1, &v));
	ck_assert_int_eq(v.type, AGORA_BIN);
	ck_assert_uint_eq(v.via.str.len, sizeof(fits));
	agora_value_free(&v);
	stop(&srv, &by);
}
END_TEST

/* ---- memory ------------------------------------------------------------- */

START_TEST(storing_past_max_memory_is_limit_and_deleting_makes_room)
{
	static const char *const flags[] = { "--max-memory", "65536", NULL };
	static char kib[1024];
	agora_dict *d;
	int64_t stored = 0;
	int rc = 0;

	start(&srv, &by, flags);
	agora_client *x = agh_connect(&srv);
	AGH_OK(x, agora_dict_open(x, "hog", &d));
	/* 1 KiB values until the server refuses one. */
	while (stored < 1000 &&
	       (rc = agora_dict_set(d, agora_int(stored),
				    agora_bin(kib, sizeof(kib)))) == 0)
		stored++;
	AGH_CALL_EQ(x, rc, AGORA_ELIMIT);
	ck_assert_int_ge(stored, 32);
	ck_assert_int_lt(stored, 64);
	ck_assert_int_le(agh_stats_int(by.c, "memory"), 65536);
	AGH_OK(x, agora_ping(x)); /* LIMIT is an answer, not a close */

	/* The bystander reads its data while the server is full... */
	bystander_check_reads(&by);

	/* ...and once the hog deletes, there is room for both. */
	for (int64_t k = 0; k < 8; k++)
		AGH_OK(x, agora_dict_delete(d, agora_int(k)));
	AGH_OK(x, agora_dict_set(d, agora_int(stored),
				 agora_bin(kib, sizeof(kib))));
	bystander_check(&by);
	agora_dict_close(d);
	agora_client_free(x);
	stop(&srv, &by);
}
END_TEST

/* Objects themselves count: opening new named objects, each empty, comes
 * to LIMIT once their fixed part and names fill the room, with a message
 * naming the limit; dropping names gives the room back. */
START_TEST(opening_past_max_memory_is_limit_and_dropping_makes_room)
{
	static const char *const flags[] = { "--max-memory", "65536", NULL };
	agora_event *ev;
	char name[64];
	int n = 0, rc = 0;

	start(&srv, &by, flags);
	agora_client *x = agh_connect(&srv);
	while (n < 100000) {
		snprintf(name, sizeof(name), "flag-%d", n);
		if ((rc = agora_event_open(x, name, &ev)) < 0)
			break;
		agora_event_close(ev); /* the name keeps the object */
		n++;
	}
	AGH_CALL_EQ(x, rc, AGORA_ELIMIT);
	ck_assert_msg(strstr(agora_errmsg(x), "65536") != NULL,
		      "the message does not name the limit: %s",
		      agora_errmsg(x));
	ck_assert_int_ge(n, 64); /* objects are small, but not free */
	ck_assert_int_lt(n, 65536 / 16);
	ck_assert_int_le(agh_stats_int(by.c, "memory"), 65536);
	bystander_check_reads(&by);

	/* Dropping names frees their objects and makes room again. */
	for (int i = 0; i < 16; i++) {
		snprintf(name, sizeof(name), "flag-%d", i);
		bool dropped = false;
		AGH_OK(x, agora_drop(x, name, &dropped));
		ck_assert(dropped);
	}
	AGH_OK(x, agora_event_open(x, "one-more", &ev));
	agora_event_close(ev);
	bystander_check(&by);
	agora_client_free(x);
	stop(&srv, &by);
}
END_TEST

/* An array's elements are held for it too: one longer than the room left
 * is refused, and the server stays usable. */
START_TEST(an_array_larger_than_max_memory_is_limit)
{
	static const char *const flags[] = { "--max-memory", "65536", NULL };
	struct agora_array *a = NULL;

	start(&srv, &by, flags);
	agora_client *x = agh_connect(&srv);
	AGH_CALL_EQ(x, agora_array_open(x, "huge", 'd', 1 << 20, &a),
		    AGORA_ELIMIT);
	ck_assert_int_le(agh_stats_int(by.c, "memory"), 65536);
	bystander_check(&by);
	agora_client_free(x);
	stop(&srv, &by);
}
END_TEST

/* ---- items per container ------------------------------------------------ */

static const char *const items_flags[] = { "--max-items", "4", NULL };

START_TEST(list_append_past_max_items_is_limit)
{
	agora_list *l;
	size_t len = 0;

	start(&srv, &by, items_flags);
	agora_client *x = agh_connect(&srv);
	AGH_OK(x, agora_list_open(x, "full", &l));
	for (int i = 0; i < MAX_ITEMS; i++)
		AGH_OK(x, agora_list_append(l, agora_int(i)));
	AGH_CALL_EQ(x, agora_list_append(l, agora_int(4)), AGORA_ELIMIT);
	AGH_CALL_EQ(x, agora_list_insert(l, 0, agora_int(4)), AGORA_ELIMIT);
	AGH_OK(x, agora_list_len(l, &len));
	ck_assert_uint_eq(len, MAX_ITEMS);
	bystander_check(&by);
	agora_list_close(l);
	agora_client_free(x);
	stop(&srv, &by);
}
END_TEST

START_TEST(list_extend_past_max_items_is_limit_and_adds_nothing)
{
	agora_list *l;
	agora_value three[3] = { agora_int(0), agora_int(1), agora_int(2) };
	size_t len = 0;

	start(&srv, &by, items_flags);
	agora_client *x = agh_connect(&srv);
	AGH_OK(x, agora_list_open(x, "full", &l));
	AGH_OK(x, agora_list_extend(l, three, 3));
	AGH_CALL_EQ(x, agora_list_extend(l, three, 2), AGORA_ELIMIT);
	AGH_OK(x, agora_list_len(l, &len));
	ck_assert_uint_eq(len, 3);
	bystander_check(&by);
	agora_list_close(l);
	agora_client_free(x);
	stop(&srv, &by);
}
END_TEST

START_TEST(dict_set_of_a_new_key_past_max_items_is_limit)
{
	agora_dict *d;
	size_t len = 0;

	start(&srv, &by, items_flags);
	agora_client *x = agh_connect(&srv);
	AGH_OK(x, agora_dict_open(x, "full", &d));
	for (int i = 0; i < MAX_ITEMS; i++)
		AGH_OK(x, agora_dict_set(d, agora_int(i), agora_int(i)));
	AGH_CALL_EQ(x, agora_dict_set(d, agora_int(4), agora_int(4)),
		    AGORA_ELIMIT);
	/* Replacing the value of a key it has adds no item. */
	AGH_OK(x, agora_dict_set(d, agora_int(0), agora_str("again")));
	AGH_OK(x, agora_dict_len(d, &len));
	ck_assert_uint_eq(len, MAX_ITEMS);
	bystander_check(&by);
	agora_dict_close(d);
	agora_client_free(x);
	stop(&srv, &by);
}
END_TEST

START_TEST(queue_put_past_max_items_is_limit)
{
	agora_queue *q;
	size_t len = 0;

	start(&srv, &by, items_flags);
	agora_client *x = agh_connect(&srv);
	AGH_OK(x, agora_queue_open(x, "full", 0, &q)); /* unbounded */
	for (int i = 0; i < MAX_ITEMS; i++)
		AGH_OK(x, agora_queue_put(q, agora_int(i), 0));
	AGH_CALL_EQ(x, agora_queue_put(q, agora_int(4), 0), AGORA_ELIMIT);
	AGH_OK(x, agora_queue_qsize(q, &len));
	ck_assert_uint_eq(len, MAX_ITEMS);
	bystander_check(&by);
	agora_queue_close(q);
	agora_client_free(x);
	stop(&srv, &by);
}
END_TEST

START_TEST(namespace_set_of_a_new_attribute_past_max_items_is_limit)
{
	static const char *const attrs[] = { "a", "b", "c", "d" };
	agora_namespace *ns;

	start(&srv, &by, items_flags);
	agora_client *x = agh_connect(&srv);
	AGH_OK(x, agora_namespace_open(x, "full", &ns));
	for (int i = 0; i < MAX_ITEMS; i++)
		AGH_OK(x, agora_namespace_set(ns, attrs[i], agora_int(i)));
	AGH_CALL_EQ(x, agora_namespace_set(ns, "e", agora_int(4)),
		    AGORA_ELIMIT);
	AGH_OK(x, agora_namespace_set(ns, "a", agora_int(10)));
	AGH_CALL_EQ(x, agora_namespace_get(ns, "e", &(agora_value){ 0 }),
		    AGORA_EKEY);
	bystander_check(&by);
	agora_namespace_close(ns);
	agora_client_free(x);
	stop(&srv, &by);
}
END_TEST

START_TEST(array_longer_than_max_items_is_limit)
{
	struct agora_array *a = NULL;
	size_t len = 0;

	start(&srv, &by, items_flags);
	agora_client *x = agh_connect(&srv);
	AGH_CALL_EQ(x, agora_array_open(x, "long", 'i', MAX_ITEMS + 1, &a),
		    AGORA_ELIMIT);
	AGH_OK(x, agora_array_open(x, "fits", 'i', MAX_ITEMS, &a));
	AGH_OK(x, agora_array_len(a, &len));
	ck_assert_uint_eq(len, MAX_ITEMS);
	bystander_check(&by);
	agora_array_close(a);
	agora_client_free(x);
	stop(&srv, &by);
}
END_TEST

/* ---- parked requests ---------------------------------------------------- */

START_TEST(the_get_past_max_parked_on_one_connection_is_limit)
{
	static const char *const flags[] = { "--max-parked", "3", NULL };
	agora_queue *q;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked m;
	int64_t x = 0;

	start(&srv, &by, flags);
	agh_raw *r = raw_authed(&srv);
	uint64_t h = raw_open(r, 3, "queue", "jobs");

	/* Four blocking gets at once on one connection: three park, the
	 * fourth is answered LIMIT at once. */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	for (uint32_t id = 10; id < 14; id++) {
		agh_pack_head(&pk, id, "queue.get", 3);
		msgpack_pack_uint64(&pk, h);
		msgpack_pack_true(&pk);
		msgpack_pack_nil(&pk);
	}
	agh_raw_send_sbuf(r, &sb);
	msgpack_sbuffer_destroy(&sb);
	agh_raw_expect_error(r, 13, "LIMIT");
	agh_wait_stats(by.c, "waiters", 3);

	/* The limit is per connection: the bystander still parks, and
	 * times out as usual behind the three. */
	AGH_OK(by.c, agora_queue_open(by.c, "jobs", 0, &q));
	AGH_CALL_EQ(by.c, agora_queue_get_int(q, 0.05, &x), AGORA_EEMPTY);
	bystander_check(&by);

	/* The three parked gets are served in order. */
	for (int i = 0; i < 3; i++)
		AGH_OK(by.c, agora_queue_put(q, agora_int(100 + i), 0));
	for (uint32_t id = 10; id < 13; id++) {
		msgpack_unpacked_init(&m);
		msgpack_object v = expect_result(r, &m, id);
		ck_assert_uint_eq(v.via.u64, 100 + (id - 10));
		msgpack_unpacked_destroy(&m);
	}
	agh_wait_stats(by.c, "waiters", 0);
	agh_raw_free(r);
	agora_queue_close(q);
	stop(&srv, &by);
}
END_TEST

/* ---- a slow reader ------------------------------------------------------ */

#define BIG_VALUE 16384
#define REQUESTS_PER_WRITE 256

/* In a child: pipeline value.get of the big value on @r, never reading,
 * until the server cuts the connection off (exit 0) or 60 s pass (exit
 * 1). No Check here. */
static int flood(agh_raw *r, uint64_t h)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	double deadline = agh_now() + 60;
	uint32_t id = 100;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	while (agh_now() < deadline) {
		msgpack_sbuffer_clear(&sb);
		for (int i = 0; i < REQUESTS_PER_WRITE; i++) {
			agh_pack_head(&pk, id++, "value.get", 1);
			msgpack_pack_uint64(&pk, h);
		}
		if (agh_raw_send(r, sb.data, sb.size) < 0) {
			msgpack_sbuffer_destroy(&sb);
			return 0; /* EPIPE or ECONNRESET: cut off */
		}
	}
	msgpack_sbuffer_destroy(&sb);
	fprintf(stderr, "flood: never cut off\n");
	return 1;
}

START_TEST(a_reader_that_never_reads_is_cut_off_and_delays_nobody)
{
	static const char *const flags[] = { "--max-output", "65536", NULL };
	static char big[BIG_VALUE];
	agora_var *v;
	agora_value got;
	int status = 0, pings = 0;
	double worst = 0;
	pid_t pid;

	memset(big, 'b', sizeof(big));
	start(&srv, &by, flags);
	AGH_OK(by.c,
	       agora_var_open(by.c, "big", agora_bin(big, sizeof(big)), &v));
	agh_raw *r = raw_authed(&srv);
	uint64_t h = raw_open(r, 3, "value", "big");

	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int rc = flood(r, h);
		agh_raw_free(r);
		_exit(rc);
	}
	close(r->fd);
	r->fd = -1;

	/* Ping while the flood goes on, until it is cut off. */
	double deadline = agh_now() + AGH_WORKER_TIMEOUT;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		ck_assert_msg(agh_now() < deadline, "the flood never ended");
		double t0 = agh_now();
		AGH_OK(by.c, agora_ping(by.c));
		double dt = agh_now() - t0;
		if (dt > worst)
			worst = dt;
		pings++;
	}
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "the flooding client was not cut off");
	agh_wait_stats(by.c, "connections", 1);
	printf("slow reader: cut off after %d pings of the bystander, the "
	       "slowest %.1f ms\n",
	       pings, worst * 1e3);
	ck_assert_msg(worst < PING_BOUND, "a ping took %.2f s", worst);

	AGH_OK(by.c, agora_var_get(v, &got));
	ck_assert_int_eq(got.type, AGORA_BIN);
	ck_assert_uint_eq(got.via.str.len, sizeof(big));
	ck_assert(memcmp(got.via.str.ptr, big, sizeof(big)) == 0);
	agora_value_free(&got);
	agora_var_close(v);
	agh_raw_free(r);
	stop(&srv, &by);
}
END_TEST

/* ---- authentication timeout --------------------------------------------- */

/*
 * The lower bounds below cannot be missed under load (a loaded machine
 * closes later, never sooner): the server starts the timer when it accepts
 * the connection, after t0. The margin is for libevent's coarse clock.
 */
START_TEST(a_silent_connection_is_closed_after_the_auth_timeout)
{
	double timeout = auth_timeout(1.0);
	char arg[32];
	snprintf(arg, sizeof(arg), "%g", timeout);
	const char *const flags[] = { "--auth-timeout", arg, NULL };

	start(&srv, &by, flags);
	double t0 = agh_now();
	agh_raw *r = agh_raw_connect(&srv);
	agh_wait_stats(by.c, "connections", 2);
	agh_raw_expect_close(r);
	double took = agh_now() - t0;
	ck_assert_msg(took > 0.8 * timeout,
		      "closed after %.2f s, before the %g s timeout", took,
		      timeout);
	agh_raw_free(r);
	agh_wait_stats(by.c, "connections", 1);
	stop(&srv, &by);
}
END_TEST

/* The timeout is longer than the second between two bytes: were each byte
 * to restart the timer, the connection would never be closed. */
START_TEST(a_connection_dribbling_a_byte_a_second_is_closed_all_the_same)
{
	double timeout = auth_timeout(1.5);
	char arg[32];
	snprintf(arg, sizeof(arg), "%g", timeout);
	const char *const flags[] = { "--auth-timeout", arg, NULL };
	unsigned char cnonce[32] = { 7 };
	msgpack_sbuffer sb;
	size_t sent = 0;
	bool closed = false;

	start(&srv, &by, flags);
	double t0 = agh_now();
	agh_raw *r = agh_raw_connect(&srv);
	msgpack_sbuffer_init(&sb);
	pack_hello(&sb, cnonce);
	/* A byte of a valid hello, then wait a second for the close. */
	while (!closed && sent < sb.size) {
		ck_assert_msg(agh_now() - t0 < 30, "never closed");
		if (agh_raw_send(r, sb.data + sent, 1) < 0)
			break;
		sent++;
		struct pollfd p = { r->fd, POLLIN, 0 };
		if (poll(&p, 1, 1000) > 0) {
			char c;
			closed = read(r->fd, &c, 1) <= 0;
			ck_assert_msg(closed, "the server answered a partial "
					      "hello");
		}
		AGH_OK(by.c, agora_ping(by.c));
	}
	double took = agh_now() - t0;
	msgpack_sbuffer_destroy(&sb);
	ck_assert_msg(sent < 40, "it took %zu bytes to close it", sent);
	/* Closed once the timeout passed; the upper bound only says "not
	 * kept open by the dribble", with room for a loaded machine. */
	ck_assert_msg(took > 0.8 * timeout && took < timeout + 12.0,
		      "closed after %.2f s with a %g s timeout", took, timeout);
	agh_raw_free(r);
	agh_wait_stats(by.c, "connections", 1);
	stop(&srv, &by);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("limits");

	signal(SIGPIPE, SIG_IGN);
	AGH_ADD_BARE(
	    s, an_extra_connection_gets_limit_and_the_others_keep_working);
	AGH_ADD_BARE(s, an_oversize_request_closes_only_its_connection);
	AGH_ADD_BARE(s,
		     storing_past_max_memory_is_limit_and_deleting_makes_room);
	AGH_ADD_BARE(s, an_array_larger_than_max_memory_is_limit);
	AGH_ADD_BARE(s,
		     opening_past_max_memory_is_limit_and_dropping_makes_room);
	AGH_ADD_BARE(s, list_append_past_max_items_is_limit);
	AGH_ADD_BARE(s, list_extend_past_max_items_is_limit_and_adds_nothing);
	AGH_ADD_BARE(s, dict_set_of_a_new_key_past_max_items_is_limit);
	AGH_ADD_BARE(s, queue_put_past_max_items_is_limit);
	AGH_ADD_BARE(s,
		     namespace_set_of_a_new_attribute_past_max_items_is_limit);
	AGH_ADD_BARE(s, array_longer_than_max_items_is_limit);
	AGH_ADD_BARE(s, the_get_past_max_parked_on_one_connection_is_limit);
	AGH_ADD_BARE(s, a_reader_that_never_reads_is_cut_off_and_delays_nobody);
	AGH_ADD_BARE(s, a_silent_connection_is_closed_after_the_auth_timeout);
	AGH_ADD_BARE(
	    s, a_connection_dribbling_a_byte_a_second_is_closed_all_the_same);
	return agh_run_suite(s);
}
