#!/usr/bin/python3
"""roce-capture-check.py CAPTURE [LOCAL_IP] — checks the ICRC of every RoCEv2 packet (UDP dst port 4791, IPv4) of
a pcap/pcapng capture, pad bytes included, two ways: scapy's BTH.compute_icrc, and the same masking (rxe_icrc.c:
8 bytes of 0xFF, IPv4 TOS/TTL/checksum, UDP checksum and BTH byte 4 set to all ones) fed to zlib.crc32. scapy
costs about 1-3 ms a packet, so above SCAPY_MAX packets (env, default 6000) it checks every packet that is not a
bulk MIDDLE segment plus an even stride of those; zlib checks every packet, and both must agree where both ran.
Prints packets per direction and opcode, retransmissions (an RC request or read response whose QP and PSN were
already seen from the same sender; a MAD sent twice), NAKs, and last "icrc: N checked, N by scapy, N bad".
Exit 0 when every ICRC matched and at least one packet was checked. LOCAL_IP is "ours" (default: lower address)."""
import collections
import os
import sys
import zlib

from scapy.contrib.roce import BTH
from scapy.layers.inet import IP
from scapy.utils import RawPcapNgReader, RawPcapReader

OPCODES = {
    0x00: 'SEND_FIRST', 0x01: 'SEND_MIDDLE', 0x02: 'SEND_LAST', 0x03: 'SEND_LAST_IMM', 0x04: 'SEND_ONLY',
    0x05: 'SEND_ONLY_IMM', 0x06: 'WRITE_FIRST', 0x07: 'WRITE_MIDDLE', 0x08: 'WRITE_LAST',
    0x09: 'WRITE_LAST_IMM', 0x0A: 'WRITE_ONLY', 0x0B: 'WRITE_ONLY_IMM', 0x0C: 'READ_REQUEST',
    0x0D: 'READ_RESPONSE_FIRST', 0x0E: 'READ_RESPONSE_MIDDLE', 0x0F: 'READ_RESPONSE_LAST',
    0x10: 'READ_RESPONSE_ONLY', 0x11: 'ACKNOWLEDGE', 0x12: 'ATOMIC_ACKNOWLEDGE', 0x13: 'COMPARE_SWAP',
    0x14: 'FETCH_ADD', 0x16: 'SEND_LAST_INV', 0x17: 'SEND_ONLY_INV', 0x64: 'UD_SEND_ONLY',
}


MIDDLE = {0x01, 0x07, 0x0E}


def zlib_icrc(ip_bytes):
    """The ICRC of an IPv4 RoCEv2 datagram (without its last 4 bytes), as it appears on the wire."""
    ihl = (ip_bytes[0] & 0x0F) * 4
    masked = bytearray(ip_bytes[:-4])
    masked[1] = 0xFF  # TOS
    masked[8] = 0xFF  # TTL
    masked[10:12] = b'\xff\xff'  # header checksum
    masked[ihl + 6 : ihl + 8] = b'\xff\xff'  # UDP checksum
    masked[ihl + 8 + 4] = 0xFF  # BTH FECN, BECN, reserved
    return (zlib.crc32(b'\xff' * 8 + bytes(masked)) & 0xFFFFFFFF).to_bytes(4, 'little')


def frames(path):
    with open(path, 'rb') as f:
        magic = f.read(4)
    reader = RawPcapNgReader(path) if magic == b'\x0a\x0d\x0d\x0a' else RawPcapReader(path)
    try:
        for data, _meta in reader:
            yield data
    finally:
        reader.close()


def datagrams(path):
    """(ip bytes) of every IPv4 UDP datagram to port 4791 in an Ethernet capture."""
    for data in frames(path):
        if len(data) < 14 + 20 + 8 + 12 + 4 or data[12:14] != b'\x08\x00':
            continue
        ip = data[14:]
        ihl = (ip[0] & 0x0F) * 4
        if ip[9] != 17 or int.from_bytes(ip[ihl + 2 : ihl + 4], 'big') != 4791:
            continue
        yield ip[: int.from_bytes(ip[2:4], 'big')]


