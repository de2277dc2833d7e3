/*
 * table.c - the insertion-ordered hash table of ag_val keys (ag_table).
 *
 * Laid out as CPython's dict: entries[] is a dense array in insertion order
 * (a removed entry stays in place with an empty key until the next
 * compaction), and slots[] is a power-of-two index whose cells hold an entry
 * index + 1, or 0 for an empty cell.
 *
 * Probing is linear, and removal shifts the following cells of the probe run
 * back (Knuth's algorithm R) instead of leaving a tombstone in slots[]: a
 * removed entry at the end of entries[] can be given back at once (used
 * shrinks). That keeps ag_table_last() O(1) amortized for LIFO popitem, and
 * lookups never wade through tombstones. Invariant: occupied cells == count
 * <= nslots * 2 / 3, so a probe always reaches an empty cell; and
 * count <= used <= cap.
 *
 * Entries store no hash (an entry is two ag_vals, 32 bytes): the home cell
 * of an entry is recomputed from its key when the index is rebuilt or a
 * removal shifts cells. Lookups compare keys directly; small keys are inline
 * in the entry, so that costs no more than comparing stored hashes did.
 *
 * The two arrays grow separately. The index doubles when count would pass
 * two thirds of it. entries[] grows by an eighth at a time, within what the
 * index allows: a large table keeps little unused room, and large blocks
 * grow by remapping, without copying. When entries[] is full and at least an
 * eighth of it is removed entries, it is compacted in place instead (and
 * the index rebuilt, shrunk if the table has shrunk a lot).
 *
 * The hash is ag_val_hash(key, seed); the home cell takes the high bits of
 * the hash times a 64-bit odd constant, so a hash with weak low bits still
 * spreads. Entry pointers stay valid until the next ag_table_add() (which may
 * move entries[]); ag_table_remove() never moves them.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MIN_SLOTS 8u
/* Largest index: cap must stay below UINT32_MAX (slots hold index + 1). */
#define MAX_SLOTS ((uint32_t)1 << 31)
/* Entries whose home cells a rebuild computes and prefetches at a time. */
#define REBUILD_BATCH 16u

static uint32_t usable(uint32_t nslots)
{
	return (uint32_t)(((uint64_t)nslots * 2) / 3);
}

static uint32_t home_slot(uint64_t hash, uint32_t nslots)
{
	unsigned bits = (unsigned)__builtin_ctz(nslots);

	if (bits == 0)
		return 0;
	return (uint32_t)((hash * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - bits));
}

/* Home cell of a live entry, from its key. */
static uint32_t entry_home(const ag_table *t, const ag_entry *e,
			   uint32_t nslots)
{
	return home_slot(ag_val_hash(&e->key, t->seed), nslots);
}

void ag_table_init(ag_table *t, uint64_t seed)
{
	memset(t, 0, sizeof(*t));
	t->seed = seed;
}

void ag_table_deinit(ag_table *t)
{
	if (t == NULL)
		return;
	free(t->entries);
	free(t->slots);
	ag_table_init(t, t->seed);
}

void ag_table_clear_vals(ag_table *t)
{
	ag_table_foreach (t, e) {
		ag_val_deinit(&e->key);
		ag_val_deinit(&e->val);
	}
	ag_table_deinit(t);
}

int ag_table_copy(ag_table *dst, const ag_table *src)
{
	ag_table_init(dst, src->seed);
	if (src->used == 0 && src->nslots == 0)
		return 0;
	dst->entries = calloc(src->used ? src->used : 1, sizeof(ag_entry));
	dst->slots = calloc(src->nslots ? src->nslots : 1, sizeof(uint32_t));
	if (dst->entries == NULL || dst->slots == NULL)
		goto nomem;
	dst->cap = src->used ? src->used : 1;
	dst->nslots = src->nslots;
	if (src->nslots)
		memcpy(dst->slots, src->slots, src->nslots * sizeof(uint32_t));
	for (uint32_t i = 0; i < src->used; i++) {
		const ag_entry *e = &src->entries[i];
		ag_entry *d = &dst->entries[i];
		if (ag_val_is_empty(&e->key))
			continue;
		if (ag_val_dup(&d->key, &e->key) < 0)
			goto nomem;
		if (ag_val_dup(&d->val, &e->val) < 0) {
			ag_val_deinit(&d->key);
			goto nomem;
		}
		dst->used = i + 1;
		dst->count++;
	}
	dst->used = src->used;
	return 0;
nomem:
	ag_table_clear_vals(dst);
	return AGORA_ENOMEM;
}

