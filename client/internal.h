/*
 * internal.h - what libagora's files share. Never installed.
 *
 * client.c owns the connection: it packs a request from an array of
 * agora_value params, sends it, reads until the response with the same msgid
 * arrives and hands back the result as a msgpack_object that points into the
 * client's reader (valid until the next call on that client). value.c turns
 * agora_value into MessagePack and back. Each proxy_<family>.c is a thin
 * layer over the ag_proxy plumbing below: every public struct begins with
 * an ag_proxy, and every method is one ag_proxy_call*() round trip.
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

#include "ag_proto.h"
#include "agora.h"

/* Largest response frame the client accepts. */
#define AG_CLIENT_MAX_RESPONSE ((size_t)1 << 30)

/* ---- client.c ------------------------------------------------------------ */

/*
 * Set the client's error message from a printf format and return @rc, so
 * that "return ag_client_fail(c, AGORA_EINVAL, ...)" reads as one statement.
 * Does nothing but return @rc when @c is NULL.
 */
int ag_client_fail(agora_client *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * One round trip: send [0, msgid, @method, [@params...]] and read until its
 * response. On 0, *ret_result points at the result, inside the client's
 * reader: valid until the next call on @c, and never NULL. Returns 0; a
 * negative wire code with the server's message (agora_errmsg()); AGORA_EINVAL
 * for a client that is not connected, belongs to another process (nothing is
 * sent), or for params that cannot be packed; AGORA_EIO when the connection
 * failed or is lost (the client is then broken for good); AGORA_EPROTOCOL
 * when the server broke the protocol (also breaks the client); AGORA_ENOMEM.
 * Blocks until the server answers.
 */
int ag_client_call(agora_client *c, const char *method,
		   const agora_value *params, size_t nparams,
		   const msgpack_object **ret_result);

/* A slice or index bound: AGORA_END travels as nil. */
static inline agora_value ag_bound(int64_t i)
{
	return i == AGORA_END ? agora_nil() : agora_int(i);
}

/* ---- proxies (client.c) -------------------------------------------------
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
} ag_proxy;

/* Most params a method takes after the handle. */
#define AG_PROXY_MAX_ARGS 3

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
int ag_queue_put(const ag_proxy *p, agora_value v, double timeout);
int ag_queue_get(const ag_proxy *p, double timeout, agora_value *ret);
int ag_queue_get_int(const ag_proxy *p, double timeout, int64_t *ret);
int ag_queue_get_str(const ag_proxy *p, double timeout, char **ret);
int ag_queue_put_nowait(const ag_proxy *p, agora_value v);
int ag_queue_get_nowait(const ag_proxy *p, agora_value *ret);
int ag_queue_qsize(const ag_proxy *p, size_t *ret);
int ag_queue_empty(const ag_proxy *p, bool *ret);
int ag_queue_full(const ag_proxy *p, bool *ret);

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

/* ---- pipelining (client.c, for pipeline.c) -------------------------------
 *
 * The pieces of ag_client_call() apart, so that pipeline.c can send many
 * requests before it reads their responses. While a pipeline has calls
 * outstanding it alone may use these on its client.
 */

/* 0 when @c can send now; else the error ag_client_call() would return,
 * with the message set (AGORA_EINVAL for NULL, unconnected or another
 * process's client, AGORA_EIO for a broken one). */
int ag_client_usable(agora_client *c);

/*
 * Append the request [0, msgid, @method, [@params...]] to @out, with the
 * client's next msgid, which *ret_msgid gets. Sends nothing. Returns 0;
 * AGORA_EINVAL for params that cannot be packed or AGORA_ENOMEM, with @out
 * as it was and the msgid not used.
 */
int ag_client_pack(agora_client *c, ag_buf *out, const char *method,
		   const agora_value *params, size_t nparams,
		   uint32_t *ret_msgid);

/* Send @len bytes: 0, or AGORA_EIO (the client is then broken). Blocks
 * until the kernel took them all. */
int ag_client_send(agora_client *c, const void *data, size_t len);

/*
 * Read the next response, whichever request it answers (notifications are
 * skipped): its msgid, the error array or NULL, and the result, pointing
 * into the client's reader until the next read on @c. Returns 0, or
 * AGORA_EIO, AGORA_EPROTOCOL or AGORA_ENOMEM, which break the client.
 * Blocks until a response arrives.
 */
int ag_client_read_any(agora_client *c, uint32_t *ret_msgid,
		       const msgpack_object **ret_error,
		       const msgpack_object **ret_result);

/* Break @c for good, as a transport failure does, because of @why (for a
 * response nobody asked for). Returns @rc. */
int ag_client_lost(agora_client *c, int rc, const char *why);

/* The negative code of the error array @err, its message set on @c; a
 * PROTOCOL error also breaks @c, as the server closes the connection. */
int ag_client_response_error(agora_client *c, const msgpack_object *err);

#endif
