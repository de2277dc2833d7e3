/*
 * fuzz_graph.c - libFuzzer target: graphs of references between objects
 * (protocol section 8), built and let go of on authenticated detached
 * connections: chains of any depth, cycles, fan-out and fan-in, holds
 * passed to a connection by queue.get or list.pop, names dropped, handles
 * and connections closed while the server may still be freeing.
 *
 * Each input gets a fresh server and is a small program over NSLOT object
 * slots, NCONN connections (used in turns; one is current) and a budget of
 * MAX_LINKS objects for CHAIN and FAN. A slot knows an object's kind, its
 * reference (the bytes of its ext 1, whatever their length) and, maybe, a
 * handle of it on some connection. Each operation is a selector byte
 * (its value % 16) and operand bytes:
 *
 *   0  OPEN s k n      slot s: a new object of kind k (list, dict, queue,
 *                      joinable_queue, value, namespace) on the current
 *                      connection, anonymous for n < 0xc0, else named
 *                      NAMES[n % 4] (get-or-create: another type fails)
 *   1  STORE a b v     a's reference into b's object, by b's handle, with
 *                      the method of b's kind; v picks how (as an item, a
 *                      key, nested in an array or a map; see store())
 *   2  CLOSE a         close a's handle
 *   3  OPEN_REF a      a new handle for a's reference on the current
 *                      connection (NO_OBJECT once the object is gone)
 *   4  DROP n          drop the name NAMES[n % 4]
 *   5  CLEAR a v       empty a's object: list.clear, dict.clear, a queue's
 *                      get_nowait (the hold passes to the connection),
 *                      value.set nil, namespace.delete
 *   6  OVERWRITE a v   set over what a's object holds: list.set,
 *                      dict.set, value.set, namespace.set with an int
 *   7  TAKE a v        take out of a's object, the hold passing to the
 *                      connection: list.pop, dict.pop, dict.popitem,
 *                      queue get_nowait, value.swap; or dict.delete,
 *                      list.del_slice, namespace.delete
 *   8  PING
 *   9  CHAIN s t n k   a chain of 1 + n * 128 objects of kinds mixed by k,
 *                      each holding the previous one; the first holds t's
 *                      reference (t % 9 == 8: nothing); slot s gets the
 *                      last, the only handle left open
 *   10 FAN s t n k     slot s: a new list holding 1 + n * 16 objects of
 *                      kinds mixed by k, each holding t's reference (or
 *                      nothing, as for CHAIN); their handles closed
 *   11 SWITCH          the next connection becomes current
 *   12 CLOSE_CONN      the current connection closes (ag_conn_free): its
 *                      handles and the holds passed to it go
 *   13 SETTLE          ag_server_run_pending() up to 64 times more
 *   14 FORGE a v       open_ref of a reference that names nothing: an id
 *                      v % 64 as 8 bytes, or 16 with a zero secret, or a's
 *                      reference with a byte changed. A changed reference
 *                      of 16 bytes or more (one with a secret part) that
 *                      opens is a forgery that worked: the target traps.
 *   15 CYCLE a b       a's reference into b and b's into a
 *
 * A reference comes from `info` on a handle: its "ref" field (ext 1), or,
 * from a server without one, an ext 1 of the 8-byte big-endian "id"; the
 * target works before and after references gained a secret. Answers are
 * read from each connection's sink (ag_conn_capture).
 *
 * ag_server_run_pending() runs after every operation (one pass of the
 * loop: a free that the server spreads over loop turns goes on between
 * operations). At the end every connection is closed, the loop run until
 * the server holds nothing more or 1000 passes, and the server freed
 * (agora_server_free()): LeakSanitizer sees any object or value left
 * behind, ASan any use after free; a recursive free overflows the stack
 * on a deep chain.
 *
 * Programs build up to MAX_LINKS objects, so this target runs a few
 * inputs a second, not thousands. Against the recursive free it replaced,
 * it found the stack overflow in about 100 inputs from the seeds without
 * the deep chain.
 */
#include <string.h>

#include "fuzz_support.h"
#include "internal.h"

int FUZZ_ENTRY(const uint8_t *data, size_t size);

