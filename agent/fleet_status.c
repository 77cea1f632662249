/* agent/fleet_status.h: the fleet section of status and the metrics. */
#include "agent/fleet_status.h"

#include "agent/config.h"
#include "agent/fleet_local.h"
#include "agent/log.h"
#include "fleet/plan.h"

#include <string.h>
#include <time.h>

static const char *str_of(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && *s ? s : NULL;
}

/* 1 for the first wave, 0 for none; a number no plan can have (fleet.json
 * edited by hand) is none too. */
static long long wave_number(const json_t *g)
{
	json_int_t w = json_integer_value(json_object_get(g, "wave"));

	if (!json_is_true(json_object_get(g, "active")) || w < 0 || w >= FLEET_PLAN_MAX_WAVES)
		return 0;
	return (long long)w + 1;
}

/* "alone" (no plan in the tip), "waiting", "halted" or "open". */
static const char *gate_state(json_t *g)
{
	if (!json_is_true(json_object_get(g, "active")))
		return "alone";
	if (json_is_true(json_object_get(g, "waiting")))
		return "waiting";
	if (str_of(g, "halted") && !str_of(g, "deploy"))
		return "halted";
	return "open";
}

json_t *fleet_status_json(const struct config *cfg)
{
	json_t *l, *g, *out;

	if (!config_fleet_enabled(cfg))
		return NULL;
	l = fleet_local_read_json(cfg->agent.state_dir);
	g = l ? json_object_get(l, "gate") : NULL;
	out = json_pack("{s:s, s:s, s:s, s:b, s:I}", "name", cfg->fleet.name, "bucket",
			cfg->fleet.bucket, "gate", gate_state(g), "nats_ok",
			json_is_true(json_object_get(l, "nats_ok")), "forged",
			json_integer_value(json_object_get(g, "forged")));
	if (str_of(g, "wave_name"))
		json_object_set_new(out, "wave", json_string(str_of(g, "wave_name")));
	if (str_of(g, "tip"))
		json_object_set_new(out, "tip", json_string(str_of(g, "tip")));
	if (str_of(g, "waits_for"))
		json_object_set_new(out, "waits_for", json_string(str_of(g, "waits_for")));
	if (json_integer_value(json_object_get(g, "wait_until")) > 0)
		json_object_set(out, "wait_until", json_object_get(g, "wait_until"));
	if (str_of(g, "halted"))
		json_object_set_new(out, "halted", json_string(str_of(g, "halted")));
	if (str_of(l, "nats_error"))
		json_object_set_new(out, "nats_error", json_string(str_of(l, "nats_error")));
	if (json_integer_value(json_object_get(l, "seq")) > 0)
		json_object_set(out, "seq", json_object_get(l, "seq"));
	if (json_integer_value(json_object_get(l, "published_at")) > 0)
		json_object_set(out, "published_at", json_object_get(l, "published_at"));
	json_decref(l);
	return out;
}

void fleet_status_print(const struct config *cfg, FILE *out)
{
	json_t *o = fleet_status_json(cfg);
	const char *wave, *why, *halted, *nats_error;

	if (!o)
		return;
	wave = str_of(o, "wave");
	why = str_of(o, "waits_for");
	halted = str_of(o, "halted");
	nats_error = str_of(o, "nats_error");
	log_print(out, "fleet      %s in bucket %s, wave %s, gate %s\n", str_of(o, "name"),
		  str_of(o, "bucket"), wave ? wave : "-", str_of(o, "gate"));
	if (why)
		log_print(out, "           %s\n", why);
	if (halted)
		log_print(out, "           %s\n", halted);
	log_print(out, "nats       %s%s%s\n",
		  json_is_true(json_object_get(o, "nats_ok")) ? "reachable" : "UNREACHABLE",
		  nats_error ? ": " : "", nats_error ? nats_error : "");
	if (json_integer_value(json_object_get(o, "forged")))
		log_print(out, "           %lld forged report revisions in the bucket (ignored)\n",
			  (long long)json_integer_value(json_object_get(o, "forged")));
	json_decref(o);
}

void fleet_status_metrics(FILE *f, const struct config *cfg)
{
	static const char *const states[] = {"alone", "open", "waiting", "halted"};
	json_t *l, *g;
	const char *state;

	if (!config_fleet_enabled(cfg))
		return;
	l = fleet_local_read_json(cfg->agent.state_dir);
	g = l ? json_object_get(l, "gate") : NULL;
	state = gate_state(g);
	fprintf(f,
		"# HELP cim_agent_fleet_wave This host's wave in the plan of the tip (1 = first; "
		"0: none).\n"
		"# TYPE cim_agent_fleet_wave gauge\ncim_agent_fleet_wave %lld\n",
		wave_number(g));
	fprintf(f, "# HELP cim_agent_fleet_gate The rollout gate's state at the last decision.\n"
		   "# TYPE cim_agent_fleet_gate gauge\n");
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		fprintf(f, "cim_agent_fleet_gate{state=\"%s\"} %d\n", states[i],
			strcmp(states[i], state) == 0);
	fprintf(
	    f,
	    "# HELP cim_agent_fleet_forged_reports Report revisions in the bucket whose signature "
	    "did not verify.\n"
	    "# TYPE cim_agent_fleet_forged_reports gauge\ncim_agent_fleet_forged_reports %lld\n",
	    (long long)json_integer_value(json_object_get(g, "forged")));
	fprintf(f,
		"# HELP cim_agent_fleet_nats_up 1 when NATS answered the last time it was asked.\n"
		"# TYPE cim_agent_fleet_nats_up gauge\ncim_agent_fleet_nats_up %d\n",
		json_is_true(json_object_get(l, "nats_ok")));
	json_decref(l);
}
