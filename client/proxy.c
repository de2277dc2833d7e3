/*
 * proxy.c - ag_proxy: what every proxy type shares (internal.h). Opening a
 * proxy by name ("open", calls.c) or by reference ("open_ref", refs.c),
 * closing it, its reference, and a method call "TYPE.METHOD" [handle,
 * args...] with the typed results the proxy_<type>.c files return.
 *
 * Each proxy_<type>.c is a thin layer over these: one function per method,
 * one ag_proxy_call*() each. The wire type kept in the proxy names the
 * method, so types that share methods (queue and joinable_queue, a
 * semaphore and a bounded one) share the code too.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- results a caller asked for as a C type ------------------------------ */

/* The integer in @o, the data a caller asked for by name: AGORA_ETYPE with
 * a message naming @what when @o is not an integer, AGORA_EVALUE when it
 * does not fit int64_t. */
static int obj_int(agora_client *c, const msgpack_object *o, const char *what,
		   int64_t *ret)
{
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*ret = o->via.i64;
		return 0;
	}
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return ag_client_fail(c, AGORA_ETYPE, "%s is %s, not an int",
				      what, ag_obj_type_name(o));
	if (o->via.u64 > INT64_MAX)
		return ag_client_fail(c, AGORA_EVALUE,
				      "%s is %" PRIu64 ", too large for int64",
				      what, o->via.u64);
	*ret = (int64_t)o->via.u64;
	return 0;
}

/* The str in @o as a malloc'ed NUL-terminated copy: AGORA_ETYPE when @o is
 * not a str, AGORA_ENOMEM. */
static int obj_str(agora_client *c, const msgpack_object *o, const char *what,
		   char **ret)
{
	char *s;

	if (o->type != MSGPACK_OBJECT_STR)
		return ag_client_fail(c, AGORA_ETYPE, "%s is %s, not a str",
				      what, ag_obj_type_name(o));
	s = malloc((size_t)o->via.str.size + 1);
	if (s == NULL)
		return ag_client_fail(c, AGORA_ENOMEM,
				      "out of memory copying %s", what);
	if (o->via.str.size > 0)
		memcpy(s, o->via.str.ptr, o->via.str.size);
	s[o->via.str.size] = '\0';
	*ret = s;
	return 0;
}

/* ---- ag_proxy ------------------------------------------------------------ */

int ag_proxy_open_failed(agora_client *c, void *ret_proxy, int rc)
{
	void *none = NULL;

	if (c != NULL && c->sticky && ret_proxy != NULL)
		memcpy(ret_proxy, &none, sizeof(none));
	return rc;
}

/*
 * The proxy for a new handle of @type: opened by @ref ("open_ref") when it
 * is not NULL, else by @name and @opts ("open"). As ag_proxy_open().
 */
static int proxy_new(agora_client *c, void *ret_proxy, size_t size,
		     const char *type, const char *name, const agora_pair *opts,
		     size_t nopts, const agora_ref *ref)
{
	ag_proxy *p;
	int rc;

	if (c == NULL)
		return AGORA_EINVAL;
	if (ret_proxy == NULL || size < sizeof(*p))
		return ag_client_fail(c, AGORA_EINVAL, "open %s needs a result",
				      type);
	if (ag_client_latched(c) < 0)
		return ag_proxy_open_failed(c, ret_proxy, ag_client_latched(c));
	p = calloc(1, size);
	if (p == NULL)
		return ag_proxy_open_failed(
		    c, ret_proxy,
		    ag_client_fail(c, AGORA_ENOMEM, "out of memory"));
	if (ref != NULL)
		rc = ag_client_open_ref(c, type, ref, &p->handle);
	else
		rc = ag_client_open(c, type, name, opts, nopts, &p->handle);
	if (rc < 0) {
		free(p);
		return ag_proxy_open_failed(c, ret_proxy, rc);
	}
	p->c = c;
	p->type = type;
	/* Kept as the server read it, from its bytes: ref->id could differ in
	 * a reference built by hand. A well-formed ext 1 always decodes. */
	if (ref != NULL)
		(void)agora_ref_from_value(agora_ref_value(ref), &p->ref);
	p->opts = agora_nil();
	if (name != NULL &&
	    ((p->name = strdup(name)) == NULL ||
	     (nopts > 0 &&
	      agora_value_copy(agora_map((agora_pair *)opts, nopts), &p->opts) <
		  0))) {
		/* The handle is open: close it, as the caller cannot. */
		ag_proxy_close(p);
		return ag_client_fail(c, AGORA_ENOMEM, "out of memory");
	}
	p->next = c->proxies;
	if (p->next != NULL)
		p->next->pprev = &p->next;
	p->pprev = &c->proxies;
	c->proxies = p;
	memcpy(ret_proxy, &p, sizeof(p));
	return 0;
}

