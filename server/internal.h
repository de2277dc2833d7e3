/*
 * internal.h - what the server's files share. Never installed.
 *
 * One libevent loop owns everything below. A connection (conn.c) reads
 * frames through an ag_reader, the dispatcher (dispatch.c) resolves
 * "TYPE.METHOD" and the handle, and a family's method (obj_<family>.c) either
 * answers at once through ag_reply_*() or parks the request with
 * ag_wait_park() (wait.c) to answer it later. Objects live in the registry
 * (object.c), reference counted: each handle, each parked request, each
 * stored reference holds one.
 */
#ifndef AG_SERVER_INTERNAL_H
#define AG_SERVER_INTERNAL_H

#include <event2/event.h>
#include <msgpack.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "agora_server.h"

typedef struct agora_server ag_server;
#include "ag_proto.h"

typedef struct ag_conn ag_conn;
typedef struct ag_object ag_object;
typedef struct ag_waiter ag_waiter;
typedef struct ag_wait_group ag_wait_group;
typedef struct ag_family ag_family;
typedef struct ag_listener ag_listener;
typedef struct ag_save ag_save;
typedef struct ag_persist ag_persist;

TAILQ_HEAD(ag_waitq, ag_waiter);
LIST_HEAD(ag_watch_list, ag_watch); /* watch.c */
TAILQ_HEAD(ag_connq, ag_conn);

/* ---- ordered hash table (table.c) ---------------------------------------- */

/*
 * An insertion-ordered hash table of ag_val keys, laid out as Python's dict:
 * a dense array of entries in insertion order plus an index of slots. Used by
 * dict and namespace (value in .val) and by the registry's names and ids
 * (.ptr). A deleted entry keeps its place with an empty key until
 * compaction. No hash is stored: the table recomputes it from the key when
 * it needs one (growing, removing), which keeps an entry at 32 bytes.
 */
typedef struct ag_entry {
	ag_val key;
	union {
		ag_val val;
		void *ptr;
	};
} ag_entry;

typedef struct ag_table {
	ag_entry *entries;
	uint32_t used;   /* entries[0..used) in use or deleted */
	uint32_t count;  /* live entries */
	uint32_t cap;    /* entries allocated */
	uint32_t *slots; /* 0 empty, else entry index + 1 */
	uint32_t nslots; /* power of two, or 0 */
	uint64_t seed;
} ag_table;

void ag_table_init(ag_table *t, uint64_t seed);
/* Frees the table's arrays; not the keys/values (use ag_table_clear_vals). */
void ag_table_deinit(ag_table *t);
/* Free every key and .val, leaving an empty table. */
void ag_table_clear_vals(ag_table *t);
/* A copy of @src into @dst (which it initialises), keys and .val values
 * duplicated with ag_val_dup(), in the same order with the same seed:
 * the caller takes the holds of stored values' references. 0, or
 * AGORA_ENOMEM with @dst empty. */
int ag_table_copy(ag_table *dst, const ag_table *src);
/* Whether adding one key to @t takes no memory and moves no entry (no
 * growth, no compaction): a transaction's log then suffices (obj_dict.c). */
bool ag_table_add_fits(const ag_table *t);
uint64_t ag_table_hash(const ag_table *t, const ag_val *key);
/* The live entry whose key equals @key, or NULL. @key is borrowed. */
ag_entry *ag_table_find(ag_table *t, const ag_val *key, uint64_t hash);
/*
 * Append a new entry for @key (which must not be present) and take ownership
 * of @key's bytes; the caller fills .val/.ptr. NULL on ENOMEM (key untouched).
 */
ag_entry *ag_table_add(ag_table *t, const ag_val *key, uint64_t hash);
/* Remove @e: its key is freed, its value is the caller's. */
void ag_table_remove(ag_table *t, ag_entry *e);
/* Last live entry in insertion order, or NULL. */
ag_entry *ag_table_last(ag_table *t);
/* (An empty table has no entries array: NULL + 0 is undefined in C.) */
#define ag_table_foreach(t, e)                               \
	for (ag_entry *e = (t)->entries;                     \
	     e != NULL && e < (t)->entries + (t)->used; e++) \
		if (!ag_val_is_empty(&e->key))

/* ---- objects ------------------------------------------------------------- */

struct ag_object {
	uint64_t id;
	const ag_family *fam;
	ag_server *srv;
	char *name;    /* NULL when anonymous (or dropped) */
	uint32_t refs; /* handles + parked requests + stored references */
	uint32_t nwaiters;
	size_t mem; /* bytes accounted to this object, see ag_object_mem() */
	void *data; /* the family's state */
	/* The secret part of its references (refs.c), drawn at creation. */
	uint8_t secret[AG_REF_SECRET_LEN];
	ag_object *next_dead;    /* in the server's list of objects to free */
	ag_object *next_touched; /* in the persistence's touched list */
	bool touched;            /* on that list (ag_persist_touch) */
	/* Its name's lifetime (lifetime.c): the connection whose end drops
	 * it (ephemeral) and its deadline (ttl); NULL for neither. */
	struct ag_life *life;
	/* The server's revision at its last change (watch.c), and the
	 * watches on it. */
	uint64_t version;
	struct ag_watch_list watches;
};

/* The answer target of a request: which connection, which msgid. */
typedef struct ag_target {
	ag_conn *conn;
	uint32_t msgid;
} ag_target;

/* One request being dispatched. Everything here lives until the handler
 * returns only: copy what a parked request must keep. */
typedef struct ag_req {
	ag_target to;
	ag_server *srv;
	const char *method; /* "list.append" (not NUL-terminated: methodlen) */
	uint32_t methodlen;
	/* params; for TYPE.METHOD argv[0] is h. A container param of more
	 * than AG_LAZY_MIN bytes is left undecoded (AG_OBJECT_RAW): read
	 * values and items through the helpers of args.c, which work from
	 * raw[i], the bytes of every param. argc may exceed what argv holds
	 * (AG_MAX_PARAMS): the dispatcher refuses that before a method runs. */
	const msgpack_object *argv;
	const ag_span *raw;
	uint32_t argc;
	ag_object *obj; /* TYPE.METHOD: the object behind argv[0] */
} ag_req;

/*
 * A method of a family. @min_args/@max_args count every param, the handle
 * included; the dispatcher answers ARGS outside them. The function answers
 * through ag_reply_*() or parks with ag_wait_park(), exactly once, and
 * returns 0; to fail it returns ag_reply_error(...).
 */
typedef struct ag_method {
	const char *name; /* "append" */
	int (*fn)(ag_req *r);
	uint8_t min_args;
	uint8_t max_args; /* at most AG_MAX_PARAMS */
	uint8_t stores;   /* ag_stores: what it may add to the server */
	uint8_t right;    /* ag_right: what a user needs to call it */
} ag_method;

/*
 * The right a method needs (users.c): exactly one of them in every table
 * entry (tests/unit/test_methods.c holds every method to its entry there).
 * The dispatcher checks it before the method runs, and for a TYPE.METHOD
 * that the handle's object has a name the user reaches (or none).
 * AG_RIGHT_ANY: no right needed (close: giving back one's own handle).
 */
enum ag_right {
	AG_RIGHT_READ = 1,
	AG_RIGHT_WRITE = 2,
	AG_RIGHT_CREATE = 4,
	AG_RIGHT_ADMIN = 8,
	AG_RIGHT_ANY = 16,
};
#define AG_RIGHTS_ALL 15

/*
 * What a method may store, for the --max-memory check the dispatcher makes
 * before it runs (tests/unit/test_methods.c holds every method to its
 * entry here): nothing, its params as values (cost: their bytes), or each
 * item or pair of a container param as an entry (cost: their bytes and an
 * entry's size apiece). Methods that store also check the exact cost.
 */
enum ag_stores { AG_STORES_NONE, AG_STORES_BYTES, AG_STORES_ITEMS };

