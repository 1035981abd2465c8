"""Clears one attribute's value in a frozen GraphDef (no TensorFlow needed: a minimal
protobuf wire-format editor), for damaged-graph test inputs such as
tests/data/fuzz_oracle_attr_without_value.bin:

    python3 harness/clear_attr.py fixtures/tf1_vgg_style/model.pb \\
        tests/data/fuzz_oracle_attr_without_value.bin Conv2D padding

usage: clear_attr.py IN OUT OP ATTR (the first node with op OP; its attr ATTR gets an
empty AttrValue, one with no value)."""
import sys

def varint(b, i):
    r = s = 0
    while True:
        c = b[i]; i += 1
        r |= (c & 0x7f) << s; s += 7
        if c < 0x80: return r, i

def enc_varint(n):
    out = bytearray()
    while True:
        c = n & 0x7f; n >>= 7
        if n: out.append(c | 0x80)
        else: out.append(c); return bytes(out)

def fields(b):
    i = 0
    while i < len(b):
        start = i
        key, i = varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0: _, i = varint(b, i); yield f, wt, b[start:i], None
        elif wt == 2:
            n, j = varint(b, i); i = j + n; yield f, wt, b[start:j], b[j:i]
        elif wt == 5: i += 4; yield f, wt, b[start:i], None
        elif wt == 1: i += 8; yield f, wt, b[start:i], None
        else: raise ValueError(wt)

def ld(f, payload): return enc_varint((f << 3) | 2) + enc_varint(len(payload)) + payload

src, dst, op, attr = sys.argv[1:5]
g = open(src, 'rb').read()
out = bytearray(); done = False
for f, wt, head, payload in fields(g):
    if f == 1 and wt == 2 and not done:
        node = dict((ff, p) for ff, w, h, p in fields(payload) if ff in (1, 2))
        if node.get(2, b'').decode() == op:
            nb = bytearray()
            for ff, w, h, p in fields(payload):
                if ff == 5 and w == 2:
                    entry = dict((k, v) for k, _, _, v in fields(p))
                    if entry.get(1, b'').decode() == attr:
                        p = ld(1, entry[1]) + ld(2, b'')
                        done = True
                        print('cleared', node[1].decode(), attr)
                    nb += ld(5, p)
                else:
                    nb += h + (p if p is not None else b'')
            out += ld(1, bytes(nb)); continue
    out += head + (payload if payload is not None else b'')
assert done
open(dst, 'wb').write(bytes(out))
