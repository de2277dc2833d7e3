/*
 * errors.c - names, texts and wire codes, all generated from AGORA_ERRORS.
 */
#include <stdarg.h>
#include <stdio.h>

#include "ag_proto.h"

const char *ag_error_name(int rc)
{
	switch (rc) {
#define X(name, code, text) \
	case -(code):       \
		return #name;
		AGORA_ERRORS(X)
#undef X
	default:
		return "UNKNOWN";
	}
}

const char *ag_error_text(int rc)
{
	switch (rc) {
	case 0:
		return "success";
#define X(name, code, text) \
	case -(code):       \
		return text;
		AGORA_ERRORS(X)
#undef X
	default:
		return "unknown error";
	}
}

int ag_error_wire_code(int rc)
{
	if (rc < 0 && -rc <= AGORA_WIRE_ERROR_MAX)
		return -rc;
	return 0;
}

int ag_error_from_wire(int64_t code)
{
	if (code >= 1 && code <= AGORA_WIRE_ERROR_MAX)
		return (int)-code;
	return AGORA_EPROTOCOL;
}

int ag_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}
