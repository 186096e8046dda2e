#!/usr/bin/env python3
"""Resident memory of an edge holding N connections whose request headers arrive slowly (see slow-headers.sh).

Usage: slow-headers.py PID PORT N [--tls] [--warm]. Prints one line: baseline RSS, RSS with N connections in the
header phase (after two trickled bytes each), and the difference per connection. With --warm, 200 clients first
send 8 MiB bodies at once (which Kestrel reads and discards), so the blocks the slow clients get have been written
before, as in an edge that has been serving transfers.
"""
import socket, ssl, sys, threading, time

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

def connect(port, tls):
    s = socket.create_connection(("127.0.0.1", port))
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s, server_hostname="edge.test")
    return s

def main():
    pid, port, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    tls = "--tls" in sys.argv
    # Warm up: a few whole requests, so the baseline has the code paths loaded.
    for _ in range(20):
        s = connect(port, tls)
        s.sendall(b"GET /_annexedge/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while s.recv(4096):
            pass
        s.close()
    if "--warm" in sys.argv:
        def upload():
            s = connect(port, tls)
            s.sendall(b"POST /_annexedge/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 8388608\r\n\r\n")
            chunk = b"x" * 65536
            try:
                for _ in range(128):
                    s.sendall(chunk)
                while s.recv(4096):
                    pass
            except OSError:
                pass
            s.close()
        threads = [threading.Thread(target=upload) for _ in range(200)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    time.sleep(2)
    base = rss_kib(pid)
    conns = []
    for i in range(n):
        s = connect(port, tls)
        s.sendall(b"POST /git-annex/11111111-2222-4333-8444-555555555555/v4/checkpresent HTTP/1.1\r\nHost: x\r\nX-Slow: a")
        conns.append(s)
    for _ in range(2):
        time.sleep(1)
        for s in conns:
            s.sendall(b"a")
    time.sleep(2)
    held = rss_kib(pid)
    alive = 0
    for s in conns:
        try:
            s.sendall(b"a")
            alive += 1
        except OSError:
            pass
    try:
        s = connect(port, tls)
        s.settimeout(10)
        s.sendall(b"GET /_annexedge/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = s.recv(4096).split(b"\r\n")[0].decode()
        s.close()
    except OSError as e:
        answer = f"no answer ({e})"
    print(f"{'https' if tls else 'http'}{' warm' if '--warm' in sys.argv else ''} N={n} alive={alive}: RSS {base/1024:.1f} MiB -> {held/1024:.1f} MiB, "
          f"+{(held-base)/1024:.1f} MiB, {(held-base)/n:.1f} KiB per connection; a new client then gets: {answer}")
    for s in conns:
        s.close()

main()
