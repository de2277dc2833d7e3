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
	return agh_run_suite(s);
}
