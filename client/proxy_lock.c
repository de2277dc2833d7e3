/*
 * proxy_lock.c - agora_lock, agora_rlock and agora_condition: proxies for
 * the lock-like objects of the server, and the "with lock:" helpers.
 *
 * The three share their acquire and release: each struct is only an
 * ag_proxy, whose wire type ("lock", "rlock", "condition") names the
 * methods, so the static functions below serve all three and the public
 * ones only check for NULL and pass the proxy on. Ownership lives in the
 * server, keyed by connection; nothing about it is cached here.
 */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

/* ---- shared by lock, rlock and condition --------------------------------- */

static int acquire(const ag_proxy *p, double timeout, bool *ret)
{
	return ag_proxy_call_timed(p, "acquire", timeout, true, ret);
}

/*
 * acquire_fenced of a lock or rlock: the server answers the fencing token
 * (a positive int) when it gave the lock, false on timeout. *ret_acquired
 * and, when acquired, *ret_token are written on 0 only; either may be
 * NULL. Anything else in the answer is AGORA_EPROTOCOL.
 */
static int acquire_fenced(const ag_proxy *p, double timeout, bool *ret_acquired,
			  uint64_t *ret_token)
{
	const msgpack_object *o;
	agora_value args[2];
	char method[40];
	int n, rc;

	n = ag_proxy_timeout(p, "acquire_fenced", timeout, true, args);
	if (n < 0)
		return n;
	rc = ag_proxy_call(p, "acquire_fenced", args, (size_t)n, &o);
	if (rc < 0)
		return rc;
	if (o->type == MSGPACK_OBJECT_BOOLEAN && !o->via.boolean) {
		if (ret_acquired != NULL)
			*ret_acquired = false;
		return 0;
	}
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 == 0) {
		snprintf(method, sizeof(method), "%s.acquire_fenced", p->type);
		return ag_client_bad_result(p->c, method, o,
					    "a token or false");
	}
	if (ret_acquired != NULL)
		*ret_acquired = true;
	if (ret_token != NULL)
		*ret_token = o->via.u64;
	return 0;
}

static int release(const ag_proxy *p)
{
	return ag_proxy_call_value(p, "release", NULL, 0, NULL);
}

static int locked(const ag_proxy *p, bool *ret)
{
	if (ret == NULL)
		return ag_proxy_no_result(p, "locked");
	return ag_proxy_call_bool(p, "locked", NULL, 0, ret);
}

/*
 * Acquire @p forever, run fn(@ud), release whatever fn returned. A release
 * that fails after fn failed is not reported: fn's error says more.
 */
static int with(const ag_proxy *p, int (*fn)(void *ud), void *ud)
{
	int rc, frc;

	if (fn == NULL)
		return ag_client_fail(p->c, AGORA_EINVAL,
				      "%s: with needs a function", p->type);
	rc = acquire(p, AGORA_FOREVER, NULL);
	if (rc < 0)
		return rc;
	frc = fn(ud);
	rc = release(p);
	return frc < 0 ? frc : rc;
}

/* ---- lock ---------------------------------------------------------------- */

/*
 * Open the lock @name (get-or-create), or a new anonymous one for NULL;
 * *ret gets a proxy to close with agora_lock_close(). AGORA_ETYPE when
 * @name is another type; else as any call.
 */
int agora_lock_open(agora_client *c, const char *name, agora_lock **ret)
{
	return ag_proxy_open(c, ret, sizeof(**ret), "lock", name, NULL, 0);
}

int agora_lock_acquire(agora_lock *l, double timeout, bool *ret_acquired)
{
	return l != NULL ? acquire(&l->p, timeout, ret_acquired) : AGORA_EINVAL;
}

int agora_lock_acquire_fenced(agora_lock *l, double timeout, bool *ret_acquired,
			      uint64_t *ret_token)
{
	return l != NULL
		   ? acquire_fenced(&l->p, timeout, ret_acquired, ret_token)
		   : AGORA_EINVAL;
}

int agora_lock_release(agora_lock *l)
{
	return l != NULL ? release(&l->p) : AGORA_EINVAL;
}

int agora_lock_locked(agora_lock *l, bool *ret)
{
	return l != NULL ? locked(&l->p, ret) : AGORA_EINVAL;
}

int agora_lock_with(agora_lock *l, int (*fn)(void *ud), void *ud)
{
	return l != NULL ? with(&l->p, fn, ud) : AGORA_EINVAL;
}

/* ---- rlock --------------------------------------------------------------- */

int agora_rlock_open(agora_client *c, const char *name, agora_rlock **ret)
{
	return ag_proxy_open(c, ret, sizeof(**ret), "rlock", name, NULL, 0);
}

int agora_rlock_acquire(agora_rlock *r, double timeout, bool *ret_acquired)
{
	return r != NULL ? acquire(&r->p, timeout, ret_acquired) : AGORA_EINVAL;
}

int agora_rlock_acquire_fenced(agora_rlock *r, double timeout,
			       bool *ret_acquired, uint64_t *ret_token)
{
	return r != NULL
		   ? acquire_fenced(&r->p, timeout, ret_acquired, ret_token)
		   : AGORA_EINVAL;
}

int agora_rlock_release(agora_rlock *r)
{
	return r != NULL ? release(&r->p) : AGORA_EINVAL;
}

int agora_rlock_locked(agora_rlock *r, bool *ret)
{
	return r != NULL ? locked(&r->p, ret) : AGORA_EINVAL;
}

int agora_rlock_with(agora_rlock *r, int (*fn)(void *ud), void *ud)
{
	return r != NULL ? with(&r->p, fn, ud) : AGORA_EINVAL;
}

/* ---- condition ----------------------------------------------------------- */

/*
 * Open the condition @name (get-or-create), or a new anonymous one for
 * NULL. At creation it uses the lock or rlock behind @lock_handle, a
 * handle of @c (AGORA_ENO_OBJECT when there is none, AGORA_ETYPE when it
 * is no lock), or its own new rlock for 0.
 */
int agora_condition_open(agora_client *c, const char *name,
			 uint32_t lock_handle, agora_condition **ret)
{
	agora_pair opt;

	opt.key = agora_str("lock");
	opt.val = agora_uint(lock_handle);
	return ag_proxy_open(c, ret, sizeof(**ret), "condition", name, &opt,
			     lock_handle != 0 ? 1 : 0);
}

int agora_condition_acquire(agora_condition *cv, double timeout,
			    bool *ret_acquired)
{
	return cv != NULL ? acquire(&cv->p, timeout, ret_acquired)
			  : AGORA_EINVAL;
}

int agora_condition_release(agora_condition *cv)
{
	return cv != NULL ? release(&cv->p) : AGORA_EINVAL;
}

/* Parked in the server: the lock is free meanwhile and held again before
 * the answer, true after a notify, false on timeout. */
int agora_condition_wait(agora_condition *cv, double timeout,
			 bool *ret_notified)
{
	if (cv == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_timed(&cv->p, "wait", timeout, false,
				   ret_notified);
}

int agora_condition_notify(agora_condition *cv, int64_t n)
{
	agora_value a;

	if (cv == NULL)
		return AGORA_EINVAL;
	a = agora_int(n);
	return ag_proxy_call_value(&cv->p, "notify", &a, 1, NULL);
}

int agora_condition_notify_all(agora_condition *cv)
{
	if (cv == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&cv->p, "notify_all", NULL, 0, NULL);
}
