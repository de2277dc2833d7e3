/*
 * keyfile.c - read an authkey file by the rules of ag_keyfile.h.
 *
 * The file is opened without blocking (a pipe with no writer would hang the
 * open), checked with fstat() on the open descriptor (no race between the
 * check and the read), then read into a buffer one byte larger than the
 * limit, so that a file that grew after fstat() is still caught. A buffer
 * that held key bytes is wiped before it is freed, whatever the outcome.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ag_keyfile.h"
#include "ag_proto.h"

void ag_keyfile_free(uint8_t *key, size_t len)
{
	if (key == NULL)
		return;
	explicit_bzero(key, len);
	free(key);
}

/*
 * Read all of @fd into @buf, at most @cap bytes: the count in *ret_len.
 * 0, or an errno value. Stops at @cap, so a count of @cap means "maybe more".
 */
static int read_all(int fd, uint8_t *buf, size_t cap, size_t *ret_len)
{
	size_t len = 0;

	while (len < cap) {
		ssize_t n = read(fd, buf + len, cap - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*ret_len = len;
	return 0;
}

int ag_keyfile_read(const char *path, unsigned flags, uint8_t **ret,
		    size_t *ret_len, char *err, size_t errlen)
{
	bool server = (flags & AG_KEYFILE_SERVER) != 0;
	struct stat st;
	uint8_t *buf;
	size_t len = 0;
	int fd, e;

	if (path == NULL || ret == NULL || ret_len == NULL)
		return ag_errf(err, errlen, AGORA_EINVAL,
			       "no authkey file given");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return ag_errf(err, errlen, AGORA_EIO,
			       "cannot read the authkey file %s: %s", path,
			       strerror(errno));
	if (fstat(fd, &st) < 0) {
		e = errno;
		close(fd);
		return ag_errf(err, errlen, AGORA_EIO,
			       "cannot read the authkey file %s: %s", path,
			       strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return ag_errf(err, errlen, AGORA_EIO,
			       "the authkey file %s is not a regular file",
			       path);
	}
	if (server && (st.st_mode & 077) != 0) {
		close(fd);
		return ag_errf(err, errlen, AGORA_EIO,
			       "the authkey file %s is readable by group or "
			       "others (mode %04o); run: chmod 600 %s",
			       path, (unsigned)(st.st_mode & 07777), path);
	}
	if ((uintmax_t)st.st_size > AG_KEYFILE_MAX) {
		close(fd);
		return ag_errf(err, errlen, AGORA_EIO,
			       "the authkey file %s is larger than %zu bytes",
			       path, AG_KEYFILE_MAX);
	}
	buf = malloc(AG_KEYFILE_MAX + 1);
	if (buf == NULL) {
		close(fd);
		return ag_errf(err, errlen, AGORA_ENOMEM,
			       "out of memory reading the authkey file %s",
			       path);
	}
	e = read_all(fd, buf, AG_KEYFILE_MAX + 1, &len);
	close(fd);
	if (e != 0 || len > AG_KEYFILE_MAX) {
		ag_keyfile_free(buf, AG_KEYFILE_MAX + 1);
		if (e != 0)
			return ag_errf(err, errlen, AGORA_EIO,
				       "cannot read the authkey file %s: %s",
				       path, strerror(e));
		return ag_errf(err, errlen, AGORA_EIO,
			       "the authkey file %s is larger than %zu bytes",
			       path, AG_KEYFILE_MAX);
	}
	len = ag_key_trim((const char *)buf, len);
	if (len == 0 || (server && len < AG_KEY_MIN)) {
		ag_keyfile_free(buf, AG_KEYFILE_MAX + 1);
		if (len == 0)
			return ag_errf(err, errlen, AGORA_EINVAL,
				       "the authkey file %s is empty", path);
		return ag_errf(err, errlen, AGORA_EINVAL,
			       "the authkey in %s is %zu bytes; it must be at "
			       "least %zu",
			       path, len, AG_KEY_MIN);
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* ---- the address and key of a client ------------------------------------- */

int ag_default_address(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (xdg != NULL && xdg[0] == '/')
		n = snprintf(buf, len, "unix:%s/agora.sock", xdg);
	else
		n = snprintf(buf, len, "unix:/tmp/agora-%u/agora.sock",
			     (unsigned)getuid());
	return n > 0 && (size_t)n < len ? 0 : AGORA_EINVAL;
}

/* The variable @name, or NULL when it is unset or empty. */
static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

int ag_endpoint_resolve(struct ag_endpoint *e, const char *address_opt,
			const char *keyfile_opt, char *err, size_t errlen)
{
	const char *file = NULL, *keyvar;
	char why[512];
	int rc;

	memset(e, 0, sizeof(*e));
	e->user = env("AGORA_USER");
	if (address_opt != NULL) {
		e->address = address_opt;
		e->address_from = "--address";
	} else if ((e->address = env("AGORA_ADDRESS")) != NULL) {
		e->address_from = "AGORA_ADDRESS";
	} else {
		if (ag_default_address(e->addrbuf, sizeof(e->addrbuf)) < 0)
			return ag_errf(err, errlen, AGORA_EINVAL,
				       "XDG_RUNTIME_DIR is too long for an "
				       "address");
		e->address = e->addrbuf;
		e->address_from = "agorad's default";
	}

	if (keyfile_opt != NULL) {
		file = keyfile_opt;
		e->key_from = "--authkey-file";
	} else if ((file = env("AGORA_AUTHKEY_FILE")) != NULL) {
		e->key_from = "AGORA_AUTHKEY_FILE";
	}
	if (file != NULL) {
		rc = ag_keyfile_read(file, 0, &e->key, &e->keylen, why,
				     sizeof(why));
		if (rc < 0)
			return ag_errf(err, errlen, rc, "%s (%s)", why,
				       e->key_from);
		return 0;
	}
	if ((keyvar = env("AGORA_AUTHKEY")) == NULL)
		return ag_errf(err, errlen, AGORA_EINVAL,
			       "no authkey: neither AGORA_AUTHKEY_FILE nor "
			       "AGORA_AUTHKEY is set");
	e->keylen = strlen(keyvar);
	e->key = malloc(e->keylen);
	if (e->key == NULL)
		return ag_errf(err, errlen, AGORA_ENOMEM, "out of memory");
	memcpy(e->key, keyvar, e->keylen);
	e->key_from = "AGORA_AUTHKEY";
	return 0;
}

void ag_endpoint_clear(struct ag_endpoint *e)
{
	ag_keyfile_free(e->key, e->keylen);
	e->key = NULL;
	e->keylen = 0;
}
