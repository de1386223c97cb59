/*
 * vdload.c: the two loads of `make bench` that wrk cannot make (127.0.0.1 only, bounded).
 *
 *   vdload pace PORT RATE SECONDS CONNS EVENT CODE FIRST VOLUNTEERS
 *       Open-loop paced self check-ins: RATE * SECONDS requests, due as a Poisson process of
 *       RATE a second (exponential gaps from a fixed seed, so every run has the same schedule;
 *       pgbench -R schedules the baseline's INSERTs the same way), each sent on a free
 *       keep-alive connection (CONNS of them); its latency counts from when it was DUE, so a
 *       slow answer that delays later requests is charged to them too (no coordinated
 *       omission).  Request i is volunteer FIRST + i's (after volunteer VOLUNTEERS, volunteer 1
 *       again), with the token the bench made for them.  Prints "sent=N ok=N non2xx=N
 *       errors=N p50_ms=X p99_ms=X max_ms=X rate=X next=K", K the volunteer after the last
 *       one used (as scripts/bench/checkin.lua's RESULT line).  With VDLOAD_LOG
 *       set to a file name, also writes one line per answer to it: "DUE_MS LATENCY_MS
 *       STATUS", DUE_MS counted from the load's start (to see when the slowest were due).
 *   vdload idle PORT N SECONDS
 *       Opens N keep-alive connections, makes one GET /livez on each, prints "ready open=N"
 *       and holds them SECONDS, then closes them and prints "done".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
	int fd;
	int busy;
	uint64_t due_us; /* when the request in flight was due */
	char buf[8192];
	size_t len;
};

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int dial(int port, int nonblock)
{
	int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A whole response in c->buf?  Returns its status and consumes it, or 0 when incomplete. */
static int take_response(struct conn *c)
{
	c->buf[c->len < sizeof c->buf ? c->len : sizeof c->buf - 1] = '\0';
	char *end = strstr(c->buf, "\r\n\r\n");
	if (!end)
		return 0;
	size_t head = (size_t)(end - c->buf) + 4;
	long clen = 0;
	char *cl = strcasestr(c->buf, "\r\nContent-Length:");
	if (cl && cl < end)
		clen = strtol(cl + 17, NULL, 10);
	if (c->len < head + (size_t)clen)
		return 0;
	int status = (int)strtol(c->buf + 9, NULL, 10);
	size_t used = head + (size_t)clen;
	memmove(c->buf, c->buf + used, c->len - used);
	c->len -= used;
	return status;
}

/* The gap to the next arrival of a Poisson process of `rate` a second, in microseconds. */
static double poisson_gap_us(double rate, unsigned short seed[3])
{
	return -log(1.0 - erand48(seed)) * 1e6 / rate;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int pace(int port, double rate, int seconds, int nconns, const char *event, const char *code,
                long first, long volunteers)
{
	const char *log_name = getenv("VDLOAD_LOG");
	FILE *log = log_name ? fopen(log_name, "w") : NULL;
	if (log_name && !log) {
		perror(log_name);
		return 2;
	}
	struct conn *cs = calloc((size_t)nconns, sizeof *cs);
	size_t cap = (size_t)(rate * seconds) + 16;
	uint32_t *lat = calloc(cap, sizeof *lat);
	int ep = epoll_create1(0);
	if (!cs || !lat || ep < 0)
		return 2;
	for (int i = 0; i < nconns; i++) {
		cs[i].fd = dial(port, 1);
		if (cs[i].fd < 0) {
			perror("connect");
			return 2;
		}
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
		epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
	}
	usleep(100000); /* let the connects finish */
	long sent = 0, ok = 0, non2xx = 0, errors = 0, nlat = 0, total = (long)(rate * seconds);
	uint64_t t0 = now_us(), stop = t0 + (uint64_t)seconds * 1000000 + 5000000;
	unsigned short seed[3] = {0x5eed, 0x5eed, 0x5eed};
	double due = (double)t0; /* when the next request is due */
	while (now_us() < stop && (sent < total || ok + non2xx + errors < sent)) {
		uint64_t now = now_us();
		while (sent < total && (uint64_t)due <= now) {
			int i;
			for (i = 0; i < nconns && (cs[i].busy || cs[i].fd < 0); i++)
				;
			if (i == nconns)
				break; /* every connection busy: the request stays due */
			char req[512];
			char token[64];
			snprintf(token, sizeof token, "bench%038ld",
			         (first - 1 + sent) % volunteers + 1);
			char body[64];
			int bl = snprintf(body, sizeof body, "{\"code\":\"%s\"}", code);
			int n = snprintf(
			        req, sizeof req,
			        "POST /api/v1/events/%s/check-ins HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			        "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
			        "Content-Length: %d\r\n\r\n%s",
			        event, token, bl, body);
			cs[i].due_us = (uint64_t)due;
			if (write(cs[i].fd, req, (size_t)n) != n) {
				errors++;
				close(cs[i].fd);
				cs[i].fd = -1;
			} else {
				cs[i].busy = 1;
			}
			sent++;
			due += poisson_gap_us(rate, seed);
		}
		/* Sleep until the next request is due (microsecond timer: a millisecond epoll
		 * timeout would round to 0 and spin, taking a core from the server). */
		uint64_t next = (uint64_t)due;
		uint64_t wait_us = sent < total && next > now ? next - now : 1000;
		struct timespec ts = {(time_t)(wait_us / 1000000),
		                      (long)(wait_us % 1000000) * 1000};
		struct epoll_event evs[256];
		int k = epoll_pwait2(ep, evs, 256, &ts, NULL);
		for (int e = 0; e < k; e++) {
			struct conn *c = &cs[evs[e].data.u32];
			ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
			if (r <= 0) {
				if (r < 0 && errno == EAGAIN)
					continue;
				if (c->busy)
					errors++;
				close(c->fd);
				c->fd = -1;
				c->busy = 0;
				continue;
			}
			c->len += (size_t)r;
			int st = take_response(c);
			if (!st)
				continue;
			uint64_t d = now_us() - c->due_us;
			if ((size_t)nlat < cap)
				lat[nlat++] = (uint32_t)d;
			if (log)
				fprintf(log, "%.3f %.3f %d\n", (double)(c->due_us - t0) / 1000.0,
				        (double)d / 1000.0, st);
			if (st >= 200 && st < 300)
				ok++;
			else
				non2xx++;
			c->busy = 0;
		}
	}
	if (log)
		fclose(log);
	double secs = (double)(now_us() - t0) / 1e6;
	qsort(lat, (size_t)nlat, sizeof *lat, cmp_u32);
	double p50 = nlat ? lat[nlat / 2] / 1000.0 : 0,
	       p99 = nlat ? lat[nlat * 99 / 100] / 1000.0 : 0,
	       mx = nlat ? lat[nlat - 1] / 1000.0 : 0;
	printf("sent=%ld ok=%ld non2xx=%ld errors=%ld p50_ms=%.2f p99_ms=%.2f max_ms=%.2f "
	       "rate=%.0f next=%ld\n",
	       sent, ok, non2xx, errors + (sent - ok - non2xx - errors), p50, p99, mx,
	       (double)(ok + non2xx) / secs, (first - 1 + sent) % volunteers + 1);
	return 0;
}

static int idle(int port, int n, int seconds)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	int *fds = calloc((size_t)n, sizeof *fds);
	int open = 0;
	static const char req[] = "GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	for (int i = 0; i < n; i++) {
		fds[i] = dial(port, 0);
		if (fds[i] < 0)
			break;
		struct timeval tv = {5, 0};
		setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		struct conn c = {.fd = fds[i]};
		if (write(fds[i], req, sizeof req - 1) != (ssize_t)sizeof req - 1)
			break;
		int st = 0;
		while (!st) {
			ssize_t r = read(fds[i], c.buf + c.len, sizeof c.buf - 1 - c.len);
			if (r <= 0)
				break;
			c.len += (size_t)r;
			st = take_response(&c);
		}
		if (st != 200)
			break;
		open++;
	}
	printf("ready open=%d\n", open);
	fflush(stdout);
	sleep((unsigned)seconds);
	for (int i = 0; i < open; i++)
		close(fds[i]);
	printf("done\n");
	return open == n ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 10 && !strcmp(argv[1], "pace") && atol(argv[8]) > 0 && atol(argv[9]) > 0)
		return pace(atoi(argv[2]), atof(argv[3]), atoi(argv[4]), atoi(argv[5]), argv[6],
		            argv[7], atol(argv[8]), atol(argv[9]));
	if (argc == 5 && !strcmp(argv[1], "idle"))
		return idle(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
	fprintf(stderr, "usage: vdload pace PORT RATE SECONDS CONNS EVENT CODE FIRST VOLUNTEERS\n"
	                "       vdload idle PORT N SECONDS\n");
	return 2;
}
