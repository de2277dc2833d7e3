/*
 * agora.h - libagora, the client library of Agora.
 *
 * A client is one authenticated connection to an Agora server. Proxies
 * (agora_list, agora_dict, agora_queue, agora_var, and the lock, rlock,
 * semaphore, condition, event, barrier, jqueue, array and namespace ones)
 * are handles to shared objects that live in the server; each call is one
 * round trip.
 *
 * Conventions
 *   - Functions return 0 or a negative AGORA_E* code (agora_errors.h). The
 *     server's sentence about what went wrong is kept on the client:
 *     agora_errmsg(). After a transport or protocol error the client is
 *     broken and every later call fails at once with AGORA_EIO.
 *   - Out-parameters (ret...) are written only on success.
 *   - Values you pass in (agora_int(), agora_str(), ...) point to your
 *     memory and are only read during the call. Values the library returns
 *     are yours: free them with agora_value_free(). Strings returned as
 *     char * are yours to free().
 *   - Timeouts are seconds: AGORA_FOREVER (-1) waits forever, 0 does not
 *     wait, more waits that long. On the wire "forever" is nil, and a
 *     negative timeout is an error (VALUE): the library sends any negative
 *     or infinite C timeout as nil. Only a request written by hand
 *     (agora_call(), the pipeline) must say nil itself.
 *   - Threads: a client and its proxies are used by one thread at a time.
 *   - fork(): a child never uses its parent's client or proxies; it connects
 *     its own (agora_client_connect_env()). Calls on an inherited client
 *     fail with AGORA_EINVAL and send nothing; freeing it sends nothing.
 *   - The library never prints, never exits, and never raises SIGPIPE.
 */
#ifndef AGORA_H
#define AGORA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agora_errors.h"
#include "agora_export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AGORA_VERSION "0.1.0"
#define AGORA_FOREVER (-1.0)
/* A slice bound left open (Python's None): agora_list_slice(l, 2,
 * AGORA_END, AGORA_END, &out) is l[2:]. */
#define AGORA_END INT64_MIN

/* ---- values ---------------------------------------------------------------
 */

typedef enum agora_type {
	AGORA_NIL,
	AGORA_BOOL,
	AGORA_INT,   /* via.i; every integer that fits int64_t */
	AGORA_UINT,  /* via.u; only integers above INT64_MAX come back so */
	AGORA_FLOAT, /* via.f */
	AGORA_STR,   /* via.str: UTF-8 bytes; the library NUL-terminates its own
		      */
	AGORA_BIN,   /* via.str */
	AGORA_ARRAY, /* via.array */
	AGORA_MAP,   /* via.map */
	AGORA_EXT,   /* via.str with ext_type; type 1 is a reference */
} agora_type;

typedef struct agora_value agora_value;
typedef struct agora_pair agora_pair;

struct agora_value {
	agora_type type;
	int8_t ext_type;
	union {
		bool b;
		int64_t i;
		uint64_t u;
		double f;
		struct {
			const char *ptr;
			size_t len;
		} str;
		struct {
			agora_value *items;
			size_t len;
		} array;
		struct {
			agora_pair *items;
			size_t len;
		} map;
	} via;
};

struct agora_pair {
	agora_value key;
	agora_value val;
};

static inline agora_value agora_nil(void)
{
	agora_value v;
	memset(&v, 0, sizeof(v));
	v.type = AGORA_NIL;
	return v;
}
static inline agora_value agora_bool(bool b)
{
	agora_value v = agora_nil();
	v.type = AGORA_BOOL;
	v.via.b = b;
	return v;
}
static inline agora_value agora_int(int64_t i)
{
	agora_value v = agora_nil();
	v.type = AGORA_INT;
	v.via.i = i;
	return v;
}
static inline agora_value agora_uint(uint64_t u)
{
	agora_value v = agora_nil();
	v.type = AGORA_UINT;
	v.via.u = u;
	return v;
}
static inline agora_value agora_float(double f)
{
	agora_value v = agora_nil();
	v.type = AGORA_FLOAT;
	v.via.f = f;
	return v;
}
static inline agora_value agora_strn(const char *s, size_t len)
{
	agora_value v = agora_nil();
	v.type = AGORA_STR;
	v.via.str.ptr = s;
	v.via.str.len = len;
	return v;
}
static inline agora_value agora_str(const char *s)
{
	return agora_strn(s, strlen(s));
}
static inline agora_value agora_bin(const void *p, size_t len)
{
	agora_value v = agora_strn((const char *)p, len);
	v.type = AGORA_BIN;
	return v;
}
static inline agora_value agora_array(agora_value *items, size_t len)
{
	agora_value v = agora_nil();
	v.type = AGORA_ARRAY;
	v.via.array.items = items;
	v.via.array.len = len;
	return v;
}
static inline agora_value agora_map(agora_pair *items, size_t len)
{
	agora_value v = agora_nil();
	v.type = AGORA_MAP;
	v.via.map.items = items;
	v.via.map.len = len;
	return v;
}

/* Free a value the library returned (and everything in it); it becomes nil.
 * Accepts NULL. Never call it on a value you built. */
AGORA_API void agora_value_free(agora_value *v);
/* Deep copy into library-owned memory (free with agora_value_free()). */
AGORA_API int agora_value_copy(agora_value v, agora_value *ret);
/* Section 5 equality: 1 == uint 1, 1 != 1.0, str != bin. */
AGORA_API bool agora_value_equal(agora_value a, agora_value b);
/* The integer in @v (INT, or UINT that fits): 0, or AGORA_ETYPE/EVALUE. */
AGORA_API int agora_value_to_int(agora_value v, int64_t *ret);
/* Write @v as JSON-like text into @buf (NUL-terminated, truncated). Returns
 * the length the whole text needs, as snprintf. */
AGORA_API size_t agora_value_format(agora_value v, char *buf, size_t len);

/* ---- errors ----------------------------------------------------------------
 */

/* "queue empty" for AGORA_EEMPTY. Never NULL. */
AGORA_API const char *agora_strerror(int rc);
/* The wire name, "EMPTY" for AGORA_EEMPTY. Never NULL. */
AGORA_API const char *agora_errname(int rc);

/* ---- the client ------------------------------------------------------------
 */

typedef struct agora_client agora_client;

/* A new, unconnected client. NULL only when out of memory. */
AGORA_API agora_client *agora_client_new(void);
/*
 * Connect to @address ("unix:/path" or "tcp:HOST:PORT") and do the mutual
 * handshake with the authkey @key. Fails with AGORA_EIO for an unreachable
 * address, AGORA_EAUTH for a wrong key or a server that does not hold it,
 * AGORA_ETIMEDOUT past the connect timeout (see the setters below);
 * agora_errmsg() says which. Blocks until done.
 */
AGORA_API int agora_client_connect(agora_client *c, const char *address,
				   const void *key, size_t keylen);
/*
 * Connect from the environment, in the order every client (and agora(1))
 * follows (docs/api.md, "Where the address and the key come from"): the
 * address from AGORA_ADDRESS, else agorad's default address
 * ("unix:$XDG_RUNTIME_DIR/agora.sock", else
 * "unix:/tmp/agora-$UID/agora.sock"); the key from the file
 * AGORA_AUTHKEY_FILE names (its bytes less one trailing newline; a regular
 * file of at most 4096 bytes, else AGORA_EIO), else AGORA_AUTHKEY (the
 * variable's bytes). An empty variable counts as unset. AGORA_EINVAL when
 * no key is set or it is empty.
 */
AGORA_API int agora_client_connect_env(agora_client *c);
/*
 * Timeouts, in seconds, for the next connect of @c (set them before
 * agora_client_connect()); 0 or AGORA_FOREVER means no limit. Unless set
 * here, AGORA_CONNECT_TIMEOUT and AGORA_PEER_TIMEOUT from the environment
 * decide at connect, else the defaults 10 and 30. Returns 0, or
 * AGORA_EINVAL for a NaN or more than a day (86400).
 *
 * Connect timeout: connecting and the handshake together; past it connect
 * fails with AGORA_ETIMEDOUT.
 *
 * Peer timeout (TCP connections only; a Unix socket reports a server's end
 * at once): the kernel ends the connection when the server stops
 * answering for that long (keepalive probes, unacknowledged data), and
 * every call is bounded: a call that waits up to T (an acquire, a get or
 * put, a wait, a join) returns within T plus the peer timeout, any other
 * call within the peer timeout. Either way it fails with AGORA_ETIMEDOUT
 * and the client is broken (later calls AGORA_EIO). A call that waits
 * forever, agora_call() of a type's method and a pipeline's calls are
 * bounded by the kernel's watch alone.
 */
/*
 * The user the next connect names in its hello (a user of agorad's users
 * file, with its own key and rights: docs/security.md); NULL: none, the
 * server's default user (the --authkey-file key, every right). Set it
 * before agora_client_connect(); the key given there must be that user's.
 * Unless set here, agora_client_connect_env() takes AGORA_USER. A server
 * without that user fails the connect with AGORA_EAUTH, as a wrong key
 * does. Returns 0; AGORA_EINVAL for a name of 0 or more than 64 bytes;
 * AGORA_ENOMEM.
 */
AGORA_API int agora_client_set_user(agora_client *c, const char *name);
AGORA_API int agora_client_set_peer_timeout(agora_client *c, double seconds);
AGORA_API int agora_client_set_connect_timeout(agora_client *c, double seconds);
/*
 * TLS files for the next connects of @c to a "tls:HOST:PORT" address
 * ("tls:[V6]:PORT" for an IPv6 literal): @ca, a PEM file of the CA
 * certificates to trust or a directory of them (hashed, as
 * `openssl rehash` makes it); @cert and @key, the client's certificate
 * (PEM, the chain after it) and private key (PEM; NULL with a @cert: the
 * key is in the cert file). Each NULL leaves it to the environment:
 * AGORA_TLS_CA, AGORA_TLS_CERT, AGORA_TLS_KEY; without either, the system's
 * CA store and no client certificate. The strings are copied. The
 * server's certificate and its host name (or IP address) are always
 * verified: a failure is AGORA_ECERT from connect, OpenSSL's reason in
 * agora_errmsg(). Returns 0, AGORA_EINVAL for an empty string, or
 * AGORA_ENOMEM (nothing changed).
 */
