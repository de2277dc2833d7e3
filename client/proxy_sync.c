/*
 * proxy_sync.c - agora_semaphore, agora_event and agora_barrier: proxies
 * for the counting and signalling objects of the server.
 *
 * One function per method of protocol section 3.1, each one round trip
 * through the ag_proxy helpers (internal.h). A semaphore and a bounded
 * semaphore share the proxy type: its ag_proxy remembers the wire type it
 * was opened as, and that names its methods ("bounded_semaphore.acquire").
 * Blocking calls (acquire, wait) are parked in the server, not here.
 */
#include <stdlib.h>

#include "internal.h"

struct agora_semaphore {
	ag_proxy p;
};

struct agora_event {
	ag_proxy p;
};

struct agora_barrier {
	ag_proxy p;
};

/* ---- semaphore and bounded semaphore ------------------------------------- */

static int semaphore_open(agora_client *c, const char *type, const char *name,
			  int64_t value, bool owned, agora_semaphore **ret)
{
	agora_pair opts[2];

	opts[0].key = agora_str("value");
	opts[0].val = agora_int(value);
	opts[1].key = agora_str("owned");
	opts[1].val = agora_bool(owned);
	return ag_proxy_open(c, ret, sizeof(**ret), type, name, opts, 2);
}

/*
 * Open the semaphore @name (get-or-create), or a new anonymous one for
 * NULL, with @value permits and, when @owned, the give-back of a dead
 * client's permits; both are used only at creation (a negative @value is
 * AGORA_EVALUE). AGORA_ETYPE when @name is another type, a bounded
 * semaphore included.
 */
int agora_semaphore_open(agora_client *c, const char *name, int64_t value,
			 bool owned, agora_semaphore **ret)
{
	return semaphore_open(c, "semaphore", name, value, owned, ret);
}

/* agora_semaphore_open() for a bounded semaphore, whose bound is @value. */
int agora_bounded_semaphore_open(agora_client *c, const char *name,
				 int64_t value, bool owned,
				 agora_semaphore **ret)
{
	return semaphore_open(c, "bounded_semaphore", name, value, owned, ret);
}

/*
 * A proxy for the semaphore or bounded semaphore @ref names, opened as the
 * one it is: AGORA_ETYPE when it is neither, AGORA_ENO_OBJECT when it is
 * gone. A reference does not say which, so this asks for a semaphore, then
 * for a bounded one: two round trips for a bounded semaphore. Each refusal
 * comes before the server uses up any hold passed to this connection.
 */
int agora_semaphore_open_ref(agora_client *c, const agora_ref *ref,
			     agora_semaphore **ret)
{
	int rc = ag_proxy_open_ref(c, ret, sizeof(**ret), "semaphore", ref);

	if (rc == AGORA_ETYPE)
		rc = ag_proxy_open_ref(c, ret, sizeof(**ret),
				       "bounded_semaphore", ref);
	return rc;
}

int agora_semaphore_close(agora_semaphore *s)
{
	return s != NULL ? ag_proxy_close(&s->p) : 0;
}

uint32_t agora_semaphore_handle(const agora_semaphore *s)
{
	return s != NULL ? s->p.handle : 0;
}

/* The semaphore's reference, as ag_proxy_ref(). */
int agora_semaphore_ref(const agora_semaphore *s, agora_ref *ret)
{
	return s != NULL ? ag_proxy_ref(&s->p, ret) : AGORA_EINVAL;
}

