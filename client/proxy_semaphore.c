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
