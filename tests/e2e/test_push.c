/*
 * test_push.c - the client's side of push (include/agora.h, "push"):
 * notifications queued in the order they came, also while a call waits
 * for its answer, agora_notification_next()'s timeouts, the queue's limit,
 * the "cut" that ends a connection; and the event-loop client: many calls
 * sent before any result is read, answers matched by msgid whatever order
 * they come in, notifications between them, blocking calls mixed in, a
 * request larger than the socket's buffer sent piece by piece.
 *
 * The notifications come from a relay (a child process) between the
 * client and a real agorad: it passes every byte through, and when the
 * client pings with a value it knows, it adds notifications of its own
 * ([2, "test", [{"seq": N}]], N counting from 0 on each connection) next
 * to the server's answer:
 *   ping [1000000 + n]  n notifications before the answer,
 *   ping [2000000 + n]  n notifications after the answer,
 *   ping [3000000]      the answer, a "cut" notification, then the relay
 *                       closes the connection (as a server does after a
 *                       cut),
 *   ping [4000000]      a notification of a method the client does not
 *                       know, with no params, before the answer.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "harness.h"

/* ---- the relay ----------------------------------------------------------- */

#define PING_BEFORE 1000000
#define PING_AFTER 2000000
#define PING_CUT 3000000
#define PING_UNKNOWN 4000000
#define MAX_MARKED 4096

struct relay {
	int cfd, sfd;               /* the client's and the server's sockets */
	msgpack_unpacker cup;       /* what the client sends */
	msgpack_unpacker sup;       /* what the server sends */
	uint32_t msgid[MAX_MARKED]; /* pings with a value the relay knows */
	int64_t value[MAX_MARKED];
	size_t nmarked;
	uint64_t seq;
};

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t k = send(fd, p, len, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

static int send_sbuf(int fd, msgpack_sbuffer *sb)
{
	int rc = write_all(fd, sb->data, sb->size);

	msgpack_sbuffer_clear(sb);
	return rc;
}

/* Pack the relay's next "test" notification into @pk. */
static void pack_test_note(struct relay *r, msgpack_packer *pk)
{
	msgpack_pack_array(pk, 3);
	msgpack_pack_uint8(pk, 2);
	msgpack_pack_str_with_body(pk, "test", 4);
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 1);
	msgpack_pack_str_with_body(pk, "seq", 3);
	msgpack_pack_uint64(pk, r->seq++);
}

/* A request from the client: remember the pings the relay acts on. */
static void client_message(struct relay *r, const msgpack_object *m)
{
	const msgpack_object *a = m->via.array.ptr, *p;

	if (m->type != MSGPACK_OBJECT_ARRAY || m->via.array.size != 4 ||
	    a[2].type != MSGPACK_OBJECT_STR || a[2].via.str.size != 4 ||
	    memcmp(a[2].via.str.ptr, "ping", 4) != 0 ||
	    a[3].type != MSGPACK_OBJECT_ARRAY || a[3].via.array.size != 1)
		return;
	p = &a[3].via.array.ptr[0];
	if (p->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    p->via.u64 < PING_BEFORE || r->nmarked == MAX_MARKED)
		return;
	r->msgid[r->nmarked] = (uint32_t)a[1].via.u64;
	r->value[r->nmarked] = (int64_t)p->via.u64;
	r->nmarked++;
}

/* The value of the marked ping @msgid, forgotten; 0 when not marked. */
static int64_t take_mark(struct relay *r, uint32_t msgid)
{
	for (size_t i = 0; i < r->nmarked; i++) {
		if (r->msgid[i] != msgid)
			continue;
		int64_t v = r->value[i];

		r->msgid[i] = r->msgid[r->nmarked - 1];
		r->value[i] = r->value[r->nmarked - 1];
		r->nmarked--;
		return v;
	}
	return 0;
}

/* A message from the server: to the client, with what its ping asked
 * for. 1 to go on, 0 when the relay is to close the connection now, -1
 * on failure. */
