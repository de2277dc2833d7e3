#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include "agora.h"
#include "agora_server.h" /* agora_manager_*: libagora-server */
int main(void) /* the seeds' Manager example: 10 workers, a dict, a list */
{
	agora_manager *m; /* with Manager() as m: d = m.dict(); l = m.list() */
	agora_client *c;
	agora_dict *d, *wd; /* the parent's, a worker's */
	agora_list *l, *wl;
	agora_ref dr, lr;
	agora_value dv = agora_nil(), lv = agora_nil(); /* nil: 0 entries */
	char ds[512] = "", ls[512];
	pid_t pid[10];
	if (agora_manager_start(&m, ds, sizeof(ds)) ||
	    agora_dict_open(c = agora_manager_client(m), NULL, &d) ||
	    agora_list_open(c, NULL, &l) || agora_dict_ref(d, &dr) ||
	    agora_list_ref(l, &lr))
		return fprintf(stderr, "manager: %s\n", ds), 1;
	for (int i = 0; i < 10; i++)
		if ((pid[i] = fork()) == 0) /* a worker connects its own */
			_exit(!(c = agora_client_new()) ||
			      agora_client_connect_env(c) ||
			      agora_dict_open_ref(c, &dr, &wd) ||
			      agora_list_open_ref(c, &lr, &wl) ||
			      agora_dict_set(wd, agora_int(getpid()),
					     agora_int(getppid())) ||
			      agora_list_append(wl, agora_int(getpid())));
	for (int i = 0; i < 10; i++) /* join each: the server is a child too */
		waitpid(pid[i], NULL, 0);
	int failed = agora_dict_copy(d, &dv) | agora_list_copy(l, &lv);
	agora_value_format(dv, ds, sizeof(ds));
	agora_value_format(lv, ls, sizeof(ls));
	printf("dict: %s\nlist: %s\n", ds, ls);
	failed |= dv.via.map.len != 10 || lv.via.array.len != 10;
	agora_value_free(&dv), agora_value_free(&lv);
	agora_dict_close(d), agora_list_close(l);
	return agora_manager_shutdown(m) || failed;
}
