/*
 * log.c - the server's log lines, and the limit on those a client without
 * the key could make it repeat at will: at most one a second for each
 * cause, the next line saying how many were left out.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "internal.h"

#define LOG_LIMIT_MS 1000

void ag_server_logf(ag_server *s, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (s->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	s->log(s->log_ud, line);
}

int64_t ag_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ag_server_logf_limited(ag_server *s, enum ag_logcause cause,
			    const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int64_t now = ag_mono_ms();
	__typeof__(s->loglim[0]) *l = &s->loglim[cause];

	if (s->log == NULL)
		return;
	if (l->last_ms != 0 && now - l->last_ms < LOG_LIMIT_MS) {
		l->suppressed++;
		return;
	}
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (l->suppressed > 0 && n >= 0 && (size_t)n < sizeof(line))
		snprintf(line + n, sizeof(line) - (size_t)n,
			 " (%llu more suppressed)",
			 (unsigned long long)l->suppressed);
	l->last_ms = now > 0 ? now : 1;
	l->suppressed = 0;
	s->log(s->log_ud, line);
}
