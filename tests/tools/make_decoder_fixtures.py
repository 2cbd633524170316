#!/usr/bin/env python3
"""Image decoding against Pillow: a corpus of files in every format and corner fovea decodes, and
what Pillow makes of each (Image.open(p).convert("RGB") and .convert("L")), as timm reads images.

  make_decoder_fixtures.py corpus
      writes tests/data/images/decoders/*: JPEGs from Pillow's encoder (4:2:0, 4:2:2, 4:4:4,
      progressive, grey, CMYK, low quality, odd sizes), PNGs of every colour type and bit depth
      (interlaced too), BMPs of every header, depth, bit-field layout and RLE, GIFs with frames
      smaller or larger than the screen, transparency, local tables, interlacing, and malformed,
      truncated and corrupt files of each format. Bytes are built by hand where Pillow cannot
      write them. Deterministic.
  make_decoder_fixtures.py references [--photo-root DIR]
      decodes the corpus (and PHOTOS: JPEGs from Debian packages, not copied here, read from DIR +
      their installed path where the packages are not installed) with this
      machine's Pillow and timm, writing tests/data/images/decoders/manifest.json: per file its
      size and a 64-bit FNV-1a hash of the RGB and L pixels, or Pillow's error; per photo also the
      hash of timm's eval crop for vit_base_patch16_224 (bicubic, crop_pct 0.9, 224 x 224).
"""
import argparse
import io
import json
import pathlib
import struct
import sys
import zlib

import numpy as np
from PIL import Image

DATA = pathlib.Path(__file__).resolve().parents[1] / "data"
PHOTOS = [  # python-matplotlib-data; mate-backgrounds: 4:2:0, 4:2:2, 4:4:4, baseline and progressive
    "/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg",
    "/usr/share/backgrounds/mate/abstract/Elephants.jpg",
    "/usr/share/backgrounds/mate/nature/Blinds.jpg",
    "/usr/share/backgrounds/mate/nature/Dune.jpg",
    "/usr/share/backgrounds/mate/nature/FreshFlower.jpg",
    "/usr/share/backgrounds/mate/nature/GreenMeadow.jpg",
    "/usr/share/backgrounds/mate/nature/LadyBird.jpg",
    "/usr/share/backgrounds/mate/nature/Storm.jpg",
]
OUT = DATA / "images" / "decoders"


def fnv1a64(b):
    h = 0xCBF29CE484222325
    for x in np.frombuffer(b, np.uint8).tolist():
        h = ((h ^ x) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


# ---- hand-made bytes -------------------------------------------------------------------------

def png(w, h, color_type, depth, rows, plte=None, trns=None, interlace=False):
    """rows: h rows of samples (big-endian for 16 bits) as bytes, unfiltered."""
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    bits = channels * depth
    if not interlace:
        raw = b"".join(b"\x00" + r for r in rows)
    else:  # Adam7: sub-images of the pixels at (x0 + i dx, y0 + j dy)
        def pixel_bits(row, x):
            v = int.from_bytes(row, "big") >> (len(row) * 8 - (x + 1) * bits)
            return v & ((1 << bits) - 1)
        raw = b""
        for x0, y0, dx, dy in [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]:
            xs = list(range(x0, w, dx))
            if not xs:
                continue
            for y in range(y0, h, dy):
                v = 0
                for x in xs:
                    v = (v << bits) | pixel_bits(rows[y], x)
                nbytes = (len(xs) * bits + 7) // 8
                v <<= nbytes * 8 - len(xs) * bits
                raw += b"\x00" + v.to_bytes(nbytes, "big")
    s = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 1 if interlace else 0))
    if plte is not None:
        s += chunk(b"PLTE", bytes(plte))
    if trns is not None:
        s += chunk(b"tRNS", bytes(trns))
    return s + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def pack_bits(values, bits):
    v = 0
    for x in values:
        v = (v << bits) | x
    n = (len(values) * bits + 7) // 8
    return (v << (n * 8 - len(values) * bits)).to_bytes(n, "big")