struct ag_family {
	const char *name;         /* wire type name, "list" */
	const ag_family *base;    /* joinable_queue -> queue, or NULL */
	const ag_method *methods; /* terminated by a NULL name */
	/* Names of its methods whose params[1] is the one key they change,
	 * named in their watch notifications (watch.c); NULL-terminated, or
	 * NULL for none. */
	const char *const *keyed;
	/*
	 * Set up o->data from the open options (a map, maybe empty; @opts is
	 * NULL when none were given). Unknown option: answer ARGS and return
	 * it. Returns 0 or the negative code it answered with.
	 */
	int (*create)(ag_object *o, ag_req *r, const msgpack_object *opts);
	/* Free o->data and every value in it. No waiter is left. */
	void (*destroy)(ag_object *o);
	/* Length for ls/info; false when the type has none. */
	bool (*len)(ag_object *o, size_t *ret);
	/* Extra info fields: how many, and packing them (key, value pairs). */
	unsigned (*info_count)(ag_object *o);
	void (*info_pack)(ag_object *o, msgpack_packer *pk);
	/* A connection that holds something of @o is going away (see
	 * ag_conn_hold): give back all it holds, waking the next waiter. */
	void (*conn_gone)(ag_object *o, ag_conn *c);
	/* How much of @o connection @c holds, for the server method
	 * clients: an rlock's count, an owned semaphore's permits. NULL:
	 * the count of its ag_conn_hold() entry (1 for a lock, whose family
	 * holds once however deep; see srv_methods.c). */
	uint64_t (*held)(ag_object *o, const ag_conn *c);
	/*
	 * Persistence (persist.c; docs/protocol.md section 10). @persist says
	 * how the journal records the family's changes: AG_PERSIST_CALLS,
	 * each write-right method that succeeds at once is recorded as called
	 * (a parked one is recorded by the family when it is served, with
	 * ag_journal_call()); AG_PERSIST_STATE, no call is recorded and the
	 * family calls ag_persist_touch(o) whenever what pack_state() packs
	 * changes (the journal then records the state itself).
	 */
	uint8_t persist;
	/*
	 * Who records the write methods of an AG_PERSIST_CALLS family
	 * (dispatch.c journaled()): the dispatcher, each call as it was
	 * made, before it runs (AG_JOURNAL_CALL, 0); or each method itself
	 * (AG_JOURNAL_SELF), with ag_journal_request() or ag_journal_call()
	 * once it has succeeded: for calls whose record must differ from the
	 * request (a relative time made absolute) or come after records the
	 * method makes first (a dict's expired keys, obj_dict.c).
	 */
	uint8_t journal;
	/* The options that make a new object like @o (one map, packed whole,
	 * as open would take them; an option naming a lock packs the lock's
	 * object id: loading gives create() a handle of it). NULL: nil. */
	void (*save_opts)(ag_object *o, msgpack_packer *pk);
	/* The records that give a new object made with save_opts() the
	 * contents of @o: one ag_save_call() ... ag_save_end() each, in
	 * chunks of at most AG_SAVE_CHUNK items. NULL: none. 0, or the first
	 * error of ag_save_end(). */
	int (*save)(ag_object *o, ag_save *sv);
	/* The durable state the calls do not rebuild (one object); NULL:
	 * none. Set back by load_state() (0, or AGORA_EVALUE with a sentence
	 * naming what is wrong in @err). */
	void (*pack_state)(ag_object *o, msgpack_packer *pk);
	int (*load_state)(ag_object *o, const msgpack_object *st, char *err,
			  size_t errlen);
	/* Handle @h of connection @c on @o is being closed (the server
	 * method close), before it lets go of @o: end what @c has through
	 * that handle (a topic's subscription). NULL: nothing. */
	void (*handle_closed)(ag_object *o, ag_conn *c, uint32_t h);
	/*
	 * Transactions (txn.c; docs/protocol.md section 12). Before the
	 * first write call of a transaction on @o, txn_save() takes a copy
	 * of everything of @o that the family's methods may change, and
	 * what they change outside @o for it (a connection's hold of a
	 * lock, the memory accounted, references held): NULL when out of
	 * memory (the transaction then fails, nothing changed). Its waiters
	 * are not part of it: inside a transaction nothing parks and no
	 * waiter is served (ag_txn_defer()). If a later call fails,
	 * txn_restore() makes @o exactly as it was when @saved was taken
	 * and frees @saved; on commit txn_drop() frees @saved. wake(): after
	 * a commit, serve what the transaction's changes of @o allow (the
	 * waiters a put or a release would have served at once); NULL when
	 * the family never defers.
	 */
	void *(*txn_save)(ag_object *o);
	void (*txn_restore)(ag_object *o, void *saved);
	void (*txn_drop)(ag_object *o, void *saved);
	void (*wake)(ag_object *o);
	/*
	 * Its methods a transaction may not call, NULL-terminated: "wait"
	 * never; "get@1" only when param 1 (the handle is param 0) is
	 * false, its block flag: the forms that may park, and those about
	 * a connection rather than the object's contents (a topic's
	 * subscribe).
	 */
	const char *const *txn_refused;
};

enum ag_persist_kind { AG_PERSIST_CALLS = 0, AG_PERSIST_STATE = 1 };
enum ag_journal { AG_JOURNAL_CALL = 0, AG_JOURNAL_SELF = 1 };
#define AG_SAVE_CHUNK 1024

/* The family of every row of AGORA_TYPES (agora.h): ag_family_list, ... */
#define AG_FAMILY_DECLARE(wire, ctype, proxy) \
	extern const ag_family ag_family_##wire;
AGORA_TYPES(AG_FAMILY_DECLARE)
#undef AG_FAMILY_DECLARE

/* Families (types.c). */
const ag_family *ag_family_by_name(const char *name, size_t len);
/* Every family, NULL-terminated; and the server methods (open, ls ...),
 * ended by a NULL name (srv_methods.c). For tests that go over them all. */
const ag_family *const *ag_families(void);
const ag_method *ag_server_methods(void);
void ag_object_ref(ag_object *o);
/*
 * Drop one reference. The last one takes the object out of the id index at
 * once (no reference names it any more) and queues it to be destroyed:
 * destroying it drops the references its values hold, which queue more
 * objects, never recursing. The queue is worked off right away up to a
 * budget per loop turn (AG_REAP_OBJECTS objects, AG_REAP_BYTES bytes),
 * the rest on the next turns; until then its memory still counts.
 */
void ag_object_unref(ag_object *o);
#define AG_REAP_OBJECTS 4096
#define AG_REAP_BYTES ((size_t)16 << 20)
/* Account @delta bytes to @o and to the server's memory figure. */
void ag_object_mem(ag_object *o, ssize_t delta);
/* Per-server scratch: a zone for decoding stored values and a buffer for
 * canonical keys; both are reset by the dispatcher before each request. */
msgpack_zone *ag_server_zone(ag_server *s);
/* The zone a request's params are decoded into (conn.c clears it before
 * each request). */
msgpack_zone *ag_server_request_zone(ag_server *s);
/* After a request: give back what a large one made the zones and the
 * scratch buffer take. */
void ag_server_trim(ag_server *s);
ag_buf *ag_server_scratch(ag_server *s);
uint64_t ag_server_seed(const ag_server *s);

/* ---- persistence (persist.c, recover.c, snapshot.c) ---------------------- */

/*
 * With a data directory (agorad --data-dir), every change is a record of
 * the journal: a MessagePack-RPC request [0, seq, method, params] in which
 * the object's id stands where a handle would, applied again at start by
 * the same dispatcher as a client's (docs/protocol.md section 10). All of
 * these do nothing when the server has no data directory or is loading.
 *
 * ag_journal_call(): a record of a call of @method ("queue.get") on @o with
 * @nparams params after the object, which the caller packs into the
 * packer returned, then ag_journal_end(). NULL (pack nothing, call no
 * end): nothing is recorded. For a family's parked calls that are served
 * later (a queue's get woken by a put): record the call as it could have
 * been made then, not blocking.
 */
msgpack_packer *ag_journal_call(ag_server *s, ag_object *o, const char *method,
				uint32_t nparams);