int agora_semaphore_acquire(agora_semaphore *s, double timeout,
			    bool *ret_acquired)
{
	if (s == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_timed(&s->p, "acquire", timeout, true,
				   ret_acquired);
}

/* AGORA_EVALUE for @n < 1, or above the bound of a bounded semaphore;
 * AGORA_ENOT_OWNER, for an owned semaphore, above the permits this client
 * holds. Either way no permit is given back. */
int agora_semaphore_release(agora_semaphore *s, int64_t n)
{
	agora_value a;

	if (s == NULL)
		return AGORA_EINVAL;
	a = agora_int(n);
	return ag_proxy_call_value(&s->p, "release", &a, 1, NULL);
}

int agora_semaphore_value(agora_semaphore *s, int64_t *ret)
{
	if (s == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&s->p, "value");
	return ag_proxy_call_int(&s->p, "value", NULL, 0, ret);
}

/* ---- event --------------------------------------------------------------- */

/* Open the event @name (get-or-create, clear when new), or a new
 * anonymous one for NULL. */
int agora_event_open(agora_client *c, const char *name, agora_event **ret)
{
	return ag_proxy_open(c, ret, sizeof(**ret), "event", name, NULL, 0);
}

/* A proxy for the event @ref names: AGORA_ETYPE when it is another type,
 * AGORA_ENO_OBJECT when it is gone. */
int agora_event_open_ref(agora_client *c, const agora_ref *ref,
			 agora_event **ret)
{
	return ag_proxy_open_ref(c, ret, sizeof(**ret), "event", ref);
}

int agora_event_close(agora_event *e)
{
	return e != NULL ? ag_proxy_close(&e->p) : 0;
}

uint32_t agora_event_handle(const agora_event *e)
{
	return e != NULL ? e->p.handle : 0;
}

/* The event's reference, as ag_proxy_ref(). */
int agora_event_ref(const agora_event *e, agora_ref *ret)
{
	return e != NULL ? ag_proxy_ref(&e->p, ret) : AGORA_EINVAL;
}

int agora_event_set(agora_event *e)
{
	if (e == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&e->p, "set", NULL, 0, NULL);
}

int agora_event_clear(agora_event *e)
{
	if (e == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&e->p, "clear", NULL, 0, NULL);
}

int agora_event_is_set(agora_event *e, bool *ret)
{
	if (e == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&e->p, "is_set");
	return ag_proxy_call_bool(&e->p, "is_set", NULL, 0, ret);
}

int agora_event_wait(agora_event *e, double timeout, bool *ret_set)
{
	if (e == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_timed(&e->p, "wait", timeout, false, ret_set);
}

/* ---- barrier ------------------------------------------------------------- */

/* Open the barrier @name (get-or-create), or a new anonymous one for NULL;
 * @parties is required at creation (AGORA_EVALUE when below 1). */
int agora_barrier_open(agora_client *c, const char *name, int64_t parties,
		       agora_barrier **ret)
{
	agora_pair opt;

	opt.key = agora_str("parties");
	opt.val = agora_int(parties);
	return ag_proxy_open(c, ret, sizeof(**ret), "barrier", name, &opt, 1);
}

/* A proxy for the barrier @ref names: AGORA_ETYPE when it is another type,
 * AGORA_ENO_OBJECT when it is gone. */
int agora_barrier_open_ref(agora_client *c, const agora_ref *ref,
			   agora_barrier **ret)
{
	return ag_proxy_open_ref(c, ret, sizeof(**ret), "barrier", ref);
}

int agora_barrier_close(agora_barrier *b)
{
	return b != NULL ? ag_proxy_close(&b->p) : 0;
}

uint32_t agora_barrier_handle(const agora_barrier *b)
{
	return b != NULL ? b->p.handle : 0;
}

/* The barrier's reference, as ag_proxy_ref(). */
int agora_barrier_ref(const agora_barrier *b, agora_ref *ret)
{
	return b != NULL ? ag_proxy_ref(&b->p, ret) : AGORA_EINVAL;
}

int agora_barrier_wait(agora_barrier *b, double timeout, int64_t *ret_index)
{
	agora_value a;
	int n;

	if (b == NULL)
		return AGORA_EINVAL;
	n = ag_proxy_timeout(&b->p, "wait", timeout, false, &a);
	if (n < 0)
		return n;
	return ag_proxy_call_int(&b->p, "wait", &a, (size_t)n, ret_index);
}

/* Break the barrier for its waiters (AGORA_EBROKEN) and make it whole. */
int agora_barrier_reset(agora_barrier *b)
{
	if (b == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&b->p, "reset", NULL, 0, NULL);
}

/* Break the barrier for good, until a reset. */
int agora_barrier_abort(agora_barrier *b)
{
	if (b == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&b->p, "abort", NULL, 0, NULL);
}

int agora_barrier_parties(agora_barrier *b, int64_t *ret)
{
	if (b == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&b->p, "parties");
	return ag_proxy_call_int(&b->p, "parties", NULL, 0, ret);
}

int agora_barrier_n_waiting(agora_barrier *b, int64_t *ret)
{
	if (b == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&b->p, "n_waiting");
	return ag_proxy_call_int(&b->p, "n_waiting", NULL, 0, ret);
}

int agora_barrier_broken(agora_barrier *b, bool *ret)
{
	if (b == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&b->p, "broken");
	return ag_proxy_call_bool(&b->p, "broken", NULL, 0, ret);
}
