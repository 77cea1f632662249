/* config_parse_duration: "90s", "5m", "1h30m" as seconds, up to ten years. */
#include "agent/config.h"
#include "base/duration.h"

int config_parse_duration(const char *text, unsigned *seconds)
{
	return duration_parse(text, 10u * 365 * 24 * 3600, seconds);
}
