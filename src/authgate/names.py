"""
How login names compare: `fold()` is NFKC, case folding, NFKC again — the same on every
database, because it is computed in Python and never left to SQL (`UPPER()`, `LOWER()`,
`iexact`), whose answers differ between SQLite and PostgreSQL for letters such as the
dotless ı, the Turkish İ, ß or the Greek final sigma.

How usernames look alike: `lookalikes()` gives the Unicode TR39 skeletons of a name, from
Unicode's own confusables data as the `confusable-homoglyphs` package ships it (never a
table of our own). Two names that share one look the same on screen (`secadmın` and
`secadmin`, a Cyrillic `а` and a Latin `a`, `g00gle` and `google`), even where `fold()`
keeps them apart. A name's skeletons depend only on the name as typed, and its folded
skeleton only on `fold()` of it, so two spellings of one login name never look unlike.

A pure module (no models, no settings), so that anything may compare two addresses
the way `authgate.identity` does.
"""

import functools
import importlib.resources
import json
import unicodedata


def fold(value: object) -> str:
    """`value` as login names compare: NFKC, case-folded, NFKC again (folding can produce
    characters that compose). `Alice`, `ａｌｉｃｅ` and `ALICE` fold to `alice`, `Straße` to
    `strasse`, a final sigma to σ, the ligature `ﬁ` to `fi`; the dotless `ı` stays itself."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", str(value)).casefold())


def same(a: object, b: object) -> bool:
    """True when two login names (or email addresses) are one, as `fold()` compares them."""
    return bool(a) and bool(b) and fold(a) == fold(b)


@functools.cache
def prototypes() -> dict[str, str]:
    """Unicode's confusables mapping (confusables.txt of UTS #39): each source character to
    its prototype, the string it looks like. The package stores every line both ways (each
    character with the characters it is confused with); the direction is recovered from the
    data itself: a source appears in exactly one line, so it has exactly one partner, and a
    prototype is never a source. Where both sides of a line have one partner, the source is
    the one stored first, as confusables.txt lists it first."""
    data = json.loads(
        importlib.resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text(encoding="utf-8")
    )

    def text(value: str) -> str:  # the file's comments wrap right-to-left letters in LRM marks
        return value.replace("\u200e", "")

    partners = {text(char): [text(entry["c"]) for entry in entries] for char, entries in data.items()}
    order = {char: position for position, char in enumerate(partners)}
    mapping = {}
    for char, others in partners.items():
        if len(char) != 1 or len(others) != 1:
            continue  # a prototype (several sources, or several characters)
        other = others[0]
        if len(other) != 1 or len(partners.get(other, ())) != 1 or order[char] < order[other]:
            mapping[char] = other
    return mapping


def skeleton(value: str) -> str:
    """The UTS #39 skeleton: NFD, each character replaced by its prototype, NFD again."""
    mapping = prototypes()
    return unicodedata.normalize(
        "NFD", "".join(mapping.get(char, char) for char in unicodedata.normalize("NFD", value))
    )


def _settled(value: str) -> str:
    # Some prototypes are capitals (0 → O, 1 → l, I → l): fold and map again until nothing
    # changes, so that `g00gle` meets `google` however the name was cased.
    for _ in range(8):
        settled = fold(skeleton(value))
        if settled == value:
            break
        value = settled
    return value


def lookalikes(value: object) -> set[str]:
    """The skeletons a username is known by: that of its folded form (so every spelling of
    one login name has it), and that of the name as typed (so a capital `I` that passes for an
    `l` is seen as one). Two names look alike when their sets meet."""
    text = str(value)
    return {_settled(fold(text)), _settled(text)} if text else set()
