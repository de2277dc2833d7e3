/*
 * fuzz_request.c - libFuzzer target: the request path of the server
 * (dispatch.c, registry.c, refs.c, wait.c and every obj_<family>.c) on
 * authenticated detached connections, without sockets.
 *
 * Each input gets a fresh server. Its connections (two, used in turns, so
 * that locks, waiters and references pass between them) start by opening
 * one named object of every type, with the same names, so that both hold
 * the same objects under the handles of SETUP[] (1 to NSETUP). Then the
 * input is a sequence of operations, each a selector byte and operands:
 *
 *   0-9   a request: a method byte (METHODS[], every server method and
 *         every TYPE.METHOD of docs/protocol.md), a handle byte (below 0xe0:
 *         the set-up object of the method's type, an alternative one by
 *         the low bit; else the raw handle b - 0xe0), and a params byte:
 *         its low two bits 0: the params are a MessagePack value read from
 *         the input (an array: its items; anything else: itself), checked
 *         by an ag_reader first; otherwise (b >> 2) % 5 params synthesized
 *         from the input (synth(): every kind of value, references,
 *         extremes, short timeouts); "open" gets a type, a name and
 *         options made for it, "txn" conditions and calls of the
 *         methods below on the set-up objects (synth_txn())
 *   10    L BYTES: feed L raw bytes to the connection
 *   11    ag_server_run_pending() (a connection it frees, killed by the
 *         other with the server method kill, is replaced as after 13)
 *   12    switch to the other connection
 *   13    close the current connection (it is replaced, and sets up again)
 *   14    run the event loop 2 ms, so that short timeouts fire (at most
 *         MAX_WAITS times an input)
 *   15    N: send the last request again N % 8 + 1 times
 *
 * Requests are fed one by one; pending callbacks run every 8 requests and
 * at the end, before the server is freed (LeakSanitizer then sees any
 * object, waiter or value left behind).
 */
#include <math.h>
#include <string.h>

#include "fuzz_support.h"
#include "internal.h"

int FUZZ_ENTRY(const uint8_t *data, size_t size);

#define NCONN 2
#define MAX_WAITS 4
#define MAX_DEPTH 4

enum {
	H_LIST = 1,
	H_DICT,
	H_QUEUE,
	H_JQUEUE,
	H_VALUE,
	H_ARRAY_I,
	H_ARRAY_F,
	H_NAMESPACE,
	H_LOCK,
	H_RLOCK,
	H_SEM,
	H_BSEM,
	H_COND,
	H_COND_OWN,
	H_EVENT,
	H_BARRIER,
	H_TOPIC, /* added later, last so that the seeds keep their handles */
	NSETUP = H_TOPIC
};

/* The named objects each connection opens, handle i + 1 for SETUP[i].
 * Options are MessagePack bytes (a map), so that they read as in the
 * protocol. */
static const struct setup {
	const char *type;
	const char *name;
	const char *opts;
	size_t optslen;
} SETUP[NSETUP] = {
#define OPTS(s) s, sizeof(s) - 1
	{ "list", "L", OPTS("\x80") },
	{ "dict", "D", OPTS("\x80") },
	{ "queue", "Q", OPTS("\x81\xa7maxsize\x02") },
	/* Its dead letters go to Q (bounded: a full dead-letter queue). */
	{ "joinable_queue", "J",
	  OPTS("\x83\xa7maxsize\x02\xaemax_deliveries\x02\xab"
	       "dead_letter\xa1Q") },
	{ "value", "V", OPTS("\x81\xa7initial\x00") },
	{ "array", "AI", OPTS("\x82\xa8typecode\xa1i\xa6length\x04") },
	{ "array", "AF",
	  OPTS("\x82\xa8typecode\xa1"
	       "f\xa5items\x92\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00\x02") },
	{ "namespace", "N", OPTS("\x80") },
	{ "lock", "K", OPTS("\x80") },
	{ "rlock", "R", OPTS("\x80") },
	{ "semaphore", "S", OPTS("\x82\xa5value\x01\xa5owned\xc3") },
	{ "bounded_semaphore", "B", OPTS("\x81\xa5value\x02") },
	{ "condition", "C", OPTS("\x81\xa4lock\x09") }, /* over K */
	{ "condition", "C2", OPTS("\x80") },            /* its own rlock */
	{ "event", "E", OPTS("\x80") },
	{ "barrier", "P", OPTS("\x81\xa7parties\x02") },
	{ "topic", "T", OPTS("\x80") },
#undef OPTS
};