int ag_proxy_open(agora_client *c, void *ret_proxy, size_t size,
		  const char *type, const char *name, const agora_pair *opts,
		  size_t nopts)
{
	return proxy_new(c, ret_proxy, size, type, name, opts, nopts, NULL);
}

int ag_proxy_open_ref(agora_client *c, void *ret_proxy, size_t size,
		      const char *type, const agora_ref *ref)
{
	if (c != NULL && ref == NULL)
		return ag_proxy_open_failed(
		    c, ret_proxy,
		    ag_client_fail(c, AGORA_EINVAL,
				   "open_ref %s needs a reference", type));
	return proxy_new(c, ret_proxy, size, type, NULL, NULL, 0, ref);
}

int ag_proxy_close(ag_proxy *p)
{
	agora_value h;
	const msgpack_object *o;
	int rc;

	if (p == NULL)
		return 0;
	if (p->pprev != NULL) {
		*p->pprev = p->next;
		if (p->next != NULL)
			p->next->pprev = p->pprev;
	}
	if (p->lost != NULL) {
		/* Its handle ended with the connection it was opened on. */
		rc = 0;
	} else {
		p->closing = true;
		p->c->call_proxy = p;
		h = agora_uint(p->handle);
		rc = ag_client_call(p->c, "close", &h, 1, &o);
	}
	free(p->name);
	free(p->lost);
	agora_value_free(&p->opts);
	free(p);
	return rc;
}

int ag_proxy_ref(const ag_proxy *p, agora_ref *ret)
{
	if (p->ref.id == 0)
		return agora_ref_of(p->c, p->handle, ret);
	if (ret == NULL)
		return ag_client_fail(p->c, AGORA_EINVAL,
				      "%s ref needs a result", p->type);
	*ret = p->ref;
	return 0;
}

/* A proxy's request: "TYPE.METHOD" and [handle, args...]. */
struct proxy_req {
	char method[48];
	agora_value params[1 + AG_PROXY_MAX_ARGS];
	size_t nparams;
};

static int proxy_req(const ag_proxy *p, const char *method,
		     const agora_value *args, size_t nargs, struct proxy_req *r)
{
	int n =
	    snprintf(r->method, sizeof(r->method), "%s.%s", p->type, method);

	if (n < 0 || (size_t)n >= sizeof(r->method) ||
	    nargs > AG_PROXY_MAX_ARGS || (nargs > 0 && args == NULL))
		return ag_client_fail(p->c, AGORA_EINVAL,
				      "%s.%s: bad method or params", p->type,
				      method);
	if (p->lost != NULL)
		return ag_client_fail(p->c, AGORA_ENO_OBJECT, "%s.%s: %s",
				      p->type, method, p->lost);
	r->params[0] = agora_uint(p->handle);
	if (nargs > 0)
		memcpy(&r->params[1], args, nargs * sizeof(*args));
	r->nparams = 1 + nargs;
	p->c->call_proxy = p;
	return 0;
}

