/*
 * test_errors.c - what goes wrong, and how the server and client say so:
 * wrong keys, unreachable addresses, garbage and unauthenticated requests on
 * raw sockets (each closing only its own connection), a server that stops
 * under a client, and the error codes of bad calls.
 *
 * Raw connections (agh_raw, harness.h) write MessagePack built with
 * msgpack-c's packer and read replies with msgpack_unpack_next().
 */
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* ---- raw connections (harness.h) ---- */

/*
 * The next message from the server into @out (destroy it after use; its
 * strings point into @r's buffer). Returns 1 for a message, 0 when the
 * server closed the connection; fails the test after AGH_RAW_TIMEOUT.
 */
static int raw_next(agh_raw *r, msgpack_unpacked *out)
{
	int got = agh_raw_read(r, out, AGH_RAW_TIMEOUT);

	ck_assert_msg(got >= 0,
		      "no message and no close from the server within %.0f s",
		      AGH_RAW_TIMEOUT);
	return got;
}

/* Require @o to be an error response [1, msgid, [code, name, msg], nil]
 * (msgid checked unless negative). */
static void assert_error_response(msgpack_object o, int64_t msgid, int code,
				  const char *name)
{
	ck_assert_int_eq(o.type, MSGPACK_OBJECT_ARRAY);
	ck_assert_uint_eq(o.via.array.size, 4);
	msgpack_object *f = o.via.array.ptr;
	ck_assert_int_eq(f[0].type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	ck_assert_uint_eq(f[0].via.u64, 1);
	if (msgid >= 0) {
		ck_assert_int_eq(f[1].type, MSGPACK_OBJECT_POSITIVE_INTEGER);
		ck_assert_uint_eq(f[1].via.u64, (uint64_t)msgid);
	}
	ck_assert_msg(f[2].type == MSGPACK_OBJECT_ARRAY &&
			  f[2].via.array.size == 3,
		      "the error is not [code, name, message]");
	msgpack_object *e = f[2].via.array.ptr;
	ck_assert_int_eq(e[0].type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	ck_assert_int_eq((int)e[0].via.u64, code);
	ck_assert_int_eq(e[1].type, MSGPACK_OBJECT_STR);
	ck_assert_uint_eq(e[1].via.str.size, strlen(name));
	ck_assert(memcmp(e[1].via.str.ptr, name, strlen(name)) == 0);
	ck_assert_int_eq(e[2].type, MSGPACK_OBJECT_STR);
	ck_assert_uint_gt(e[2].via.str.size, 0);
	ck_assert_int_eq(f[3].type, MSGPACK_OBJECT_NIL);
}

/* Read until the server closes; every message before must be an error
 * response. */
static void expect_error_then_close(agh_raw *r)
{
	msgpack_unpacked m;
	int got;

	msgpack_unpacked_init(&m);
	while ((got = raw_next(r, &m)) == 1) {
		msgpack_object o = m.data;
		ck_assert_msg(
		    o.type == MSGPACK_OBJECT_ARRAY && o.via.array.size == 4 &&
			o.via.array.ptr[2].type == MSGPACK_OBJECT_ARRAY,
		    "the server answered garbage with a non-error");
	}
	msgpack_unpacked_destroy(&m);
}

/* The shared list "keep" = [1, 2, 3], and a check that it is still so. */
static agora_list *make_keep(agora_client *c)
{
	agora_list *l;
	agora_value items[3] = { agora_int(1), agora_int(2), agora_int(3) };

	AGH_OK(c, agora_list_open(c, "keep", &l));
	AGH_OK(c, agora_list_extend(l, items, 3));
	return l;
}

static void check_keep(agora_client *c, agora_list *l)
{
	agora_value v;

	AGH_OK(c, agora_ping(c));
	AGH_OK(c, agora_list_copy(l, &v));
	agh_assert_ints(v, (const int64_t[]){ 1, 2, 3 }, 3);
	agora_value_free(&v);

	/* A new client still gets in and sees the same list. */
	agora_client *c2 = agh_connect(&agh_srv);
	agora_list *l2;
	size_t n = 0;
	AGH_OK(c2, agora_list_open(c2, "keep", &l2));
	AGH_OK(c2, agora_list_len(l2, &n));
	ck_assert_uint_eq(n, 3);
	agora_list_close(l2);
	agora_client_free(c2);
}

/* ---- tests ---- */

START_TEST(wrong_key_is_refused_with_auth_and_a_clear_message)
{
	agora_client *bad = agora_client_new();
	unsigned char key[AGH_KEYLEN];

	ck_assert_ptr_nonnull(bad);
	memcpy(key, agh_srv.key, sizeof(key));
	key[0] ^= 0x5a;
	int rc = agora_client_connect(bad, agh_srv.address, key, sizeof(key));
	ck_assert_msg(rc == AGORA_EAUTH, "connect with a wrong key gave %s",
		      agora_errname(rc));
	const char *msg = agora_errmsg(bad);
	ck_assert_msg(strcasestr(msg, "key") != NULL,
		      "the message should say the key is wrong: \"%s\"", msg);
	ck_assert_int_ne(agora_ping(bad), 0);
	agora_client_free(bad);
	/* The server is unharmed. */
	AGH_OK(agh_cli, agora_ping(agh_cli));
	agh_wait_stats(agh_cli, "connections", 1);
}
END_TEST

START_TEST(unreachable_address_is_io_error_naming_it)
{
	agora_client *c = agora_client_new();
	char addr[200];

	ck_assert_ptr_nonnull(c);
	snprintf(addr, sizeof(addr), "unix:%s/nobody-here.sock", agh_srv.dir);
	int rc = agora_client_connect(c, addr, agh_srv.key, AGH_KEYLEN);
	ck_assert_msg(rc == AGORA_EIO, "connect %s gave %s", addr,
		      agora_errname(rc));
	ck_assert_msg(strstr(agora_errmsg(c), "nobody-here.sock") != NULL,
		      "the message should name the address: \"%s\"",
		      agora_errmsg(c));
	agora_client_free(c);

	c = agora_client_new();
	ck_assert_ptr_nonnull(c);
	rc =
	    agora_client_connect(c, "tcp:127.0.0.1:1", agh_srv.key, AGH_KEYLEN);
	ck_assert_msg(rc == AGORA_EIO, "connect tcp:127.0.0.1:1 gave %s",
		      agora_errname(rc));
	ck_assert_msg(strstr(agora_errmsg(c), "127.0.0.1") != NULL,
		      "the message should name the address: \"%s\"",
		      agora_errmsg(c));
	agora_client_free(c);
}
END_TEST

START_TEST(bytes_that_are_not_messagepack_close_only_that_connection)
{
	agora_list *l = make_keep(agh_cli);
	agh_raw *r = agh_raw_connect(&agh_srv);
	unsigned char junk[64];

	memset(junk, 0xc1, sizeof(junk));
	agh_raw_send(r, junk, sizeof(junk));
	expect_error_then_close(r);
	agh_raw_free(r);
	check_keep(agh_cli, l);
	agora_list_close(l);
}
END_TEST

START_TEST(huge_declared_array_closes_only_that_connection)
{
	agora_list *l = make_keep(agh_cli);
	const unsigned char top[] = { 0xdd, 0xff, 0xff, 0xff, 0xff };
	agh_raw *r = agh_raw_connect(&agh_srv);

	/* A bare array32 header declaring 4 billion elements. */
	agh_raw_send(r, top, sizeof(top));
	expect_error_then_close(r);
	agh_raw_free(r);

	/* The same inside a request's params, and a huge str32 claim. */
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint32(&pk, 0);
	msgpack_pack_uint32(&pk, 5);
	msgpack_pack_str_with_body(&pk, "ping", 4);
	r = agh_raw_connect(&agh_srv);
	agh_raw_send_sbuf(r, &sb);
	agh_raw_send(r, top, sizeof(top));
	expect_error_then_close(r);
	agh_raw_free(r);

	const unsigned char str32[] = { 0xdb, 0x7f, 0xff, 0xff, 0xff, 'a' };
	r = agh_raw_connect(&agh_srv);
	agh_raw_send(r, str32, sizeof(str32));
	expect_error_then_close(r);
	agh_raw_free(r);

	/* After authentication too (a larger frame limit, same refusal). */
	r = agh_raw_connect(&agh_srv);
	agh_raw_handshake(r, &agh_srv);
	agh_raw_send(r, top, sizeof(top));
	expect_error_then_close(r);
	agh_raw_free(r);

	check_keep(agh_cli, l);
	agora_list_close(l);
}
END_TEST

START_TEST(nesting_deeper_than_32_closes_only_that_connection)
{
	agora_list *l = make_keep(agh_cli);
	agh_raw *r = agh_raw_connect(&agh_srv);
	unsigned char deep[40];

	agh_raw_handshake(r, &agh_srv);
	/* [0, 1, "ping", [[[[...]]]]]: 1 + 1 + 39 levels. */
	deep[0] = 0x94;
	deep[1] = 0x00;
	deep[2] = 0x01;
	ck_assert_int_eq(agh_raw_send(r, deep, 3), 0);
	ck_assert_int_eq(agh_raw_send(r, "\xa4ping", 5), 0);
	memset(deep, 0x91, sizeof(deep));
	deep[sizeof(deep) - 1] = 0x90;
	agh_raw_send(r, deep, sizeof(deep));
	expect_error_then_close(r);
	agh_raw_free(r);
	check_keep(agh_cli, l);
	agora_list_close(l);
}
END_TEST

START_TEST(request_before_authentication_gets_auth_error_then_close)
{
	agora_list *l = make_keep(agh_cli);
	agh_raw *r = agh_raw_connect(&agh_srv);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked m;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	agh_pack_head(&pk, 7, "ping", 1);
	msgpack_pack_int(&pk, 1);
	agh_raw_send_sbuf(r, &sb);

	msgpack_unpacked_init(&m);
	ck_assert_msg(raw_next(r, &m) == 1,
		      "the server closed without answering AUTH");
	assert_error_response(m.data, 7, 2, "AUTH");
	msgpack_unpacked_destroy(&m);
	msgpack_unpacked_init(&m);
	ck_assert_msg(raw_next(r, &m) == 0,
		      "the server kept the connection open after AUTH");
	msgpack_unpacked_destroy(&m);
	agh_raw_free(r);

	/* Opening an object is refused the same way. */
	r = agh_raw_connect(&agh_srv);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	agh_pack_head(&pk, 8, "open", 3);
	msgpack_pack_str_with_body(&pk, "list", 4);
	msgpack_pack_str_with_body(&pk, "keep", 4);
	msgpack_pack_map(&pk, 0);
	agh_raw_send_sbuf(r, &sb);
	msgpack_unpacked_init(&m);
	ck_assert_int_eq(raw_next(r, &m), 1);
	assert_error_response(m.data, 8, 2, "AUTH");
	msgpack_unpacked_destroy(&m);
	agh_raw_free(r);

	check_keep(agh_cli, l);
	agora_list_close(l);
}
END_TEST

START_TEST(hello_with_an_unknown_version_gets_version_error)
{
	agh_raw *r = agh_raw_connect(&agh_srv);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked m;
	unsigned char nonce[32] = { 1 };

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	agh_pack_head(&pk, 3, "hello", 2);
	msgpack_pack_int(&pk, 99);
	msgpack_pack_bin_with_body(&pk, nonce, sizeof(nonce));
	agh_raw_send_sbuf(r, &sb);
	msgpack_unpacked_init(&m);
	ck_assert_int_eq(raw_next(r, &m), 1);
	assert_error_response(m.data, 3, 3, "VERSION");
	msgpack_unpacked_destroy(&m);
	agh_raw_free(r);
	AGH_OK(agh_cli, agora_ping(agh_cli));
}
END_TEST

START_TEST(garbage_after_authentication_closes_only_that_connection)
{
	agora_list *l = make_keep(agh_cli);
	agh_raw *r = agh_raw_connect(&agh_srv);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked m;

	agh_raw_handshake(r, &agh_srv);
	/* An authenticated ping works... */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	agh_pack_head(&pk, 10, "ping", 1);
	msgpack_pack_int(&pk, 42);
	agh_raw_send_sbuf(r, &sb);
	msgpack_unpacked_init(&m);
	ck_assert_int_eq(raw_next(r, &m), 1);
	ck_assert_uint_eq(agh_ok_result(m.data, 10).via.u64, 42);
	msgpack_unpacked_destroy(&m);
	/* ...then a request that is not [0, msgid, method, params]. */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_str_with_body(&pk, "ping", 4);
	msgpack_pack_array(&pk, 0);
	agh_raw_send_sbuf(r, &sb);
	expect_error_then_close(r);
	agh_raw_free(r);
	check_keep(agh_cli, l);
	agora_list_close(l);
}
END_TEST

START_TEST(ping_is_answered_while_a_get_is_parked_on_the_same_connection)
{
	agora_queue *q;
	agh_raw *r = agh_raw_connect(&agh_srv);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked m;

	AGH_OK(agh_cli, agora_queue_open(agh_cli, "pipe", 0, &q));
	agh_raw_handshake(r, &agh_srv);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	agh_pack_head(&pk, 20, "open", 3);
	msgpack_pack_str_with_body(&pk, "queue", 5);
	msgpack_pack_str_with_body(&pk, "pipe", 4);
	msgpack_pack_map(&pk, 0);
	agh_raw_send_sbuf(r, &sb);
	msgpack_unpacked_init(&m);
	ck_assert_int_eq(raw_next(r, &m), 1);
	uint64_t h = agh_ok_result(m.data, 20).via.u64;
	msgpack_unpacked_destroy(&m);

	/* queue.get(h) parks; ping right behind it is answered first. */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	agh_pack_head(&pk, 21, "queue.get", 1);
	msgpack_pack_uint64(&pk, h);
	agh_pack_head(&pk, 22, "ping", 1);
	msgpack_pack_str_with_body(&pk, "hi", 2);
	agh_raw_send_sbuf(r, &sb);
	msgpack_unpacked_init(&m);
	ck_assert_int_eq(raw_next(r, &m), 1);
	msgpack_object pong = agh_ok_result(m.data, 22);
	ck_assert(pong.type == MSGPACK_OBJECT_STR && pong.via.str.size == 2 &&
		  memcmp(pong.via.str.ptr, "hi", 2) == 0);
	msgpack_unpacked_destroy(&m);

	agh_wait_waiters(agh_cli, agora_queue_handle(q), 1);
	AGH_OK(agh_cli, agora_queue_put(q, agora_int(5), AGORA_FOREVER));
	msgpack_unpacked_init(&m);
	ck_assert_int_eq(raw_next(r, &m), 1);
	ck_assert_uint_eq(agh_ok_result(m.data, 21).via.u64, 5);
	msgpack_unpacked_destroy(&m);
	agh_raw_free(r);
	agora_queue_close(q);
}
END_TEST

START_TEST(client_call_after_server_stop_fails_instead_of_hanging)
{
	agora_list *l;

	AGH_OK(agh_cli, agora_list_open(agh_cli, "x", &l));
	agh_server_stop(&agh_srv);
	int rc = agora_list_append(l, agora_int(1));
	ck_assert_msg(rc < 0, "append after the server stopped returned %d",
		      rc);
	ck_assert_int_lt(agora_ping(agh_cli), 0);
	ck_assert_str_ne(agora_errmsg(agh_cli), "");
	agora_list_close(l);
}
END_TEST

/* Park in get; the server stopping must answer SHUTDOWN. */
static int get_until_shutdown(agora_client *c, int idx, void *arg)
{
	agora_queue *q = NULL;
	agora_value v;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_queue_open(c, "stopping", 0, &q));
	int rc = agora_queue_get(q, AGORA_FOREVER, &v);
	if (rc == 0)
		agora_value_free(&v);
	if (rc != AGORA_ESHUTDOWN)
		fprintf(stderr,
			"parked get returned %s (%s), expected "
			"SHUTDOWN\n",
			agora_errname(rc), agora_errmsg(c));
	agora_queue_close(q);
	return rc == AGORA_ESHUTDOWN ? 0 : 1;
}

START_TEST(server_stop_answers_a_parked_get_with_shutdown)
{
	agora_queue *q;

	AGH_OK(agh_cli, agora_queue_open(agh_cli, "stopping", 0, &q));
	pid_t pid = agh_spawn(get_until_shutdown, 0, NULL);
	agh_wait_waiters(agh_cli, agora_queue_handle(q), 1);
	agh_server_stop(&agh_srv);
	agh_wait_ok(pid);
	agora_queue_close(q);
}
END_TEST

START_TEST(unknown_method_is_no_method)
{
	agora_client *c = agh_cli;
	agora_list *l;
	agora_queue *q;
	agora_value v;

	AGH_OK(c, agora_list_open(c, NULL, &l));
	AGH_OK(c, agora_queue_open(c, NULL, 0, &q));
	agora_value p1[1] = { agora_int(agora_list_handle(l)) };
	AGH_CALL_EQ(c, agora_call(c, "list.frobnicate", agora_array(p1, 1), &v),
		    AGORA_ENO_METHOD);
	ck_assert_str_ne(agora_errmsg(c), "");
	AGH_CALL_EQ(c, agora_call(c, "frobnicate", agora_array(NULL, 0), &v),
		    AGORA_ENO_METHOD);
	agora_value p2[1] = { agora_int(agora_queue_handle(q)) };
	AGH_CALL_EQ(c, agora_call(c, "queue.task_done", agora_array(p2, 1), &v),
		    AGORA_ENO_METHOD);
	AGH_OK(c, agora_ping(c));
	agora_queue_close(q);
	agora_list_close(l);
}
END_TEST

START_TEST(list_method_on_a_dict_handle_is_type_error)
{
	agora_client *c = agh_cli;
	agora_dict *d;
	agora_value v;
	size_t n = 9;

	AGH_OK(c, agora_dict_open(c, NULL, &d));
	agora_value p[2] = { agora_int(agora_dict_handle(d)), agora_int(1) };
	AGH_CALL_EQ(c, agora_call(c, "list.append", agora_array(p, 2), &v),
		    AGORA_ETYPE);
	ck_assert_str_ne(agora_errmsg(c), "");
	AGH_CALL_EQ(c, agora_call(c, "queue.qsize", agora_array(p, 1), &v),
		    AGORA_ETYPE);
	AGH_OK(c, agora_dict_len(d, &n));
	ck_assert_uint_eq(n, 0);
	agora_dict_close(d);
}
END_TEST

START_TEST(bad_argument_types_are_args_error)
{
	agora_client *c = agh_cli;
	agora_list *l;
	agora_queue *q;
	agora_value v;

	AGH_OK(c, agora_list_open(c, NULL, &l));
	agora_value h = agora_int(agora_list_handle(l));
	AGH_OK(c, agora_list_append(l, agora_int(1)));

	agora_value p1[2] = { h, agora_str("0") };
	AGH_CALL_EQ(c, agora_call(c, "list.get", agora_array(p1, 2), &v),
		    AGORA_EARGS);
	ck_assert_str_ne(agora_errmsg(c), "");
	/* Too few params. */
	AGH_CALL_EQ(c, agora_call(c, "list.get", agora_array(&h, 1), &v),
		    AGORA_EARGS);
	/* Too many. */
	agora_value p3[4] = { h, agora_int(0), agora_int(1), agora_int(2) };
	AGH_CALL_EQ(c, agora_call(c, "list.get", agora_array(p3, 4), &v),
		    AGORA_EARGS);
	/* A handle that is not an integer. */
	agora_value p4[1] = { agora_str("handle") };
	AGH_CALL_EQ(c, agora_call(c, "list.len", agora_array(p4, 1), &v),
		    AGORA_EARGS);
	/* An unknown type and an unknown option in open. */
	agora_value p5[3] = { agora_str("frob"), agora_nil(),
			      agora_map(NULL, 0) };
	AGH_CALL_EQ(c, agora_call(c, "open", agora_array(p5, 3), &v),
		    AGORA_EARGS);
	agora_pair opt = { agora_str("bogus"), agora_int(1) };
	agora_value p6[3] = { agora_str("queue"), agora_nil(),
			      agora_map(&opt, 1) };
	AGH_CALL_EQ(c, agora_call(c, "open", agora_array(p6, 3), &v),
		    AGORA_EARGS);
	/* An unknown handle is NO_OBJECT. */
	agora_value p7[1] = { agora_int(9999) };
	AGH_CALL_EQ(c, agora_call(c, "list.len", agora_array(p7, 1), &v),
		    AGORA_ENO_OBJECT);
	/* A negative timeout is VALUE. */
	AGH_OK(c, agora_queue_open(c, NULL, 0, &q));
	agora_value p8[3] = { agora_int(agora_queue_handle(q)),
			      agora_bool(true), agora_float(-1.0) };
	AGH_CALL_EQ(c, agora_call(c, "queue.get", agora_array(p8, 3), &v),
		    AGORA_EVALUE);

	/* The connection is fine after all of that. */
	AGH_OK(c, agora_ping(c));
	int64_t x = 0;
	AGH_OK(c, agora_list_get_int(l, 0, &x));
	ck_assert_int_eq(x, 1);
	agora_queue_close(q);
	agora_list_close(l);
}
END_TEST

START_TEST(inherited_client_refuses_calls_in_a_forked_child)
{
	agora_list *l = make_keep(agh_cli);
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* The parent's client and proxy: refused, nothing sent. */
		int rc = agora_list_append(l, agora_int(4));
		bool said = strstr(agora_errmsg(agh_cli), "fork") != NULL;
		_exit(rc == AGORA_EINVAL && said ? 0 : 1);
	}
	agh_wait_ok(pid);
	/* The parent's connection was not disturbed. */
	check_keep(agh_cli, l);
	agora_list_close(l);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("errors");

	AGH_ADD(s, inherited_client_refuses_calls_in_a_forked_child);

	AGH_ADD(s, wrong_key_is_refused_with_auth_and_a_clear_message);
	AGH_ADD(s, unreachable_address_is_io_error_naming_it);
	AGH_ADD(s, bytes_that_are_not_messagepack_close_only_that_connection);
	AGH_ADD(s, huge_declared_array_closes_only_that_connection);
	AGH_ADD(s, nesting_deeper_than_32_closes_only_that_connection);
	AGH_ADD(s, request_before_authentication_gets_auth_error_then_close);
	AGH_ADD(s, hello_with_an_unknown_version_gets_version_error);
	AGH_ADD(s, garbage_after_authentication_closes_only_that_connection);
	AGH_ADD(s,
		ping_is_answered_while_a_get_is_parked_on_the_same_connection);
	AGH_ADD(s, client_call_after_server_stop_fails_instead_of_hanging);
	AGH_ADD(s, server_stop_answers_a_parked_get_with_shutdown);
	AGH_ADD(s, unknown_method_is_no_method);
	AGH_ADD(s, list_method_on_a_dict_handle_is_type_error);
	AGH_ADD(s, bad_argument_types_are_args_error);
	return agh_run_suite(s);
}
