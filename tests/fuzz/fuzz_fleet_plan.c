/* libFuzzer target: rollout.conf and the wave assignment it makes. */
#include "base/err.h"
#include "fleet/assign.h"
#include "fleet/hosts.h"
#include "fleet/plan.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Eight members with keys 1..8 (any 32 bytes make a key the parser takes). */
static const char hosts_text[] =
    "web-01 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB\n"
    "web-02 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIC\n"
    "db-01 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMD\n"
    "db-02 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE\n"
    "app-1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUF\n"
    "app-2 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYG\n"
    "app-3 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH\n"
    "app-4 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fleet_hosts hosts;
	static int loaded;
	struct fleet_plan p;
	struct fleet_assignment a;
	struct err e = {{0}};
	size_t assigned = 0;

	if (!loaded && fleet_hosts_parse(&hosts, "hosts", hosts_text, strlen(hosts_text), &e) != 0)
		__builtin_trap();
	loaded = 1;
	if (fleet_plan_parse(&p, "rollout.conf", (const char *)data, size, &e) != 0)
		return 0;
	if (!p.hosts_path || p.nwaves == 0 || p.nwaves > FLEET_PLAN_MAX_WAVES || p.stale_after == 0)
		__builtin_trap();
	if (fleet_assign(&a, &p, &hosts, &e) == 0) {
		for (size_t w = 0; w < a.nwaves; w++) {
			if (a.waves[w].n == 0 || a.waves[w].min_healthy == 0 ||
			    a.waves[w].min_healthy > a.waves[w].n)
				__builtin_trap();
			assigned += a.waves[w].n;
		}
		for (size_t i = 0; i < hosts.n; i++)
			if (a.wave_of[i] >= a.nwaves)
				__builtin_trap();
		if (assigned != hosts.n)
			__builtin_trap();
		fleet_assign_release(&a);
	}
	fleet_plan_release(&p);
	return 0;
}