/* Every method, with the set-up handles it goes to by default and by the
 * handle byte's low bit (0: a server method, no handle first). */
static const struct method {
	const char *name;
	uint8_t h, alt;
} METHODS[] = {
	{ "open", 0, 0 },
	{ "open_ref", 0, 0 },
	{ "close", 0, 0 },
	{ "drop", 0, 0 },
	{ "ls", 0, 0 },
	{ "info", 0, 0 },
	{ "ping", 0, 0 },
	{ "stats", 0, 0 },
	{ "list.append", H_LIST, H_LIST },
	{ "list.extend", H_LIST, H_LIST },
	{ "list.insert", H_LIST, H_LIST },
	{ "list.get", H_LIST, H_LIST },
	{ "list.set", H_LIST, H_LIST },
	{ "list.delete", H_LIST, H_LIST },
	{ "list.slice", H_LIST, H_LIST },
	{ "list.set_slice", H_LIST, H_LIST },
	{ "list.del_slice", H_LIST, H_LIST },
	{ "list.pop", H_LIST, H_LIST },
	{ "list.remove", H_LIST, H_LIST },
	{ "list.index", H_LIST, H_LIST },
	{ "list.count", H_LIST, H_LIST },
	{ "list.contains", H_LIST, H_LIST },
	{ "list.len", H_LIST, H_LIST },
	{ "list.reverse", H_LIST, H_LIST },
	{ "list.sort", H_LIST, H_LIST },
	{ "list.clear", H_LIST, H_LIST },
	{ "list.copy", H_LIST, H_LIST },
	{ "dict.get", H_DICT, H_DICT },
	{ "dict.getitem", H_DICT, H_DICT },
	{ "dict.set", H_DICT, H_DICT },
	{ "dict.delete", H_DICT, H_DICT },
	{ "dict.contains", H_DICT, H_DICT },
	{ "dict.len", H_DICT, H_DICT },
	{ "dict.keys", H_DICT, H_DICT },
	{ "dict.values", H_DICT, H_DICT },
	{ "dict.items", H_DICT, H_DICT },
	{ "dict.pop", H_DICT, H_DICT },
	{ "dict.popitem", H_DICT, H_DICT },
	{ "dict.setdefault", H_DICT, H_DICT },
	{ "dict.update", H_DICT, H_DICT },
	{ "dict.clear", H_DICT, H_DICT },
	{ "dict.copy", H_DICT, H_DICT },
	{ "dict.incr", H_DICT, H_DICT },
	{ "dict.expire", H_DICT, H_DICT },
	{ "dict.expire_at", H_DICT, H_DICT },
	{ "dict.ttl", H_DICT, H_DICT },
	{ "dict.expired", H_DICT, H_DICT },
	{ "queue.put", H_QUEUE, H_JQUEUE },
	{ "queue.get", H_QUEUE, H_JQUEUE },
	{ "queue.put_nowait", H_QUEUE, H_JQUEUE },
	{ "queue.get_nowait", H_QUEUE, H_JQUEUE },
	{ "queue.qsize", H_QUEUE, H_JQUEUE },
	{ "queue.peek", H_QUEUE, H_JQUEUE },
	{ "queue.empty", H_QUEUE, H_JQUEUE },
	{ "queue.full", H_QUEUE, H_JQUEUE },
	{ "joinable_queue.put", H_JQUEUE, H_JQUEUE },
	{ "joinable_queue.get", H_JQUEUE, H_QUEUE },
	{ "joinable_queue.put_nowait", H_JQUEUE, H_JQUEUE },
	{ "joinable_queue.get_nowait", H_JQUEUE, H_JQUEUE },
	{ "joinable_queue.qsize", H_JQUEUE, H_JQUEUE },
	{ "joinable_queue.peek", H_JQUEUE, H_JQUEUE },
	{ "joinable_queue.empty", H_JQUEUE, H_JQUEUE },
	{ "joinable_queue.full", H_JQUEUE, H_JQUEUE },
	{ "joinable_queue.task_done", H_JQUEUE, H_JQUEUE },
	{ "joinable_queue.join", H_JQUEUE, H_JQUEUE },
	{ "value.get", H_VALUE, H_VALUE },
	{ "value.set", H_VALUE, H_VALUE },
	{ "value.add", H_VALUE, H_VALUE },
	{ "value.cas", H_VALUE, H_VALUE },
	{ "value.swap", H_VALUE, H_VALUE },
	{ "array.get", H_ARRAY_I, H_ARRAY_F },
	{ "array.set", H_ARRAY_I, H_ARRAY_F },
	{ "array.len", H_ARRAY_I, H_ARRAY_F },
	{ "array.slice", H_ARRAY_I, H_ARRAY_F },
	{ "array.set_slice", H_ARRAY_I, H_ARRAY_F },
	{ "array.copy", H_ARRAY_I, H_ARRAY_F },
	{ "namespace.get", H_NAMESPACE, H_NAMESPACE },
	{ "namespace.set", H_NAMESPACE, H_NAMESPACE },
	{ "namespace.delete", H_NAMESPACE, H_NAMESPACE },
	{ "namespace.items", H_NAMESPACE, H_NAMESPACE },
	{ "lock.acquire", H_LOCK, H_LOCK },
	{ "lock.acquire_fenced", H_LOCK, H_LOCK },
	{ "lock.release", H_LOCK, H_LOCK },
	{ "lock.locked", H_LOCK, H_LOCK },
	{ "rlock.acquire", H_RLOCK, H_RLOCK },
	{ "rlock.acquire_fenced", H_RLOCK, H_RLOCK },
	{ "rlock.release", H_RLOCK, H_RLOCK },
	{ "rlock.locked", H_RLOCK, H_RLOCK },
	{ "semaphore.acquire", H_SEM, H_BSEM },
	{ "semaphore.release", H_SEM, H_BSEM },
	{ "semaphore.value", H_SEM, H_BSEM },
	{ "bounded_semaphore.acquire", H_BSEM, H_BSEM },
	{ "bounded_semaphore.release", H_BSEM, H_BSEM },
	{ "bounded_semaphore.value", H_BSEM, H_BSEM },
	{ "condition.acquire", H_COND, H_COND_OWN },
	{ "condition.release", H_COND, H_COND_OWN },
	{ "condition.wait", H_COND, H_COND_OWN },
	{ "condition.notify", H_COND, H_COND_OWN },
	{ "condition.notify_all", H_COND, H_COND_OWN },
	{ "event.set", H_EVENT, H_EVENT },
	{ "event.clear", H_EVENT, H_EVENT },
	{ "event.is_set", H_EVENT, H_EVENT },
	{ "event.wait", H_EVENT, H_EVENT },
	{ "barrier.wait", H_BARRIER, H_BARRIER },
	{ "barrier.reset", H_BARRIER, H_BARRIER },
	{ "barrier.abort", H_BARRIER, H_BARRIER },
	{ "barrier.parties", H_BARRIER, H_BARRIER },
	{ "barrier.n_waiting", H_BARRIER, H_BARRIER },
	{ "barrier.broken", H_BARRIER, H_BARRIER },
	{ "nosuch.method", H_LIST, H_LIST },
	{ "list.nosuch", H_LIST, H_LIST },
	/* Added later, at the end so that the seeds keep their methods. */
	{ "clients", 0, 0 },
	{ "kill", 0, 0 },
	{ "queue.take", H_QUEUE, H_JQUEUE },
	{ "queue.ack", H_QUEUE, H_JQUEUE },
	{ "queue.nack", H_QUEUE, H_JQUEUE },
	{ "queue.pending", H_QUEUE, H_JQUEUE },
	{ "joinable_queue.take", H_JQUEUE, H_QUEUE },
	{ "joinable_queue.ack", H_JQUEUE, H_JQUEUE },
	{ "joinable_queue.nack", H_JQUEUE, H_JQUEUE },
	{ "joinable_queue.pending", H_JQUEUE, H_JQUEUE },
	{ "expire", 0, 0 },
	{ "ttl", 0, 0 },
	{ "watch", 0, 0 },
	{ "unwatch", 0, 0 },
	{ "get_any", 0, 0 },
	{ "take_any", 0, 0 },
	{ "cancel", 0, 0 },
	{ "wait_any", 0, 0 },
	{ "acquire_any", 0, 0 },
	{ "topic.subscribe", H_TOPIC, H_TOPIC },
	{ "topic.unsubscribe", H_TOPIC, H_TOPIC },
	{ "topic.publish", H_TOPIC, H_TOPIC },
	{ "txn", 0, 0 },
};
#define NMETHODS (sizeof(METHODS) / sizeof(METHODS[0]))