static int server_message(struct relay *r, const msgpack_object *m)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int64_t v = 0, n;
	int rc = 1;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (m->type == MSGPACK_OBJECT_ARRAY && m->via.array.size == 4 &&
	    m->via.array.ptr[0].via.u64 == 1)
		v = take_mark(r, (uint32_t)m->via.array.ptr[1].via.u64);
	n = v >= PING_BEFORE && v < PING_AFTER ? v - PING_BEFORE : 0;
	for (int64_t i = 0; i < n; i++)
		pack_test_note(r, &pk);
	if (v == PING_UNKNOWN) {
		msgpack_pack_array(&pk, 3);
		msgpack_pack_uint8(&pk, 2);
		msgpack_pack_str_with_body(&pk, "future", 6);
		msgpack_pack_array(&pk, 0);
	}
	msgpack_pack_object(&pk, *m);
	n = v >= PING_AFTER && v < PING_CUT ? v - PING_AFTER : 0;
	for (int64_t i = 0; i < n; i++)
		pack_test_note(r, &pk);
	if (v == PING_CUT) {
		msgpack_pack_array(&pk, 3);
		msgpack_pack_uint8(&pk, 2);
		msgpack_pack_str_with_body(&pk, "cut", 3);
		msgpack_pack_array(&pk, 1);
		msgpack_pack_map(&pk, 2);
		msgpack_pack_str_with_body(&pk, "reason", 6);
		msgpack_pack_str_with_body(&pk, "--max-output", 12);
		msgpack_pack_str_with_body(&pk, "unsent", 6);
		msgpack_pack_uint64(&pk, 12345);
		rc = 0;
	}
	if (send_sbuf(r->cfd, &sb) < 0)
		rc = -1;
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

/* Read what @from has, pass it on as the relay does. 1 to go on, 0 to
 * stop, -1 on failure. */
static int relay_read(struct relay *r, bool from_client)
{
	msgpack_unpacker *up = from_client ? &r->cup : &r->sup;
	msgpack_unpacked m;
	ssize_t k;
	int rc = 1;

	if (!msgpack_unpacker_reserve_buffer(up, 1 << 16))
		return -1;
	k = recv(from_client ? r->cfd : r->sfd, msgpack_unpacker_buffer(up),
		 msgpack_unpacker_buffer_capacity(up), 0);
	if (k < 0 && errno == EINTR)
		return 1;
	if (k <= 0)
		return 0;
	if (from_client &&
	    write_all(r->sfd, msgpack_unpacker_buffer(up), (size_t)k) < 0)
		return 0;
	msgpack_unpacker_buffer_consumed(up, (size_t)k);
	msgpack_unpacked_init(&m);
	while (rc == 1 &&
	       msgpack_unpacker_next(up, &m) == MSGPACK_UNPACK_SUCCESS) {
		if (from_client)
			client_message(r, &m.data);
		else
			rc = server_message(r, &m.data);
	}
	msgpack_unpacked_destroy(&m);
	return rc;
}

/* The relay process: one connection on @lfd, to @server_path. Exits 0
 * when either side closed it, or after a cut. */
static void relay_main(int lfd, const char *server_path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct relay r = { .sfd = -1 };
	struct pollfd pfd[2];
	int rc = 1;

	r.cfd = accept(lfd, NULL, NULL);
	close(lfd);
	if (strlen(server_path) >= sizeof(sa.sun_path))
		_exit(2);
	memcpy(sa.sun_path, server_path, strlen(server_path) + 1);
	r.sfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (r.cfd < 0 || r.sfd < 0 ||
	    connect(r.sfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		_exit(2);
	msgpack_unpacker_init(&r.cup, 1 << 16);
	msgpack_unpacker_init(&r.sup, 1 << 16);
	while (rc == 1) {
		pfd[0] = (struct pollfd){ .fd = r.cfd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = r.sfd, .events = POLLIN };
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			_exit(3);
		if (rc == 1 && pfd[0].revents != 0)
			rc = relay_read(&r, true);
		if (rc == 1 && pfd[1].revents != 0)
			rc = relay_read(&r, false);
	}
	_exit(rc < 0 ? 4 : 0);
}

static pid_t relay_pid;

/* A client connected to the fixture's server through a new relay. */
static agora_client *relay_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	agora_client *c;
	char address[200];
	int lfd, rc;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/relay.sock",
		 agh_srv.dir);
	unlink(sa.sun_path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 1), 0);
	relay_pid = fork();
	ck_assert_int_ge(relay_pid, 0);
	if (relay_pid == 0)
		relay_main(lfd, agh_srv.sock);
	close(lfd);
	snprintf(address, sizeof(address), "unix:%s", sa.sun_path);
	c = agora_client_new();
	ck_assert_ptr_nonnull(c);
	rc = agora_client_connect(c, address, agh_srv.key, AGH_KEYLEN);
	ck_assert_msg(rc == 0, "connect through the relay: %s",
		      agora_errmsg(c));
	unlink(sa.sun_path); /* connected: the server's directory can go */
	return c;
}

/* Free @c and wait for its relay to end cleanly. */
static void relay_done(agora_client *c)
{
	agora_client_free(c);
	ck_assert_int_eq(agh_wait_pid(relay_pid, AGH_WORKER_TIMEOUT), 0);
}

/* agora_call(c, "ping", [v]): the answer must be v. */
static void ping_value(agora_client *c, int64_t v)
{
	agora_value p = agora_int(v), got = { 0 };

	AGH_OK(c, agora_call(c, "ping", agora_array(&p, 1), &got));
	agh_assert_int(got, v);
	agora_value_free(&got);
}

