/*
 * types.c - the families of objects the server offers, by wire name.
 */
#include <string.h>

#include "internal.h"

static const ag_family *const families[] = {
	&ag_family_list,
	&ag_family_dict,
	&ag_family_queue,
	&ag_family_joinable_queue,
	&ag_family_value,
	&ag_family_array,
	&ag_family_namespace,
	&ag_family_lock,
	&ag_family_rlock,
	&ag_family_semaphore,
	&ag_family_bounded_semaphore,
	&ag_family_condition,
	&ag_family_event,
	&ag_family_barrier,
	NULL,
};

const ag_family *const *ag_families(void)
{
	return families;
}

const ag_family *ag_family_by_name(const char *name, size_t len)
{
	for (const ag_family *const *f = families; *f; f++)
		if (strlen((*f)->name) == len &&
		    memcmp((*f)->name, name, len) == 0)
			return *f;
	return NULL;
}