void ag_journal_end(ag_server *s);
/* What an AG_PERSIST_STATE family's pack_state() packs of @o changed: the
 * journal records it before the answers of this loop turn go out. */
void ag_persist_touch(ag_object *o);
/* Open @cfg's data directory and load it (agora_server_new); 0 without
 * one. A negative code with the reason in @err. */
int ag_persist_open(ag_server *s, const agora_server_config *cfg, char *err,
		    size_t errlen);
/* Write and force what is left, and let the directory go. */
void ag_persist_close(ag_server *s);
/* Before a request that may change something: false after answering
 * STORAGE when the journal cannot take it (disk full, I/O error). */
bool ag_persist_admit(ag_req *r);
/* Record request @r (a family's call) as made; the mark to take it back
 * with ag_journal_retract() when it fails or parks. */
size_t ag_journal_request(ag_req *r);
void ag_journal_retract(ag_server *s, size_t mark);
/* May @c's answers be sent now? False: they wait for the journal, and
 * the connection is flushed again when it is written (or on disk). */
bool ag_persist_may_send(ag_conn *c);
/* @c is being freed. */
void ag_persist_conn_gone(ag_conn *c);
/* Record object @o made (after its create() and name; with its lifetime,
 * lifetime.c) or its name removed (before the name goes). */
void ag_persist_new(ag_object *o);
void ag_persist_drop(ag_object *o);
/* Record @o's deadline set or cleared (the server method expire). */
void ag_persist_expire(ag_object *o);
/* stats' "persistence": nil, or a map. */
void ag_persist_pack_stats(ag_server *s, msgpack_packer *pk);
/* The server method save. */
int ag_persist_save(ag_req *r);
/* The server methods get_any, take_any, wait_any, acquire_any and cancel
 * (wait_any.c), and what wait_any reads of an event (obj_event.c):
 * whether it is set, and its list of parked waits. */
int ag_srv_get_any(ag_req *r);
int ag_srv_take_any(ag_req *r);
int ag_srv_wait_any(ag_req *r);
int ag_srv_acquire_any(ag_req *r);
int ag_srv_cancel(ag_req *r);
bool ag_event_is_set(const ag_object *o);
struct ag_waitq *ag_event_waiters(ag_object *o);
/* And of a lock or rlock (obj_lock.c) for acquire_any: take it now if it
 * is free (or an rlock @c owns): 1, 0 (held), or AGORA_ENOMEM; its queue
 * of waiters, served in arrival order. */
int ag_lock_try(ag_object *lk, ag_conn *c);
struct ag_waitq *ag_lock_waiters(ag_object *lk);
/* For a transaction's conditions (txn.c): whether @c holds lock or rlock
 * @lk; and whether anyone does, with the fencing token of its current
 * acquisition in *ret. */
bool ag_lock_held_by(const ag_object *lk, const ag_conn *c);
bool ag_lock_fence(const ag_object *lk, uint64_t *ret);
const char *ag_fsync_name(int policy);
/* Whether the server keeps a journal now (not while loading). */
bool ag_persist_on(const ag_server *s);
/* Snapshots: a record calling @method on @o with @nparams params after the
 * object, packed by the caller into the packer returned; then
 * ag_save_end() (0 or AGORA_EIO: the snapshot failed, stop). */
msgpack_packer *ag_save_call(ag_save *sv, ag_object *o, const char *method,
			     uint32_t nparams);
int ag_save_end(ag_save *sv);
/* True while the server replays its data directory at start. */
bool ag_persist_loading(const ag_server *s);
/* While loading: the connection whose requests the records are (what a
 * family's load_state() gives a connection to own: it ends once loading
 * is over and the new journal is open, recording what its end does, as
 * every connection's end). NULL otherwise. */
ag_conn *ag_persist_loading_conn(const ag_server *s);

/* ---- users and rights (users.c) ------------------------------------------ */

#define AG_USER_NAME_MAX 64

/* A user of the users file (agorad --users). */
typedef struct ag_user {
	char *name;
	uint8_t *key;
	size_t keylen;
	unsigned rights; /* AG_RIGHT_* bits */
	char **names;    /* fnmatch patterns of the names it reaches */
	size_t nnames;
	unsigned line; /* in the file, for messages */
} ag_user;

typedef struct ag_users {
	ag_user *v;
	size_t n;
	char *path;
} ag_users;

/* Read and check the users file @path; 0 and *ret, or a negative code
 * with a sentence naming the file, the line and the problem in @err. */
int ag_users_load(const char *path, ag_users **ret, char *err, size_t errlen);
/* The same from the @len bytes of @data, as if read from @path. */
int ag_users_parse(const char *data, size_t len, const char *path,
		   ag_users **ret, char *err, size_t errlen);
void ag_users_free(ag_users *us);
const ag_user *ag_users_find(const ag_users *us, const char *name, size_t len);
/* Make @us the server's users (taking it): every connection of a user
 * still there with the same key points to its new entry (new rights
 * from its next call); one whose user went or changed key is closed. */
void ag_users_apply(ag_server *s, ag_users *us);
/* "read", "write", ... for one AG_RIGHT_* bit. */
const char *ag_right_name(unsigned right);
/* hello's user param (@name NULL when absent): sets c->user, or marks the
 * user unknown with a key drawn for this connection. AGORA_EARGS when
 * @name is neither nil nor a str; AGORA_EIO when no random key. */
int ag_conn_user_select(ag_conn *c, const msgpack_object *name);
/* The key @c's proofs use (its user's, the server's, or a drawn one). */
void ag_conn_user_key(const ag_conn *c, const uint8_t **key, size_t *len);
/* The connection's user name for logs and clients; "" for the default. */
const char *ag_conn_user_label(const ag_conn *c);
/* Whether user @u (NULL: the default user) reaches name @name. */
bool ag_user_reaches(const ag_user *u, const char *name, size_t len);
/* The one check: may @r's user use @right (on the name @name, NULL for
 * none)? False after answering DENIED naming the right or the name. */
bool ag_user_may(ag_req *r, unsigned right, const char *name, size_t len);
/* The same for object @o (its name, or none when anonymous). */
bool ag_user_may_obj(ag_req *r, unsigned right, const ag_object *o);

/* ---- connections (struct: conn.c, reply.c, session.c) -------------------- */

enum ag_conn_state { AG_CONN_HELLO, AG_CONN_AUTH, AG_CONN_READY };

/* One object a connection owns some of, or was passed holds of. */
struct ag_hold {
	ag_object *obj;
	uint64_t count;
};

/*
 * A client connection. conn.c owns its life (reading, the handshake,
 * ending), reply.c its output buffer, session.c its handles and holds;
 * wait.c keeps its parked requests (waiters, nparked). Other files use
 * the functions of those.
 */
