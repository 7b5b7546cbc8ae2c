#!/usr/bin/env python3
"""ckpt.py: read and doctor ham checkpoints independently of ham's own reader.

The reliability tests use it to make checkpoints that are wrong in exactly one way
(version, spec hash, a param), with a valid CRC so that ham's deeper checks are the
ones that fire, and to check what ham wrote without trusting ham's reader.  The
format is runtime/checkpoint.h's: "HAMCKPT\\0", u32 version, sections (u32 tag, u64
length, payload), an "END " section, then a CRC-32 (zlib's) of every byte before it.

  ckpt.py check FILE               exit 0 if the framing and CRC hold and every PARM
                                   and BEST value is finite; else say why, exit 1
  ckpt.py params FILE              print P, then the params and best params (repr)
  ckpt.py epoch FILE               print the epoch and meta-step counters (STEP section)
  ckpt.py mopt FILE                print the meta-optimizer's name and its step count (MOPT)
  ckpt.py kv FILE                  print the metadata (KVMD) as key=value lines
  ckpt.py set-version IN OUT N     the version field set to N, CRC fixed
  ckpt.py set-hash IN OUT HEX      the SPEC section's hash set to HEX, CRC fixed
  ckpt.py set-param IN OUT I X     param I set to the float X (nan, inf, 1e300), CRC fixed
  ckpt.py flip IN OUT OFFSET       byte OFFSET xor 0xff, CRC left stale
  ckpt.py drop IN OUT TAG          section TAG removed (an older ham's file), CRC fixed
  ckpt.py set-str IN OUT TAG TEXT  a one-string section (NAME, TASK, LOSS) set to TEXT,
                                   added before END if absent, CRC fixed
  ckpt.py set-kv IN OUT KEY VALUE  metadata KEY set to VALUE (added if absent), CRC fixed
  ckpt.py drop-kv IN OUT KEY       metadata KEY removed (an older ham's file), CRC fixed
"""
import math
import struct
import sys
import zlib


def sections(data):
    """(tag, payload offset, length) of each section; raises ValueError on bad framing."""
    if data[:8] != b"HAMCKPT\0":
        raise ValueError("bad magic")
    pos, out = 12, []
    while True:
        if pos + 12 > len(data) - 4:
            raise ValueError("truncated framing")
        tag = data[pos:pos + 4].decode("latin-1")
        (length,) = struct.unpack_from("<Q", data, pos + 4)
        if pos + 12 + length > len(data) - 4:
            raise ValueError("section %r overruns the file" % tag)
        out.append((tag, pos + 12, length))
        pos += 12 + length
        if tag == "END ":
            break
    if pos + 4 != len(data):
        raise ValueError("%d bytes after END" % (len(data) - pos - 4))
    return out


def crc_ok(data):
    return zlib.crc32(data[:-4]) & 0xFFFFFFFF == struct.unpack_from("<I", data, len(data) - 4)[0]


def fix_crc(data):
    data = bytearray(data)
    struct.pack_into("<I", data, len(data) - 4, zlib.crc32(bytes(data[:-4])) & 0xFFFFFFFF)
    return bytes(data)


def find(data, tag):
    for t, off, length in sections(data):
        if t == tag:
            return off, length
    raise ValueError("no %s section" % tag)


def params(data):
    off, _ = find(data, "PARM")
    (p,) = struct.unpack_from("<Q", data, off)
    vals = list(struct.unpack_from("<%dd" % p, data, off + 8))
    best = None
    try:
        boff, _ = find(data, "BEST")
        (bp,) = struct.unpack_from("<Q", data, boff + 8)
        best = list(struct.unpack_from("<%dd" % bp, data, boff + 16))
    except ValueError:
        pass
    return vals, best


def kv_pairs(data):
    """The KVMD section's (key, value) pairs: u32 count; count x (str key; str value)."""
    try:
        off, _ = find(data, "KVMD")
    except ValueError:
        return []
    (count,) = struct.unpack_from("<I", data, off)
    pos, out = off + 4, []
    for _ in range(count):
        pair = []
        for _ in range(2):
            (k,) = struct.unpack_from("<I", data, pos)
            pair.append(data[pos + 4:pos + 4 + k].decode("utf-8"))
            pos += 4 + k
        out.append(tuple(pair))
    return out


