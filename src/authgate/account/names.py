"""
How login names compare: `fold()` is NFKC, case folding, NFKC again — the same on every
database, because it is computed in Python and never left to SQL (`UPPER()`, `LOWER()`,
`iexact`), whose answers differ between SQLite and PostgreSQL for letters such as the
dotless ı, the Turkish İ, ß or the Greek final sigma.

A pure module (no models, no settings), so that anything may compare two addresses
the way `authgate.identity` does.
"""

import unicodedata


def fold(value: object) -> str:
    """`value` as login names compare: NFKC, case-folded, NFKC again (folding can produce
    characters that compose). `Alice`, `ａｌｉｃｅ` and `ALICE` fold to `alice`, `Straße` to
    `strasse`, a final sigma to σ, the ligature `ﬁ` to `fi`; the dotless `ı` stays itself."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", str(value)).casefold())


def same(a: object, b: object) -> bool:
    """True when two login names (or email addresses) are one, as `fold()` compares them."""
    return bool(a) and bool(b) and fold(a) == fold(b)