/* Take the next notification within @timeout: a "test" one numbered
 * @seq. */
static void expect_test_note(agora_client *c, double timeout, int64_t seq)
{
	agora_notification *n = NULL;

	AGH_OK(c, agora_notification_next(c, timeout, &n));
	ck_assert_str_eq(n->method, "test");
	ck_assert_int_eq(n->params.type, AGORA_MAP);
	agh_assert_int(*agora_map_get(&n->params, "seq"), seq);
	agora_notification_free(n);
}

/* ---- notifications ------------------------------------------------------- */

START_TEST(notifications_that_arrive_during_a_call_are_queued_in_order)
{
	agora_client *c = relay_connect();
	agora_notification *n = NULL;

	ck_assert_uint_eq(agora_notification_count(c), 0);
	ping_value(c, PING_BEFORE + 3);
	ck_assert_uint_eq(agora_notification_count(c), 3);
	/* More calls: their answers come, the queue keeps growing. */
	ping_value(c, PING_BEFORE + 2);
	AGH_OK(c, agora_ping(c));
	ck_assert_uint_eq(agora_notification_count(c), 5);
	for (int i = 0; i < 5; i++)
		expect_test_note(c, 0, i);
	ck_assert_uint_eq(agora_notification_count(c), 0);
	ck_assert_int_eq(agora_notification_next(c, 0, &n), AGORA_ETIMEDOUT);
	ck_assert_ptr_null(n);
	ck_assert_uint_eq(agora_notification_dropped(c), 0);
	relay_done(c);
}
END_TEST

START_TEST(next_reads_the_socket_when_none_is_queued)
{
	agora_client *c = relay_connect();
	agora_notification *n = NULL;
	double t0;

	/* The answer comes first: the notifications after it are read by
	 * agora_notification_next() itself. */
	ping_value(c, PING_AFTER + 2);
	expect_test_note(c, AGH_STATE_TIMEOUT, 0);
	expect_test_note(c, AGH_STATE_TIMEOUT, 1);
	/* None more: a timeout, which leaves the client usable. */
	t0 = agh_now();
	ck_assert_int_eq(agora_notification_next(c, 0.2, &n), AGORA_ETIMEDOUT);
	ck_assert_double_ge(agh_now() - t0, 0.19);
	ck_assert_int_eq(agora_notification_next(c, 0, &n), AGORA_ETIMEDOUT);
	AGH_OK(c, agora_ping(c));
	relay_done(c);
}
END_TEST

START_TEST(a_notification_of_an_unknown_method_with_no_params_is_nil)
{
	agora_client *c = relay_connect();
	agora_notification *n = NULL;

	ping_value(c, PING_UNKNOWN);
	AGH_OK(c, agora_notification_next(c, 0, &n));
	ck_assert_str_eq(n->method, "future");
	ck_assert_int_eq(n->params.type, AGORA_NIL);
	ck_assert_ptr_null(agora_map_get(&n->params, "seq"));
	agora_notification_free(n);
	agora_notification_free(NULL);
	relay_done(c);
}
END_TEST

START_TEST(a_full_queue_drops_the_oldest_and_counts_them)
{
	agora_client *c = relay_connect();

	ck_assert_int_eq(agora_notification_set_limit(c, 0), AGORA_EINVAL);
	AGH_OK(c, agora_notification_set_limit(c, 2));
	ping_value(c, PING_BEFORE + 5);
	ck_assert_uint_eq(agora_notification_count(c), 2);
	ck_assert_uint_eq(agora_notification_dropped(c), 3);
	expect_test_note(c, 0, 3);
	/* A lower limit drops what is over it now. */
	ping_value(c, PING_BEFORE + 1);
	AGH_OK(c, agora_notification_set_limit(c, 1));
	ck_assert_uint_eq(agora_notification_dropped(c), 4);
	expect_test_note(c, 0, 5);
	relay_done(c);
}
END_TEST

START_TEST(a_cut_is_taken_and_then_the_connection_is_gone)
{
	agora_client *c = relay_connect();
	agora_notification *n = NULL;

	ping_value(c, PING_BEFORE + 1);
	ping_value(c, PING_CUT);
	expect_test_note(c, 0, 0);
	AGH_OK(c, agora_notification_next(c, AGH_STATE_TIMEOUT, &n));
	ck_assert_str_eq(n->method, "cut");
	agh_assert_str(*agora_map_get(&n->params, "reason"), "--max-output");
	agh_assert_int(*agora_map_get(&n->params, "unsent"), 12345);
	agora_notification_free(n);
	ck_assert_int_eq(agora_notification_next(c, AGH_STATE_TIMEOUT, &n),
			 AGORA_EIO);
	ck_assert_int_eq(agora_ping(c), AGORA_EIO);
	relay_done(c);
}
END_TEST

