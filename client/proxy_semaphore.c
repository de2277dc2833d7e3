/*
 * proxy_semaphore.c - agora_semaphore: a proxy for a semaphore or a bounded
 * semaphore in the server (server/obj_semaphore.c).
 *
 * One function per method of protocol section 3.1, each one round trip
 * through the ag_proxy helpers (internal.h). A semaphore and a bounded
 * semaphore share the proxy type: its ag_proxy remembers the wire type it
 * was opened as, and that names its methods ("bounded_semaphore.acquire").
 * acquire is parked in the server, not here.
 */
#include <stdlib.h>

#include "internal.h"

struct agora_semaphore {
	ag_proxy p;
};

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