AGORA_API int agora_client_set_tls(agora_client *c, const char *ca,
				   const char *cert, const char *key);
/*
 * Reconnecting: a worker that outlives a restart of agorad (or a dropped
 * connection). With @seconds other than 0, when a call finds the
 * connection gone (its send or its answer failed, the server had closed
 * it, or the server answered a waiting call SHUTDOWN as it stopped), the
 * client connects again to the same address with the same key, trying for
 * up to @seconds (AGORA_FOREVER: without end; pauses from 50 ms growing to
 * 1 s), and opens every one of its proxies again: by name (with the
 * options it was created with, so a server that restarted empty creates
 * it as it was), or by reference when the server did not restart; an
 * anonymous object cannot be found again, and such a proxy's calls then
 * fail with AGORA_ENO_OBJECT saying so (close it). Then @fn, if not NULL,
 * is called with @restarted true when the server's run id changed (a new
 * server: its objects are new and empty, unless it keeps them in a data
 * directory, docs/protocol.md section 10; see agora_server_run_id()); it
 * may make calls on @c (they do not reconnect again).
 *
 * The call that found the connection gone is never made again when it may
 * have been done: when its request had reached the server and its answer
 * was lost, it returns AGORA_ELOST (the client has reconnected; the
 * program decides, as only it knows whether doing it twice is harmless).
 * It is made again when it cannot have been done: its request never
 * reached the server whole, the connection was seen closed before sending,
 * or it was a waiting call the stopping server withdrew (SHUTDOWN); a
 * waiting call made again waits its whole timeout again. When reconnecting
 * fails for @seconds, the call returns AGORA_EIO with the reason, and the
 * next call tries again.
 *
 * What the old connection held ended with it, as for any connection
 * (docs/protocol.md section 7): locks and owned permits were released,
 * waiting calls withdrawn, handles closed (agora_TYPE_handle() numbers
 * change). A program holding a lock learns it from @fn. Pipelines do not
 * reconnect: a pipeline's calls fail with the connection, and the next
 * call of the client reconnects. 0 turns it off (the default). Returns 0,
 * or AGORA_EINVAL for NaN or more than 86400 seconds. Set it before or
 * after connecting.
 */
typedef void agora_reconnect_fn(agora_client *c, bool restarted, void *arg);
AGORA_API int agora_client_set_reconnect(agora_client *c, double seconds,
					 agora_reconnect_fn *fn, void *arg);
/* Close the connection (if any) and free @c. Proxies of @c must be closed
 * first or never used again. Accepts NULL. */
AGORA_API void agora_client_free(agora_client *c);
/* The last error's sentence ("" when none). Lives until the next call.
 * In sticky mode, once an error is latched: that error's sentence, until
 * it is cleared. */
AGORA_API const char *agora_errmsg(const agora_client *c);

/*
 * Sticky mode, as stdio's ferror(): check once at the end, not after each
 * call.
 *
 *     agora_client_set_sticky(c, true);
 *     agora_queue_open(c, "jobs", 0, &jobs);
 *     agora_dict_open(c, "results", &results);
 *     while (agora_queue_get_int(jobs, 1.0, &n) == 0)
 *             agora_dict_set(results, agora_int(n), agora_int(n * n));
 *     agora_queue_close(jobs);
 *     agora_dict_close(results);
 *     if (agora_client_error(c) < 0)
 *             fprintf(stderr, "worker: %s\n", agora_errmsg(c));
 *
 * agora_client_set_sticky(@c, true) switches it on (off by default; false
 * switches it off and clears the latch). Then the first call on @c that
 * fails latches its code and sentence: every later call on @c, its
 * proxies and its pipelines does nothing (sends nothing) and returns that
 * code, and agora_errmsg() is its sentence. agora_client_error() reads the
 * latched code (0: none; AGORA_EINVAL for a NULL @c), and
 * agora_client_clear_error() clears it and returns it, so the next call
 * runs again.
 *
 * Not failures, never latched, because programs branch on them:
 * AGORA_EEMPTY and AGORA_EFULL (a queue's get or put that timed out, the
 * nowait ones: a worker's `while (get == 0)` loop ends on them), AGORA_EKEY
 * (a dict or namespace lookup that missed, an empty popitem) and
 * AGORA_EEXISTS (the answer to an exclusive open). A false from an
 * acquire or a wait is a result, not an error. Every other code latches:
 * AGORA_EINDEX (also from pop on an empty list, which cannot be told from
 * a wrong index), AGORA_ENO_OBJECT (also from an open with
 * AGORA_OPEN_NO_CREATE: clear it, or probe with sticky mode off), a typed
 * getter's AGORA_ETYPE, AGORA_EIO, and the library's AGORA_EINVAL for a
 * bad argument.
 *
 * Opens: in sticky mode a failed open, or one made while latched, writes
 * NULL into *ret (instead of leaving it untouched), and every function
 * accepts a NULL proxy: it does nothing and returns AGORA_EINVAL (a NULL
 * proxy does not know its client; agora_client_error() has the first
 * error), and _close(NULL) is 0. So a program may open several proxies
 * and check once.
 *
 * Pipelines: a latched client takes no new pipelined call
 * (agora_pipeline_call() returns the error and makes no slot); results of
 * calls already sent are handed back as usual, and one that fails latches.
 * A failed connect latches too, so a program may switch sticky mode on,
 * connect and check once at the end (a program that retries a connect
 * switches it on after connecting, or clears); a connect neither clears
 * nor is refused while latched.
 */
AGORA_API int agora_client_set_sticky(agora_client *c, bool on);
AGORA_API int agora_client_error(const agora_client *c);
AGORA_API int agora_client_clear_error(agora_client *c);
/* The server's version string from the handshake ("agora/0.1.0"). */
AGORA_API const char *agora_server_version(const agora_client *c);
/*
 * The id of the server's run, from the handshake: 32 lowercase hex digits
 * the server draws at random each time it starts, so a worker that
 * connects again can tell that the server restarted (and that its objects
 * are new ones, or, with a data directory, loaded from it) by comparing it
 * with the one it knew. "" before a connect
 * succeeded, or from a server older than the run id. Lives as long as @c,
 * until its next connect.
 */
AGORA_API const char *agora_server_run_id(const agora_client *c);
/*
 * Typed calls never lose an item. A call that removes an item and hands it
 * over as a C type (agora_queue_get_int() and _str(), agora_jqueue_get_int()
 * and _str(), agora_list_pop_int() and _str(), agora_dict_pop_int() and
 * _str()) cannot give back an item of another type in its result: it
 * returns AGORA_ETYPE (AGORA_EVALUE for an integer beyond int64_t), the
 * item is removed all the same, and the client keeps it, as a value, until
 * this call hands it over (oldest first; yours to free with
 * agora_value_free()). So a worker that takes ints and meets a str
 * sentinel ("stop") reads it here. Items not taken are freed with the
 * client. Returns 0; AGORA_EEMPTY when no item is kept; AGORA_EINVAL for a
 * NULL @ret. Calls that only read (agora_list_get_int(),
 * agora_dict_get_int(), ...) remove nothing: the item stays where it was.
 */
AGORA_API int agora_client_take_item(agora_client *c, agora_value *ret);

/*
 * Any call by name: @params is an array value. *ret gets the result (free
 * it). Errors come back as negative codes with the server's message.
 */
AGORA_API int agora_call(agora_client *c, const char *method,
			 agora_value params, agora_value *ret);
/* ping [v]: the server echoes @v. */
AGORA_API int agora_ping(agora_client *c);
/* stats: a map (connections, objects, requests, waiters, memory, run,
 * started, uptime: docs/protocol.md section 3.1). */
AGORA_API int agora_stats(agora_client *c, agora_value *ret);
/* save: a snapshot of a server with a data directory, answered once it is
 * on disk: *ret a map {"generation", "bytes", "seconds"} (free it; @ret
 * may be NULL). AGORA_EVALUE from a server without a data directory,
 * AGORA_ESTORAGE when the snapshot failed (the message says why). */
AGORA_API int agora_save(agora_client *c, agora_value *ret);
/* ls: an array of {"name", "type", "len"} for named objects; an ephemeral
 * name's has "ephemeral_owner" too, a name with a deadline "ttl" and
 * "expires" (docs/protocol.md section 3.1). */
AGORA_API int agora_ls(agora_client *c, agora_value *ret);
/* ls of the names that match the shell pattern @pattern (fnmatch(3), no
 * flags: "job.*", "worker-[0-9]"). A 0.1.0 server answers AGORA_EARGS. */
AGORA_API int agora_ls_match(agora_client *c, const char *pattern,
			     agora_value *ret);
/* clients: an array of maps, one per connection of the server (id, self,
 * authenticated, transport, peer, pid, uid, since, idle, handles, parked,
 * holds, output; docs/protocol.md section 3.1). */
AGORA_API int agora_clients(agora_client *c, agora_value *ret);
/* kill ID: end connection @id (an id from agora_clients()) as if it had
 * closed: what it holds is given back. *ret_killed tells whether there
 * was one (may be NULL). Killing @c's own connection answers true, then
 * later calls fail with AGORA_EIO. */
AGORA_API int agora_kill(agora_client *c, uint64_t id, bool *ret_killed);
/* drop NAME: remove the name; *ret_existed tells whether there was one
 * (may be NULL). Open handles go on working. */
AGORA_API int agora_drop(agora_client *c, const char *name, bool *ret_existed);
/* info on an open handle (agora_*_handle()). */
AGORA_API int agora_info(agora_client *c, uint32_t handle, agora_value *ret);
/*
 * expire NAME SECONDS: the name @name is dropped, as agora_drop() drops
 * it, @seconds from now (a wall-clock deadline, kept across restarts of a
 * server with a data directory); 0 clears the deadline. Handles already
 * open keep the object. AGORA_ENO_OBJECT when no object has the name,
 * AGORA_EVALUE for a negative time or one past 1e9 seconds. Needs the
 * admin right, as drop. One round trip.
 */
