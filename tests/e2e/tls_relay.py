#!/usr/bin/env python3
"""tls_relay.py - a TLS-terminating relay for the TLS tests.

    tls_relay.py --cert PEM --key PEM [--client-ca PEM] --to ADDRESS
                 [--upstream-ca PEM]

Listens on 127.0.0.1 (a port the kernel picks) with its own certificate and
prints "listening 127.0.0.1:PORT". Each client's TLS handshake is then
reported on one line: "client CN=NAME" when the client presented a
certificate (--client-ca requires one, verified against that CA), "client
none" when it did not, "failed REASON" when the handshake failed. Bytes are
then passed both ways to ADDRESS, "tcp:HOST:PORT" (plain) or
"tls:HOST:PORT" (a TLS connection of the relay's own, trusting
--upstream-ca): what a relay that holds a certificate the client trusts
does between a client and the server. Ends when its stdin closes.
"""
import argparse
import socket
import ssl
import sys
import threading


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.close()
        except OSError:
            pass


def upstream(args):
    kind, rest = args.to.split(":", 1)
    host, port = rest.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.settimeout(None)
    if kind == "tls":
        ctx = ssl.create_default_context(cafile=args.upstream_ca)
        sock = ctx.wrap_socket(sock, server_hostname=host)
    return sock


def serve(conn, ctx, args):
    try:
        tconn = ctx.wrap_socket(conn, server_side=True)
    except (ssl.SSLError, OSError) as e:
        print("failed %s" % getattr(e, "reason", None) or e, flush=True)
        conn.close()
        return
    cert = tconn.getpeercert()
    if cert:
        cn = [v for rdn in cert.get("subject", ()) for (k, v) in rdn
              if k == "commonName"]
        print("client CN=%s" % (cn[0] if cn else "?"), flush=True)
    else:
        print("client none", flush=True)
    try:
        up = upstream(args)
    except OSError as e:
        print("upstream failed %s" % e, flush=True)
        tconn.close()
        return
    threading.Thread(target=pump, args=(tconn, up), daemon=True).start()
    threading.Thread(target=pump, args=(up, tconn), daemon=True).start()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--client-ca")
    p.add_argument("--to", required=True)
    p.add_argument("--upstream-ca")
    args = p.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.cert, args.key)
    if args.client_ca:
        ctx.load_verify_locations(cafile=args.client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    print("listening 127.0.0.1:%d" % lsock.getsockname()[1], flush=True)

    def accept():
        while True:
            conn, _ = lsock.accept()
            threading.Thread(target=serve, args=(conn, ctx, args),
                             daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    sys.stdin.read()


if __name__ == "__main__":
    main()
