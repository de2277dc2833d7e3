/*
 * restart.c - a worker that outlives a restart of agorad, as a service
 * manager does it (SIGTERM, then a new agorad on the same address with the
 * same key): with agora_client_set_reconnect(), the worker, parked in a
 * get when the server stops, connects again, opens its queues again, and
 * goes on taking jobs from the new server, told once that it restarted.
 *
 *     restart AGORAD
 *
 * The program plays the service manager: it starts AGORAD in a private
 * directory, runs the worker, feeds it jobs 1 to 3, restarts AGORAD, feeds
 * it jobs 4 to 6, then the sentinel -1. Exits 0 when all six squares came
 * back and the worker saw exactly one restart.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <agora.h>

static char dir[] = "/tmp/agora-restart.XXXXXX";
static char keyfile[64], sock[64], address[96];

/* Called after each reconnect: @restarted when the server is a new one
 * (its objects are new and empty, unless it has a data directory). */
static void on_reconnect(agora_client *c, bool restarted, void *arg)
{
	(void)c;
	if (restarted)
		++*(int *)arg;
}

static int worker(void)
{
	agora_client *c = agora_client_new();
	agora_queue *jobs, *results;
	int restarts = 0;
	int64_t n;
	int rc;

	agora_client_set_sticky(c, true);
	/* Survive a restart of agorad: reconnect for up to 30 s. */
	agora_client_set_reconnect(c, 30, on_reconnect, &restarts);
	agora_client_connect_env(c);
	agora_queue_open(c, "jobs", 0, &jobs);
	agora_queue_open(c, "results", 0, &results);
	while (agora_queue_get_int(jobs, AGORA_FOREVER, &n) == 0 && n >= 0)
		agora_queue_put(results, agora_int(n * n), AGORA_FOREVER);
	/* Tell the parent how many restarts it saw. */
	agora_queue_put(results, agora_int(-restarts), AGORA_FOREVER);
	agora_queue_close(results);
	agora_queue_close(jobs);
	rc = agora_client_error(c);
	if (rc < 0)
		fprintf(stderr, "worker: %s\n", agora_errmsg(c));
	agora_client_free(c);
	return rc < 0;
}

/* ---- the service manager's part ---- */

static pid_t start_agorad(const char *agorad)
{
	pid_t pid = fork();

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(agorad, agorad, "--listen", address, "--authkey-file",
		      keyfile, (char *)NULL);
		_exit(127);
	}
	/* Ready when its socket answers. */
	for (int i = 0; i < 3000; i++) {
		agora_client *c = agora_client_new();
		int rc = agora_client_connect_env(c);
		agora_client_free(c);
		if (rc == 0)
			return pid;
		usleep(10000);
	}
	fprintf(stderr, "restart: %s did not start\n", agorad);
	exit(1);
}

/* How many calls wait on the object of @handle (info's "waiters"). */
static int64_t waiters(agora_client *c, uint32_t handle)
{
	agora_value info;
	int64_t n = -1;

	if (agora_info(c, handle, &info) < 0)
		return -1;
	for (size_t i = 0; i < info.via.map.len; i++) {
		agora_pair *kv = &info.via.map.items[i];
		if (kv->key.type == AGORA_STR &&
		    strncmp(kv->key.via.str.ptr, "waiters", 7) == 0)
			agora_value_to_int(kv->val, &n);
	}
	agora_value_free(&info);
	return n;
}

/* The next result, or -1000 on an error. */
static int64_t next_result(agora_queue *results)
{
	int64_t n = -1000;

	agora_queue_get_int(results, 60.0, &n);
	return n;
}

int main(int argc, char **argv)
{
	int status = 1, bad = 0;
	pid_t server, w;

	if (argc != 2) {
		fprintf(stderr, "usage: restart AGORAD\n");
		return 2;
	}
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(keyfile, sizeof(keyfile), "%s/key", dir);
	snprintf(sock, sizeof(sock), "%s/agora.sock", dir);
	snprintf(address, sizeof(address), "unix:%s", sock);
	int fd = open(keyfile, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || write(fd, "a key for this example only\n", 28) != 28)
		return 1;
	close(fd);
	setenv("AGORA_ADDRESS", address, 1);
	setenv("AGORA_AUTHKEY_FILE", keyfile, 1);
	server = start_agorad(argv[1]);

	if ((w = fork()) == 0)
		_exit(worker());

	for (int round = 0; round < 2; round++) {
		agora_client *c = agora_client_new();
		agora_queue *jobs, *results;

		agora_client_set_sticky(c, true);
		agora_client_connect_env(c);
		agora_queue_open(c, "jobs", 0, &jobs);
		agora_queue_open(c, "results", 0, &results);
		for (int64_t i = 1; i <= 3; i++)
			agora_queue_put(jobs, agora_int(3 * round + i), 0);
		for (int64_t i = 1; i <= 3; i++) {
			int64_t want = (3 * round + i) * (3 * round + i);
			int64_t got = next_result(results);
			printf("job %lld: %lld\n", (long long)(3 * round + i),
			       (long long)got);
			bad |= got != want;
		}
		if (round == 1) {
			agora_queue_put(jobs, agora_int(-1), 0);
			int64_t restarts = -next_result(results);
			printf("the worker saw %lld restart(s)\n",
			       (long long)restarts);
			bad |= restarts != 1;
			/* It ends (closing its handles) before agorad does. */
			waitpid(w, &status, 0);
			bad |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
		}
		/* Restart only once the worker waits in get: a get sent
		 * as the server stops might have taken a job whose answer
		 * was lost (AGORA_ELOST), where a waiting get is withdrawn
		 * (SHUTDOWN) and made again on the new server. */
		for (int i = 0; round == 0 && i < 3000 &&
				waiters(c, agora_queue_handle(jobs)) < 1;
		     i++)
			usleep(10000);
		if (agora_client_error(c) < 0) {
			fprintf(stderr, "restart: %s\n", agora_errmsg(c));
			bad = 1;
		}
		agora_queue_close(results);
		agora_queue_close(jobs);
		agora_client_free(c);
		kill(server, SIGTERM);
		waitpid(server, &status, 0);
		bad |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
		if (round == 0)
			server = start_agorad(argv[1]);
	}
	unlink(keyfile);
	rmdir(dir);
	return bad;
}