#define NCONN 3
#define NSLOT 8
#define NKIND 6
#define MAX_LINKS 32768 /* objects CHAIN and FAN make in one input */
#define REF_MAX 64
#define BATCH 256 /* requests fed before the answers are read */

enum kind { K_LIST, K_DICT, K_QUEUE, K_JQUEUE, K_VALUE, K_NAMESPACE };

static const char *const KIND_TYPE[NKIND] = {
	"list", "dict", "queue", "joinable_queue", "value", "namespace",
};
static const char *const NAMES[4] = { "a", "b", "c", "d" };
static const char *const KEYS[4] = { "prev", "k", "x", "next" };

typedef struct ref {
	uint8_t len; /* 0: none */
	uint8_t b[REF_MAX];
} ref;

typedef struct slot {
	uint8_t kind;
	uint8_t conn;    /* the connection the handle is on */
	uint32_t handle; /* 0: none */
	ref r;
} slot;

typedef struct gconn {
	ag_conn *c;  /* NULL: none yet, or it ended */
	ag_buf sink; /* its answers */
	size_t read; /* bytes of sink already parsed */
} gconn;

typedef struct gz {
	ag_server *srv;
	gconn conns[NCONN];
	unsigned cur;
	uint32_t msgid;
	unsigned links;
	fz in;
	ag_buf out; /* requests being built */
	msgpack_packer pk;
	msgpack_unpacked ans;
	slot slots[NSLOT];
	/* CHAIN and FAN: handles and references of a batch */
	uint32_t h[BATCH];
	ref r[BATCH];
} gz;

/* ---- connections and answers ---- */

/* The connection @ci, made when missing (NULL when out of memory). */
static ag_conn *conn_get(gz *g, unsigned ci)
{
	gconn *gc = &g->conns[ci];

	if (gc->c == NULL) {
		gc->c = ag_conn_new_detached(g->srv, true);
		if (gc->c != NULL)
			ag_conn_capture(gc->c, &gc->sink);
	}
	return gc->c;
}

/* Connection @ci is gone: forget it, its answers and its handles. */
static void conn_gone(gz *g, unsigned ci)
{
	g->conns[ci].c = NULL;
	g->conns[ci].sink.len = 0;
	g->conns[ci].read = 0;
	for (unsigned i = 0; i < NSLOT; i++)
		if (g->slots[i].conn == ci)
			g->slots[i].handle = 0;
}

/* Start a request to be fed later: [0, msgid, method, [ nparams ... */
static uint32_t begin(gz *g, const char *method, uint32_t nparams)
{
	ag_pack_request_head(&g->pk, ++g->msgid, method);
	msgpack_pack_array(&g->pk, nparams);
	return g->msgid;
}

/* Feed what was built to connection @ci. */
static void feed(gz *g, unsigned ci)
{
	gconn *gc = &g->conns[ci];

	if (g->out.len > 0 && gc->c != NULL &&
	    !ag_conn_feed(gc->c, g->out.data, g->out.len))
		conn_gone(g, ci);
	g->out.len = 0;
}

/* Feed, and let the loop send the answers to the sink. */
static void flush(gz *g, unsigned ci)
{
	feed(g, ci);
	ag_server_run_pending(g->srv);
}

/* Forget every answer read so far. */
static void discard_answers(gz *g)
{
	for (unsigned i = 0; i < NCONN; i++) {
		g->conns[i].sink.len = 0;
		g->conns[i].read = 0;
	}
}

/* The result of request @msgid on @ci, read from its sink (answers before
 * it are skipped), or NULL when it failed or has not come. Points into
 * g->ans until the next call. */
static const msgpack_object *answer(gz *g, unsigned ci, uint32_t msgid)
{
	gconn *gc = &g->conns[ci];

	for (;;) {
		size_t off = gc->read;
		uint32_t id;
		const msgpack_object *err, *res;

		if (gc->read >= gc->sink.len ||
		    msgpack_unpack_next(&g->ans, gc->sink.data, gc->sink.len,
					&off) != MSGPACK_UNPACK_SUCCESS)
			return NULL;
		gc->read = off;
		if (ag_parse_response(&g->ans.data, &id, &err, &res) < 0)
			return NULL;
		if (id == msgid)
			return err == NULL ? res : NULL;
	}
}

