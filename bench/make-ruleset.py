#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Make a 5-tuple rule set and a packet trace for bench/classify.

Both are in ClassBench's formats, so the same files can be fed to other
classifiers:
  rules: @SRC/LEN<TAB>DST/LEN<TAB>SPLO : SPHI<TAB>DPLO : DPHI<TAB>PROTO/MASK
         one per line, the first matching rule wins (line order = priority)
  trace: SRC<TAB>DST<TAB>SPORT<TAB>DPORT<TAB>PROTO<TAB>RULE
         addresses as integers; RULE is the 1-based line of a rule the header
         was drawn from (0 for a random header)

Usage: make-ruleset.py RULES MASKS RANGE_PERCENT PACKETS SEED RULEFILE TRACEFILE
  MASKS: "few" (at most 16 distinct masks), "many" (hundreds), or "acl":
         many, with what ACL sets also hold: source ports (exact or ranges),
         any protocol (0x00/0x00) with ports and without, ICMP, and a few
         rules with ports on a protocol that has none (ESP)
"""
import random
import sys


def main():
    n, masks, ranges, packets, seed = (int(sys.argv[1]), sys.argv[2], int(sys.argv[3]),
                                       int(sys.argv[4]), int(sys.argv[5]))
    rng = random.Random(seed)
    if masks == "few":
        src_lens, dst_lens = [8, 16, 24, 32], [16, 32]
    elif masks in ("many", "acl"):
        src_lens, dst_lens = list(range(8, 33)), [0, 8, 16, 24, 32]
    else:
        sys.exit("make-ruleset.py: MASKS is few, many or acl")
    rules = []
    for _ in range(n):
        proto = (rng.choice([6, 17]), 0xFF)
        sport = (0, 65535)
        sl, dl = rng.choice(src_lens), rng.choice(dst_lens)
        src = rng.getrandbits(32) & (((1 << sl) - 1) << (32 - sl)) if sl else 0
        dst = rng.getrandbits(32) & (((1 << dl) - 1) << (32 - dl)) if dl else 0
        if rng.randrange(100) < ranges:
            lo = rng.randrange(1024, 60000)
            dport = (lo, lo + rng.randrange(1, 1000))
        elif masks in ("many", "acl") and rng.random() < 0.3:
            dport = (0, 65535)
        else:
            p = rng.randrange(1, 65536)
            dport = (p, p)
        if masks == "acl":
            kind = rng.randrange(100)
            if kind < 10:
                p = rng.randrange(1024, 65536)
                sport = (p, p)
            elif kind < 15:
                lo = rng.randrange(1024, 60000)
                sport = (lo, lo + rng.randrange(1, 5000))
            kind = rng.randrange(100)
            if kind < 12:
                proto = (0, 0)
            elif kind < 16:
                proto, sport, dport = (1, 0xFF), (0, 65535), (0, 65535)
            elif kind < 17:
                proto = (50, 0xFF)
        rules.append((src, sl, dst, dl, sport, dport, proto))
    with open(sys.argv[6], "w") as out:
        for src, sl, dst, dl, sp, dp, proto in rules:
            out.write("@%s/%d\t%s/%d\t%d : %d\t%d : %d\t0x%02x/0x%02X\n" % (
                ip(src), sl, ip(dst), dl, sp[0], sp[1], dp[0], dp[1], proto[0], proto[1]))
    with open(sys.argv[7], "w") as out:
        for _ in range(packets):
            if rng.random() < 0.5:
                k = rng.randrange(n)
                src, sl, dst, dl, sp, dp, proto = rules[k]
                src |= rng.getrandbits(32 - sl) if sl < 32 else 0
                dst |= rng.getrandbits(32 - dl) if dl < 32 else 0
                sport = rng.randrange(1024, 65536) if sp == (0, 65535) else rng.randint(*sp)
                p = proto[0] if proto[1] else rng.choice([6, 17])
                out.write("%d\t%d\t%d\t%d\t%d\t%d\n" % (
                    src, dst, sport, rng.randint(*dp), p, k + 1))
            else:
                out.write("%d\t%d\t%d\t%d\t%d\t0\n" % (
                    rng.getrandbits(32), rng.getrandbits(32), rng.randrange(1024, 65536),
                    rng.randrange(1, 65536), rng.choice([6, 17])))


def ip(v):
    return "%d.%d.%d.%d" % (v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255)


if __name__ == "__main__":
    main()