START_TEST(next_refuses_bad_arguments)
{
	agora_notification *n = NULL;

	ck_assert_int_eq(agora_notification_next(NULL, 0, &n), AGORA_EINVAL);
	ck_assert_int_eq(agora_notification_next(agh_cli, 0, NULL),
			 AGORA_EINVAL);
	ck_assert_int_eq(agora_notification_next(agh_cli, NAN, &n),
			 AGORA_EINVAL);
	ck_assert_uint_eq(agora_notification_count(NULL), 0);
	/* A client that never got a notification: a plain timeout. */
	ck_assert_int_eq(agora_notification_next(agh_cli, 0.05, &n),
			 AGORA_ETIMEDOUT);
	AGH_OK(agh_cli, agora_ping(agh_cli));
}
END_TEST

START_TEST(map_get_finds_str_keys_only)
{
	agora_pair pairs[3] = {
		{ agora_int(1), agora_str("one") },
		{ agora_str("k"), agora_int(7) },
		{ agora_bin("b", 1), agora_int(8) },
	};
	agora_value m = agora_map(pairs, 3), i = agora_int(3);

	agh_assert_int(*agora_map_get(&m, "k"), 7);
	ck_assert_ptr_null(agora_map_get(&m, "b"));
	ck_assert_ptr_null(agora_map_get(&m, "kk"));
	ck_assert_ptr_null(agora_map_get(&i, "k"));
	ck_assert_ptr_null(agora_map_get(NULL, "k"));
	ck_assert_ptr_null(agora_map_get(&m, NULL));
}
END_TEST

/* ---- the event-loop client ----------------------------------------------- */

/* Wait in poll() as an event loop does, processing what comes, until the
 * answer to the sent call @msgid is in: its result's code, the result in
 * *ret (may be NULL). Fails the test after AGH_STATE_TIMEOUT. */
static int await_result(agora_client *c, uint32_t msgid, agora_value *ret)
{
	double end = agh_now() + AGH_STATE_TIMEOUT;
	int rc;

	while ((rc = agora_call_result(c, msgid, ret)) == AGORA_EAGAIN) {
		struct pollfd pfd = { .fd = agora_client_fd(c),
				      .events = POLLIN };

		if (agora_client_want_write(c))
			pfd.events |= POLLOUT;
		ck_assert_msg(agh_now() < end, "no answer to call %u",
			      (unsigned)msgid);
		ck_assert_int_ge(poll(&pfd, 1, 100), 0);
		ck_assert_int_ge(agora_client_process(c), 0);
	}
	return rc;
}

/* Send "ping" [v] without waiting: its msgid. */
static uint32_t send_ping(agora_client *c, int64_t v)
{
	agora_value p = agora_int(v);
	uint32_t id = 0;

	AGH_OK(c, agora_call_send(c, "ping", agora_array(&p, 1), &id));
	return id;
}

/* Send queue.get [h, true, nil] (forever) without waiting. */
static uint32_t send_get(agora_client *c, agora_queue *q)
{
	agora_value p[3] = { agora_uint(agora_queue_handle(q)),
			     agora_bool(true), agora_nil() };
	uint32_t id = 0;

	AGH_OK(c, agora_call_send(c, "queue.get", agora_array(p, 3), &id));
	return id;
}

START_TEST(many_calls_sent_before_any_result_is_read_are_matched_by_msgid)
{
	enum { N = 300 };
	uint32_t ids[N], get_id;
	agora_queue *q = NULL;
	agora_value v = { 0 };

	AGH_OK(agh_cli, agora_queue_open(agh_cli, "jobs", 0, &q));
	/* A get that parks first: the pings behind it are answered before
	 * it. */
	get_id = send_get(agh_cli, q);
	for (int i = 0; i < N; i++)
		ids[i] = send_ping(agh_cli, 1000 + i);
	ck_assert_uint_eq(agora_call_pending(agh_cli), N + 1);
	/* Taken newest first: each answer is its own call's. */
	for (int i = N - 1; i >= 0; i--) {
		AGH_OK(agh_cli, await_result(agh_cli, ids[i], &v));
		agh_assert_int(v, 1000 + i);
		agora_value_free(&v);
	}
	ck_assert_int_eq(agora_call_result(agh_cli, get_id, &v), AGORA_EAGAIN);
	/* A blocking call on the same client meanwhile: the get's answer,
	 * which its put brings, is kept, not mistaken for the put's. */
	AGH_OK(agh_cli, agora_queue_put(q, agora_int(42), AGORA_FOREVER));
	AGH_OK(agh_cli, agora_ping(agh_cli));
	AGH_OK(agh_cli, await_result(agh_cli, get_id, &v));
	agh_assert_int(v, 42);
	agora_value_free(&v);
	ck_assert_uint_eq(agora_call_pending(agh_cli), 0);
	agora_queue_close(q);
}
END_TEST

