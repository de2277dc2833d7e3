/*
 * internal.h - what libagora's files share. Never installed.
 *
 * The files, each using only those listed before it (no cycle:
 * scripts/check-layers.py BUILD client):
 *   value.c       agora_value to MessagePack and back;
 *   transport.c   sockets: an address to a connected fd, send, receive;
 *   connection.c  agora_client itself: states, error message, new/free,
 *                 and its bytes (a failed send or receive breaks it);
 *   call.c        one round trip: pack a request, send it, read until the
 *                 response with the same msgid, typed results;
 *   handshake.c   agora_client_connect(): transport, hello/auth, READY;
 *   calls.c       the methods of no type: agora_call, ping, stats, ls,
 *                 drop, info, and "open";
 *   refs.c        references and "open_ref";
 *   proxy.c       ag_proxy, the plumbing every proxy type shares;
 *   proxy_<type>.c  one per object type, each method one ag_proxy_call*();
 *   pipeline.c    many calls in flight (the call's pieces apart);
 *   txn.c         a transaction: calls built as a pipeline's, sent as one
 *                 "txn" request (the call's pieces apart too);
 *   push.c        notifications handed out, and the event-loop client:
 *                 calls sent without waiting, their results by msgid;
 *   reconnect.c   connect again after a loss and open every proxy again
 *                 (call.c reaches it through c->recover only);
 *   manager.c     a private server in a child process.
 *
 * Every helper here that takes an agora_client sets the client's error
 * message when it fails, so agora_errmsg() always explains a negative return.
 */
#ifndef AG_CLIENT_INTERNAL_H
#define AG_CLIENT_INTERNAL_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ag_proto.h"
#include "agora.h"

/* Largest response frame the client accepts. */
#define AG_CLIENT_MAX_RESPONSE ((size_t)1 << 30)

/* ---- transport.c ---------------------------------------------------------
 *
 * Sockets, with no client: each failure is an AGORA_E* code or -errno.
 */

/* Now on the monotonic clock, in milliseconds: what deadlines count in. */
int64_t ag_transport_now_ms(void);

/* The files a tls: connection uses, NULL for none (@ca: the system's
 * store), and the environment variable each name came from, for messages
 * ("AGORA_TLS_CA"; NULL: the program gave it). */
typedef struct ag_tls_files {
	const char *ca, *cert, *key;
	const char *ca_from, *cert_from, *key_from;
} ag_tls_files;

struct ssl_st; /* OpenSSL's SSL */

/*
 * Connect to @address ("unix:/PATH", "tcp:HOST:PORT", "tcp:[V6]:PORT",
 * "tls:HOST:PORT", "tls:[V6]:PORT"): the socket (close-on-exec; TCP
 * without Nagle) in *ret_fd, and for tls: the TLS connection made on it
 * in *ret_ssl (else NULL there). A unix: or tcp: socket is blocking, a
 * tls: one non-blocking (transport.c says why). For tls: the server's
 * certificate is verified against @tls->ca (else the system's store) and
 * must name the host (a DNS name, or the IP address of a literal); the
 * client presents @tls->cert (with @tls->key, else the key in the cert
 * file) when given. Returns 0; AGORA_EINVAL for an address that is not
 * one of those, or a file of @tls that cannot be used; AGORA_ETIMEDOUT
 * when @deadline_ms (0: none) passed first (the TLS handshake included);
 * AGORA_ECERT when the server's certificate could not be verified (the
 * reason OpenSSL gives in @err); AGORA_EIO when the server cannot be
 * reached or the TLS handshake failed otherwise; AGORA_ENOMEM. On failure
 * @err holds a sentence naming @address. Blocks until connected, refused
 * or the deadline (the name lookup of a TCP host is not bounded by it).
 */
int ag_transport_connect(const char *address, const ag_tls_files *tls,
			 int64_t deadline_ms, int *ret_fd,
			 struct ssl_st **ret_ssl, char *err, size_t errlen);

/* Have the kernel end the TCP connection @fd (reads and writes then fail
 * with ETIMEDOUT) when the server stops answering for @timeout seconds:
 * keepalive and TCP_USER_TIMEOUT as ag_keepalive_for() says. 0 or
 * -errno. */