/* Every type of the one list (AGORA_TYPES, agora.h), and two that are
 * none. */
#define TYPE_NAME(wire, ctype, proxy) #wire,
static const char *const TYPES[] = {
	AGORA_TYPES(TYPE_NAME) "nosuch",
	"",
};
#undef TYPE_NAME
static const char *const NAMES[] = {
	"L", "D", "Q", "J", "V", "AI",       "AF",
	"N", "K", "R", "S", "B", "C",        "C2",
	"E", "P", "x", "y", "",  "\xff\xfe", "caf\xc3\xa9",
};
static const char *const OPTIONS[] = {
	"maxsize", "initial",  "value",  "owned", "parties",
	"lock",    "typecode", "length", "items", "bogus",
};
static const char *const STRS[] = {
	"a",        "b",
	"k",        "x",
	"i",        "b",
	"B",        "h",
	"H",        "I",
	"l",        "L",
	"q",        "Q",
	"f",        "d",
	"z",        "",
	"\xc3\x28", "items",
	"lock",     "abcdefghijklmnop",
};
static const double DOUBLES[] = {
	0.0,       -0.0,   0.0005, 0.001,  1.5,
	-1.0,      1e300,  -1e300, NAN,    INFINITY,
	-INFINITY, 3.5e38, 1e6,    9.3e18, 1.8446744073709552e19,
	-9.3e18,
};
static const uint64_t BIGS[] = {
	(uint64_t)INT64_MIN,
	INT64_MAX,
	UINT64_MAX,
	(uint64_t)1 << 63,
	(uint64_t)-1,
	0,
	1u << 31,
	(uint64_t)1 << 32,
	127,
	128,
	255,
	65535,
	UINT32_MAX,
	(uint64_t)INT32_MIN,
	(uint64_t)-129,
	(uint64_t)INT64_MIN + 1,
};

