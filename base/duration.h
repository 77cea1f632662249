/* Durations as the config and the rollout plan write them: "90s", "5m",
 * "1h30m", or a bare number of seconds. */
#ifndef CIM_DURATION_H
#define CIM_DURATION_H

/* Parses text into *seconds; -1 when it is not a duration or exceeds max. */
int duration_parse(const char *text, unsigned max, unsigned *seconds);

#endif