AGORA_API int agora_expire(agora_client *c, const char *name, double seconds);
/* ttl NAME: *ret_seconds (may be NULL) the seconds left before @name is
 * dropped, or -1 when it has no deadline. AGORA_ENO_OBJECT when no object
 * has the name (an expired one included). */
AGORA_API int agora_ttl(agora_client *c, const char *name, double *ret_seconds);

/* ---- references ------------------------------------------------------------
 *
 * A reference names a shared object (protocol section 8), as a proxy stored
 * inside a Manager dict does in Python: take a proxy's with agora_TYPE_ref()
 * (agora_list_ref(), ...), store agora_ref_value() of it in any container,
 * and any process that reads it back turns it into a proxy with
 * agora_ref_from_value() and agora_TYPE_open_ref() (agora_list_open_ref(),
 * ...). Every proxy type has the pair, with one contract:
 *   - agora_TYPE_open_ref(c, ref, &ret): a new proxy on @c for the object
 *     @ref names, to close as any other. AGORA_ETYPE when the object is of
 *     another type (a joinable queue is not a queue here; the semaphore's
 *     takes a bounded semaphore too), AGORA_ENO_OBJECT when it is gone.
 *     One round trip (two for a bounded semaphore).
 *   - agora_TYPE_ref(x, &ret): the reference of @x's object. No round trip
 *     for a proxy made by agora_TYPE_open_ref(), else one (agora_ref_of()).
 * A stored reference keeps the object alive, so an anonymous list kept in a
 * dict lives until the dict entry goes. Anonymous objects that refer to
 * each other in a cycle live until the server stops (as in Python, break
 * the cycle by hand).
 */

/* A reference: the ext 1 payload is the object's id (8 bytes, big-endian)
 * followed by 8 secret bytes the server drew for the object. Only the
 * server hands references out (agora_ref_of(), values read back); one made
 * up from an id names nothing (AGORA_ENO_OBJECT). */
typedef struct agora_ref {
	uint64_t id;
	unsigned char bytes[16]; /* the ext 1 payload: id, then secret */
} agora_ref;

/* The reference of the object behind @handle (agora_TYPE_handle()). One
 * round trip. */
AGORA_API int agora_ref_of(agora_client *c, uint32_t handle, agora_ref *ret);
/* A value holding @r, to store or pass: it points into @r, which must
 * outlive the call it is passed to. */
static inline agora_value agora_ref_value(const agora_ref *r)
{
	agora_value v = agora_nil();
	v.type = AGORA_EXT;
	v.ext_type = 1;
	v.via.str.ptr = (const char *)r->bytes;
	v.via.str.len = sizeof(r->bytes);
	return v;
}
/* The reference in @v (a value the server returned): 0, AGORA_ETYPE when
 * @v is not a reference, AGORA_EVALUE when it is malformed. */
AGORA_API int agora_ref_from_value(agora_value v, agora_ref *ret);
/* A new handle for the referenced object, of whatever type: AGORA_ENO_OBJECT
 * when it is gone. The typed agora_TYPE_open_ref() also check the type, and
 * refuse another before a hold passed to @c is used up. */
AGORA_API int agora_open_ref(agora_client *c, const agora_ref *ref,
			     uint32_t *ret);

/* Flags of agora_open_ex(), open's options create=false, exclusive=true
 * and ephemeral=true (docs/protocol.md section 3.1). */
#define AGORA_OPEN_NO_CREATE 0x1u
#define AGORA_OPEN_EXCLUSIVE 0x2u
#define AGORA_OPEN_EPHEMERAL 0x4u
/*
 * Open @name as the wire type @type ("queue", "bounded_semaphore"), as
 * agora_TYPE_open() does, with @flags, for every type:
 *   AGORA_OPEN_NO_CREATE  join only: AGORA_ENO_OBJECT when no object is
 *                         named @name, and nothing is created;
 *   AGORA_OPEN_EXCLUSIVE  create only: AGORA_EEXISTS when @name exists,
 *                         whatever its type;
 *   AGORA_OPEN_EPHEMERAL  the name is dropped when this client's
 *                         connection ends, however it ends (a crash, a
 *                         kill, the peer timeout): presence. On an
 *                         existing name it opens it when that name is
 *                         ephemeral too, else AGORA_EVALUE; with
 *                         AGORA_OPEN_EXCLUSIVE the name is surely this
 *                         connection's. After a reconnect
 *                         (agora_client_set_reconnect) the proxy opens
 *                         the name again with the flag, making it anew
 *                         (or joining the old one, which goes with the
 *                         old connection, when the server has not seen
 *                         that end yet).
 * With none it is get-or-create, as agora_TYPE_open(). @opts[0..nopts)
 * are the type's creation options as the protocol names them ("maxsize",
 * "parties"; NULL for none), used only when the object is created, and
 * "ttl" (agora_float(seconds)) for every type: the name is dropped that
 * long after its creation (agora_expire() sets it later).
 * @ret_proxy is the address of a proxy pointer of @type's C type (an
 * agora_queue ** for "queue", an agora_semaphore ** for
 * "bounded_semaphore"), written on success only; close the proxy as any
 * other. AGORA_EINVAL for an unknown @type or flag; AGORA_EARGS for a NULL
 * @name with AGORA_OPEN_NO_CREATE (an anonymous open always creates) or
 * for both flags; AGORA_ETYPE when @name is another type (without
 * AGORA_OPEN_EXCLUSIVE); else as agora_TYPE_open(). One round trip.
 */
AGORA_API int agora_open_ex(agora_client *c, const char *type, const char *name,
			    const agora_pair *opts, size_t nopts,
			    unsigned flags, void *ret_proxy);

/* ---- the types of shared object --------------------------------------------
 *
 * AGORA_TYPES(X) is the one list of the object types, one row each, in the
 * order the server registers them: X(wire, ctype, proxy).
 *   wire   the type's wire name, as a token: #wire is the string that
 *          "open" takes and ls reports ("joinable_queue"), methods are
 *          "wire.METHOD", the server's family is ag_family_<wire>, and the
 *          code lives in server/obj_<wire>.c and client/proxy_<wire>.c
 *          (a type that shares another's code shares its files: a joinable
 *          queue's server half is in obj_queue.c, condition's in obj_lock.c).
 *   ctype  the C type of its proxy, struct ctype, and the prefix of its
 *          functions: agora_list, agora_var (for "value"), agora_jqueue.
 *   proxy  OWN when the row brings its proxy type; SHARED when it opens as
 *          the proxy of the OWN row above with the same ctype (a bounded
 *          semaphore is an agora_semaphore).
 *
 * Every OWN row gets these four functions, declared below from the list and
 * defined once from it in client/proxy.c:
 *   int ctype_close(struct ctype *x): release the handle (one round trip)
 *       and free the proxy, even when the call fails; from a fork() child
 *       nothing is sent (AGORA_EINVAL). Accepts NULL (returns 0).
 *   uint32_t ctype_handle(const struct ctype *x): the handle on this
 *       connection, for agora_info() and agora_ref_of(); 0 for NULL.
 *   int ctype_open_ref(agora_client *c, const agora_ref *ref,
 *       struct ctype **ret): a proxy for the object @ref names, as
 *       agora_TYPE_open_ref() in references above. It asks for each row of
 *       ctype in turn: AGORA_ETYPE when the object is none of them (a
 *       joinable queue is not a queue), one round trip per row asked (a
 *       bounded semaphore takes two).
 *   int ctype_ref(const struct ctype *x, agora_ref *ret): the reference of
 *       @x's object, to store with agora_ref_value(). AGORA_EINVAL for NULL.
 * Its agora_TYPE_open() and methods are written by hand, in
 * client/proxy_<wire>.c, since their options and params differ.
 *
 * Adding a type takes:
 *   1. server/obj_<wire>.c: the object and its methods, an ag_family named
 *      ag_family_<wire> (the server's families, in this order, are made
 *      from this list: server/types.c); its file in server/meson.build;
 *   2. one row here (the proxy struct, _close, _handle, _open_ref and _ref
 *      come from it; so do the server's family list, the fuzz target's
 *      types and tests/unit/test_methods.c's check of both);
 *   3. client/proxy_<wire>.c with agora_TYPE_open() and the methods, their
 *      declarations (AGORA_API) in a section of this header and in
 *      docs/api.md (tests/abi checks both), and the file in
 *      client/meson.build;
 *   4. the row's CLI_<wire> line in client/cli/commands.c (what get, set,
 *      push, pop and info do with it: the tool does not build without it);
 *   5. its open options in tests/fuzz/fuzz_request.c's SETUP and
 *      make_corpus.py, docs/protocol.md (the type and its methods), and
 *      tests: tests/e2e for the calls; tests/unit/test_methods.c holds
 *      its method table to its entries. docs/hacking.md walks through it.
 */
#define AGORA_TYPES(X)                                \
	X(list, agora_list, OWN)                      \
	X(dict, agora_dict, OWN)                      \
	X(queue, agora_queue, OWN)                    \
	X(joinable_queue, agora_jqueue, OWN)          \
	X(value, agora_var, OWN)                      \
	X(array, agora_array, OWN)                    \
	X(namespace, agora_namespace, OWN)            \
	X(lock, agora_lock, OWN)                      \
	X(rlock, agora_rlock, OWN)                    \
	X(semaphore, agora_semaphore, OWN)            \
	X(bounded_semaphore, agora_semaphore, SHARED) \
	X(condition, agora_condition, OWN)            \
	X(event, agora_event, OWN)                    \
	X(barrier, agora_barrier, OWN)                \
	X(topic, agora_topic, OWN)

/* The declarations of the four functions of every OWN row (see above). */
#define AGORA_TYPE_DECLARE_OWN(ctype)                                         \
	struct ctype;                                                         \
	AGORA_API int ctype##_close(struct ctype *x);                         \
	AGORA_API uint32_t ctype##_handle(const struct ctype *x);             \
	AGORA_API int ctype##_open_ref(agora_client *c, const agora_ref *ref, \
				       struct ctype **ret);                   \
	AGORA_API int ctype##_ref(const struct ctype *x, agora_ref *ret);