def main():
    path = sys.argv[1]
    local = sys.argv[2] if len(sys.argv) > 2 else None
    counts = collections.Counter()
    by_dir = collections.Counter()
    payload_bytes = collections.Counter()
    seen = set()
    retrans = collections.Counter()
    naks = collections.Counter()
    checked = bad = by_scapy = 0
    first_bad = []
    all_ips = list(datagrams(path))
    scapy_max = int(os.environ.get('SCAPY_MAX', '6000'))
    bulk = sum(1 for ip in all_ips if ip[(ip[0] & 0x0F) * 4 + 8] in MIDDLE)
    budget = max(scapy_max - (len(all_ips) - bulk), 0)
    stride = 1 if len(all_ips) <= scapy_max else max(1, -(-bulk // max(budget, 1)))
    bulk_seen = 0
    for raw_ip in all_ips:
        ihl = (raw_ip[0] & 0x0F) * 4
        udp_payload = raw_ip[ihl + 8 :]
        opcode = udp_payload[0]
        dqpn = int.from_bytes(udp_payload[5:8], 'big')
        psn = int.from_bytes(udp_payload[9:12], 'big') & 0xFFFFFF
        src = '.'.join(str(b) for b in raw_ip[12:16])
        dst = '.'.join(str(b) for b in raw_ip[16:20])
        wire = raw_ip[-4:]
        ok = zlib_icrc(raw_ip) == wire
        use_scapy = opcode not in MIDDLE or bulk_seen % stride == 0
        if opcode in MIDDLE:
            bulk_seen += 1
        if use_scapy:
            pkt = IP(raw_ip)
            if BTH in pkt:
                by_scapy += 1
                if pkt[BTH].compute_icrc(None) != wire:
                    ok = False
        checked += 1
        if not ok:
            bad += 1
            if len(first_bad) < 5:
                first_bad.append(f'{src}->{dst} opcode 0x{opcode:02x} psn {psn}')
        if local is None:
            local = min(src, dst)
        direction = 'ours->kernel' if src == local else 'kernel->ours'
        name = OPCODES.get(opcode, f'0x{opcode:02x}')
        counts[(direction, name)] += 1
        by_dir[direction] += 1
        payload_bytes[direction] += len(raw_ip)
        if dqpn == 1:
            key = (src, 'mad', bytes(udp_payload))
        elif opcode <= 0x10 or opcode in (0x13, 0x14, 0x16, 0x17):
            key = (src, dqpn, psn, opcode)
        else:
            key = None
            # AETH syndrome: 0b011xxxxx is a NAK, 0b001xxxxx an RNR NAK.
            syndrome = udp_payload[12] if len(udp_payload) > 12 else 0
            if syndrome >> 5 == 3:
                naks[(direction, 'NAK')] += 1
            elif syndrome >> 5 == 1:
                naks[(direction, 'RNR_NAK')] += 1
        if key is not None:
            if key in seen:
                retrans[direction] += 1
            else:
                seen.add(key)
    for direction in ('ours->kernel', 'kernel->ours'):
        print(f'packets {direction}: {by_dir[direction]} ({payload_bytes[direction]} IP bytes), '
              f'retransmitted {retrans[direction]}, '
              f'NAK {naks[(direction, "NAK")]}, RNR NAK {naks[(direction, "RNR_NAK")]}')
    for (direction, name), n in sorted(counts.items()):
        print(f'  {direction} {name} {n}')
    for line in first_bad:
        print(f'  bad ICRC: {line}')
    print(f'icrc: {checked} checked, {by_scapy} by scapy, {bad} bad')
    sys.exit(0 if checked > 0 and bad == 0 else 1)


if __name__ == '__main__':
    main()
