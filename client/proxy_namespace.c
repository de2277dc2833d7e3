/*
 * proxy_namespace.c - agora_namespace: a proxy for a shared namespace
 * (multiprocessing's Namespace: attributes by name) in the server.
 *
 * One function per method of protocol section 3.1 ("namespace.METHOD",
 * handle first), each one round trip through the ag_proxy helpers
 * (internal.h). Attribute names are NUL-terminated C strings and travel as
 * str.
 */
#include <stdlib.h>

#include "internal.h"

/* Open the namespace @name (get-or-create, empty when new), or a new
 * anonymous one for NULL. */
int agora_namespace_open(agora_client *c, const char *name,
			 agora_namespace **ret)
{
	return ag_proxy_open(c, ret, sizeof(**ret), "namespace", name, NULL, 0);
}

/* AGORA_EINVAL, with the message set, for a NULL @attr. */
static int check_attr(const agora_namespace *ns, const char *method,
		      const char *attr)
{
	if (attr == NULL)
		return ag_client_fail(ns->p.c, AGORA_EINVAL,
				      "namespace.%s needs an attribute name",
				      method);
	return 0;
}

int agora_namespace_get(agora_namespace *ns, const char *attr, agora_value *ret)
{
	agora_value arg;
	int rc;

	if (ns == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&ns->p, "get");
	rc = check_attr(ns, "get", attr);
	if (rc < 0)
		return rc;
	arg = agora_str(attr);
	return ag_proxy_call_value(&ns->p, "get", &arg, 1, ret);
}

int agora_namespace_set(agora_namespace *ns, const char *attr, agora_value v)
{
	agora_value args[2];
	int rc;

	if (ns == NULL)
		return AGORA_EINVAL;
	rc = check_attr(ns, "set", attr);
	if (rc < 0)
		return rc;
	args[0] = agora_str(attr);
	args[1] = v;
	return ag_proxy_call_value(&ns->p, "set", args, 2, NULL);
}

int agora_namespace_delete(agora_namespace *ns, const char *attr)
{
	agora_value arg;
	int rc;

	if (ns == NULL)
		return AGORA_EINVAL;
	rc = check_attr(ns, "delete", attr);
	if (rc < 0)
		return rc;
	arg = agora_str(attr);
	return ag_proxy_call_value(&ns->p, "delete", &arg, 1, NULL);
}

int agora_namespace_items(agora_namespace *ns, agora_value *ret)
{
	if (ns == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&ns->p, "items");
	return ag_proxy_call_value(&ns->p, "items", NULL, 0, ret);
}