def replace_section(data, tag, payload):
    """data with section tag's payload replaced (or the section added before END)."""
    at = [(off - 12, length) for t, off, length in sections(data) if t == tag]
    end = [off - 12 for t, off, _ in sections(data) if t == "END "][0]
    new = tag.encode("latin-1") + struct.pack("<Q", len(payload)) + payload
    frame, length = at[0] if at else (end, 0)
    cut = 12 + length if at else 0
    return fix_crc(data[:frame] + new + data[frame + cut:])


def main(argv):
    cmd, path = argv[1], argv[2]
    data = open(path, "rb").read()
    if cmd == "check":
        try:
            sections(data)
        except ValueError as e:
            print("%s: %s" % (path, e))
            return 1
        if not crc_ok(data):
            print("%s: CRC mismatch" % path)
            return 1
        vals, best = params(data)
        bad = [i for i, v in enumerate(vals) if not math.isfinite(v)]
        badb = [i for i, v in enumerate(best or []) if not math.isfinite(v)]
        if bad or badb:
            print("%s: non-finite params %s, best params %s" % (path, bad[:5], badb[:5]))
            return 1
        return 0
    if cmd == "params":
        vals, best = params(data)
        print(len(vals))
        print(" ".join(repr(v) for v in vals))
        print(" ".join(repr(v) for v in best) if best is not None else "no best")
        return 0
    if cmd == "epoch":
        off, _ = find(data, "STEP")
        print("%d %d" % struct.unpack_from("<QQ", data, off))
        return 0
    if cmd == "mopt":   # str name; u32 count; count x (str name; u64 n; n f64)
        off, _ = find(data, "MOPT")
        (k,) = struct.unpack_from("<I", data, off)
        name = data[off + 4:off + 4 + k].decode("utf-8")
        pos = off + 4 + k
        (count,) = struct.unpack_from("<I", data, pos)
        pos += 4
        step = None
        for _ in range(count):
            (k,) = struct.unpack_from("<I", data, pos)
            entry = data[pos + 4:pos + 4 + k].decode("utf-8")
            (n,) = struct.unpack_from("<Q", data, pos + 4 + k)
            if entry == "step" and n == 1:
                (step,) = struct.unpack_from("<d", data, pos + 12 + k)
            pos += 12 + k + 8 * n
        print("%s %s" % (name, "-" if step is None else "%d" % step))
        return 0
    if cmd == "kv":
        for k, v in kv_pairs(data):
            print("%s=%s" % (k, v))
        return 0
    out = argv[3]
    if cmd in ("set-kv", "drop-kv"):
        pairs = [(k, v) for k, v in kv_pairs(data) if k != argv[4]]
        if cmd == "set-kv":
            pairs.append((argv[4], argv[5]))
        enc = lambda t: struct.pack("<I", len(t.encode("utf-8"))) + t.encode("utf-8")
        payload = struct.pack("<I", len(pairs)) + b"".join(enc(k) + enc(v) for k, v in pairs)
        open(out, "wb").write(replace_section(data, "KVMD", payload))
        return 0
    data = bytearray(data)
    if cmd == "set-version":
        struct.pack_into("<I", data, 8, int(argv[4]))
        data = fix_crc(data)
    elif cmd == "set-hash":
        off, _ = find(bytes(data), "SPEC")
        struct.pack_into("<Q", data, off, int(argv[4], 16))
        data = fix_crc(data)
    elif cmd == "set-param":
        off, _ = find(bytes(data), "PARM")
        struct.pack_into("<d", data, off + 8 + 8 * int(argv[4]), float(argv[5]))
        data = fix_crc(data)
    elif cmd == "flip":
        data[int(argv[4])] ^= 0xFF
    elif cmd in ("drop", "set-str"):
        tag = argv[4].encode("latin-1")
        at = [(off - 12, length) for t, off, length in sections(bytes(data)) if t == argv[4]]
        end = [off - 12 for t, off, _ in sections(bytes(data)) if t == "END "][0]
        if cmd == "drop" and not at:
            raise ValueError("no %s section" % argv[4])
        new = b""
        if cmd == "set-str":
            text = argv[5].encode("utf-8")
            payload = struct.pack("<I", len(text)) + text
            new = tag + struct.pack("<Q", len(payload)) + payload
        frame, length = at[0] if at else (end, 0)
        cut = 12 + length if at else 0
        data = fix_crc(bytes(data[:frame]) + new + bytes(data[frame + cut:]))
    else:
        print("ckpt.py: unknown command %r" % cmd, file=sys.stderr)
        return 2
    open(out, "wb").write(bytes(data))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
