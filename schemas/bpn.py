"""Catena-X business partner numbers (CX-0010): BPNL/BPNS/BPNA with ISO/IEC 7064 MOD 1271-36 check characters."""
import re

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_PATTERN = re.compile(r"^BPN[LSA][A-Z0-9]{10}[A-Z0-9]{2}$")
_MODULUS, _RADIX = 1271, 36


def check_characters(first14: str) -> str:
    """The two check characters computed over the first 14 characters."""
    p = 0
    for ch in first14:
        p = ((p + _ALPHABET.index(ch)) * _RADIX) % _MODULUS
    p = (p * _RADIX) % _MODULUS
    value = (_MODULUS + 1 - p) % _MODULUS
    return _ALPHABET[value // _RADIX] + _ALPHABET[value % _RADIX]


def make(kind: str, body: str) -> str:
    """A valid BPN of `kind` (L, S or A) from a 10-character body."""
    first14 = f"BPN{kind}{body}"
    return first14 + check_characters(first14)


def is_valid(bpn: str | None) -> bool:
    return bool(bpn) and bool(_PATTERN.match(bpn)) and check_characters(bpn[:14]) == bpn[14:]
