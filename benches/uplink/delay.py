#!/usr/bin/env python3
"""A fixed-delay line on an NFQUEUE: every queued packet is held DELAY_MS and then accepted,
in arrival order. Pure Python (raw nfnetlink), so there is nothing to compile.

Usage (inside the namespace whose receive path it delays, as link.sh does):
    delay.py QUEUE_NUM DELAY_MS

Why it is built this way:
- netem is not in this kernel; holding a packet's verdict is the one delay we can add inside
  our own namespaces. nft's own `queue` statement is not built in either (CONFIG_NFT_QUEUE),
  so link.sh sends packets here with iptables' NFQUEUE target (xt compat), not nft.
- Copy mode META: we only need the packet id, not its bytes, so the kernel copies none.
- The delay is constant, so packets fall due in id order: one VERDICT_BATCH ("accept every
  id up to N") releases all that are due in one message, and order is kept by construction.
- The iptables rule has --queue-bypass: with no program bound (this one crashed or was never
  started) packets pass undelayed instead of wedging the link. Fail-open (accept when the
  queue is full) is NOT set: a full queue means this program stalled, and an undelayed,
  reordered packet would quietly falsify the benchmark; it shows as a drop instead
  (/proc/net/netfilter/nfnetlink_queue, queue_dropped / user_dropped).
- On SIGTERM the packets still held are accepted at once, so `link.sh down` loses nothing.
"""
import collections
import os
import select
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_CONFIG, NFQNL_MSG_VERDICT_BATCH = 0, 2, 3
NFQA_PACKET_HDR, NFQA_VERDICT_HDR = 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_QUEUE_MAXLEN = 1, 2, 3
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2
NF_ACCEPT = 1
SOL_NETLINK, NETLINK_NO_ENOBUFS = 270, 5
SO_RCVBUFFORCE = 33

# The kernel's queue must hold one RTT of packets (about 100 at 30 Mbit/s and 40 ms);
# this leaves room for far faster links or a short stall of this process.
QUEUE_MAXLEN = 16384


def attr(kind, payload):
    n = 4 + len(payload)
    return struct.pack("=HH", n, kind) + payload + b"\0" * ((4 - n % 4) % 4)


class Queue:
    def __init__(self, num):
        self.num = num
        self.seq = 0
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.sock.bind((0, 0))
        # A burst must not overflow the socket while we sleep: a failed delivery is a drop.
        self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 << 20)
        self.sock.setsockopt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1)

    def send(self, msg, attrs, flags=NLM_F_REQUEST):
        self.seq += 1
        # nfgenmsg: family AF_UNSPEC, version 0, res_id = queue number (big-endian)
        body = struct.pack("!BBH", socket.AF_UNSPEC, 0, self.num) + b"".join(attrs)
        hdr = struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg, flags, self.seq, 0)
        self.sock.send(hdr + body)

    def config(self, attrs):
        # Ask for an ACK so a refused bind (queue taken, no permission) fails loudly here.
        self.send(NFQNL_MSG_CONFIG, attrs, NLM_F_REQUEST | NLM_F_ACK)
        while True:
            data = self.sock.recv(65536)
            _, kind, _, seq, _ = struct.unpack_from("=IHHII", data)
            if kind == NLMSG_ERROR and seq == self.seq:
                err = struct.unpack_from("=i", data, 16)[0]
                if err:
                    raise OSError(-err, f"nfqueue config: {os.strerror(-err)}")
                return

    def bind(self):
        self.config([attr(NFQA_CFG_CMD, struct.pack("!BBH", NFQNL_CFG_CMD_BIND, 0, 0))])
        self.config([attr(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META)),
                     attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", QUEUE_MAXLEN))])

    def accept_upto(self, packet_id):
        self.send(NFQNL_MSG_VERDICT_BATCH, [attr(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT, packet_id))])

    def packet_ids(self, data):
        """Packet ids in one netlink datagram (normally exactly one message)."""
        off = 0
        while off + 16 <= len(data):
            length, kind, _, _, _ = struct.unpack_from("=IHHII", data, off)
            if length < 16:
                break
            if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                a, end = off + 20, off + length  # past nlmsghdr (16) and nfgenmsg (4)
                while a + 4 <= end:
                    alen, atype = struct.unpack_from("=HH", data, a)
                    if alen < 4:
                        break
                    if atype & 0x3FFF == NFQA_PACKET_HDR:
                        yield struct.unpack_from("!I", data, a + 4)[0]
                        break
                    a += (alen + 3) & ~3
            off += (length + 3) & ~3


def main():
    num, delay = int(sys.argv[1]), float(sys.argv[2]) / 1000.0
    q = Queue(num)
    q.bind()
    held = collections.deque()  # (due time, packet id), due times non-decreasing
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"delay.py: queue {num}, {delay * 1000:g} ms, pid {os.getpid()}", flush=True)
    try:
        run(q, held, delay)
    except (SystemExit, KeyboardInterrupt):
        pass
    finally:
        if held:
            q.accept_upto(held[-1][1])


def run(q, held, delay):
    sock, now = q.sock, time.monotonic
    while True:
        timeout = max(0.0, held[0][0] - now()) if held else 1.0
        try:
            ready, _, _ = select.select([sock], [], [], timeout)
        except InterruptedError:
            continue
        if ready:
            # Drain everything queued so one wake-up serves a burst.
            while True:
                try:
                    data = sock.recv(65536, socket.MSG_DONTWAIT)
                except (BlockingIOError, InterruptedError):
                    break
                due = now() + delay
                for pid in q.packet_ids(data):
                    held.append((due, pid))
        t, last = now(), None
        while held and held[0][0] <= t:
            last = held.popleft()[1]
        if last is not None:
            q.accept_upto(last)


if __name__ == "__main__":
    main()
