/*
 * fuzz_support.c - the input cursor and the fixed nonce of fuzz_support.h.
 */
#include <string.h>

#include "fuzz_support.h"

uint8_t fz_u8(fz *f)
{
	if (f->n == 0)
		return 0;
	f->n--;
	return *f->p++;
}

const uint8_t *fz_take(fz *f, size_t want, size_t *ret_len)
{
	const uint8_t *p = f->p;

	if (want > f->n)
		want = f->n;
	f->p += want;
	f->n -= want;
	*ret_len = want;
	return p;
}

int __wrap_ag_nonce(uint8_t nonce[AG_NONCE_LEN])
{
	memset(nonce, FUZZ_NONCE_BYTE, AG_NONCE_LEN);
	return 0;
}
