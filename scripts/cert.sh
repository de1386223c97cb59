#!/usr/bin/env bash
# A self-signed ECDSA P-256 certificate for localhost under var/tls/ (cert.pem, key.pem), made
# only when either file is missing (VOLUNTEERD_VAR puts var/ elsewhere).  Good for development
# only: browsers will warn about it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR="${VOLUNTEERD_VAR:-$ROOT/var}/tls"
CERT="$DIR/cert.pem"
KEY="$DIR/key.pem"

if [ -s "$CERT" ] && [ -s "$KEY" ]; then
	exit 0
fi

mkdir -p "$DIR"
chmod 700 "$DIR"
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$KEY.tmp" -out "$CERT.tmp" -days 825 -subj /CN=localhost \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
	-addext "keyUsage=critical,digitalSignature" -addext "extendedKeyUsage=serverAuth" \
	2>"$DIR/openssl.log" || {
	cat "$DIR/openssl.log" >&2
	echo "cert: openssl failed" >&2
	exit 1
}
chmod 600 "$KEY.tmp"
chmod 644 "$CERT.tmp"
mv "$KEY.tmp" "$KEY"
mv "$CERT.tmp" "$CERT"
rm -f "$DIR/openssl.log"
echo "cert: made a self-signed certificate for localhost in $DIR" >&2
