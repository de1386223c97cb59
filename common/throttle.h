/*
 * throttle.h: counts of failures per key (an account id, a client address) in fixed windows,
 * in a table of fixed size that several processes may share (it holds no pointer and no lock:
 * every field is read and written with atomic operations, so it may live in a MAP_SHARED
 * region).  A rate limit counts every try as a "failure" (throttle_take).
 *
 * A key's window starts at its first failure and lasts window_s seconds; a key with `limit`
 * failures in its window waits until the window ends.  Times are whole seconds of one clock
 * that every process sharing the table reads alike (CLOCK_MONOTONIC is system-wide).
 *
 * Bounded: THROTTLE_SLOTS slots, a key looked for in THROTTLE_PROBE neighbouring ones.  A key
 * whose neighbourhood is full of live windows takes the oldest one's slot, so many keys
 * failing at once can make a window forget failures (it never blocks a key wrongly).  Two
 * processes counting the same key at the same instant may both claim a slot; the wait is the
 * longest of them, so that race can lose a count, never add a block.
 */
#ifndef VD_THROTTLE_H
#define VD_THROTTLE_H

#include <stdint.h>

#define THROTTLE_SLOTS 4096 /* a power of two */
#define THROTTLE_PROBE 8

struct throttle_slot {
	uint64_t key;   /* 0: never used */
	uint64_t state; /* window start (s) << THROTTLE_COUNT_BITS | failures */
};

struct throttle {
	struct throttle_slot slots[THROTTLE_SLOTS];
	uint64_t blocked_until; /* the latest end of a window that reached its limit */
};

/* Count one failure of key (> 0) at now_s; the caller owns t (zeroed memory is empty). */
void throttle_fail(struct throttle *t, uint64_t key, uint64_t now_s, uint32_t window_s,
                   uint32_t limit);
/* Seconds until key may try again (0: now): its window has `limit` failures and ends then. */
uint32_t throttle_wait(const struct throttle *t, uint64_t key, uint64_t now_s, uint32_t window_s,
                       uint32_t limit);
/* Whether any key may be waiting at now_s (one load: the caller's cheap first question). */
int throttle_any(const struct throttle *t, uint64_t now_s);
/* A rate limit: 0 when key may go ahead (the try is counted), else the seconds until its
 * window ends (nothing counted).  Not one atomic step: processes taking the last try at the
 * same instant may each go ahead, so up to one more per process gets through. */
uint32_t throttle_take(struct throttle *t, uint64_t key, uint64_t now_s, uint32_t window_s,
                       uint32_t limit);
/* The key of a client address (numeric IPv4 or IPv6 text): an IPv4 address, or an IPv6
 * address's /64 (what one subscriber is given, so that it counts as one client).  Never 0;
 * text that is no address gets one key of its own. */
uint64_t throttle_addr_key(const char *addr);
/* The same key from an address's bytes (family AF_INET: 4 bytes, AF_INET6: 16), as a socket
 * gives it; any other family gets the key of text that is no address. */
uint64_t throttle_addr_key_bytes(int family, const void *addr);

#endif
