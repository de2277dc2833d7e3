/*
 * agora.h - libagora, the client library of Agora.
 *
 * A client is one authenticated connection to an Agora server. Proxies
 * (agora_list, agora_dict, agora_queue, agora_var) are handles to shared
 * objects that live in the server; each call is one round trip.
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
 *     wait, more waits that long.
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
void agora_value_free(agora_value *v);
/* Deep copy into library-owned memory (free with agora_value_free()). */
int agora_value_copy(agora_value v, agora_value *ret);
/* Section 5 equality: 1 == uint 1, 1 != 1.0, str != bin. */
bool agora_value_equal(agora_value a, agora_value b);
/* The integer in @v (INT, or UINT that fits): 0, or AGORA_ETYPE/EVALUE. */
int agora_value_to_int(agora_value v, int64_t *ret);
/* Write @v as JSON-like text into @buf (NUL-terminated, truncated). Returns
 * the length the whole text needs, as snprintf. */
size_t agora_value_format(agora_value v, char *buf, size_t len);

/* ---- errors ----------------------------------------------------------------
 */

/* "queue empty" for AGORA_EEMPTY. Never NULL. */
const char *agora_strerror(int rc);
/* The wire name, "EMPTY" for AGORA_EEMPTY. Never NULL. */
const char *agora_errname(int rc);

/* ---- the client ------------------------------------------------------------
 */

typedef struct agora_client agora_client;

/* A new, unconnected client. NULL only when out of memory. */
agora_client *agora_client_new(void);
/*
 * Connect to @address ("unix:/path" or "tcp:HOST:PORT") and do the mutual
 * handshake with the authkey @key. Fails with AGORA_EIO for an unreachable
 * address, AGORA_EAUTH for a wrong key or a server that does not hold it;
 * agora_errmsg() says which. Blocks until done.
 */
int agora_client_connect(agora_client *c, const char *address, const void *key,
			 size_t keylen);
/*
 * Connect from the environment: AGORA_ADDRESS, and the key from
 * AGORA_AUTHKEY_FILE (the file's bytes less one trailing newline) or
 * AGORA_AUTHKEY (the variable's bytes). AGORA_EINVAL when they are unset.
 */
int agora_client_connect_env(agora_client *c);
/* Close the connection (if any) and free @c. Proxies of @c must be closed
 * first or never used again. Accepts NULL. */
void agora_client_free(agora_client *c);
/* The last error's sentence ("" when none). Lives until the next call. */
const char *agora_errmsg(const agora_client *c);
/* The server's version string from the handshake ("agora/0.1.0"). */
const char *agora_server_version(const agora_client *c);

/*
 * Any call by name: @params is an array value. *ret gets the result (free
 * it). Errors come back as negative codes with the server's message.
 */
int agora_call(agora_client *c, const char *method, agora_value params,
	       agora_value *ret);
/* ping [v]: the server echoes @v. */
int agora_ping(agora_client *c);
/* stats: a map (connections, objects, requests, waiters, memory). */
int agora_stats(agora_client *c, agora_value *ret);
/* ls: an array of {"name", "type", "len"} for named objects. */
int agora_ls(agora_client *c, agora_value *ret);
/* drop NAME: remove the name; *ret_existed tells whether there was one
 * (may be NULL). Open handles go on working. */
int agora_drop(agora_client *c, const char *name, bool *ret_existed);
/* info on an open handle (agora_*_handle()). */
int agora_info(agora_client *c, uint32_t handle, agora_value *ret);

/* ---- list ------------------------------------------------------------------
 */

typedef struct agora_list agora_list;

/* Open (get-or-create) the list @name, or a new anonymous list for NULL. */
int agora_list_open(agora_client *c, const char *name, agora_list **ret);
/* Release the handle and free the proxy. Accepts NULL. */
int agora_list_close(agora_list *l);
uint32_t agora_list_handle(const agora_list *l);
int agora_list_append(agora_list *l, agora_value v);
int agora_list_extend(agora_list *l, const agora_value *items, size_t n);
int agora_list_insert(agora_list *l, int64_t i, agora_value v);
int agora_list_get(agora_list *l, int64_t i, agora_value *ret);
int agora_list_get_int(agora_list *l, int64_t i, int64_t *ret);
int agora_list_set(agora_list *l, int64_t i, agora_value v);
int agora_list_delete(agora_list *l, int64_t i);
/* l[start:stop:step]; AGORA_END for an open bound. *ret is an array. */
int agora_list_slice(agora_list *l, int64_t start, int64_t stop, int64_t step,
		     agora_value *ret);
int agora_list_set_slice(agora_list *l, int64_t start, int64_t stop,
			 const agora_value *items, size_t n);
int agora_list_del_slice(agora_list *l, int64_t start, int64_t stop);
/* pop(i); -1 is the last. */
int agora_list_pop(agora_list *l, int64_t i, agora_value *ret);
int agora_list_remove(agora_list *l, agora_value v);
/* index(v, start, stop): AGORA_END for stop open. */
int agora_list_index(agora_list *l, agora_value v, int64_t start, int64_t stop,
		     int64_t *ret);
