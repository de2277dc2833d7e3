/*
 * dict.h - the state of a dict, shared by the family (obj_dict.c: params,
 * answers, Python's semantics, snapshots) and its entries (dict_keys.c:
 * the table's entries, the keys' deadlines, the sweep that reclaims the
 * expired ones). dict_keys.c never calls obj_dict.c.
 */
#ifndef AG_DICT_H
#define AG_DICT_H

#include "internal.h"

/* The longest TTL, in seconds (about 100 years), and the latest deadline. */
#define TTL_MAX 3.2e9
#define DEADLINE_MAX 1e11

/* A key's deadline. */
typedef struct ttl_node {
	int64_t deadline; /* microseconds of CLOCK_REALTIME */
	uint32_t pos;     /* in the heap */
	ag_val key; /* an alias of the entry's key (ag_dict_key_alias()) */
} ttl_node;

typedef struct dict {
	ag_server *srv; /* for releasing the references values hold */
	ag_object *obj; /* the dict's object, for the sweep */
	ag_table t;
	size_t bytes;     /* heap bytes of keys and values (ag_val_heap) */
	size_t accounted; /* what ag_object_mem() has been told */
	ag_table ttl;     /* key alias -> ttl_node * (.ptr) */
	ttl_node **heap;  /* min-heap by deadline */
	uint32_t nheap, heapcap;
	struct event *sweep_ev; /* made with the first TTL */
	uint64_t expired;       /* keys the sweep or a write reclaimed */
} dict;

/* The bytes a new deadline takes, for --max-memory. */
#define TTL_COST (sizeof(ttl_node) + sizeof(ag_entry) + 2 * sizeof(void *))

/* ---- dict_keys.c --------------------------------------------------------- */

/* Tell ag_object_mem() what the dict holds now. */
void ag_dict_sync_mem(ag_object *o, dict *d);
/* Free a stored value, releasing what its references hold (an empty one,
 * moved out, is left alone). */
void ag_dict_val_free(dict *d, ag_val *v);
/* Microseconds of CLOCK_REALTIME. */
int64_t ag_wall_us(void);
/* The time keys expire against: now, or INT64_MIN (before every deadline)
 * while the server loads or when no key has a TTL. */
int64_t ag_dict_now(const dict *d);
/* A view of stored key @k's bytes that stays valid when the table moves
 * its entries (nothing to free). */
ag_val ag_dict_key_alias(const ag_val *k);
/* The deadline of @key (hash @h in d->t), or NULL. */
ttl_node *ag_dict_ttl_find(dict *d, const ag_val *key, uint64_t h);
/* Whether entry @e (hash @h) is past its deadline at @now. */
bool ag_dict_expired(dict *d, const ag_entry *e, uint64_t h, int64_t now);
/* Give entry @e (hash @h) the deadline @deadline (microseconds of
 * CLOCK_REALTIME) and wake the sweep for it: 0 or AGORA_ENOMEM (the key's
 * TTL as it was). */
int ag_dict_ttl_set(dict *d, ag_entry *e, uint64_t h, int64_t deadline);
/* Take @key's deadline away, if it has one. */
void ag_dict_ttl_clear(dict *d, const ag_val *key, uint64_t h);
/* How many keys are past their deadline at @now, at most @limit, from
 * heap index @i down (0: all): O(expired). */
size_t ag_dict_count_expired(const dict *d, uint32_t i, int64_t now,
			     size_t limit);
/* The live keys at @now. */
size_t ag_dict_live(const dict *d, int64_t now);
/* Add @key -> @val, taking both (*ret, may be NULL: the entry); 0, or
 * AGORA_ENOMEM with both untouched. */
int ag_dict_add(dict *d, ag_val *key, uint64_t hash, ag_val *val,
		ag_entry **ret);
/* Replace @e's value with @val (taken). */
void ag_dict_replace(dict *d, ag_entry *e, ag_val *val);
/* Take @e out, its TTL first, freeing its key and value. */
void ag_dict_drop(dict *d, ag_entry *e);
/* A write met @e past its deadline: reclaim it, journaled as
 * "dict.expired" ahead of the write's own record. */
void ag_dict_reclaim(ag_object *o, dict *d, ag_entry *e);
/* Every entry and deadline gone (clear, destroy). */
void ag_dict_drop_all(dict *d);

/*
 * Transactions (protocol section 12): ag_dict_copy() is a copy of @d
 * (entries in their order with the table's layout, deadlines in the
 * heap's order, counters, the memory figures), its keys and values
 * holding what their references name; NULL when out of memory.
 * ag_dict_restore() makes @d that copy (taking it): what @d holds now is
 * freed and released, the memory accounted set back, the sweep armed for
 * the copy's deadlines. ag_dict_copy_free() frees a copy, releasing its
 * holds.
 */
dict *ag_dict_copy(const dict *d);
void ag_dict_restore(ag_object *o, dict *d, dict *c);
void ag_dict_copy_free(dict *c);
/*
 * What a transaction keeps (dict_keys.c, "transactions"): at first a log
 * of the values replaced and the entries added, while the calls only do
 * that (a dict without deadlines, adds that need no room:
 * ag_table_add_fits()); before any other change, the whole copy
 * (ag_dict_txn_full()). The family's txn_save, txn_restore and txn_drop;
 * ag_dict_txn_prepare(): before a set, incr or setdefault that only
 * replaces or adds, room in the log (0 or AGORA_ENOMEM, nothing changed).
 */
void *ag_dict_txn_save(ag_object *o);
void ag_dict_txn_restore(ag_object *o, void *saved);
void ag_dict_txn_drop(ag_object *o, void *saved);
int ag_dict_txn_full(ag_object *o);
int ag_dict_txn_prepare(ag_object *o);

#endif
