"""A long-lived download for the scenarios: python3 slow_download.py HOST PATH RATE [FILE]

GET http://HOST/PATH over one TCP connection and read it at RATE bytes per second: a small receive buffer and paced
reads keep the connection open for about SIZE / RATE seconds, with packets flowing all the time. (curl's
--limit-rate does not do that here: the kernel's receive buffer takes the whole file at once and curl only reads it
slowly, so the connection is over in a second or two.) The body goes to FILE if given. Prints "STATUS BYTES exit N"
like the scenarios' curl -w did; N (also the exit status) is 0 for a 200 answer read to its end, 22 for another
status (curl -f), 1 when the connection fails (then stderr says when: seconds after the start, bytes read, UTC)."""
import socket
import sys
import time

CHUNK = 16384


def download(host, path, rate, sink, progress):
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, CHUNK)
    sock.settimeout(30)
    sock.connect((host, 80))
    sock.sendall(("GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" % (path, host)).encode())
    head, body_bytes, status = b"", 0, "000"
    while True:
        started = time.monotonic()
        block = sock.recv(CHUNK)
        if not block:
            return status, body_bytes
        if status == "000":
            head += block
            if b"\r\n\r\n" not in head:
                continue
            head, block = head.split(b"\r\n\r\n", 1)
            status = head.split(b" ", 2)[1].decode() if head.startswith(b"HTTP/") else "000"
        body_bytes += len(block)
        progress["bytes"] = body_bytes
        if sink:
            sink.write(block)
        time.sleep(max(0.0, len(block) / rate - (time.monotonic() - started)))


def main(argv):
    host, path, rate = argv[1], argv[2], int(argv[3])
    sink = open(argv[4], "wb") if len(argv) > 4 else None
    progress = {"bytes": 0, "started": time.monotonic()}
    try:
        status, size = download(host, path, rate, sink, progress)
        code = 0 if status == "200" else 22
    except OSError as exc:
        # When it broke tells which event of a scenario (a failover, a failback) broke it.
        sys.stderr.write("%s (after %.1f s and %d bytes, at %s)\n" % (
            exc, time.monotonic() - progress["started"], progress["bytes"],
            time.strftime("%H:%M:%S", time.gmtime())))
        status, size, code = "000", 0, 1
    finally:
        if sink:
            sink.close()
    print("%s %d exit %d" % (status, size, code))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