START_TEST(a_result_is_taken_once_and_errors_come_with_their_message)
{
	agora_value p = agora_int(1), v = { 0 };
	uint32_t id = 0, ping;

	AGH_OK(agh_cli, agora_call_send(agh_cli, "no_such.method",
					agora_array(&p, 1), &id));
	ping = send_ping(agh_cli, 7);
	ck_assert_int_eq(await_result(agh_cli, id, &v), AGORA_ENO_METHOD);
	ck_assert_msg(strstr(agora_errmsg(agh_cli), "no_such.method") != NULL,
		      "the message is \"%s\"", agora_errmsg(agh_cli));
	/* Taken: the msgid is unknown now. */
	ck_assert_int_eq(agora_call_result(agh_cli, id, &v), AGORA_EINVAL);
	AGH_OK(agh_cli, await_result(agh_cli, ping, NULL));
	ck_assert_int_eq(agora_call_result(agh_cli, 987654, &v), AGORA_EINVAL);
	ck_assert_int_eq(agora_cancel(agh_cli, 987654), AGORA_EINVAL);
	ck_assert_int_eq(agora_call_send(agh_cli, "ping", agora_int(1), &id),
			 AGORA_EINVAL);
	ck_assert_int_eq(
	    agora_call_send(agh_cli, NULL, agora_array(&p, 1), &id),
	    AGORA_EINVAL);
	ck_assert_int_eq(
	    agora_call_send(agh_cli, "ping", agora_array(&p, 1), NULL),
	    AGORA_EINVAL);
	ck_assert_int_eq(agora_client_process(NULL), AGORA_EINVAL);
	ck_assert_uint_eq(agora_call_pending(agh_cli), 0);
}
END_TEST

START_TEST(the_fd_is_the_connection_s_socket)
{
	agora_client *c = agora_client_new();
	uint32_t id = 0;
	agora_value p = agora_int(1);

	ck_assert_int_eq(agora_client_fd(NULL), -1);
	ck_assert_int_eq(agora_client_fd(c), -1);
	ck_assert(!agora_client_want_write(c));
	ck_assert_int_eq(agora_call_send(c, "ping", agora_array(&p, 1), &id),
			 AGORA_EINVAL);
	agora_client_free(c);
	ck_assert_int_ge(agora_client_fd(agh_cli), 0);
	/* Nothing arrived: processing takes nothing and does not block. */
	ck_assert_int_eq(agora_client_process(agh_cli), 0);
}
END_TEST

START_TEST(notifications_between_answers_are_queued_in_order)
{
	agora_client *c = relay_connect();
	uint32_t a, b, d;

	a = send_ping(c, PING_BEFORE + 2);
	b = send_ping(c, 5);
	d = send_ping(c, PING_AFTER + 1);
	AGH_OK(c, await_result(c, d, NULL));
	AGH_OK(c, await_result(c, b, NULL));
	AGH_OK(c, await_result(c, a, NULL));
	/* The one after d's answer may come with a later read. */
	for (int i = 0; i < 3; i++)
		expect_test_note(c, AGH_STATE_TIMEOUT, i);
	relay_done(c);
}
END_TEST

START_TEST(next_keeps_the_answers_it_reads_for_their_calls)
{
	agora_client *c = relay_connect();
	uint32_t a;

	/* agora_notification_next() reads the ping's answer on its way to
	 * the notification after it. */
	a = send_ping(c, PING_AFTER + 1);
	expect_test_note(c, AGH_STATE_TIMEOUT, 0);
	AGH_OK(c, agora_call_result(c, a, NULL));
	relay_done(c);
}
END_TEST

START_TEST(a_call_larger_than_the_socket_buffer_is_sent_piece_by_piece)
{
	size_t len = (size_t)8 << 20;
	char *big = malloc(len);
	agora_value p, v = { 0 };
	uint32_t id = 0;

	ck_assert_ptr_nonnull(big);
	for (size_t i = 0; i < len; i++)
		big[i] = (char)(i * 7);
	p = agora_bin(big, len);
	/* 8 MiB do not fit a Unix socket's buffer, and the server reads
	 * nothing for now: the rest waits for the loop, and the send did not
	 * block. */
	ck_assert_int_eq(kill(agh_srv.pid, SIGSTOP), 0);
	AGH_OK(agh_cli,
	       agora_call_send(agh_cli, "ping", agora_array(&p, 1), &id));
	ck_assert(agora_client_want_write(agh_cli));
	ck_assert_int_eq(kill(agh_srv.pid, SIGCONT), 0);
	AGH_OK(agh_cli, await_result(agh_cli, id, &v));
	ck_assert(!agora_client_want_write(agh_cli));
	ck_assert(agora_value_equal(v, p));
	agora_value_free(&v);
	/* A blocking call right after a partial send sends the rest first. */
	ck_assert_int_eq(kill(agh_srv.pid, SIGSTOP), 0);
	AGH_OK(agh_cli,
	       agora_call_send(agh_cli, "ping", agora_array(&p, 1), &id));
	ck_assert(agora_client_want_write(agh_cli));
	ck_assert_int_eq(kill(agh_srv.pid, SIGCONT), 0);
	AGH_OK(agh_cli, agora_ping(agh_cli));
	ck_assert(!agora_client_want_write(agh_cli));
	AGH_OK(agh_cli, await_result(agh_cli, id, &v));
	ck_assert(agora_value_equal(v, p));
	agora_value_free(&v);
	free(big);
}
END_TEST

