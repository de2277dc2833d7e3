/*
 * utf8.c - strict UTF-8 (RFC 3629): what a name must be, and how a message
 * that quotes a client's bytes stays valid UTF-8 for strict clients.
 *
 * Valid means: no overlong form, no surrogate (U+D800..U+DFFF), nothing
 * above U+10FFFF, no stray continuation byte, no sequence cut short.
 */
#include "ag_proto.h"

/* The length of the valid sequence at @p (@n bytes there), or 0. */
static size_t seq_len(const uint8_t *p, size_t n)
{
	uint8_t c = p[0];

	if (c < 0x80)
		return 1;
	if (c < 0xc2) /* continuation byte, or an overlong 2-byte lead */
		return 0;
	if (c < 0xe0)
		return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c < 0xf0) {
		if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && p[1] < 0xa0) /* overlong */
			return 0;
		if (c == 0xed && p[1] >= 0xa0) /* surrogate */
			return 0;
		return 3;
	}
	if (c < 0xf5) {
		if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
		    (p[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && p[1] < 0x90) /* overlong */
			return 0;
		if (c == 0xf4 && p[1] >= 0x90) /* above U+10FFFF */
			return 0;
		return 4;
	}
	return 0;
}

bool ag_utf8_valid(const void *s, size_t n)
{
	const uint8_t *p = s;
	size_t i = 0;

	while (i < n) {
		size_t k = seq_len(p + i, n - i);
		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

size_t ag_utf8_fix(char *s, size_t n)
{
	uint8_t *p = (uint8_t *)s;
	size_t i = 0;

	while (i < n) {
		size_t k = seq_len(p + i, n - i);
		if (k > 0) {
			i += k;
			continue;
		}
		/* A sequence cut short at the very end (a message truncated
		 * mid-character) is dropped; any other bad byte becomes '?'. */
		uint8_t c = p[i];
		size_t want = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
		if (want > n - i) {
			bool cont = true;
			for (size_t j = i + 1; j < n; j++)
				cont = cont && (p[j] & 0xc0) == 0x80;
			if (cont) {
				n = i;
				break;
			}
		}
		p[i++] = '?';
	}
	s[n] = '\0';
	return n;
}
