/*
 * test_topic.c - topics (publish and subscribe) through the C client: a
 * fan-out of 10,000 messages to 32 subscriber processes, every one in
 * order, none missing or twice, while a connection that stops reading is
 * cut off; and the ends of a subscription (unsubscribe, close, the
 * connection's end) with the counts publish answers.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* The fan-out, scaled down under valgrind (a process per subscriber, each
 * message through the server 32 times) and somewhat under ASan. */
static int nsubs = 32;
static int nmsgs = 10000;
/* The payload of each message: ~100 bytes a notification, so that all of
 * them (about 1 MB per subscription) fit in --max-output plus the socket's
 * buffer: a subscriber that falls behind is never cut, however the two
 * cores are shared; the stalled connection, subscribed through STALLED_HANDLES
 * handles, takes that many times the bytes and is. */
#define PAD 60
#define STALLED_HANDLES 32

static void scale(void)
{
	if (agh_under_valgrind()) {
		nsubs = 4;
		nmsgs = 1000;
	} else if (agh_under_asan()) {
		nsubs = 16;
		nmsgs = 10000;
	}
}

static agora_value message(int64_t i, agora_value *items, char *pad)
{
	memset(pad, 'p', PAD);
	items[0] = agora_int(i);
	items[1] = agora_strn(pad, PAD);
	return agora_array(items, 2);
}

/* The index of message @m, or -1 when it is not one of message()'s. */
static int64_t message_index(const agora_value *m)
{
	if (m->type != AGORA_ARRAY || m->via.array.len != 2)
		return -1;
	const agora_value *i = &m->via.array.items[0];
	const agora_value *p = &m->via.array.items[1];
	if (i->type != AGORA_INT || p->type != AGORA_STR ||
	    p->via.str.len != PAD)
		return -1;
	return i->via.i;
}

/* A subscriber: every message, 0 .. nmsgs-1 in order, through its own
 * handle, and nothing else. */
static int subscribe_and_read_all(agora_client *c, int idx, void *arg)
{
	agora_topic *t = NULL;
	agora_notification *n = NULL;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_topic_open(c, "fanout", &t));
	AGH_WCALL(c, agora_topic_subscribe(t));
	for (int64_t i = 0; i < nmsgs; i++) {
		const agora_value *m;
		uint32_t h;
		AGH_WCALL(c, agora_notification_next(c, 60.0, &n));
		if (agora_topic_message(n, &h, &m) != 0) {
			fprintf(stderr,
				"subscriber %d: message %" PRId64
				" is a \"%s\" notification\n",
				idx, i, n->method);
			return 1;
		}
		AGH_WCHECK(h == agora_topic_handle(t));
		if (message_index(m) != i) {
			fprintf(stderr,
				"subscriber %d: message %" PRId64
				" came as %" PRId64 "\n",
				idx, i, message_index(m));
			return 1;
		}
		agora_notification_free(n);
	}
	/* Nothing more: no duplicate came after the last. */
	AGH_WCALL(c, agora_ping(c));
	AGH_WCHECK(agora_notification_next(c, 0, &n) == AGORA_ETIMEDOUT);
	AGH_WCHECK(agora_notification_dropped(c) == 0);
	AGH_WCALL(c, agora_topic_close(t));
	return 0;
}

/*
 * Read what the stalled connection was sent: each of its handles' messages
 * in order from 0, as many in all as publish counted for it (@counted),
 * then the cut, then the end.
 */
static void read_stalled(agora_client *st, agora_topic **hs, int nh,
			 uint64_t counted)
{
	int64_t next[STALLED_HANDLES] = { 0 };
	agora_notification *n;
	uint64_t got = 0;

	for (;;) {
		const agora_value *m;
		uint32_t h;
		int k;

		AGH_OK(st, agora_notification_next(st, 30.0, &n));
		if (strcmp(n->method, "cut") == 0) {
			const agora_value *why =
			    agora_map_get(&n->params, "reason");
			ck_assert_ptr_nonnull(why);
			agh_assert_str(*why, "--max-output");
			agora_notification_free(n);
			break;
		}
		ck_assert_int_eq(agora_topic_message(n, &h, &m), 0);
		for (k = 0; k < nh; k++)
			if (agora_topic_handle(hs[k]) == h)
				break;
		ck_assert_msg(k < nh, "a message for handle %u", h);
		ck_assert_int_eq(message_index(m), next[k]);
		next[k]++;
		got++;
		agora_notification_free(n);
	}
	ck_assert_uint_eq(got, counted);
	ck_assert_int_eq(agora_notification_next(st, 30.0, &n), AGORA_EIO);
}

