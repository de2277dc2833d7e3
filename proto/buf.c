/*
 * buf.c - a growable byte buffer, also the sink of msgpack packers.
 */
#include <stdlib.h>
#include <string.h>

#include "ag_proto.h"

void ag_buf_init(ag_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void ag_buf_deinit(ag_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

int ag_buf_append(ag_buf *b, const void *data, size_t len)
{
	if (len > b->cap - b->len) {
		/* Double (amortized O(1) appends), or take just what one
		 * large append needs: a 12 MiB answer then holds 12 MiB, not
		 * the 16 that doubling would reach. */
		size_t cap = b->cap ? b->cap : 256;
		if (len > SIZE_MAX - b->len || cap > SIZE_MAX / 2) {
			b->oom = true;
			return AGORA_ENOMEM;
		}
		cap *= 2;
		if (cap < b->len + len)
			cap = b->len + len;
		char *p = realloc(b->data, cap);
		if (p == NULL) {
			b->oom = true;
			return AGORA_ENOMEM;
		}
		b->data = p;
		b->cap = cap;
	}
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

/* A packer writes an object as many pieces of 1, 2, 3, 5 or 9 bytes (a
 * header and its payload); those are copied with fixed-size copies that the
 * compiler inlines, rather than a call to memcpy each. */
int ag_buf_write(void *data, const char *buf, size_t len)
{
	ag_buf *b = data;
	char *p;

	if (len > 9 || len > b->cap - b->len)
		return ag_buf_append(b, buf, len) == 0 ? 0 : -1;
	p = b->data + b->len;
	switch (len) {
	case 1:
		p[0] = buf[0];
		break;
	case 2:
		memcpy(p, buf, 2);
		break;
	case 3:
		memcpy(p, buf, 3);
		break;
	case 5:
		memcpy(p, buf, 5);
		break;
	case 9:
		memcpy(p, buf, 9);
		break;
	default:
		if (len > 0)
			memcpy(p, buf, len);
		break;
	}
	b->len += len;
	return 0;
}
