#!/usr/bin/python3
"""echo.py HOST PORT [tcp|udp]: send a line, expect it back in upper case."""
import socket
import sys

host, port = sys.argv[1], int(sys.argv[2])
proto = sys.argv[3] if len(sys.argv) > 3 else "tcp"
msg = b"hello, autopkgtest 123\n"
want = msg.upper()
if proto == "tcp":
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(msg)
        got = b""
        while len(got) < len(want):
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
else:
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        got = b""
        for _ in range(5):          # UDP: retry a lost datagram
            s.sendto(msg, (host, port))
            try:
                got = s.recv(65536)
                break
            except socket.timeout:
                continue
if got != want:
    sys.exit(f"{proto} {host}:{port}: sent {msg!r}, got {got!r}")
print(f"ok {proto} {host}:{port}")