#define AGORA_TYPE_DECLARE_SHARED(ctype)
#define AGORA_TYPE_DECLARE_(wire, ctype, proxy) \
	AGORA_TYPE_DECLARE_##proxy(ctype)
AGORA_TYPES(AGORA_TYPE_DECLARE_)
#undef AGORA_TYPE_DECLARE_

/* ---- list ------------------------------------------------------------------
 */

typedef struct agora_list agora_list;

/* Open (get-or-create) the list @name, or a new anonymous list for NULL. */
AGORA_API int agora_list_open(agora_client *c, const char *name,
			      agora_list **ret);
/* _close, _handle, _open_ref and _ref: AGORA_TYPES above. */
AGORA_API int agora_list_append(agora_list *l, agora_value v);
AGORA_API int agora_list_extend(agora_list *l, const agora_value *items,
				size_t n);
AGORA_API int agora_list_insert(agora_list *l, int64_t i, agora_value v);
AGORA_API int agora_list_get(agora_list *l, int64_t i, agora_value *ret);
AGORA_API int agora_list_get_int(agora_list *l, int64_t i, int64_t *ret);
AGORA_API int agora_list_set(agora_list *l, int64_t i, agora_value v);
AGORA_API int agora_list_delete(agora_list *l, int64_t i);
/* l[start:stop:step]; AGORA_END for an open bound. *ret is an array. */
AGORA_API int agora_list_slice(agora_list *l, int64_t start, int64_t stop,
			       int64_t step, agora_value *ret);
AGORA_API int agora_list_set_slice(agora_list *l, int64_t start, int64_t stop,
				   const agora_value *items, size_t n);
AGORA_API int agora_list_del_slice(agora_list *l, int64_t start, int64_t stop);
/* pop(i); -1 is the last. */
AGORA_API int agora_list_pop(agora_list *l, int64_t i, agora_value *ret);
/* pop(i) of an int or a str item (the str malloc'ed: free() it); an item
 * of another type is AGORA_ETYPE and kept (agora_client_take_item()). */
AGORA_API int agora_list_pop_int(agora_list *l, int64_t i, int64_t *ret);
AGORA_API int agora_list_pop_str(agora_list *l, int64_t i, char **ret);
AGORA_API int agora_list_remove(agora_list *l, agora_value v);
/* index(v, start, stop): AGORA_END for stop open. */
AGORA_API int agora_list_index(agora_list *l, agora_value v, int64_t start,
			       int64_t stop, int64_t *ret);
AGORA_API int agora_list_count(agora_list *l, agora_value v, int64_t *ret);
AGORA_API int agora_list_contains(agora_list *l, agora_value v, bool *ret);
AGORA_API int agora_list_len(agora_list *l, size_t *ret);
AGORA_API int agora_list_reverse(agora_list *l);
AGORA_API int agora_list_sort(agora_list *l, bool reverse);
AGORA_API int agora_list_clear(agora_list *l);
AGORA_API int agora_list_copy(agora_list *l, agora_value *ret);

/* ---- dict ------------------------------------------------------------------
 */

typedef struct agora_dict agora_dict;

AGORA_API int agora_dict_open(agora_client *c, const char *name,
			      agora_dict **ret);
/* _close, _handle, _open_ref and _ref: AGORA_TYPES above. */
/* d[k]: AGORA_EKEY when missing (method getitem). */
AGORA_API int agora_dict_get(agora_dict *d, agora_value k, agora_value *ret);
/* d.get(k, dflt): @dflt when missing (method get). */
AGORA_API int agora_dict_get_default(agora_dict *d, agora_value k,
				     agora_value dflt, agora_value *ret);
AGORA_API int agora_dict_get_int(agora_dict *d, agora_value k, int64_t *ret);
/* The str value of d[k], malloc'ed and NUL-terminated; AGORA_ETYPE if the
 * value is not a str. */
AGORA_API int agora_dict_get_str(agora_dict *d, agora_value k, char **ret);
AGORA_API int agora_dict_set(agora_dict *d, agora_value k, agora_value v);
AGORA_API int agora_dict_delete(agora_dict *d, agora_value k);
AGORA_API int agora_dict_contains(agora_dict *d, agora_value k, bool *ret);
AGORA_API int agora_dict_len(agora_dict *d, size_t *ret);
AGORA_API int agora_dict_keys(agora_dict *d, agora_value *ret);
AGORA_API int agora_dict_values(agora_dict *d, agora_value *ret);
/* An array of [k, v] arrays, in insertion order. */
AGORA_API int agora_dict_items(agora_dict *d, agora_value *ret);
/* pop(k): AGORA_EKEY when missing. */
AGORA_API int agora_dict_pop(agora_dict *d, agora_value k, agora_value *ret);
/* pop(k) of an int or a str value (the str malloc'ed: free() it):
 * AGORA_EKEY when missing; a value of another type is AGORA_ETYPE and kept
 * (agora_client_take_item()). */
AGORA_API int agora_dict_pop_int(agora_dict *d, agora_value k, int64_t *ret);
AGORA_API int agora_dict_pop_str(agora_dict *d, agora_value k, char **ret);
AGORA_API int agora_dict_pop_default(agora_dict *d, agora_value k,
				     agora_value dflt, agora_value *ret);
/* The last inserted pair; AGORA_EKEY when empty. */
AGORA_API int agora_dict_popitem(agora_dict *d, agora_value *ret_key,
				 agora_value *ret_val);
AGORA_API int agora_dict_setdefault(agora_dict *d, agora_value k,
				    agora_value dflt, agora_value *ret);
/* @map is an AGORA_MAP value. */
AGORA_API int agora_dict_update(agora_dict *d, agora_value map);
AGORA_API int agora_dict_clear(agora_dict *d);
/* A map value, in insertion order. */
AGORA_API int agora_dict_copy(agora_dict *d, agora_value *ret);
/* d[k] += delta atomically (a missing key counts as 0); *ret gets the new
 * value (may be NULL). AGORA_ETYPE for a non-number, AGORA_EVALUE on
 * overflow. */
AGORA_API int agora_dict_incr(agora_dict *d, agora_value k, agora_value delta,
			      agora_value *ret);
AGORA_API int agora_dict_incr_int(agora_dict *d, agora_value k, int64_t delta,
				  int64_t *ret);
/* Per-key TTL (docs/protocol.md, dict): a key expires @seconds after it is
 * set, wall-clock; an expired key is absent for every call. agora_dict_set()
 * without a TTL takes away the one the key had. */
/* d[k] = v expiring in @seconds (> 0, else AGORA_EVALUE). */
AGORA_API int agora_dict_set_ttl(agora_dict *d, agora_value k, agora_value v,
				 double seconds);
/* The TTL of existing key @k: @seconds (> 0) from now, or none when
 * @seconds is negative or NAN (0 is AGORA_EVALUE). AGORA_EKEY when @k is
 * absent. */
AGORA_API int agora_dict_expire(agora_dict *d, agora_value k, double seconds);
/* The seconds left before @k expires in *ret_seconds, and whether it has a
 * TTL at all in *ret_has_ttl (false: *ret_seconds is 0); both may be
 * NULL. AGORA_EKEY when @k is absent. */
AGORA_API int agora_dict_ttl(agora_dict *d, agora_value k, double *ret_seconds,
			     bool *ret_has_ttl);

/* ---- queue -----------------------------------------------------------------
 */

typedef struct agora_queue agora_queue;

/* @maxsize 0: unbounded. Used only when the queue is created. */
AGORA_API int agora_queue_open(agora_client *c, const char *name,
			       size_t maxsize, agora_queue **ret);
/* _close, _handle, _open_ref and _ref: AGORA_TYPES above. */
/* Blocks up to @timeout (AGORA_FOREVER, 0 = do not wait); AGORA_EFULL when
 * the queue stayed full. */
AGORA_API int agora_queue_put(agora_queue *q, agora_value v, double timeout);
/* AGORA_EEMPTY when nothing came within @timeout. _get_int and _get_str:
 * an item of another type is AGORA_ETYPE and kept by the client
 * (agora_client_take_item()). */
AGORA_API int agora_queue_get(agora_queue *q, double timeout, agora_value *ret);
AGORA_API int agora_queue_get_int(agora_queue *q, double timeout, int64_t *ret);
AGORA_API int agora_queue_get_str(agora_queue *q, double timeout, char **ret);
AGORA_API int agora_queue_put_nowait(agora_queue *q, agora_value v);
AGORA_API int agora_queue_get_nowait(agora_queue *q, agora_value *ret);
AGORA_API int agora_queue_qsize(agora_queue *q, size_t *ret);
AGORA_API int agora_queue_empty(agora_queue *q, bool *ret);
AGORA_API int agora_queue_full(agora_queue *q, bool *ret);
/* An array of up to @n of the oldest items, oldest first, without taking
 * them (an empty array for an empty queue); never waits. A 0.1.0 server
 * answers AGORA_ENO_METHOD. */
AGORA_API int agora_queue_peek(agora_queue *q, size_t n, agora_value *ret);
/*
 * Acknowledged delivery (added after 1.1.0; an older server answers
 * AGORA_ENO_METHOD). take waits as get, and answers the item with an id
 * that stays the item's across its deliveries; the item stays pending on
 * this connection until agora_queue_ack() (done: it is gone) or
 * agora_queue_nack() (it goes back to the head of the queue now) names
 * the id, or until @lease seconds pass (> 0; 0 or AGORA_FOREVER: no lease)
 * or the connection ends (exit, crash, kill, peer timeout, a reconnect):
 * then it goes back to the head of the queue and is delivered again, to a
 * waiting getter first. _take_ex also tells how many times the item was
 * delivered, this time included (1 the first time). ack and nack:
 * AGORA_EVALUE when the id is not pending on this connection (already
 * acknowledged, its lease passed, taken by another connection, or before
 * a reconnect). pending: an array of maps {"id", "conn", "deliveries",
 * "lease": seconds left or nil}, every connection's. A queue opened with
 * _open_dead_letter moves an item that was delivered @max_deliveries
 * times to the existing queue or joinable queue @dead_letter instead of
 * delivering it again (both options used at creation only).
 */