int ag_transport_watch_peer(int fd, double timeout);

/* Send all @len bytes to @fd, through @ssl when not NULL (EINTR retried,
 * no SIGPIPE): 0 or -errno; -ETIMEDOUT when @deadline_ms (0: none) passed
 * before the kernel took them all; -EPROTO for a TLS error (its reason:
 * ag_transport_tls_error()). Blocks until then. */
int ag_transport_send(int fd, struct ssl_st *ssl, const void *data, size_t len,
		      int64_t deadline_ms);

/* One recv(2) into @buf (one SSL_read() when @ssl is not NULL; EINTR
 * retried): the byte count, 0 when the peer closed, or -errno;
 * -ETIMEDOUT when @deadline_ms (0: none) passed with nothing to read;
 * -EPROTO for a TLS error. Blocks until bytes arrive or then. */
ssize_t ag_transport_recv(int fd, struct ssl_st *ssl, void *buf, size_t len,
			  int64_t deadline_ms);

/* ag_transport_send() that never blocks: as many of the @len bytes as the
 * kernel takes now, their count in *ret_sent (maybe 0). 0 or -errno (as
 * ag_transport_send()). */
int ag_transport_send_nowait(int fd, struct ssl_st *ssl, const void *data,
			     size_t len, size_t *ret_sent);

/* ag_transport_recv() that never blocks: the byte count, 0 when the peer
 * closed, -EAGAIN when nothing is there to read, or -errno. */
ssize_t ag_transport_recv_nowait(int fd, struct ssl_st *ssl, void *buf,
				 size_t len);

/* True when @ssl (NULL: false) holds decrypted bytes not read yet. */
bool ag_transport_pending(struct ssl_st *ssl);

/* The reason of the last TLS error (this thread's OpenSSL error queue,
 * emptied) into @buf of @len bytes; never empty. */
void ag_transport_tls_error(char *buf, size_t len);

/* The channel binding of @ssl's connection (protocol section 2.1): the
 * SHA-256 of the server's certificate as it presented it. 0,
 * AGORA_EPROTOCOL when it presented none, or AGORA_ENOMEM. */
int ag_transport_tls_binding(struct ssl_st *ssl, uint8_t out[AG_BINDING_LEN]);

/* Free @ssl (NULL: nothing), after one try at sending close_notify when
 * @notify. Closes no socket. Never call it with @notify in a process
 * other than the one that connected. */
void ag_transport_tls_free(struct ssl_st *ssl, bool notify);

/* ---- connection.c --------------------------------------------------------
 *
 * The client itself (include/agora.h keeps it opaque). The state machine is
 * explained at the top of connection.c.
 */

enum ag_client_state {
	AG_CLIENT_NONE,
	AG_CLIENT_HANDSHAKE,
	AG_CLIENT_READY,
	AG_CLIENT_BROKEN,
};

/* The longest user name agora_client_set_user() takes (the server's). */
#define AG_CLIENT_USER_MAX 64

