"""Download http://HOST/PATH slowly over one TCP connection: a small receive buffer and paced reads keep the
connection open for about SIZE / RATE seconds, with packets flowing all the time (curl's --limit-rate does not pace
the connection here: the kernel's receive buffer takes the whole file at once). Prints "STATUS BYTES exit 0"."""
import socket
import sys
import time

host, path, rate = sys.argv[1], sys.argv[2], int(sys.argv[3])
chunk = 16384
sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, chunk)
sock.settimeout(30)
sock.connect((host, 80))
sock.sendall(("GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" % (path, host)).encode())
data = b""
while True:
    started = time.monotonic()
    block = sock.recv(chunk)
    if not block:
        break
    data += block
    time.sleep(max(0.0, len(block) / rate - (time.monotonic() - started)))
head, separator, body = data.partition(b"\r\n\r\n")
status = head.split(b" ", 2)[1].decode() if separator and head.startswith(b"HTTP/") else "000"
print("%s %d exit 0" % (status, len(body)))