uint64_t ag_table_hash(const ag_table *t, const ag_val *key)
{
	return ag_val_hash(key, t->seed);
}

/* The cell of slots[] that holds entry @idx (which must be live). */
static uint32_t slot_of(const ag_table *t, uint32_t idx)
{
	uint32_t mask = t->nslots - 1;
	uint32_t i = entry_home(t, &t->entries[idx], t->nslots);

	while (t->slots[i] != idx + 1)
		i = (i + 1) & mask;
	return i;
}

ag_entry *ag_table_find(ag_table *t, const ag_val *key, uint64_t hash)
{
	uint32_t mask, i, s, len;

	if (t->count == 0)
		return NULL;
	mask = t->nslots - 1;
	len = ag_val_len(key);
	for (i = home_slot(hash, t->nslots); (s = t->slots[i]) != 0;
	     i = (i + 1) & mask) {
		ag_entry *e = &t->entries[s - 1];

		/* Keys holding a map are never stored, so a length mismatch
		 * is inequality; it spares the call for most cells. */
		if (ag_val_len(&e->key) == len && ag_val_equal(&e->key, key))
			return e;
	}
	return NULL;
}

/*
 * Rebuild the table with an index of @nslots cells and room for @cap
 * entries (count < cap <= usable(nslots)): removed entries are dropped, the
 * live ones keep their order. Returns 0, or AGORA_ENOMEM with the table
 * untouched.
 */
static int table_rebuild(ag_table *t, uint32_t nslots, uint32_t cap)
{
	uint32_t mask = nslots - 1, i, j;
	ag_entry *entries = t->entries;
	uint32_t *slots;

	slots = calloc(nslots, sizeof(*slots));
	if (slots == NULL)
		return AGORA_ENOMEM;
	if (cap > t->cap) {
		entries = realloc(t->entries, (size_t)cap * sizeof(*entries));
		if (entries == NULL) {
			free(slots);
			return AGORA_ENOMEM;
		}
		t->entries = entries;
		t->cap = cap;
	}
	for (i = 0, j = 0; i < t->used; i++) {
		if (ag_val_is_empty(&entries[i].key))
			continue;
		if (i != j)
			entries[j] = entries[i];
		j++;
	}
	if (cap < t->cap) {
		ag_entry *smaller =
		    realloc(entries, (size_t)cap * sizeof(*entries));

		/* A failed shrink keeps the larger block, which still fits. */
		if (smaller != NULL) {
			t->entries = entries = smaller;
			t->cap = cap;
		}
	}
	/*
	 * Index the live entries. Their home cells are scattered over an
	 * index that is large for a large table: compute a batch of them and
	 * prefetch those cells before filling them, so that the cache misses
	 * overlap instead of coming one after another.
	 */
	for (i = 0; i < j; i += REBUILD_BATCH) {
		uint32_t home[REBUILD_BATCH];
		uint32_t n = j - i < REBUILD_BATCH ? j - i : REBUILD_BATCH;

		for (uint32_t k = 0; k < n; k++) {
			home[k] = entry_home(t, &entries[i + k], nslots);
			__builtin_prefetch(&slots[home[k]], 1);
		}
		for (uint32_t k = 0; k < n; k++) {
			uint32_t s = home[k];

			while (slots[s] != 0)
				s = (s + 1) & mask;
			slots[s] = i + k + 1;
		}
	}
	free(t->slots);
	t->slots = slots;
	t->nslots = nslots;
	t->used = j;
	return 0;
}

