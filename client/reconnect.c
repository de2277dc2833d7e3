/*
 * reconnect.c - a client that survives the loss of its connection
 * (agora_client_set_reconnect()): connect again to the same address with
 * the same key, open every proxy again, tell the program, and let call.c
 * make again the one call that cannot have been done.
 *
 * call.c calls recover() through c->recover when a call finds the
 * connection gone (a failed send or receive, a server that closed it, a
 * parked call answered SHUTDOWN); it sits below this file, so it knows
 * the function only by that pointer. What happens to the call itself is
 * call.c's: made again when it was not done, AGORA_ELOST when it may have
 * been.
 *
 * Opening again: a proxy opened by name is opened by its name again, with
 * the options it was created with (without `exclusive`: it is this
 * client's own object), so a server that restarted empty creates it as it
 * was; one opened by reference is opened by that reference when the server
 * did not restart (the object may still live, held by others); an
 * anonymous one cannot be found again (its last handle was this
 * connection's). A proxy that cannot be opened again is marked lost: its
 * calls answer AGORA_ENO_OBJECT saying why, and closing it sends nothing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* The first pause between attempts, and the longest, in milliseconds. */
#define RETRY_FIRST_MS 50
#define RETRY_MAX_MS 1000

static void pause_ms(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000),
			       (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0)
		;
}

/* Mark @p lost, saying @why. */
static void lose(ag_proxy *p, const char *why)
{
	char buf[320];

	snprintf(buf, sizeof(buf),
		 "this handle's object could not be opened again after the "
		 "client reconnected to %s: %s",
		 p->c->address, why);
	free(p->lost);
	p->lost = strdup(buf);
	if (p->lost == NULL)
		p->lost = strdup("lost at a reconnect");
}

/* @p->opts without the options that must not apply again: `exclusive`
 * (the object is this client's own) and, when @restarted, nothing else;
 * returns false when the proxy cannot be opened again as it was (a
 * condition created on a lock handle of the old connection, on a server
 * that restarted). The pairs point into @p->opts. */
static bool reopen_opts(const ag_proxy *p, bool restarted, agora_pair *out,
			size_t *ret_n)
{
	size_t n = 0;

	if (p->opts.type == AGORA_MAP)
		for (size_t i = 0; i < p->opts.via.map.len && n < 16; i++) {
			const agora_pair *kv = &p->opts.via.map.items[i];
			bool is = kv->key.type == AGORA_STR;
			if (is && kv->key.via.str.len == 9 &&
			    memcmp(kv->key.via.str.ptr, "exclusive", 9) == 0)
				continue;
			if (is && kv->key.via.str.len == 4 &&
			    memcmp(kv->key.via.str.ptr, "lock", 4) == 0) {
				if (restarted)
					return false;
				continue; /* options count at creation only */
			}
			out[n++] = *kv;
		}
	*ret_n = n;
	return true;
}

/* Open every proxy of @c again. Returns 0, or the error of a call that
 * broke the connection again. */
static int reopen_all(agora_client *c, bool restarted)
{
	agora_pair opts[16];
	size_t nopts;
	uint32_t h;
	int rc;

	for (ag_proxy *p = c->proxies; p != NULL; p = p->next) {
		if (p->lost != NULL)
			continue;
		if (p->name != NULL) {
			if (!reopen_opts(p, restarted, opts, &nopts)) {
				lose(p, "it was made on a lock handle of the "
					"old connection, and the server "
					"restarted");
				continue;
			}
			rc = ag_client_open(c, p->type, p->name, opts, nopts,
					    &h);
		} else if (p->ref.id != 0 && !restarted) {
			rc = ag_client_open_ref(c, p->type, &p->ref, &h);
		} else {
			lose(p, p->ref.id != 0
				    ? "the server restarted, and its objects "
				      "with it"
				    : "it had no name, and its last handle "
				      "ended with the old connection");
			continue;
		}
		if (rc == 0) {
			p->handle = h;
		} else if (c->state == AG_CLIENT_READY) {
			lose(p, agora_errmsg(c));
		} else {
			return rc;
		}
	}
	return 0;
}

/* Connect again and open every proxy again, trying for c->reconnect_s. */
static int recover(agora_client *c)
{
	double limit = c->reconnect_s;
	int64_t start = ag_transport_now_ms(), delay = RETRY_FIRST_MS;
	char old_run[sizeof(c->run)], lost[sizeof(c->lost)];
	char *address;
	bool restarted;
	int rc;

	snprintf(old_run, sizeof(old_run), "%s", c->run);
	snprintf(lost, sizeof(lost), "%s", c->lost);
	address = strdup(c->address);
	if (address == NULL)
		return ag_client_fail(c, AGORA_ENOMEM, "out of memory");
	c->recovering = true;
	for (;;) {
		rc = agora_client_connect(c, address, c->key, c->keylen);
		if (rc == 0)
			rc = reopen_all(c, strcmp(old_run, c->run) != 0);
		if (rc == 0)
			break;
		int64_t spent = ag_transport_now_ms() - start;
		if (limit >= 0 && (double)(spent + delay) > limit * 1000) {
			char why[sizeof(c->errmsg)];
			snprintf(why, sizeof(why), "%s", agora_errmsg(c));
			if (c->state != AG_CLIENT_BROKEN) {
				ag_client_disconnect(c);
				c->state = AG_CLIENT_BROKEN;
			}
			snprintf(c->lost, sizeof(c->lost), "%s", lost);
			ag_client_fail(c, AGORA_EIO,
				       "lost the connection to %s (%s), and "
				       "reconnecting failed for %.1f s: %s",
				       address, lost, (double)spent / 1000,
				       why);
			c->recovering = false;
			free(address);
			return AGORA_EIO;
		}
		pause_ms(delay);
		delay = delay * 2 < RETRY_MAX_MS ? delay * 2 : RETRY_MAX_MS;
	}
	free(address);
	restarted = strcmp(old_run, c->run) != 0;
	if (c->on_reconnect != NULL)
		c->on_reconnect(c, restarted, c->on_reconnect_arg);
	c->recovering = false;
	c->errmsg[0] = '\0';
	return 0;
}

int agora_client_set_reconnect(agora_client *c, double seconds,
			       agora_reconnect_fn *fn, void *arg)
{
	if (c == NULL)
		return AGORA_EINVAL;
	if (isnan(seconds) || seconds > AG_MAX_PEER_TIMEOUT)
		return ag_client_fail(c, AGORA_EINVAL,
				      "reconnect %g: want seconds up to %g "
				      "(AGORA_FOREVER: no limit; 0: off)",
				      seconds, AG_MAX_PEER_TIMEOUT);
	c->reconnect_s = seconds < 0 || isinf(seconds) ? -1 : seconds;
	c->recover = seconds != 0 ? recover : NULL;
	c->on_reconnect = fn;
	c->on_reconnect_arg = arg;
	return 0;
}
