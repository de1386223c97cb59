/*
 * secret.c: the master secret file and the keys derived from it.
 */
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "log.h"

void secret_hmac(const uint8_t key[32], const void *data, size_t len, uint8_t out[32])
{
	unsigned int n = 32;
	HMAC(EVP_sha256(), key, 32, data, len, out, &n);
}

void secret_sha256(const void *data, size_t len, uint8_t out[32])
{
	unsigned int n = 32;
	EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

int secret_random(void *buf, size_t len)
{
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

void secret_hex(const uint8_t *in, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static void derive(const uint8_t *master, size_t len, const char *label, uint8_t out[32])
{
	unsigned int n = 32;
	HMAC(EVP_sha256(), master, (int)len, (const unsigned char *)label, strlen(label), out, &n);
}

int secret_load(struct secrets *s, const char *path, struct err *err)
{
	uint8_t master[4096];
	if (!path || !*path)
		return err_set(err, APP_EINVALID, "VOLUNTEERD_SECRET_FILE",
		               "is required: a file with at least 32 random bytes");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, APP_EINVALID, "VOLUNTEERD_SECRET_FILE", "cannot open %s: %s",
		               path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) == 0 && (st.st_mode & 077))
		log_msg(LOG_WARN, "secret_file_mode", "path=%s mode=%o hint=\"chmod 600\"", path,
		        (unsigned)(st.st_mode & 0777));
	ssize_t n = read(fd, master, sizeof master);
	close(fd);
	if (n < 32)
		return err_set(err, APP_EINVALID, "VOLUNTEERD_SECRET_FILE",
		               "%s holds %zd bytes; at least 32 are needed", path, n);
	derive(master, (size_t)n, "volunteerd id-number encryption v1", s->id_enc);
	derive(master, (size_t)n, "volunteerd id-number index v1", s->id_hmac);
	derive(master, (size_t)n, "volunteerd check-in codes v1", s->checkin);
	derive(master, (size_t)n, "volunteerd form tokens v1", s->form);
	derive(master, (size_t)n, "volunteerd request fingerprints v1", s->request);
	OPENSSL_cleanse(master, sizeof master);
	return 0;
}