START_TEST(thirty_two_subscribers_get_every_message_and_a_stalled_one_is_cut)
{
	static const char *const flags[] = { "--max-output", "1048576", NULL };
	static const char *const flags_vg[] = { "--max-output", "262144",
						NULL };
	agh_server srv;
	agora_client *c, *st;
	agora_topic *t, *hs[STALLED_HANDLES];
	pid_t pids[32];
	uint64_t stalled_counted = 0, count;
	bool cut_seen = false;

	scale();
	agh_server_start_args(&srv, agh_under_valgrind() ? flags_vg : flags);
	c = agh_connect(&srv);
	st = agh_connect(&srv);
	AGH_OK(c, agora_topic_open(c, "fanout", &t));
	for (int k = 0; k < STALLED_HANDLES; k++) {
		AGH_OK(st, agora_topic_open(st, "fanout", &hs[k]));
		AGH_OK(st, agora_topic_subscribe(hs[k]));
	}
	for (int i = 0; i < nsubs; i++)
		pids[i] = agh_spawn(subscribe_and_read_all, i, NULL);
	agh_wait_info(c, agora_topic_handle(t), "subscribers",
		      nsubs + STALLED_HANDLES);

	for (int64_t i = 0; i < nmsgs; i++) {
		agora_value items[2];
		char pad[PAD];
		AGH_OK(c,
		       agora_topic_publish(t, message(i, items, pad), &count));
		/* Every subscriber process, and the stalled connection's
		 * handles until it is cut: then none of them again. */
		ck_assert_uint_ge(count, (uint64_t)nsubs);
		ck_assert_uint_le(count, (uint64_t)(nsubs + STALLED_HANDLES));
		if (cut_seen)
			ck_assert_uint_eq(count, (uint64_t)nsubs);
		stalled_counted += count - (uint64_t)nsubs;
		if (!cut_seen && count < (uint64_t)(nsubs + STALLED_HANDLES)) {
			/* Read its backlog now, within the drain's bound
			 * (AG_DRAIN_SECONDS), publishing on after. */
			cut_seen = true;
			read_stalled(st, hs, STALLED_HANDLES, stalled_counted);
		}
	}
	ck_assert_msg(cut_seen, "the stalled connection was never cut");
	agh_wait_all_ok(pids, nsubs);
	ck_assert_int_eq(agh_info_int(c, agora_topic_handle(t), "published"),
			 nmsgs);
	agh_wait_info(c, agora_topic_handle(t), "subscribers", 0);
	for (int k = 0; k < STALLED_HANDLES; k++)
		agora_topic_close(hs[k]); /* the connection is gone: EIO */
	agora_client_free(st);
	agora_topic_close(t);
	agora_client_free(c);
	agh_server_stop(&srv);
}
END_TEST

/* Take what arrived up to an answer that comes after it: the number of
 * topic messages, each required to be for @h. */
static int pending_messages(agora_client *c, uint32_t h)
{
	agora_notification *n;
	int got = 0;
	uint32_t nh;

	AGH_OK(c, agora_ping(c));
	while (agora_notification_next(c, 0, &n) == 0) {
		ck_assert_int_eq(agora_topic_message(n, &nh, NULL), 0);
		ck_assert_uint_eq(nh, h);
		got++;
		agora_notification_free(n);
	}
	return got;
}