struct agora_client {
	int fd; /* -1 when there is no connection */
	/* The TLS connection on @fd for a tls: address, else NULL. */
	struct ssl_st *ssl;
	/* agora_client_set_tls()'s files (malloc'ed; NULL: not set, the
	 * environment decides at connect). */
	char *tls_ca, *tls_cert, *tls_key;
	enum ag_client_state state;
	pid_t pid; /* the process that connected */
	/* A page the kernel zeroes in a fork() child (MADV_WIPEONFORK): a
	 * nonzero byte here means "this is still the connecting process",
	 * with no system call per request. NULL where the kernel cannot do
	 * it; then getpid() is compared. */
	volatile unsigned char *mark;
	char *address;    /* as given to connect, for messages */
	uint32_t msgid;   /* the last msgid used */
	uint64_t pings;   /* the value agora_ping() sends next */
	ag_reader reader; /* valid while fd >= 0 */
	ag_buf out;       /* the request being sent */
	char server[64];  /* "agora/X.Y.Z" from the handshake */
	char run[72];     /* the server's run id from the handshake, or "" */
	char errmsg[512];
	char lost[200]; /* why the client broke */
	/* Seconds, as set by agora_client_set_peer_timeout() and
	 * agora_client_set_connect_timeout(): > 0, 0 for no limit, NAN when
	 * not set (then the environment or the default decides at connect). */
	double peer_set, connect_set;
	/* What the connection runs with: seconds, 0 for no limit. The peer
	 * timeout applies to TCP connections only (peer_timeout is 0 on a
	 * Unix socket, whose server's end the kernel reports at once). */
	double peer_timeout, connect_timeout;
	/* How long the server may wait before it answers the next call
	 * (its timeout; INFINITY: forever), set by ag_proxy_timeout() and
	 * taken by ag_client_call(); 0 for a call that does not wait. */
	double wait;
	/* When the call under way gives up: monotonic ms (transport.c), 0
	 * for never. */
	int64_t deadline_ms;
	/* Items a typed call removed but could not hand over as the C type
	 * asked for, oldest first, until agora_client_take_item(). */
	struct ag_kept *kept, **kept_tail;
	/* The key of the last connect (malloc'ed, wiped when freed), for a
	 * reconnect. */
	uint8_t *key;
	size_t keylen;
	/* The user hello names (agora_client_set_user()), or NULL: the
	 * server's default user. */
	char *user;
	/* Reconnecting (reconnect.c): how long to try after a loss, seconds
	 * (< 0: for ever; 0: never, the default); the function that does it,
	 * set by agora_client_set_reconnect() (NULL: off), and the program's
	 * callback. @recovering is true while it runs: a failure then does
	 * not reconnect again. */
	double reconnect_s;
	int (*recover)(agora_client *c);
	agora_reconnect_fn *on_reconnect;
	void *on_reconnect_arg;
	bool recovering;
	/* The proxies of this client, for a reconnect to re-open (proxy.c
	 * links them in and out). */
	struct ag_proxy *proxies;
	/* The proxy whose handle is the first param of the call under way
	 * (set by proxy.c, taken by ag_client_call(), like @wait): a call
	 * made again after a reconnect sends its new handle. */
	const struct ag_proxy *call_proxy;
	/* Sticky mode (agora_client_set_sticky()): the first failure's code
	 * and sentence, latched until cleared; 0 when none. While
	 * sticky_hold > 0 nothing latches (a caller trying several things,
	 * whose own result is noted once at the end). */
	bool sticky;
	int sticky_hold;
	int first_rc;
	char first_msg[512];
	/* Notifications ([2, method, params]) read and not yet taken with
	 * agora_notification_next(), oldest first (call.c queues them,
	 * push.c hands them out): @nnotes of them; past @notes_max the
	 * oldest is dropped and counted in @notes_dropped. */
	struct ag_note *notes, **notes_tail;
	size_t nnotes, notes_max;
	uint64_t notes_dropped;
	/* Calls sent with agora_call_send() (push.c) whose results were not
	 * taken yet: a hash table of @sent_cap buckets (0 or a power of
	 * two) by msgid, @nsent entries. call.c stores each answer in its
	 * entry when it arrives, whatever call is reading. */
	struct ag_sent **sent;
	size_t nsent, sent_cap;
	/* Requests agora_call_send() packed that the kernel has not taken
	 * yet (a non-blocking send took part), from @pend_off on. Sent
	 * before anything else goes (ag_client_send()). */
	ag_buf pend;
	size_t pend_off;
};

/* A queued notification: what agora_notification_next() hands out (@n
 * first, so that the public pointer is the node), and its method's text. */
struct ag_note {
	agora_notification n; /* n.method points to @method */
	struct ag_note *next;
	char method[];
};

/* A call sent with agora_call_send(), until its result is taken. */
struct ag_sent {
	struct ag_sent *next; /* in its bucket */
	uint32_t msgid;
	bool done;       /* its answer came (or the connection was lost) */
	bool discard;    /* nobody takes it (agora_cancel()'s own call) */
	int rc;          /* when done: 0 or the negative code */
	agora_value val; /* when done with 0: the result, owned */
	char *errmsg;    /* when done with rc < 0 (NULL: out of memory) */
};

/* One item kept for agora_client_take_item(). */
struct ag_kept {
	struct ag_kept *next;
	agora_value v; /* owned */
};

