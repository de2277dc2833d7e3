/*
 * log.c - the server's log lines: one line per event, each beginning with
 * its level ("error: ", "warning: ", "info: ", "debug: "), only those at
 * or above the server's log_level; the limit on those a client without
 * the key could make it repeat at will: at most one a second for each
 * cause, the next line saying how many were left out; and the words that
 * name what a line is about (an object, why a connection ended).
 *
 * No line ever holds key material: callers format ids, peers, names and
 * static sentences only. Object names are a client's bytes: they are
 * escaped here (ag_object_label()), so that no name can forge a line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define LOG_LIMIT_MS 1000
#define LOG_LINE_MAX 512
/* The bytes of an object's name a line shows at most. */
#define LOG_NAME_MAX 128

static const char *level_name(int level)
{
	switch (level) {
	case AGORA_LOG_ERROR:
		return "error";
	case AGORA_LOG_WARNING:
		return "warning";
	case AGORA_LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

/* Format the line "LEVEL: " + @fmt into @line; its length, or -1. */
static int format_line(char *line, size_t len, int level, const char *fmt,
		       va_list ap)
{
	int head = snprintf(line, len, "%s: ", level_name(level));
	int n = vsnprintf(line + head, len - (size_t)head, fmt, ap);

	if (n < 0)
		return -1;
	return head + n;
}

void ag_server_logf(ag_server *s, int level, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;

	if (!ag_server_logs(s, level))
		return;
	va_start(ap, fmt);
	format_line(line, sizeof(line), level, fmt, ap);
	va_end(ap);
	s->log(s->log_ud, line);
}

int64_t ag_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ag_server_logf_limited(ag_server *s, int level, enum ag_logcause cause,
			    const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;
	int64_t now;
	__typeof__(s->loglim[0]) *l = &s->loglim[cause];

	if (!ag_server_logs(s, level))
		return;
	now = ag_mono_ms();
	if (l->last_ms != 0 && now - l->last_ms < LOG_LIMIT_MS) {
		l->suppressed++;
		return;
	}
	va_start(ap, fmt);
	int n = format_line(line, sizeof(line), level, fmt, ap);
	va_end(ap);
	if (l->suppressed > 0 && n >= 0 && (size_t)n < sizeof(line))
		snprintf(line + n, sizeof(line) - (size_t)n,
			 " (%llu more suppressed)",
			 (unsigned long long)l->suppressed);
	l->last_ms = now > 0 ? now : 1;
	l->suppressed = 0;
	s->log(s->log_ud, line);
}

void ag_conn_end_why(ag_conn *c, const char *why)
{
	if (c->end_why == NULL)
		c->end_why = why;
}

const char *ag_conn_why(const ag_conn *c)
{
	return c->end_why != NULL ? c->end_why : "closed";
}

const char *ag_object_label(const ag_object *o, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char name[4 * LOG_NAME_MAX + 4];
	size_t n = 0, i = 0;

	if (o->name == NULL) {
		snprintf(buf, len, "%s (anonymous, id %llu)", o->fam->name,
			 (unsigned long long)o->id);
		return buf;
	}
	/* Printable ASCII as it is, the rest as \xNN, quotes escaped. */
	for (const unsigned char *p = (const unsigned char *)o->name;
	     *p != '\0'; p++, i++) {
		if (i == LOG_NAME_MAX) {
			memcpy(name + n, "...", 3);
			n += 3;
			break;
		}
		if (*p >= 0x20 && *p < 0x7f && *p != '\'' && *p != '\\') {
			name[n++] = (char)*p;
		} else {
			name[n++] = '\\';
			name[n++] = 'x';
			name[n++] = hex[*p >> 4];
			name[n++] = hex[*p & 15];
		}
	}
	name[n] = '\0';
	snprintf(buf, len, "%s '%s' (id %llu)", o->fam->name, name,
		 (unsigned long long)o->id);
	return buf;
}
