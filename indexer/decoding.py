"""Bytes to text: BOM, then UTF-8, then the declared charset, then detection.

Order matters. Valid UTF-8 with non-ASCII bytes is almost never a legacy encoding by
accident, so it beats a declaration (pages often declare latin-1 and send UTF-8). A declared
charset comes next, decoded strictly so a wrong declaration falls through to
charset-normalizer instead of filling the text with replacement characters.
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer

from indexer.errors import ExtractionError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_DECLARED = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)|<\?xml[^>]+encoding\s*=\s*["']([\w.:-]+)""",
    re.I,
)
# What browsers actually use for these labels (WHATWG Encoding Standard): pages labelled
# latin-1 or Turkish ISO are decoded with the Windows superset, which never fails.
_ALIASES = {
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso-8859-9": "cp1254",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-sjis": "shift_jis",
}


# Valid non-ASCII characters per stray byte above which text is UTF-8 with a few strays.
MOSTLY_UTF8_RATIO = 4

# The legacy Windows code page each language was written in, for undeclared pages.
_LANGUAGE_CODE_PAGES = {
    "Turkish": "cp1254",
    "Arabic": "cp1256",
    "Farsi": "cp1256",
    "Urdu": "cp1256",
    "Russian": "cp1251",
    "Ukrainian": "cp1251",
    "Bulgarian": "cp1251",
    "Greek": "cp1253",
    "Hebrew": "cp1255",
    "Polish": "cp1250",
    "Czech": "cp1250",
    "Slovak": "cp1250",
    "Hungarian": "cp1250",
    "Croatian": "cp1250",
    "Romanian": "cp1250",
    "Slovene": "cp1250",
    "Vietnamese": "cp1258",
}


def has_binary_marks(raw: bytes) -> bool:
    """Tell binary files from text: NUL bytes in the head (UTF-16/32 with a BOM excepted)."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    return b"\x00" in raw[:8192]


def declared_charset(raw: bytes) -> str | None:
    """Return the charset a page declares in its first bytes (meta or XML prolog)."""
    match = _DECLARED.search(raw[:4096])
    if not match:
        return None
    label = (match.group(1) or match.group(2)).decode("ascii", "ignore").lower()
    return _codec(label)


def decode_bytes(raw: bytes, declared: str | None = None) -> str:
    """Decode `raw` without replacement characters, or raise ExtractionError."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                return raw[len(bom) :].decode(encoding)
            except UnicodeDecodeError:
                break
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    mostly = _mostly_utf8(raw)
    if mostly is not None:
        return mostly
    codec = _codec(declared) if declared else None
    if codec:
        try:
            return raw.decode(codec)
        except (UnicodeDecodeError, LookupError):
            pass
    for encoding in _guesses(raw[:200_000]):
        try:
            return raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    # Mostly-UTF-8 text with a few stray bytes (pasted fragments): drop the strays.
    text = raw.decode("utf-8", errors="replace")
    if text.count("\ufffd") <= max(1, len(text) // 1000):
        return text.replace("\ufffd", "")
    raise ExtractionError("undecodable text (unknown character encoding)")


def _mostly_utf8(raw: bytes) -> str | None:
    """Return UTF-8 text with a few stray bytes dropped, or None if it is not UTF-8.

    One stray byte (a pasted fragment, a flipped bit) must not send a UTF-8 page to the
    code-page guesser, which then reads every "•" and "é" of it as mojibake. Text whose
    valid multi-byte characters far outnumber its stray bytes is UTF-8; legacy-encoded
    text decoded as UTF-8 is almost all strays.
    """
    text = raw.decode("utf-8", errors="replace")
    strays = text.count("\ufffd")
    wide = sum(1 for c in text if c > "\x7f") - strays
    if wide >= MOSTLY_UTF8_RATIO * strays and strays <= max(2, len(text) // 100):
        return text.replace("\ufffd", "")
    return None


def _guesses(raw: bytes) -> list[str]:
    """Rank charset-normalizer's candidates, preferring the text language's Windows code page.

    Its own pick favours the least "chaos", which for Turkish text is often a Nordic or
    Western Latin code page that turns "ş" into "þ"; the language it detects says better.
    """
    guesses = sorted(charset_normalizer.from_bytes(raw), key=lambda g: g.chaos - g.coherence)
    if not guesses:
        return []
    encodings = [g.encoding for g in guesses]
    preferred = _LANGUAGE_CODE_PAGES.get(guesses[0].language)
    for guess in guesses:
        if guess.encoding == preferred and guess.chaos <= guesses[0].chaos + 0.1:
            encodings.insert(0, preferred)
            break
    return encodings


def _codec(label: str) -> str | None:
    label = label.strip().lower()
    label = _ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None
