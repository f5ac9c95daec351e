"""Arrival order of Maildir file names: the fast path (leading_number, arrival_order) gives
exactly what the regex key (arrival_key) gives, on the usual names and on odd ones."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from pinesh.stores.local.maildir_folder import MaildirFolder
from pinesh.stores.local.maildir_names import arrival_key, arrival_order, leading_number, split_name

# File names as found in cur/ and new/: the usual "<time>.<rest>" ones and odd ones.
FILE_NAMES = [
    # the usual form, as Dovecot, maildrop, mutt, pinesh and the lab fill write them
    "1700000000.M123P45.host,S=1227,W=1258:2,S",
    "1700000000.M123P45.host,S=1227,W=1258:2,",
    "1700000000.M9P45.host:2,FS",
    "1700000000.M10P45.host:2,RS",
    "1700000000.M10P45.host2:2,RS",
    "1700000000.M10P45.host10",
    "1700000001.M1P1.host",
    "1700000001.M1P1.host:2,T",
    "999999999.M1P1.host",
    "1654128277.M2P1.pinesh,S=1227,W=1258:2,S",
    "1700000000.M500000P4321Q7Rdeadbeef.example.org,S=42:2,DFRST",
    "1700000002.12345_1.host",
    "1700000003.V801I2dbc0M440853.mail.example.net,S=8213:2,Sa",
    "1700000004.host",
    "1700000005.",
    "1700000006..",
    "1700000007.:2,S",
    "1700000008.M1.host:1,experimental",
    "1700000009.M1.host:2,S:extra:colons",
    # leading zeros: the same number as without them (equal keys: input order is kept)
    "0001700000000.M123P45.host",
    "01700000000.M123P45.host",
    "0.M1.host",
    "00.M1.host",
    "000",
    "0",
    # huge numbers, far past 64 bits
    "123456789012345678901234567890.M1.host",
    "123456789012345678901234567891.M1.host",
    "99999999999999999999999999999999999999999999999999999999999999999999.x",
    "1" * 200 + ".M1.host",
    "1" * 200,
    # digits with no dot, or something else than a dot after them
    "1700000000",
    "1700000000:2,S",
    "1700000000-M1.host",
    "1700000000,M1.host",
    "1700000000_M1.host",
    "1700000000M1.host",
    "1700000000 M1.host",
    "1700000000/x",
    "17a.M1.host",
    "17.5.host",
    # names that do not start with a digit
    "abc",
    "abc.1700000000.M1",
    "M123.host",
    "host1",
    "host10",
    "host9",
    "-1700000000.M1",
    "+1700000000.M1",
    " 1700000000.M1",
    "_1700000000",
    "\u00e91700000000.M1",
    # non-ASCII digits: \d matches them, int() reads them, str.isdigit is not enough
    "\u0661\u0662\u0663.M1.host",  # Arabic-Indic 123
    "12\u0663.M1.host",  # ASCII 12 then Arabic-Indic 3: the number 123
    "123.M1.host",
    "\uff11\uff12.M1.host",  # fullwidth 12
    "\u00b2.M1.host",  # superscript two: isdigit() but not \d
    "1\u00b2.M1.host",
    # empty and info-only names
    "",
    ":2,S",
    ":",
]
BASES = [split_name(name)[0] for name in FILE_NAMES]
_PIECES = re.compile(r"(\d+)")


def _reference_key(base: str) -> tuple[object, ...]:
    """arrival_key as first written (a generator over the regex split): the reference."""
    pieces = _PIECES.split(base)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(pieces))


def test_the_names_hold_both_forms_and_odd_ones() -> None:
    usual = [b for b in BASES if re.fullmatch(r"[0-9]+\..*", b, re.DOTALL)]
    assert len(usual) >= 25
    assert len(BASES) - len(usual) >= 30
    assert len({arrival_key(b) for b in BASES}) < len(set(BASES))  # some keys are equal


@pytest.mark.parametrize("base", BASES)
def test_arrival_key_is_the_reference_key(base: str) -> None:
    assert arrival_key(base) == _reference_key(base)


@pytest.mark.parametrize("base", BASES)
def test_leading_number_is_the_keys_number(base: str) -> None:
    key = arrival_key(base)
    if key[0] == "" and len(key) > 1:  # the name starts with a digit
        assert leading_number(base) == key[1]
    else:
        assert leading_number(base) is None


def test_leading_number_on_chosen_names() -> None:
    assert leading_number("1700000000.M123P45.host,S=1227,W=1258") == 1700000000
    assert leading_number("0001700000000.M1") == 1700000000
    assert leading_number("1" * 200 + ".M1") == int("1" * 200)
    assert leading_number("1700000000") == 1700000000
    assert leading_number("1700000000-M1") == 1700000000
    assert leading_number("12\u0663.M1") == 123
    assert leading_number("\u00b2.M1") is None
    assert leading_number("1\u00b2.M1") == 1
    assert leading_number("abc.17") is None
    assert leading_number("") is None


@pytest.mark.parametrize("seed", range(40))
def test_arrival_order_is_the_sort_by_arrival_key(seed: int) -> None:
    rng = random.Random(seed)
    names = BASES[:]
    rng.shuffle(names)
    names = names[: rng.randrange(len(names) + 1)]
    names += rng.sample(names, min(len(names), rng.randrange(4)))  # duplicates, too
    assert arrival_order(names) == sorted(names, key=arrival_key)


def test_arrival_order_keeps_the_input_order_of_equal_keys() -> None:
    # 0012 and 12 are the same number, and so are the rest's numbers: equal keys.
    assert arrival_key("0012.M01") == arrival_key("12.M1")
    assert arrival_order(["0012.M01", "12.M1", "11.x"]) == ["11.x", "0012.M01", "12.M1"]
    assert arrival_order(["12.M1", "11.x", "0012.M01"]) == ["11.x", "12.M1", "0012.M01"]


def test_arrival_order_on_edge_lists() -> None:
    assert arrival_order([]) == []
    assert arrival_order([""]) == [""]
    assert arrival_order(["b", "", "a10", "a9"]) == ["", "a9", "a10", "b"]
    assert arrival_order(iter(["2.x", "10.x", "1.x"])) == ["1.x", "2.x", "10.x"]
    assert arrival_order(["x", "5.a", "", "5"]) == ["", "5", "5.a", "x"]


def test_arrival_order_on_many_generated_names() -> None:
    rng = random.Random(4)
    names = []
    for n in range(20_000):
        stamp = 1_700_000_000 + rng.randrange(3_000)  # many names share a second
        form = n % 10
        if form < 7:
            names.append(f"{stamp}.M{rng.randrange(1_000_000)}P{rng.randrange(100)}.h,S={n}")
        elif form == 7:
            names.append(f"{'0' * rng.randrange(3)}{stamp}.M{rng.randrange(20)}")
        elif form == 8:
            names.append(f"{stamp}{rng.choice(['', '-x', 'M1', ',S=1', '_2'])}")
        else:
            names.append(f"{rng.choice(['host', 'x', 'M', '-'])}{rng.randrange(50)}.{n}")
    assert arrival_order(names) == sorted(names, key=arrival_key)


def test_a_folder_numbers_odd_names_in_arrival_key_order(tmp_path: Path) -> None:
    for sub in ("cur", "new", "tmp"):
        (tmp_path / sub).mkdir()
    files = [n for n in FILE_NAMES if n and not n.startswith(":") and "/" not in n]
    unique = list({split_name(n)[0]: n for n in files}.values())  # one file per base
    for number, name in enumerate(unique):
        sub = "cur" if ":" in name else "new"
        (tmp_path / sub / name).write_bytes(f"Subject: {number}\n\nbody\n".encode())
    folder = MaildirFolder(tmp_path)
    numbered = [folder._entries[uid].base for uid in folder.uids()]
    assert sorted(numbered) == sorted(split_name(n)[0] for n in unique)
    keys = [arrival_key(base) for base in numbered]
    assert keys == sorted(keys)
    # Equal keys (12, 0012, Arabic-Indic 12) stay in the directory listing's order.
    assert numbered == sorted(folder._listing(), key=arrival_key)
    assert folder.uids() == list(range(1, len(unique) + 1))
    assert folder.status().uidnext == len(unique) + 1

    # Later arrivals get the next UIDs, in their own arrival order, after all the others.
    later = ["5.M1.late", "4.M2.late", "zz.late"]
    for name in later:
        (tmp_path / "new" / name).write_bytes(b"Subject: late\n\nbody\n")
    folder._rescan()
    uids = folder.uids()
    assert [folder._entries[uid].base for uid in uids[-3:]] == ["4.M2.late", "5.M1.late", "zz.late"]
    assert uids == list(range(1, len(unique) + 4))
    assert folder.status().uidnext == len(unique) + 4
