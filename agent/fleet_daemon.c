/* agent/fleet_daemon.h: the fleet in the daemon's poll() loop. */
#include "agent/fleet_daemon.h"

#include "agent/config.h"
#include "agent/fleet_link.h"
#include "agent/fleet_local.h"
#include "agent/fleet_publish.h"
#include "agent/log.h"
#include "base/clock.h"
#include "base/err.h"
#include "fleet/assign.h"

#include <jansson.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#define GATE_GAP	  1.0 /* seconds between re-runs of the gate on bucket changes */
#define GATE_COALESCE	  0.2 /* changes within this time are decided on once */
#define DEFAULT_HEARTBEAT 300

static struct {
	bool on;
	double retry_at, fetch_at, gate_at, heartbeat_at;
	double last_fetch, last_gate;
	bool publish_pending;
} d;

uint64_t fleet_trigger_delay_ms(const char *name, unsigned spread)
{
	uint64_t window = (uint64_t)spread * 1000;

	return window ? fleet_name_hash(name) % (window + 1) : 0;
}

/* How often a report is put even when nothing changed: a third of the plan's
 * stale_after, as fleet.json remembers it. */
static double heartbeat_seconds(const struct config *cfg, bool *waiting, int64_t *wait_until)
{
	json_t *o = fleet_local_read_json(cfg->agent.state_dir);
	json_t *g = o ? json_object_get(o, "gate") : NULL;
	json_int_t stale = json_integer_value(json_object_get(g, "stale_after"));

	*waiting = json_is_true(json_object_get(g, "waiting"));
	*wait_until = (int64_t)json_integer_value(json_object_get(g, "wait_until"));
	json_decref(o);
	if (stale <= 0)
		return DEFAULT_HEARTBEAT;
	return stale / 3 > 5 ? (double)(stale / 3) : 5.0;
}

static void try_watch(const struct config *cfg)
{
	struct err e = {{0}};

	if (fleet_link_watching())
		return;
	if (fleet_link_watch(cfg, &e) < 0) {
		log_msg(LOG_WARNING, NULL, NULL, "fleet: %s; later waves wait, trying again in %ds",
			e.msg, FLEET_LINK_RETRY);
		d.retry_at = clock_monotonic() + FLEET_LINK_RETRY;
		return;
	}
	log_msg(LOG_NOTICE, NULL, NULL, "fleet: watching bucket %s and %s", cfg->fleet.bucket,
		cfg->fleet.trigger_subject);
	d.retry_at = 0;
	d.publish_pending = true;
}

void fleet_daemon_start(const struct config *cfg)
{
	memset(&d, 0, sizeof(d));
	if (!config_fleet_enabled(cfg))
		return;
	d.on = true;
	try_watch(cfg);
	fleet_publish(cfg, NULL);
	d.publish_pending = false;
}

int fleet_daemon_fd(void)
{
	return d.on ? fleet_link_fd() : -1;
}

static double earliest(double a, double b)
{
	return !a ? b : !b ? a : a < b ? a : b;
}

double fleet_daemon_deadline(void)
{
	double t = 0;

	if (!d.on)
		return 0;
	t = earliest(t, d.retry_at);
	t = earliest(t, d.fetch_at);
	t = earliest(t, d.gate_at);
	t = earliest(t, d.heartbeat_at);
	return t;
}

static void on_trigger(const struct config *cfg, double now)
{
	double at =
	    now +
	    (double)fleet_trigger_delay_ms(cfg->fleet.name, cfg->fleet.trigger_spread) / 1000.0;

	if (d.last_fetch && at < d.last_fetch + FLEET_TRIGGER_GAP)
		at = d.last_fetch + FLEET_TRIGGER_GAP;
	if (!d.fetch_at || at < d.fetch_at)
		d.fetch_at = at;
	log_msg(LOG_INFO, NULL, NULL, "fleet: triggered; fetching in %.1fs", at - now);
}

static void schedule_gate(double at)
{
	if (d.last_gate && at < d.last_gate + GATE_GAP)
		at = d.last_gate + GATE_GAP;
	if (!d.gate_at || at < d.gate_at)
		d.gate_at = at;
}

enum fleet_wake fleet_daemon_service(const struct config *cfg)
{
	double now = clock_monotonic();
	bool waiting;
	int64_t wait_until;
	int what;

	if (!d.on)
		return FLEET_WAKE_NONE;
	if (d.retry_at && now >= d.retry_at)
		try_watch(cfg);
	what = fleet_link_drain(cfg->fleet.name);
	if (what & FLEET_LINK_TRIGGERED)
		on_trigger(cfg, now);
	if (what & FLEET_LINK_RECONNECTED)
		d.publish_pending = true;
	if (what & (FLEET_LINK_CHANGED | FLEET_LINK_RECONNECTED)) {
		heartbeat_seconds(cfg, &waiting, &wait_until);
		if (waiting)
			schedule_gate(now + GATE_COALESCE);
	}
	if (d.fetch_at && now >= d.fetch_at) {
		d.fetch_at = 0;
		d.last_fetch = now;
		return FLEET_WAKE_FETCH;
	}
	if (d.gate_at && now >= d.gate_at) {
		d.gate_at = 0;
		d.last_gate = now;
		return FLEET_WAKE_GATE;
	}
	if (d.publish_pending || (d.heartbeat_at && now >= d.heartbeat_at)) {
		d.publish_pending = false;
		fleet_publish(cfg, NULL);
		d.heartbeat_at = now + heartbeat_seconds(cfg, &waiting, &wait_until);
	}
	return FLEET_WAKE_NONE;
}

void fleet_daemon_after_cycle(const struct config *cfg, const struct cycle_result *res)
{
	bool waiting;
	int64_t wait_until, wall = (int64_t)time(NULL);
	double now, beat;

	if (!d.on)
		return;
	fleet_publish(cfg, res);
	now = clock_monotonic();
	beat = heartbeat_seconds(cfg, &waiting, &wait_until);
	d.heartbeat_at = now + beat;
	/* A soak that ends opens the gate with nothing put in the bucket. */
	if (waiting && wait_until > wall)
		schedule_gate(now + (double)(wait_until - wall) + 0.5);
}

void fleet_daemon_stop(void)
{
	if (d.on)
		fleet_link_close();
	d.on = false;
}
