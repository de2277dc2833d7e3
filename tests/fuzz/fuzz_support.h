/*
 * fuzz_support.h - what the fuzz targets of tests/fuzz share.
 *
 * A cursor that hands out the fuzz input a byte or a slice at a time (and
 * zeros once it runs dry, so a target never has to check), the authkey the
 * targets' servers use, and the nonce those servers see: the targets are
 * linked with -Wl,--wrap=ag_nonce, so that every nonce (the server's
 * snonce, its hash seed) is the fixed FUZZ_NONCE_BYTE pattern. That makes
 * each input replay the same way, and lets a target compute a valid client
 * proof for the handshake, as a real client would.
 *
 * Each target's entry point is FUZZ_ENTRY: LLVMFuzzerTestOneInput for
 * libFuzzer, renamed by -DFUZZ_ENTRY=... when tests/unit/test_fuzz_regress
 * links the targets into one binary to replay the inputs that once
 * crashed them.
 */
#ifndef AG_FUZZ_SUPPORT_H
#define AG_FUZZ_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include "ag_proto.h"

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

#define FUZZ_KEY "agora fuzzing key, 32 bytes long"
#define FUZZ_KEYLEN (sizeof(FUZZ_KEY) - 1)
#define FUZZ_NONCE_BYTE 0x5a

/* The fuzz input, consumed from the front. */
typedef struct fz {
	const uint8_t *p;
	size_t n;
} fz;

/* The next byte, or 0 when the input is used up. */
uint8_t fz_u8(fz *f);
/* The next @want bytes (fewer when fewer are left): *ret_len says how many.
 * Points into the input. */
const uint8_t *fz_take(fz *f, size_t want, size_t *ret_len);

/* The wrapped ag_nonce(): FUZZ_NONCE_BYTE repeated. */
int __wrap_ag_nonce(uint8_t nonce[AG_NONCE_LEN]);

#endif
