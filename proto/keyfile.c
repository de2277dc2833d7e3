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
