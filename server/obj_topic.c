/*
 * obj_topic.c - the "topic" family: publish and subscribe (Redis pub/sub,
 * Hazelcast's ITopic), owned by the server loop.
 *
 * State (struct topic): its subscriptions, each a (connection, handle) of
 * this topic, and how many messages were published. A topic stores no
 * message: a message goes to the subscriptions there are when it is
 * published and is then forgotten (keeping messages is a queue's job).
 *
 *   subscribe()        -> nil: the handle of the call now receives every
 *                         message published after this answer, as the
 *                         notification [2, "topic", [{"handle": h,
 *                         "message": m}]] (docs/protocol.md 11.2). Again
 *                         through the same handle: nothing more (one
 *                         delivery). Each handle of the topic a connection
 *                         subscribes is its own subscription with its own
 *                         notification.
 *   unsubscribe()      -> bool: whether the handle was subscribed
 *   publish(message)   -> uint: how many subscriptions received it
 *
 * A subscription ends on unsubscribe, when its handle is closed
 * (handle_closed), when its connection ends (conn_gone: every subscription
 * is an ag_conn_hold() of its connection), and when its connection cannot
 * take the notification (ag_notify_begin() answers NULL: the connection is
 * past --max-output and being cut, or closing): that one is not counted.
 *
 * publish makes the canonical bytes of the message once, in the server's
 * scratch buffer, and copies them into each subscriber's output after a
 * header naming the subscriber's handle: nothing is allocated per
 * subscriber (the output buffers grow as they do for answers). A message
 * holding a reference is delivered as it is and keeps nothing alive: the
 * subscriber opens the object by the reference while it exists.
 *
 * Order: messages reach every subscription in publish order, since each
 * is packed into the subscriber's output when it is published. On the
 * publisher's own connection the answer to publish comes first, then its
 * own notifications (protocol section 11).
 *
 * Cost: publish is O(subscriptions) and copies the message once per
 * subscription; subscribe, unsubscribe and a subscribed handle's close
 * look the subscription up in O(subscriptions) (a topic has tens of
 * subscribers, not millions), and a connection's end is O(subscriptions)
 * per topic it subscribed.
 *
 * No options, no length. Memory accounted: the state and the subscription
 * array. Persistence (AG_PERSIST_STATE, with no state): a topic's name
 * and existence are journaled as any object's; subscriptions and messages
 * are not, and publish records nothing.
 *
 * Transactions (docs/protocol.md section 12): publish within one keeps a
 * copy of the message in t->pending, in order, and the commit delivers
 * them (topic_wake); a rollback drops them. Its answer counts the
 * subscriptions whose connections take a notification when it is called
 * (no subscription comes or goes within a transaction: subscribe and
 * unsubscribe are refused there). Pending messages live from the call to
 * the end of the request that made them, and are as large as that
 * request: they are not accounted, as a request's other scratch.
 */
#include <stdlib.h>

#include "internal.h"

struct topic_sub {
	ag_conn *conn;
	uint32_t h;
};

struct topic {
	struct topic_sub *subs; /* in subscription order, but see sub_remove */
	uint32_t nsubs, capsubs;
	uint64_t published;
	/* The messages a transaction published, in order, for its commit to
	 * deliver (topic_wake): owned canonical bytes, holding nothing.
	 * Empty (and no array) outside a transaction. */
	ag_val *pending;
	uint32_t npending, cappending;
};

/* The index of @c's subscription through @h, or -1. */
static int64_t sub_find(const struct topic *t, const ag_conn *c, uint32_t h)
{
	for (uint32_t i = 0; i < t->nsubs; i++)
		if (t->subs[i].conn == c && t->subs[i].h == h)
			return i;
	return -1;
}

/* Remove subscription @i (the last one takes its place) and give back its
 * hold on @o's connection. The caller holds @o otherwise. */
static void sub_remove(ag_object *o, struct topic *t, uint32_t i)
{
	ag_conn *c = t->subs[i].conn;

	t->subs[i] = t->subs[--t->nsubs];
	ag_conn_unhold(c, o);
}

/* ---- methods ------------------------------------------------------------- */

static uint32_t req_handle(const ag_req *r)
{
	return (uint32_t)r->argv[0].via.u64;
}

static int topic_subscribe(ag_req *r)
{
	struct topic *t = r->obj->data;
	ag_conn *c = r->to.conn;
	uint32_t h = req_handle(r);

	if (sub_find(t, c, h) >= 0) {
		ag_reply_nil(&r->to);
		return 0;
	}
	if (t->nsubs == t->capsubs) {
		uint32_t ncap = t->capsubs ? t->capsubs * 2 : 4;
		struct topic_sub *s;
		if (ncap <= t->capsubs ||
		    (s = realloc(t->subs, ncap * sizeof(*s))) == NULL)
			return ag_reply_error(&r->to, AGORA_ELIMIT,
					      "topic.subscribe: out of memory");
		ag_object_mem(r->obj,
			      (ssize_t)((ncap - t->capsubs) * sizeof(*s)));
		t->subs = s;
		t->capsubs = ncap;
	}
	if (ag_conn_hold(c, r->obj) < 0)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "topic.subscribe: out of memory");
	t->subs[t->nsubs++] = (struct topic_sub){ c, h };
	ag_reply_nil(&r->to);
	return 0;
}