typedef struct rq {
	ag_server *srv;
	ag_conn *conns[NCONN]; /* NULL: none yet, or it ended */
	unsigned cur;
	uint32_t msgid;
	unsigned since_run;
	unsigned waits;
	fz in;
	ag_buf out;  /* the request being built */
	ag_buf last; /* the last request sent */
	msgpack_packer pk;
} rq;

/* Send what rq->out holds to the current connection and empty it. */
static void send_out(rq *q);

static ag_conn *conn_of(rq *q)
{
	ag_conn **c = &q->conns[q->cur];

	if (*c != NULL)
		return *c;
	*c = ag_conn_new_detached(q->srv, true);
	if (*c == NULL)
		return NULL;
	for (unsigned i = 0; i < NSETUP; i++) {
		msgpack_unpacked u;
		size_t off = 0;

		ag_pack_request_head(&q->pk, ++q->msgid, "open");
		msgpack_pack_array(&q->pk, 3);
		ag_pack_str(&q->pk, SETUP[i].type);
		ag_pack_str(&q->pk, SETUP[i].name);
		msgpack_unpacked_init(&u);
		if (msgpack_unpack_next(&u, SETUP[i].opts, SETUP[i].optslen,
					&off) == MSGPACK_UNPACK_SUCCESS)
			msgpack_pack_object(&q->pk, u.data);
		else
			msgpack_pack_nil(&q->pk);
		msgpack_unpacked_destroy(&u);
		send_out(q);
	}
	return q->conns[q->cur];
}

