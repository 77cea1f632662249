/* The one monotonic clock the agent measures deadlines and durations with. */
#ifndef CIM_CLOCK_H
#define CIM_CLOCK_H

/* Seconds since an arbitrary fixed point; never jumps with the wall clock. */
double clock_monotonic(void);

#endif
