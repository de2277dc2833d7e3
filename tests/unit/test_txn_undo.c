/*
 * test_txn_undo.c - a transaction that fails leaves every object exactly as
 * it was (docs/protocol.md section 12, "Atomicity"), for every method that
 * changes an object.
 *
 * The list of methods comes from the server's tables (ag_families(), each
 * family's methods): every method that needs the write right must have at
 * least one entry in ENTRIES below, or the test fails naming it, so a new
 * method cannot skip the check. An entry says how to set up objects (their
 * types and options, then calls that fill them: stored references between
 * objects, dict keys with TTLs, queue items pending after a take, a held
 * lock, a second connection parked on an object...) and the params of one
 * call of the method that succeeds and changes something.
 *
 * For each entry, on a fresh detached server (no socket: requests are fed
 * to connections and their answers captured, ag_conn_capture):
 *   - the state is fingerprinted: a snapshot of every object's records
 *     (ag_snapshot_write, what a data directory keeps), the `info` answer
 *     of every handle, the connection's holds (`clients`), and of every
 *     object its references, memory, version and waiters, with the
 *     server's memory figure and the holds passed to the connection;
 *   - `txn [[], [[method, params], ["dict.getitem", [h_other, "absent"]]], []]`
 *     must answer the failing call's KEY with {"branch": "then", "call": 1}
 *     as its fourth element, and leave the fingerprint identical; so must
 *     the same with the call in the middle of three (after a write of
 *     another dict, failing on a write: a dict.pop of a missing key) and
 *     in the else branch;
 *   - a second connection, which watches every object (and may be parked
 *     on one, or subscribed to a topic), receives nothing from the failed
 *     transactions;
 *   - the transaction without the failing call answers succeeded true, the
 *     snapshot differs afterwards (the call really changed something:
 *     else the check above could not fail), and the second connection
 *     receives something (a watch notification, a wake). An entry whose
 *     method changes nothing a snapshot holds says so, with the reason;
 *     the rest of the fingerprint must differ then, or the second
 *     connection must see the effect;
 *   - the call alone, outside a transaction, succeeds and changes the
 *     fingerprint too (the entry is valid whatever txn does).
 * Some entries put other calls before the method's in each transaction
 * (pre): several changes of one object in one transaction, where a
 * family's cheaper undo gives way to a copy.
 * Entries for the forms a transaction refuses (a call that may park)
 * check instead that the transaction answers ARGS naming that call, and
 * that nothing changed, a write before it included.
 */
#include <check.h>
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "detached.h"
#include "internal.h"
#include "persist.h"

#define KEY "agora unit test key, 32 bytes.."

/* ---- the table ----------------------------------------------------------- */

/*
 * objs: the objects to open, ';'-separated, "TYPE OPTIONS" each, named
 *   "o1", "o2"... in order (so handle N of both connections is object N).
 * setup: calls before the transaction, ';'-separated, "METHOD PARAMS";
 *   a call prefixed "2:" is made by the second connection (it may park).
 *   Each must answer without error (or park).
 * params: the params of the method's call.
 * post: calls made after the transaction by the first connection (both
 *   when it failed and when it committed), before the second
 *   connection's output is read: what lets the effect show (a release
 *   after a notify). With post, the second connection's parked call
 *   must be answered after the committed transaction, and not after the
 *   failed one.
 * W: an entry; R: a form refused inside a transaction; N: one whose
 *   call changes nothing a snapshot holds (why, and optionally
 *   info_same and post); S, SN: after other calls (pre).
 * Values are JSON-like: ints, floats, "strs", true, false, null, arrays,
 * maps, $N (handle N, an int) and @N (the reference of handle N's object).
 */
enum { CHANGES = 0, REFUSED = 1 };

struct entry {
	const char *method;
	const char *objs;
	const char *setup;
	const char *params;
	int kind;
	/* Set when the call changes nothing a snapshot holds, by nature: why.
	 * Then the rest of the fingerprint (info, holds, versions) must
	 * change, unless info_same is set too: then what the second
	 * connection receives (after post) is the only effect checked. */
	const char *snap_same;
	bool info_same;
	const char *post;
	/* Calls ([method, params], ','-separated) that come before the
	 * method's call in each transaction (and alone before it): several
	 * changes of one object in one transaction. */
	const char *pre;
};

#define W(m, o, s, p)                                        \
	{                                                    \
		m, o, s, p, CHANGES, NULL, false, NULL, NULL \
	}
#define R(m, o, s, p)                                        \
	{                                                    \
		m, o, s, p, REFUSED, NULL, false, NULL, NULL \
	}
#define N(m, o, s, p, ...) E_(m, o, s, p, __VA_ARGS__, false, NULL)
#define E_(m, o, s, p, why, same, post, ...)               \
	{                                                  \
		m, o, s, p, CHANGES, why, same, post, NULL \
	}
/* After the calls @pre in the same transaction; SN: with a reason. */
#define S(m, o, s, pre, p)                                  \
	{                                                   \
		m, o, s, p, CHANGES, NULL, false, NULL, pre \
	}
#define SN(m, o, s, pre, p, why)                           \
	{                                                  \
		m, o, s, p, CHANGES, why, false, NULL, pre \
	}

#define LIST_OBJS "list {}; value {}"
#define LIST_SETUP "list.extend [$1, [1, \"x\", @2, [1, 2], 3]]"
#define DICT_OBJS "dict {}; value {}"
#define DICT_SETUP                                                           \
	"dict.set [$1, \"a\", 1]; dict.set [$1, \"r\", @2]; "                \
	"dict.set [$1, @2, \"refkey\"]; dict.set [$1, \"t\", \"v\", 1000]; " \
	"dict.set [$1, \"c\", 10, 2000]"
/* o1 the dead-letter queue, o2 the queue, o3 a referenced value; item
 * "a" (id 1) pending on this connection with a lease. */
#define QUEUE_OBJS(t, opts) t " {}; " t " " opts "; value {}"
#define QUEUE_SETUP(t)                                                      \
	t ".put [$2, \"a\"]; " t ".put [$2, @3]; " t ".put [$2, \"c\"]; " t \
	  ".take [$2, false, null, 30]"
#define DLQ "{\"max_deliveries\": 1, \"dead_letter\": \"o1\"}"