static uint32_t answer_handle(gz *g, unsigned ci, uint32_t msgid)
{
	const msgpack_object *o = answer(g, ci, msgid);

	if (o == NULL || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    o->via.u64 == 0 || o->via.u64 > UINT32_MAX)
		return 0;
	return (uint32_t)o->via.u64;
}

static const msgpack_object *map_get(const msgpack_object *m, const char *k)
{
	size_t klen = strlen(k);

	if (m == NULL || m->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object *key = &m->via.map.ptr[i].key;
		if (key->type == MSGPACK_OBJECT_STR &&
		    key->via.str.size == klen &&
		    memcmp(key->via.str.ptr, k, klen) == 0)
			return &m->via.map.ptr[i].val;
	}
	return NULL;
}

/* The reference in the info answer @msgid on @ci into *ret: "ref", or an
 * ext 1 of the big-endian "id". False when there is none. */
static bool answer_ref(gz *g, unsigned ci, uint32_t msgid, ref *ret)
{
	const msgpack_object *info = answer(g, ci, msgid);
	const msgpack_object *r = map_get(info, "ref");
	const msgpack_object *id = map_get(info, "id");

	if (r != NULL && r->type == MSGPACK_OBJECT_EXT &&
	    r->via.ext.type == 1 && r->via.ext.size <= REF_MAX) {
		ret->len = (uint8_t)r->via.ext.size;
		memcpy(ret->b, r->via.ext.ptr, r->via.ext.size);
		return true;
	}
	if (id != NULL && id->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		uint64_t v = id->via.u64;
		for (int i = 7; i >= 0; i--, v >>= 8)
			ret->b[i] = (uint8_t)v;
		ret->len = 8;
		return true;
	}
	return false;
}

static void pack_ref(gz *g, const ref *r)
{
	msgpack_pack_ext(&g->pk, r->len, 1);
	msgpack_pack_ext_body(&g->pk, r->b, r->len);
}

static void pack_handle(gz *g, uint32_t h)
{
	msgpack_pack_uint32(&g->pk, h);
}

/* ---- operations on objects ---- */

/* Build (not feed) a request storing @r into the object of kind @k behind
 * handle @h; @v picks the way. */
static void store(gz *g, enum kind k, uint32_t h, const ref *r, uint8_t v)
{
	const char *key = KEYS[(v >> 2) % 4];

	switch (k) {
	case K_LIST:
		switch (v % 3) {
		case 0:
			begin(g, "list.append", 2);
			pack_handle(g, h);
			pack_ref(g, r);
			break;
		case 1:
			begin(g, "list.insert", 3);
			pack_handle(g, h);
			msgpack_pack_int(&g->pk, 0);
			pack_ref(g, r);
			break;
		default:
			begin(g, "list.extend", 2);
			pack_handle(g, h);
			msgpack_pack_array(&g->pk, 2);
			pack_ref(g, r);
			pack_ref(g, r);
			break;
		}
		break;
	case K_DICT:
		switch (v % 4) {
		case 0:
			begin(g, "dict.set", 3);
			pack_handle(g, h);
			ag_pack_str(&g->pk, key);
			pack_ref(g, r);
			break;
		case 1: /* a reference as a key holds too */
			begin(g, "dict.set", 3);
			pack_handle(g, h);
			pack_ref(g, r);
			ag_pack_str(&g->pk, key);
			break;
		case 2:
			begin(g, "dict.update", 2);
			pack_handle(g, h);
			msgpack_pack_map(&g->pk, 1);
			ag_pack_str(&g->pk, key);
			msgpack_pack_array(&g->pk, 1);
			pack_ref(g, r);
			break;
		default:
			begin(g, "dict.setdefault", 3);
			pack_handle(g, h);
			ag_pack_str(&g->pk, key);
			pack_ref(g, r);
			break;
		}
		break;
	case K_QUEUE:
	case K_JQUEUE:
		begin(g, k == K_QUEUE ? "queue.put" : "joinable_queue.put", 2);
		pack_handle(g, h);
		if (v & 1) {
			msgpack_pack_array(&g->pk, 1);
			pack_ref(g, r);
		} else {
			pack_ref(g, r);
		}
		break;
	case K_VALUE:
		begin(g, "value.set", 2);
		pack_handle(g, h);
		if (v & 1) {
			msgpack_pack_map(&g->pk, 1);
			ag_pack_str(&g->pk, key);
			pack_ref(g, r);
		} else {
			pack_ref(g, r);
		}
		break;
	default:
		begin(g, "namespace.set", 3);
		pack_handle(g, h);
		ag_pack_str(&g->pk, key);
		pack_ref(g, r);
		break;
	}
}