def lzw_codes(codes, min_size):
    """Pack LZW codes as a GIF decoder reads them (the width grows with the decoder's table)."""
    clear, width, nxt, prev = 1 << min_size, min_size + 1, (1 << min_size) + 2, None
    bits = nb = 0
    out = bytearray()
    for c in codes:
        bits |= c << nb
        nb += width
        while nb >= 8:
            out.append(bits & 255)
            bits >>= 8
            nb -= 8
        if c == clear:
            width, nxt, prev = min_size + 1, clear + 2, None
        elif c != clear + 1:
            if prev is not None and nxt < 4096:
                nxt += 1
                if nxt == 1 << width and width < 12:
                    width += 1
            prev = c
    if nb:
        out.append(bits & 255)
    return bytes(out)


def gif_literal(indices, min_size):
    """Indices as literal codes, a clear code before the table would widen the codes."""
    clear = 1 << min_size
    codes, n = [clear], 0
    for v in indices:
        codes.append(v)
        n += 1
        if n == (1 << min_size) - 2:
            codes.append(clear)
            n = 0
    return lzw_codes(codes + [clear + 1], min_size)


def gif(sw, sh, gct, frames, version=b"GIF89a", trailer=True):
    def table_flag(t):
        return 0x80 | ((len(t).bit_length() - 2) & 7)

    s = version + struct.pack("<HHBBB", sw, sh, table_flag(gct) if gct else 0, 0, 0)
    s += b"".join(bytes(c) for c in gct or [])
    for f in frames:
        if f.get("trns") is not None:
            s += b"\x21\xf9\x04\x01\x00\x00" + bytes([f["trns"]]) + b"\x00"
        lct = f.get("lct")
        flags = (0x40 if f.get("interlace") else 0) | (table_flag(lct) if lct else 0)
        s += b"\x2c" + struct.pack("<HHHHB", f["x"], f["y"], f["w"], f["h"], flags)
        s += b"".join(bytes(c) for c in lct or [])
        ms = f.get("min_size", 8)
        data = f["data"] if "data" in f else gif_literal(f["indices"], ms)
        s += bytes([ms])
        for i in range(0, len(data), 255):
            s += bytes([len(data[i:i + 255])]) + data[i:i + 255]
        s += b"\x00"
    return s + (b"\x3b" if trailer else b"")


