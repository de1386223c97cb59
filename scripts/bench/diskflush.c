/*
 * diskflush.c: the disk's own part of a durable commit, for `make bench` (bounded, one file).
 *
 *   diskflush DIR RATE SECONDS BYTES
 *       Writes DIR/diskflush.dat: RATE * SECONDS records of BYTES each, due as a Poisson
 *       process of RATE a second (exponential gaps from a fixed seed, as vdload and pgbench -R
 *       schedule their loads).  One flusher, as PostgreSQL's WAL has: each round writes every
 *       record due by then in one pwrite and makes it durable with one fdatasync, so records
 *       that fall due during a flush share the next one (a group commit with no CPU cost).  A
 *       record's latency counts from when it was due to the end of the fdatasync that held it.
 *       The file is a 16 MB segment, zero-filled and fsynced first and then overwritten in a
 *       ring, as PostgreSQL reuses its WAL segments, so a flush needs no block allocation.
 *       Prints "records=N flushes=N p50_ms=X p99_ms=X max_ms=X" and removes the file.
 *
 * No durable commit on this disk, whatever serves it, can have a tail much shorter than this
 * one at the same rate and size: it is the floor the bench's check-in p99 is read against.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { SEGMENT = 16 * 1024 * 1024 };

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void sleep_until_us(uint64_t t)
{
	struct timespec ts = {.tv_sec = (time_t)(t / 1000000),
	                      .tv_nsec = (long)(t % 1000000) * 1000};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* xorshift64*: the same schedule every run */
static double uniform01(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return ((*s * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int write_all(int fd, const char *p, size_t n, off_t at)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, at);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w, n -= (size_t)w, at += w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: diskflush DIR RATE SECONDS BYTES\n");
		return 2;
	}
	double rate = atof(argv[2]), seconds = atof(argv[3]);
	long bytes = atol(argv[4]);
	if (rate <= 0 || seconds <= 0 || seconds > 600 || bytes < 1 || bytes > 1024 * 1024) {
		fprintf(stderr, "diskflush: RATE > 0, 0 < SECONDS <= 600, 1 <= BYTES <= 1 MB\n");
		return 2;
	}
	size_t n = (size_t)(rate * seconds);
	if (n < 1)
		n = 1;

	char path[4096];
	snprintf(path, sizeof path, "%s/diskflush.dat", argv[1]);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	char *buf = calloc(1, SEGMENT);
	uint64_t *due = malloc(n * sizeof *due);
	double *lat = malloc(n * sizeof *lat);
	if (!buf || !due || !lat || write_all(fd, buf, SEGMENT, 0) != 0 || fsync(fd) != 0) {
		perror("diskflush: preparing the segment");
		unlink(path);
		return 1;
	}
	memset(buf, 'w', SEGMENT);

	uint64_t seed = 0x9e3779b97f4a7c15ULL, start = now_us() + 1000;
	double t = 0;
	for (size_t i = 0; i < n; i++) {
		t += -log(1.0 - uniform01(&seed)) / rate;
		due[i] = start + (uint64_t)(t * 1e6);
	}

	size_t next = 0, flushes = 0;
	off_t at = 0;
	while (next < n) {
		uint64_t now = now_us();
		if (due[next] > now) {
			sleep_until_us(due[next]);
			continue;
		}
		size_t k = 0;
		while (next + k < n && due[next + k] <= now)
			k++;
		size_t len = k * (size_t)bytes;
		if (len > SEGMENT)
			len = SEGMENT;
		if (at + (off_t)len > SEGMENT)
			at = 0;
		if (write_all(fd, buf, len, at) != 0 || fdatasync(fd) != 0) {
			perror("diskflush: write");
			unlink(path);
			return 1;
		}
		at += (off_t)len;
		flushes++;
		uint64_t done = now_us();
		for (size_t j = 0; j < k; j++, next++)
			lat[next] = (double)(done - due[next]) / 1000.0;
	}
	close(fd);
	unlink(path);

	qsort(lat, n, sizeof *lat, by_value);
	printf("records=%zu flushes=%zu p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n", n, flushes,
	       lat[(n - 1) / 2], lat[(size_t)((double)(n - 1) * 0.99)], lat[n - 1]);
	free(buf);
	free(due);
	free(lat);
	return 0;
}
