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

static int hex_digit(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

int secret_unhex(const char *hex, uint8_t *out, size_t max)
{
	size_t n = strlen(hex);
	if (n % 2 || n / 2 > max)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (int)(n / 2);
}

static void derive(const uint8_t *master, size_t len, const char *label, uint8_t out[32])
{
	unsigned int n = 32;
	HMAC(EVP_sha256(), master, (int)len, (const unsigned char *)label, strlen(label), out, &n);
}

/* Read a secret file named by the setting key into master (at least 32 bytes); -1 with err. */
static int read_master(const char *key, const char *path, uint8_t master[4096], size_t *len,
                       struct err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, APP_EINVALID, key, "cannot open %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) == 0 && (st.st_mode & 077))
		log_msg(LOG_WARN, "secret_file_mode", "path=%s mode=%o hint=\"chmod 600\"", path,
		        (unsigned)(st.st_mode & 0777));
	ssize_t n = read(fd, master, 4096);
	close(fd);
	if (n < 32) {
		OPENSSL_cleanse(master, 4096);
		return err_set(err, APP_EINVALID, key, "%s holds %zd bytes; at least 32 are needed",
		               path, n);
	}
	*len = (size_t)n;
	return 0;
}

/* The ID-number keys of one secret file: the same labels in every file, so that the file that
 * was current becomes the previous one as it is. */
static void derive_id_key(const uint8_t *master, size_t len, struct idnum_key *k)
{
	uint8_t id[32];
	derive(master, len, "volunteerd id-number encryption v1", k->enc);
	derive(master, len, "volunteerd id-number index v1", k->index);
	derive(master, len, "volunteerd id-number key id v1", id);
	memcpy(k->id, id, sizeof k->id);
}

int secret_load(struct secrets *s, const char *path, const char *previous, struct err *err)
{
	uint8_t master[4096] = {0};
	size_t n = 0;
	char cur_hex[2 * IDNUM_KEY_ID_LEN + 1], prev_hex[2 * IDNUM_KEY_ID_LEN + 1] = "-";
	memset(s, 0, sizeof *s);
	if (!path || !*path)
		return err_set(err, APP_EINVALID, "VOLUNTEERD_SECRET_FILE",
		               "is required: a file with at least 32 random bytes");
	if (read_master("VOLUNTEERD_SECRET_FILE", path, master, &n, err) < 0)
		return -1;
	derive_id_key(master, n, &s->id.current);
	derive(master, n, "volunteerd check-in codes v1", s->checkin);
	derive(master, n, "volunteerd form tokens v1", s->form);
	derive(master, n, "volunteerd request fingerprints v1", s->request);
	derive(master, n, "volunteerd totp secrets v1", s->totp);
	derive(master, n, "volunteerd stored answers v1", s->answers);
	OPENSSL_cleanse(master, sizeof master);
	secret_hex(s->id.current.id, IDNUM_KEY_ID_LEN, cur_hex);
	if (previous && *previous) {
		if (read_master("VOLUNTEERD_SECRET_FILE_PREVIOUS", previous, master, &n, err) < 0)
			return -1;
		derive_id_key(master, n, &s->id.previous);
		OPENSSL_cleanse(master, sizeof master);
		if (!memcmp(s->id.previous.id, s->id.current.id, IDNUM_KEY_ID_LEN))
			return err_set(
			        err, APP_EINVALID, "VOLUNTEERD_SECRET_FILE_PREVIOUS",
			        "%s gives the same key as VOLUNTEERD_SECRET_FILE; the previous "
			        "secret file is the one used before the current one",
			        previous);
		s->id.has_previous = 1;
		secret_hex(s->id.previous.id, IDNUM_KEY_ID_LEN, prev_hex);
	}
	log_msg(LOG_INFO, "id_keys", "current=%s previous=%s", cur_hex, prev_hex);
	return 0;
}
