/*
 * persist.c - the journal of a server with a data directory (stub: being
 * written).
 */
#include "internal.h"

msgpack_packer *ag_journal_call(ag_server *s, ag_object *o, const char *method,
				uint32_t nparams)
{
	(void)s;
	(void)o;
	(void)method;
	(void)nparams;
	return NULL;
}

void ag_journal_end(ag_server *s)
{
	(void)s;
}

void ag_persist_touch(ag_object *o)
{
	(void)o;
}

void ag_persist_new(ag_object *o)
{
	(void)o;
}

bool ag_persist_on(const ag_server *s)
{
	(void)s;
	return false;
}

bool ag_persist_loading(const ag_server *s)
{
	(void)s;
	return false;
}

msgpack_packer *ag_save_call(ag_save *sv, ag_object *o, const char *method,
			     uint32_t nparams)
{
	(void)sv;
	(void)o;
	(void)method;
	(void)nparams;
	return NULL;
}

int ag_save_end(ag_save *sv)
{
	(void)sv;
	return 0;
}