static void request_handle(gz *g, const char *method, uint32_t h)
{
	begin(g, method, 1);
	pack_handle(g, h);
}

/* The kind of the @i-th object of a CHAIN or FAN: all of kind @mix when
 * it names one, else mixed. */
static enum kind kind_at(uint8_t mix, unsigned i)
{
	if (mix < NKIND)
		return (enum kind)mix;
	return (enum kind)((((i * 2654435761u) >> 16) ^ mix) % NKIND);
}

/* Open @n objects on connection @ci, the i-th of kind kind_at(@mix,
 * @first + i), all anonymous, or the first named @name; handles and
 * references into g->h and g->r (0 and an empty reference where that
 * failed). */
static void open_batch(gz *g, unsigned ci, unsigned first_obj, unsigned n,
		       uint8_t mix, const char *name)
{
	uint32_t first = g->msgid + 1;

	for (unsigned i = 0; i < n; i++) {
		begin(g, "open", 2);
		ag_pack_str(&g->pk, KIND_TYPE[kind_at(mix, first_obj + i)]);
		if (i == 0 && name != NULL)
			ag_pack_str(&g->pk, name);
		else
			msgpack_pack_nil(&g->pk);
	}
	flush(g, ci);
	for (unsigned i = 0; i < n; i++)
		g->h[i] = answer_handle(g, ci, first + i);
	discard_answers(g);
	first = g->msgid + 1;
	for (unsigned i = 0; i < n; i++)
		request_handle(g, "info", g->h[i]);
	flush(g, ci);
	for (unsigned i = 0; i < n; i++) {
		g->r[i].len = 0;
		if (g->h[i] != 0)
			answer_ref(g, ci, first + i, &g->r[i]);
	}
	discard_answers(g);
}

/* Slot @s takes the object behind handle @h on connection @ci. */
static void slot_set(gz *g, unsigned s, enum kind k, unsigned ci, uint32_t h,
		     const ref *r)
{
	slot *sl = &g->slots[s % NSLOT];

	sl->kind = (uint8_t)k;
	sl->conn = (uint8_t)ci;
	sl->handle = h;
	sl->r = *r;
}

/* The slot @b as an operand: a slot with a handle, or NULL. */
static slot *with_handle(gz *g, uint8_t b)
{
	slot *sl = &g->slots[b % NSLOT];

	return sl->handle != 0 && g->conns[sl->conn].c != NULL ? sl : NULL;
}

static const ref *ref_of(gz *g, uint8_t b)
{
	if (b % (NSLOT + 1) == NSLOT)
		return NULL;
	return g->slots[b % (NSLOT + 1)].r.len > 0
		   ? &g->slots[b % (NSLOT + 1)].r
		   : NULL;
}

static void op_open(gz *g)
{
	uint8_t s = fz_u8(&g->in), k = fz_u8(&g->in) % NKIND;
	uint8_t n = fz_u8(&g->in);

	if (conn_get(g, g->cur) == NULL)
		return;
	open_batch(g, g->cur, 0, 1, k, n < 0xc0 ? NULL : NAMES[n % 4]);
	if (g->h[0] != 0 && g->r[0].len > 0)
		slot_set(g, s, (enum kind)k, g->cur, g->h[0], &g->r[0]);
}

static void op_store(gz *g, uint8_t a, uint8_t b, uint8_t v)
{
	const slot *from = &g->slots[a % NSLOT];
	slot *to = with_handle(g, b);

	if (from->r.len == 0 || to == NULL)
		return;
	store(g, (enum kind)to->kind, to->handle, &from->r, v);
	feed(g, to->conn);
}

static void op_close(gz *g)
{
	slot *sl = with_handle(g, fz_u8(&g->in));

	if (sl == NULL)
		return;
	request_handle(g, "close", sl->handle);
	feed(g, sl->conn);
	sl->handle = 0;
}