/*
 * Set the client's error message from a printf format and return @rc, so
 * that "return ag_client_fail(c, AGORA_EINVAL, ...)" reads as one statement.
 * Does nothing but return @rc when @c is NULL.
 */
int ag_client_fail(agora_client *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Mark @c broken for good, because of the reason the format gives: close
 * the socket (whatever the server sends now could not be trusted to line
 * up with a request), and remember why, so every later call can say it.
 * Returns @rc. ag_client_lost() is the same with a plain string (for a
 * response nobody asked for, in pipeline.c).
 */
int ag_client_break(agora_client *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int ag_client_lost(agora_client *c, int rc, const char *why);

/*
 * Keep @v (owned; the client frees it if nobody takes it) for
 * agora_client_take_item(): for a typed call that removed an item it could
 * not convert. Returns 0, or AGORA_ENOMEM (then @v is freed).
 */
int ag_client_keep(agora_client *c, agora_value v);

/*
 * Sticky mode: latch @rc, with the sentence now in c->errmsg, as @c's first
 * error when @c is in sticky mode, nothing is latched yet, and @rc is a
 * failure (negative and none of the outcomes a program branches on:
 * AGORA_EEMPTY, AGORA_EFULL, AGORA_EKEY, AGORA_EEXISTS). Returns the
 * latched code when one is latched (this one or an earlier one), else
 * @rc. Accepts a NULL @c (returns @rc). ag_client_fail() and
 * ag_client_break() note every failure (a connect's too), ag_client_call()
 * what it returns; nothing is noted while c->sticky_hold > 0.
 */
int ag_client_note(agora_client *c, int rc);

/* The code latched on @c in sticky mode, or 0 (also for a NULL @c). A call
 * that finds one does nothing and returns it. */
static inline int ag_client_latched(const agora_client *c)
{
	return c != NULL ? c->first_rc : 0;
}

/* True when @c was connected by this very process (not a fork() child). */
bool ag_client_same_process(const agora_client *c);

/* 0 when @c can make a call now; else the error to return, with the message
 * set (AGORA_EINVAL for NULL, unconnected, still connecting or another
 * process's client, AGORA_EIO for a broken one). Sends nothing. */
int ag_client_usable(agora_client *c);

/* Break @c (ag_client_break()) when the server has closed the connection
 * already, as poll(2) sees at once; does nothing else. For a client that
 * reconnects: a request sent on such a connection would be lost with an
 * unknown outcome, where now the reconnect comes first. */
void ag_client_check_peer(agora_client *c);

/* Close @c's socket and free its reader and request buffer (state kept).
 * Every sent call still waiting for its answer is done with AGORA_ELOST. */
void ag_client_disconnect(agora_client *c);

/* Queue the notification [2, @method, @params] read from the server
 * (decoded: @params is params[0] or nil; the queue copies both). When
 * c->notes_max are queued the oldest is dropped first. 0 or AGORA_ENOMEM. */
int ag_client_queue_note(agora_client *c, const msgpack_object *method,
			 const msgpack_object *params);

/* The sent call @msgid (ag_client_sent_add()), or NULL. */
struct ag_sent *ag_client_sent_find(const agora_client *c, uint32_t msgid);
/* Remember the sent call @msgid (not done yet): the entry, or NULL when
 * out of memory. */
struct ag_sent *ag_client_sent_add(agora_client *c, uint32_t msgid);
/* Forget the entry @s and free it with its result. */
void ag_client_sent_remove(agora_client *c, struct ag_sent *s);

/* Send @len bytes: 0, or AGORA_EIO, or AGORA_ETIMEDOUT when
 * c->deadline_ms passed or the kernel gave up on the server (the client is
 * then broken). Blocks until the kernel took them all. */
int ag_client_send(agora_client *c, const void *data, size_t len);

/* Read what the socket has into c->reader: 0, or AGORA_EIO / AGORA_ENOMEM /
 * AGORA_ETIMEDOUT (as for ag_client_send()), which break @c. Blocks until
 * bytes arrive or c->deadline_ms. */
int ag_client_recv(agora_client *c);

/* ag_client_recv() that never blocks: 1 when bytes were read, 0 when none
 * had arrived, or the error that broke @c (AGORA_EIO also when the server
 * closed the connection). */
int ag_client_recv_nowait(agora_client *c);

/* Send what c->pend holds without blocking: 0 (some may be left: the
 * kernel's buffer is full), or the error that broke @c. */
int ag_client_send_pending(agora_client *c);

/* True when the TLS connection of @c holds decrypted bytes not yet read
 * (a poll(2) on the socket would not show them). */
bool ag_client_has_buffered(const agora_client *c);

/* ---- call.c -------------------------------------------------------------- */

/*
 * One round trip: send [0, msgid, @method, [@params...]] and read until its
 * response. On 0, *ret_result points at the result, inside the client's
 * reader: valid until the next call on @c, and never NULL. Returns 0; a
 * negative wire code with the server's message (agora_errmsg()); AGORA_EINVAL
 * for a client that is not connected, belongs to another process (nothing is
 * sent), or for params that cannot be packed; AGORA_EIO when the connection
 * failed or is lost (the client is then broken for good); AGORA_EPROTOCOL
 * when the server broke the protocol (also breaks the client); AGORA_ENOMEM.
 * In sticky mode, a latched error at once (nothing done), and what it
 * returns is noted (ag_client_note()). Blocks until the server answers.
 */
int ag_client_call(agora_client *c, const char *method,
		   const agora_value *params, size_t nparams,
		   const msgpack_object **ret_result);

/* ag_client_call() without the state check, for the handshake's calls,
 * which run before the client is READY. @c is not NULL. */
int ag_client_rpc(agora_client *c, const char *method,
		  const agora_value *params, size_t nparams,
		  const msgpack_object **ret_result);

/* What ag_client_call_as() makes of a result, and the type @ret points to
 * for it. */
enum ag_result {
	AG_RESULT_VALUE, /* agora_value: the result decoded, the caller's */
	AG_RESULT_BOOL,  /* bool */
	AG_RESULT_INT,   /* int64_t */
	AG_RESULT_SIZE,  /* size_t: a non-negative integer */
};

/*
 * ag_client_call() with its result stored through @ret as @kind says, or
 * discarded when @ret is NULL. An AG_RESULT_VALUE is decoded into an owned
 * value (free it with agora_value_free()); for the others a result of
 * another kind is AGORA_EPROTOCOL (the client stays usable). *ret is
 * written on 0 only.
 */
int ag_client_call_as(agora_client *c, const char *method,
		      const agora_value *params, size_t nparams,
		      enum ag_result kind, void *ret);

/* AGORA_EPROTOCOL with "ADDRESS answered @method with TYPE where @want was
 * due": for a result of the wrong kind. */
int ag_client_bad_result(agora_client *c, const char *method,
			 const msgpack_object *o, const char *want);

/* A slice or index bound: AGORA_END travels as nil. */
static inline agora_value ag_bound(int64_t i)
{
	return i == AGORA_END ? agora_nil() : agora_int(i);
}

/* ---- proxy.c -------------------------------------------------------------
 *
 * Every proxy (protocol section 3.1) shares its plumbing through these: each
 * public struct begins with an ag_proxy, and each method is one
 * ag_proxy_call*() that names the method without its type and passes only its
 * own params. So a family whose types share methods (queue and
 * joinable_queue, the lock-likes, the semaphores) shares the code too: the
 * wire type kept in the proxy names the method.
 */

/* What every proxy begins with. */
typedef struct ag_proxy {
	agora_client *c;
	uint32_t handle;
	const char *type; /* the wire type opened as, static storage */
	agora_ref ref;    /* the object's reference when known, else id 0 */
	/* What a reconnect needs to open it again (reconnect.c): its name
	 * (malloc'ed; NULL for an anonymous object or one opened by
	 * reference) and the options it was opened with (an owned map value,
	 * or nil). @lost: a reconnect could not open it again, and why. */
	char *name;
	agora_value opts;
	char *lost;
	bool closing;                   /* its close is under way */
	struct ag_proxy *next, **pprev; /* in c->proxies */
} ag_proxy;

/*
 * The proxy struct of every type, from the one list (include/agora.h): an
 * ag_proxy and nothing else, so that proxy.c can define the functions all
 * types share, and each proxy_<wire>.c reach its ag_proxy as x->p.
 */
#define AG_PROXY_STRUCT_OWN(ctype) \
	struct ctype {             \
		ag_proxy p;        \
	};
#define AG_PROXY_STRUCT_SHARED(ctype)
#define AG_PROXY_STRUCT_(wire, ctype, proxy) AG_PROXY_STRUCT_##proxy(ctype)
AGORA_TYPES(AG_PROXY_STRUCT_)
#undef AG_PROXY_STRUCT_

/*
 * How an open that failed leaves the caller's `struct agora_X **` @ret_proxy:
 * in sticky mode a NULL proxy is written, so that a program can open
 * several and check once (every function accepts a NULL proxy); else it is
 * untouched. Returns @rc.
 */
int ag_proxy_open_failed(agora_client *c, void *ret_proxy, int rc);

/* Most params a method takes after the handle (queue.take: block, timeout,
 * lease, details). */
#define AG_PROXY_MAX_ARGS 4

/*
 * Open [@type, @name or nil, {@opts}] and make a proxy for it: @size zeroed
 * bytes (a struct that begins with an ag_proxy) that remember @c, the new
 * handle and @type (kept as a pointer: a string literal). @ret_proxy is the
 * public open's `struct agora_X **ret`, written with the proxy's address on
 * success only (pointers to structs share one representation, C11 6.2.5).
 * Returns 0; AGORA_EINVAL for a NULL @c or @ret_proxy; AGORA_ETYPE when
 * @name is another type; AGORA_ENOMEM; else as ag_client_call(). Blocks for
 * one round trip.
 */
int ag_proxy_open(agora_client *c, void *ret_proxy, size_t size,
		  const char *type, const char *name, const agora_pair *opts,
		  size_t nopts);

/*
 * ag_proxy_open() for the object @ref names ("open_ref" [@ref, @type]); the
 * proxy remembers @ref, so ag_proxy_ref() needs no round trip. Returns 0;
 * AGORA_EINVAL for a NULL @c, @ref or @ret_proxy; AGORA_ETYPE when the
 * object is another type (no hold passed to this connection is used up);
 * AGORA_ENO_OBJECT when it is gone; AGORA_ENOMEM; else as ag_client_call().
 * Blocks for one round trip.
 */
int ag_proxy_open_ref(agora_client *c, void *ret_proxy, size_t size,
		      const char *type, const agora_ref *ref);

/* "close" the handle and free the proxy that begins with @p, whatever the
 * call returns. From a fork() child nothing is sent (AGORA_EINVAL); on a
 * broken client AGORA_EIO. Accepts NULL (returns 0). */
int ag_proxy_close(ag_proxy *p);

/* The reference of @p's object into *ret: the one it was opened by, else
 * agora_ref_of() (one round trip, with its returns). AGORA_EINVAL for a
 * NULL @ret. */
int ag_proxy_ref(const ag_proxy *p, agora_ref *ret);

/*
 * Call "TYPE.@method" with [handle, @args...] for @p: ag_client_call(),
 * with the same returns; AGORA_EINVAL for more than AG_PROXY_MAX_ARGS @args
 * or a method name that does not fit. ag_proxy_call_value() decodes the
 * result into an owned value in *ret (free it with agora_value_free()), or
 * discards it when @ret is NULL. The _bool, _int and _size variants are for
 * methods whose result must be a bool, an integer or a non-negative
 * integer: a result of another kind is AGORA_EPROTOCOL (the client stays
 * usable); @ret may be NULL to discard.
 */
int ag_proxy_call(const ag_proxy *p, const char *method,
		  const agora_value *args, size_t nargs,
		  const msgpack_object **ret_result);
int ag_proxy_call_value(const ag_proxy *p, const char *method,
			const agora_value *args, size_t nargs,
			agora_value *ret);
int ag_proxy_call_bool(const ag_proxy *p, const char *method,
		       const agora_value *args, size_t nargs, bool *ret);
int ag_proxy_call_int(const ag_proxy *p, const char *method,
		      const agora_value *args, size_t nargs, int64_t *ret);
int ag_proxy_call_size(const ag_proxy *p, const char *method,
		       const agora_value *args, size_t nargs, size_t *ret);

/*
 * ag_proxy_call() for a caller that asked for its data as a C type
 * (agora_list_get_int(), agora_dict_get_str(), ...): the result is the
 * object's content, so another kind is AGORA_ETYPE with a message naming
 * @what, not a protocol error; an integer that does not fit int64_t is
 * AGORA_EVALUE. The call's effect (an item taken, a sum stored) stands
 * either way. *ret is written on 0 only: for _as_int @ret may be NULL to
 * check the kind and discard; _as_str's is a malloc'ed NUL-terminated copy
 * (free() it), and AGORA_ENOMEM may come back.
 */
int ag_proxy_call_as_int(const ag_proxy *p, const char *method,
			 const agora_value *args, size_t nargs,
			 const char *what, int64_t *ret);
int ag_proxy_call_as_str(const ag_proxy *p, const char *method,
			 const agora_value *args, size_t nargs,
			 const char *what, char **ret);
/*
 * The same for a method that removes the item it answers (queue get, list
 * and dict pop): on AGORA_ETYPE or AGORA_EVALUE the item is not lost but
 * kept by the client (ag_client_keep()) for agora_client_take_item(), and
 * the message says so.
 */
int ag_proxy_take_as_int(const ag_proxy *p, const char *method,
			 const agora_value *args, size_t nargs,
			 const char *what, int64_t *ret);
int ag_proxy_take_as_str(const ag_proxy *p, const char *method,
			 const agora_value *args, size_t nargs,
			 const char *what, char **ret);

/*
 * Write the wire form of the C @timeout into @out for "TYPE.@method" and
 * return how many params that made (1 or 2). With @block it is the
 * (block, timeout) pair of acquire, get and put: AGORA_FOREVER (any
 * negative, or infinity) is (true, nil), 0 is (false), more is (true,
 * seconds). Without, it is the lone timeout of wait and join: nil for
 * forever, else seconds (0 does not wait). AGORA_EINVAL, with the message
 * set, for a NaN.
 */
int ag_proxy_timeout(const ag_proxy *p, const char *method, double timeout,
		     bool block, agora_value *out);

/* "TYPE.@method"(@timeout) -> bool, the timeout as ag_proxy_timeout()
 * writes it: acquire, wait and join. @ret may be NULL. Blocks until the
 * server answers, which is when the call succeeds or its timeout ran out. */
int ag_proxy_call_timed(const ag_proxy *p, const char *method, double timeout,
			bool block, bool *ret);

/* AGORA_EINVAL with "TYPE.@method needs a result": for a query called with
 * a NULL result pointer, which would be a round trip for nothing. */
int ag_proxy_no_result(const ag_proxy *p, const char *method);

/* ---- proxy_queue.c ------------------------------------------------------
 *
 * The methods queue and joinable_queue share, for a proxy opened as either:
 * the contracts of agora_queue_open(), agora_queue_put() and so on, the
 * wire type coming from @p. @p is never NULL (the public edge checks).
 */
int ag_queue_open(agora_client *c, void *ret_proxy, size_t size,
		  const char *type, const char *name, size_t maxsize);
int ag_queue_open_dead_letter(agora_client *c, void *ret_proxy, size_t size,
			      const char *type, const char *name,
			      size_t maxsize, uint32_t max_deliveries,
			      const char *dead_letter);
int ag_queue_put(const ag_proxy *p, agora_value v, double timeout);
int ag_queue_get(const ag_proxy *p, double timeout, agora_value *ret);
int ag_queue_get_int(const ag_proxy *p, double timeout, int64_t *ret);
int ag_queue_get_str(const ag_proxy *p, double timeout, char **ret);
int ag_queue_put_nowait(const ag_proxy *p, agora_value v);
int ag_queue_get_nowait(const ag_proxy *p, agora_value *ret);
int ag_queue_qsize(const ag_proxy *p, size_t *ret);
int ag_queue_empty(const ag_proxy *p, bool *ret);
int ag_queue_full(const ag_proxy *p, bool *ret);
int ag_queue_peek(const ag_proxy *p, size_t n, agora_value *ret);
int ag_queue_take(const ag_proxy *p, double timeout, double lease,
		  uint64_t *ret_id, agora_value *ret_item,
		  uint64_t *ret_deliveries);
int ag_queue_settle(const ag_proxy *p, const char *method, uint64_t id);
int ag_queue_pending(const ag_proxy *p, agora_value *ret);

/* ---- calls.c ------------------------------------------------------------- */

/*
 * "open" [@type, @name or nil, {@opts}]: a handle on the object @name (get
 * or create), or on a new anonymous one when @name is NULL, in
 * *ret_handle. @opts may be NULL when @nopts is 0. Returns 0; AGORA_ETYPE
 * when @name is another type; else as ag_client_call(). Blocks for one
 * round trip.
 */
int ag_client_open(agora_client *c, const char *type, const char *name,
		   const agora_pair *opts, size_t nopts, uint32_t *ret_handle);

/* ---- refs.c -------------------------------------------------------------- */

/*
 * "open_ref" [@ref] when @type is NULL, else [@ref, @type]: a new handle for
 * the referenced object in *ret_handle. Returns 0; AGORA_ETYPE when @type
 * is given and the object is another type; AGORA_ENO_OBJECT when it is
 * gone; AGORA_EINVAL for a NULL @c, @ref or @ret_handle; else as
 * ag_client_call(). Blocks for one round trip.
 */
int ag_client_open_ref(agora_client *c, const char *type, const agora_ref *ref,
		       uint32_t *ret_handle);

/* ---- value.c ------------------------------------------------------------- */

/*
 * Pack @v into @pk. @depth is the container depth @v has in the whole
 * message: the request array is 1, its params array 2, so a param is 3.
 * Returns 0, or AGORA_EINVAL for a value that cannot be sent (unknown type,
 * NULL data with a length, a length above 2^32-1, or an array or map deeper
 * than AG_MAX_DEPTH, which the server would answer by closing the
 * connection); the packer may then hold part of the value.
 */
int ag_value_pack(msgpack_packer *pk, const agora_value *v, unsigned depth);

/*
 * Decode @o into a value the caller owns (free with agora_value_free()).
 * str, bin and ext data are NUL-terminated copies. A positive integer above
 * INT64_MAX becomes AGORA_UINT, every other integer AGORA_INT, float32 and
 * float64 AGORA_FLOAT. Returns 0 or AGORA_ENOMEM (*ret untouched).
 */
int ag_value_unpack(const msgpack_object *o, agora_value *ret);

/* ---- call.c, for pipeline.c ----------------------------------------------
 *
 * The pieces of ag_client_call() apart, so that pipeline.c can send many
 * requests before it reads their responses (with ag_client_usable() and
 * ag_client_send() of connection.c). While a pipeline has calls
 * outstanding it alone may use these on its client.
 */

/*
 * Append the request [0, msgid, @method, [@params...]] to @out, with the
 * client's next msgid, which *ret_msgid gets. Sends nothing. Returns 0;
 * AGORA_EINVAL for params that cannot be packed or AGORA_ENOMEM, with @out
 * as it was and the msgid not used.
 */
int ag_client_pack(agora_client *c, ag_buf *out, const char *method,
		   const agora_value *params, size_t nparams,
		   uint32_t *ret_msgid);

/*
 * Read the next response, whichever request it answers: its msgid, the
 * error array or NULL, and the result, pointing into the client's reader
 * until the next read on @c. Notifications met on the way are queued
 * (ag_client_queue_note()), and answers to calls sent with
 * agora_call_send() stored in their entries: neither is returned. Returns
 * 0, or AGORA_EIO, AGORA_EPROTOCOL or AGORA_ENOMEM, which break the
 * client. Blocks until a response arrives.
 */
int ag_client_read_any(agora_client *c, uint32_t *ret_msgid,
		       const msgpack_object **ret_error,
		       const msgpack_object **ret_result);

/*
 * Take, without blocking, the messages the socket holds (reading it until
 * it has no more, or a few reads when the server keeps sending: the rest
 * stays readable for poll(2)): notifications are queued, answers to sent
 * calls stored. Returns how many messages were taken, or the error that
 * broke @c (AGORA_EPROTOCOL for an answer to a call nobody waits for).
 */
int ag_client_drain(agora_client *c);

/* The negative code of the error array @err, its message set on @c; a
 * PROTOCOL error also breaks @c, as the server closes the connection. */
int ag_client_response_error(agora_client *c, const msgpack_object *err);

#endif