#define QUEUE_ENTRIES(t)                                                       \
	R(t ".put", QUEUE_OBJS(t, "{}"), QUEUE_SETUP(t), "[$2, \"e\"]")        \
	, W(t ".put", QUEUE_OBJS(t, "{}"), QUEUE_SETUP(t), "[$2, @3, false]"), \
	    R(t ".get", QUEUE_OBJS(t, "{}"), QUEUE_SETUP(t), "[$2]"),          \
	    R(t ".get", QUEUE_OBJS(t, "{}"), QUEUE_SETUP(t), "[$2, true, 0]"), \
	    W(t ".get", QUEUE_OBJS(t, "{}"), QUEUE_SETUP(t), "[$2, false]"),   \
	    W(t ".put_nowait", QUEUE_OBJS(t, "{}"), QUEUE_SETUP(t),            \
	      "[$2, @3]"),                                                     \
	    W(t ".get_nowait", QUEUE_OBJS(t, "{}"), QUEUE_SETUP(t), "[$2]"),   \
	    W(t ".get_nowait", QUEUE_OBJS(t, "{\"maxsize\": 1}"),              \
	      t ".put [$2, \"a\"]; 2:" t ".put [$2, \"b\"]", "[$2]"),          \
	    R(t ".take", QUEUE_OBJS(t, "{}"), QUEUE_SETUP(t), "[$2]"),         \
	    W(t ".take", QUEUE_OBJS(t, "{}"), QUEUE_SETUP(t),                  \
	      "[$2, false, null, 10, true]"),                                  \
	    W(t ".take", QUEUE_OBJS(t, "{}"), QUEUE_SETUP(t), "[$2, false]"),  \
	    W(t ".ack", QUEUE_OBJS(t, "{}"), QUEUE_SETUP(t), "[$2, 1]"),       \
	    W(t ".nack", QUEUE_OBJS(t, "{}"), QUEUE_SETUP(t), "[$2, 1]"),      \
	    W(t ".nack", QUEUE_OBJS(t, DLQ), QUEUE_SETUP(t), "[$2, 1]"),       \
	    W(t ".nack", QUEUE_OBJS(t, DLQ),                                   \
	      QUEUE_SETUP(t) "; 2:" t ".get [$1]", "[$2, 1]")

#define LOCK_ENTRIES(t)                                                        \
	R(t ".acquire", t " {}", "", "[$1]"),                                  \
	    R(t ".acquire", t " {}", "", "[$1, true, 5]"),                     \
	    W(t ".acquire", t " {}", "", "[$1, false]"),                       \
	    W(t ".acquire", t " {}", "", "[$1, false, 5]"),                    \
	    R(t ".acquire_fenced", t " {}", "", "[$1]"),                       \
	    W(t ".acquire_fenced", t " {}", "", "[$1, false]"),                \
	    W(t ".release", t " {}", t ".acquire_fenced [$1, false]", "[$1]"), \
	    W(t ".release", t " {}",                                           \
	      t ".acquire [$1, false]; 2:" t ".acquire [$1]", "[$1]")

#define OWNED_WHY                                                            \
	"the permits an owned semaphore's connections hold are given back "  \
	"when they end, so a snapshot keeps the count without them: info's " \
	"value and the connection's holds change"

#define SEM_ENTRIES(t)                                                        \
	R(t ".acquire", t " {\"value\": 2}", "", "[$1]")                      \
	, W(t ".acquire", t " {\"value\": 2}", "", "[$1, false]"),            \
	    N(t ".acquire", t " {\"value\": 2, \"owned\": true}", "",         \
	      "[$1, false, 1]", OWNED_WHY),                                   \
	    W(t ".release", t " {\"value\": 2}", t ".acquire [$1, false]",    \
	      "[$1]"),                                                        \
	    N(t ".release", t " {\"value\": 2, \"owned\": true}",             \
	      t ".acquire [$1, false]; " t ".acquire [$1, false]", "[$1, 2]", \
	      OWNED_WHY),                                                     \
	    N(t ".release", t " {\"value\": 1}",                              \
	      t ".acquire [$1, false]; 2:" t ".acquire [$1]", "[$1]",         \
                                                                              \
	      "the permit goes straight to the parked acquire: the count "    \
	      "is 0 before and after")

