#include "agent/keyfiles.h"

#include "agent/config.h"

#include <stdio.h>
#include <sys/stat.h>

static int check_one(const char *what, const char *path, void (*warn)(void *ctx, const char *msg),
		     void *ctx)
{
	char msg[1024 + 4096];
	struct stat st;

	if (!path || stat(path, &st) < 0 || !(st.st_mode & (S_IRGRP | S_IROTH)))
		return 0;
	snprintf(msg, sizeof(msg), "%s %s can be read by %s (mode %04o); chmod go-r %s", what, path,
		 (st.st_mode & S_IRGRP) && (st.st_mode & S_IROTH) ? "group and others"
		 : st.st_mode & S_IRGRP				  ? "its group"
								  : "others",
		 (unsigned)(st.st_mode & 07777), path);
	warn(ctx, msg);
	return 1;
}

int keyfiles_check(const struct config *cfg, void (*warn)(void *ctx, const char *msg), void *ctx)
{
	int n = check_one("[repo] token_file", cfg->repo.token_file, warn, ctx) +
		check_one("[repo] ssh_key", cfg->repo.ssh_key, warn, ctx) +
		check_one("[report] hmac_key_file", cfg->report.hmac_key_file, warn, ctx) +
		check_one("[fleet] nats_creds_file", cfg->fleet.nats_creds_file, warn, ctx) +
		check_one("[fleet] nats_key_file", cfg->fleet.nats_key_file, warn, ctx);

	for (size_t i = 0; i < cfg->secrets.identity.n; i++)
		n += check_one("[secrets] identity", cfg->secrets.identity.v[i], warn, ctx);
	return n;
}
