/*
 * test_clients.c - the operators' server methods: clients, which shows
 * every connection with its peer, handles, parked calls and holds, and
 * kill, which ends one with the effects of a lost connection (protocol
 * section 7): its lock goes to the next waiter and its own client's next
 * call fails.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* Long enough never to expire in a passing run, valgrind included. */
#define GENEROUS 60.0

/* ---- reading clients ------------------------------------------------------
 */

static bool is_true(const agora_value *v)
{
	return v != NULL && v->type == AGORA_BOOL && v->via.b;
}

static int64_t field_int(const agora_value *m, const char *key)
{
	return agh_map_int(*m, key);
}

static bool str_is(const agora_value *v, const char *s)
{
	return v != NULL && v->type == AGORA_STR &&
	       v->via.str.len == strlen(s) &&
	       memcmp(v->via.str.ptr, s, v->via.str.len) == 0;
}

/* The entry of clients' answer @cl whose int @key is @want, or NULL. */
static const agora_value *entry_where(const agora_value *cl, const char *key,
				      int64_t want)
{
	int64_t n;

	ck_assert_int_eq(cl->type, AGORA_ARRAY);
	for (size_t i = 0; i < cl->via.array.len; i++) {
		const agora_value *e = &cl->via.array.items[i];
		const agora_value *v = agh_map_find(*e, key);
		if (v != NULL && agora_value_to_int(*v, &n) == 0 && n == want)
			return e;
	}
	return NULL;
}

/* The entry of the connection that asked. */
static const agora_value *self_entry(const agora_value *cl)
{
	ck_assert_int_eq(cl->type, AGORA_ARRAY);
	for (size_t i = 0; i < cl->via.array.len; i++)
		if (is_true(agh_map_find(cl->via.array.items[i], "self")))
			return &cl->via.array.items[i];
	return NULL;
}

/* The id of @c's own connection, from its clients. */
static uint64_t own_id(agora_client *c)
{
	agora_value cl;

	AGH_OK(c, agora_clients(c, &cl));
	const agora_value *me = self_entry(&cl);
	ck_assert_ptr_nonnull(me);
	int64_t id = field_int(me, "id");
	agora_value_free(&cl);
	return (uint64_t)id;
}

/* The hold of entry @e on the object named @name, or NULL. */
static const agora_value *hold_named(const agora_value *e, const char *name)
{
	const agora_value *holds = agh_map_find(*e, "holds");

	ck_assert_ptr_nonnull(holds);
	ck_assert_int_eq(holds->type, AGORA_ARRAY);
	for (size_t i = 0; i < holds->via.array.len; i++) {
		const agora_value *h = &holds->via.array.items[i];
		if (str_is(agh_map_find(*h, "name"), name))
			return h;
	}
	return NULL;
}

/* ---- what a holder shows ------------------------------------------------- */

/* Take the lock "printer", two permits of the owned semaphore "pool" and
 * the rlock "deep" three times, then park on the queue "go" until the test
 * puts something there. */
static int hold_and_park(agora_client *c, int idx, void *arg)
{
	agora_lock *l = NULL;
	agora_semaphore *s = NULL;
	agora_rlock *r = NULL;
	agora_queue *q = NULL;
	agora_value v;
	bool got = false;

	AGH_WCALL(c, agora_lock_open(c, "printer", &l));
	AGH_WCALL(c, agora_lock_acquire(l, GENEROUS, &got));
	AGH_WCHECK(got);
	AGH_WCALL(c, agora_semaphore_open(c, "pool", 3, true, &s));
	AGH_WCALL(c, agora_semaphore_acquire(s, GENEROUS, &got));
	AGH_WCHECK(got);
	AGH_WCALL(c, agora_semaphore_acquire(s, GENEROUS, &got));
	AGH_WCHECK(got);
	AGH_WCALL(c, agora_rlock_open(c, "deep", &r));
	for (int i = 0; i < 3; i++) {
		AGH_WCALL(c, agora_rlock_acquire(r, GENEROUS, &got));
		AGH_WCHECK(got);
	}
	AGH_WCALL(c, agora_queue_open(c, "go", 0, &q));
	AGH_WCALL(c, agora_queue_get(q, GENEROUS, &v));
	agora_value_free(&v);
	agora_queue_close(q);
	agora_semaphore_close(s);
	agora_rlock_close(r);
	agora_lock_close(l);
	return 0;
}

struct parked_wait {
	agora_client *c;
	pid_t pid;
};

/* The connection of process @pid shows one parked call. */
static bool pid_parked(void *ud)
{
	struct parked_wait *w = ud;
	agora_value cl;
	bool yes;

	AGH_OK(w->c, agora_clients(w->c, &cl));
	const agora_value *e = entry_where(&cl, "pid", w->pid);
	yes = e != NULL && field_int(e, "parked") == 1;
	agora_value_free(&cl);
	return yes;
}