static const struct entry ENTRIES[] = {
	/* list */
	W("list.append", LIST_OBJS, LIST_SETUP, "[$1, @2]"),
	W("list.extend", LIST_OBJS, LIST_SETUP, "[$1, [4, @2, {\"m\": 1}]]"),
	W("list.insert", LIST_OBJS, LIST_SETUP, "[$1, 0, @2]"),
	W("list.set", LIST_OBJS, LIST_SETUP, "[$1, 2, 7]"),
	W("list.delete", LIST_OBJS, LIST_SETUP, "[$1, 2]"),
	W("list.set_slice", LIST_OBJS, LIST_SETUP, "[$1, 1, 3, [9, 9, 9]]"),
	W("list.del_slice", LIST_OBJS, LIST_SETUP, "[$1, 0, 3]"),
	W("list.pop", LIST_OBJS, LIST_SETUP, "[$1, 2]"),
	W("list.pop", LIST_OBJS, LIST_SETUP, "[$1]"),
	W("list.remove", LIST_OBJS, LIST_SETUP, "[$1, \"x\"]"),
	W("list.reverse", LIST_OBJS, LIST_SETUP, "[$1]"),
	W("list.sort", "list {}", "list.extend [$1, [3, 1.5, 2, -7]]", "[$1]"),
	W("list.sort", "list {}", "list.extend [$1, [\"b\", \"a\", \"c\"]]",
	  "[$1, true]"),
	W("list.clear", LIST_OBJS, LIST_SETUP, "[$1]"),
	/* dict */
	W("dict.set", DICT_OBJS, DICT_SETUP, "[$1, \"a\", @2]"),
	W("dict.set", DICT_OBJS, DICT_SETUP, "[$1, \"t\", \"w\"]"),
	W("dict.set", DICT_OBJS, DICT_SETUP, "[$1, \"n\", 1, 500]"),
	W("dict.set", DICT_OBJS, DICT_SETUP, "[$1, \"r\", 2]"),
	W("dict.delete", DICT_OBJS, DICT_SETUP, "[$1, \"r\"]"),
	W("dict.delete", DICT_OBJS, DICT_SETUP, "[$1, @2]"),
	W("dict.pop", DICT_OBJS, DICT_SETUP, "[$1, \"r\"]"),
	W("dict.pop", DICT_OBJS, DICT_SETUP, "[$1, \"t\", 0]"),
	W("dict.popitem", DICT_OBJS, DICT_SETUP, "[$1]"),
	W("dict.setdefault", DICT_OBJS, DICT_SETUP, "[$1, \"new\", @2]"),
	W("dict.update", DICT_OBJS, DICT_SETUP,
	  "[$1, {\"a\": 5, \"z\": @2, \"t\": 1}]"),
	W("dict.clear", DICT_OBJS, DICT_SETUP, "[$1]"),
	W("dict.incr", DICT_OBJS, DICT_SETUP, "[$1, \"c\", 5]"),
	W("dict.incr", DICT_OBJS, DICT_SETUP, "[$1, \"new\", 2.5]"),
	W("dict.expire", DICT_OBJS, DICT_SETUP, "[$1, \"a\", 100]"),
	W("dict.expire", DICT_OBJS, DICT_SETUP, "[$1, \"t\", null]"),
	W("dict.expire_at", DICT_OBJS, DICT_SETUP, "[$1, \"r\", 4000000000.0]"),
	W("dict.expire_at", DICT_OBJS, DICT_SETUP, "[$1, \"a\", 1.0]"),
	W("dict.expired", DICT_OBJS, DICT_SETUP, "[$1, [\"a\", \"t\", @2]]"),
	/* queue and joinable_queue */
	QUEUE_ENTRIES("queue"),
	QUEUE_ENTRIES("joinable_queue"),
	N("queue.put", QUEUE_OBJS("queue", "{}"), "2:queue.get [$2]",
	  "[$2, \"e\", false]",
	  "the item goes straight to the parked get: the queue is empty "
	  "before and after"),
	W("joinable_queue.put", QUEUE_OBJS("joinable_queue", "{}"),
	  "2:joinable_queue.get [$2]", "[$2, \"e\", false]"),
	W("joinable_queue.task_done", QUEUE_OBJS("joinable_queue", "{}"),
	  QUEUE_SETUP("joinable_queue"), "[$2]"),
	W("joinable_queue.task_done", QUEUE_OBJS("joinable_queue", "{}"),
	  "joinable_queue.put [$2, 1]; joinable_queue.get [$2, false]; "
	  "2:joinable_queue.join [$2]",
	  "[$2]"),
	R("joinable_queue.join", QUEUE_OBJS("joinable_queue", "{}"),
	  QUEUE_SETUP("joinable_queue"), "[$2, 0]"),
	/* value */
	W("value.set", "value {}; value {}", "", "[$1, @2]"),
	W("value.set", "value {}; value {}", "value.set [$1, @2]", "[$1, 1]"),
	W("value.add", "value {\"initial\": 10}", "", "[$1, 3]"),
	W("value.add", "value {\"initial\": 10}", "", "[$1, 0.5]"),
	W("value.cas", "value {}; value {}", "value.set [$1, @2]",
	  "[$1, @2, [@2]]"),
	W("value.swap", "value {}; value {}", "value.set [$1, @2]", "[$1, 20]"),
	/* array */
	W("array.set", "array {\"typecode\": \"i\", \"items\": [1, 2, 3, 4]}",
	  "", "[$1, 0, 9]"),
	W("array.set", "array {\"typecode\": \"d\", \"length\": 3}", "",
	  "[$1, -1, 2.5]"),
	W("array.set_slice",
	  "array {\"typecode\": \"i\", \"items\": [1, 2, 3, 4]}", "",
	  "[$1, 1, [7, 8]]"),
	/* namespace */
	W("namespace.set", "namespace {}; value {}",
	  "namespace.set [$1, \"a\", 1]; namespace.set [$1, \"r\", @2]",
	  "[$1, \"b\", @2]"),
	W("namespace.set", "namespace {}; value {}",
	  "namespace.set [$1, \"a\", 1]; namespace.set [$1, \"r\", @2]",
	  "[$1, \"r\", 1]"),
	W("namespace.delete", "namespace {}; value {}",
	  "namespace.set [$1, \"a\", 1]; namespace.set [$1, \"r\", @2]",
	  "[$1, \"r\"]"),
	/* lock, rlock */
	LOCK_ENTRIES("lock"),
	LOCK_ENTRIES("rlock"),
	N("rlock.acquire", "rlock {}", "rlock.acquire [$1, false]",
	  "[$1, false]",
	  "a re-entrant acquire changes only the count, which no restart "
	  "keeps (no connection survives one)"),
	N("rlock.acquire_fenced", "rlock {}", "rlock.acquire [$1, false]",
	  "[$1, false]",
	  "a re-entrant acquire changes only the count, which no restart "
	  "keeps"),
	N("rlock.release", "rlock {}",
	  "rlock.acquire [$1, false]; rlock.acquire [$1, false]", "[$1]",

	  "releasing one of two counts changes only the count, which no "
	  "restart keeps"),
	/* semaphore, bounded_semaphore */
	SEM_ENTRIES("semaphore"),
	SEM_ENTRIES("bounded_semaphore"),
	/* condition: o1 its lock, o2 the condition over it, o3 one with its
	 * own rlock */
	R("condition.acquire", "lock {}; condition {\"lock\": $1}", "", "[$2]"),
	W("condition.acquire", "lock {}; condition {\"lock\": $1}", "",
	  "[$2, false]"),
	W("condition.acquire", "condition {}", "", "[$1, false, 1]"),
	W("condition.release", "lock {}; condition {\"lock\": $1}",
	  "condition.acquire [$2, false]", "[$2]"),
	W("condition.release", "condition {}",
	  "condition.acquire [$1, false]; 2:condition.acquire [$1]", "[$1]"),
	R("condition.wait", "condition {}", "condition.acquire [$1, false]",
	  "[$1, 0]"),
	R("condition.wait", "condition {}", "condition.acquire [$1, false]",
	  "[$1]"),
	N("condition.notify", "condition {}",
	  "2:condition.acquire [$1, false]; 2:condition.wait [$1]; "
	  "condition.acquire [$1, false]",
	  "[$1]",
	  "a notify changes which waiters wait for what: no object's "
	  "contents",
	  true, "condition.release [$1]"),
	N("condition.notify", "lock {}; condition {\"lock\": $1}",
	  "2:condition.acquire [$2, false]; 2:condition.wait [$2]; "
	  "condition.acquire [$2, false]",
	  "[$2, 2]", "a notify changes no object's contents", true,
	  "lock.release [$1]"),
	N("condition.notify_all", "condition {}",
	  "2:condition.acquire [$1, false]; 2:condition.wait [$1]; "
	  "condition.acquire [$1, false]",
	  "[$1]", "a notify changes no object's contents", true,
	  "condition.release [$1]"),
	/* event */
	W("event.set", "event {}", "", "[$1]"),
	W("event.set", "event {}", "2:event.wait [$1]", "[$1]"),
	W("event.clear", "event {}", "event.set [$1]", "[$1]"),
	R("event.wait", "event {}", "", "[$1, 0]"),
	/* barrier */
	R("barrier.wait", "barrier {\"parties\": 1}", "", "[$1]"),
	R("barrier.wait", "barrier {\"parties\": 1}", "", "[$1, 0]"),
	W("barrier.reset", "barrier {\"parties\": 2}", "barrier.abort [$1]",
	  "[$1]"),
	N("barrier.reset", "barrier {\"parties\": 3}", "2:barrier.wait [$1]",
	  "[$1]",
	  "resetting a barrier that is not broken answers its waiters "
	  "BROKEN and leaves it not broken: the waiters are no state"),
	W("barrier.abort", "barrier {\"parties\": 2}", "", "[$1]"),
	W("barrier.abort", "barrier {\"parties\": 2}", "2:barrier.wait [$1]",
	  "[$1]"),
	/* several changes of one object in one transaction: the families'
	 * cheaper undo (a list's length, a queue's log of its ring's ends)
	 * and where it gives way to a copy */
	S("list.append", LIST_OBJS, LIST_SETUP,
	  "[\"list.append\", [$1, 1]], [\"list.append\", [$1, @2]]", "[$1, 2]"),
	S("list.pop", LIST_OBJS, LIST_SETUP, "[\"list.append\", [$1, @2]]",
	  "[$1, 0]"),
	S("list.append", LIST_OBJS, LIST_SETUP,
	  "[\"list.pop\", [$1]], [\"list.insert\", [$1, 0, @2]]", "[$1, 5]"),
	S("dict.pop", DICT_OBJS, DICT_SETUP,
	  "[\"dict.set\", [$1, \"n\", @2, 100]], [\"dict.expire\", [$1, "
	  "\"a\", 50]], [\"dict.delete\", [$1, \"c\"]]",
	  "[$1, \"t\"]"),
	S("dict.setdefault", DICT_OBJS, DICT_SETUP,
	  "[\"dict.set\", [$1, \"a\", 2]], [\"dict.incr\", [$1, \"c\", 1]], "
	  "[\"dict.set\", [$1, \"n\", @2]]",
	  "[$1, \"m\", 1]"),
	S("dict.set", DICT_OBJS, DICT_SETUP,
	  "[\"dict.set\", [$1, \"a\", @2]], [\"dict.set\", [$1, \"a\", 3]]",
	  "[$1, \"r\", 1]"),
	S("dict.update", DICT_OBJS, DICT_SETUP,
	  "[\"dict.incr\", [$1, \"c\", 2]]", "[$1, {\"c\": 1, \"x\": @2}]"),
	S("dict.delete", DICT_OBJS, DICT_SETUP,
	  "[\"dict.set\", [$1, \"n\", 1]], [\"dict.incr\", [$1, \"a\"]]",
	  "[$1, \"n\"]"),
	S("dict.set", DICT_OBJS, DICT_SETUP,
	  "[\"dict.expire\", [$1, \"t\", null]]", "[$1, \"t\", 5, 100]"),
	S("dict.clear", DICT_OBJS, DICT_SETUP,
	  "[\"dict.set\", [$1, \"a\", 2]], [\"dict.set\", [$1, \"new\", 1]]",
	  "[$1]"),
	S("queue.put", QUEUE_OBJS("queue", "{}"), QUEUE_SETUP("queue"),
	  "[\"queue.get\", [$2, false]], [\"queue.put\", [$2, \"y\", false]], "
	  "[\"queue.get_nowait\", [$2]]",
	  "[$2, @3, false]"),
	S("queue.nack", QUEUE_OBJS("queue", "{}"), QUEUE_SETUP("queue"),
	  "[\"queue.take\", [$2, false, null, 5]], [\"queue.put\", [$2, 9, "
	  "false]]",
	  "[$2, 2]"),
	S("queue.get", QUEUE_OBJS("queue", "{}"), QUEUE_SETUP("queue"),
	  "[\"queue.nack\", [$2, 1]]", "[$2, false]"),
	SN("queue.get_nowait", QUEUE_OBJS("queue", "{}"), "2:queue.get [$2]",
	   "[\"queue.put\", [$2, 1, false]], [\"queue.put\", [$2, 2, "
	   "false]]",
	   "[$2]",
	   "the first put goes to the parked get, the get takes the second: "
	   "empty before and after, the getter's answer is the effect"),
	S("joinable_queue.task_done", QUEUE_OBJS("joinable_queue", "{}"),
	  QUEUE_SETUP("joinable_queue"),
	  "[\"joinable_queue.ack\", [$2, 1]], [\"joinable_queue.get\", [$2, "
	  "false]]",
	  "[$2]"),
	S("lock.acquire_fenced", "lock {}", "lock.acquire [$1, false]",
	  "[\"lock.release\", [$1]]", "[$1, false]"),
	S("rlock.acquire", "rlock {}",
	  "rlock.acquire [$1, false]; 2:rlock.acquire [$1]",
	  "[\"rlock.release\", [$1]]", "[$1, false]"),
	SN("semaphore.acquire", "semaphore {\"value\": 0}",
	   "2:semaphore.acquire [$1]", "[\"semaphore.release\", [$1, 2]]",
	   "[$1, false]",
	   "of two permits released, one goes to the parked acquire and "
	   "the acquire takes the other: 0 before and after"),
	SN("event.clear", "event {}", "2:event.wait [$1]",
	   "[\"event.set\", [$1]]", "[$1]",
	   "set and cleared again in one transaction: clear before and "
	   "after, its waiter not woken; only its version changes"),
	SN("barrier.reset", "barrier {\"parties\": 2}", "2:barrier.wait [$1]",
	   "[\"barrier.abort\", [$1]]", "[$1]",
	   "aborted and reset: not broken before and after, the waiter's "
	   "BROKEN is the effect"),
	/* topic */
	N("topic.publish", "topic {}", "2:topic.subscribe [$1]",
	  "[$1, [\"m\", @1]]",
	  "a topic stores no message: `published` in info and the "
	  "subscriber's message are the effect"),
	R("topic.subscribe", "topic {}", "", "[$1]"),
	R("topic.unsubscribe", "topic {}", "topic.subscribe [$1]", "[$1]"),
};

