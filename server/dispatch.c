/*
 * dispatch.c - from an authenticated request to the function that serves it.
 *
 * Object methods, "TYPE.METHOD", go to call.c (ag_call_object()), which a
 * transaction's calls share. Server methods (open, close, drop, ls, info,
 * ping, stats, txn...: srv_methods.c) are looked up by name here, and the
 * user's right to call one (users.c) is checked before it runs: a user
 * without it is answered DENIED; those that name an object check its name
 * themselves.
 */
#include <string.h>

#include "internal.h"

void ag_dispatch(ag_conn *c, const ag_request *rq)
{
	ag_req r;
	const ag_family *fam = NULL;
	const ag_method *m;

	if (memchr(rq->method, '.', rq->methodlen) != NULL) {
		ag_call_object(c, rq); /* call.c */
		return;
	}
	r = ag_call_begin(c, rq);
	m = ag_method_cached(r.srv, r.method, r.methodlen, &fam);
	if (m == NULL) {
		m = ag_method_find(ag_server_methods(), r.method, r.methodlen);
		if (m != NULL)
			ag_method_remember(r.srv, r.method, r.methodlen, NULL,
					   m);
	}
	if (m == NULL) {
		ag_reply_error(&r.to, AGORA_ENO_METHOD,
			       "unknown method \"%.*s\"", (int)r.methodlen,
			       r.method);
		return;
	}
	/* Server methods that name an object check its name too
	 * (srv_methods.c: open, open_ref, drop, info; ls filters). */
	if (ag_user_may(&r, m->right, NULL, 0) && ag_check_argc(&r, m, 0))
		m->fn(&r);
}