static void op_open_ref(gz *g)
{
	slot *sl = &g->slots[fz_u8(&g->in) % NSLOT];
	uint32_t id;

	if (sl->r.len == 0 || conn_get(g, g->cur) == NULL)
		return;
	id = begin(g, "open_ref", 1);
	pack_ref(g, &sl->r);
	flush(g, g->cur);
	uint32_t h = answer_handle(g, g->cur, id);
	if (h != 0) {
		sl->conn = (uint8_t)g->cur;
		sl->handle = h;
	}
}

static void op_drop(gz *g)
{
	uint8_t n = fz_u8(&g->in);

	if (conn_get(g, g->cur) == NULL)
		return;
	begin(g, "drop", 1);
	ag_pack_str(&g->pk, NAMES[n % 4]);
	feed(g, g->cur);
}

static void op_clear(gz *g)
{
	slot *sl = with_handle(g, fz_u8(&g->in));
	uint8_t v = fz_u8(&g->in);

	if (sl == NULL)
		return;
	switch (sl->kind) {
	case K_LIST:
		request_handle(g, "list.clear", sl->handle);
		break;
	case K_DICT:
		request_handle(g, "dict.clear", sl->handle);
		break;
	case K_QUEUE:
		request_handle(g, "queue.get_nowait", sl->handle);
		break;
	case K_JQUEUE:
		request_handle(g, "joinable_queue.get_nowait", sl->handle);
		request_handle(g, "joinable_queue.task_done", sl->handle);
		break;
	case K_VALUE:
		begin(g, "value.set", 2);
		pack_handle(g, sl->handle);
		msgpack_pack_nil(&g->pk);
		break;
	default:
		begin(g, "namespace.delete", 2);
		pack_handle(g, sl->handle);
		ag_pack_str(&g->pk, KEYS[v % 4]);
		break;
	}
	feed(g, sl->conn);
}

static void op_overwrite(gz *g)
{
	slot *sl = with_handle(g, fz_u8(&g->in));
	uint8_t v = fz_u8(&g->in);

	if (sl == NULL)
		return;
	switch (sl->kind) {
	case K_LIST:
		begin(g, "list.set", 3);
		pack_handle(g, sl->handle);
		msgpack_pack_int(&g->pk, (v & 1) ? -1 : 0);
		msgpack_pack_int(&g->pk, v);
		break;
	case K_DICT:
		begin(g, "dict.set", 3);
		pack_handle(g, sl->handle);
		ag_pack_str(&g->pk, KEYS[v % 4]);
		msgpack_pack_int(&g->pk, v);
		break;
	case K_VALUE:
		begin(g, "value.set", 2);
		pack_handle(g, sl->handle);
		msgpack_pack_int(&g->pk, v);
		break;
	case K_NAMESPACE:
		begin(g, "namespace.set", 3);
		pack_handle(g, sl->handle);
		ag_pack_str(&g->pk, KEYS[v % 4]);
		msgpack_pack_int(&g->pk, v);
		break;
	default: /* a queue has nothing to set over */
		begin(g,
		      sl->kind == K_QUEUE ? "queue.put" : "joinable_queue.put",
		      2);
		pack_handle(g, sl->handle);
		msgpack_pack_int(&g->pk, v);
		break;
	}
	feed(g, sl->conn);
}

static void op_take(gz *g)
{
	slot *sl = with_handle(g, fz_u8(&g->in));
	uint8_t v = fz_u8(&g->in);

	if (sl == NULL)
		return;
	switch (sl->kind) {
	case K_LIST:
		if (v & 1) {
			begin(g, "list.pop", 2);
			pack_handle(g, sl->handle);
			msgpack_pack_int(&g->pk, (v & 2) ? 0 : -1);
		} else {
			begin(g, "list.del_slice", 3);
			pack_handle(g, sl->handle);
			msgpack_pack_int(&g->pk, 0);
			msgpack_pack_int(&g->pk, (v >> 2) % 4);
		}
		break;
	case K_DICT:
		switch (v % 3) {
		case 0:
			begin(g, "dict.pop", 2);
			pack_handle(g, sl->handle);
			ag_pack_str(&g->pk, KEYS[(v >> 2) % 4]);
			break;
		case 1:
			request_handle(g, "dict.popitem", sl->handle);
			break;
		default:
			begin(g, "dict.delete", 2);
			pack_handle(g, sl->handle);
			ag_pack_str(&g->pk, KEYS[(v >> 2) % 4]);
			break;
		}
		break;
	case K_QUEUE:
		request_handle(g, "queue.get_nowait", sl->handle);
		break;
	case K_JQUEUE:
		request_handle(g, "joinable_queue.get_nowait", sl->handle);
		break;
	case K_VALUE:
		begin(g, "value.swap", 2);
		pack_handle(g, sl->handle);
		msgpack_pack_nil(&g->pk);
		break;
	default:
		begin(g, "namespace.delete", 2);
		pack_handle(g, sl->handle);
		ag_pack_str(&g->pk, KEYS[v % 4]);
		break;
	}
	feed(g, sl->conn);
}