AGORA_API int agora_queue_open_dead_letter(agora_client *c, const char *name,
					   size_t maxsize,
					   uint32_t max_deliveries,
					   const char *dead_letter,
					   agora_queue **ret);
AGORA_API int agora_queue_take(agora_queue *q, double timeout, double lease,
			       uint64_t *ret_id, agora_value *ret_item);
AGORA_API int agora_queue_take_ex(agora_queue *q, double timeout, double lease,
				  uint64_t *ret_id, agora_value *ret_item,
				  uint64_t *ret_deliveries);
AGORA_API int agora_queue_ack(agora_queue *q, uint64_t id);
AGORA_API int agora_queue_nack(agora_queue *q, uint64_t id);
AGORA_API int agora_queue_pending(agora_queue *q, agora_value *ret);
/*
 * Waiting on several queues at once (added after 1.1.0; an older server
 * answers AGORA_ENO_METHOD): the first item of any of the @n (1 to 64)
 * queues @qs, all of one client, each queue once (AGORA_EVALUE else). An
 * item already there comes from the first queue in @qs that holds one;
 * else the call waits up to @timeout as agora_queue_get() for the first
 * item put to any of them (AGORA_EEMPTY when none came), the waiters of
 * each queue served in arrival order. *ret_index (may be NULL): the place
 * in @qs of the queue it came from. _take_any takes it as
 * agora_queue_take(): pending until agora_queue_ack(qs[*ret_index], id).
 * With a reconnect set, a connection found gone is replaced before the
 * call, never during it: one lost while it waits fails it.
 */
AGORA_API int agora_queue_get_any(agora_queue *const *qs, size_t n,
				  double timeout, size_t *ret_index,
				  agora_value *ret);
AGORA_API int agora_queue_take_any(agora_queue *const *qs, size_t n,
				   double timeout, double lease,
				   size_t *ret_index, uint64_t *ret_id,
				   agora_value *ret_item);

/* ---- var: the "value" type, one shared value -------------------------------
 */

typedef struct agora_var agora_var;

/* @initial is used only when the value is created. */
AGORA_API int agora_var_open(agora_client *c, const char *name,
			     agora_value initial, agora_var **ret);
/* _close, _handle, _open_ref and _ref: AGORA_TYPES above. */
AGORA_API int agora_var_get(agora_var *v, agora_value *ret);
AGORA_API int agora_var_get_int(agora_var *v, int64_t *ret);
AGORA_API int agora_var_set(agora_var *v, agora_value x);
/* Atomic add; *ret gets the new value (may be NULL). */
AGORA_API int agora_var_add(agora_var *v, agora_value delta, agora_value *ret);
AGORA_API int agora_var_add_int(agora_var *v, int64_t delta, int64_t *ret);
/* Store @desired if the value equals @expected; *ret_swapped says if it did. */
AGORA_API int agora_var_cas(agora_var *v, agora_value expected,
			    agora_value desired, bool *ret_swapped);
/* Store @x and hand back the old value. */
AGORA_API int agora_var_swap(agora_var *v, agora_value x, agora_value *ret_old);

/* ---- lock, rlock and the with-lock helper ----------------------------------
 *
 * Python's threading.Lock and RLock, owned by this connection: only the
 * client that acquired may release (else AGORA_ENOT_OWNER; Python lets any
 * thread release a Lock, Agora does not). An rlock may be acquired again by
 * the client that holds it and is free once released as many times. When a
 * client's connection ends, by exit or crash, the server releases what it
 * held and wakes the next waiter; agora_info() on the handle then counts it
 * in "abandoned". acquire blocks in the server up to @timeout; on timeout
 * *ret_acquired is false and the call returns 0. @ret_acquired may be NULL.
 *
 * acquire_fenced is acquire that also hands back a fencing token: a number
 * that strictly increases with every acquisition of that lock, by anyone,
 * abandoned ones included (one sequence for all the server's locks: a lock
 * opened anew under a dropped name gives larger ones). Pass it to the
 * resource the lock protects, and have the resource refuse any request
 * carrying a smaller token than the largest it has seen: a holder that was
 * paused past its time (and lost the lock without knowing) is then
 * refused. docs/guide.md, "Fencing tokens". *ret_token is written only
 * when the lock was acquired; an rlock's re-entrant acquisition gives the
 * token it already holds. agora_info() reports the latest token as
 * "fence".
 */

typedef struct agora_lock agora_lock;
typedef struct agora_rlock agora_rlock;

/* Open (get-or-create) the lock @name, or a new anonymous one for NULL. */
AGORA_API int agora_lock_open(agora_client *c, const char *name,
			      agora_lock **ret);
/* _close, _handle, _open_ref and _ref: AGORA_TYPES above. */
/* Closing the proxy does not release a lock it holds: it stays held
 * until the client disconnects. */
AGORA_API int agora_lock_acquire(agora_lock *l, double timeout,
				 bool *ret_acquired);
/* Acquires the first free of the @n (1 to 64) locks @ls of one client, at
 * once or waiting up to @timeout for one to be handed over (the waiters
 * of each lock in arrival order): *ret_acquired true and *ret_index its
 * place in @ls (only that one is taken), or false when none was in time
 * (added after 1.1.0). */
AGORA_API int agora_lock_acquire_any(agora_lock *const *ls, size_t n,
				     double timeout, size_t *ret_index,
				     bool *ret_acquired);
AGORA_API int agora_lock_acquire_fenced(agora_lock *l, double timeout,
					bool *ret_acquired,
					uint64_t *ret_token);
/* AGORA_ENOT_OWNER unless this client holds @l. */
AGORA_API int agora_lock_release(agora_lock *l);
AGORA_API int agora_lock_locked(agora_lock *l, bool *ret);
/*
 * "with lock:" for C: acquire @l (waiting forever), run fn(@ud), release
 * @l even when fn failed. Returns the acquire's error (fn not run), else
 * fn's result when it is negative, else the release's result (0 or an
 * error); a positive result of fn is not passed on. fn may use @l's client,
 * but must not release @l itself.
 */
AGORA_API int agora_lock_with(agora_lock *l, int (*fn)(void *ud), void *ud);

AGORA_API int agora_rlock_open(agora_client *c, const char *name,
			       agora_rlock **ret);
/* _close, _handle, _open_ref and _ref: AGORA_TYPES above. */
AGORA_API int agora_rlock_acquire(agora_rlock *r, double timeout,
				  bool *ret_acquired);
AGORA_API int agora_rlock_acquire_fenced(agora_rlock *r, double timeout,
					 bool *ret_acquired,
					 uint64_t *ret_token);
/* One level down; AGORA_ENOT_OWNER unless this client holds @r. */
AGORA_API int agora_rlock_release(agora_rlock *r);
AGORA_API int agora_rlock_locked(agora_rlock *r, bool *ret);
/* agora_lock_with() for an rlock: fn may acquire @r again, and must leave
 * it at the level it found. */
AGORA_API int agora_rlock_with(agora_rlock *r, int (*fn)(void *ud), void *ud);

/* ---- semaphore and bounded semaphore ---------------------------------------
 *
 * Python's Semaphore and BoundedSemaphore. A semaphore has no owner: any
 * client may release. With @owned (an Agora option) the server counts the
 * permits each client holds, refuses to release more than that
 * (AGORA_ENOT_OWNER) and gives back what a client still held when its
 * connection ends. Both kinds use the one proxy type; a bounded semaphore
 * refuses a release above its initial value with AGORA_EVALUE.
 */

typedef struct agora_semaphore agora_semaphore;

/* @value (initial permits, >= 0) and @owned are used only at creation. */
AGORA_API int agora_semaphore_open(agora_client *c, const char *name,
				   int64_t value, bool owned,
				   agora_semaphore **ret);
AGORA_API int agora_bounded_semaphore_open(agora_client *c, const char *name,
					   int64_t value, bool owned,
					   agora_semaphore **ret);
/* _close, _handle, _open_ref and _ref: AGORA_TYPES above. */
/* Take a permit, waiting up to @timeout; *ret_acquired false on timeout
 * (may be NULL). */
AGORA_API int agora_semaphore_acquire(agora_semaphore *s, double timeout,
				      bool *ret_acquired);
/* Give back @n permits (n >= 1), waking as many waiters. */
AGORA_API int agora_semaphore_release(agora_semaphore *s, int64_t n);
/* The permits free now. */
AGORA_API int agora_semaphore_value(agora_semaphore *s, int64_t *ret);

/* ---- condition -------------------------------------------------------------
 *
 * Python's threading.Condition over a lock the server holds. wait and
 * notify need the lock held by this client (else AGORA_ENOT_OWNER). wait
 * releases the lock while parked and answers only once it holds the lock
 * again, after notify or the timeout: *ret_notified is false on timeout
 * (may be NULL). Waiters are woken in arrival order. A dead client's hold
 * on the lock is released as for a lock.
 */

typedef struct agora_condition agora_condition;

/*
 * Open the condition @name, or an anonymous one for NULL. @lock_handle,
 * used only at creation, is 0 for a
 * new rlock of its own, or the handle (agora_lock_handle(),
 * agora_rlock_handle()) of a lock or rlock opened on the same client @c.
 */
AGORA_API int agora_condition_open(agora_client *c, const char *name,
				   uint32_t lock_handle, agora_condition **ret);
/* _close, _handle, _open_ref and _ref: AGORA_TYPES above. */
AGORA_API int agora_condition_acquire(agora_condition *cv, double timeout,
				      bool *ret_acquired);
AGORA_API int agora_condition_release(agora_condition *cv);
AGORA_API int agora_condition_wait(agora_condition *cv, double timeout,
				   bool *ret_notified);
/* Wake the first @n waiters (n >= 0; all of them when fewer wait). */
AGORA_API int agora_condition_notify(agora_condition *cv, int64_t n);
AGORA_API int agora_condition_notify_all(agora_condition *cv);

/* ---- event -----------------------------------------------------------------
 *
 * Python's threading.Event: a flag that wait blocks on until it is set.
 * set wakes every waiter; clear re-arms. *ret_set of wait is the flag when
 * the call returns: false on timeout (may be NULL).
 */

typedef struct agora_event agora_event;

