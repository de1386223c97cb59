/*
 * throttle.c: the failure counts of throttle.h.  A slot's state packs the window's start and
 * its count into one word, so that a failure is one compare-and-swap; a slot changes hands
 * by a compare-and-swap of its key.  Reads are plain atomic loads: a key that has not failed
 * costs a hash and at most THROTTLE_PROBE loads.
 */
#include "throttle.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <string.h>

#define THROTTLE_COUNT_BITS 20
#define THROTTLE_COUNT_MAX  ((1u << THROTTLE_COUNT_BITS) - 1)

static uint64_t load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static int cas(uint64_t *p, uint64_t *expected, uint64_t desired)
{
	return __atomic_compare_exchange_n(p, expected, desired, 0, __ATOMIC_ACQ_REL,
	                                   __ATOMIC_ACQUIRE);
}

static uint64_t start_of(uint64_t state)
{
	return state >> THROTTLE_COUNT_BITS;
}

static uint32_t count_of(uint64_t state)
{
	return (uint32_t)(state & THROTTLE_COUNT_MAX);
}

static int live(uint64_t state, uint64_t now_s, uint32_t window_s)
{
	return count_of(state) > 0 && start_of(state) + window_s > now_s;
}

static uint32_t home(uint64_t key)
{
	return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 40) & (THROTTLE_SLOTS - 1);
}

/* The latest end of a blocked window, raised to until. */
static void raise_blocked(struct throttle *t, uint64_t until)
{
	uint64_t cur = load(&t->blocked_until);
	while (cur < until && !cas(&t->blocked_until, &cur, until))
		;
}

/* One more failure in slot s (now key's): a new window when the old one has ended. */
static void count(struct throttle *t, struct throttle_slot *s, uint64_t now_s, uint32_t window_s,
                  uint32_t limit)
{
	uint64_t old = load(&s->state), next;
	do {
		if (live(old, now_s, window_s))
			next = count_of(old) < THROTTLE_COUNT_MAX ? old + 1 : old;
		else
			next = (now_s << THROTTLE_COUNT_BITS) | 1;
	} while (!cas(&s->state, &old, next));
	if (count_of(next) >= limit)
		raise_blocked(t, start_of(next) + window_s);
}

void throttle_fail(struct throttle *t, uint64_t key, uint64_t now_s, uint32_t window_s,
                   uint32_t limit)
{
	if (!key)
		return;
	uint32_t h = home(key);
	struct throttle_slot *pick = NULL;
	uint64_t pick_key = 0, pick_state = 0;
	int pick_free = 0;
	for (uint32_t i = 0; i < THROTTLE_PROBE; i++) {
		struct throttle_slot *s = &t->slots[(h + i) & (THROTTLE_SLOTS - 1)];
		uint64_t k = load(&s->key), st = load(&s->state);
		if (k == key) {
			count(t, s, now_s, window_s, limit);
			return;
		}
		int is_free = k == 0 || !live(st, now_s, window_s);
		/* the first free slot, else the oldest window */
		if (!pick || (is_free && !pick_free) ||
		    (!is_free && !pick_free && start_of(st) < start_of(pick_state))) {
			pick = s;
			pick_key = k;
			pick_state = st;
			pick_free = is_free;
		}
	}
	/* The state first, then the key: until the key is ours, its old owner sees a count of
	 * one (never a block it did not earn); a race lost at either step drops this failure. */
	uint64_t fresh = (now_s << THROTTLE_COUNT_BITS) | 1;
	if (!cas(&pick->state, &pick_state, fresh) || !cas(&pick->key, &pick_key, key))
		return;
	if (limit <= 1)
		raise_blocked(t, now_s + window_s);
}

uint32_t throttle_wait(const struct throttle *t, uint64_t key, uint64_t now_s, uint32_t window_s,
                       uint32_t limit)
{
	uint32_t h = home(key), wait = 0;
	for (uint32_t i = 0; i < THROTTLE_PROBE; i++) {
		const struct throttle_slot *s = &t->slots[(h + i) & (THROTTLE_SLOTS - 1)];
		if (load(&s->key) != key)
			continue;
		uint64_t st = load(&s->state);
		if (live(st, now_s, window_s) && count_of(st) >= limit) {
			uint64_t w = start_of(st) + window_s - now_s;
			if (w > wait)
				wait = (uint32_t)w;
		}
	}
	return wait;
}

int throttle_any(const struct throttle *t, uint64_t now_s)
{
	return load(&t->blocked_until) > now_s;
}

uint32_t throttle_take(struct throttle *t, uint64_t key, uint64_t now_s, uint32_t window_s,
                       uint32_t limit)
{
	uint32_t wait = throttle_wait(t, key, now_s, window_s, limit);
	if (!wait)
		throttle_fail(t, key, now_s, window_s, limit);
	return wait;
}

#define ADDR_V4      (1ull << 63) /* IPv4 keys; IPv6 prefixes have this bit clear */
#define ADDR_UNKNOWN 1ull

static uint64_t v4_key(const unsigned char b[4])
{
	return ADDR_V4 | (uint64_t)b[0] << 24 | (uint64_t)b[1] << 16 | (uint64_t)b[2] << 8 | b[3];
}

uint64_t throttle_addr_key_bytes(int family, const void *addr)
{
	static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	const unsigned char *a = addr;
	uint64_t prefix = 0;
	if (family == AF_INET)
		return v4_key(a);
	if (family != AF_INET6)
		return ADDR_UNKNOWN;
	if (!memcmp(a, v4_mapped, sizeof v4_mapped))
		return v4_key(a + 12);
	for (int i = 0; i < 8; i++)
		prefix = prefix << 8 | a[i];
	prefix &= ~ADDR_V4;
	return prefix > ADDR_UNKNOWN ? prefix : ADDR_UNKNOWN + 1; /* ::/64 */
}

uint64_t throttle_addr_key(const char *addr)
{
	unsigned char a[16];
	if (inet_pton(AF_INET, addr, a) == 1)
		return throttle_addr_key_bytes(AF_INET, a);
	if (inet_pton(AF_INET6, addr, a) == 1)
		return throttle_addr_key_bytes(AF_INET6, a);
	return ADDR_UNKNOWN;
}