static int topic_unsubscribe(ag_req *r)
{
	struct topic *t = r->obj->data;
	int64_t i = sub_find(t, r->to.conn, req_handle(r));

	if (i >= 0)
		sub_remove(r->obj, t, (uint32_t)i);
	ag_reply_bool(&r->to, i >= 0);
	return 0;
}

/* Pack the notification of @msg for subscription @s: true when its
 * connection took it. */
static bool deliver(const struct topic_sub *s, const ag_val *msg)
{
	msgpack_packer *pk = ag_notify_begin(s->conn, "topic");

	if (pk == NULL)
		return false;
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 2);
	ag_pack_str(pk, "handle");
	msgpack_pack_uint32(pk, s->h);
	ag_pack_str(pk, "message");
	ag_pack_val(pk, msg);
	return true;
}

/* Will @c take a notification now (ag_notify_begin's test)? */
static bool can_take(const ag_conn *c)
{
	return ag_conn_notifiable(c) &&
	       ag_conn_unsent(c) <= ag_conn_server(c)->max_output;
}

/*
 * publish within a transaction: the message (the view @msg) is kept in
 * t->pending and delivered at the commit (topic_wake); a rollback drops it.
 * The answer counts the subscriptions whose connections take a
 * notification now: the commit delivers to those (no subscription comes
 * or goes within a transaction). Returns 0 or LIMIT (answered, nothing
 * changed).
 */
static int publish_deferred(ag_req *r, struct topic *t, const ag_val *msg)
{
	uint64_t count = 0;

	if (t->nsubs == 0) { /* none can come before the commit */
		t->published++;
		ag_reply_uint(&r->to, 0);
		return 0;
	}
	if (t->npending == t->cappending) {
		uint32_t ncap = t->cappending ? t->cappending * 2 : 4;
		ag_val *p;
		if (ncap <= t->cappending ||
		    (p = realloc(t->pending, ncap * sizeof(*p))) == NULL)
			return ag_reply_error(&r->to, AGORA_ELIMIT,
					      "topic.publish: out of memory");
		t->pending = p;
		t->cappending = ncap;
	}
	if (ag_val_dup(&t->pending[t->npending], msg) < 0)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "topic.publish: out of memory");
	t->npending++;
	t->published++;
	for (uint32_t i = 0; i < t->nsubs; i++)
		count += can_take(t->subs[i].conn);
	(void)ag_txn_defer(r->obj);
	ag_reply_uint(&r->to, count);
	return 0;
}

/* Free the pending messages from @from on; none left: the array too. */
static void pending_cut(struct topic *t, uint32_t from)
{
	while (t->npending > from)
		ag_val_deinit(&t->pending[--t->npending]);
	if (t->npending == 0) {
		free(t->pending);
		t->pending = NULL;
		t->cappending = 0;
	}
}

static int topic_publish(ag_req *r)
{
	struct topic *t = r->obj->data;
	ag_conn *self = r->to.conn;
	ag_buf *b = ag_server_scratch(r->srv);
	size_t at = b->len;
	const char *why = NULL;
	uint64_t count = 0, own = 0, nown = 0;
	uint32_t flags;
	ag_val msg;
	int rc;

	rc = ag_val_canon(b, r->raw[1].p, r->raw[1].len, &flags, &why);
	if (rc == AGORA_EVALUE)
		return ag_reply_error(&r->to, AGORA_EVALUE,
				      "topic.publish: the message holds %s",
				      why);
	if (rc < 0)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "topic.publish: out of memory reading "
				      "the message");
	/* A view of the scratch bytes: nothing is copied or owned. */
	msg = ag_val_view(b->data + at, (uint32_t)(b->len - at), flags);
	if (ag_txn_active(r->srv))
		return publish_deferred(r, t, &msg);
	t->published++;
	/* Others first; the publisher's own subscriptions after its answer. */
	for (uint32_t i = 0; i < t->nsubs;) {
		if (t->subs[i].conn == self) {
			nown++;
			own += can_take(self);
			i++;
		} else if (deliver(&t->subs[i], &msg)) {
			count++;
			i++;
		} else {
			sub_remove(r->obj, t, i); /* i now holds the last */
		}
	}
	ag_reply_uint(&r->to, count + own);
	/* A connection that took the count but not, after its answer, the
	 * notification (the answer's bytes took it past --max-output) is
	 * being cut: the count was one too many for a connection that ends. */
	if (nown == 0)
		return 0;
	for (uint32_t i = 0; i < t->nsubs;) {
		if (t->subs[i].conn != self || deliver(&t->subs[i], &msg))
			i++;
		else
			sub_remove(r->obj, t, i);
	}
	return 0;
}

/* ---- family -------------------------------------------------------------- */