START_TEST(a_call_whose_connection_ends_before_its_answer_is_lost)
{
	agora_client *c = relay_connect();
	agora_queue *q = NULL;
	agora_value v = { 0 };
	uint32_t get_id, cut;
	int rc;

	AGH_OK(c, agora_queue_open(c, "never", 0, &q));
	get_id = send_get(c, q);
	cut = send_ping(c, PING_CUT);
	/* The relay answers, cuts and closes the connection. */
	for (double end = agh_now() + AGH_STATE_TIMEOUT;;) {
		struct pollfd pfd = { .fd = agora_client_fd(c),
				      .events = POLLIN };

		ck_assert(agh_now() < end);
		poll(&pfd, 1, 100);
		rc = agora_client_process(c);
		if (rc < 0)
			break;
	}
	ck_assert_int_eq(rc, AGORA_EIO);
	AGH_OK(c, agora_call_result(c, cut, NULL));
	ck_assert_int_eq(agora_call_result(c, get_id, &v), AGORA_ELOST);
	ck_assert_int_eq(agora_call_send(c, "ping", agora_array(&v, 0), &cut),
			 AGORA_EIO);
	ck_assert_uint_eq(agora_notification_count(c), 1);
	agora_queue_close(q);
	relay_done(c);
}
END_TEST

START_TEST(cancel_withdraws_a_parked_call_which_takes_nothing)
{
	agora_queue *q = NULL;
	agora_value v = { 0 };
	uint32_t get_id;

	/* A server without "cancel" (it comes with push): nothing to test. */
	v = agora_int(123456);
	if (agora_call(agh_cli, "cancel", agora_array(&v, 1), &v) ==
	    AGORA_ENO_METHOD) {
		puts("this server has no cancel: skipped");
		return;
	}
	agora_value_free(&v);
	AGH_OK(agh_cli, agora_queue_open(agh_cli, "jobs", 0, &q));
	get_id = send_get(agh_cli, q);
	agh_wait_waiters(agh_cli, agora_queue_handle(q), 1);
	AGH_OK(agh_cli, agora_client_set_sticky(agh_cli, true));
	AGH_OK(agh_cli, agora_cancel(agh_cli, get_id));
	ck_assert_int_eq(await_result(agh_cli, get_id, &v), AGORA_ECANCELLED);
	/* What the program asked for: no failure, even in sticky mode. */
	ck_assert_int_eq(agora_client_error(agh_cli), 0);
	/* The withdrawn get took nothing: a put's item is still there. */
	AGH_OK(agh_cli, agora_queue_put(q, agora_int(5), AGORA_FOREVER));
	AGH_OK(agh_cli, agora_queue_get(q, 0, &v));
	agh_assert_int(v, 5);
	agora_value_free(&v);
	/* A call answered already: nothing to cancel, its answer stands. */
	get_id = send_ping(agh_cli, 9);
	AGH_OK(agh_cli, agora_ping(agh_cli));
	AGH_OK(agh_cli, agora_cancel(agh_cli, get_id));
	AGH_OK(agh_cli, await_result(agh_cli, get_id, &v));
	agh_assert_int(v, 9);
	agora_value_free(&v);
	AGH_OK(agh_cli, agora_ping(agh_cli));
	ck_assert_uint_eq(agora_call_pending(agh_cli), 0);
	agora_queue_close(q);
}
END_TEST

