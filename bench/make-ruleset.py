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
  MASKS: "few" (at most 16 distinct masks) or "many" (hundreds)
"""
import random
import sys


def main():
    n, masks, ranges, packets, seed = (int(sys.argv[1]), sys.argv[2], int(sys.argv[3]),
                                       int(sys.argv[4]), int(sys.argv[5]))
    rng = random.Random(seed)
    if masks == "few":
        src_lens, dst_lens = [8, 16, 24, 32], [16, 32]
    else:
        src_lens, dst_lens = list(range(8, 33)), [0, 8, 16, 24, 32]
    rules = []
    for _ in range(n):
        proto = rng.choice([6, 17])
        sl, dl = rng.choice(src_lens), rng.choice(dst_lens)
        src = rng.getrandbits(32) & (((1 << sl) - 1) << (32 - sl)) if sl else 0
        dst = rng.getrandbits(32) & (((1 << dl) - 1) << (32 - dl)) if dl else 0
        if rng.randrange(100) < ranges:
            lo = rng.randrange(1024, 60000)
            dport = (lo, lo + rng.randrange(1, 1000))
        elif masks == "many" and rng.random() < 0.3:
            dport = (0, 65535)
        else:
            p = rng.randrange(1, 65536)
            dport = (p, p)
        rules.append((src, sl, dst, dl, (0, 65535), dport, proto))
    with open(sys.argv[6], "w") as out:
        for src, sl, dst, dl, sp, dp, proto in rules:
            out.write("@%s/%d\t%s/%d\t%d : %d\t%d : %d\t0x%02x/0xFF\n" % (
                ip(src), sl, ip(dst), dl, sp[0], sp[1], dp[0], dp[1], proto))
    with open(sys.argv[7], "w") as out:
        for _ in range(packets):
            if rng.random() < 0.5:
                k = rng.randrange(n)
                src, sl, dst, dl, sp, dp, proto = rules[k]
                src |= rng.getrandbits(32 - sl) if sl < 32 else 0
                dst |= rng.getrandbits(32 - dl) if dl < 32 else 0
                out.write("%d\t%d\t%d\t%d\t%d\t%d\n" % (
                    src, dst, rng.randrange(1024, 65536), rng.randint(*dp), proto, k + 1))
            else:
                out.write("%d\t%d\t%d\t%d\t%d\t0\n" % (
                    rng.getrandbits(32), rng.getrandbits(32), rng.randrange(1024, 65536),
                    rng.randrange(1, 65536), rng.choice([6, 17])))


def ip(v):
    return "%d.%d.%d.%d" % (v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255)


if __name__ == "__main__":
    main()