/*
 * A proxy knows whether its call waits: ag_proxy_timeout() said how long,
 * or it does not wait at all. Tell ag_client_call(), which bounds the call
 * by that plus the peer timeout; a call that will not be made (@rc < 0)
 * leaves nothing behind for the next one.
 */
static void known_wait(const ag_proxy *p, int rc)
{
	if (rc < 0)
		p->c->wait = NAN;
	else if (isnan(p->c->wait))
		p->c->wait = 0;
}

int ag_proxy_call(const ag_proxy *p, const char *method,
		  const agora_value *args, size_t nargs,
		  const msgpack_object **ret_result)
{
	struct proxy_req r;
	int rc = proxy_req(p, method, args, nargs, &r);

	known_wait(p, rc);
	if (rc < 0)
		return rc;
	return ag_client_call(p->c, r.method, r.params, r.nparams, ret_result);
}

/* ag_client_call_as() of "TYPE.@method" [handle, @args...] for @p. */
static int proxy_call_as(const ag_proxy *p, const char *method,
			 const agora_value *args, size_t nargs,
			 enum ag_result kind, void *ret)
{
	struct proxy_req r;
	int rc = proxy_req(p, method, args, nargs, &r);

	known_wait(p, rc);
	if (rc < 0)
		return rc;
	return ag_client_call_as(p->c, r.method, r.params, r.nparams, kind,
				 ret);
}

int ag_proxy_call_value(const ag_proxy *p, const char *method,
			const agora_value *args, size_t nargs, agora_value *ret)
{
	return proxy_call_as(p, method, args, nargs, AG_RESULT_VALUE, ret);
}

int ag_proxy_call_bool(const ag_proxy *p, const char *method,
		       const agora_value *args, size_t nargs, bool *ret)
{
	return proxy_call_as(p, method, args, nargs, AG_RESULT_BOOL, ret);
}

int ag_proxy_call_int(const ag_proxy *p, const char *method,
		      const agora_value *args, size_t nargs, int64_t *ret)
{
	return proxy_call_as(p, method, args, nargs, AG_RESULT_INT, ret);
}

int ag_proxy_call_size(const ag_proxy *p, const char *method,
		       const agora_value *args, size_t nargs, size_t *ret)
{
	return proxy_call_as(p, method, args, nargs, AG_RESULT_SIZE, ret);
}

/*
 * The result of a call that removed it (@what) was not what the caller
 * asked for (@rc, from obj_int() or obj_str(), with the message set): keep
 * it for agora_client_take_item(), and say so in the message.
 */
static int keep_removed(const ag_proxy *p, const msgpack_object *o, int rc)
{
	agora_client *c = p->c;
	size_t n = strlen(c->errmsg);
	agora_value v;

	if (ag_value_unpack(o, &v) < 0 || ag_client_keep(c, v) < 0)
		return ag_client_fail(c, AGORA_ENOMEM,
				      "out of memory keeping the removed item "
				      "of another type: it is lost");
	snprintf(c->errmsg + n, sizeof(c->errmsg) - n,
		 "; it was removed and is kept: take it with "
		 "agora_client_take_item()");
	return ag_client_note(c, rc);
}

/* ag_proxy_call_as_int() and _str(); @removes: the call removed the item
 * (keep_removed() on a mismatch). */
static int call_as_int(const ag_proxy *p, const char *method,
		       const agora_value *args, size_t nargs, const char *what,
		       bool removes, int64_t *ret)
{
	const msgpack_object *o;
	int64_t n = 0; /* obj_int() writes it on 0; GCC cannot see that */
	int rc;

	rc = ag_proxy_call(p, method, args, nargs, &o);
	if (rc < 0)
		return rc;
	/* Noted (sticky mode) once the message says where the item is. */
	p->c->sticky_hold += removes;
	rc = obj_int(p->c, o, what, &n);
	p->c->sticky_hold -= removes;
	if (rc < 0)
		return removes ? keep_removed(p, o, rc) : rc;
	if (ret != NULL)
		*ret = n;
	return 0;
}