START_TEST(
    clients_shows_a_holders_peer_locks_rlock_depth_permits_and_parked_call)
{
	agora_queue *go = NULL;
	agora_value cl;

	AGH_OK(agh_cli, agora_queue_open(agh_cli, "go", 0, &go));
	pid_t pid = agh_spawn(hold_and_park, 0, NULL);
	struct parked_wait w = { agh_cli, pid };
	agh_wait_until(pid_parked, &w, "the holder's parked get");

	AGH_OK(agh_cli, agora_clients(agh_cli, &cl));
	const agora_value *e = entry_where(&cl, "pid", pid);
	ck_assert_ptr_nonnull(e);
	ck_assert(is_true(agh_map_find(*e, "authenticated")));
	ck_assert(!is_true(agh_map_find(*e, "self")));
	ck_assert(str_is(agh_map_find(*e, "transport"), "unix"));
	ck_assert_int_eq(field_int(e, "uid"), (int64_t)getuid());
	char peer[64];
	snprintf(peer, sizeof(peer), "pid %d uid %d", (int)pid, (int)getuid());
	ck_assert(str_is(agh_map_find(*e, "peer"), peer));
	ck_assert_int_eq(field_int(e, "handles"), 4);
	ck_assert_int_eq(field_int(e, "parked"), 1);
	/* Parked since its get: it has sent nothing since. */
	const agora_value *idle = agh_map_find(*e, "idle");
	ck_assert_ptr_nonnull(idle);
	ck_assert_int_eq(idle->type, AGORA_FLOAT);
	ck_assert(idle->via.f >= 0);
	const agora_value *since = agh_map_find(*e, "since");
	ck_assert_ptr_nonnull(since);
	ck_assert_int_eq(since->type, AGORA_FLOAT);
	ck_assert(since->via.f > 1.0e9 &&
		  since->via.f <= (double)time(NULL) + 1);

	const agora_value *holds = agh_map_find(*e, "holds");
	ck_assert_uint_eq(holds->via.array.len, 3);
	const agora_value *lk = hold_named(e, "printer");
	ck_assert_ptr_nonnull(lk);
	ck_assert(str_is(agh_map_find(*lk, "type"), "lock"));
	ck_assert_int_eq(field_int(lk, "count"), 1);
	ck_assert_int_gt(field_int(lk, "id"), 0);
	const agora_value *sem = hold_named(e, "pool");
	ck_assert_ptr_nonnull(sem);
	ck_assert(str_is(agh_map_find(*sem, "type"), "semaphore"));
	ck_assert_int_eq(field_int(sem, "count"), 2);
	const agora_value *rl = hold_named(e, "deep");
	ck_assert_ptr_nonnull(rl);
	ck_assert(str_is(agh_map_find(*rl, "type"), "rlock"));
	ck_assert_int_eq(field_int(rl, "count"), 3);

	/* The asking connection: itself, one handle, nothing held. */
	const agora_value *me = self_entry(&cl);
	ck_assert_ptr_nonnull(me);
	ck_assert_int_eq(field_int(me, "pid"), (int64_t)getpid());
	ck_assert_int_eq(field_int(me, "handles"), 1);
	ck_assert_int_eq(field_int(me, "parked"), 0);
	ck_assert_uint_eq(agh_map_find(*me, "holds")->via.array.len, 0);
	agora_value_free(&cl);

	AGH_OK(agh_cli, agora_queue_put(go, agora_int(1), GENEROUS));
	agh_wait_ok(pid);
	agora_queue_close(go);
}
END_TEST

/* The server lists @ud's number of connections. */
static bool listed(void *ud)
{
	size_t *want = ud;
	agora_value cl;

	AGH_OK(agh_cli, agora_clients(agh_cli, &cl));
	bool yes = cl.via.array.len == *want;
	agora_value_free(&cl);
	return yes;
}

START_TEST(a_connection_in_the_handshake_is_listed_as_not_authenticated)
{
	agh_raw *r = agh_raw_connect(&agh_srv);
	agora_value cl;
	size_t two = 2;

	/* connect(2) returns before the server has accepted it. */
	agh_wait_until(listed, &two, "the raw connection in clients");
	AGH_OK(agh_cli, agora_clients(agh_cli, &cl));
	ck_assert_uint_eq(cl.via.array.len, 2);
	const agora_value *other = &cl.via.array.items[0];
	if (is_true(agh_map_find(*other, "self")))
		other = &cl.via.array.items[1];
	ck_assert(!is_true(agh_map_find(*other, "authenticated")));
	ck_assert_int_eq(field_int(other, "pid"), (int64_t)getpid());
	agora_value_free(&cl);

	agh_raw_handshake(r, &agh_srv);
	AGH_OK(agh_cli, agora_clients(agh_cli, &cl));
	for (size_t i = 0; i < cl.via.array.len; i++)
		ck_assert(is_true(
		    agh_map_find(cl.via.array.items[i], "authenticated")));
	agora_value_free(&cl);
	agh_raw_free(r);
}
END_TEST

/* ---- kill ---------------------------------------------------------------- */

/* Wait for the lock "printer" (exit 0 when it came) and release it. */
static int wait_for_printer(agora_client *c, int idx, void *arg)
{
	agora_lock *l = NULL;
	bool got = false;

	AGH_WCALL(c, agora_lock_open(c, "printer", &l));
	AGH_WCALL(c, agora_lock_acquire(l, GENEROUS, &got));
	AGH_WCHECK(got);
	AGH_WCALL(c, agora_lock_release(l));
	agora_lock_close(l);
	return 0;
}