struct ag_conn {
	ag_server *srv;
	uint64_t id;
	int fd;
	bool is_unix;
	enum ag_conn_state state;
	bool closing; /* stop serving; free once the callback returns */
	bool flush_scheduled;
	bool reading;     /* in on_readable: it sends the answers itself */
	bool overflowed;  /* passed max_output: answers are dropped */
	bool draining;    /* cut for unread notifications: sends, then ends */
	unsigned nparked; /* its requests parked now (max_parked) */
	struct event *rev, *wev, *auth_timer;
	struct event *drain_timer; /* bounds the drain (ag_notify_begin) */
	ag_buf out; /* answers not yet sent: [out_sent, out.len) */
	size_t out_sent;
	msgpack_packer pk;
	ag_reader rd;
	uint8_t cnonce[AG_NONCE_LEN];
	uint8_t snonce[AG_NONCE_LEN];
	ag_object **handles;  /* handle h is handles[h - 1]; NULL: free */
	uint32_t nhandles;    /* slots allocated */
	uint32_t nused;       /* slots [0, nused) were handed out once */
	uint32_t *free_slots; /* closed slots, reused last-closed first; as
				 many allocated as handles, so a close never
				 needs memory */
	uint32_t nfree;
	struct ag_waitq waiters;
	struct ag_watch_list watches; /* watch.c */
	uint64_t last_watch;          /* the id of its last watch */
	size_t watch_bytes;           /* what its watches hold */
	struct ag_hold *holds; /* what this connection owns, see ag_conn_hold */
	uint32_t nholds, capholds;
	struct ag_hold *passed; /* holds passed to it by values it received */
	uint32_t npassed, cappassed;
	bool going; /* being freed: unhold calls are ignored */
	bool have_peer;
	size_t mem;   /* what ag_conn_sync_mem() last counted in conn_memory */
	ag_buf *sink; /* detached: where answers go (ag_conn_capture) */
	int64_t peer_pid, peer_uid;
	char peer[80];     /* "pid 12 uid 1000" or "127.0.0.1:5000", for logs */
	int64_t since_ms;  /* ag_mono_ms() when it connected */
	int64_t active_ms; /* ag_mono_ms() when it last sent bytes */
	uint64_t nrequests; /* served after authentication, for the log */
	/* Its user (users.c): NULL for the default user (every right);
	 * user_unknown after a hello naming no user of the file (its proofs
	 * use fake_key, so its auth fails), or when its user was removed. */
	const struct ag_user *user;
	bool user_unknown;
	uint8_t fake_key[32];
	char user_name[AG_USER_NAME_MAX + 8]; /* as hello named it */
	/* Why it ends, static text for the log ("closed by peer"): set
	 * once, where its end is decided (ag_conn_end_why()). */
	const char *end_why;
	TAILQ_ENTRY(ag_conn) link;
	TAILQ_ENTRY(ag_conn)
	ulink; /* in srv->unauth_* while not AG_CONN_READY */
	/* TLS (tls.c): NULL on a unix: or tcp: connection. */
	SSL *ssl;
	bool tls_checked;          /* its first byte begins a TLS record */
	bool tls_done;             /* its TLS handshake finished */
	bool tls_failed;           /* a TLS error: no close_notify */
	bool tls_read_wants_write; /* reading waits for the write event */
	bool tls_write_wants_read; /* writing waits for the read event */
	/* The channel binding (protocol section 2.1): SHA-256 of the
	 * certificate this connection was shown, once the handshake is done. */
	uint8_t tls_cb[AG_BINDING_LEN];
	char tls_why[160]; /* OpenSSL's reason for its TLS failure */
	/* Its answers wait for the journal (persist.c). */
	bool pwait;
	TAILQ_ENTRY(ag_conn) plink;
	/* The ephemeral names it created (lifetime.c), dropped at its end. */
	struct ag_life *owned;
};

/* "unix", "tcp" or "tls": the transport field of the server method
 * clients, and logs. */
static inline const char *ag_conn_transport(const ag_conn *c)
{
	return c->ssl != NULL ? "tls" : c->is_unix ? "unix" : "tcp";
}

/* Input buffers larger than this go once they are empty. */
#define AG_READ_KEEP ((size_t)65536)

/* An id for the connection, for info and logs. */
static inline uint64_t ag_conn_id(const ag_conn *c)
{
	return c->id;
}

static inline ag_server *ag_conn_server(const ag_conn *c)
{
	return c->srv;
}

/* Bytes of answers not yet sent. */
static inline size_t ag_conn_unsent(const ag_conn *c)
{
	return c->out.len - c->out_sent;
}

/* ---- replies (reply.c) --------------------------------------------------- */

/*
 * Every reply goes to the target's output buffer and is written once per
 * loop turn. ag_reply_begin() packs [1, msgid, nil, and returns the packer:
 * the caller packs exactly one result object.
 */
