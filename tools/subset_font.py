"""Rebuild ``playbook/fonts/PlaybookCJK-Regular.ttf``, the CJK font the charts ship.

The font is a subset of *WenQuanYi Micro Hei* 0.2.0-beta (face 0 of
``wqy-microhei.ttc``, Debian package ``fonts-wqy-microhei``; Apache-2.0, see
``playbook/fonts/README.md``), cut down to the characters an e-commerce report
meets and renamed to the family ``Playbook CJK`` so that matplotlib always
resolves the packaged file, never a system copy of the same family.

Reproduce with::

    apt-get install fonts-wqy-microhei
    .venv/bin/python tools/subset_font.py
    apt-get remove fonts-wqy-microhei   # the package must not depend on it

``--gbk`` keeps every GBK character instead of GB2312 plus the extras below
(about 3 MB instead of 1.3 MB) for shops whose product titles carry rarer hanzi.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

SOURCE = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
OUT = Path(__file__).resolve().parent.parent / "playbook" / "fonts" / "PlaybookCJK-Regular.ttf"
FAMILY = "Playbook CJK"
POSTSCRIPT = "PlaybookCJK-Regular"

# Unicode blocks kept whole (only code points the source font actually has).
BLOCKS: list[tuple[int, int, str]] = [
    (0x0020, 0x007E, "Basic Latin (ASCII)"),
    (0x00A0, 0x00FF, "Latin-1 Supplement (incl. the yen sign ¥)"),
    (0x0100, 0x017F, "Latin Extended-A"),
    (0x01CD, 0x01DC, "Latin Extended-B: pinyin tone letters"),
    (0x02C6, 0x02DD, "Spacing modifier letters"),
    (0x2000, 0x206F, "General Punctuation"),
    (0x2070, 0x209F, "Superscripts and subscripts"),
    (0x20A0, 0x20CF, "Currency symbols (€ etc.)"),
    (0x2100, 0x214F, "Letterlike symbols (℃ № ™)"),
    (0x2150, 0x218F, "Number forms (Ⅰ Ⅱ Ⅲ)"),
    (0x2190, 0x21FF, "Arrows (↑ ↓)"),
    (0x2200, 0x22FF, "Mathematical operators (− ≤ ≥)"),
    (0x2460, 0x24FF, "Enclosed alphanumerics (① ②)"),
    (0x2500, 0x257F, "Box drawing"),
    (0x25A0, 0x25FF, "Geometric shapes (▲ ▼ ●)"),
    (0x2600, 0x26FF, "Miscellaneous symbols (★ ☆)"),
    (0x2700, 0x27BF, "Dingbats (✓ ✔)"),
    (0x3000, 0x303F, "CJK Symbols and Punctuation (、。《》【】)"),
    (0x3040, 0x30FF, "Hiragana and Katakana (Japanese brand names)"),
    (0x3200, 0x32FF, "Enclosed CJK letters (㈠ ㊣)"),
    (0x3300, 0x33FF, "CJK compatibility units (㎡ ㎏ ㎝)"),
    (0xFE30, 0xFE4F, "CJK compatibility forms"),
    (0xFF00, 0xFFEF, "Halfwidth and Fullwidth Forms (，！％ ￥)"),
]

# Hanzi outside GB2312 that shop data meets (all present in the source font):
# given names and brand names (元気森林), internet-commerce words (啫喱, 哔哩哔哩),
# foods, and place names such as 鄠邑 and 深水埗.
EXTRA_HANZI = (
    "喆堃昇珺玥犇镕垚祎瑄赟翀燚彧芃嫚璟晞洺沄溦栢琍珮玙旻暐頔钖焜玹琇濛珅琤"
    "婳嬛婠祐禛昉曌炘炟燊淏"
    "啰囧槑兲嘚叕巭嫑奣咘嚒啫"
    "粿饸饹粄焗鲃鮰鲯"
    "浉崀埇堌氹冚埗鄠垟汭澴"
    "気髙"
)


def _charset(encoding: str, lead: range, trail: range) -> set[int]:
    """Every character of a double-byte encoding, found by decoding each code."""
    out: set[int] = set()
    for hi in lead:
        for lo in trail:
            try:
                out.add(ord(bytes([hi, lo]).decode(encoding)))
            except UnicodeDecodeError:
                pass
    return out


def gb2312() -> set[int]:
    """All 7,445 GB2312 characters (6,763 hanzi plus symbols, kana, Greek...)."""
    return _charset("gb2312", range(0xA1, 0xF8), range(0xA1, 0xFF))


def gbk() -> set[int]:
    """All GBK characters (a superset of GB2312, about 21,800)."""
    return _charset("gbk", range(0x81, 0xFF), range(0x40, 0xFF))


def wanted(full_gbk: bool = False) -> set[int]:
    cps = gbk() if full_gbk else gb2312()
    for lo, hi, _ in BLOCKS:
        cps.update(range(lo, hi + 1))
    cps.update(ord(c) for c in EXTRA_HANZI)
    return cps


def _rename(font: TTFont, source_version: str, full_gbk: bool) -> None:
    """Give the subset its own family name and say that it was modified (Apache-2.0 §4b)."""
    coverage = "GBK" if full_gbk else "GB2312 plus extras"
    note = (
        f"Modified by the playbook project: a subset ({coverage}, Latin, punctuation, "
        f"fullwidth forms) of WenQuanYi Micro Hei {source_version}, hinting removed, "
        f"renamed to {FAMILY}. Made with tools/subset_font.py."
    )
    names = {
        1: FAMILY,
        2: "Regular",
        3: f"{POSTSCRIPT};{source_version}",
        4: FAMILY,
        5: f"{source_version}; playbook subset",
        6: POSTSCRIPT,
        10: note,
        16: FAMILY,
        17: "Regular",
        18: FAMILY,
    }
    table = font["name"]
    # Drop every localised record of the renamed IDs, then write English ones.
    table.names = [n for n in table.names if n.nameID not in names]
    for name_id, text in names.items():
        table.setName(text, name_id, 3, 1, 0x409)  # Windows, Unicode BMP, en-US


def build(source: Path, out: Path, full_gbk: bool = False) -> Path:
    cps = wanted(full_gbk)
    font = TTFont(str(source), fontNumber=0, recalcTimestamp=False)
    have = set(font.getBestCmap())
    source_version = font["name"].getDebugName(5) or "unknown version"
    missing_gb = sorted(gb2312() - have)
    if missing_gb:
        raise SystemExit(f"source font lacks GB2312 characters: {''.join(map(chr, missing_gb[:40]))}")

    opts = subset.Options()
    opts.hinting = False  # matplotlib auto-hints by default; bytecode hinting is dead weight
    opts.desubroutinize = True
    opts.name_IDs = ["*"]
    opts.name_languages = ["*"]
    opts.notdef_outline = True
    opts.glyph_names = False
    opts.layout_features = ["*"]
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=cps & have)
    sub.subset(font)
    _rename(font, source_version, full_gbk)

    out.parent.mkdir(parents=True, exist_ok=True)
    font.save(str(out))
    kept = set(TTFont(str(out)).getBestCmap())
    assert gb2312() <= kept, "subset lost GB2312 characters"
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"{out}: {out.stat().st_size:,} bytes, {len(kept):,} characters, sha256 {digest}")
    absent = [c for c in EXTRA_HANZI if ord(c) not in kept]
    if absent:
        print(f"extras absent from the source font: {''.join(absent)}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=SOURCE, help="wqy-microhei.ttc (face 0 is used)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--gbk", action="store_true", help="keep all of GBK instead of GB2312 + extras")
    args = ap.parse_args(argv)
    if not args.source.exists():
        print(f"{args.source} not found: apt-get install fonts-wqy-microhei", file=sys.stderr)
        return 1
    build(args.source, args.out, args.gbk)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
