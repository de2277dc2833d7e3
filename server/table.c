/*
 * table.c - the insertion-ordered hash table of ag_val keys (ag_table).
 *
 * Laid out as CPython's dict: entries[] is a dense array in insertion order
 * (a removed entry stays in place with key.data == NULL until the next
 * rebuild), and slots[] is a power-of-two index whose cells hold an entry
 * index + 1, or 0 for an empty cell.
 *
 * Probing is linear, and removal shifts the following cells of the probe run
 * back (Knuth's algorithm R) instead of leaving a tombstone in slots[]: the
 * index never holds UINT32_MAX, and a removed entry at the end of entries[]
 * can be given back at once (used shrinks). That keeps ag_table_last() O(1)
 * amortized for LIFO popitem, and lookups never wade through tombstones.
 * Invariant: occupied cells == count <= used <= cap <= nslots * 2 / 3, so a
 * probe always reaches an empty cell.
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

uint64_t ag_table_hash(const ag_table *t, const ag_val *key)
{
	return ag_val_hash(key, t->seed);
}

/* The cell of slots[] that holds entry @idx (which must be live). */
static uint32_t slot_of(const ag_table *t, uint32_t idx)
{
	uint32_t mask = t->nslots - 1;
	uint32_t i = home_slot(t->entries[idx].hash, t->nslots);

	while (t->slots[i] != idx + 1)
		i = (i + 1) & mask;
	return i;
}

ag_entry *ag_table_find(ag_table *t, const ag_val *key, uint64_t hash)
{
	uint32_t mask, i, s;

	if (t->count == 0)
		return NULL;
	mask = t->nslots - 1;
	for (i = home_slot(hash, t->nslots); (s = t->slots[i]) != 0;
	     i = (i + 1) & mask) {
		ag_entry *e = &t->entries[s - 1];

		if (e->hash == hash && ag_val_equal(&e->key, key))
			return e;
	}
	return NULL;
}

/*
 * Make room for one more entry: compact entries[] (dropping removed ones)
 * and rebuild slots[] sized for count + 1 with room to grow. Returns 0, or
 * AGORA_ENOMEM with the table untouched.
 */
static int table_resize(ag_table *t)
{
	uint64_t want = ((uint64_t)t->count + 1) * 3;
	uint32_t nslots = MIN_SLOTS, cap, mask, i, j;
	ag_entry *entries;
	uint32_t *slots;

	while (nslots < want) {
		if (nslots >= MAX_SLOTS)
			return AGORA_ENOMEM;
		nslots <<= 1;
	}
	cap = usable(nslots);
	slots = calloc(nslots, sizeof(*slots));
	if (slots == NULL)
		return AGORA_ENOMEM;
	if (cap > t->cap) {
		entries = realloc(t->entries, (size_t)cap * sizeof(*entries));
		if (entries == NULL) {
			free(slots);
			return AGORA_ENOMEM;
		}
	} else {
		/* Shrinking (many removals): compact in place first. */
		entries = t->entries;
	}
	for (i = 0, j = 0; i < t->used; i++) {
		if (entries[i].key.data == NULL)
			continue;
		if (i != j)
			entries[j] = entries[i];
		j++;
	}
	if (cap < t->cap) {
		ag_entry *smaller =
		    realloc(entries, (size_t)cap * sizeof(*entries));

		/* A failed shrink keeps the larger block, which still fits. */
		if (smaller != NULL)
			entries = smaller;
		else
			cap = t->cap;
	}
	mask = nslots - 1;
	for (i = 0; i < j; i++) {
		uint32_t s = home_slot(entries[i].hash, nslots);

		while (slots[s] != 0)
			s = (s + 1) & mask;
		slots[s] = i + 1;
	}
	free(t->slots);
	t->entries = entries;
	t->slots = slots;
	t->nslots = nslots;
	t->cap = cap;
	t->used = j;
	return 0;
}

ag_entry *ag_table_add(ag_table *t, const ag_val *key, uint64_t hash)
{
	uint32_t mask, i;
	ag_entry *e;

	if (t->used >= t->cap && table_resize(t) < 0)
		return NULL;
	mask = t->nslots - 1;
	i = home_slot(hash, t->nslots);
	while (t->slots[i] != 0)
		i = (i + 1) & mask;
	e = &t->entries[t->used];
	memset(e, 0, sizeof(*e));
	e->hash = hash;
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
		h = home_slot(t->entries[s - 1].hash, t->nslots);
		if (hole <= j ? (hole < h && h <= j) : (hole < h || h <= j))
			continue;
		t->slots[hole] = s;
		hole = j;
	}
	t->slots[hole] = 0;

	ag_val_deinit(&e->key);
	e->key.data = NULL;
	e->key.len = 0;
	t->count--;
	while (t->used > 0 && t->entries[t->used - 1].key.data == NULL)
		t->used--;
}

ag_entry *ag_table_last(ag_table *t)
{
	/* Removal trims trailing dead entries, so the last one is live. */
	if (t->used == 0)
		return NULL;
	return &t->entries[t->used - 1];
}