static void op_ping(gz *g)
{
	if (conn_get(g, g->cur) == NULL)
		return;
	begin(g, "ping", 0);
	feed(g, g->cur);
}

/* A budget of @want objects, cut to what MAX_LINKS has left. */
static unsigned take_links(gz *g, unsigned want)
{
	if (want > MAX_LINKS - g->links)
		want = MAX_LINKS - g->links;
	g->links += want;
	return want;
}

static void op_chain(gz *g)
{
	uint8_t s = fz_u8(&g->in), t = fz_u8(&g->in);
	unsigned n = take_links(g, 1 + fz_u8(&g->in) * 128u);
	uint8_t mix = fz_u8(&g->in);
	const ref *tail_holds = ref_of(g, t);
	ref prev = { 0 }, head_ref = { 0 };
	uint32_t prev_h = 0;
	enum kind head_kind = K_LIST;
	unsigned ci = g->cur;

	if (n == 0 || conn_get(g, ci) == NULL)
		return;
	if (tail_holds != NULL)
		prev = *tail_holds;
	for (unsigned done = 0; done < n && g->conns[ci].c != NULL;) {
		unsigned m = n - done < BATCH ? n - done : BATCH;

		open_batch(g, ci, done, m, mix, NULL);
		for (unsigned i = 0; i < m; i++) {
			enum kind k = kind_at(mix, done + i);
			if (g->h[i] == 0)
				continue;
			if (prev.len > 0)
				store(g, k, g->h[i], &prev,
				      (uint8_t)((mix >> 3) + done + i));
			if (prev_h != 0)
				request_handle(g, "close", prev_h);
			prev = g->r[i];
			prev_h = g->h[i];
			head_kind = k;
		}
		head_ref = prev;
		flush(g, ci);
		discard_answers(g);
		done += m;
	}
	if (prev_h != 0 && g->conns[ci].c != NULL)
		slot_set(g, s, head_kind, ci, prev_h, &head_ref);
}

static void op_fan(gz *g)
{
	uint8_t s = fz_u8(&g->in), t = fz_u8(&g->in);
	unsigned n = take_links(g, 1 + fz_u8(&g->in) * 16u);
	uint8_t mix = fz_u8(&g->in);
	const ref *held = ref_of(g, t);
	ref held_copy = { 0 }, fan_ref;
	unsigned ci = g->cur;
	uint32_t fan;

	if (n == 0 || conn_get(g, ci) == NULL)
		return;
	if (held != NULL)
		held_copy = *held;
	open_batch(g, ci, 0, 1, K_LIST, NULL);
	fan = g->h[0];
	fan_ref = g->r[0];
	if (fan == 0 || fan_ref.len == 0)
		return;
	for (unsigned done = 0; done < n && g->conns[ci].c != NULL;) {
		unsigned m = n - done < BATCH ? n - done : BATCH;

		open_batch(g, ci, done, m, mix, NULL);
		for (unsigned i = 0; i < m; i++) {
			if (g->h[i] == 0)
				continue;
			if (held != NULL)
				store(g, kind_at(mix, done + i), g->h[i],
				      &held_copy, (uint8_t)((mix >> 3) + i));
			store(g, K_LIST, fan, &g->r[i], 0);
			request_handle(g, "close", g->h[i]);
		}
		flush(g, ci);
		discard_answers(g);
		done += m;
	}
	if (g->conns[ci].c != NULL)
		slot_set(g, s, K_LIST, ci, fan, &fan_ref);
}

