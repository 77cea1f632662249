/* cim-agent run: the long-running agent. One poll() loop driven by the next
 * monotonic deadline (poll time or watchdog); signals reach it through a
 * self-pipe. SIGTERM/SIGINT stop at the next step boundary, SIGHUP reloads
 * the config (a bad one is reported and the old one kept), SIGUSR1 (what
 * `cim-agent trigger` sends) polls now. */
#include "agent/cli.h"
#include "agent/config.h"
#include "agent/cycle.h"
#include "agent/fleet_daemon.h"
#include "agent/pull_step.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/url.h"
#include "base/fileio.h"
#include "agent/lock.h"
#include "agent/log.h"
#include "base/sdcompat.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_START 5 /* seconds after the first failure, doubling up to poll_interval */

static int signal_pipe[2] = {-1, -1};
static volatile sig_atomic_t got_term, got_hup, got_usr1;

static void on_signal(int sig)
{
	int saved = errno;
	char c = (char)sig;

	if (sig == SIGTERM || sig == SIGINT)
		got_term = 1;
	else if (sig == SIGHUP)
		got_hup = 1;
	else if (sig == SIGUSR1)
		got_usr1 = 1;
	if (write(signal_pipe[1], &c, 1) < 0) {
		/* The pipe is full: a wake-up is already pending. */
	}
	errno = saved;
}

static bool should_stop(void)
{
	return got_term != 0;
}