/* Forget the connections the server freed by itself: one that a kill
 * from the other cut (or one cut for its backlog) goes when its write
 * event runs. */
static void forget_gone(rq *q)
{
	for (unsigned i = 0; i < NCONN; i++) {
		ag_conn *c;
		TAILQ_FOREACH (c, &q->srv->conns, link)
			if (c == q->conns[i])
				break;
		if (c == NULL)
			q->conns[i] = NULL;
	}
}

/* Pending callbacks, and then forget_gone(). */
static void run_pending(rq *q)
{
	ag_server_run_pending(q->srv);
	forget_gone(q);
}

static void feed(rq *q, const void *p, size_t len)
{
	ag_conn *c = q->conns[q->cur];

	if (c != NULL && !ag_conn_feed(c, p, len))
		q->conns[q->cur] = NULL;
}

static void send_out(rq *q)
{
	feed(q, q->out.data, q->out.len);
	q->out.len = 0;
	if (++q->since_run >= 8) {
		run_pending(q);
		q->since_run = 0;
	}
}

static void pack_bin(msgpack_packer *pk, const void *p, size_t len)
{
	msgpack_pack_bin(pk, len);
	msgpack_pack_bin_body(pk, p, len);
}

static void pack_ext(msgpack_packer *pk, int8_t type, const void *p, size_t len)
{
	msgpack_pack_ext(pk, len, type);
	msgpack_pack_ext_body(pk, p, len);
}

/* A reference (ext 1) to object @id: its real one while it exists (the
 * target reads the secret from the server, as a client handed the
 * reference would have it), else one with a made-up secret, which names
 * nothing: both paths get exercised. */
static void pack_ref(msgpack_packer *pk, ag_server *srv, uint64_t id)
{
	ag_object *o = ag_object_by_id(srv, id);
	uint8_t data[AG_REF_LEN] = { 0 };

	if (o != NULL) {
		ag_pack_ref(pk, o);
		return;
	}
	for (int i = AG_REF_ID_LEN - 1; i >= 0; i--, id >>= 8)
		data[i] = (uint8_t)id;
	pack_ext(pk, 1, data, sizeof(data));
}

/* One value of any kind, from the input. */
static void synth(rq *q, unsigned depth)
{
	msgpack_packer *pk = &q->pk;
	uint8_t k = fz_u8(&q->in), b;

	if (depth >= MAX_DEPTH && (k % 16 == 8 || k % 16 == 9))
		k = 0;
	switch (k % 16) {
	case 0:
		msgpack_pack_nil(pk);
		break;
	case 1:
		if (fz_u8(&q->in) & 1)
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
		break;
	case 2:
		msgpack_pack_int8(pk, (int8_t)fz_u8(&q->in));
		break;
	case 3: /* sent as uint64: the server keeps the shortest form */
		msgpack_pack_uint64(pk, fz_u8(&q->in));
		break;
	case 4:
		b = fz_u8(&q->in);
		if (b & 0x80)
			msgpack_pack_uint64(pk, BIGS[b % 16]);
		else
			msgpack_pack_int64(pk, (int64_t)BIGS[b % 16]);
		break;
	case 5:
		msgpack_pack_double(pk, DOUBLES[fz_u8(&q->in) % 16]);
		break;
	case 6:
		ag_pack_str(pk, STRS[fz_u8(&q->in) % 22]);
		break;
	case 7: {
		size_t len;
		const uint8_t *p = fz_take(&q->in, fz_u8(&q->in) % 8, &len);
		pack_bin(pk, p, len);
		break;
	}
	case 8:
		b = fz_u8(&q->in) % 4;
		msgpack_pack_array(pk, b);
		for (unsigned i = 0; i < b; i++)
			synth(q, depth + 1);
		break;
	case 9:
		b = fz_u8(&q->in) % 3;
		msgpack_pack_map(pk, b);
		for (unsigned i = 0; i < b; i++) {
			synth(q, depth + 1);
			synth(q, depth + 1);
		}
		break;
	case 10: /* ids count from 1; NSETUP + 2 objects exist at first */
		pack_ref(pk, q->srv, fz_u8(&q->in) % 24);
		break;
	case 11: {
		static const uint8_t zeros[24];
		b = fz_u8(&q->in) % 24;
		pack_ext(pk, 1, zeros, b == AG_REF_LEN ? AG_REF_LEN + 1 : b);
		break;
	}
	case 12:
		b = fz_u8(&q->in);
		pack_ext(pk, (int8_t)(b % 4 + 2), &b, 1);
		break;
	case 13:
		msgpack_pack_float(pk, (float)DOUBLES[fz_u8(&q->in) % 16]);
		break;
	case 14: /* a handle, or a small count */
		msgpack_pack_uint8(pk, fz_u8(&q->in) % 20);
		break;
	default: /* a compound holding a reference and a map */
		msgpack_pack_array(pk, 2);
		pack_ref(pk, q->srv, fz_u8(&q->in) % 24);
		msgpack_pack_map(pk, 1);
		ag_pack_str(pk, "k");
		msgpack_pack_double(pk, 1.0);
		break;
	}
}

