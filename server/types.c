/*
 * types.c - the families of objects the server offers, by wire name: one
 * for each row of AGORA_TYPES (include/agora.h), named ag_family_<wire>
 * and defined in server/obj_<wire>.c (or the file of the type it extends).
 */
#include <string.h>

#include "internal.h"

/* In the order of AGORA_TYPES (agora.h), the one list of types. */
#define AG_FAMILY_ROW(wire, ctype, proxy) &ag_family_##wire,
static const ag_family *const families[] = {
	AGORA_TYPES(AG_FAMILY_ROW) NULL,
};
#undef AG_FAMILY_ROW

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