msgpack_packer *ag_reply_begin(const ag_target *t);
void ag_reply_nil(const ag_target *t);
void ag_reply_bool(const ag_target *t, bool v);
void ag_reply_int(const ag_target *t, int64_t v);
void ag_reply_uint(const ag_target *t, uint64_t v);
void ag_reply_double(const ag_target *t, double v);
/* The stored bytes of @v as the result: no re-encoding. */
void ag_reply_val(const ag_target *t, const ag_val *v);
/* Pack stored bytes as one object into a reply under construction. */
void ag_pack_val(msgpack_packer *pk, const ag_val *v);
/* Answer an error with a printf-style message; returns @rc (negative). */
int ag_reply_error(const ag_target *t, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An error answer whose error array has a fourth element, {"branch":
 * @branch, "call": @index}: a transaction's failing call (txn.c). */
void ag_reply_error_where(const ag_target *t, int rc, const char *msg,
			  const char *branch, uint32_t index);
/* The same for a connection and msgid, from a va_list (conn.c's errors
 * that end a connection). */
void ag_reply_verror(ag_conn *c, uint32_t msgid, int rc, const char *fmt,
		     va_list ap);
/* Send what @c's output buffer holds, without blocking (the rest when the
 * socket is writable again). False when the peer is gone. */
bool ag_conn_flush(ag_conn *c);
/* Bring the server's count of connection memory up to date for @c. */
void ag_conn_sync_mem(ag_conn *c);
/*
 * End @c from inside a method of connection @by (the server method kill):
 * as a cut, its unsent answers are dropped and its write event frees it
 * in this loop turn, which withdraws its parked requests and gives back
 * what it holds (a lock goes to the next waiter). When @c is @by, the
 * answers made so far are still sent: it stops serving and is freed once
 * the request returns (process_input). A connection already closing is
 * left as it is.
 */
void ag_conn_kill(ag_conn *c, const ag_conn *by);

/*
 * Notifications (docs/protocol.md section 11): ag_notify_begin() packs
 * [2, method, into @c's output and returns the packer; the caller packs
 * the params (an array of one map) and nothing else. They leave with the
 * connection's answers, in the order packed. NULL: @c takes nothing more
 * (closing, draining, not authenticated), or more than max_output of what
 * it was sent lies unread: then the "cut" notification is queued last and
 * the connection drains, ending once it is sent (or after
 * AG_DRAIN_SECONDS); the caller counts the notification as not delivered.
 */
#define AG_DRAIN_SECONDS 10
msgpack_packer *ag_notify_begin(ag_conn *c, const char *method);

/*
 * The change feed (watch.c). ag_changed(): @o changed by @op (its method's
 * name, "get", without the type), about the one key @key or NULL: gives @o
 * the next version and notifies its watchers. The dispatcher brackets a
 * write call with ag_change_begin() and ag_change_end() (@changed: it was
 * answered without error and did not park), so the call's own change is
 * sent before those it made happen.
 */
void ag_changed(ag_object *o, const char *op, const ag_val *key);
/* ag_changed(@o, @op, NULL) unless it is the running write call's own
 * change: a call of @by on @o (its dispatch reports it). For a family's
 * state that changes in one place whoever changes it (a lock's owner). */
void ag_changed_by(ag_object *o, const ag_conn *by, const char *op);
/* The same for a change a write call makes happen before its own (a key
 * it finds expired): sent at once. */
void ag_changed_first(ag_object *o, const char *op, const ag_val *key);
void ag_change_begin(ag_server *s);
void ag_change_end(ag_req *r, const ag_method *m, bool changed);
/* A transaction (txn.c) holds every change back over all its calls:
 * ag_change_flush() sends them all, in order, and ends the bracket;
 * ag_change_discard() forgets them (it failed). */
void ag_change_flush(ag_server *s);
void ag_change_discard(ag_server *s);
void ag_watch_conn_gone(ag_conn *c);
void ag_watch_server_free(ag_server *s);
int ag_srv_watch(ag_req *r);
int ag_srv_unwatch(ag_req *r);
bool ag_conn_notifiable(const ag_conn *c);
/* With --max-memory: cut the connections holding the most while the
 * server holds more than max_memory + max_output (reply.c says exactly). */
void ag_enforce_memory(ag_server *s);

/* ---- transactions (txn.c) ------------------------------------------------ */

/* The server method txn (docs/protocol.md section 12). */
int ag_srv_txn(ag_req *r);
/*
 * Inside a transaction, a family that would serve @o's waiters after a
 * change (a put serving a parked get, a release handing a lock on, an
 * event set answering its waits, a publish sending a message) must not
 * yet: it calls ag_txn_defer(@o) instead, which notes @o and returns
 * true, and fam->wake(@o) does it once the transaction has committed.
 * False outside a transaction: serve now.
 */
bool ag_txn_defer(ag_object *o);
/*
 * A family about to change an object other than the one whose method runs
 * (a condition its lock, a queue its dead-letter queue) calls
 * ag_txn_touch(@o) first: inside a transaction @o is saved (txn_save) if
 * it was not yet, to be restored with the rest. 0 (and always 0 outside
 * a transaction), or AGORA_ENOMEM: do not change it; fail the call.
 */
int ag_txn_touch(ag_object *o);
/* The dispatcher, before running @m for @r inside a transaction: a
 * condition's call must only read; a write is admitted by the journal
 * and its object saved (ag_txn_touch). 0, or the error it answered. */
int ag_txn_check(ag_req *r, const ag_method *m);
/* Whether a transaction is running (its calls are being dispatched). */
bool ag_txn_active(const ag_server *s);
/* The running transaction's saved copy of @o (what txn_save() gave), or
 * NULL when @o has none (no transaction, or not written in it yet). */
void *ag_txn_saved(const ag_object *o);

/* ---- argument helpers (args.c) ------------------------------------------- */

/*
 * Each reads argv[i] of @r, answers ARGS (or VALUE) naming the wrong value
 * and returns it when the param has the wrong kind, else returns 0 and writes
 * *ret. The _opt variants take @def when the param is absent or nil.
 */
int ag_arg_int(ag_req *r, uint32_t i, int64_t *ret);
int ag_arg_opt_int(ag_req *r, uint32_t i, int64_t def, int64_t *ret);
/* A slice bound: nil or absent -> *ret_nil = true. */
int ag_arg_opt_index(ag_req *r, uint32_t i, int64_t *ret, bool *ret_nil);
int ag_arg_bool(ag_req *r, uint32_t i, bool def, bool *ret);
/* Timeout in seconds: nil/absent -> -1 (forever); negative -> VALUE. */
int ag_arg_timeout(ag_req *r, uint32_t i, double *ret);
/* block at argv[@i] (default true) and, only when blocking, the timeout at
 * argv[@i + 1] as ag_arg_timeout() reads it (-1 when not blocking): as in
 * Python, a non-blocking call ignores its timeout. */
int ag_arg_block(ag_req *r, uint32_t i, bool *ret_block, double *ret_timeout);
/*
 * The items of an array param, or the keys and values (alternating) of a
 * map param, straight from its bytes: each item's header (a scalar's value
 * included) and its bytes, with no object tree built. ag_arg_items()
 * answers ARGS (and returns it) when param @i is missing or not an array;
 * ag_arg_pairs() the same for a map. count is the array's items or the
 * map's pairs. An iterator can be copied to walk the items again.
 */
typedef struct ag_item {
	ag_mp_head head;
	ag_span raw;
} ag_item;
typedef struct ag_items {
	uint64_t count;
	uint64_t left;
	const uint8_t *p, *end;
} ag_items;
int ag_arg_items(ag_req *r, uint32_t i, ag_items *ret);
int ag_arg_pairs(ag_req *r, uint32_t i, ag_items *ret);
void ag_items_init(ag_items *it, const ag_span *sp);
bool ag_items_next(ag_items *it, ag_item *ret);
/* An item as a decoded object: scalars with their value, str/bin/ext
 * pointing into the request, a container as AG_OBJECT_RAW. */
void ag_item_obj(const ag_item *it, msgpack_object *ret);
/* The bytes of option @name in the options map at param @i, if given. */
bool ag_opt_raw(const ag_req *r, uint32_t i, const char *name, ag_span *ret);
/* Param @i echoed as sent, into a reply under construction. */
void ag_pack_arg(msgpack_packer *pk, const ag_req *r, uint32_t i);
/* A short description of the value at @sp for error messages. */
void ag_raw_describe(const ag_span *sp, char *buf, size_t len);
/* The param present (argc > i) and not nil. */
bool ag_arg_given(const ag_req *r, uint32_t i);
/*
 * Canonical owned copy of param @i, made from its bytes (ag_val_from_raw),
 * checked against --max-memory and holding what its references name;
 * answers VALUE (a duplicate map key, a malformed reference), NO_OBJECT or
 * LIMIT on failure. ag_span_val() does the same for any bytes of the
 * request (an item of an array param), naming them "@what @n" in errors
 * ("the key of entry 3"), or @what alone when @n is AG_NO_INDEX.
 */
#define AG_NO_INDEX UINT32_MAX
int ag_arg_val(ag_req *r, uint32_t i, ag_val *ret);
int ag_span_val(ag_req *r, const ag_span *sp, const char *what, uint32_t n,
		ag_val *ret);
/* Canonical copy of argv[i] into the server scratch buffer (borrowed,
 * valid until the next request), hash-ready: for lookups by key.
 * Answers TYPE when the key holds a map (unhashable). ag_span_key() for
 * any bytes of the request. */
int ag_arg_key(ag_req *r, uint32_t i, ag_val *ret);
int ag_span_key(ag_req *r, const ag_span *sp, const char *what, uint32_t n,
		ag_val *ret);
/* --max-memory: storing @adding more bytes is allowed, or LIMIT is
 * answered and returned. */
int ag_memory_check(ag_req *r, size_t adding);
/* The most items a container holds: its count must fit the 32 bits of a
 * MessagePack array or map header. */
#define AG_ITEMS_MAX UINT32_MAX
/* The max_items limit (and AG_ITEMS_MAX): a container of r->obj holding
 * @have items may take @adding more, or LIMIT is answered and returned. */
int ag_items_check(ag_req *r, size_t have, size_t adding);
/* Check that @opts (may be NULL) names only options in the NULL-terminated
 * list @allowed; answers ARGS naming the first unknown one. */
int ag_opts_check(ag_req *r, const msgpack_object *opts,
		  const char *const *allowed);
/* The option @name in @opts, or NULL. */
const msgpack_object *ag_opt(const msgpack_object *opts, const char *name);

/* ---- parked requests (wait.c) -------------------------------------------- */

typedef void (*ag_wait_fn)(ag_waiter *w);
/* A waiter's on_cancel: answer the cancelled request (now, or later when
 * it must first take something back: a condition wait its lock); true
 * when @w is done (wait.c frees it), false when it was moved and waits
 * on, already marked cancelled. */
typedef bool (*ag_cancel_fn)(ag_waiter *w);

struct ag_waiter {
	ag_target to;
	ag_object *obj; /* holds a reference */
	struct ag_waitq *queue;
	struct event *timer;    /* NULL when waiting forever */
	ag_wait_fn on_timeout;  /* answers the timeout outcome */
	ag_wait_fn on_withdraw; /* its connection is going: NULL, or undo */
	bool keep;              /* on_timeout moved it: do not free */
	TAILQ_ENTRY(ag_waiter) qlink;    /* in *queue, arrival order */
	TAILQ_ENTRY(ag_waiter) connlink; /* in the connection's list */
	ag_val val;  /* a value the request carries (queue put), or empty */
	int64_t n;   /* a number the request carries */
	int64_t aux; /* another, for the family */
	/* A member of a request that waits on several objects (NULL: none),
	 * and what its answer names when this member is served (the handle
	 * the call gave for w->obj). */
	ag_wait_group *group;
	uint64_t tag;
	ag_cancel_fn on_cancel; /* NULL: cancel answers and withdraws */
	bool cancelled;         /* cancelled, still waiting (on_cancel) */
};

/* A request parked on several objects at once (ag_wait_park_any): one
 * member waiter per object, in the order of the call, one timer. */
struct ag_wait_group {
	struct event *timer;   /* NULL when waiting forever */
	ag_wait_fn on_timeout; /* answers the timeout, given members[0] */
	uint32_t n;
	ag_waiter *members[];
};

/*
 * Park request @r at the tail of @q (arrival order) until a change to
 * r->obj answers it with ag_wait_done(), or @timeout seconds pass (<0:
 * forever), when @on_timeout answers and then the waiter is freed (unless
 * on_timeout moved it with ag_wait_move()). The waiter holds a reference to
 * r->obj. Returns the waiter (its val/n/aux/on_withdraw free for the caller
 * to fill), or NULL after answering LIMIT (out of memory).
 */
ag_waiter *ag_wait_park(ag_req *r, struct ag_waitq *q, double timeout,
			ag_wait_fn on_timeout);
/*
 * Park request @r on @n objects at once: a member waiter at the tail of
 * each @qs[i] (the wait queue of @objs[i], each object once), answering
 * @tags[i] when that object serves it. The first object to serve a
 * member answers the request and calls ag_wait_done() on that member,
 * which withdraws every member. After @timeout seconds (<0: forever)
 * @on_timeout answers (given the first member) and the group goes. It
 * counts as one parked request. The members' n/aux are free for the
 * caller. Returns the group, or NULL after answering LIMIT.
 */
ag_wait_group *ag_wait_park_any(ag_req *r, uint32_t n, ag_object *const *objs,
				struct ag_waitq *const *qs,
				const uint64_t *tags, double timeout,
				ag_wait_fn on_timeout);
/* Take @w out of its queue, stop its timer, drop its reference and free it
 * (its val too); a group member: the whole group. Call after answering
 * it. */
void ag_wait_done(ag_waiter *w);
/* Move @w to the tail of @q and stop its timer: it now waits without a
 * deadline (a condition waiter going back for its lock). Safe inside
 * on_timeout, which then does not free it. */
void ag_wait_move(ag_waiter *w, struct ag_waitq *q);
/* Withdraw @w because its connection is going: on_withdraw (of every
 * member of a group), then done. */
void ag_wait_withdraw(ag_waiter *w);
/*
 * cancel: the first parked request of @c (arrival order) with msgid
 * @msgid that is not cancelled already is answered CANCELLED and
 * withdrawn (its on_withdraw undoes what parking did); one with an
 * on_cancel is handed to it instead. False when @c has no such request.
 */
bool ag_wait_cancel(ag_conn *c, uint32_t msgid);
/* An on_timeout that answers false: a timed-out acquire (lock, semaphore),
 * Event.wait, or a queue's join, which Agora answers as Event.wait does. */
void ag_wait_answer_false(ag_waiter *w);

/* ---- handles and ownership (session.c) ----------------------------------- */

/*
 * A connection owns things of objects: a lock, an rlock's count, an owned
 * semaphore's permits. ag_conn_hold() records one more of them for the pair
 * (@c, @o) (the first takes a reference to @o); ag_conn_unhold() one less.
 * When @c goes away, after its parked requests are withdrawn,
 * o->fam->conn_gone(o, c) is called once for every object it still holds
 * something of, and must give all of it back (waking the next waiter);
 * unhold calls made from there are ignored. Returns 0 or AGORA_ENOMEM.
 */
int ag_conn_hold(ag_conn *c, ag_object *o);
void ag_conn_unhold(ag_conn *c, ag_object *o);
/* Peer credentials of a Unix connection (pid and uid), from SO_PEERCRED;
 * false for TCP. */
bool ag_conn_peer(const ag_conn *c, int64_t *ret_pid, int64_t *ret_uid);
/* A new handle of @c for @o (takes a reference). */
int ag_conn_handle_new(ag_conn *c, ag_object *o, uint32_t *ret);
ag_object *ag_conn_handle_get(ag_conn *c, uint64_t h);
/* Release handle @h; false when it is not one. */
bool ag_conn_handle_close(ag_conn *c, uint64_t h);
/* Passed holds: @c receives one hold on @o (a reference already counted);
 * ag_conn_unpass drops all that @c has on @o. */
int ag_conn_pass(ag_conn *c, ag_object *o);
void ag_conn_unpass(ag_conn *c, ag_object *o);
/* Free a stored value handed to connection @c (after replying with it):
 * its holds pass to @c, until it opens the objects or goes away. */
void ag_val_give(ag_conn *c, ag_val *v);
/* Give back everything @c has of the objects (parked requests, what it
 * owns, passed holds, handles), before it is freed. */
void ag_session_end(ag_conn *c);

/* ---- names and their lifetimes (lifetime.c) ------------------------------ */

/*
 * The names table (s->names) and how long a name lives. A named object may
 * be ephemeral (open's option ephemeral: its name is dropped when the
 * connection that created it ends, for any reason) and may have a
 * deadline (open's option ttl, the server method expire: its name is
 * dropped then). Both concern the name only, as drop does: handles and
 * references keep the object. Deadlines are wall-clock times
 * (CLOCK_REALTIME, Unix seconds) so that the journal can hold them as they
 * are; a name past its deadline is never found (ag_name_find() and
 * ag_life_check()), and a timer drops it when nobody looks.
 */
#define AG_TTL_MAX 1e9 /* seconds: about 31 years */

/* An object's lifetime (o->life), NULL for an object with neither. */
struct ag_life {
	ag_object *obj;
	ag_conn *owner;                 /* NULL: not ephemeral */
	struct ag_life *onext, **oprev; /* in owner->owned */
	double deadline;                /* Unix seconds; 0: none */
	struct event *ev;               /* the deadline's timer, or NULL */
};

/* What an ag_life costs its object (ag_object_mem): itself and its
 * timer's event. */
static inline size_t ag_life_cost(void)
{
	return sizeof(struct ag_life) + event_get_struct_event_size();
}
/* The time now, Unix seconds (CLOCK_REALTIME). */
double ag_wall_now(void);
/* What a name of @len bytes costs the server: the object's copy and the
 * names table's key (an approximation of the allocator's share). */
size_t ag_name_cost(size_t len);
/* Give @o the name @name (which no object has), 0 or AGORA_ENOMEM (or
 * AGORA_EEXISTS); take @o's name away, with its lifetime (the name's hold
 * goes). object.c, as ag_name_cost(). */
int ag_object_name(ag_object *o, const char *name, size_t len);
void ag_object_unname(ag_object *o);
/* The object named @name (@len bytes), or NULL: no such name, or one past
 * its deadline (then dropped now, as ag_life_check() does). */
ag_object *ag_name_find(ag_server *s, const char *name, size_t len);
/* Make named object @o ephemeral, owned by @c. 0 or AGORA_ENOMEM. */
int ag_life_set_owner(ag_object *o, ag_conn *c);
/* Give named object @o the deadline @deadline (Unix seconds; 0 or less:
 * none), arming its timer. 0 or AGORA_ENOMEM. */
int ag_life_set_deadline(ag_object *o, double deadline);
/* The id of the connection owning @o's name, 0 when not ephemeral; its
 * deadline, 0 when none. */
static inline uint64_t ag_life_owner(const ag_object *o)
{
	return o->life != NULL && o->life->owner != NULL ? o->life->owner->id
							 : 0;
}
static inline double ag_life_deadline(const ag_object *o)
{
	return o->life != NULL ? o->life->deadline : 0;
}
/* Whether @o's name is past its deadline at @now. */
static inline bool ag_life_due(const ag_object *o, double now)
{
	return o->name != NULL && o->life != NULL && o->life->deadline > 0 &&
	       now >= o->life->deadline;
}
/* When @o's name is past its deadline, drop it now (journaled as drop
 * is) and return true. */
bool ag_life_check(ag_object *o);
/* Forget @o's lifetime, its timer and its place on its owner's list (its
 * name is going, or the server is). object.c. */
void ag_life_free(ag_object *o);
/* Connection @c ends: drop the names of the ephemeral objects it made
 * (conn.c, before ag_session_end()). */
void ag_life_conn_gone(ag_conn *c);
/* ls's and info's fields of @o's lifetime: how many pairs (0 for most
 * objects, so that their entries stay as they were), and packing them:
 * "ephemeral_owner" (the creator's connection id) for an ephemeral name,
 * "ttl" (seconds left at @now) and "expires" (the deadline) for a name
 * with a deadline. */
unsigned ag_life_count(const ag_object *o);
void ag_life_pack(const ag_object *o, msgpack_packer *pk, double now);

/* ---- connections and the server (conn.c, server.c, log.c) ---------------- */

/* A method name resolved once (dispatch.c): a direct-mapped cache from the
 * wire name "TYPE.METHOD" (or "ping") to its family and table entry. */
#define AG_METHOD_CACHE 64
#define AG_METHOD_NAME_MAX 39
typedef struct ag_method_slot {
	const struct ag_family *fam; /* NULL for server methods */
	const struct ag_method *m;   /* NULL: an empty slot */
	uint8_t len;
	char name[AG_METHOD_NAME_MAX];
} ag_method_slot;

/* Log lines a client without the key could make the server repeat at
 * will: at most one a second for each (ag_server_logf_limited). */
enum ag_logcause {
	AG_LOG_ACCEPT,       /* accept(2) failed */
	AG_LOG_EVICT,        /* the oldest unauthenticated connection closed */
	AG_LOG_AUTH_TIMEOUT, /* no authentication in time */
	AG_LOG_AUTH_FAILED,  /* a wrong proof */
	AG_LOG_AUTH_UNFINISHED, /* closed after hello, without a proof */
	AG_LOG_LIMIT,    /* refused: authenticated connections at the limit */
	AG_LOG_PROTOCOL, /* a frame that breaks the protocol */
	AG_LOG_TLS,      /* a failed TLS handshake or TLS error */
	AG_LOG__COUNT
};

/* Random bytes in a server's run id (struct agora_server's run_id). */
#define AG_RUN_ID_BYTES 16

/* What server.c keeps of the server: the stop pipe, the signals, and the
 * pacing of accepts (server.c says how). */
#define AG_MAX_SIGNALS 8
typedef struct ag_server_run {
	int stop_pipe[2];
	struct event *stop_ev;
	struct event *sigs[AG_MAX_SIGNALS];
	int reserve_fd;              /* /dev/null, given up on EMFILE; or -1 */
	struct event *backoff_timer; /* ends an EMFILE pause */
	struct event *batch_timer;   /* ends a pause after ACCEPT_BATCH */
	struct event *evict_timer;   /* ends a wait for an eviction token */
	bool backoff;                /* paused for want of descriptors */
	bool batch_done;             /* paused after ACCEPT_BATCH accepts */
	bool evict_wait;   /* paused: handshake places full, no token */
	double tokens;     /* evictions allowed now */
	int64_t tokens_us; /* when tokens was last brought up */
	bool accepting;    /* the listeners are enabled */
	unsigned batch;    /* accepted since the last batch pause */
} ag_server_run;

struct agora_server {
	struct event_base *base;
	struct ag_connq conns;
	unsigned nconns;    /* every connection, authenticated or not */
	unsigned max_conns; /* authenticated connections at once */
	/* Connections still in the handshake, oldest first: those that
	 * have not said hello, and those that have. At most max_unauth in
	 * all; one more closes the oldest, of the first list if it has one
	 * (ag_conn_accept). */
	struct ag_connq unauth_new, unauth_hello;
	unsigned nunauth, nauth;
	unsigned max_unauth;
	struct {
		int64_t last_ms; /* when the last line went out; 0: never */
		uint64_t suppressed;
	} loglim[AG_LOG__COUNT];
	ag_listener *listeners;
	uint8_t *key; /* the default user's; NULL: none (--users only) */
	size_t keylen;
	ag_users *users; /* --users, or NULL */
	size_t max_message;
	double auth_timeout;
	double peer_timeout; /* seconds; 0: never (TCP peers only) */
	size_t max_memory;   /* 0: none */
	size_t max_items;    /* 0: none */
	unsigned max_parked;
	size_t max_output;
	unsigned max_txn; /* conditions and calls of one transaction */
	mode_t unix_mode;
	gid_t unix_gid; /* (gid_t)-1: unchanged */
	char unix_group[64];
	uint64_t next_obj_id;
	/* The last fencing token given, by any lock or rlock (obj_lock.c).
	 * Like next_obj_id it must never go back: persistence saves it. */
	uint64_t last_fence;
	/* The change feed (watch.c): the last version given, and changes
	 * held back while a write call runs. */
	uint64_t revision;
	bool changing;
	/* Inside a transaction: nheld when the running call began. */
	uint32_t held_call;
	struct ag_held_change *held;
	uint32_t nheld, capheld;
	uint64_t next_conn_id;
	uint64_t requests;
	uint64_t nwaiters;
	uint64_t nobjects;
	size_t memory;      /* held for objects: what --max-memory limits */
	size_t conn_memory; /* held by connections: buffers, tables */
	uint64_t seed;
	/* This start of the server, for hello and stats (protocol sections 2
	 * and 3.1): a random id drawn by agora_server_new(), as lowercase hex;
	 * the wall-clock time of the start in Unix seconds; and the
	 * monotonic one, in milliseconds (ag_mono_ms()), for the uptime. */
	char run_id[2 * AG_RUN_ID_BYTES + 1];
	double started;
	int64_t started_ms;
	ag_table names; /* name -> ag_object* (ptr) */
	ag_table ids;   /* 8-byte big-endian id -> ag_object* (ptr) */
	bool freeing;   /* agora_server_free(): objects go without unrefs */
	/* Objects whose last reference went, freed a bounded number per loop
	 * turn (object.c), so that a long chain of references neither
	 * recurses nor stalls the loop. */
	ag_object *dead_head, **dead_tail;
	bool reaping;
	bool reap_later;   /* the budget is spent: the timer comes next turn */
	unsigned reap_n;   /* objects destroyed since the timer last ran */
	size_t reap_bytes; /* and their bytes */
	size_t heap_peak;  /* memory + conn_memory at most since a trim */
	struct event *reap_ev;
	/* Random bytes for the secrets of new objects (object.c). */
	uint8_t secret_pool[256];
	unsigned secret_left;
	msgpack_zone zone;
	msgpack_zone req_zone;
	void *zone_head,
	    *req_zone_head; /* their first chunks (ag_server_trim) */
	ag_buf scratch;
	ag_method_slot methods[AG_METHOD_CACHE];
	bool stopping;
	/* Called when a connection was freed or finished its handshake
	 * (conn.c): listeners paused for want of descriptors (EMFILE) or of
	 * places in the handshake accept again (server.c sets it). */
	void (*slot_freed)(ag_server *s);
	ag_server_run run;
	void (*log)(void *ud, const char *line);
	void *log_ud;
	int log_level; /* AGORA_LOG_*: lines above it are not made */
	/* TLS (tls.c): the context new connections get (NULL without a
	 * tls: listener), the files it is made from, the socket BIO. */
	SSL_CTX *tls_ctx;
	char *tls_cert, *tls_key, *tls_ca;
	BIO_METHOD *tls_bio;
	struct event *reload_ev; /* the reload signal, or NULL */
	/* The data directory (persist.c), or NULL: in memory only; and,
	 * with it, what ag_conn_flush() asks before sending: whether the
	 * journal holds the records of what the answers say
	 * (ag_persist_may_send). */
	ag_persist *persist;
	bool (*may_send)(ag_conn *c);
	/* The write call being dispatched (on chg_obj), and how it ended: an
	 * error answer to it (reply.c) or parked (wait.c); the journal takes
	 * its record back then, and the change feed reports no change. */
	ag_target chg;
	ag_object *chg_obj;
	bool chg_failed, chg_parked;
	/* The transaction being run (txn.c), or NULL. */
	struct ag_txn *txn;
};

/*
 * The log (log.c). Every line has a level (AGORA_LOG_ERROR, _WARNING,
 * _INFO, _DEBUG, agora_server.h) and goes to the log callback as
 * "LEVEL: text" when the server's log_level takes it. One line per event;
 * never key material. ag_server_logs() tells whether a line of @level
 * would be made, for a caller with work to do before it.
 */
static inline bool ag_server_logs(const ag_server *s, int level)
{
	return s->log != NULL && level <= s->log_level;
}
void ag_server_logf(ag_server *s, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* ag_server_logf() at most once a second for @cause; the lines left out
 * are counted, and the next line printed for @cause says how many. */
void ag_server_logf_limited(ag_server *s, int level, enum ag_logcause cause,
			    const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Record why @c ends ("closed by peer", static text), unless a reason is
 * recorded already: the first decision wins. */
void ag_conn_end_why(ag_conn *c, const char *why);
/* Why @c ended, for a line about it: its reason, or "closed". */
const char *ag_conn_why(const ag_conn *c);
/* "lock 'jobs' (id 7)", or "lock (anonymous, id 7)", into @buf (@len
 * bytes, 400 fit every name): the name cut to 128 bytes, bytes other than
 * printable ASCII as \xNN. Returns @buf. */
const char *ag_object_label(const ag_object *o, char *buf, size_t len);
/* Milliseconds of CLOCK_MONOTONIC (log.c). */
int64_t ag_mono_ms(void);

/* Accept a new connected socket (takes @fd); with @tls, a TLS connection
 * of the server's current TLS context. */
void ag_conn_accept(ag_server *s, int fd, bool is_unix, bool tls,
		    const struct sockaddr *sa, int salen);

/*
 * TLS (tls.c). ag_tls_ctx_load() makes a server context from the PEM
 * certificate chain @cert, the key @key (refused when group or others may
 * read it) and, when @ca is not NULL, the CAs that must have signed a
 * client's certificate (then one is required): 0 and *ret, or a negative
 * code with a sentence in @err. ag_tls_setup() does it for a server's
 * config and keeps the file names for ag_tls_reload(), which makes a new
 * context for new connections: 1 when it did, 0 when the server has no
 * TLS, negative (the old context kept) when it failed.
 * ag_tls_teardown() frees what the server has of TLS.
 */
int ag_tls_ctx_load(const char *cert, const char *key, const char *ca,
		    SSL_CTX **ret, char *err, size_t errlen);
int ag_tls_setup(ag_server *s, const agora_server_config *cfg, char *err,
		 size_t errlen);
int ag_tls_reload(ag_server *s, char *err, size_t errlen);
void ag_tls_teardown(ag_server *s);
/* Give @c (accepted on a tls: listener) its SSL. 0 or AGORA_ENOMEM. */
int ag_tls_conn_new(ag_conn *c);
/* Free @c's SSL, sending a close_notify if the socket takes it now. */
void ag_tls_conn_free(ag_conn *c);
/*
 * The I/O of every connection: read(2) and send(2) on a plain one; on a
 * TLS one the handshake first, then SSL_read_ex() and SSL_write_ex().
 * Never blocks. As read(2) and send(2): bytes, 0 at the end, or -1 with
 * errno (EAGAIN: try again on the next event; EPROTO: a TLS failure,
 * c->tls_why says which). ag_conn_read_pending(): plaintext is waiting in
 * the SSL that the socket will not announce.
 */
ssize_t ag_conn_read(ag_conn *c, void *buf, size_t len);
ssize_t ag_conn_write(ag_conn *c, const void *buf, size_t len);
bool ag_conn_read_pending(const ag_conn *c);
/* Reload what can be reloaded without a restart (the TLS certificate, key
 * and client CA, and the users file), logging what was done or why it failed; a
 * failure keeps the old state. 0, or the negative code of the failure with a
 * sentence in @err. */
int ag_server_reload(ag_server *s, char *err, size_t errlen);
/* Close and free a connection: withdraw its waiters, release its handles
 * and whatever its objects let it own. */
void ag_conn_free(ag_conn *c);
/* Answer every parked request of every connection with SHUTDOWN and stop
 * reading; then send every connection's pending output, blocking for at
 * most @grace_ms in all (a client that does not read loses the rest). */
void ag_conns_shutdown(ag_server *s, int grace_ms);
/* Free every connection of @s. */
void ag_conns_free_all(ag_server *s);

/*
 * Testing hooks (fuzz targets, unit tests): a connection without a socket,
 * whose answers are discarded, fed bytes by the caller. With
 * @authenticated it starts past the handshake. ag_conn_feed() returns false
 * when the bytes ended the connection, which is then freed.
 */
ag_conn *ag_conn_new_detached(ag_server *s, bool authenticated);
bool ag_conn_feed(ag_conn *c, const void *data, size_t len);
/* The answers of detached connection @c go to @sink (appended) instead of
 * nowhere, for tests that read them; NULL discards again. */
void ag_conn_capture(ag_conn *c, ag_buf *sink);
/* A server with no listener and no signal, for the hooks above; free it
 * with agora_server_free(). Runs pending callbacks with
 * ag_server_run_pending(). */
int ag_server_new_detached(const void *key, size_t keylen, ag_server **ret);
void ag_server_run_pending(ag_server *s);

/* Dispatch one authenticated request: a server method (dispatch.c), or
 * a method of an object (ag_call_object()). */
void ag_dispatch(ag_conn *c, const ag_request *rq);
/* Calling methods (call.c). ag_call_object(): a "TYPE.METHOD" request,
 * with every check (handle, type, rights, params, memory), the journal
 * and the change feed; what the dispatcher and a transaction's calls
 * use. ag_call_begin(): the ag_req of @rq, after what every request does
 * first (the server's scratch cleared). The method cache of the server:
 * ag_method_cached() (NULL when not there), ag_method_remember(). A
 * method of table @t by name; NULL when none. ag_check_argc(): the
 * number of params (@skip: 1 after the handle), and --max-memory for a
 * method that stores; false after answering ARGS or LIMIT. */
void ag_call_object(ag_conn *c, const ag_request *rq);
ag_req ag_call_begin(ag_conn *c, const ag_request *rq);
const ag_method *ag_method_cached(ag_server *s, const char *name, size_t len,
				  const ag_family **ret_fam);
void ag_method_remember(ag_server *s, const char *name, size_t len,
			const ag_family *fam, const ag_method *m);
const ag_method *ag_method_find(const ag_method *t, const char *name,
				size_t len);
bool ag_check_argc(ag_req *r, const ag_method *m, unsigned skip);

/* The id index (object.c): the object of id @id, or NULL. */
ag_object *ag_object_by_id(ag_server *s, uint64_t id);
/* Draw the secret of new object @o; 0 or AGORA_EIO. */
int ag_object_secret(ag_object *o);
/* Enter @o in the id index (for references); 0 or AGORA_ENOMEM. */
int ag_object_index(ag_object *o);
void ag_object_unindex(ag_object *o);

/* References (refs.c). The object a reference's data names, or NULL when none
 * does: no such id, or a secret that is not the object's (compared in constant
 * time), or not AG_REF_LEN bytes. */
ag_object *ag_object_by_ref(ag_server *s, const void *data, size_t len);
/* Pack the reference of @o (ext 1). */
void ag_pack_ref(msgpack_packer *pk, const ag_object *o);
/*
 * A value about to be stored takes a hold on every object its references
 * name (ag_arg_val() does this for its result). Answers NO_OBJECT and
 * returns it when one does not exist, taking nothing.
 */
int ag_val_hold(ag_req *r, const ag_val *v);
/* Free a stored value that is removed for good: its holds are released. */
void ag_val_free(ag_server *s, ag_val *v);
/* Release @v's holds, leaving its bytes (a key the table frees). */
void ag_val_release(ag_server *s, const ag_val *v);
/* Call @fn with the object of every reference in stored value @v (whose
 * references hold their objects). */
void ag_val_foreach_ref(ag_server *s, const ag_val *v,
			void (*fn)(void *ud, ag_object *o), void *ud);

/* Objects (object.c). A new object of @fam with a fresh id, in the id index,
 * one reference held by the caller; its family state is not set up. NULL when
 * out of memory. */
ag_object *ag_object_new(ag_server *s, const ag_family *fam);
/* The server's objects, names and ids: set up, and free every object
 * (whoever holds it) when the server goes. */
void ag_registry_init(ag_server *s);
void ag_registry_deinit(ag_server *s);

#endif
