#!/usr/bin/env python3
"""Bulk TCP goodput for verify.sh (no iperf3 needed).

    tcpbulk.py recv HOST PORT CONNS         read CONNS connections to EOF, answer each its byte count
    tcpbulk.py send HOST PORT BYTES [CC]    send BYTES with congestion control CC

The sender's clock runs from connect() until the receiver's count comes back, so goodput is
bytes that actually arrived over the whole exchange, handshake and slow start included.
"""
import socket
import struct
import sys
import threading
import time


def drain(c):
    n = 0
    while chunk := c.recv(1 << 20):
        n += len(chunk)
    c.sendall(struct.pack("!Q", n))
    c.close()


def recv(host, port, conns):
    srv = socket.create_server((host, int(port)), backlog=64)
    # A thread per connection, so parallel senders are read in parallel.
    threads = []
    for _ in range(int(conns)):
        threads.append(threading.Thread(target=drain, args=(srv.accept()[0],)))
        threads[-1].start()
    for t in threads:
        t.join()


def send(host, port, total, cc=None):
    total = int(total)
    s = socket.socket()
    if cc:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
    t0 = time.monotonic()
    s.connect((host, int(port)))
    buf = b"\0" * (1 << 16)
    left = total
    while left:
        left -= s.send(buf[: min(left, len(buf))])
    s.shutdown(socket.SHUT_WR)
    got = struct.unpack("!Q", s.recv(8))[0]
    secs = time.monotonic() - t0
    # struct tcp_info (linux/tcp.h): 8 bytes of u8 fields, then u32s: tcpi_rtt (us) at 68,
    # tcpi_total_retrans at 100; after four u64s, tcpi_segs_out at 136
    info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    srtt_ms = struct.unpack_from("I", info, 68)[0] / 1000
    retrans = struct.unpack_from("I", info, 100)[0]
    segs_out = struct.unpack_from("I", info, 136)[0]
    used = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).rstrip(b"\0").decode()
    print(f"cc={used} bytes={got} seconds={secs:.2f} mbit={got * 8 / secs / 1e6:.2f} "
          f"segs_out={segs_out} retrans={retrans} srtt_ms={srtt_ms:.1f}")


if __name__ == "__main__":
    {"recv": recv, "send": send}[sys.argv[1]](*sys.argv[2:])