/* Params of "open": a type, a name, options of the kinds it takes. */
static void synth_open(rq *q, unsigned n)
{
	msgpack_packer *pk = &q->pk;
	uint8_t b = fz_u8(&q->in);

	msgpack_pack_array(pk, n);
	if (n == 0)
		return;
	ag_pack_str(pk, TYPES[b % 16]);
	if (n == 1)
		return;
	b = fz_u8(&q->in);
	if (b >= 0xf0) {
		msgpack_pack_nil(pk);
	} else if (b >= 0xe8) { /* 256 bytes: one too many */
		char name[256];
		memset(name, 'n', sizeof(name));
		msgpack_pack_str(pk, sizeof(name) - (b & 1));
		msgpack_pack_str_body(pk, name, sizeof(name) - (b & 1));
	} else {
		ag_pack_str(pk, NAMES[b % 21]);
	}
	for (unsigned i = 2; i < n; i++) {
		b = fz_u8(&q->in) % 4;
		if (i > 2 || b == 3) {
			synth(q, 1);
			continue;
		}
		msgpack_pack_map(pk, b);
		for (unsigned j = 0; j < b; j++) {
			/* open's own options, of every type: the top 8 bytes
			 * (the top 4 the name's lifetime's).
			 */
			uint8_t o = fz_u8(&q->in);
			ag_pack_str(
			    pk, o >= 0xfc   ? (o & 1 ? "ttl" : "ephemeral")
				: o >= 0xf8 ? (o & 1 ? "create" : "exclusive")
					    : OPTIONS[o % 10]);
			synth(q, 1);
		}
	}
}

static void synth_txn(rq *q, unsigned n, unsigned depth);

/* The params of a call of method @m (the handle first: its set-up object
 * or the alternative one), for a transaction. */
static void synth_call_params(rq *q, const struct method *m, unsigned depth)
{
	uint8_t b = fz_u8(&q->in);
	unsigned n = b % 4;

	if (strcmp(m->name, "txn") == 0 && depth < 2) {
		synth_txn(q, 2 + (b & 1), depth + 1);
		return;
	}
	msgpack_pack_array(&q->pk, n + (m->h != 0));
	if (m->h != 0)
		msgpack_pack_uint32(&q->pk, b & 0x80 ? m->alt : m->h);
	for (unsigned i = 0; i < n; i++)
		synth(q, 2);
}

/*
 * Params of "txn" (docs/protocol.md section 12): @n of [conditions, then,
 * else], each made of the methods of METHODS[] on their set-up objects
 * (a nested txn's too, up to a depth of 2), the conditions of every op
 * and one that is none, a call now and then that is not [method, params].
 */