static const char *const topic_options[] = { NULL };

/* Set up a topic with no subscription. Returns 0, or the code answered:
 * ARGS (any option), LIMIT (out of memory). */
static int topic_create(ag_object *o, ag_req *r, const msgpack_object *opts)
{
	struct topic *t;
	int rc;

	rc = ag_opts_check(r, opts, topic_options);
	if (rc < 0)
		return rc;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "open: out of memory creating a topic");
	o->data = t;
	ag_object_mem(o, (ssize_t)sizeof(*t));
	return 0;
}

/* No subscription is left: each holds its connection's hold, which holds
 * a reference to the object. */
static void topic_destroy(ag_object *o)
{
	struct topic *t = o->data;

	if (t == NULL)
		return;
	ag_object_mem(
	    o, -(ssize_t)(sizeof(*t) + (size_t)t->capsubs * sizeof(*t->subs)));
	pending_cut(t, 0);
	free(t->subs);
	free(t);
	o->data = NULL;
}

static bool topic_len(ag_object *o, size_t *ret)
{
	return false;
}

static unsigned topic_info_count(ag_object *o)
{
	return 2;
}

static void topic_info_pack(ag_object *o, msgpack_packer *pk)
{
	struct topic *t = o->data;

	ag_pack_str(pk, "subscribers");
	msgpack_pack_uint32(pk, t->nsubs);
	ag_pack_str(pk, "published");
	msgpack_pack_uint64(pk, t->published);
}

/* Connection @c is going: its subscriptions end (unhold is ignored now). */
static void topic_conn_gone(ag_object *o, ag_conn *c)
{
	struct topic *t = o->data;

	for (uint32_t i = 0; i < t->nsubs;) {
		if (t->subs[i].conn == c)
			t->subs[i] = t->subs[--t->nsubs];
		else
			i++;
	}
}

/* Handle @h of @c is being closed: its subscription, if any, ends. */
static void topic_handle_closed(ag_object *o, ag_conn *c, uint32_t h)
{
	struct topic *t = o->data;
	int64_t i = sub_find(t, c, h);

	if (i >= 0)
		sub_remove(o, t, (uint32_t)i);
}

/* ---- transactions -------------------------------------------------------- */

/* What a transaction keeps to undo with (docs/protocol.md section 12): the
 * published count and how many messages were pending (subscriptions do
 * not change within a transaction: subscribe and unsubscribe are refused
 * there, and a publish there sends nothing). */
struct topic_saved {
	uint64_t published;
	uint32_t npending;
};

static void *topic_txn_save(ag_object *o)
{
	struct topic *t = o->data;
	struct topic_saved *sv = malloc(sizeof(*sv));

	if (sv == NULL)
		return NULL;
	sv->published = t->published;
	sv->npending = t->npending;
	return sv;
}

static void topic_txn_restore(ag_object *o, void *saved)
{
	struct topic *t = o->data;
	struct topic_saved *sv = saved;

	t->published = sv->published;
	pending_cut(t, sv->npending);
	free(sv);
}

static void topic_txn_drop(ag_object *o, void *saved)
{
	(void)o;
	free(saved);
}

/* After a commit: deliver the messages it published, in order, each to
 * every subscription (one whose connection cannot take it ends, as in
 * topic_publish). */
static void topic_wake(ag_object *o)
{
	struct topic *t = o->data;

	ag_object_ref(o); /* while subscriptions let go */
	for (uint32_t k = 0; k < t->npending; k++)
		for (uint32_t i = 0; i < t->nsubs;) {
			if (deliver(&t->subs[i], &t->pending[k]))
				i++;
			else
				sub_remove(o, t, i);
		}
	pending_cut(t, 0);
	ag_object_unref(o);
}

/* About the connection, not the topic's contents. */
static const char *const topic_txn_refused[] = { "subscribe", "unsubscribe",
						 NULL };

static const ag_method topic_methods[] = {
	{ "subscribe", topic_subscribe, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ "unsubscribe", topic_unsubscribe, 1, 1, AG_STORES_NONE,
	  AG_RIGHT_READ },
	{ "publish", topic_publish, 2, 2, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ NULL, NULL, 0, 0, AG_STORES_NONE, 0 },
};

const ag_family ag_family_topic = {
	.name = "topic",
	.base = NULL,
	.methods = topic_methods,
	.create = topic_create,
	.destroy = topic_destroy,
	.len = topic_len,
	.info_count = topic_info_count,
	.info_pack = topic_info_pack,
	.conn_gone = topic_conn_gone,
	.held = NULL, /* the hold count: one per subscription */
	/* No state and no call recorded: only its existence persists. */
	.persist = AG_PERSIST_STATE,
	.save_opts = NULL,
	.save = NULL,
	.pack_state = NULL,
	.load_state = NULL,
	.handle_closed = topic_handle_closed,
	.txn_save = topic_txn_save,
	.txn_restore = topic_txn_restore,
	.txn_drop = topic_txn_drop,
	.wake = topic_wake,
	.txn_refused = topic_txn_refused,
};
