#!/usr/bin/python3
"""roce-capture-check.py CAPTURE [LOCAL_IP] — checks every RoCEv2 packet (UDP dst port 4791) of a pcap/pcapng
capture with scapy: its ICRC (scapy's BTH.compute_icrc, pad bytes included) must equal the one on the wire.
Prints one line per direction and opcode, retransmissions (an RC request or read response whose QP and PSN
were already seen from the same sender; MADs on QP1 sent twice), and last a line
"icrc: N checked, N bad". Exit 0 when every ICRC matched and at least one packet was checked.
LOCAL_IP names the side printed as "ours" (default: the lower address)."""
import collections
import sys

from scapy.contrib.roce import BTH
from scapy.layers.inet import IP, UDP
from scapy.utils import PcapReader

OPCODES = {
    0x00: 'SEND_FIRST', 0x01: 'SEND_MIDDLE', 0x02: 'SEND_LAST', 0x03: 'SEND_LAST_IMM', 0x04: 'SEND_ONLY',
    0x05: 'SEND_ONLY_IMM', 0x06: 'WRITE_FIRST', 0x07: 'WRITE_MIDDLE', 0x08: 'WRITE_LAST',
    0x09: 'WRITE_LAST_IMM', 0x0A: 'WRITE_ONLY', 0x0B: 'WRITE_ONLY_IMM', 0x0C: 'READ_REQUEST',
    0x0D: 'READ_RESPONSE_FIRST', 0x0E: 'READ_RESPONSE_MIDDLE', 0x0F: 'READ_RESPONSE_LAST',
    0x10: 'READ_RESPONSE_ONLY', 0x11: 'ACKNOWLEDGE', 0x12: 'ATOMIC_ACKNOWLEDGE', 0x13: 'COMPARE_SWAP',
    0x14: 'FETCH_ADD', 0x16: 'SEND_LAST_INV', 0x17: 'SEND_ONLY_INV', 0x64: 'UD_SEND_ONLY',
}


def main():
    path = sys.argv[1]
    local = sys.argv[2] if len(sys.argv) > 2 else None
    counts = collections.Counter()
    by_dir = collections.Counter()
    payload_bytes = collections.Counter()
    seen = set()
    retrans = collections.Counter()
    naks = collections.Counter()
    checked = bad = 0
    first_bad = []
    with PcapReader(path) as reader:
        for frame in reader:
            if IP not in frame or UDP not in frame or frame[UDP].dport != 4791:
                continue
            ip = frame[IP]
            raw_ip = bytes(ip)[: ip.len]
            pkt = IP(raw_ip)
            if BTH not in pkt:
                continue
            bth = pkt[BTH]
            wire = raw_ip[-4:]
            computed = bth.compute_icrc(None)
            checked += 1
            if computed != wire:
                bad += 1
                if len(first_bad) < 5:
                    first_bad.append(f'{ip.src}->{ip.dst} opcode 0x{bth.opcode:02x} psn {bth.psn}')
            if local is None:
                local = min(ip.src, ip.dst)
            direction = 'ours->kernel' if ip.src == local else 'kernel->ours'
            name = OPCODES.get(bth.opcode, f'0x{bth.opcode:02x}')
            counts[(direction, name)] += 1
            by_dir[direction] += 1
            payload_bytes[direction] += len(raw_ip)
            udp_payload = bytes(pkt[UDP].payload)
            if bth.dqpn == 1:
                key = (ip.src, 'mad', udp_payload)
            elif bth.opcode <= 0x10 or bth.opcode in (0x13, 0x14, 0x16, 0x17):
                key = (ip.src, bth.dqpn, bth.psn, bth.opcode)
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
    print(f'icrc: {checked} checked, {bad} bad')
    sys.exit(0 if checked > 0 and bad == 0 else 1)


if __name__ == '__main__':
    main()
