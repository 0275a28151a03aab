"""Serve one loopback client with each of tokio's example programs.

Each driver starts the compiled example with its address argument(s), talks to it like the
example's own doc comment says (a line over TCP, a datagram over UDP, a chat between two
users), checks the answer, and kills the program. Returns (served, note).
"""

import socket
import subprocess
import threading
import time

DEADLINE = 15.0  # seconds for the program to start listening and answer


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def connect_retry(port):
    end = time.monotonic() + DEADLINE
    while True:
        try:
            c = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
            c.settimeout(DEADLINE)
            return c
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.05)


def read_until(sock, needle):
    buf = b""
    while needle not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf


def start(exe, *args, stdin=None):
    return subprocess.Popen([exe, *args], stdin=stdin or subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def stop(p):
    p.kill()
    p.wait(timeout=10)


def tcp_echo_server():
    """A plain Python echo server (the far side of `proxy`)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)

    def loop():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return

            def echo(c=c):
                with c:
                    while True:
                        d = c.recv(4096)
                        if not d:
                            return
                        c.sendall(d)

            threading.Thread(target=echo, daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    return srv


def echo_tcp(exe):
    port = free_port()
    p = start(exe, f"127.0.0.1:{port}")
    try:
        with connect_retry(port) as c:
            c.sendall(b"hello tickslab\n")
            got = read_until(c, b"\n")
        return got == b"hello tickslab\n", f"echoed {got!r}"
    finally:
        stop(p)


def echo_udp(exe):
    port = free_port(socket.SOCK_DGRAM)
    p = start(exe, f"127.0.0.1:{port}")
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.2)
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            s.sendto(b"ping tickslab", ("127.0.0.1", port))
            try:
                got, _ = s.recvfrom(65536)
                return got == b"ping tickslab", f"echoed {got!r}"
            except socket.timeout:
                continue
        return False, "no datagram came back"
    finally:
        stop(p)


def udp_client(exe):
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", 0))
    srv.settimeout(DEADLINE)
    port = srv.getsockname()[1]
    p = start(exe, f"127.0.0.1:{port}", stdin=subprocess.PIPE)
    try:
        p.stdin.write(b"from stdin")
        p.stdin.close()
        data, peer = srv.recvfrom(65536)
        srv.sendto(b"reply: " + data, peer)
        p.wait(timeout=DEADLINE)
        text = p.stdout.read().decode(errors="replace")
        ok = data == b"from stdin" and "reply: from stdin" in text and p.returncode == 0
        return ok, f"sent {data!r}, printed {text.strip()!r}"
    finally:
        if p.poll() is None:
            stop(p)
        srv.close()


def proxy(exe):
    srv = tcp_echo_server()
    port = free_port()
    p = start(exe, f"127.0.0.1:{port}", f"127.0.0.1:{srv.getsockname()[1]}")
    try:
        with connect_retry(port) as c:
            c.sendall(b"through the proxy\n")
            got = read_until(c, b"\n")
        return got == b"through the proxy\n", f"echoed {got!r} through the proxy"
    finally:
        stop(p)
        srv.close()


def chat(exe):
    port = free_port()
    p = start(exe, f"127.0.0.1:{port}")
    try:
        alice = connect_retry(port)
        assert b"username" in read_until(alice, b"\n")
        alice.sendall(b"alice\n")
        bob = connect_retry(port)
        assert b"username" in read_until(bob, b"\n")
        bob.sendall(b"bob\n")
        joined = read_until(alice, b"\n")
        bob.sendall(b"hi alice\n")
        said = read_until(alice, b"\n")
        alice.close()
        bob.close()
        ok = b"bob has joined the chat" in joined and said == b"bob: hi alice\n"
        return ok, f"alice read {joined!r} then {said!r}"
    finally:
        stop(p)


def print_each_packet(exe):
    port = free_port()
    p = start(exe, f"127.0.0.1:{port}")
    lines = []

    def pump():
        for line in p.stdout:
            lines.append(line.decode(errors="replace"))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        with connect_retry(port) as c:
            c.sendall(b"packet!")
            end = time.monotonic() + DEADLINE
            while time.monotonic() < end and not any("packet!" in l for l in lines):
                time.sleep(0.05)
    finally:
        p.kill()
        p.wait(timeout=10)
        reader.join(timeout=10)
    printed = "".join(lines)
    return "packet!" in printed, f"printed {printed.strip()[-120:]!r}"


DRIVERS = {
    "echo-tcp": echo_tcp,
    "echo-udp": echo_udp,
    "udp-client": udp_client,
    "proxy": proxy,
    "chat": chat,
    "print_each_packet": print_each_packet,
}


def drive(name, exe):
    try:
        return DRIVERS[name](exe)
    except Exception as e:  # noqa: BLE001 - any failure is a "did not serve"
        return False, f"{type(e).__name__}: {e}"
