/*
 * remote.c - a client on another host, over TCP. On the server host:
 *
 *     agorad --listen tcp:0.0.0.0:7070 --authkey-file /etc/agora/authkey
 *
 * and on this one, with a copy of the key (mode 0600):
 *
 *     ./remote tcp:server.example:7070 ~/.config/agora/authkey
 *
 * It connects with the address and key given (no environment), checks
 * the server answers, and signs the guest book: a list of host names.
 * Exits 0 when its entry is in the list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <agora.h>

/* The key: the file's bytes, less one trailing newline (as agorad reads
 * it). Returns its length, or 0 on error. */
static size_t read_key(const char *path, unsigned char *key, size_t size)
{
	FILE *f = fopen(path, "rb");
	size_t len;

	if (!f) {
		perror(path);
		return 0;
	}
	len = fread(key, 1, size, f);
	fclose(f);
	if (len > 0 && key[len - 1] == '\n')
		len--;
	return len;
}

int main(int argc, char **argv)
{
	unsigned char key[1024];
	char host[256];
	agora_client *c;
	agora_list *book;
	int64_t count = 0;
	size_t keylen;

	if (argc != 3) {
		fprintf(stderr, "usage: remote tcp:HOST:PORT KEYFILE\n");
		return 2;
	}
	keylen = read_key(argv[2], key, sizeof(key));
	if (keylen == 0 || gethostname(host, sizeof(host)) < 0)
		return 1;
	host[sizeof(host) - 1] = '\0';

	c = agora_client_new();
	/* AGORA_EIO: unreachable; AGORA_EAUTH: not the server's key. */
	if (agora_client_connect(c, argv[1], key, keylen) < 0) {
		fprintf(stderr, "remote: %s\n", agora_errmsg(c));
		return 1;
	}
	printf("connected to %s at %s\n", agora_server_version(c), argv[1]);

	agora_client_set_sticky(c, true);
	agora_list_open(c, "guestbook", &book);
	agora_list_append(book, agora_str(host));
	agora_list_count(book, agora_str(host), &count);
	printf("%s signed the guest book (%lld time(s))\n", host,
	       (long long)count);

	agora_list_close(book);
	if (agora_client_error(c) < 0)
		fprintf(stderr, "remote: %s\n", agora_errmsg(c));
	agora_client_free(c);
	return count >= 1 ? 0 : 1;
}
