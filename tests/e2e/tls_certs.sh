#!/bin/sh
# tls_certs.sh DIR - the certificates of the TLS tests, made afresh with the
# openssl command (no private key is ever checked in):
#   ca.pem               a test CA ("Agora test CA")
#   server.pem/.key      signed by it, for IP:127.0.0.1, IP:::1, DNS:localhost
#   other.pem/.key       signed by it, for DNS:other.example only
#   relay.pem/.key       signed by it, for IP:127.0.0.1 (a relay's own)
#   client.pem/.key      signed by it, a client certificate
#   ca2.pem              a second CA, which signed nothing here
#   ca2-client.pem/.key  a client certificate signed by ca2
#   server2.pem/.key     a server certificate as server.pem's, signed by ca2
#                        (a renewal from another CA)
#   cadir/               ca.pem in a hashed directory (openssl rehash)
# Exits 77 (skip) without openssl.
set -eu
dir=$1
command -v openssl >/dev/null 2>&1 || { echo "openssl not found: TLS tests skipped" >&2; exit 77; }
cd "$dir"
umask 077
ca() { # NAME CN
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1.key" -out "$1.pem" -days 2 -subj "/CN=$2" \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
leaf() { # NAME CA SAN EKU
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1.key" -out "$1.csr" -subj "/CN=agora-test-$1" 2>/dev/null
	printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=%s\n%s\n' "$4" "$3" >"$1.ext"
	openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" \
		-CAcreateserial -days 2 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
	rm -f "$1.csr" "$1.ext"
}
ca ca "Agora test CA"
ca ca2 "Agora other test CA"
leaf server ca "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost" serverAuth
leaf other ca "subjectAltName=DNS:other.example" serverAuth
leaf relay ca "subjectAltName=IP:127.0.0.1,DNS:localhost" serverAuth
leaf client ca "subjectAltName=DNS:agora-client" clientAuth
leaf ca2-client ca2 "subjectAltName=DNS:agora-client" clientAuth
leaf server2 ca2 "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost" serverAuth
mkdir -p cadir
cp ca.pem cadir/
openssl rehash cadir 2>/dev/null || c_rehash cadir >/dev/null