START_TEST(waiting_for_what_has_not_come_never_latches_in_sticky_mode)
{
	agora_notification *n = NULL;
	agora_queue *q = NULL;
	uint32_t id;

	AGH_OK(agh_cli, agora_client_set_sticky(agh_cli, true));
	AGH_OK(agh_cli, agora_queue_open(agh_cli, "idle", 0, &q));
	id = send_get(agh_cli, q);
	ck_assert_int_eq(agora_notification_next(agh_cli, 0.05, &n),
			 AGORA_ETIMEDOUT);
	ck_assert_int_eq(agora_call_result(agh_cli, id, NULL), AGORA_EAGAIN);
	ck_assert_int_eq(agora_client_error(agh_cli), 0);
	AGH_OK(agh_cli, agora_queue_put(q, agora_int(1), AGORA_FOREVER));
	AGH_OK(agh_cli, await_result(agh_cli, id, NULL));
	ck_assert_int_eq(agora_client_error(agh_cli), 0);
	agora_queue_close(q);
}
END_TEST

/* ---- against the server's watches ---------------------------------------- */

/* Watch @h on @c: the watch's number. */
static int64_t watch(agora_client *c, uint32_t h)
{
	agora_value p[2], res = { 0 };
	agora_pair none;
	int64_t w;

	p[0] = agora_uint(h);
	p[1] = agora_map(&none, 0);
	AGH_OK(c, agora_call(c, "watch", agora_array(p, 2), &res));
	w = agh_map_int(res, "watch");
	agora_value_free(&res);
	return w;
}

/* The next notification within AGH_STATE_TIMEOUT: a "watch" one of
 * watch @w with op @op; its version. */
static int64_t expect_change(agora_client *c, int64_t w, const char *op)
{
	agora_notification *n = NULL;
	int64_t v;

	AGH_OK(c, agora_notification_next(c, AGH_STATE_TIMEOUT, &n));
	ck_assert_str_eq(n->method, "watch");
	agh_assert_int(*agora_map_get(&n->params, "watch"), w);
	agh_assert_str(*agora_map_get(&n->params, "op"), op);
	v = agh_map_int(n->params, "version");
	agora_notification_free(n);
	return v;
}

START_TEST(a_watchers_own_calls_and_others_changes_all_come_in_order)
{
	agora_client *other = agh_connect(&agh_srv);
	agora_dict *mine = NULL, *theirs = NULL;
	agora_value v = { 0 };
	int64_t w, v1, v2, v3;

	AGH_OK(agh_cli, agora_dict_open(agh_cli, "cfg", &mine));
	AGH_OK(other, agora_dict_open(other, "cfg", &theirs));
	w = watch(agh_cli, agora_dict_handle(mine));
	/* Another client's change, then the watcher's own calls, whose
	 * answers may come with the notifications between them. */
	AGH_OK(other, agora_dict_set(theirs, agora_str("a"), agora_int(1)));
	AGH_OK(agh_cli, agora_dict_get(mine, agora_str("a"), &v));
	agora_value_free(&v);
	AGH_OK(agh_cli, agora_dict_set(mine, agora_str("b"), agora_int(2)));
	AGH_OK(other, agora_dict_delete(theirs, agora_str("a")));
	v1 = expect_change(agh_cli, w, "dict.set");
	v2 = expect_change(agh_cli, w, "dict.set");
	v3 = expect_change(agh_cli, w, "dict.delete");
	ck_assert_int_lt(v1, v2);
	ck_assert_int_lt(v2, v3);
	agora_dict_close(theirs);
	agora_client_free(other);
	agora_dict_close(mine);
}
END_TEST

START_TEST(a_watcher_that_stops_reading_gets_every_change_then_the_cut)
{
	enum { WRITES = 20000 };
	agora_client *watcher = agh_connect(&agh_srv);
	agora_dict *w_dict = NULL, *d = NULL;
	agora_notification *n = NULL;
	agora_value p[2];
	agora_pipeline *pl;
	int64_t w, last = -1, got = 0;
	int rc;

	AGH_OK(agh_cli, agora_dict_open(agh_cli, "busy", &d));
	AGH_OK(watcher, agora_dict_open(watcher, "busy", &w_dict));
	w = watch(watcher, agora_dict_handle(w_dict));
	/* The watcher reads nothing while the writes go on. */
	pl = agora_pipeline_new(agh_cli);
	for (int i = 0; i < WRITES; i++) {
		p[0] = agora_uint(agora_dict_handle(d));
		p[1] = agora_str("key-with-some-length");
		agora_value args[3] = { p[0], p[1], agora_int(i) };

		AGH_OK(agh_cli, agora_pipeline_call(pl, "dict.set",
						    agora_array(args, 3)));
	}
	while (agora_pipeline_pending(pl) > 0)
		AGH_OK(agh_cli, agora_pipeline_result(pl, NULL));
	agora_pipeline_free(pl);
	/* Every change before the cut, versions rising, then the cut, then
	 * the end. */
	for (;;) {
		rc = agora_notification_next(watcher, AGH_STATE_TIMEOUT, &n);
		ck_assert_msg(rc == 0, "after %" PRId64 " changes: %s", got,
			      agora_errmsg(watcher));
		if (strcmp(n->method, "cut") == 0)
			break;
		agh_assert_int(*agora_map_get(&n->params, "watch"), w);
		ck_assert_int_gt(agh_map_int(n->params, "version"), last);
		last = agh_map_int(n->params, "version");
		got++;
		agora_notification_free(n);
	}
	agh_assert_str(*agora_map_get(&n->params, "reason"), "--max-output");
	agora_notification_free(n);
	ck_assert_int_gt(got, 0);
	ck_assert_int_lt(got, WRITES);
	ck_assert_int_eq(
	    agora_notification_next(watcher, AGH_STATE_TIMEOUT, &n), AGORA_EIO);
	agora_dict_close(w_dict);
	agora_client_free(watcher);
	agora_dict_close(d);
}
END_TEST