AGORA_API int agora_event_open(agora_client *c, const char *name,
			       agora_event **ret);
/* _close, _handle, _open_ref and _ref: AGORA_TYPES above. */
AGORA_API int agora_event_set(agora_event *e);
AGORA_API int agora_event_clear(agora_event *e);
AGORA_API int agora_event_is_set(agora_event *e, bool *ret);
AGORA_API int agora_event_wait(agora_event *e, double timeout, bool *ret_set);
/* Waits up to @timeout for any of the @n (1 to 64) events @evs of one
 * client to be set: *ret_set true and *ret_index the place in @evs of the
 * first set (of the list when several are), or false when none was in
 * time (added after 1.1.0). */
AGORA_API int agora_event_wait_any(agora_event *const *evs, size_t n,
				   double timeout, size_t *ret_index,
				   bool *ret_set);

/* ---- barrier ---------------------------------------------------------------
 *
 * Python's threading.Barrier, cyclic: wait blocks until @parties clients
 * wait, then all go on with distinct arrival indices 0..parties-1
 * (*ret_index may be NULL). AGORA_EBROKEN when the barrier is or becomes
 * broken: a waiter's timeout, abort, reset, or a waiting party's
 * disconnect. reset returns it to empty and unbroken.
 */

typedef struct agora_barrier agora_barrier;

/* @parties (>= 1) is used only when the barrier is created. */
AGORA_API int agora_barrier_open(agora_client *c, const char *name,
				 int64_t parties, agora_barrier **ret);
/* _close, _handle, _open_ref and _ref: AGORA_TYPES above. */
AGORA_API int agora_barrier_wait(agora_barrier *b, double timeout,
				 int64_t *ret_index);
AGORA_API int agora_barrier_reset(agora_barrier *b);
AGORA_API int agora_barrier_abort(agora_barrier *b);
AGORA_API int agora_barrier_parties(agora_barrier *b, int64_t *ret);
AGORA_API int agora_barrier_n_waiting(agora_barrier *b, int64_t *ret);
AGORA_API int agora_barrier_broken(agora_barrier *b, bool *ret);

/* ---- topic -----------------------------------------------------------------
 *
 * Publish and subscribe (Redis pub/sub): every subscription of the topic
 * when a message is published receives it, in publish order, as a
 * notification "topic" (docs/protocol.md 11.2) read with
 * agora_notification_next(); agora_topic_message() picks it apart. A topic
 * keeps no message: one published with no subscriber is gone (a queue
 * keeps them). A subscription belongs to the proxy's handle: it ends with
 * agora_topic_unsubscribe(), agora_topic_close(), or the connection (a
 * reconnect does not subscribe again); the server also ends one whose
 * connection stops reading its notifications (a "cut" notification comes
 * last, then the connection closes). Two proxies of one topic on one
 * connection are two subscriptions, each notified.
 */

typedef struct agora_topic agora_topic;

/* Open (get-or-create) the topic @name, or a new anonymous one for NULL. */
AGORA_API int agora_topic_open(agora_client *c, const char *name,
			       agora_topic **ret);
/* _close, _handle, _open_ref and _ref: AGORA_TYPES above. */
/* Messages published after this returns come to this client as
 * notifications naming agora_topic_handle(@t). Subscribing again does
 * nothing more. */
AGORA_API int agora_topic_subscribe(agora_topic *t);
/* End @t's subscription; *@ret_was (may be NULL): whether there was one. */
AGORA_API int agora_topic_unsubscribe(agora_topic *t, bool *ret_was);
/* Send @msg to every subscription of the topic; *@ret_count (may be NULL):
 * how many received it. */
AGORA_API int agora_topic_publish(agora_topic *t, agora_value msg,
				  uint64_t *ret_count);
struct agora_notification; /* push, below */
/* The handle (*@ret_handle, may be NULL: agora_topic_handle() of the
 * subscribing proxy) and the message (*@ret_msg, may be NULL: it points
 * into @n) of the notification @n; AGORA_EINVAL when @n is not a topic
 * message (NULL, another method, or params that are not one). */
AGORA_API int agora_topic_message(const struct agora_notification *n,
				  uint32_t *ret_handle,
				  const agora_value **ret_msg);

/* ---- joinable queue --------------------------------------------------------
 *
 * multiprocessing.JoinableQueue: an agora_queue (same calls, same returns)
 * that also counts unfinished items. Each put adds one; task_done, called
 * by a consumer when it has finished an item it got, takes one away
 * (AGORA_EVALUE when called more times than items were put). join blocks
 * until the count is 0: *ret_done is false on timeout (may be NULL).
 */

typedef struct agora_jqueue agora_jqueue;

AGORA_API int agora_jqueue_open(agora_client *c, const char *name,
				size_t maxsize, agora_jqueue **ret);
/* _close, _handle, _open_ref and _ref: AGORA_TYPES above. */
AGORA_API int agora_jqueue_put(agora_jqueue *q, agora_value v, double timeout);
AGORA_API int agora_jqueue_get(agora_jqueue *q, double timeout,
			       agora_value *ret);
AGORA_API int agora_jqueue_get_int(agora_jqueue *q, double timeout,
				   int64_t *ret);
AGORA_API int agora_jqueue_get_str(agora_jqueue *q, double timeout, char **ret);
AGORA_API int agora_jqueue_put_nowait(agora_jqueue *q, agora_value v);
AGORA_API int agora_jqueue_get_nowait(agora_jqueue *q, agora_value *ret);
AGORA_API int agora_jqueue_qsize(agora_jqueue *q, size_t *ret);
AGORA_API int agora_jqueue_empty(agora_jqueue *q, bool *ret);
AGORA_API int agora_jqueue_full(agora_jqueue *q, bool *ret);
AGORA_API int agora_jqueue_peek(agora_jqueue *q, size_t n, agora_value *ret);
AGORA_API int agora_jqueue_task_done(agora_jqueue *q);
/* The queue's acknowledged delivery, with task_done folded in: an ack is
 * the item's task_done, in one step (never call task_done for a taken
 * item); a nack or a redelivery leaves it unfinished; an item moved to the
 * dead-letter queue counts as done here. */
AGORA_API int agora_jqueue_open_dead_letter(agora_client *c, const char *name,
					    size_t maxsize,
					    uint32_t max_deliveries,
					    const char *dead_letter,
					    agora_jqueue **ret);
AGORA_API int agora_jqueue_take(agora_jqueue *q, double timeout, double lease,
				uint64_t *ret_id, agora_value *ret_item);
AGORA_API int agora_jqueue_take_ex(agora_jqueue *q, double timeout,
				   double lease, uint64_t *ret_id,
				   agora_value *ret_item,
				   uint64_t *ret_deliveries);
AGORA_API int agora_jqueue_ack(agora_jqueue *q, uint64_t id);
AGORA_API int agora_jqueue_nack(agora_jqueue *q, uint64_t id);
AGORA_API int agora_jqueue_pending(agora_jqueue *q, agora_value *ret);
/* As agora_queue_get_any() and _take_any() (a get_any is a get: its item
 * is an unfinished task until task_done; a take_any's until ack). */
AGORA_API int agora_jqueue_get_any(agora_jqueue *const *qs, size_t n,
				   double timeout, size_t *ret_index,
				   agora_value *ret);
AGORA_API int agora_jqueue_take_any(agora_jqueue *const *qs, size_t n,
				    double timeout, double lease,
				    size_t *ret_index, uint64_t *ret_id,
				    agora_value *ret_item);
AGORA_API int agora_jqueue_join(agora_jqueue *q, double timeout,
				bool *ret_done);

/* ---- array -----------------------------------------------------------------
 *
 * multiprocessing.Array: a fixed-length array of numbers of one typecode,
 * as Python's array module: 'b' 'B' 'h' 'H' 'i' 'I' 'l' 'L' 'q' 'Q' (integers;
 * 'l' and 'L' are 64-bit) and 'f' 'd' (floats). Storing anything but a
 * number, or a float into an integer array, is AGORA_ETYPE; an integer that
 * does not fit the typecode is AGORA_EVALUE. Indices may be negative
 * (from the end); out of range is AGORA_EINDEX. The length never changes.
 */

/* The proxy type is used by its struct tag: the name agora_array is taken
 * by the value constructor agora_array() above. */
struct agora_array;

/* An array of @length zeros of @typecode; both used only at creation. An
 * unknown typecode is AGORA_EVALUE. */
AGORA_API int agora_array_open(agora_client *c, const char *name, char typecode,
			       size_t length, struct agora_array **ret);
/* An array that starts as @items[0..n) (used only at creation). */
AGORA_API int agora_array_open_items(agora_client *c, const char *name,
				     char typecode, const agora_value *items,
				     size_t n, struct agora_array **ret);
/* _close, _handle, _open_ref and _ref: AGORA_TYPES above. */
AGORA_API int agora_array_get(struct agora_array *a, int64_t i,
			      agora_value *ret);
/* a[i] as an integer: AGORA_ETYPE for a float array, AGORA_EVALUE for an
 * 'L' or 'Q' item above INT64_MAX. */
AGORA_API int agora_array_get_int(struct agora_array *a, int64_t i,
				  int64_t *ret);
/* a[i] as a double; an integer item is converted. */
AGORA_API int agora_array_get_float(struct agora_array *a, int64_t i,
				    double *ret);
AGORA_API int agora_array_set(struct agora_array *a, int64_t i, agora_value v);
AGORA_API int agora_array_len(struct agora_array *a, size_t *ret);
/* a[start:stop]; AGORA_END for an open bound. *ret is an array. */
AGORA_API int agora_array_slice(struct agora_array *a, int64_t start,
				int64_t stop, agora_value *ret);
/* a[start:start+n] = items: the length cannot change, so the n items must
 * fit from @start (AGORA_EINDEX). */
AGORA_API int agora_array_set_slice(struct agora_array *a, int64_t start,
				    const agora_value *items, size_t n);
/* The whole array as an array value. */
AGORA_API int agora_array_copy(struct agora_array *a, agora_value *ret);

/* ---- namespace -------------------------------------------------------------
 *
 * multiprocessing.Namespace: named attributes holding any value.
 */

