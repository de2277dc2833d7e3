/*
 * lifetime.c - how long a name lives: ephemeral names, dropped when the
 * connection that created them ends, and names with a deadline, dropped
 * when it passes (protocol section 3.1); and the lookup of a name that
 * hides one past its deadline (ag_name_find()). The names table itself is
 * object.c's; the server methods open, expire and ttl that set lifetimes
 * are srv_methods.c's.
 *
 * Both concern the name only, exactly as the server method drop does: the
 * name goes (journaled as "@drop"), and handles, parked calls and stored
 * references keep the object, anonymous, until the last of them goes.
 *
 * An object with either has an ag_life (o->life; NULL for the others, so
 * they pay one pointer). An ephemeral one is on its creator's list
 * (c->owned), which conn.c works off through ag_life_conn_gone() when the
 * connection is freed: whatever ends it (close, kill, a crash of its
 * process, the peer timeout) drops the names. A deadline is a wall-clock
 * time (CLOCK_REALTIME, Unix seconds), so that the journal keeps it as it
 * is and a restart neither extends nor shortens it. It is enforced twice:
 * every lookup of a name asks ag_life_check() (a name past its deadline
 * is never found, even before any timer ran), and a libevent timer of its
 * own drops the name when nobody looks (firing early, after the clock was
 * set back, it is armed again for the rest).
 *
 * Persistence (journal.c, recover.c): "@ephemeral [id]" after the object's
 * "@new" drops the name when it is loaded (connections do not survive a
 * restart, and a later "@new" may take the name);
 * "@expire [id, deadline or nil]" sets or clears the deadline, and a name
 * whose deadline passed while the server was down is found by nobody and
 * dropped by its timer on the first turn of the loop.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

double ag_wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct ag_life *life_get(ag_object *o)
{
	if (o->life == NULL) {
		o->life = calloc(1, sizeof(*o->life));
		if (o->life == NULL)
			return NULL;
		o->life->obj = o;
		ag_object_mem(o, (ssize_t)ag_life_cost());
	}
	return o->life;
}

static void unlink_owner(struct ag_life *l)
{
	if (l->owner == NULL)
		return;
	*l->oprev = l->onext;
	if (l->onext != NULL)
		l->onext->oprev = l->oprev;
	l->owner = NULL;
	l->onext = NULL;
	l->oprev = NULL;
}

/* Free @o's ag_life when it holds nothing any more. */
static void life_trim(ag_object *o)
{
	if (o->life != NULL && o->life->owner == NULL && o->life->deadline == 0)
		ag_life_free(o);
}

/* Drop @o's name as the server method drop does; the log's debug line
 * says why: its deadline passed (@c NULL), or its creator @c ended. */
static void drop_name(ag_object *o, const ag_conn *c)
{
	ag_server *s = o->srv;

	if (ag_server_logs(s, AGORA_LOG_DEBUG)) {
		char label[400];
		ag_object_label(o, label, sizeof(label));
		if (c != NULL)
			ag_server_logf(s, AGORA_LOG_DEBUG,
				       "%s: ephemeral name dropped: creator "
				       "connection %llu (%s) ended: %s",
				       label, (unsigned long long)c->id,
				       c->peer, ag_conn_why(c));
		else
			ag_server_logf(s, AGORA_LOG_DEBUG,
				       "%s: name dropped: its time to live "
				       "passed",
				       label);
	}
	ag_changed(o, "drop", NULL);
	ag_persist_drop(o);
	ag_object_unname(o); /* frees o->life; may free o */
}

int ag_life_set_owner(ag_object *o, ag_conn *c)
{
	struct ag_life *l;

	if (c == NULL) {
		if (o->life != NULL)
			unlink_owner(o->life);
		life_trim(o);
		return 0;
	}
	l = life_get(o);
	if (l == NULL)
		return AGORA_ENOMEM;
	unlink_owner(l);
	l->owner = c;
	l->onext = c->owned;
	if (l->onext != NULL)
		l->onext->oprev = &l->onext;
	l->oprev = &c->owned;
	c->owned = l;
	return 0;
}

void ag_life_conn_gone(ag_conn *c)
{
	while (c->owned != NULL) {
		ag_object *o = c->owned->obj;
		if (o->name == NULL) { /* cannot be: unname frees the life */
			ag_life_free(o);
			continue;
		}
		drop_name(o, c);
	}
}

static void on_deadline(evutil_socket_t fd, short what, void *arg);

/* Arm @l's timer for its deadline (a wall-clock time: libevent counts on
 * its own clock, so a timer that fires early is armed again). Without a
 * timer (a detached server, out of memory) lookups still hide the name. */
static void arm(struct ag_life *l)
{
	ag_server *s = l->obj->srv;
	double left = l->deadline - ag_wall_now();
	struct timeval tv;

	if (s->base == NULL)
		return;
	if (l->ev == NULL)
		l->ev = evtimer_new(s->base, on_deadline, l);
	if (l->ev == NULL)
		return;
	if (left < 0)
		left = 0;
	left += 0.001; /* never early by a rounding */
	tv.tv_sec = (time_t)left;
	tv.tv_usec = (suseconds_t)((left - floor(left)) * 1e6);
	evtimer_add(l->ev, &tv);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct ag_life *l = arg;

	(void)fd;
	(void)what;
	if (!ag_life_check(l->obj))
		arm(l);
}

int ag_life_set_deadline(ag_object *o, double deadline)
{
	struct ag_life *l;

	if (deadline <= 0) {
		if (o->life != NULL) {
			o->life->deadline = 0;
			if (o->life->ev != NULL)
				evtimer_del(o->life->ev);
		}
		life_trim(o);
		return 0;
	}
	l = life_get(o);
	if (l == NULL)
		return AGORA_ENOMEM;
	l->deadline = deadline;
	arm(l);
	return 0;
}

bool ag_life_check(ag_object *o)
{
	if (!ag_life_due(o, ag_wall_now()))
		return false;
	drop_name(o, NULL);
	return true;
}

unsigned ag_life_count(const ag_object *o)
{
	return (ag_life_owner(o) != 0 ? 1 : 0) +
	       (ag_life_deadline(o) > 0 ? 2 : 0);
}

void ag_life_pack(const ag_object *o, msgpack_packer *pk, double now)
{
	uint64_t owner = ag_life_owner(o);
	double deadline = ag_life_deadline(o);

	if (owner != 0) {
		ag_pack_str(pk, "ephemeral_owner");
		msgpack_pack_uint64(pk, owner);
	}
	if (deadline > 0) {
		ag_pack_str(pk, "ttl");
		msgpack_pack_double(pk, deadline > now ? deadline - now : 0.0);
		ag_pack_str(pk, "expires");
		msgpack_pack_double(pk, deadline);
	}
}

ag_object *ag_name_find(ag_server *s, const char *name, size_t len)
{
	ag_val key;
	ag_entry *e;

	/* A longer name was never given to an object. */
	if (len > AG_NAME_MAX)
		return NULL;
	key = ag_val_view(name, (uint32_t)len, 0);
	e = ag_table_find(&s->names, &key, ag_table_hash(&s->names, &key));
	if (e == NULL || ag_life_check(e->ptr))
		return NULL;
	return e->ptr;
}
