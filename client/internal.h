/*
 * internal.h - what libagora's files share. Never installed.
 *
 * client.c owns the connection: it packs a request from an array of
 * agora_value params, sends it, reads until the response with the same msgid
 * arrives and hands back the result as a msgpack_object that points into the
 * client's reader (valid until the next call on that client). value.c turns
 * agora_value into MessagePack and back. Each proxy_<family>.c is a thin
 * layer: one function per method, each one round trip through
 * ag_client_call() and one of the result helpers below.
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

/* ag_client_call() with the result decoded into an owned value in *ret
 * (free it with agora_value_free()), or discarded when @ret is NULL. */
int ag_client_call_value(agora_client *c, const char *method,
			 const agora_value *params, size_t nparams,
			 agora_value *ret);

/* ag_client_call() for methods whose result must be a bool, an integer or a
 * non-negative integer; a result of another kind is AGORA_EPROTOCOL (the
 * client stays usable). @ret may be NULL to discard. */
int ag_client_call_bool(agora_client *c, const char *method,
			const agora_value *params, size_t nparams, bool *ret);
int ag_client_call_int(agora_client *c, const char *method,
		       const agora_value *params, size_t nparams, int64_t *ret);
int ag_client_call_size(agora_client *c, const char *method,
			const agora_value *params, size_t nparams, size_t *ret);

/*
 * The integer in @o for a caller that asked for one (agora_*_get_int()):
 * AGORA_ETYPE with a message naming @what when @o is not an integer,
 * AGORA_EVALUE when it does not fit int64_t.
 */
int ag_client_obj_int(agora_client *c, const msgpack_object *o,
		      const char *what, int64_t *ret);
/* The str in @o as a malloc'ed NUL-terminated copy: AGORA_ETYPE when @o is
 * not a str, AGORA_ENOMEM. */
int ag_client_obj_str(agora_client *c, const msgpack_object *o,
		      const char *what, char **ret);

/*
 * "open" [@type, @name or nil, {@opts}]: the new handle in *ret_handle.
 * @opts may be NULL when @nopts is 0.
 */
int ag_client_open(agora_client *c, const char *type, const char *name,
		   const agora_pair *opts, size_t nopts, uint32_t *ret_handle);

/*
 * "close" [@handle]. Sends nothing, and returns AGORA_EINVAL, when @c
 * belongs to another process; AGORA_EIO when @c is broken. The caller frees
 * its proxy whatever this returns.
 */
int ag_client_close_handle(agora_client *c, uint32_t handle);

/* A slice or index bound: AGORA_END travels as nil. */
static inline agora_value ag_bound(int64_t i)
{
	return i == AGORA_END ? agora_nil() : agora_int(i);
}

/* ---- proxies (client.c) -------------------------------------------------
 *
 * The proxies of the synchronisation types, joinable queues, arrays and
 * namespaces (protocol section 3.1) share their plumbing through these: each
 * public struct begins with an ag_proxy, and each method is one
 * ag_proxy_call*() that names the method without its type and passes only its
 * own params.
 */

/* What every such proxy begins with. */
typedef struct ag_proxy {
	agora_client *c;
	uint32_t handle;
	const char *type; /* the wire type opened as, static storage */
} ag_proxy;

/* Most params a method takes after the handle. */
#define AG_PROXY_MAX_ARGS 3

/*
 * Open [@type, @name or nil, {@opts}] and make a proxy for it: @size zeroed
 * bytes (a struct that begins with an ag_proxy) that remember @c, the new
 * handle and @type (kept as a pointer: a string literal). @ret_proxy is the
 * public open's `struct agora_X **ret`, written with the proxy's address on
 * success only (pointers to structs share one representation, C11 6.2.5).
 * Returns 0; AGORA_EINVAL for a NULL @c or @ret_proxy; AGORA_ENOMEM; else as
 * ag_client_open(). Blocks for one round trip.
 */
int ag_proxy_open(agora_client *c, void *ret_proxy, size_t size,
		  const char *type, const char *name, const agora_pair *opts,
		  size_t nopts);

/* "close" the handle and free the proxy that begins with @p, whatever the
 * call returns (as ag_client_close_handle()). Accepts NULL (returns 0). */
int ag_proxy_close(ag_proxy *p);

/*
 * Call "TYPE.@method" with [handle, @args...] for @p: ag_client_call() and
 * its typed variants, with the same returns; AGORA_EINVAL for more than
 * AG_PROXY_MAX_ARGS @args or a method name that does not fit.
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

/* ---- refs.c -------------------------------------------------------------- */

/* "open_ref" [@ref, @type or nil]: a handle for the referenced object,
 * AGORA_ETYPE when @type is given and the object is another type. */
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

#endif