static int call_as_str(const ag_proxy *p, const char *method,
		       const agora_value *args, size_t nargs, const char *what,
		       bool removes, char **ret)
{
	const msgpack_object *o;
	int rc;

	rc = ag_proxy_call(p, method, args, nargs, &o);
	if (rc < 0)
		return rc;
	p->c->sticky_hold += removes;
	rc = obj_str(p->c, o, what, ret);
	p->c->sticky_hold -= removes;
	if (rc < 0 && rc != AGORA_ENOMEM && removes)
		return keep_removed(p, o, rc);
	return removes ? ag_client_note(p->c, rc) : rc;
}

int ag_proxy_call_as_int(const ag_proxy *p, const char *method,
			 const agora_value *args, size_t nargs,
			 const char *what, int64_t *ret)
{
	return call_as_int(p, method, args, nargs, what, false, ret);
}

int ag_proxy_call_as_str(const ag_proxy *p, const char *method,
			 const agora_value *args, size_t nargs,
			 const char *what, char **ret)
{
	return call_as_str(p, method, args, nargs, what, false, ret);
}

int ag_proxy_take_as_int(const ag_proxy *p, const char *method,
			 const agora_value *args, size_t nargs,
			 const char *what, int64_t *ret)
{
	return call_as_int(p, method, args, nargs, what, true, ret);
}

int ag_proxy_take_as_str(const ag_proxy *p, const char *method,
			 const agora_value *args, size_t nargs,
			 const char *what, char **ret)
{
	return call_as_str(p, method, args, nargs, what, true, ret);
}

int ag_proxy_timeout(const ag_proxy *p, const char *method, double timeout,
		     bool block, agora_value *out)
{
	bool forever = timeout < 0 || isinf(timeout);
	int n = 0;

	if (isnan(timeout))
		return ag_client_fail(p->c, AGORA_EINVAL,
				      "%s.%s: the timeout is NaN", p->type,
				      method);
	p->c->wait = forever ? INFINITY : timeout;
	if (block) {
		out[n++] = agora_bool(timeout != 0);
		if (timeout == 0)
			return n;
	}
	out[n++] = forever ? agora_nil() : agora_float(timeout);
	return n;
}

int ag_proxy_call_timed(const ag_proxy *p, const char *method, double timeout,
			bool block, bool *ret)
{
	agora_value args[2];
	int n = ag_proxy_timeout(p, method, timeout, block, args);

	if (n < 0)
		return n;
	return ag_proxy_call_bool(p, method, args, (size_t)n, ret);
}

int ag_proxy_no_result(const ag_proxy *p, const char *method)
{
	return ag_client_fail(p->c, AGORA_EINVAL, "%s.%s needs a result",
			      p->type, method);
}

/* ---- what every type has, generated from AGORA_TYPES --------------------- */

/* Each row's wire name and proxy type, in the list's order. */
static const struct {
	const char *wire, *ctype;
} types[] = {
#define ROW_(wire, ctype, proxy) { #wire, #ctype },
	AGORA_TYPES(ROW_)
#undef ROW_
};

/*
 * ag_proxy_open_ref() for a proxy of the C type @ctype: each row of that
 * type is asked for in turn, since a reference does not say which it
 * names, until one is not AGORA_ETYPE. Each refusal comes before the
 * server uses up any hold passed to this connection. In sticky mode only
 * the last answer can latch: a refused row is a question, not a failure.
 */
static int open_ref_any(agora_client *c, void *ret_proxy, size_t size,
			const char *ctype, const agora_ref *ref)
{
	int rc = AGORA_ETYPE;

	if (c == NULL)
		return AGORA_EINVAL;
	c->sticky_hold++;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (strcmp(types[i].ctype, ctype) != 0)
			continue;
		rc = ag_proxy_open_ref(c, ret_proxy, size, types[i].wire, ref);
		if (rc != AGORA_ETYPE)
			break;
	}
	c->sticky_hold--;
	return rc < 0
		   ? ag_proxy_open_failed(c, ret_proxy, ag_client_note(c, rc))
		   : rc;
}