START_TEST(sent_writes_and_the_changes_they_make_interleave_in_order)
{
	enum { N = 200 };
	agora_dict *d = NULL;
	agora_notification *n = NULL;
	uint32_t ids[N];
	int64_t w, last = -1;
	char key[16];

	AGH_OK(agh_cli, agora_dict_open(agh_cli, "mixed", &d));
	w = watch(agh_cli, agora_dict_handle(d));
	for (int i = 0; i < N; i++) {
		agora_value p[3];

		snprintf(key, sizeof(key), "k%d", i);
		p[0] = agora_uint(agora_dict_handle(d));
		p[1] = agora_str(key);
		p[2] = agora_int(i);
		AGH_OK(agh_cli, agora_call_send(agh_cli, "dict.set",
						agora_array(p, 3), &ids[i]));
	}
	/* The answers and the changes they made come mixed: each answer
	 * is its call's, each change in order. */
	for (int i = 0; i < N; i++)
		AGH_OK(agh_cli, await_result(agh_cli, ids[i], NULL));
	for (int i = 0; i < N; i++) {
		AGH_OK(agh_cli,
		       agora_notification_next(agh_cli, AGH_STATE_TIMEOUT, &n));
		agh_assert_int(*agora_map_get(&n->params, "watch"), w);
		snprintf(key, sizeof(key), "k%d", i);
		agh_assert_str(*agora_map_get(&n->params, "key"), key);
		ck_assert_int_gt(agh_map_int(n->params, "version"), last);
		last = agh_map_int(n->params, "version");
		agora_notification_free(n);
	}
	ck_assert_int_eq(agora_notification_next(agh_cli, 0, &n),
			 AGORA_ETIMEDOUT);
	agora_dict_close(d);
}
END_TEST

/* The fixture's server with a small --max-output. */
static void small_output_setup(void)
{
	static const char *const args[] = { "--max-output", "65536", NULL };

	agh_server_start_args(&agh_srv, args);
	agh_cli = agh_connect(&agh_srv);
}

int main(void)
{
	Suite *s = suite_create("push");

	AGH_ADD(s, notifications_that_arrive_during_a_call_are_queued_in_order);
	AGH_ADD(s, next_reads_the_socket_when_none_is_queued);
	AGH_ADD(s, a_notification_of_an_unknown_method_with_no_params_is_nil);
	AGH_ADD(s, a_full_queue_drops_the_oldest_and_counts_them);
	AGH_ADD(s, a_cut_is_taken_and_then_the_connection_is_gone);
	AGH_ADD(s, next_refuses_bad_arguments);
	AGH_ADD_BARE(s, map_get_finds_str_keys_only);
	AGH_ADD(s,
		many_calls_sent_before_any_result_is_read_are_matched_by_msgid);
	AGH_ADD(s, a_result_is_taken_once_and_errors_come_with_their_message);
	AGH_ADD(s, the_fd_is_the_connection_s_socket);
	AGH_ADD(s, notifications_between_answers_are_queued_in_order);
	AGH_ADD(s, next_keeps_the_answers_it_reads_for_their_calls);
	AGH_ADD(s, a_call_larger_than_the_socket_buffer_is_sent_piece_by_piece);
	AGH_ADD(s, a_call_whose_connection_ends_before_its_answer_is_lost);
	AGH_ADD(s, a_watchers_own_calls_and_others_changes_all_come_in_order);
	AGH_ADD(s, sent_writes_and_the_changes_they_make_interleave_in_order);
	{
		TCase *tc = agh_tcase_bare(
		    s,
		    "a_watcher_that_stops_reading_gets_every_change_then_the_"
		    "cut",
		    a_watcher_that_stops_reading_gets_every_change_then_the_cut);

		tcase_add_checked_fixture(tc, small_output_setup, agh_teardown);
	}
	AGH_ADD(s, cancel_withdraws_a_parked_call_which_takes_nothing);
	AGH_ADD(s, waiting_for_what_has_not_come_never_latches_in_sticky_mode);
	return agh_run_suite(s);
}