static void synth_txn(rq *q, unsigned n, unsigned depth)
{
	static const char *const OPS[] = { "eq",   "ne",    "lt",     "le",
					   "gt",   "ge",    "exists", "missing",
					   "held", "fence", "bogus" };
	msgpack_packer *pk = &q->pk;

	msgpack_pack_array(pk, n);
	for (unsigned part = 0; part < n && part < 3; part++) {
		uint8_t b = fz_u8(&q->in);
		unsigned k = b % 5;
		msgpack_pack_array(pk, k);
		for (unsigned i = 0; i < k; i++) {
			uint8_t c = fz_u8(&q->in);
			const struct method *m =
			    &METHODS[fz_u8(&q->in) % NMETHODS];
			if (c >= 0xf8) { /* not an array of two */
				synth(q, 2);
				continue;
			}
			if (part > 0) {
				msgpack_pack_array(pk, 2);
				ag_pack_str(pk, m->name);
				synth_call_params(q, m, depth);
				continue;
			}
			const char *op = OPS[c % 11];
			if (strcmp(op, "held") == 0 ||
			    strcmp(op, "fence") == 0) {
				bool fence = op[0] == 'f';
				msgpack_pack_array(pk, fence ? 3 : 2);
				ag_pack_str(pk, op);
				msgpack_pack_uint32(pk, c & 0x80 ? H_RLOCK
								 : H_LOCK);
				if (fence)
					msgpack_pack_uint8(pk,
							   fz_u8(&q->in) % 8);
				continue;
			}
			bool value = strcmp(op, "exists") != 0 &&
				     strcmp(op, "missing") != 0;
			msgpack_pack_array(pk, value ? 4 : 3);
			ag_pack_str(pk, op);
			ag_pack_str(pk, m->name);
			synth_call_params(q, m, depth);
			if (value)
				synth(q, 2);
		}
	}
	for (unsigned part = 3; part < n; part++)
		synth(q, 2);
}

/* Params read from the input as one MessagePack value, which an ag_reader
 * checks first (msgpack-c alone would trust a declared length). The
 * handle @h, when not 0, goes first. */
static void params_from_input(rq *q, uint32_t h)
{
	size_t avail = q->in.n < 512 ? q->in.n : 512;
	msgpack_object o;
	ag_reader r;
	int rc = 0;

	if (avail > 0 && ag_reader_init(&r, avail) == 0) {
		if (ag_reader_feed(&r, q->in.p, avail) == 0)
			rc = ag_reader_next(&r, &o);
		if (rc == 1) {
			size_t used = avail - ag_reader_pending(&r), skip;
			fz_take(&q->in, used, &skip);
			bool arr = o.type == MSGPACK_OBJECT_ARRAY;
			uint32_t n = arr ? o.via.array.size : 1;
			msgpack_pack_array(&q->pk, n + (h != 0));
			if (h != 0)
				msgpack_pack_uint32(&q->pk, h);
			for (uint32_t i = 0; i < n; i++)
				msgpack_pack_object(
				    &q->pk, arr ? o.via.array.ptr[i] : o);
		}
		ag_reader_deinit(&r);
	}
	if (rc != 1) {
		fz_u8(&q->in);
		msgpack_pack_array(&q->pk, h != 0);
		if (h != 0)
			msgpack_pack_uint32(&q->pk, h);
	}
}

/* get_any, take_any, wait_any and acquire_any: a list of 1 to 4
 * handles (mostly the set-up objects of the method's types: queue and
 * joinable queue, event, lock and rlock, so that duplicates come too;
 * else any set-up handle or one of none), then up to 4 synthesized
 * params (block, timeout, lease, details). */
static void synth_any(rq *q, const char *method, uint8_t hb, uint8_t pb)
{
	unsigned n = 1 + hb % 4, more = (pb >> 2) % 5;
	uint32_t a = H_QUEUE, b = H_JQUEUE;

	if (strcmp(method, "wait_any") == 0)
		a = b = H_EVENT;
	else if (strcmp(method, "acquire_any") == 0)
		a = H_LOCK, b = H_RLOCK;

	msgpack_pack_array(&q->pk, 1 + more);
	msgpack_pack_array(&q->pk, n);
	for (unsigned i = 0; i < n; i++) {
		uint8_t c = fz_u8(&q->in);
		msgpack_pack_uint32(
		    &q->pk, c < 0xc0 ? (c & 1 ? a : b)
				     : (uint32_t)(1 + c % (NSETUP + 2)));
	}
	for (unsigned i = 0; i < more; i++)
		synth(q, 1);
}