static void op_close_conn(gz *g)
{
	gconn *gc = &g->conns[g->cur];

	if (gc->c == NULL)
		return;
	ag_conn_free(gc->c);
	conn_gone(g, g->cur);
}

static void op_settle(gz *g)
{
	for (unsigned i = 0; i < 64; i++)
		ag_server_run_pending(g->srv);
}

static void op_forge(gz *g)
{
	const slot *sl = &g->slots[fz_u8(&g->in) % NSLOT];
	uint8_t v = fz_u8(&g->in);
	bool changed_secret = false;
	ref r = { 0 };
	uint32_t id;

	if (conn_get(g, g->cur) == NULL)
		return;
	if (v % 3 == 2 && sl->r.len > 0) {
		r = sl->r;
		r.b[(v >> 2) % r.len] ^= (uint8_t)(1u << (v % 8));
		changed_secret = r.len >= 16;
	} else {
		r.len = v % 3 == 0 ? 8 : 16;
		r.b[7] = (uint8_t)(v % 64);
	}
	id = begin(g, "open_ref", 1);
	pack_ref(g, &r);
	flush(g, g->cur);
	/* A reference that carries a secret, changed in any byte, names no
	 * object (docs/security.md). */
	if (changed_secret && answer_handle(g, g->cur, id) != 0)
		__builtin_trap();
}

static void op_cycle(gz *g)
{
	uint8_t a = fz_u8(&g->in), b = fz_u8(&g->in);

	op_store(g, a, b, a);
	op_store(g, b, a, b);
}

/* ---- the program ---- */

/* Close every connection and let the server free what that releases,
 * until it holds nothing more or 1000 passes went by. */
static void wind_down(gz *g)
{
	for (unsigned i = 0; i < NCONN; i++) {
		if (g->conns[i].c != NULL)
			ag_conn_free(g->conns[i].c);
		conn_gone(g, i);
	}
	for (unsigned i = 0; i < 1000 && g->srv->nobjects > 0; i++) {
		uint64_t before = g->srv->nobjects;
		ag_server_run_pending(g->srv);
		if (g->srv->nobjects == before && i > 8)
			break; /* cycles and named objects stay */
	}
}

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	static gz g; /* large: the batch arrays */

	memset(&g, 0, sizeof(g));
	g.in.p = data;
	g.in.n = size;
	if (ag_server_new_detached(FUZZ_KEY, FUZZ_KEYLEN, &g.srv) < 0)
		return 0;
	ag_buf_init(&g.out);
	for (unsigned i = 0; i < NCONN; i++)
		ag_buf_init(&g.conns[i].sink);
	msgpack_packer_init(&g.pk, &g.out, ag_buf_write);
	msgpack_unpacked_init(&g.ans);

	while (g.in.n > 0) {
		uint8_t a, b;

		switch (fz_u8(&g.in) % 16) {
		case 0:
			op_open(&g);
			break;
		case 1:
			a = fz_u8(&g.in);
			b = fz_u8(&g.in);
			op_store(&g, a, b, fz_u8(&g.in));
			break;
		case 2:
			op_close(&g);
			break;
		case 3:
			op_open_ref(&g);
			break;
		case 4:
			op_drop(&g);
			break;
		case 5:
			op_clear(&g);
			break;
		case 6:
			op_overwrite(&g);
			break;
		case 7:
			op_take(&g);
			break;
		case 8:
			op_ping(&g);
			break;
		case 9:
			op_chain(&g);
			break;
		case 10:
			op_fan(&g);
			break;
		case 11:
			g.cur = (g.cur + 1) % NCONN;
			break;
		case 12:
			op_close_conn(&g);
			break;
		case 13:
			op_settle(&g);
			break;
		case 14:
			op_forge(&g);
			break;
		default:
			op_cycle(&g);
			break;
		}
		ag_server_run_pending(g.srv);
		discard_answers(&g);
	}
	wind_down(&g);
	agora_server_free(g.srv);
	msgpack_unpacked_destroy(&g.ans);
	ag_buf_deinit(&g.out);
	for (unsigned i = 0; i < NCONN; i++)
		ag_buf_deinit(&g.conns[i].sink);
	return 0;
}