START_TEST(kill_of_a_tcp_holder_passes_its_lock_to_the_waiter)
{
	static const char *const args[] = { "--listen", "tcp:127.0.0.1:0",
					    NULL };
	agh_server srv;
	agora_lock *held = NULL, *mine = NULL;
	agora_value cl;
	bool got = false, killed = false;

	agh_server_start_args(&srv, args);
	ck_assert_msg(strncmp(srv.tcp_address, "tcp:127.0.0.1:", 14) == 0,
		      "no TCP listening line: \"%s\"", srv.tcp_address);
	const char *server_port = srv.tcp_address + 14;

	agora_client *tcp = agora_client_new();
	ck_assert_ptr_nonnull(tcp);
	AGH_OK(tcp,
	       agora_client_connect(tcp, srv.tcp_address, srv.key, AGH_KEYLEN));
	AGH_OK(tcp, agora_lock_open(tcp, "printer", &held));
	AGH_OK(tcp, agora_lock_acquire(held, GENEROUS, &got));
	ck_assert(got);

	/* Seen from itself and from a Unix client: host:port over TCP. */
	uint64_t id = own_id(tcp);
	agora_client *op = agh_connect(&srv);
	AGH_OK(op, agora_clients(op, &cl));
	const agora_value *e = entry_where(&cl, "id", (int64_t)id);
	ck_assert_ptr_nonnull(e);
	ck_assert(str_is(agh_map_find(*e, "transport"), "tcp"));
	const agora_value *peer = agh_map_find(*e, "peer");
	ck_assert_int_eq(peer->type, AGORA_STR);
	char text[80];
	snprintf(text, sizeof(text), "%.*s", (int)peer->via.str.len,
		 peer->via.str.ptr);
	ck_assert_msg(
	    strncmp(text, "127.0.0.1:", 10) == 0 && atoi(text + 10) > 0 &&
		strcmp(text + 10, server_port) != 0,
	    "a TCP peer should be 127.0.0.1:ITS_PORT, got \"%s\"", text);
	ck_assert_int_eq(agh_map_find(*e, "pid")->type, AGORA_NIL);
	ck_assert_int_eq(agh_map_find(*e, "uid")->type, AGORA_NIL);
	const agora_value *lk = hold_named(e, "printer");
	ck_assert_ptr_nonnull(lk);
	ck_assert(str_is(agh_map_find(*lk, "type"), "lock"));
	agora_value_free(&cl);

	/* A Unix waiter parks on the lock; kill the holder. */
	AGH_OK(op, agora_lock_open(op, "printer", &mine));
	pid_t waiter = agh_spawn(wait_for_printer, 0, NULL);
	agh_wait_waiters(op, agora_lock_handle(mine), 1);
	AGH_OK(op, agora_kill(op, id, &killed));
	ck_assert(killed);
	agh_wait_ok(waiter);
	ck_assert_int_eq(agh_info_int(op, agora_lock_handle(mine), "abandoned"),
			 1);

	/* The killed client finds its connection gone. */
	bool locked = false;
	int rc = agora_lock_locked(held, &locked);
	ck_assert_msg(rc == AGORA_EIO, "a killed client's call gave %s",
		      agora_errname(rc));
	AGH_OK(op, agora_clients(op, &cl));
	ck_assert_ptr_null(entry_where(&cl, "id", (int64_t)id));
	agora_value_free(&cl);

	/* No such id (any more): false, and nothing else happens. */
	killed = true;
	AGH_OK(op, agora_kill(op, id, &killed));
	ck_assert(!killed);
	killed = true;
	AGH_OK(op, agora_kill(op, 1000000, &killed));
	ck_assert(!killed);
	AGH_OK(op, agora_ping(op));

	agora_lock_close(held);
	agora_client_free(tcp);
	agora_lock_close(mine);
	agora_client_free(op);
	agh_server_stop(&srv);
}
END_TEST

START_TEST(a_client_that_kills_itself_gets_true_then_its_connection_ends)
{
	agora_client *c = agh_connect(&agh_srv);
	bool killed = false;

	AGH_OK(c, agora_kill(c, own_id(c), &killed));
	ck_assert(killed);
	int rc = agora_ping(c);
	ck_assert_msg(rc == AGORA_EIO, "a call after killing itself gave %s",
		      agora_errname(rc));
	agora_client_free(c);
	AGH_OK(agh_cli, agora_ping(agh_cli));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("clients");

	AGH_ADD(
	    s,
	    clients_shows_a_holders_peer_locks_rlock_depth_permits_and_parked_call);
	AGH_ADD(s,
		a_connection_in_the_handshake_is_listed_as_not_authenticated);
	AGH_ADD_BARE(s, kill_of_a_tcp_holder_passes_its_lock_to_the_waiter);
	AGH_ADD(s,
		a_client_that_kills_itself_gets_true_then_its_connection_ends);
	return agh_run_suite(s);
}