START_TEST(a_subscription_ends_on_unsubscribe_close_and_the_connection_end)
{
	agora_client *c = agh_cli, *a, *b, *d;
	agora_topic *t, *ta, *tb, *td, *tb2;
	uint32_t hb;
	uint64_t count = 99;
	bool was = false;

	a = agh_connect(&agh_srv);
	b = agh_connect(&agh_srv);
	d = agh_connect(&agh_srv);
	AGH_OK(c, agora_topic_open(c, "ends", &t));
	AGH_OK(a, agora_topic_open(a, "ends", &ta));
	AGH_OK(b, agora_topic_open(b, "ends", &tb));
	AGH_OK(d, agora_topic_open(d, "ends", &td));
	AGH_OK(a, agora_topic_subscribe(ta));
	AGH_OK(a, agora_topic_subscribe(ta)); /* twice: one subscription */
	AGH_OK(b, agora_topic_subscribe(tb));
	AGH_OK(d, agora_topic_subscribe(td));

	AGH_OK(c, agora_topic_publish(t, agora_str("one"), &count));
	ck_assert_uint_eq(count, 3);
	ck_assert_int_eq(pending_messages(a, agora_topic_handle(ta)), 1);

	AGH_OK(a, agora_topic_unsubscribe(ta, &was));
	ck_assert(was);
	AGH_OK(a, agora_topic_unsubscribe(ta, &was));
	ck_assert(!was);
	AGH_OK(c, agora_topic_publish(t, agora_str("two"), &count));
	ck_assert_uint_eq(count, 2);
	ck_assert_int_eq(pending_messages(a, agora_topic_handle(ta)), 0);

	hb = agora_topic_handle(tb);
	AGH_OK(b, agora_topic_close(tb));
	AGH_OK(c, agora_topic_publish(t, agora_str("three"), &count));
	ck_assert_uint_eq(count, 1);
	/* The closed handle's number, given again for the same topic, is a
	 * new handle: not subscribed. */
	AGH_OK(b, agora_topic_open(b, "ends", &tb2));
	ck_assert_uint_eq(agora_topic_handle(tb2), hb);
	AGH_OK(c, agora_topic_publish(t, agora_str("four"), &count));
	ck_assert_uint_eq(count, 1);
	/* b got "one" and "two" before its close, nothing after. */
	ck_assert_int_eq(pending_messages(b, hb), 2);

	agora_topic_close(td);
	agora_client_free(d); /* still subscribed: its end ends it */
	agh_wait_info(c, agora_topic_handle(t), "subscribers", 0);
	AGH_OK(c, agora_topic_publish(t, agora_str("five"), &count));
	ck_assert_uint_eq(count, 0);
	ck_assert_int_eq(agh_info_int(c, agora_topic_handle(t), "published"),
			 5);

	agora_topic_close(ta);
	agora_topic_close(tb2);
	agora_topic_close(t);
	agora_client_free(a);
	agora_client_free(b);
}
END_TEST

START_TEST(
    a_client_subscribed_to_its_own_topic_gets_the_answer_then_the_message)
{
	agora_client *c = agh_cli;
	agora_topic *t;
	agora_notification *n;
	const agora_value *m;
	uint64_t count = 0;
	uint32_t h;

	AGH_OK(c, agora_topic_open(c, NULL, &t));
	AGH_OK(c, agora_topic_subscribe(t));
	AGH_OK(c, agora_topic_publish(t, agora_int(7), &count));
	ck_assert_uint_eq(count, 1);
	AGH_OK(c, agora_notification_next(c, 10.0, &n));
	ck_assert_int_eq(agora_topic_message(n, &h, &m), 0);
	ck_assert_uint_eq(h, agora_topic_handle(t));
	agh_assert_int(*m, 7);
	agora_notification_free(n);
	ck_assert_int_eq(agora_topic_message(NULL, &h, &m), AGORA_EINVAL);
	agora_topic_close(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("topic");

	AGH_ADD_BARE(
	    s,
	    thirty_two_subscribers_get_every_message_and_a_stalled_one_is_cut);
	AGH_ADD(
	    s, a_subscription_ends_on_unsubscribe_close_and_the_connection_end);
	AGH_ADD(
	    s,
	    a_client_subscribed_to_its_own_topic_gets_the_answer_then_the_message);
	return agh_run_suite(s);
}