static void request(rq *q, uint8_t mb, uint8_t hb, uint8_t pb)
{
	const struct method *m = &METHODS[mb % NMETHODS];
	bool takes_handle = m->h != 0 || strcmp(m->name, "close") == 0 ||
			    strcmp(m->name, "info") == 0 ||
			    strcmp(m->name, "watch") == 0;
	uint32_t h = 0;

	if (takes_handle) {
		if (hb >= 0xe0)
			h = hb - 0xe0;
		else if (m->h == 0)
			h = 1 + hb % (NSETUP + 2);
		else
			h = hb & 1 ? m->alt : m->h;
	}
	if (conn_of(q) == NULL)
		return;
	ag_pack_request_head(&q->pk, ++q->msgid, m->name);
	if ((pb & 3) == 0) {
		params_from_input(q, h);
	} else if (strcmp(m->name, "open") == 0) {
		synth_open(q, (pb >> 2) % 5);
	} else if (strcmp(m->name, "txn") == 0) {
		synth_txn(q, (pb >> 2) % 5, 0);
	} else if (strcmp(m->name, "get_any") == 0 ||
		   strcmp(m->name, "take_any") == 0 ||
		   strcmp(m->name, "wait_any") == 0 ||
		   strcmp(m->name, "acquire_any") == 0) {
		synth_any(q, m->name, hb, pb);
	} else if (strcmp(m->name, "cancel") == 0 && (pb & 4) != 0) {
		/* One of this connection's recent requests, maybe parked. */
		msgpack_pack_array(&q->pk, 1);
		msgpack_pack_uint32(&q->pk, q->msgid - 1 - hb % 8);
	} else {
		unsigned n = (pb >> 2) % 5;
		msgpack_pack_array(&q->pk, n + (h != 0 || hb == 0xe0));
		if (h != 0 || hb == 0xe0)
			msgpack_pack_uint32(&q->pk, h);
		for (unsigned i = 0; i < n; i++)
			synth(q, 1);
	}
	q->last.len = 0;
	ag_buf_append(&q->last, q->out.data, q->out.len);
	send_out(q);
}

/* Run the loop for 2 ms: parked calls with short timeouts time out. */
static void wait_a_little(rq *q)
{
	struct timeval tv = { 0, 2000 };

	if (q->waits >= MAX_WAITS)
		return;
	q->waits++;
	event_base_loopexit(q->srv->base, &tv);
	event_base_dispatch(q->srv->base);
	forget_gone(q);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	rq q = { .in = { data, size } };
	uint8_t a, b, c;
	size_t len;

	if (ag_server_new_detached(FUZZ_KEY, FUZZ_KEYLEN, &q.srv) < 0)
		return 0;
	ag_buf_init(&q.out);
	ag_buf_init(&q.last);
	msgpack_packer_init(&q.pk, &q.out, ag_buf_write);
	conn_of(&q);

	while (q.in.n > 0) {
		uint8_t op = fz_u8(&q.in) % 16;

		switch (op) {
		case 10: {
			const uint8_t *p = fz_take(&q.in, fz_u8(&q.in), &len);
			if (conn_of(&q) != NULL)
				feed(&q, p, len);
			break;
		}
		case 11:
			run_pending(&q);
			break;
		case 12:
			q.cur = (q.cur + 1) % NCONN;
			break;
		case 13:
			if (q.conns[q.cur] != NULL)
				ag_conn_free(q.conns[q.cur]);
			q.conns[q.cur] = NULL;
			break;
		case 14:
			wait_a_little(&q);
			break;
		case 15:
			c = fz_u8(&q.in) % 8 + 1;
			for (unsigned i = 0; i < c && q.last.len > 0; i++) {
				if (conn_of(&q) == NULL)
					break;
				ag_buf_append(&q.out, q.last.data, q.last.len);
				send_out(&q);
			}
			break;
		default:
			a = fz_u8(&q.in);
			b = fz_u8(&q.in);
			c = fz_u8(&q.in);
			request(&q, a, b, c);
			break;
		}
	}
	ag_server_run_pending(q.srv);
	agora_server_free(q.srv);
	ag_buf_deinit(&q.out);
	ag_buf_deinit(&q.last);
	return 0;
}
