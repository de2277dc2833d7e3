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
#include <stdlib.h>

#include "internal.h"

/* ---- shared by lock, rlock and condition --------------------------------- */

static int acquire(const ag_proxy *p, double timeout, bool *ret)
{
	return ag_proxy_call_timed(p, "acquire", timeout, true, ret);
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