#define NENTRIES (sizeof(ENTRIES) / sizeof(ENTRIES[0]))

/* ---- values written as text ---------------------------------------------- */

static ag_conn *ref_conn; /* whose handles @N names */

static const char *skip_ws(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return s;
}

/* The items of the array or map that starts after @s (just past its
 * opening bracket), at its top level: for a map, keys and values both. */
static uint32_t count_items(const char *s)
{
	int depth = 0;
	uint32_t n = 0;
	bool any = false, str = false;

	for (; *s; s++) {
		if (str) {
			if (*s == '\\' && s[1])
				s++;
			else if (*s == '"')
				str = false;
			continue;
		}
		if (*s == '"') {
			str = true;
			any = true;
		} else if (*s == '[' || *s == '{') {
			depth++;
			any = true;
		} else if (*s == ']' || *s == '}') {
			if (depth-- == 0)
				break;
		} else if (depth == 0 && (*s == ',' || *s == ':')) {
			n++;
		} else if (!isspace((unsigned char)*s)) {
			any = true;
		}
	}
	return any ? n + 1 : 0;
}

/* Pack the value the text at *@sp spells, and move *@sp past it. */
static void pack_text(msgpack_packer *pk, const char **sp)
{
	const char *s = skip_ws(*sp);
	char *end;

	if (*s == '[' || *s == '{') {
		bool map = *s == '{';
		uint32_t n = count_items(s + 1);
		if (map) {
			ck_assert_msg(n % 2 == 0, "odd map in %s", s);
			msgpack_pack_map(pk, n / 2);
		} else {
			msgpack_pack_array(pk, n);
		}
		s++;
		for (uint32_t i = 0; i < n; i++) {
			pack_text(pk, &s);
			s = skip_ws(s);
			if (*s == ',' || *s == ':')
				s++;
		}
		s = skip_ws(s);
		ck_assert_msg(*s == (map ? '}' : ']'), "bad text at %s", s);
		s++;
	} else if (*s == '"') {
		char buf[256];
		size_t n = 0;
		for (s++; *s != '"'; s++) {
			ck_assert(*s != 0 && n < sizeof(buf));
			if (*s == '\\')
				s++;
			buf[n++] = *s;
		}
		s++;
		msgpack_pack_str(pk, n);
		msgpack_pack_str_body(pk, buf, n);
	} else if (*s == '$') {
		msgpack_pack_uint64(pk, strtoull(s + 1, &end, 10));
		s = end;
	} else if (*s == '@') {
		uint64_t h = strtoull(s + 1, &end, 10);
		ag_object *o = ag_conn_handle_get(ref_conn, h);
		ck_assert_msg(o != NULL, "no handle %llu for %s",
			      (unsigned long long)h, s);
		ag_pack_ref(pk, o);
		s = end;
	} else if (strncmp(s, "true", 4) == 0) {
		msgpack_pack_true(pk);
		s += 4;
	} else if (strncmp(s, "false", 5) == 0) {
		msgpack_pack_false(pk);
		s += 5;
	} else if (strncmp(s, "null", 4) == 0) {
		msgpack_pack_nil(pk);
		s += 4;
	} else {
		size_t n = strspn(s, "-+0123456789");
		if (s[n] == '.' || s[n] == 'e') {
			msgpack_pack_double(pk, strtod(s, &end));
		} else {
			long long v = strtoll(s, &end, 10);
			ck_assert_msg(end != s, "bad text at %s", s);
			msgpack_pack_int64(pk, v);
		}
		s = end;
	}
	*sp = s;
}