def bmp(w, h, bits, rows=None, palette=None, compression=0, header=40, masks=None, top_down=False, colors=None,
        data=None, offset_at_palette=False):
    stride = ((w * bits + 31) // 32) * 4
    if data is None:
        data = b"".join(r + b"\x00" * (stride - len(r)) for r in rows)
    entry = 3 if header == 12 else 4
    pal = b"".join(bytes([b, g, r] + [0] * (entry - 3)) for r, g, b in (palette or []))
    extra = b""
    if header == 12:
        info = struct.pack("<IHHHH", 12, w, h, 1, bits)
    else:
        n = len(palette) if colors is None and palette else (colors or 0)
        info = struct.pack("<IiiHHIIiiII", header, w, -h if top_down else h, 1, bits, compression, len(data), 2835, 2835, n, 0)
        if header >= 52 and masks:
            info += struct.pack("<III", *masks[:3])
        if header >= 56 and masks:
            info += struct.pack("<I", masks[3] if len(masks) > 3 else 0)
        info += b"\x00" * (header - len(info))
        if header == 40 and masks:
            extra = struct.pack("<III", *masks[:3])
    off = 14 + len(info) + (0 if offset_at_palette else len(extra) + len(pal))
    return b"BM" + struct.pack("<IHHI", 14 + len(info) + len(extra) + len(pal) + len(data), 0, 0, off) + info + extra + pal + data


# ---- the corpus ------------------------------------------------------------------------------

def corpus():
    rng = np.random.default_rng(20261124)
    files = {}
    photo = Image.open(DATA / "images" / "photo_chelsea_333x251.png").convert("RGB")
    astro = Image.open(DATA / "images" / "photo_astronaut_301x227.png").convert("RGB")
    small = photo.crop((40, 30, 93, 67))  # 53 x 37
    noise = Image.fromarray(rng.integers(0, 256, (23, 29, 3), dtype=np.uint8))

    def pil_bytes(im, fmt, **kw):
        b = io.BytesIO()
        im.save(b, fmt, **kw)
        return b.getvalue()

    # JPEG, from Pillow's encoder
    files["jpeg_420_q90.jpg"] = pil_bytes(photo, "JPEG", quality=90)
    files["jpeg_422_q75.jpg"] = pil_bytes(astro, "JPEG", quality=75, subsampling=1)
    files["jpeg_444_q95.jpg"] = pil_bytes(photo, "JPEG", quality=95, subsampling=0)
    files["jpeg_420_q10.jpg"] = pil_bytes(astro, "JPEG", quality=10)
    files["jpeg_progressive.jpg"] = pil_bytes(photo, "JPEG", quality=85, progressive=True)
    files["jpeg_progressive_444.jpg"] = pil_bytes(astro, "JPEG", quality=80, progressive=True, subsampling=0)
    files["jpeg_odd_17x11.jpg"] = pil_bytes(photo.crop((0, 0, 17, 11)), "JPEG", quality=90)
    files["jpeg_1x1.jpg"] = pil_bytes(photo.crop((5, 5, 6, 6)), "JPEG")
    files["jpeg_grey.jpg"] = pil_bytes(photo.convert("L"), "JPEG", quality=90)
    files["jpeg_grey_progressive.jpg"] = pil_bytes(astro.convert("L"), "JPEG", progressive=True)
    files["jpeg_cmyk_adobe.jpg"] = pil_bytes(photo.convert("CMYK"), "JPEG", quality=90)
    files["jpeg_optimized.jpg"] = pil_bytes(astro, "JPEG", quality=70, optimize=True)
    good = files["jpeg_420_q90.jpg"]
    files["jpeg_truncated_half.jpg"] = good[: len(good) // 2]
    files["jpeg_no_end_marker.jpg"] = good[:-2]
    files["jpeg_trailing_bytes.jpg"] = good + b"trailing bytes after the end marker"
    files["jpeg_header_only.jpg"] = good[:600]
    corrupt = bytearray(good)
    for i in range(2000, len(corrupt) - 2, 97):  # corrupt entropy-coded bytes (never a 0xFF)
        corrupt[i] = corrupt[i] ^ 0x55 if corrupt[i] not in (0xFF, 0xAA) else corrupt[i]
    files["jpeg_corrupt_data.jpg"] = bytes(corrupt)

    # PNG: Pillow's encoder, and hand-made bytes for what it cannot write
    files["png_rgb.png"] = pil_bytes(small, "PNG")
    files["png_rgba.png"] = pil_bytes(small.convert("RGBA"), "PNG")
    files["png_grey.png"] = pil_bytes(small.convert("L"), "PNG")
    files["png_grey_alpha.png"] = pil_bytes(small.convert("LA"), "PNG")
    files["png_bilevel.png"] = pil_bytes(small.convert("1"), "PNG")
    files["png_palette_8bit.png"] = pil_bytes(small.quantize(200), "PNG")
    files["png_palette_4bit.png"] = pil_bytes(small.quantize(16), "PNG", bits=4)
    files["png_palette_2bit.png"] = pil_bytes(small.quantize(4), "PNG", bits=2)
    files["png_palette_trns.png"] = pil_bytes(small.quantize(32), "PNG", transparency=3)
    g16 = (np.asarray(small.convert("L"), np.uint16) * 257) // 64  # 0..1023: some above 255
    files["png_grey16.png"] = pil_bytes(Image.fromarray(g16), "PNG")
    a = rng.integers(0, 65536, (9, 7, 4), dtype=np.uint16)
    files["png_rgb16.png"] = png(7, 9, 2, 16, [a[y, :, :3].astype(">u2").tobytes() for y in range(9)])
    files["png_rgba16.png"] = png(7, 9, 6, 16, [a[y].astype(">u2").tobytes() for y in range(9)])
    files["png_grey_alpha16.png"] = png(7, 9, 4, 16, [a[y, :, :2].astype(">u2").tobytes() for y in range(9)])
    files["png_grey16_trns.png"] = png(7, 9, 0, 16, [a[y, :, 0].astype(">u2").tobytes() for y in range(9)], trns=b"\x01\x00")
    for depth in (1, 2, 4):
        v = rng.integers(0, 1 << depth, (11, 13))
        rows = [pack_bits(v[y].tolist(), depth) for y in range(11)]
        files[f"png_grey{depth}.png"] = png(13, 11, 0, depth, rows)
        files[f"png_grey{depth}_interlaced.png"] = png(13, 11, 0, depth, rows, interlace=True)
    rgb = np.asarray(noise)
    files["png_rgb_interlaced.png"] = png(29, 23, 2, 8, [rgb[y].tobytes() for y in range(23)], interlace=True)
    files["png_rgba16_interlaced.png"] = png(7, 9, 6, 16, [a[y].astype(">u2").tobytes() for y in range(9)], interlace=True)
    idx = rng.integers(0, 256, (5, 8), dtype=np.uint8)
    plte = rng.integers(0, 256, 12 * 3, dtype=np.uint8).tobytes()
    files["png_palette_index_past_plte.png"] = png(8, 5, 3, 8, [idx[y].tobytes() for y in range(5)], plte=plte)
    grey_plte = bytes(v for i in range(16) for v in (i, i, i))
    files["png_palette_grey_ramp.png"] = png(8, 5, 3, 8, [idx[y].tobytes() for y in range(5)], plte=grey_plte)
    ok = files["png_rgb.png"]
    files["png_truncated.png"] = ok[: len(ok) * 2 // 3]
    files["png_signature_only.png"] = ok[:8]
    bad_crc = bytearray(ok)
    bad_crc[29] ^= 1  # IHDR's CRC
    files["png_bad_ihdr_crc.png"] = bytes(bad_crc)
    # 1 x 1 pixel whose compressed data inflates to 64 MB: only the first row's bytes are inflated
    bomb = png(1, 1, 0, 8, [b"\x00"])
    z = zlib.compressobj(9)
    payload = z.compress(b"\x00" * (64 << 20)) + z.flush()
    bomb_idat = struct.pack(">I", len(payload)) + b"IDAT" + payload + struct.pack(">I", zlib.crc32(b"IDAT" + payload) & 0xFFFFFFFF)
    files["png_bomb_1x1.png"] = bomb[:33] + bomb_idat + bomb[-12:]
    files["png_huge_size.png"] = png(100000, 100000, 2, 8, [b""])[:33]  # header only

    # BMP
    rows24 = [rgb[y, :, ::-1].tobytes() for y in range(23)]
    files["bmp_24.bmp"] = pil_bytes(noise, "BMP")
    files["bmp_24_top_down.bmp"] = bmp(29, 23, 24, rows24, top_down=True)
    files["bmp_24_core_header.bmp"] = bmp(29, 23, 24, rows24, header=12)
    for hs in (52, 56, 64, 108, 124):
        files[f"bmp_24_header{hs}.bmp"] = bmp(29, 23, 24, rows24, header=hs)
    files["bmp_8_palette.bmp"] = pil_bytes(small.quantize(200), "BMP")
    files["bmp_8_grey.bmp"] = pil_bytes(small.convert("L"), "BMP")
    files["bmp_1.bmp"] = pil_bytes(small.convert("1"), "BMP")
    pal = [tuple(int(c) for c in rng.integers(0, 256, 3)) for _ in range(16)]
    v4 = rng.integers(0, 16, (6, 9))
    files["bmp_4_palette.bmp"] = bmp(9, 6, 4, [pack_bits(v4[y].tolist(), 4) for y in range(6)], palette=pal)
    files["bmp_4_core_header.bmp"] = bmp(9, 6, 4, [pack_bits(v4[y].tolist(), 4) for y in range(6)], palette=pal, header=12)
    files["bmp_8_index_past_palette.bmp"] = bmp(8, 5, 8, [idx[y].tobytes() for y in range(5)], palette=pal[:5])
    files["bmp_8_offset_at_palette.bmp"] = bmp(8, 5, 8, [idx[y].tobytes() for y in range(5)], palette=pal, offset_at_palette=True)
    v16 = rng.integers(0, 65536, (5, 7))
    rows16 = [b"".join(struct.pack("<H", int(x)) for x in v16[y]) for y in range(5)]
    files["bmp_16_555.bmp"] = bmp(7, 5, 16, rows16)
    files["bmp_16_565.bmp"] = bmp(7, 5, 16, rows16, compression=3, masks=(0xF800, 0x7E0, 0x1F))
    files["bmp_16_555_bitfields_v4.bmp"] = bmp(7, 5, 16, rows16, compression=3, header=108, masks=(0x7C00, 0x3E0, 0x1F, 0))
    files["bmp_16_444_unsupported.bmp"] = bmp(7, 5, 16, rows16, compression=3, masks=(0xF00, 0xF0, 0xF))
    v32 = rng.integers(0, 256, (5, 7 * 4), dtype=np.uint8)
    rows32 = [v32[y].tobytes() for y in range(5)]
    files["bmp_32.bmp"] = bmp(7, 5, 32, rows32)
    for name, m, hs in [("bgrx", (0xFF0000, 0xFF00, 0xFF), 40), ("xbgr", (0xFF000000, 0xFF0000, 0xFF00), 40),
                        ("bgxr", (0xFF000000, 0xFF00, 0xFF), 40), ("rgba", (0xFF, 0xFF00, 0xFF0000, 0xFF000000), 108),
                        ("bgra", (0xFF0000, 0xFF00, 0xFF, 0xFF000000), 124), ("abgr", (0xFF000000, 0xFF0000, 0xFF00, 0xFF), 108),
                        ("bgar", (0xFF000000, 0xFF00, 0xFF, 0xFF0000), 108), ("zero", (0, 0, 0, 0), 108)]:
        files[f"bmp_32_bitfields_{name}.bmp"] = bmp(7, 5, 32, rows32, compression=3, header=hs, masks=m)
    files["bmp_2bit_unsupported.bmp"] = bmp(8, 1, 2, [b"\x1b\x1b"], palette=pal[:4])
    full = files["bmp_24.bmp"]
    files["bmp_truncated.bmp"] = full[:-40]
    files["bmp_truncated_last_padding.bmp"] = bmp(3, 2, 24, [bytes(range(9))] * 2)[:-3]
    files["bmp_huge_size.bmp"] = bmp(60000, 60000, 24, data=b"")
    rle_pal = [(i, (3 * i) % 256, (7 * i) % 256) for i in range(256)]
    def rle8(w, h, data, **kw):
        return bmp(w, h, 8, palette=rle_pal, compression=1, data=bytes(data), **kw)
    files["bmp_rle8.bmp"] = rle8(6, 3, [3, 5, 3, 6, 0, 0, 6, 7, 0, 0, 2, 8, 0, 4, 9, 10, 11, 12, 0, 0, 0, 1])
    files["bmp_rle8_top_down.bmp"] = rle8(2, 2, [2, 5, 0, 0, 2, 6, 0, 1], top_down=True)
    files["bmp_rle8_delta.bmp"] = rle8(4, 3, [1, 5, 0, 2, 1, 1, 3, 6, 0, 0, 4, 7, 0, 1])
    files["bmp_rle8_literal_odd.bmp"] = rle8(5, 1, [0, 3, 9, 8, 7, 0, 2, 1, 0, 1])
    files["bmp_rle8_run_past_row.bmp"] = rle8(4, 2, [6, 5, 0, 0, 4, 6, 0, 1])
    files["bmp_rle8_stops_early.bmp"] = rle8(4, 2, [2, 5, 0, 1])
    files["bmp_rle8_no_end.bmp"] = rle8(4, 2, [4, 5, 4, 6])
    files["bmp_rle8_truncated.bmp"] = rle8(4, 2, [4, 5, 4])
    files["bmp_rle4.bmp"] = bmp(5, 2, 4, palette=rle_pal[:16], compression=2, data=bytes([5, 0x12, 0, 0, 3, 0x34, 2, 0x56, 0, 1]))
    files["bmp_rle4_literal_odd.bmp"] = bmp(5, 1, 4, palette=rle_pal[:16], compression=2, data=bytes([0, 3, 0x56, 0x70, 2, 0x12, 0, 1]))
    files["bmp_rle8_on_24bit.bmp"] = bmp(2, 1, 24, compression=1, data=b"\x02\x05\x00\x01")

    # GIF
    gpal = [tuple(int(c) for c in rng.integers(0, 256, 3)) for _ in range(8)]
    files["gif_pillow.gif"] = pil_bytes(small.quantize(64), "GIF")
    files["gif_pillow_grey.gif"] = pil_bytes(small.convert("L"), "GIF")
    files["gif_pillow_transparency.gif"] = pil_bytes(small.quantize(64), "GIF", transparency=5)
    files["gif_pillow_interlaced.gif"] = pil_bytes(photo.quantize(256), "GIF", interlace=True)
    files["gif_pillow_two_frames.gif"] = pil_bytes(small.quantize(64), "GIF", save_all=True,
                                                   append_images=[small.rotate(90).quantize(64)])
    files["gif_87a.gif"] = gif(3, 1, gpal[:4], [dict(x=0, y=0, w=3, h=1, indices=[1, 2, 3], min_size=2)], version=b"GIF87a")
    files["gif_frame_inside_screen.gif"] = gif(5, 4, gpal[:4], [dict(x=1, y=1, w=2, h=2, indices=[1, 2, 3, 1], min_size=2)])
    files["gif_frame_inside_transparent.gif"] = gif(5, 4, gpal[:4], [dict(x=1, y=1, w=2, h=2, indices=[1, 2, 3, 1], min_size=2, trns=2)])
    files["gif_frame_past_screen.gif"] = gif(4, 3, gpal[:4], [dict(x=2, y=2, w=4, h=2, indices=[1, 2, 3, 0, 1, 2, 3, 0], min_size=2)])
    files["gif_local_table.gif"] = gif(2, 1, gpal[:2], [dict(x=0, y=0, w=2, h=1, indices=[0, 1], min_size=2, lct=gpal[4:8])])
    files["gif_no_table.gif"] = gif(3, 1, None, [dict(x=0, y=0, w=3, h=1, indices=[0, 1, 2], min_size=2)])
    files["gif_index_past_table.gif"] = gif(8, 1, gpal[:4], [dict(x=0, y=0, w=8, h=1, indices=[0, 1, 2, 3, 4, 5, 100, 255])])
    files["gif_interlaced_1x10.gif"] = gif(1, 10, gpal * 2, [dict(x=0, y=0, w=1, h=10, indices=list(range(10)), interlace=True, min_size=4)])
    files["gif_no_trailer.gif"] = gif(3, 1, gpal[:4], [dict(x=0, y=0, w=3, h=1, indices=[1, 2, 3], min_size=2)], trailer=False)
    files["gif_extra_pixels.gif"] = gif(2, 1, gpal[:4], [dict(x=0, y=0, w=2, h=1, indices=[1, 2, 3, 1], min_size=2)])
    files["gif_ends_early.gif"] = gif(4, 1, gpal[:4], [dict(x=0, y=0, w=4, h=1, indices=[1, 2], min_size=2)])
    files["gif_no_clear_code.gif"] = gif(4, 1, gpal[:4], [dict(x=0, y=0, w=4, h=1, min_size=2, data=lzw_codes([1, 2, 6, 5], 2))])
    files["gif_kwkwk.gif"] = gif(5, 1, gpal[:4], [dict(x=0, y=0, w=5, h=1, min_size=2, data=lzw_codes([4, 1, 6, 7, 5], 2))])
    files["gif_bad_code.gif"] = gif(4, 1, gpal[:4], [dict(x=0, y=0, w=4, h=1, min_size=2, data=lzw_codes([4, 1, 7, 5], 2))])
    files["gif_code_size_9.gif"] = gif(2, 1, gpal[:4], [dict(x=0, y=0, w=2, h=1, min_size=9, data=b"\xff\xff\xff")])
    files["gif_no_image.gif"] = gif(4, 1, gpal[:4], [])
    files["gif_empty_frame.gif"] = gif(4, 1, gpal[:4], [dict(x=0, y=0, w=0, h=0, min_size=2, data=lzw_codes([4, 5], 2))])
    g = files["gif_pillow.gif"]
    files["gif_truncated.gif"] = g[: len(g) // 2]
    # a long run of repeated codes: the string table fills (4096 entries) and decoding goes on
    files["gif_full_table.gif"] = pil_bytes(Image.fromarray(rng.integers(0, 256, (96, 97), dtype=np.uint8), "L").convert("P"), "GIF")

    # PNM
    for mv in (1, 6, 100, 255, 1000, 65535):
        v = rng.integers(0, mv + 1, 6 * 4 * 3)
        v[:3] = [0, mv, mv // 2]
        b = v.astype(">u2").tobytes() if mv > 255 else v.astype(np.uint8).tobytes()
        files[f"pnm_p5_maxval{mv}.pgm"] = b"P5\n# grey\n12 6\n%d\n" % mv + b
        files[f"pnm_p6_maxval{mv}.ppm"] = b"P6 6 4 %d\n" % mv + b
        files[f"pnm_p2_maxval{mv}.pgm"] = b"P2\n12 6\n%d\n" % mv + b" ".join(b"%d" % x for x in v) + b"\n"
        files[f"pnm_p3_maxval{mv}.ppm"] = b"P3\n6 4\n%d\n# data\n" % mv + b"\n".join(b"%d" % x for x in v) + b"\n"
    files["pnm_p5_above_maxval.pgm"] = b"P5 3 1 100\n" + bytes([50, 101, 255])
    files["pnm_p2_above_maxval.pgm"] = b"P2 3 1 100\n50 101 7\n"
    files["pnm_p5_truncated.pgm"] = b"P5 3 2 255\n" + bytes(5)
    files["pnm_p2_short.pgm"] = b"P2 3 2 255\n1 2 3 4 5\n"
    files["pnm_p2_comment_in_data.pgm"] = b"P2 3 1 255\n1 # note\n2 3\n"
    files["pnm_p1.pbm"] = b"P1\n# bits\n3 2\n0 1 0\n1 0 1\n"
    files["pnm_p1_packed.pbm"] = b"P1\n3 2\n010101"
    files["pnm_p1_bad_byte.pbm"] = b"P1\n3 2\n0 1 2 1 0 1\n"
    files["pnm_p4.pbm"] = b"P4\n10 2\n" + bytes([0b10110011, 0b01000000, 0b11111111, 0b11000000])
    files["pnm_p4_truncated.pbm"] = b"P4\n10 2\n" + bytes([0b10110011, 0b01000000, 0b11111111])
    files["pnm_maxval_0.pgm"] = b"P5 1 1 0\n\x00"
    files["pnm_maxval_65536.pgm"] = b"P5 1 1 65536\n\x00\x00"
    files["pnm_long_token.pgm"] = b"P5 000000000001 1 255\n\x00"
    files["pnm_huge_size.pgm"] = b"P5 60000 60000 255\n"

    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.iterdir():
        if old.name != "manifest.json":
            old.unlink()
    for name, b in sorted(files.items()):
        (OUT / name).write_bytes(b)
    print(f"{len(files)} files, {sum(len(b) for b in files.values())} bytes in {OUT}")


# ---- references ------------------------------------------------------------------------------

def decode(path):
    try:
        im = Image.open(path)
        rgb, grey = im.convert("RGB"), im.convert("L")
    except Exception as e:  # Pillow refuses the file: fovea must too
        return {"error": f"{type(e).__name__}: {e}"[:200]}
    r, g = np.asarray(rgb), np.asarray(grey)
    return {"width": rgb.width, "height": rgb.height, "rgb": fnv1a64(r.tobytes()), "l": fnv1a64(g.tobytes())}


def references(photo_root):
    import PIL
    import timm
    from timm.data import create_transform, resolve_data_config
    import torch

    preset = "vit_base_patch16_224"
    cfg = resolve_data_config({}, model=timm.create_model(preset, pretrained=False))
    tf = create_transform(**cfg)
    mean, std = torch.tensor(cfg["mean"]).view(3, 1, 1), torch.tensor(cfg["std"]).view(3, 1, 1)

    def crop(path):  # timm's uint8 eval crop (its tensor is exactly (u8 / 255 - mean) / std)
        t = tf(Image.open(path).convert("RGB"))
        u8 = torch.round((t * std + mean) * 255).clamp(0, 255).to(torch.uint8)
        assert torch.equal((u8.float() / 255 - mean) / std, t)
        return fnv1a64(u8.permute(1, 2, 0).contiguous().numpy().tobytes())

    files = {}
    for p in sorted(OUT.iterdir()):
        if p.name == "manifest.json":
            continue
        files[p.name] = decode(p)
        if p.suffix == ".jpg" and "error" not in files[p.name]:
            files[p.name]["crop_" + preset] = crop(p)
    shots = {}
    for p in PHOTOS:
        src = photo_root + p if photo_root else p
        shots[p] = decode(src)
        shots[p]["crop_" + preset] = crop(src)
        print(p, shots[p])
    manifest = {"pillow": PIL.__version__, "timm": timm.__version__, "preset": preset, "files": files, "photos": shots}
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"Pillow {PIL.__version__}: {len(files)} files ({sum('error' in v for v in files.values())} refused), {len(shots)} photos")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["corpus", "references"])
    ap.add_argument("--photo-root", default="")
    a = ap.parse_args()
    corpus() if a.what == "corpus" else references(a.photo_root)