typedef struct agora_namespace agora_namespace;

AGORA_API int agora_namespace_open(agora_client *c, const char *name,
				   agora_namespace **ret);
/* _close, _handle, _open_ref and _ref: AGORA_TYPES above. */
/* ns.attr: AGORA_EKEY when @attr is not set. */
AGORA_API int agora_namespace_get(agora_namespace *ns, const char *attr,
				  agora_value *ret);
AGORA_API int agora_namespace_set(agora_namespace *ns, const char *attr,
				  agora_value v);
/* del ns.attr: AGORA_EKEY when @attr is not set. */
AGORA_API int agora_namespace_delete(agora_namespace *ns, const char *attr);
/* Every attribute: a map of str to value. */
AGORA_API int agora_namespace_items(agora_namespace *ns, agora_value *ret);

/* The manager (agora_manager_start(): Python's `with Manager() as m:`)
 * is declared in agora_server.h: it is part of libagora-server. */

/* ---- pipelining -------------------------------------------------------------
 *
 * Many calls in flight on one connection: queue them with
 * agora_pipeline_call(), then collect one result per call with
 * agora_pipeline_result(), in the order the calls were made, whatever
 * order the server answered in (a call that waits in the server, such as
 * a queue.get on an empty queue, is answered later, and the calls behind it
 * are served meanwhile; its result still comes back in its turn). Calls
 * are any method by name, as agora_call(): "dict.getitem" with params
 * [agora_uint(agora_dict_handle(d)), key], and so on (docs/protocol.md).
 *
 *   agora_pipeline *p = agora_pipeline_new(c);
 *   for (int i = 0; i < 64; i++)
 *           agora_pipeline_call(p, "list.append", agora_array(args, 2));
 *   for (int i = 0; i < 64; i++)
 *           if (agora_pipeline_result(p, NULL) < 0) ...;
 *   agora_pipeline_free(p);
 *
 * Rules:
 *   - A pipeline owns its client while it has calls outstanding (queued
 *     and not yet collected): make no other call on the client, and use no
 *     proxy or second pipeline of it, until agora_pipeline_pending() is 0.
 *     Afterwards the client is an ordinary client again.
 *   - Calls leave in batches: when about 64 KiB of requests gathered, on
 *     agora_pipeline_flush(), or when a result is asked for whose call has
 *     not left yet. At most a few thousand are in flight at once; queueing
 *     more makes agora_pipeline_call() read answers (kept for later) before
 *     it sends more.
 *   - The params are packed when queued: the values may change or go away
 *     once agora_pipeline_call() returns.
 *   - Each result carries its own code. After a transport or protocol
 *     error the client is broken: every later result and call fails.
 *   - A call that never gets an answer (a get forever on a queue nobody
 *     fills) blocks the results behind it, as in a synchronous client.
 */

typedef struct agora_pipeline agora_pipeline;

/* A pipeline on @c (connected or not: calls check). NULL when out of memory
 * or @c is NULL. */
AGORA_API agora_pipeline *agora_pipeline_new(agora_client *c);
/*
 * Queue a call of @method with the params in the array @params; it may be
 * sent now or later. Returns 0 when queued (its result comes from
 * agora_pipeline_result()); AGORA_EINVAL for a NULL @p or method, params
 * that are not an array or cannot be packed, or a client that cannot call
 * (as agora_call()); AGORA_EIO when the client is broken; AGORA_ENOMEM. A
 * call that returned an error was not queued. May block sending, and
 * reading answers when very many calls are in flight.
 */
AGORA_API int agora_pipeline_call(agora_pipeline *p, const char *method,
				  agora_value params);
/* Send every queued call now. 0, or AGORA_EIO / AGORA_EPROTOCOL when the
 * connection failed. Blocks until the kernel took the bytes. */
AGORA_API int agora_pipeline_flush(agora_pipeline *p);
/*
 * The result of the oldest outstanding call: 0 with *ret the result (yours
 * to free; @ret may be NULL to discard it), or that call's own negative
 * code with its message in agora_errmsg(). AGORA_EINVAL when no call is
 * outstanding. Sends what is queued, then blocks until that call's answer
 * is in.
 */
AGORA_API int agora_pipeline_result(agora_pipeline *p, agora_value *ret);
/* How many calls were queued and not collected yet. */
AGORA_API size_t agora_pipeline_pending(const agora_pipeline *p);
/* Free @p. Outstanding calls are sent and their answers read and dropped
 * first (this blocks until the server answered them all), so the client
 * can go on with synchronous calls. Accepts NULL. */
AGORA_API void agora_pipeline_free(agora_pipeline *p);

/* ---- transactions (docs/protocol.md section 12) ----------------------------
 *
 * Several calls run by the server as one: nothing else it does comes
 * between them, and either every call of the branch that runs takes
 * effect or none does. A transaction has conditions, all checked first;
 * when every one holds (or there are none) its "then" calls run, else its
 * "else" calls. Calls and conditions are built as a pipeline's calls are:
 * a method by name and an array of params, the handle first
 * ([agora_uint(agora_var_handle(v)), ...]). The params are copied: the
 * values may go away once the building call returns.
 *
 *   agora_value from[2] = { agora_uint(agora_var_handle(a)), agora_int(-5) };
 *   agora_value to[2] = { agora_uint(agora_var_handle(b)), agora_int(5) };
 *   agora_txn *t = agora_txn_new(c);
 *   agora_txn_if(t, "ge", "value.get", agora_array(from, 1), agora_int(5));
 *   agora_txn_then(t, "value.add", agora_array(from, 2));
 *   agora_txn_then(t, "value.add", agora_array(to, 2));
 *   if (agora_txn_run(t, &moved) < 0) ...;  (moved: false, a had less)
 *   agora_txn_free(t);
 *
 * Rules:
 *   - One round trip, and the server never parks a transaction: the calls
 *     that may wait are refused (AGORA_EARGS) unless told not to (a
 *     queue.get with block false, an acquire with block false...).
 *   - A call that fails undoes the calls before it: every object is as it
 *     was, nobody was woken, nothing was sent or written. agora_txn_run()
 *     then returns that call's own code, with the server's sentence in
 *     agora_errmsg(), and agora_txn_failed() says which call it was.
 *   - Waiters (a get parked on a queue the transaction puts to, a watch)
 *     are served after the transaction answered, and only when it did
 *     not fail.
 *   - A transaction uses its client as a synchronous call does (not while
 *     a pipeline has calls outstanding), and does not reconnect (its
 *     params hold this connection's handles): with
 *     agora_client_set_reconnect() the client's next other call does,
 *     and a transaction built before that holds old handles, so build it
 *     again (agora_txn_reset()) from the proxies' handles. When its
 *     answer is lost (AGORA_EIO), it was done whole or not at all: read
 *     back to know.
 *   - A building call that fails (a NULL method, an unknown op, params
 *     that are not an array) leaves the transaction unrunnable:
 *     agora_txn_run() returns that error, naming it, until
 *     agora_txn_reset(). So checking the run alone is enough. In sticky
 *     mode a building call made while an error is latched adds nothing,
 *     returns it, and leaves the transaction unrunnable the same way.
 *   - A transaction can run again (a retry: the same calls, new results);
 *     agora_txn_reset() empties it for new calls.
 */

typedef struct agora_txn agora_txn;

/* An empty transaction on @c. NULL when out of memory or @c is NULL. */
AGORA_API agora_txn *agora_txn_new(agora_client *c);
/*
 * A condition: the read call @method (a method that only reads, as
 * "value.get", "dict.get", "queue.peek") with @params, compared by @op:
 * "eq", "ne", "lt", "le", "gt", "ge" with @value (as list.sort orders;
 * "ne" also holds when there is nothing there: KEY, INDEX, EMPTY), or
 * "exists" (the call answers without error) and "missing" (it answers
 * KEY, INDEX or EMPTY), which ignore @value (pass agora_nil()). Returns 0;
 * AGORA_EINVAL for a NULL @t, @op or @method, an unknown @op, params that
 * are not an array or values that cannot be sent (named in agora_errmsg());
 * AGORA_ENOMEM. Sends nothing.
 */
AGORA_API int agora_txn_if(agora_txn *t, const char *op, const char *method,
			   agora_value params, agora_value value);
/* A condition: this client holds the lock or rlock of handle @lock
 * (agora_lock_handle(), agora_rlock_handle()). As agora_txn_if(). */
AGORA_API int agora_txn_if_held(agora_txn *t, uint32_t lock);
/* A condition: the lock or rlock of handle @lock is held, and @token (from
 * agora_lock_acquire_fenced()) is its current acquisition's token: whoever
 * was given @token has not lost the lock since. As agora_txn_if(). */
AGORA_API int agora_txn_if_fence(agora_txn *t, uint32_t lock, uint64_t token);
/* A call of @method with @params, run when every condition holds
 * (agora_txn_then()) or when one does not (agora_txn_else()), after the
 * calls added before it. As agora_txn_if() for the returns. */
AGORA_API int agora_txn_then(agora_txn *t, const char *method,
			     agora_value params);
AGORA_API int agora_txn_else(agora_txn *t, const char *method,
			     agora_value params);
/*
 * Send @t and wait for its answer. 0 when the branch that ran went
 * through: *ret_succeeded (may be NULL) true when it was "then", false
 * when it was "else", and agora_txn_count() results (one per call of that
 * branch). A negative code when it did nothing: a call's or read call's
 * own error (AGORA_EKEY, AGORA_ENOT_OWNER, AGORA_EARGS for a call the
 * server refuses in a transaction...; agora_txn_failed() names it),
 * AGORA_EINVAL for a transaction whose building failed (see the rules) or
 * a client that cannot call, AGORA_EIO when the connection failed,
 * AGORA_ENOMEM. Blocks for one round trip.
 */
AGORA_API int agora_txn_run(agora_txn *t, bool *ret_succeeded);
/* True when the last agora_txn_run() failed on one of the transaction's
 * calls: *ret_branch (may be NULL) "conditions", "then" or "else" (static
 * strings) and *ret_index (may be NULL) the 0-based place of the condition
 * or call in it. False otherwise (it went through, was not run, or failed
 * as a whole: a lost connection, a transaction the server refused). */
