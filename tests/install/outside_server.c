/*
 * outside_server.c - a program built outside the tree against the
 * installed server library (agora-server.pc): it creates a server on the
 * Unix socket given as argv[1], checks the address it reports, and frees
 * it; then it starts a manager (a private server in a child process) and
 * stores and reads back a value through the manager's client (libagora,
 * which agora-server.pc requires). Prints "outside_server: ok" and exits 0
 * when all is right.
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

	agora_manager *m;
	agora_var *v;
	int64_t n = 0;
	rc = agora_manager_start(&m, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "outside_server: manager: %s\n", err);
		return 1;
	}
	rc = agora_var_open(agora_manager_client(m), "outside_server.var",
			    agora_int(7), &v);
	if (rc == 0)
		rc = agora_var_get_int(v, &n);
	if (rc < 0 || n != 7) {
		fprintf(stderr, "outside_server: var: %s\n",
			rc < 0 ? agora_strerror(rc) : "wrong value");
		agora_manager_shutdown(m);
		return 1;
	}
	agora_var_close(v);
	if (agora_manager_shutdown(m) < 0) {
		fprintf(stderr, "outside_server: the manager did not stop\n");
		return 1;
	}
	printf("outside_server: ok\n");
	return 0;
}
