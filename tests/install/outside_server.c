/*
 * outside_server.c - a program built outside the tree against the
 * installed server library (agora-server.pc): it creates a server on the
 * Unix socket given as argv[1], checks the address it reports, and frees
 * it. Prints "outside_server: ok" and exits 0 when all is right.
 */
#include <stdio.h>
#include <string.h>

#include <agora_server.h>

int main(int argc, char **argv)
{
	static const char key[] = "0123456789abcdef0123456789abcdef";
	const char *listen[1];
	agora_server_config cfg;
	agora_server *s;
	const char *addr;
	char err[256];
	int rc;

	if (argc != 2)
		return 2;
	listen[0] = argv[1];
	memset(&cfg, 0, sizeof(cfg));
	cfg.listen = listen;
	cfg.nlisten = 1;
	cfg.key = key;
	cfg.keylen = sizeof(key) - 1;
	rc = agora_server_new(&cfg, &s, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "outside_server: %s\n", err);
		return 1;
	}
	addr = agora_server_address(s, 0);
	if (!addr || strcmp(addr, argv[1]) != 0 ||
	    agora_server_address(s, 1) != NULL) {
		fprintf(stderr, "outside_server: wrong address %s\n",
			addr ? addr : "(null)");
		agora_server_free(s);
		return 1;
	}
	agora_server_free(s);
	printf("outside_server: ok\n");
	return 0;
}