/* Next size of entries[] after @cap, within the index's @limit. */
static uint32_t next_cap(uint32_t cap, uint32_t limit)
{
	uint64_t want = (uint64_t)cap + cap / 8 + 8;

	return want < limit ? (uint32_t)want : limit;
}

/*
 * Make room for one more entry at entries[used]. Returns 0, or AGORA_ENOMEM
 * with the table untouched.
 */
static int table_make_room(ag_table *t)
{
	uint32_t nslots = t->nslots ? t->nslots : MIN_SLOTS, dead;

	if ((uint64_t)t->count + 1 > usable(nslots) || t->nslots == 0) {
		/* The index is full: double it (or start it). */
		while ((uint64_t)t->count + 1 > usable(nslots)) {
			if (nslots >= MAX_SLOTS)
				return AGORA_ENOMEM;
			nslots <<= 1;
		}
		if (t->used < t->cap)
			return table_rebuild(t, nslots, t->cap);
		return table_rebuild(t, nslots,
				     next_cap(t->cap, usable(nslots)));
	}
	if (t->used < t->cap)
		return 0;
	dead = t->used - t->count;
	if (dead > 0 && (dead >= t->used / 8 || t->cap >= usable(nslots))) {
		/* Enough removed entries to be worth reclaiming (or no room
		 * to grow, which implies some): compact, shrinking the index
		 * while it would stay at most a third full. */
		while (nslots > MIN_SLOTS &&
		       ((uint64_t)t->count + 1) * 2 <= usable(nslots >> 1))
			nslots >>= 1;
		uint32_t cap =
		    t->cap < usable(nslots) ? t->cap : usable(nslots);
		return table_rebuild(t, nslots, cap);
	}
	/* Grow entries[] alone: the index still fits. */
	uint32_t cap = next_cap(t->cap, usable(nslots));
	ag_entry *entries =
	    realloc(t->entries, (size_t)cap * sizeof(*t->entries));

	if (entries == NULL)
		return AGORA_ENOMEM;
	t->entries = entries;
	t->cap = cap;
	return 0;
}

bool ag_table_add_fits(const ag_table *t)
{
	/* What table_make_room() returns 0 for without changing anything. */
	return t->nslots != 0 && (uint64_t)t->count + 1 <= usable(t->nslots) &&
	       t->used < t->cap;
}

ag_entry *ag_table_add(ag_table *t, const ag_val *key, uint64_t hash)
{
	uint32_t mask, i;
	ag_entry *e;

	if (table_make_room(t) < 0)
		return NULL;
	mask = t->nslots - 1;
	i = home_slot(hash, t->nslots);
	while (t->slots[i] != 0)
		i = (i + 1) & mask;
	e = &t->entries[t->used];
	memset(e, 0, sizeof(*e));
	e->key = *key;
	t->slots[i] = ++t->used;
	t->count++;
	return e;
}

void ag_table_remove(ag_table *t, ag_entry *e)
{
	uint32_t idx = (uint32_t)(e - t->entries);
	uint32_t mask = t->nslots - 1;
	uint32_t hole = slot_of(t, idx), j = hole;

	/*
	 * Close the hole: a later cell of the same run moves back into it
	 * unless its home lies cyclically in (hole, j], where it would no
	 * longer be found.
	 */
	for (;;) {
		uint32_t s, h;

		j = (j + 1) & mask;
		s = t->slots[j];
		if (s == 0)
			break;
		h = entry_home(t, &t->entries[s - 1], t->nslots);
		if (hole <= j ? (hole < h && h <= j) : (hole < h || h <= j))
			continue;
		t->slots[hole] = s;
		hole = j;
	}
	t->slots[hole] = 0;

	ag_val_deinit(&e->key);
	t->count--;
	while (t->used > 0 && ag_val_is_empty(&t->entries[t->used - 1].key))
		t->used--;
}

ag_entry *ag_table_last(ag_table *t)
{
	/* Removal trims trailing dead entries, so the last one is live. */
	if (t->used == 0)
		return NULL;
	return &t->entries[t->used - 1];
}
