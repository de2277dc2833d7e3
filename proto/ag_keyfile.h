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

/* ---- where a client's address and key come from ---------------------------
 *
 * One order for every client, libagora's agora_client_connect_env() and
 * agora(1) alike (docs/api.md, "Where the address and the key come from"):
 *   address: the program's own option (agora --address), else
 *            AGORA_ADDRESS, else agorad's default address
 *            (ag_default_address());
 *   key:     the program's own option (agora --authkey-file), else the
 *            file AGORA_AUTHKEY_FILE names, else the bytes of
 *            AGORA_AUTHKEY;
 *   user:    the program's own (agora --user, agora_client_set_user()),
 *            else AGORA_USER, else none (the server's default user).
 * An empty variable counts as unset.
 */

/* The size of an address buffer: "unix:" and a path. */
#define AG_ADDRESS_MAX 4200

/*
 * agorad's default address, worked out as agorad does but creating
 * nothing: "unix:$XDG_RUNTIME_DIR/agora.sock" when XDG_RUNTIME_DIR is an
 * absolute path, else "unix:/tmp/agora-$UID/agora.sock". Returns 0, or
 * AGORA_EINVAL when it does not fit @len bytes.
 */
int ag_default_address(char *buf, size_t len);

/* Where a client connects to, and with which key. */
struct ag_endpoint {
	const char *address;      /* points into the environment, an option or
				     addrbuf */
	const char *address_from; /* "--address", "AGORA_ADDRESS" or
				     "agorad's default" */
	uint8_t *key;             /* malloc'ed; ag_endpoint_clear() */
	size_t keylen;
	const char *key_from; /* "--authkey-file", "AGORA_AUTHKEY_FILE" or
				 "AGORA_AUTHKEY" */
	/* AGORA_USER (in the environment), or NULL; the program's own
	 * option goes first. */
	const char *user;
	char addrbuf[AG_ADDRESS_MAX];
};

/*
 * Fill @e by the order above; @address_opt and @keyfile_opt (each may be
 * NULL) are the program's own options, named "--address" and
 * "--authkey-file". Returns 0; AGORA_EINVAL when no key is given anywhere
 * (the sentence names every place looked at) or the key is empty; AGORA_EIO
 * when the key file cannot be read (ag_keyfile_read()'s sentence, with
 * where its path came from); AGORA_ENOMEM. On failure @e holds no key and
 * @err says why.
 */
int ag_endpoint_resolve(struct ag_endpoint *e, const char *address_opt,
			const char *keyfile_opt, char *err, size_t errlen);

/* Wipe and free @e's key. */
void ag_endpoint_clear(struct ag_endpoint *e);

#endif