int agora_list_count(agora_list *l, agora_value v, int64_t *ret);
int agora_list_contains(agora_list *l, agora_value v, bool *ret);
int agora_list_len(agora_list *l, size_t *ret);
int agora_list_reverse(agora_list *l);
int agora_list_sort(agora_list *l, bool reverse);
int agora_list_clear(agora_list *l);
int agora_list_copy(agora_list *l, agora_value *ret);

/* ---- dict ------------------------------------------------------------------
 */

typedef struct agora_dict agora_dict;

int agora_dict_open(agora_client *c, const char *name, agora_dict **ret);
int agora_dict_close(agora_dict *d);
uint32_t agora_dict_handle(const agora_dict *d);
/* d[k]: AGORA_EKEY when missing (method getitem). */
int agora_dict_get(agora_dict *d, agora_value k, agora_value *ret);
/* d.get(k, dflt): @dflt when missing (method get). */
int agora_dict_get_default(agora_dict *d, agora_value k, agora_value dflt,
			   agora_value *ret);
int agora_dict_get_int(agora_dict *d, agora_value k, int64_t *ret);
/* The str value of d[k], malloc'ed and NUL-terminated; AGORA_ETYPE if the
 * value is not a str. */
int agora_dict_get_str(agora_dict *d, agora_value k, char **ret);
int agora_dict_set(agora_dict *d, agora_value k, agora_value v);
int agora_dict_delete(agora_dict *d, agora_value k);
int agora_dict_contains(agora_dict *d, agora_value k, bool *ret);
int agora_dict_len(agora_dict *d, size_t *ret);
int agora_dict_keys(agora_dict *d, agora_value *ret);
int agora_dict_values(agora_dict *d, agora_value *ret);
/* An array of [k, v] arrays, in insertion order. */
int agora_dict_items(agora_dict *d, agora_value *ret);
/* pop(k): AGORA_EKEY when missing. */
int agora_dict_pop(agora_dict *d, agora_value k, agora_value *ret);
int agora_dict_pop_default(agora_dict *d, agora_value k, agora_value dflt,
			   agora_value *ret);
/* The last inserted pair; AGORA_EKEY when empty. */
int agora_dict_popitem(agora_dict *d, agora_value *ret_key,
		       agora_value *ret_val);
int agora_dict_setdefault(agora_dict *d, agora_value k, agora_value dflt,
			  agora_value *ret);
/* @map is an AGORA_MAP value. */
int agora_dict_update(agora_dict *d, agora_value map);
int agora_dict_clear(agora_dict *d);
/* A map value, in insertion order. */
int agora_dict_copy(agora_dict *d, agora_value *ret);
/* d[k] += delta atomically (a missing key counts as 0); *ret gets the new
 * value (may be NULL). AGORA_ETYPE for a non-number, AGORA_EVALUE on
 * overflow. */
int agora_dict_incr(agora_dict *d, agora_value k, agora_value delta,
		    agora_value *ret);
int agora_dict_incr_int(agora_dict *d, agora_value k, int64_t delta,
			int64_t *ret);

/* ---- queue -----------------------------------------------------------------
 */

typedef struct agora_queue agora_queue;

/* @maxsize 0: unbounded. Used only when the queue is created. */
int agora_queue_open(agora_client *c, const char *name, size_t maxsize,
		     agora_queue **ret);
int agora_queue_close(agora_queue *q);
uint32_t agora_queue_handle(const agora_queue *q);
/* Blocks up to @timeout (AGORA_FOREVER, 0 = do not wait); AGORA_EFULL when
 * the queue stayed full. */
int agora_queue_put(agora_queue *q, agora_value v, double timeout);
/* AGORA_EEMPTY when nothing came within @timeout. */
int agora_queue_get(agora_queue *q, double timeout, agora_value *ret);
int agora_queue_get_int(agora_queue *q, double timeout, int64_t *ret);
int agora_queue_get_str(agora_queue *q, double timeout, char **ret);
int agora_queue_put_nowait(agora_queue *q, agora_value v);
int agora_queue_get_nowait(agora_queue *q, agora_value *ret);
int agora_queue_qsize(agora_queue *q, size_t *ret);
int agora_queue_empty(agora_queue *q, bool *ret);
int agora_queue_full(agora_queue *q, bool *ret);

/* ---- var: the "value" type, one shared value -------------------------------
 */

typedef struct agora_var agora_var;

/* @initial is used only when the value is created. */
int agora_var_open(agora_client *c, const char *name, agora_value initial,
		   agora_var **ret);
int agora_var_close(agora_var *v);
uint32_t agora_var_handle(const agora_var *v);
int agora_var_get(agora_var *v, agora_value *ret);
int agora_var_get_int(agora_var *v, int64_t *ret);
int agora_var_set(agora_var *v, agora_value x);
/* Atomic add; *ret gets the new value (may be NULL). */
int agora_var_add(agora_var *v, agora_value delta, agora_value *ret);
int agora_var_add_int(agora_var *v, int64_t delta, int64_t *ret);
/* Store @desired if the value equals @expected; *ret_swapped says if it did. */
int agora_var_cas(agora_var *v, agora_value expected, agora_value desired,
		  bool *ret_swapped);
/* Store @x and hand back the old value. */
int agora_var_swap(agora_var *v, agora_value x, agora_value *ret_old);

#ifdef __cplusplus
}
#endif

#endif