/* ---- a detached server, two connections --------------------------------- */

typedef unit_peer peer;

typedef struct fixture {
	ag_server *srv;
	peer p[2];
	uint32_t msgid;
	uint32_t nobjs;    /* opened by the entry: handles 1..nobjs */
	uint32_t h_fail;   /* an empty dict: the failing call's */
	uint32_t h_before; /* a dict: the write before the call */
} fixture;

/* An answer: its code (0, a positive wire code, or -1: none came), the
 * result's bytes, and an error's fourth element. */
typedef struct answer {
	int code;
	char msg[256];
	ag_buf res;
	bool has4;
	char branch[16];
	int64_t call;
} answer;

static void answer_deinit(answer *a)
{
	ag_buf_deinit(&a->res);
}

static void peer_init(fixture *f, peer *p)
{
	unit_peer_init(p, f->srv, (size_t)1 << 26);
}

static void fixture_deinit(fixture *f)
{
	agora_server_free(f->srv);
	for (int i = 0; i < 2; i++)
		unit_peer_deinit(&f->p[i]);
}

/* The fourth element of an error: {"branch": str, "call": int}. */
static void read_where(answer *a, const msgpack_object *err)
{
	if (err->type != MSGPACK_OBJECT_ARRAY || err->via.array.size < 4)
		return;
	const msgpack_object *w = &err->via.array.ptr[3];
	if (w->type != MSGPACK_OBJECT_MAP)
		return;
	a->has4 = true;
	a->call = -1;
	for (uint32_t i = 0; i < w->via.map.size; i++) {
		const msgpack_object_kv *kv = &w->via.map.ptr[i];
		if (kv->key.type != MSGPACK_OBJECT_STR)
			continue;
		if (kv->key.via.str.size == 6 &&
		    memcmp(kv->key.via.str.ptr, "branch", 6) == 0 &&
		    kv->val.type == MSGPACK_OBJECT_STR)
			snprintf(a->branch, sizeof(a->branch), "%.*s",
				 (int)kv->val.via.str.size,
				 kv->val.via.str.ptr);
		if (kv->key.via.str.size == 4 &&
		    memcmp(kv->key.via.str.ptr, "call", 4) == 0 &&
		    kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			a->call = (int64_t)kv->val.via.u64;
	}
}

/* Send connection @who a request whose params the text @params spells
 * (NULL: the packed @raw), and read its answer into @a (code -1: it
 * parked). */
static void request(fixture *f, int who, const char *method, const char *params,
		    const ag_buf *raw, answer *a)
{
	peer *p = &f->p[who];
	ag_buf req;
	msgpack_packer pk;
	uint32_t id = ++f->msgid;

	memset(a, 0, sizeof(*a));
	a->code = -1;
	ag_buf_init(&a->res);
	ag_buf_init(&req);
	msgpack_packer_init(&pk, &req, ag_buf_write);
	ag_pack_request_head(&pk, id, method);
	ref_conn = p->conn;
	if (params != NULL) {
		const char *s = params;
		pack_text(&pk, &s);
		ck_assert_msg(*skip_ws(s) == 0, "trailing text in %s", params);
	} else {
		ag_buf_append(&req, raw->data, raw->len);
	}
	ck_assert(!req.oom);
	ck_assert(ag_conn_feed(p->conn, req.data, req.len));
	ag_buf_deinit(&req);
	ag_server_run_pending(f->srv);

	if (p->out.len == 0)
		return;
	ck_assert_int_eq(ag_reader_feed(&p->rd, p->out.data, p->out.len), 0);
	p->out.len = 0;
	msgpack_object m;
	while (ag_reader_next(&p->rd, &m) == 1) {
		uint32_t mid;
		const msgpack_object *err, *res;
		if (m.type != MSGPACK_OBJECT_ARRAY || m.via.array.size != 4 ||
		    m.via.array.ptr[0].via.u64 != 1)
			continue; /* a notification */
		ck_assert_int_eq(ag_parse_response(&m, &mid, &err, &res), 0);
		if (mid != id)
			continue;
		if (err != NULL) {
			a->code = -ag_parse_error(err, a->msg, sizeof(a->msg));
			read_where(a, err);
		} else {
			msgpack_packer rp;
			a->code = 0;
			msgpack_packer_init(&rp, &a->res, ag_buf_write);
			msgpack_pack_object(&rp, *res);
		}
	}
}

/* A call that must answer without error (or park: @may_park). */
static void must(fixture *f, int who, const char *method, const char *params,
		 bool may_park)
{
	answer a;

	request(f, who, method, params, NULL, &a);
	ck_assert_msg(a.code == 0 || (a.code == -1 && may_park),
		      "setup call %s %s (connection %d) answered %d: %s",
		      method, params, who + 1, a.code, a.msg);
	answer_deinit(&a);
}

/* Run a ';'-separated list of "[2:]METHOD PARAMS" calls. */
static void run_calls(fixture *f, const char *calls)
{
	char *copy = strdup(calls), *save = NULL;

	ck_assert_ptr_nonnull(copy);
	for (char *c = strtok_r(copy, ";", &save); c != NULL;
	     c = strtok_r(NULL, ";", &save)) {
		int who = 0;
		c = (char *)skip_ws(c);
		if (*c == 0)
			continue;
		if (strncmp(c, "2:", 2) == 0) {
			who = 1;
			c += 2;
		}
		char *sp = strchr(c, ' ');
		ck_assert_msg(sp != NULL, "bad call \"%s\"", c);
		*sp = 0;
		must(f, who, c, sp + 1, who == 1);
	}
	free(copy);
}

/* Open the entry's objects (on both connections, same handles), the
 * failing call's dict and the dict written before the call; the second
 * connection watches every object; then the setup calls. */
static void fixture_init(fixture *f, const struct entry *e)
{
	char *copy = strdup(e->objs), *save = NULL, buf[512];

	memset(f, 0, sizeof(*f));
	ck_assert_int_eq(ag_server_new_detached(KEY, strlen(KEY), &f->srv), 0);
	peer_init(f, &f->p[0]);
	peer_init(f, &f->p[1]);
	ck_assert_ptr_nonnull(copy);
	for (char *o = strtok_r(copy, ";", &save); o != NULL;
	     o = strtok_r(NULL, ";", &save)) {
		o = (char *)skip_ws(o);
		char *sp = strchr(o, ' ');
		ck_assert_msg(sp != NULL, "bad object \"%s\"", o);
		*sp = 0;
		f->nobjs++;
		snprintf(buf, sizeof(buf), "[\"%s\", \"o%u\", %s]", o, f->nobjs,
			 sp + 1);
		for (int who = 0; who < 2; who++)
			must(f, who, "open", buf, false);
	}
	free(copy);
	for (int who = 0; who < 2; who++) {
		must(f, who, "open", "[\"dict\", \"fail\"]", false);
		must(f, who, "open", "[\"dict\", \"before\"]", false);
	}
	f->h_fail = f->nobjs + 1;
	f->h_before = f->nobjs + 2;
	for (uint32_t h = 1; h <= f->nobjs + 2; h++) {
		snprintf(buf, sizeof(buf), "[%u]", h);
		must(f, 1, "watch", buf, false);
	}
	snprintf(buf, sizeof(buf), "[%u, \"k\", 0]", f->h_before);
	must(f, 0, "dict.set", buf, false);
	run_calls(f, e->setup);
	f->p[1].out.len = 0;
}

/* ---- the fingerprint of the state ---------------------------------------- */

typedef struct state {
	ag_buf snap;  /* ag_snapshot_write() */
	ag_buf info;  /* every handle's info answer */
	ag_buf holds; /* the first connection's holds (clients) */
	ag_buf objs;  /* id, refs, mem, version, waiters of every object */
} state;

static void state_deinit(state *st)
{
	ag_buf_deinit(&st->snap);
	ag_buf_deinit(&st->info);
	ag_buf_deinit(&st->holds);
	ag_buf_deinit(&st->objs);
}

/* Append the "holds" of the map with "self": true in @a's result. */
static void pick_holds(const answer *a, ag_buf *out)
{
	msgpack_unpacked u;
	msgpack_packer pk;

	msgpack_unpacked_init(&u);
	ck_assert(msgpack_unpack_next(&u, a->res.data, a->res.len, NULL) ==
		  MSGPACK_UNPACK_SUCCESS);
	msgpack_packer_init(&pk, out, ag_buf_write);
	const msgpack_object *arr = &u.data;
	ck_assert_int_eq(arr->type, MSGPACK_OBJECT_ARRAY);
	for (uint32_t i = 0; i < arr->via.array.size; i++) {
		const msgpack_object *m = &arr->via.array.ptr[i];
		const msgpack_object *self = ag_opt(m, "self");
		if (self == NULL || self->type != MSGPACK_OBJECT_BOOLEAN ||
		    !self->via.boolean)
			continue;
		const msgpack_object *holds = ag_opt(m, "holds");
		ck_assert_ptr_nonnull(holds);
		msgpack_pack_object(&pk, *holds);
	}
	msgpack_unpacked_destroy(&u);
}

static void state_take(fixture *f, state *st)
{
	char buf[64];
	answer a;

	memset(st, 0, sizeof(*st));
	ag_buf_init(&st->snap);
	ag_buf_init(&st->info);
	ag_buf_init(&st->holds);
	ag_buf_init(&st->objs);

	int fd = memfd_create("snapshot", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	uint64_t bytes = 0;
	ck_assert_int_eq(ag_snapshot_write(f->srv, fd, &bytes), 0);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	char chunk[4096];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		ag_buf_append(&st->snap, chunk, (size_t)n);
	close(fd);
	ck_assert_uint_eq(st->snap.len, bytes);

	for (uint32_t h = 1; h <= f->nobjs + 2; h++) {
		snprintf(buf, sizeof(buf), "[%u]", h);
		request(f, 0, "info", buf, NULL, &a);
		ck_assert_int_eq(a.code, 0);
		ag_buf_append(&st->info, a.res.data, a.res.len);
		answer_deinit(&a);
	}
	request(f, 0, "clients", "[]", NULL, &a);
	ck_assert_int_eq(a.code, 0);
	pick_holds(&a, &st->holds);
	answer_deinit(&a);

	ag_table_foreach (&f->srv->ids, e) {
		ag_object *o = e->ptr;
		int len = snprintf(buf, sizeof(buf), "%llu:%u:%zu:%llu:%u;",
				   (unsigned long long)o->id, o->refs, o->mem,
				   (unsigned long long)o->version, o->nwaiters);
		ag_buf_append(&st->objs, buf, (size_t)len);
	}
	int len = snprintf(buf, sizeof(buf), "memory %zu passed %u",
			   f->srv->memory, f->p[0].conn->npassed);
	ag_buf_append(&st->objs, buf, (size_t)len);
}

static bool buf_eq(const ag_buf *a, const ag_buf *b)
{
	return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

/* Name the first part of @a and @b that differs, or NULL. */
static const char *state_diff(const state *a, const state *b)
{
	if (!buf_eq(&a->snap, &b->snap))
		return "the snapshot";
	if (!buf_eq(&a->info, &b->info))
		return "an info answer";
	if (!buf_eq(&a->holds, &b->holds))
		return "the connection's holds";
	if (!buf_eq(&a->objs, &b->objs))
		return "an object's references, memory, version or waiters";
	return NULL;
}

/* How many answers (not notifications) @p received since last read. */
static unsigned answers_to(peer *p)
{
	msgpack_object m;
	unsigned n = 0;

	if (p->out.len == 0)
		return 0;
	ck_assert_int_eq(ag_reader_feed(&p->rd, p->out.data, p->out.len), 0);
	p->out.len = 0;
	while (ag_reader_next(&p->rd, &m) == 1)
		if (m.type == MSGPACK_OBJECT_ARRAY && m.via.array.size == 4 &&
		    m.via.array.ptr[0].via.u64 == 1)
			n++;
	return n;
}

/* ---- the checks ---------------------------------------------------------- */

/* The text of a txn request from @fmt: "%C" is the entry's call
 * [method, params] (after its pre calls), "%F" the failing dict's handle, "%B"
 * the handle of the dict written before. */
static void txn_text(char *out, size_t len, const struct entry *e,
		     const fixture *f, const char *fmt)
{
	size_t n = 0;

	for (const char *s = fmt; *s; s++) {
		int w = 0;
		if (s[0] == '%' && s[1] == 'C')
			w = snprintf(out + n, len - n, "%s%s[\"%s\", %s]",
				     e->pre ? e->pre : "", e->pre ? ", " : "",
				     e->method, e->params);
		else if (s[0] == '%' && s[1] == 'F')
			w = snprintf(out + n, len - n, "%u", f->h_fail);
		else if (s[0] == '%' && s[1] == 'B')
			w = snprintf(out + n, len - n, "%u", f->h_before);
		else
			w = snprintf(out + n, len - n, "%c", *s);
		if (w > 1 || s[0] == '%')
			s++;
		n += (size_t)w;
		ck_assert_uint_lt(n, len);
	}
}

static bool cur_txn_missing; /* txn answered NO_METHOD: not there yet */

/* The calls of @pre ("[method, params], ...") one by one, outside a
 * transaction; each must succeed. */
static void run_pre_alone(fixture *f, const char *pre)
{
	char text[1024];
	const char *sp = text;
	ag_buf packed;
	msgpack_packer pk;
	msgpack_unpacked u;
	answer a;

	snprintf(text, sizeof(text), "[%s]", pre);
	ag_buf_init(&packed);
	msgpack_packer_init(&pk, &packed, ag_buf_write);
	ref_conn = f->p[0].conn;
	pack_text(&pk, &sp);
	msgpack_unpacked_init(&u);
	ck_assert(msgpack_unpack_next(&u, packed.data, packed.len, NULL) ==
		  MSGPACK_UNPACK_SUCCESS);
	for (uint32_t i = 0; i < u.data.via.array.size; i++) {
		const msgpack_object *c = &u.data.via.array.ptr[i];
		char method[64];
		ag_buf params;
		msgpack_packer pp;
		snprintf(method, sizeof(method), "%.*s",
			 (int)c->via.array.ptr[0].via.str.size,
			 c->via.array.ptr[0].via.str.ptr);
		ag_buf_init(&params);
		msgpack_packer_init(&pp, &params, ag_buf_write);
		msgpack_pack_object(&pp, c->via.array.ptr[1]);
		request(f, 0, method, NULL, &params, &a);
		ck_assert_msg(a.code == 0, "pre call %s answered %d (%s)",
			      method, a.code, a.msg);
		answer_deinit(&a);
		ag_buf_deinit(&params);
	}
	msgpack_unpacked_destroy(&u);
	ag_buf_deinit(&packed);
}

/* One failing transaction shape: it must answer KEY at @branch/@call and
 * change nothing, and the second connection must receive nothing. */
static void check_failing(const struct entry *e, const char *fmt,
			  const char *branch, int64_t call, int want_code)
{
	fixture f;
	state before, after;
	char text[2048];
	answer a;

	fixture_init(&f, e);
	txn_text(text, sizeof(text), e, &f, fmt);
	state_take(&f, &before);
	request(&f, 0, "txn", text, NULL, &a);
	if (a.code == -AGORA_ENO_METHOD) {
		cur_txn_missing = true;
		goto out;
	}
	ck_assert_msg(a.code == want_code,
		      "%s %s: txn %s answered %d (%s), not %d", e->method,
		      e->params, text, a.code, a.msg, want_code);
	ck_assert_msg(a.has4 && strcmp(a.branch, branch) == 0 && a.call == call,
		      "%s %s: txn %s: the error's fourth element is %s "
		      "branch \"%s\" call %lld, not \"%s\" %lld",
		      e->method, e->params, text,
		      a.has4 ? "present:" : "missing;", a.branch,
		      (long long)a.call, branch, (long long)call);
	state_take(&f, &after);
	const char *d = state_diff(&before, &after);
	ck_assert_msg(d == NULL, "%s %s: a failed txn %s changed %s (%s)",
		      e->method, e->params, text, d,
		      e->kind == REFUSED ? "refused" : "");
	state_deinit(&after);
	ag_server_run_pending(f.srv);
	ck_assert_msg(f.p[1].out.len == 0,
		      "%s %s: after a failed txn %s the second connection "
		      "received %zu bytes",
		      e->method, e->params, text, f.p[1].out.len);
	if (e->post) {
		/* What lets the effect show: the second connection's parked
		 * call stays unanswered (the post calls' own changes are
		 * notified to it, as watcher). */
		run_calls(&f, e->post);
		ck_assert_msg(answers_to(&f.p[1]) == 0,
			      "%s %s: after a failed txn %s and %s the second "
			      "connection's parked call was answered",
			      e->method, e->params, text, e->post);
	}
out:
	answer_deinit(&a);
	state_deinit(&before);
	fixture_deinit(&f);
}

/* The transaction without the failing call commits and changes what the
 * entry says; the call alone changes the state too. */
static void check_committed(const struct entry *e, bool in_txn)
{
	fixture f;
	state before, after;
	char text[2048];
	answer a;

	fixture_init(&f, e);
	state_take(&f, &before);
	if (in_txn) {
		txn_text(text, sizeof(text), e, &f, "[[], [%C], []]");
		request(&f, 0, "txn", text, NULL, &a);
		if (a.code == -AGORA_ENO_METHOD) {
			cur_txn_missing = true;
			goto out;
		}
		ck_assert_msg(a.code == 0, "%s %s: txn %s answered %d (%s)",
			      e->method, e->params, text, a.code, a.msg);
		ck_assert_msg(a.res.len > 0 &&
				  memmem(a.res.data, a.res.len, "succeeded", 9),
			      "%s: txn answered no map", e->method);
	} else {
		if (e->pre)
			run_pre_alone(&f, e->pre);
		snprintf(text, sizeof(text), "%s", e->params);
		request(&f, 0, e->method, e->params, NULL, &a);
		ck_assert_msg(a.code == 0, "%s %s alone answered %d (%s)",
			      e->method, e->params, a.code, a.msg);
	}
	state_take(&f, &after);
	const char *d = state_diff(&before, &after);
	bool snap_same = buf_eq(&before.snap, &after.snap);
	if (e->snap_same == NULL)
		ck_assert_msg(!snap_same,
			      "%s %s%s changed nothing a snapshot holds: "
			      "if that is its nature, say why in its entry",
			      e->method, e->params, in_txn ? " in a txn" : "");
	else if (!e->info_same)
		ck_assert_msg(d != NULL, "%s %s%s changed nothing (%s)",
			      e->method, e->params, in_txn ? " in a txn" : "",
			      e->snap_same);
	state_deinit(&after);
	if (e->post) {
		run_calls(&f, e->post);
		ck_assert_msg(
		    answers_to(&f.p[1]) > 0,
		    "%s %s%s, then %s: the second connection's parked "
		    "call was not answered",
		    e->method, e->params, in_txn ? " in a txn" : "", e->post);
		goto out;
	}
	ag_server_run_pending(f.srv);
	ck_assert_msg(f.p[1].out.len > 0,
		      "%s %s%s: the second connection (watching every object) "
		      "received nothing",
		      e->method, e->params, in_txn ? " in a txn" : " alone");
out:
	answer_deinit(&a);
	state_deinit(&before);
	fixture_deinit(&f);
}

/* A refused form: ARGS naming the call, after a write that is undone. */
static void check_refused(const struct entry *e)
{
	check_failing(e, "[[], [[\"dict.set\", [%B, \"k\", 1]], %C], []]",
		      "then", 1, -AGORA_EARGS);
	check_failing(
	    e,
	    "[[[\"exists\", \"dict.getitem\", [%F, \"absent\"]]], [], "
	    "[[\"dict.set\", [%B, \"k\", 1]], %C, "
	    "[\"dict.pop\", [%F, \"absent\"]]]]",
	    "else", 1, -AGORA_EARGS);
}

static void check_entry(const struct entry *e)
{
	if (e->kind == REFUSED) {
		check_refused(e);
		return;
	}
	int64_t npre = e->pre ? count_items(e->pre) : 0;

	check_committed(e, false);
	check_failing(e, "[[], [%C, [\"dict.getitem\", [%F, \"absent\"]]], []]",
		      "then", 1 + npre, -AGORA_EKEY);
	check_failing(e,
		      "[[], [[\"dict.set\", [%B, \"k\", [1, 2]]], %C, "
		      "[\"dict.pop\", [%F, \"absent\"]]], []]",
		      "then", 2 + npre, -AGORA_EKEY);
	check_failing(e,
		      "[[[\"exists\", \"dict.getitem\", [%F, \"absent\"]]], "
		      "[], [%C, [\"dict.getitem\", [%F, \"absent\"]]]]",
		      "else", 1 + npre, -AGORA_EKEY);
	check_committed(e, true);
}

/* ---- the tests ----------------------------------------------------------- */

START_TEST(every_write_method_has_an_entry)
{
	char name[64], missing[2048] = "";

	for (const ag_family *const *fp = ag_families(); *fp; fp++)
		for (const ag_method *m = (*fp)->methods; m->name; m++) {
			if (m->right != AG_RIGHT_WRITE)
				continue;
			snprintf(name, sizeof(name), "%s.%s", (*fp)->name,
				 m->name);
			bool found = false;
			for (size_t i = 0; i < NENTRIES && !found; i++)
				found = strcmp(ENTRIES[i].method, name) == 0;
			if (!found)
				snprintf(missing + strlen(missing),
					 sizeof(missing) - strlen(missing),
					 " %s", name);
		}
	ck_assert_msg(missing[0] == 0,
		      "methods with the write right and no entry in "
		      "tests/unit/test_txn_undo.c:%s",
		      missing);
}
END_TEST

/* Whether ENTRIES has an entry of @kind for "@fam.@method" (the method
 * name @len bytes long). */
static bool has_entry(const char *fam, const char *method, size_t len, int kind)
{
	char name[96];

	snprintf(name, sizeof(name), "%s.%.*s", fam, (int)len, method);
	for (size_t i = 0; i < NENTRIES; i++)
		if (ENTRIES[i].kind == kind &&
		    strcmp(ENTRIES[i].method, name) == 0)
			return true;
	return false;
}

/* The families' txn_refused lists and the table's refused entries (the
 * list of docs/protocol.md section 12) agree: each form a family refuses
 * has a refused entry, and one it refuses only when it may wait ("get@1")
 * also a normal entry for its form that does not; each refused entry is
 * on its family's list. */
START_TEST(refused_entries_are_the_families_refused_lists)
{
	for (const ag_family *const *fp = ag_families(); *fp; fp++) {
		const ag_family *f = *fp;
		for (const char *const *r = f->txn_refused; r && *r; r++) {
			const char *at = strchr(*r, '@');
			size_t len = at ? (size_t)(at - *r) : strlen(*r);
			ck_assert_msg(has_entry(f->name, *r, len, REFUSED),
				      "%s refuses %s in a transaction: no "
				      "refused entry for it",
				      f->name, *r);
			ck_assert_msg(at == NULL ||
					  has_entry(f->name, *r, len, CHANGES),
				      "%s refuses %s when it may wait: no "
				      "entry for its form that does not",
				      f->name, *r);
		}
	}
	for (size_t i = 0; i < NENTRIES; i++) {
		const struct entry *e = &ENTRIES[i];
		if (e->kind != REFUSED)
			continue;
		const char *dot = strchr(e->method, '.');
		const ag_family *f =
		    ag_family_by_name(e->method, (size_t)(dot - e->method));
		bool listed = false;
		ck_assert_ptr_nonnull(f);
		for (const char *const *r = f->txn_refused; r && *r; r++)
			listed |= strncmp(*r, dot + 1, strlen(dot + 1)) == 0 &&
				  ((*r)[strlen(dot + 1)] == 0 ||
				   (*r)[strlen(dot + 1)] == '@');
		ck_assert_msg(listed,
			      "%s is refused (section 12) but not on the "
			      "family's txn_refused list",
			      e->method);
	}
}
END_TEST

START_TEST(a_failing_call_leaves_every_object_as_it_was)
{
	const struct entry *e = &ENTRIES[_i];

	cur_txn_missing = false;
	check_entry(e);
	if (cur_txn_missing)
		fprintf(stderr, "%s %s: txn answered NO_METHOD (not built)\n",
			e->method, e->params);
}
END_TEST

/* Every server method is refused inside a transaction, before anything
 * runs. */
START_TEST(server_methods_are_refused)
{
	static const struct entry dummy =
	    W("value.set", "value {}", "", "[$1, 1]");
	fixture f;
	char text[512];
	answer a;

	fixture_init(&f, &dummy);
	for (const ag_method *m = ag_server_methods(); m->name; m++) {
		snprintf(text, sizeof(text),
			 "[[], [[\"value.set\", [1, 2]], [\"%s\", [1]]], []]",
			 m->name);
		request(&f, 0, "txn", text, NULL, &a);
		if (a.code == -AGORA_ENO_METHOD) {
			answer_deinit(&a);
			break;
		}
		ck_assert_msg(a.code == -AGORA_EARGS && a.has4 && a.call == 1,
			      "server method %s in a txn answered %d (%s)",
			      m->name, a.code, a.msg);
		answer_deinit(&a);
		request(&f, 0, "value.get", "[1]", NULL, &a);
		ck_assert_int_eq(a.code, 0);
		ck_assert_int_eq(a.res.len, 1);
		ck_assert_int_eq(a.res.data[0], 0); /* still its initial 0 */
		answer_deinit(&a);
	}
	fixture_deinit(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("txn_undo");
	TCase *tc = tcase_create("table");

	tcase_add_test(tc, every_write_method_has_an_entry);
	tcase_add_test(tc, refused_entries_are_the_families_refused_lists);
	tcase_add_loop_test(tc, a_failing_call_leaves_every_object_as_it_was, 0,
			    (int)NENTRIES);
	tcase_add_test(tc, server_methods_are_refused);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
