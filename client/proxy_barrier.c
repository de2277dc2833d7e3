/*
 * proxy_barrier.c - agora_barrier: a proxy for a barrier in the server
 * (server/obj_barrier.c), Python's threading.Barrier.
 *
 * One function per method of protocol section 3.1, each one round trip
 * through the ag_proxy helpers (internal.h). wait is parked in the server,
 * not here.
 */
#include <stdlib.h>

#include "internal.h"

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