/* The four functions of include/agora.h's AGORA_TYPES, for each OWN row. */
#define DEFINE_OWN_(ctype)                                                  \
	int ctype##_open_ref(agora_client *c, const agora_ref *ref,         \
			     struct ctype **ret)                            \
	{                                                                   \
		return open_ref_any(c, ret, sizeof(**ret), #ctype, ref);    \
	}                                                                   \
	int ctype##_close(struct ctype *x)                                  \
	{                                                                   \
		return x != NULL ? ag_proxy_close(&x->p) : 0;               \
	}                                                                   \
	uint32_t ctype##_handle(const struct ctype *x)                      \
	{                                                                   \
		return x != NULL ? x->p.handle : 0;                         \
	}                                                                   \
	int ctype##_ref(const struct ctype *x, agora_ref *ret)              \
	{                                                                   \
		return x != NULL ? ag_proxy_ref(&x->p, ret) : AGORA_EINVAL; \
	}
#define DEFINE_SHARED_(ctype)
#define DEFINE_(wire, ctype, proxy) DEFINE_##proxy##_(ctype)
AGORA_TYPES(DEFINE_)
#undef DEFINE_

/*
 * The generic open, for open's own options: @flags become create=false
 * and exclusive=true, after the caller's @opts. The type is looked up in
 * the list so that the proxy keeps a string of static storage. The server
 * judges the flags it is sent (ARGS for a nil name with create=false, or
 * both), so that there is one rule, the protocol's.
 */
int agora_open_ex(agora_client *c, const char *type, const char *name,
		  const agora_pair *opts, size_t nopts, unsigned flags,
		  void *ret_proxy)
{
	const char *wire = NULL;
	agora_pair *all = NULL;
	size_t n = nopts;
	int rc;

	if (c == NULL)
		return AGORA_EINVAL;
	for (size_t i = 0; type != NULL && i < sizeof(types) / sizeof(types[0]);
	     i++)
		if (strcmp(types[i].wire, type) == 0)
			wire = types[i].wire;
	if (wire == NULL)
		rc = ag_client_fail(c, AGORA_EINVAL, "open: unknown type %s",
				    type != NULL ? type : "(NULL)");
	else if (flags & ~(AGORA_OPEN_NO_CREATE | AGORA_OPEN_EXCLUSIVE |
			   AGORA_OPEN_EPHEMERAL))
		rc = ag_client_fail(c, AGORA_EINVAL,
				    "open %s: unknown flags %#x", wire, flags);
	else if (opts == NULL && nopts > 0)
		rc = ag_client_fail(c, AGORA_EINVAL, "open %s: NULL options",
				    wire);
	else if ((all = calloc(nopts + 3, sizeof(*all))) == NULL)
		rc = ag_client_fail(c, AGORA_ENOMEM, "out of memory");
	else
		rc = 0;
	if (rc < 0)
		return ag_proxy_open_failed(c, ret_proxy, rc);
	if (nopts > 0)
		memcpy(all, opts, nopts * sizeof(*opts));
	if (flags & AGORA_OPEN_NO_CREATE) {
		all[n].key = agora_str("create");
		all[n++].val = agora_bool(false);
	}
	if (flags & AGORA_OPEN_EXCLUSIVE) {
		all[n].key = agora_str("exclusive");
		all[n++].val = agora_bool(true);
	}
	if (flags & AGORA_OPEN_EPHEMERAL) {
		all[n].key = agora_str("ephemeral");
		all[n++].val = agora_bool(true);
	}
	rc = ag_proxy_open(c, ret_proxy, sizeof(ag_proxy), wire, name, all, n);
	free(all);
	return rc;
}
