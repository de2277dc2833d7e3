/*
 * test_env.c - where clients find the server: one order for
 * agora_client_connect_env() and the agora tool (docs/api.md, "Where the
 * address and the key come from"), and a manager that children and an
 * `agora` command started by the program reach through the environment.
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agora_server.h"
#include "harness.h"

extern char **environ;

/* Run @argv with this process's environment; its stdout (at most @len - 1
 * bytes) into @out. Returns what agh_wait_pid() does: its exit status. */
static int run(char *const argv[], char *out, size_t len)
{
	posix_spawn_file_actions_t fa;
	int p[2], status = 0;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	ck_assert_int_eq(pipe(p), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	ck_assert_int_eq(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ),
			 0);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	while (got < len - 1 && (n = read(p[0], out + got, len - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(p[0]);
	status = agh_wait_pid(pid, AGH_WORKER_TIMEOUT);
	return status;
}

/* ---- agora_client_connect_env() ---- */

/* A plain agorad listens on unix:$XDG_RUNTIME_DIR/agora.sock: a client
 * with no AGORA_ADDRESS finds it there, as the agora tool does. */
START_TEST(connect_env_without_address_uses_agorads_default)
{
	agh_server s;
	agora_client *c = agora_client_new();
	char *old_xdg = getenv("XDG_RUNTIME_DIR");
	char saved[512] = "";

	if (old_xdg != NULL)
		snprintf(saved, sizeof(saved), "%s", old_xdg);
	agh_server_start(&s);
	/* The harness's socket is DIR/agora.sock: with XDG_RUNTIME_DIR=DIR it
	 * is the default address. */
	ck_assert_int_eq(setenv("XDG_RUNTIME_DIR", s.dir, 1), 0);
	ck_assert_int_eq(unsetenv("AGORA_ADDRESS"), 0);

	AGH_OK(c, agora_client_connect_env(c));
	AGH_OK(c, agora_ping(c));
	agora_client_free(c);

	/* Nothing listens at the default: the message says it was the
	 * default, and which variable would have changed it. */
	agh_server_stop(&s);
	ck_assert_int_eq(setenv("AGORA_AUTHKEY", "a key nobody holds", 1), 0);
	c = agora_client_new();
	ck_assert_int_eq(agora_client_connect_env(c), AGORA_EIO);
	ck_assert_msg(strstr(agora_errmsg(c), "AGORA_ADDRESS is not set"),
		      "message: %s", agora_errmsg(c));
	agora_client_free(c);
	unsetenv("AGORA_AUTHKEY");
	if (old_xdg != NULL)
		setenv("XDG_RUNTIME_DIR", saved, 1);
	else
		unsetenv("XDG_RUNTIME_DIR");
}
END_TEST

START_TEST(connect_env_without_key_names_both_variables)
{
	agora_client *c = agora_client_new();

	unsetenv("AGORA_AUTHKEY_FILE");
	unsetenv("AGORA_AUTHKEY");
	ck_assert_int_eq(setenv("AGORA_ADDRESS", "unix:/nonexistent/x", 1), 0);
	ck_assert_int_eq(agora_client_connect_env(c), AGORA_EINVAL);
	ck_assert_msg(strstr(agora_errmsg(c), "AGORA_AUTHKEY_FILE") &&
			  strstr(agora_errmsg(c), "AGORA_AUTHKEY "),
		      "message: %s", agora_errmsg(c));
	/* An empty variable is unset. */
	ck_assert_int_eq(setenv("AGORA_AUTHKEY", "", 1), 0);
	ck_assert_int_eq(agora_client_connect_env(c), AGORA_EINVAL);
	unsetenv("AGORA_AUTHKEY");
	unsetenv("AGORA_ADDRESS");
	agora_client_free(c);
}
END_TEST

/* ---- the manager in the environment ---- */

static int worker_sets(agora_client *c, int idx, void *arg)
{
	agora_var *v;

	(void)arg;
	AGH_WCALL(c, agora_var_open(c, "from-child", agora_int(0), &v));
	AGH_WCALL(c, agora_var_set(v, agora_int(100 + idx)));
	AGH_WCALL(c, agora_var_close(v));
	return 0;
}

/* What the program's children and an `agora` command it runs see: the
 * manager's server, through AGORA_ADDRESS and AGORA_AUTHKEY_FILE. */
START_TEST(manager_is_reached_by_children_and_by_the_agora_tool)
{
	const char *cli = getenv("AGORA_CLI");
	agora_manager *m;
	agora_var *v;
	char err[256], out[8192];
	int64_t got = 0;

	if (cli == NULL || *cli == '\0') {
		/* A build without the tool (-Dcli=disabled, no jansson). */
		fprintf(stderr, "test_env: no agora tool built: its part of "
				"this test is skipped\n");
		cli = NULL;
	}
	unsetenv("AGORA_ADDRESS");
	unsetenv("AGORA_AUTHKEY_FILE");
	int rc = agora_manager_start(&m, err, sizeof(err));
	ck_assert_msg(rc == 0, "agora_manager_start: %s", err);
	ck_assert_str_eq(getenv("AGORA_ADDRESS"), agora_manager_address(m));
	ck_assert_str_eq(getenv("AGORA_AUTHKEY_FILE"),
			 agora_manager_authkey_file(m));

	agora_client *c = agora_manager_client(m);
	AGH_OK(c, agora_var_open(c, "from-child", agora_int(0), &v));
	agh_run_workers(1, worker_sets, NULL, NULL);
	AGH_OK(c, agora_var_get_int(v, &got));
	ck_assert_int_eq(got, 100);

	/* `agora get from-child` run by the program, with no option. */
	char *argv[] = { (char *)cli, (char *)"get", (char *)"from-child",
			 NULL };
	if (cli != NULL) {
		ck_assert_int_eq(run(argv, out, sizeof(out)), 0);
		ck_assert_msg(strcmp(out, "100\n") == 0,
			      "agora get printed \"%s\"", out);
	}

	AGH_OK(c, agora_var_close(v));
	ck_assert_int_eq(agora_manager_shutdown(m), 0);
	ck_assert_ptr_null(getenv("AGORA_ADDRESS"));
	ck_assert_ptr_null(getenv("AGORA_AUTHKEY_FILE"));
}
END_TEST

/* AGORA_MANAGER_NO_ENV: the environment is left as it was, before and
 * after; the manager still says where it is. */
START_TEST(manager_no_env_leaves_the_environment_alone)
{
	agora_manager *m;
	char err[256];

	ck_assert_int_eq(setenv("AGORA_ADDRESS", "unix:/elsewhere.sock", 1), 0);
	unsetenv("AGORA_AUTHKEY_FILE");
	int rc =
	    agora_manager_start_ex(&m, AGORA_MANAGER_NO_ENV, err, sizeof(err));
	ck_assert_msg(rc == 0, "agora_manager_start_ex: %s", err);
	ck_assert_str_eq(getenv("AGORA_ADDRESS"), "unix:/elsewhere.sock");
	ck_assert_ptr_null(getenv("AGORA_AUTHKEY_FILE"));
	ck_assert(strncmp(agora_manager_address(m), "unix:", 5) == 0);
	ck_assert(agh_path_exists(agora_manager_authkey_file(m)));

	agora_client *c = agora_manager_client(m);
	AGH_OK(c, agora_ping(c));
	ck_assert_int_eq(agora_manager_shutdown(m), 0);
	ck_assert_str_eq(getenv("AGORA_ADDRESS"), "unix:/elsewhere.sock");
	unsetenv("AGORA_ADDRESS");

	/* An unknown flag is refused, naming it. */
	ck_assert_int_eq(agora_manager_start_ex(&m, 0x80, err, sizeof(err)),
			 AGORA_EINVAL);
	ck_assert_msg(strstr(err, "0x80"), "message: %s", err);
}
END_TEST

/* ---- users: agora_client_set_user() and AGORA_USER ---- */

/* The worker's key: printable, so that AGORA_AUTHKEY can carry it. */
#define WORKER_KEY "the worker's key, 32 bytes long."

START_TEST(connect_env_names_the_user_of_agora_user)
{
	char dir[] = "/tmp/agora-env-users-XXXXXX", users[96], line[256];
	const char *args[] = { "--users", users, NULL };
	agh_server s;
	agora_list *l;
	agora_client *c;
	FILE *fp;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(users, sizeof(users), "%s/users", dir);
	line[0] = '\0';
	for (size_t i = 0; i < strlen(WORKER_KEY); i++)
		snprintf(line + 2 * i, 3, "%02x", (unsigned char)WORKER_KEY[i]);
	fp = fopen(users, "w");
	ck_assert_ptr_nonnull(fp);
	fprintf(fp, "worker key=%s rights=read,write names=jobs.*\n", line);
	fclose(fp);
	ck_assert_int_eq(chmod(users, 0600), 0);
	agh_server_start_args(&s, args);
	ck_assert_int_eq(setenv("AGORA_ADDRESS", s.address, 1), 0);
	ck_assert_int_eq(setenv("AGORA_AUTHKEY", WORKER_KEY, 1), 0);
	ck_assert_int_eq(unsetenv("AGORA_AUTHKEY_FILE"), 0);

	/* AGORA_USER names the user; its rights hold. */
	ck_assert_int_eq(setenv("AGORA_USER", "worker", 1), 0);
	c = agora_client_new();
	AGH_OK(c, agora_client_connect_env(c));
	ck_assert_int_eq(agora_list_open(c, "other", &l), AGORA_EDENIED);
	ck_assert_msg(strstr(agora_errmsg(c), "\"other\"") != NULL, "%s",
		      agora_errmsg(c));
	ck_assert_int_eq(agora_list_open(c, "jobs.new", &l), AGORA_EDENIED);
	ck_assert_msg(strstr(agora_errmsg(c), "create") != NULL, "%s",
		      agora_errmsg(c));
	AGH_OK(c, agora_ping(c)); /* the connection goes on */
	agora_client_free(c);

	/* An unknown user fails as a wrong key does; the setter goes
	 * before AGORA_USER. */
	c = agora_client_new();
	AGH_OK(c, agora_client_set_user(c, "nobody"));
	ck_assert_int_eq(agora_client_connect_env(c), AGORA_EAUTH);
	ck_assert_msg(strstr(agora_errmsg(c), "no such user") != NULL, "%s",
		      agora_errmsg(c));
	ck_assert_int_eq(agora_client_set_user(c, ""), AGORA_EINVAL);
	ck_assert_int_eq(
	    agora_client_set_user(c, "a name of sixty-five bytes, one more "
				     "than a user name may have......"),
	    AGORA_EINVAL);
	AGH_OK(c, agora_client_set_user(c, "worker"));
	ck_assert_int_eq(setenv("AGORA_USER", "nobody", 1), 0);
	AGH_OK(c, agora_client_connect_env(c));
	AGH_OK(c, agora_ping(c));
	agora_client_free(c);

	unsetenv("AGORA_USER");
	unsetenv("AGORA_AUTHKEY");
	unsetenv("AGORA_ADDRESS");
	agh_server_stop(&s);
	unlink(users);
	rmdir(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("env");

	AGH_ADD_BARE(s, connect_env_without_address_uses_agorads_default);
	AGH_ADD_BARE(s, connect_env_without_key_names_both_variables);
	AGH_ADD_BARE(s, manager_is_reached_by_children_and_by_the_agora_tool);
	AGH_ADD_BARE(s, manager_no_env_leaves_the_environment_alone);
	AGH_ADD_BARE(s, connect_env_names_the_user_of_agora_user);
	return agh_run_suite(s);
}
