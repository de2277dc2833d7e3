/*
 * ag_keyfile.h - the one reader of authkey files (keyfile.c), shared by
 * agorad, libagora (agora_client_connect_env()) and agora(1), so that a key
 * file works for all three or for none of them. Never installed.
 *
 * The rules, for everyone (docs/security.md, "Key files"):
 *   - the path names a regular file (not a pipe, a device or a directory);
 *   - the file is at most AG_KEYFILE_MAX bytes;
 *   - the key is the file's bytes less one trailing newline (ag_key_trim()),
 *     and is not empty.
 * With AG_KEYFILE_SERVER, for the server's own key (agorad), also:
 *   - group and others have no access to the file (no bit of 077 in its
 *     mode), so that the message names the chmod to run;
 *   - the key is at least AG_KEY_MIN bytes, as agora_server_new() demands.
 */
#ifndef AG_KEYFILE_H
#define AG_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#include "agora_errors.h"

/* The largest key file, in bytes. A key is 16 to a few hundred bytes (the
 * manager writes 32): a larger file is the wrong file. */
#define AG_KEYFILE_MAX ((size_t)4096)
/* The shortest key a server takes. */
#define AG_KEY_MIN ((size_t)16)

/* The rules of the server's own key file; see above. */
#define AG_KEYFILE_SERVER 0x1u

/*
 * Read the key in the file @path by the rules above (@flags: 0 or
 * AG_KEYFILE_SERVER). On 0, *ret is a malloc'ed copy of the key (its bytes,
 * not NUL-terminated) and *ret_len its length (at least 1); give it back
 * with ag_keyfile_free(). Returns 0; AGORA_EIO when the file cannot be
 * opened or read, is not a regular file, is too large, or (for the server)
 * is open to group or others; AGORA_EINVAL when the key is empty (or, for
 * the server, too short); AGORA_ENOMEM. On failure nothing is written but
 * @err: a sentence that names @path and says why (no program name, no
 * trailing period), truncated to @errlen bytes. Blocks on the file system
 * only: a pipe is refused, not waited on.
 */
int ag_keyfile_read(const char *path, unsigned flags, uint8_t **ret,
		    size_t *ret_len, char *err, size_t errlen);

/* Wipe the @len bytes of @key and free it. Accepts NULL. */
void ag_keyfile_free(uint8_t *key, size_t len);

#endif