AGORA_API bool agora_txn_failed(const agora_txn *t, const char **ret_branch,
				size_t *ret_index);
/* How many results the last agora_txn_run() gave (0 when it failed). */
AGORA_API size_t agora_txn_count(const agora_txn *t);
/* Result @i of the last run (0-based, the order of the branch's calls),
 * handed over: *ret is yours to free (@ret NULL: dropped), and asking for
 * it again is AGORA_EINVAL, as for an @i past agora_txn_count(). */
AGORA_API int agora_txn_result(agora_txn *t, size_t i, agora_value *ret);
/* Empty @t: no condition, call, result or building error left; it stays
 * on its client. Accepts NULL. */
AGORA_API void agora_txn_reset(agora_txn *t);
/* Free @t and what it holds. Accepts NULL. */
AGORA_API void agora_txn_free(agora_txn *t);

/* ---- push: notifications and an event-loop client ---------------------------
 *
 * The server sends notifications ([2, method, params], docs/protocol.md
 * section 11) to a connection that asked for them: a watch's changes, a
 * topic's messages, and the "cut" that ends a connection which stopped
 * reading. They may arrive at any time, also while a call waits for its
 * answer: the client queues them, in the order they arrived, and the
 * program takes them with agora_notification_next(). None is lost while
 * the client reads, up to the queue's limit:
 *
 *   - A program that makes calls but never takes its notifications makes
 *     the queue grow. Past agora_notification_set_limit()'s limit (default
 *     AGORA_NOTIFICATION_LIMIT) the OLDEST queued notification is dropped
 *     for each new one, and agora_notification_dropped() counts them. (A
 *     program that reads nothing at all is cut by the server instead, at
 *     its --max-output.)
 *   - After a "cut", or when the connection ends, the notifications
 *     already queued can still be taken; then agora_notification_next()
 *     fails as any call does (AGORA_EIO).
 *
 * Event loops (libevent, libuv, epoll, poll): instead of blocking in a
 * call, send calls with agora_call_send(), poll agora_client_fd() for
 * reading (and for writing while agora_client_want_write()), call
 * agora_client_process() when it is ready, then take answers with
 * agora_call_result() and notifications with agora_notification_next(c,
 * 0, ...). The blocking API stays usable on the same client: a blocking
 * call made while sent calls are outstanding keeps their answers (and the
 * notifications) as they arrive, for agora_call_result() later.
 */

typedef struct agora_notification {
	const char *method; /* "watch", "topic", "cut", or one a later server
			       adds (ignore those you do not know) */
	agora_value params; /* the one map of params (params[0]); AGORA_NIL if
			       absent */
} agora_notification;

/* The default limit of queued notifications per client. */
#define AGORA_NOTIFICATION_LIMIT 100000

/*
 * The oldest notification not yet taken, in *ret (free it with
 * agora_notification_free()). Those that arrived while a call waited for
 * its answer are queued; when none is queued it reads the socket, waiting
 * up to @timeout seconds (0: takes only what already arrived, without
 * blocking; AGORA_FOREVER: until one comes). Answers to sent calls read
 * meanwhile are kept for agora_call_result(). Returns 0; AGORA_ETIMEDOUT
 * when none came (the client stays usable; in sticky mode it never
 * latches); AGORA_EINVAL for a NULL @c or
 * @ret, a NaN @timeout, or a client that cannot call; AGORA_EIO when the
 * connection is lost (and nothing is queued); AGORA_EPROTOCOL, AGORA_ENOMEM.
 */
AGORA_API int agora_notification_next(agora_client *c, double timeout,
				      agora_notification **ret);
/* Free a notification agora_notification_next() returned. Accepts NULL. */
AGORA_API void agora_notification_free(agora_notification *n);
/* How many notifications are queued now (0 for a NULL @c). */
AGORA_API size_t agora_notification_count(const agora_client *c);
/* How many notifications were dropped because the queue was full, since
 * the client was made (0 for a NULL @c). */
AGORA_API uint64_t agora_notification_dropped(const agora_client *c);
/* Queue at most @max notifications (>= 1; default AGORA_NOTIFICATION_LIMIT);
 * when more are queued now, the oldest are dropped (and counted). 0, or
 * AGORA_EINVAL for a NULL @c or a @max of 0. */
AGORA_API int agora_notification_set_limit(agora_client *c, size_t max);
/* The value of the str key @key in the map @m, or NULL (also when @m is
 * NULL or not a map). Points into @m. */
AGORA_API const agora_value *agora_map_get(const agora_value *m,
					   const char *key);

/*
 * The socket of @c, for poll(2), epoll or an event library: -1 when @c is
 * NULL or not connected. Wait for it to be readable (POLLIN), and writable
 * (POLLOUT) too while agora_client_want_write() is true, then call
 * agora_client_process(). Never read or write it yourself, and never
 * close it (agora_client_free() does).
 */
AGORA_API int agora_client_fd(const agora_client *c);
/* True when requests agora_call_send() packed are not all sent yet (the
 * kernel's buffer was full): wait for the socket to be writable too. */
AGORA_API bool agora_client_want_write(const agora_client *c);
/*
 * Send what is waiting to go and take what the socket holds, without
 * blocking: notifications are queued (agora_notification_next()), answers
 * kept for agora_call_result(). Returns how many messages it took (0:
 * none was complete yet), or a negative code: AGORA_EIO when the
 * connection is lost (the server closed it: a "cut" notification may be
 * queued), AGORA_EPROTOCOL, AGORA_ENOMEM, AGORA_EINVAL as agora_call().
 * When the server keeps sending it returns after a bounded amount, and
 * the rest stays readable for the next poll (over TLS too: it never
 * leaves decrypted bytes where a poll cannot see them).
 * It never reconnects (a reconnect blocks): with
 * agora_client_set_reconnect() the next blocking call does, and the
 * socket is then a new one (agora_client_fd() again).
 */
AGORA_API int agora_client_process(agora_client *c);
/*
 * Send a call of @method with the params in the array @params (as
 * agora_call()) without waiting for its answer: its msgid in *ret_msgid,
 * for agora_call_result() and agora_cancel(). The request is packed now
 * (the values may go away on return) and sent as far as the kernel takes
 * it without blocking; the rest goes with the next agora_client_process()
 * (or before the next blocking call). Returns 0; AGORA_EINVAL as
 * agora_call() (nothing sent); AGORA_EIO; AGORA_ENOMEM. Never blocks.
 */
AGORA_API int agora_call_send(agora_client *c, const char *method,
			      agora_value params, uint32_t *ret_msgid);
/*
 * The result of the sent call @msgid, when its answer came: 0 with *ret
 * the result (yours to free; @ret may be NULL to discard it), or the call's
 * own negative code with the server's message in agora_errmsg()
 * (AGORA_ECANCELLED when agora_cancel() withdrew it; AGORA_ELOST when the
 * connection was lost before its answer: it may or may not have been
 * done). Either way the result is taken: @msgid is then unknown.
 * AGORA_EAGAIN when its answer has not come yet (it reads nothing: call
 * agora_client_process() first; it never latches in sticky mode, nor
 * does AGORA_ECANCELLED).
 * AGORA_EINVAL for an @msgid that is not
 * a sent call of @c whose result was not yet taken.
 */
AGORA_API int agora_call_result(agora_client *c, uint32_t msgid,
				agora_value *ret);
/* How many sent calls have results not taken yet (answered or not). */
AGORA_API size_t agora_call_pending(const agora_client *c);
/*
 * Ask the server to withdraw the sent call @msgid if it is parked (a get
 * on an empty queue, an acquire, a wait): the server method "cancel"
 * [msgid], sent as agora_call_send() does (never blocks). A parked call
 * that is withdrawn is answered AGORA_ECANCELLED, having taken nothing;
 * one that is not parked (answered already, or running) gets its own
 * answer: agora_call_result() says which. Returns 0 when the request is
 * on its way, or nothing needed sending (the answer already came);
 * AGORA_EINVAL for an @msgid that is not a sent call of @c; else as
 * agora_call_send().
 */
AGORA_API int agora_cancel(agora_client *c, uint32_t msgid);

/* ---- watches (docs/protocol.md section 11.1) -----------------------------
 *
 * A watch makes the server send this connection a "watch" notification for
 * every change of an object (or of one key of a dict, one attribute of a
 * namespace), in order, with the object's version after the change.
 * Versions rise with every change; a watcher that lost its connection
 * watches again with the info of its last watch, its version set to the
 * last one it saw: changed says whether it missed anything.
 */
typedef struct agora_watch_info {
	uint64_t watch;   /* its number on this connection */
	uint64_t version; /* the object's version when the watch began */
	char run[48];     /* the server's run it was made in */
	int changed;      /* when resuming: 1 changed since (or may have),
			     0 not; -1 when not resuming */
} agora_watch_info;

/* A change, read from a "watch" notification by agora_change_of(): it
 * points into the notification, valid while it is. */
typedef struct agora_change {
	uint64_t watch;         /* the watch it came for */
	uint64_t version;       /* the object's version after it */
	const char *op;         /* "dict.set", "queue.get", "lock.drop"... */
	const agora_value *key; /* the key or attribute, or NULL */
} agora_change;

/* Watch the object of @handle (a proxy's agora_TYPE_handle()): every change,
 * or those of @key only (and those that touch every key) when @key is not
 * NULL. @since: NULL, or an earlier watch's info with .version set to the
 * last version seen, to learn in ret->changed whether the object changed
 * after it. */
AGORA_API int agora_watch(agora_client *c, uint32_t handle,
			  const agora_value *key, const agora_watch_info *since,
			  agora_watch_info *ret);
/* End watch @watch of this connection; *ret_had (may be NULL): whether it
 * was one. */
AGORA_API int agora_unwatch(agora_client *c, uint64_t watch, bool *ret_had);
/* Read the change a "watch" notification carries: 0, or AGORA_EINVAL when
 * @n is not one. */
AGORA_API int agora_change_of(const agora_notification *n, agora_change *ret);

#ifdef __cplusplus
}
#endif

#endif