static int setup_signals(struct err *e)
{
	struct sigaction sa = {0};

	if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return err_set(e, "pipe: %s", strerror(errno));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static void pid_path(const struct config *cfg, char *buf, size_t size)
{
	snprintf(buf, size, "%s/daemon.pid", cfg->agent.state_dir);
}

static int write_pid(const struct config *cfg, struct err *e)
{
	char path[4096], text[32];
	int n = snprintf(text, sizeof(text), "%ld\n", (long)getpid());

	pid_path(cfg, path, sizeof(path));
	return file_write_atomic(path, text, (size_t)n, 0644, e);
}

/* Takes the daemon lock, then writes daemon.pid: a second daemon refuses to
 * start and leaves the first one's pid file alone. Returns the lock's fd. */
static int claim_state_dir(const struct config *cfg, struct err *e)
{
	int fd;

	if (dir_create(cfg->agent.state_dir, 0700, e) < 0)
		return -1;
	fd = lock_daemon(cfg->agent.state_dir, e);
	if (fd >= 0 && write_pid(cfg, e) < 0) {
		lock_release(fd);
		return -1;
	}
	return fd;
}

/* Members of [agent] status_group may read the state (cim-agent status,
 * history); nothing in state_dir is secret. systemd gives StateDirectory=
 * back to root's group at every start and reload, so this runs then. */
static void share_state_dir(const struct config *cfg)
{
	const char *dir = cfg->agent.state_dir, *name = cfg->agent.status_group;
	struct group *gr = getgrnam(name);

	if (!gr) {
		log_msg(LOG_NOTICE, NULL, NULL,
			"group %s does not exist: only root can read %s (cim-agent status)", name,
			dir);
		return;
	}
	if (chown(dir, (uid_t)-1, gr->gr_gid) < 0 || chmod(dir, 0750) < 0)
		log_msg(LOG_WARNING, NULL, NULL, "%s: giving it to group %s: %s", dir, name,
			strerror(errno));
}

static bool is_failure(enum cycle_outcome o)
{
	return o == CYCLE_ERROR || o == CYCLE_FAILED || o == CYCLE_ROLLED_BACK ||
	       o == CYCLE_REFUSED;
}

/* When the next poll is due, decided as the cycle ends so that the state file
 * it saves anyway can say so: after a failure the delay backs off
 * exponentially, up to the poll interval; otherwise poll_interval plus jitter. */
static const struct config *running_cfg;
static unsigned backoff, planned_delay;
static bool planned;

static unsigned plan_next_poll(enum cycle_outcome o)
{
	const struct config *cfg = running_cfg;

	backoff = is_failure(o) ? (backoff ? backoff * 2 : BACKOFF_START) : 0;
	if (backoff > cfg->agent.poll_interval)
		backoff = cfg->agent.poll_interval;
	planned_delay =
	    backoff ? backoff
		    : cfg->agent.poll_interval +
			  (cfg->agent.poll_jitter ? randombytes_uniform(cfg->agent.poll_jitter + 1)
						  : 0);
	planned = true;
	return planned_delay;
}

/* What systemctl status shows between cycles: the outcome, its commit, why
 * it failed, when the next poll is. */
static void say_outcome(const struct cycle_result *res, unsigned delay)
{
	const char *name = cycle_outcome_name(res->outcome);
	const char *at = res->outcome == CYCLE_UP_TO_DATE ? " at " : " ";

	if (is_failure(res->outcome) || res->outcome == CYCLE_SKIPPED)
		sdc_notify("STATUS=%s%s%.12s (%.300s); next poll in %us", name,
			   res->commit[0] ? " " : "", res->commit, res->message, delay);
	else if (res->commit[0])
		sdc_notify("STATUS=%s%s%.12s; next poll in %us", name, at, res->commit, delay);
	else
		sdc_notify("STATUS=%s; next poll in %us", name, delay);
}

/* A fetch or a report POST blocks the loop (libgit2 and libcurl call back too
 * rarely to ping from there): keep each under half the systemd watchdog. */
static void fit_watchdog(struct config *cfg)
{
	unsigned long long usec = sdc_watchdog_usec();
	unsigned limit;

	if (!usec)
		return;
	limit = (unsigned)(usec / 2000000ull);
	limit = limit > 10 ? limit - 5 : (limit ? limit : 1);
	if (cfg->repo.fetch_timeout > limit) {
		log_msg(LOG_WARNING, NULL, NULL,
			"[repo] fetch_timeout %us is not below half the watchdog (%llus): fetches "
			"are cut at %us",
			cfg->repo.fetch_timeout, usec / 1000000ull, limit);
		cfg->repo.fetch_timeout = limit;
	}
	if (cfg->report.timeout > limit) {
		log_msg(LOG_WARNING, NULL, NULL,
			"[report] timeout %us is not below half the watchdog (%llus): reports are "
			"cut at %us",
			cfg->report.timeout, usec / 1000000ull, limit);
		cfg->report.timeout = limit;
	}
}

/* What the daemon runs from, to notice when an activation edited its
 * configuration (the content's hash) or replaced its binary (a running
 * binary cannot be written, only replaced: another inode). */
struct file_id {
	bool known;
	dev_t dev;
	ino_t ino;
	unsigned char hash[crypto_generichash_BYTES];
};
static struct file_id config_id, binary_id;
static char self_path[PATH_MAX]; /* empty where /proc/self/exe is unknown */

static void identify(const char *path, bool by_content, struct file_id *id)
{
	struct err e = {{0}};
	struct stat sb;
	char *text = NULL;
	size_t len = 0;

	memset(id, 0, sizeof(*id));
	if (stat(path, &sb) < 0)
		return;
	id->known = true;
	if (!by_content) {
		id->dev = sb.st_dev;
		id->ino = sb.st_ino;
	} else if (file_read_capped(path, CONFIG_MAX_BYTES, &text, &len, &e) == 0) {
		crypto_generichash(id->hash, sizeof(id->hash), (const unsigned char *)text, len,
				   NULL, 0);
		free(text);
	}
}

static bool file_changed(const char *path, bool by_content, const struct file_id *before)
{
	struct file_id now;

	identify(path, by_content, &now);
	return now.known != before->known || now.dev != before->dev || now.ino != before->ino ||
	       memcmp(now.hash, before->hash, sizeof(now.hash)) != 0;
}

static void identify_self(void)
{
	ssize_t n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
	const char *deleted = " (deleted)";
	size_t dlen = strlen(deleted);

	self_path[n > 0 ? n : 0] = '\0';
	if (n > (ssize_t)dlen && strcmp(self_path + n - dlen, deleted) == 0)
		self_path[0] = '\0'; /* replaced before we looked: nothing to compare with */
	if (self_path[0])
		identify(self_path, false, &binary_id);
}

/* systemctl reload (ExecReload sends SIGHUP): the unit is "reloading" until
 * READY=1. */
static void reload(struct config *cfg, const char *config_path)
{
	struct config fresh = {0};
	struct err e = {{0}};

	sdc_notify("RELOADING=1\nSTATUS=reloading %s", config_path);
	identify(config_path, true, &config_id);
	if (config_load(&fresh, config_path, &e) < 0) {
		log_msg(LOG_ERR, NULL, NULL,
			"reload refused, keeping the running configuration: %s", e.msg);
		share_state_dir(cfg);
		sdc_notify("READY=1\nSTATUS=config reload failed: %s", e.msg);
		config_release(&fresh);
		return;
	}
	fleet_daemon_stop();
	config_release(cfg);
	*cfg = fresh;
	fleet_daemon_start(cfg);
	cli_warn_keyfiles(cfg);
	fit_watchdog(cfg);
	share_state_dir(cfg);
	log_msg(LOG_NOTICE, NULL, NULL, "configuration reloaded from %s", config_path);
	sdc_notify("READY=1\nSTATUS=configuration reloaded from %s", config_path);
}

/* The running binary was replaced: exec the new one in this process, which
 * keeps the pid systemd watches. Until the new one has set its signal
 * handlers, there is no daemon.pid, so that `cim-agent trigger` does not
 * send a SIGUSR1 that would end it. Returns only when the exec failed. */
static void re_exec(const struct config *cfg, const char *config_path)
{
	char *const argv[] = {self_path, (char *)(uintptr_t) "-c", (char *)(uintptr_t)config_path,
			      (char *)(uintptr_t) "run", NULL};
	char pidfile[4096];
	struct err e = {{0}};

	log_msg(LOG_NOTICE, NULL, NULL, "%s was replaced during the activation: re-executing it",
		self_path);
	sdc_notify("RELOADING=1\nSTATUS=re-executing %s", self_path);
	sdc_watchdog_kick();
	pid_path(cfg, pidfile, sizeof(pidfile));
	unlink(pidfile);
	fflush(NULL);
	execv(self_path, argv);
	log_msg(LOG_ERR, NULL, NULL, "re-executing %s: %s; the running version goes on", self_path,
		strerror(errno));
	if (write_pid(cfg, &e) < 0)
		log_msg(LOG_ERR, NULL, NULL, "%s", e.msg);
	sdc_notify("READY=1");
	identify(self_path, false, &binary_id);
}

/* An activation (a deployment or a rollback) may have installed a new agent
 * or a new agent.conf: the next poll runs with them. */
static void follow_activation(struct config *cfg, const char *config_path)
{
	if (self_path[0] && file_changed(self_path, false, &binary_id) &&
	    access(self_path, X_OK) == 0)
		re_exec(cfg, config_path);
	if (file_changed(config_path, true, &config_id)) {
		log_msg(LOG_NOTICE, NULL, NULL, "%s changed during the activation: reloading it",
			config_path);
		reload(cfg, config_path);
	}
}

static void announce(struct config *cfg)
{
	char shown_url[1024];

	url_redact(cfg->repo.url, shown_url, sizeof(shown_url));
	log_msg(LOG_NOTICE, NULL, NULL, "cim-agent %s following %s of %s every %us", CIM_VERSION,
		cfg->repo.branch, shown_url, cfg->agent.poll_interval);
	fit_watchdog(cfg);
	cli_warn_keyfiles(cfg);
	if (config_fleet_enabled(cfg))
		log_msg(LOG_NOTICE, NULL, NULL,
			"fleet member %s: reports to bucket %s, the plan %s of each commit decides "
			"its wave",
			cfg->fleet.name, cfg->fleet.bucket, cfg->fleet.plan);
}

/* Runs one cycle and sets *next_poll; -1 when the daemon is to stop. After
 * an activation, the next poll runs with a new agent.conf or binary. */
static int run_cycle(struct config *cfg, const char *config_path, double *next_poll,
		     double keep_poll)
{
	struct cycle_result res;
	struct err e = {{0}};

	planned = false;
	if (cycle_run_once(cfg, &res, &e) < 0) {
		log_msg(LOG_ERR, NULL, NULL, "%s", e.msg);
		res.outcome = CYCLE_ERROR;
	} else if (res.outcome != CYCLE_UP_TO_DATE && res.outcome != CYCLE_SKIPPED) {
		log_outcome(is_failure(res.outcome) ? LOG_ERR : LOG_NOTICE, res.commit,
			    cycle_outcome_name(res.outcome), "%s: %s",
			    cycle_outcome_name(res.outcome), res.message);
	}
	if (res.outcome == CYCLE_STOPPED)
		return -1;
	fleet_daemon_after_cycle(cfg, &res);
	/* A cycle that could not run did not reach the point that plans. */
	if (!planned)
		plan_next_poll(res.outcome);
	*next_poll = clock_monotonic() + planned_delay;
	/* A decision without a fetch does not move the next poll. */
	if (keep_poll > clock_monotonic() && res.outcome != CYCLE_ERROR)
		*next_poll = keep_poll;
	say_outcome(&res, planned_delay);
	if (res.outcome == CYCLE_DEPLOYED || res.outcome == CYCLE_ROLLED_BACK)
		follow_activation(cfg, config_path);
	return 0;
}

/* Sleeps until next_poll, a signal, a fleet event or a fleet deadline, and
 * never past half the watchdog. */
static void wait_for_events(double next_poll)
{
	double now = clock_monotonic(), wait = next_poll - now;
	double fleet_at = fleet_daemon_deadline();
	unsigned long long wd = sdc_watchdog_usec();
	struct pollfd pfd[2] = {{.fd = signal_pipe[0], .events = POLLIN},
				{.fd = fleet_daemon_fd(), .events = POLLIN}};
	char drain[64];

	if (fleet_at && fleet_at - now < wait)
		wait = fleet_at - now;
	if (wd && wait > (double)wd / 2e6)
		wait = (double)wd / 2e6;
	poll(pfd, pfd[1].fd >= 0 ? 2 : 1, wait > 0 ? (int)(wait * 1000) + 1 : 0);
	while (read(signal_pipe[0], drain, sizeof(drain)) > 0)
		;
	sdc_watchdog_tick();
}

/* What the fleet asks for: a fetch now (a trigger), or a decision now on
 * the tip already fetched (the bucket changed, a soak ended); then the
 * poll that stays due is returned (0: none), for run_cycle(). */
static double fleet_wake(struct config *cfg, double *next_poll)
{
	double now = clock_monotonic(), keep = 0;

	switch (fleet_daemon_service(cfg)) {
	case FLEET_WAKE_FETCH:
		*next_poll = now;
		break;
	case FLEET_WAKE_GATE:
		if (now < *next_poll)
			keep = *next_poll;
		*next_poll = now;
		break;
	case FLEET_WAKE_NONE:
		break;
	}
	return keep;
}

int cmd_run(struct cli_call *call)
{
	const char *config_path = call->config_path;
	const struct cycle_hooks hooks = {
	    .should_stop = should_stop, .tick = sdc_watchdog_tick, .next_delay = plan_next_poll};
	struct config cfg = {0};
	struct err e = {{0}};
	double next_poll;
	char pidfile[4096];
	int rc, daemon_lock;

	identify(config_path, true, &config_id);
	identify_self();
	rc = cli_load_config(&cfg, config_path);
	if (rc)
		return rc;
	/* Fixed at start: a reload may name another state_dir. */
	pid_path(&cfg, pidfile, sizeof(pidfile));
	if (setup_signals(&e) < 0 || (daemon_lock = claim_state_dir(&cfg, &e)) < 0) {
		fprintf(stderr, "cim-agent: run: %s\n", e.msg);
		config_release(&cfg);
		return EXIT_REFUSED;
	}
	share_state_dir(&cfg);
	running_cfg = &cfg;
	cycle_set_hooks(&hooks);
	announce(&cfg);
	fleet_daemon_start(&cfg);
	sdc_notify("READY=1\nSTATUS=starting the first poll");
	next_poll = clock_monotonic();

	while (!got_term) {
		double keep_poll = 0; /* a gate-only cycle: the poll that stays due */

		wait_for_events(next_poll);
		if (got_term)
			break;
		if (got_hup) {
			got_hup = 0;
			reload(&cfg, config_path);
		}
		if (got_usr1) {
			got_usr1 = 0;
			log_msg(LOG_INFO, NULL, NULL, "triggered: polling now");
			next_poll = clock_monotonic();
		}
		keep_poll = fleet_wake(&cfg, &next_poll);
		if (clock_monotonic() < next_poll)
			continue;
		pull_step_set_offline(keep_poll != 0);
		rc = run_cycle(&cfg, config_path, &next_poll, keep_poll);
		pull_step_set_offline(false);
		if (rc < 0)
			break;
	}
	fleet_daemon_stop();

	sdc_notify("STOPPING=1\nSTATUS=stopping");
	log_msg(LOG_NOTICE, NULL, NULL, "stopping");
	unlink(pidfile);
	lock_release(daemon_lock);
	config_release(&cfg);
	return 0;
}

/* Reads the daemon's pid from state_dir/daemon.pid; 0 when it is not running. */
long daemon_running_pid(const struct config *cfg)
{
	char path[4096], *text = NULL;
	struct err e = {{0}};
	long pid;

	pid_path(cfg, path, sizeof(path));
	if (file_read_capped(path, 64, &text, NULL, &e) < 0)
		return 0;
	pid = strtol(text, NULL, 10);
	free(text);
	if (pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno != EPERM))
		return 0;
	return pid;
}

int cmd_trigger(struct cli_call *call)
{
	long pid = daemon_running_pid(call->cfg);

	if (!pid) {
		fprintf(stderr,
			"cim-agent: the daemon is not running (no live pid in %s/daemon.pid)\n",
			call->cfg->agent.state_dir);
		return EXIT_REFUSED;
	}
	if (kill((pid_t)pid, SIGUSR1) < 0) {
		fprintf(stderr, "cim-agent: signalling pid %ld: %s\n", pid, strerror(errno));
		return EXIT_REFUSED;
	}
	printf("asked the daemon (pid %ld) to poll now\n", pid);
	return 0;
}
