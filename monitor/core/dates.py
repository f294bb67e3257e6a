"""Dates as feeds and listing pages write them, read into aware datetimes.

Feeds mostly use RFC 822 or ISO 8601, but real ones bend both (no weekday, upper-case months,
zone names like ``JST``/``AEST``); Japanese government pages write ``2025年2月3日``,
``2025/02/03`` or the era form ``令和7年2月3日``, often with full-width digits (NFKC folds them).
A date without a zone is local time in the ``tz`` the caller passes.

Every function here returns None for what it cannot read and never raises: a bad date is a
missing date, not a failed poll. Years outside ``MIN_YEAR..MAX_YEAR`` are treated as noise, which
also keeps later time-zone arithmetic clear of ``datetime``'s limits (year 1 and 9999).

Pure: standard library only, no I/O, no clock.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Self

MIN_YEAR = 1900
MAX_YEAR = 2999

_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}

# Zone names seen in feeds. RFC 822 defines UT/GMT/EST..PDT and the military letters; the rest
# are common abbreviations. Where a name is ambiguous we pick the reading our sources need:
# IST is India (Economic Times), CST is US Central (RFC 822). An unknown name reads as UTC,
# which is what RFC 2822 section 4.3 asks for obsolete zones it cannot interpret.
_ZONES_HOURS: dict[str, float] = {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "WET": 0,
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "AKST": -9, "AKDT": -8, "HST": -10, "AST": -4, "ADT": -3, "NST": -3.5, "NDT": -2.5,
    "BST": 1, "IST": 5.5, "CET": 1, "CEST": 2, "MET": 1, "MEST": 2, "WEST": 1, "EET": 2, "EEST": 3,
    "MSK": 3, "JST": 9, "KST": 9, "HKT": 8, "SGT": 8, "PHT": 8, "AWST": 8, "ACST": 9.5, "ACDT": 10.5,
    "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13, "ICT": 7, "WIB": 7, "PKT": 5,
}
_ERAS = {"令和": 2018, "平成": 1988, "昭和": 1925, "大正": 1911, "明治": 1867}  # year 1 = base + 1

_ZONE = r"(?P<zone>[+-]\d{2}:?\d{2}|[+-]\d{1,2}|(?:GMT|UTC|UT)?[+-]\d{1,2}(?::?\d{2})?|(?-i:[A-Z]{1,5}))"
_TIME = r"(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,]\d+)?)?"
_MONTH = r"(?P<mon>[A-Za-z]{3,9})\.?"
_JA_TIME = r"(?:\s*(?P<ampm>午前|午後)?\s*(?P<jH>\d{1,2})\s*(?:時\s*(?:(?P<jM>\d{1,2})\s*分)?|:\s*(?P<jM2>\d{2})))?"
_JA_WEEKDAY = r"(?:\s*\((?:[月火水木金土日](?:曜日?)?|祝|休)\))?"

# Each form: a regex (search-able; boundaries keep "12025年" from matching) and nothing else;
# _build turns any match's named groups into a datetime.
_FORMS = [re.compile(p, re.IGNORECASE | re.ASCII) for p in (
    # ISO 8601 / W3C-DTF: 2025-02-03, 2025-02-03T10:00:00+09:00, 2025-02-03 10:00
    (rf"(?<!\d)(?P<y>\d{{4}})-(?P<m>\d{{1,2}})-(?P<d>\d{{1,2}})(?!\d)"
     rf"(?:[T ]\s*{_TIME}\s*(?:{_ZONE}(?![A-Za-z]))?)?"),
    # RFC 822/1123/850: [Tue,] 03 Feb 2025 10:00:00 +0900 (two-digit years, dashes, no seconds)
    (rf"(?:\b[A-Za-z]{{3,9}},?\s*)?(?<!\d)(?P<d>\d{{1,2}})[\s-]+{_MONTH}[\s-]+(?P<y>\d{{4}}|\d{{2}})(?!\d)"
     rf"(?:\s+{_TIME}(?:\s*{_ZONE}(?![A-Za-z]))?)?"),
    # US style: February 3, 2025 [10:00 EST]
    rf"\b{_MONTH}\s+(?P<d>\d{{1,2}}),?\s+(?P<y>\d{{4}})(?!\d)(?:\s+{_TIME}(?:\s*{_ZONE}(?![A-Za-z]))?)?",
    # asctime: Sun Nov  6 08:49:37 1994
    rf"\b[A-Za-z]{{3}}\s+{_MONTH}\s+(?P<d>\d{{1,2}})\s+{_TIME}\s+(?P<y>\d{{4}})(?!\d)",
    # Japanese: 2025年2月3日（月） 10時30分 / 令和7年2月3日 / 令和元年
    (rf"(?:(?P<era>令和|平成|昭和|大正|明治)\s*(?P<ey>\d{{1,2}}|元)|(?<!\d)(?P<y>\d{{4}}))\s*年\s*"
     rf"(?P<m>\d{{1,2}})\s*月\s*(?P<d>\d{{1,2}})\s*日{_JA_WEEKDAY}{_JA_TIME}"),
    # 2025/02/03, 2025.2.3, optional 10:30[:00]
    (rf"(?<![\d.])(?P<y>\d{{4}})(?P<sep>[/.])(?P<m>\d{{1,2}})(?P=sep)(?P<d>\d{{1,2}})(?!\d|[/.]\d)"
     rf"{_JA_WEEKDAY}(?:\s+{_TIME})?"),
)]
_MONTH_DAY = re.compile(r"(?<!\d)(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日", re.ASCII)
_YEAR = re.compile(r"(?:(?P<era>令和|平成|昭和|大正|明治)\s*(?P<ey>\d{1,2}|元)|(?<!\d)(?P<y>\d{4}))\s*年", re.ASCII)


def parse_date(text: str | None, tz: tzinfo) -> datetime | None:
    """The date that *is* ``text`` (surrounding spaces aside), aware; None when unreadable."""
    norm = _normalise(text)
    if not norm:
        return None
    for form in _FORMS:
        m = form.fullmatch(norm)
        if m:
            return _build(m.groupdict(), tz)
    return None


def find_date(text: str | None, tz: tzinfo, *, year: int | None = None,
              before: datetime | None = None) -> datetime | None:
    """The first readable date inside ``text`` (``2025年2月3日 発表``), aware; None if there is none.

    With ``year``, a month and day alone (``8月19日付``, as listing pages group items) also
    count, in that year; a full date anywhere in the text still wins. With ``before`` (the
    latest a published date can be: the poll's time and a little), a month and day alone
    count without ``year`` too: in the year that puts them on or before it, last year's only
    within ``LAST_YEAR_REACH`` (a page read on 2 January showing 12月31日), else not at all (a
    date to come, 3月10日 seen in January, is an event's, not a publication's). With both, a
    date after ``before`` is none either.
    """
    norm = _normalise(text)
    if not norm:
        return None
    found, written = _first_date(norm, tz)
    if found is None and (year is not None or before is not None) and not written:  # a wrong full date is no date
        for m in _MONTH_DAY.finditer(norm):
            found = _month_day(m["m"], m["d"], tz, year, before)
            if found is not None:
                break
    return found


LAST_YEAR_REACH = timedelta(days=92)


def _month_day(month: str, day: str, tz: tzinfo, year: int | None, before: datetime | None) -> datetime | None:
    if year is not None:
        calendar = year.of(int(month)) if isinstance(year, Year) else year
        found = _build({"y": str(calendar), "m": month, "d": day}, tz)
        return found if found is None or before is None or found <= before else None
    if before is None:
        return None
    local = before.astimezone(tz).year  # the year where the page is, not in UTC (New Year's Eve)
    this_year = _build({"y": str(local), "m": month, "d": day}, tz)
    if this_year is not None and this_year <= before:
        return this_year
    last_year = _build({"y": str(local - 1), "m": month, "d": day}, tz)
    return last_year if last_year is not None and before - last_year <= LAST_YEAR_REACH else None


def names_a_date(text: str | None) -> bool:
    """Whether ``text`` writes a date, readable or not (``2月29日`` in a year without one,
    ``R7.2.3``-like forms aside): a date heading that cannot be read must not let the items
    under it take the date of the heading before."""
    norm = _normalise(text)
    return bool(norm) and (_first_date(norm, UTC)[1] or _MONTH_DAY.search(norm) is not None)


class Year(int):
    """A year a heading writes; ``fiscal`` for a Japanese fiscal year (``令和7年度``: April 2025
    to March 2026), whose January to March fall in the next calendar year."""

    fiscal: bool = False

    def __new__(cls, value: int, fiscal: bool = False) -> Self:
        year = super().__new__(cls, value)
        year.fiscal = fiscal
        return year

    def of(self, month: int) -> int:
        """The calendar year of `month` under this heading."""
        return int(self) + 1 if self.fiscal and month <= 3 else int(self)


def find_year(text: str | None) -> Year | None:
    """The first year written in ``text`` (``2026年``, ``令和8年8月分``, fiscal ``令和7年度``), or None."""
    norm = _normalise(text)
    m = _YEAR.search(norm) if norm else None
    year = _year(m.groupdict()) if m else None
    if year is None or not MIN_YEAR <= year <= MAX_YEAR:
        return None
    return Year(year, fiscal=norm[m.end():m.end() + 1] == "度") if m else None


def _normalise(text: str | None) -> str:
    if not isinstance(text, str):
        return ""
    # NFKC folds full-width digits, colons and brackets ("２０２５年", "（月）") to ASCII.
    return unicodedata.normalize("NFKC", text[:2000]).strip()


def _first_date(norm: str, tz: tzinfo) -> tuple[datetime | None, bool]:
    """Leftmost match over all forms; a later match is tried only if an earlier one is invalid.
    A valid date with an impossible time (25時70分) is that date. Also: whether any full date
    was written at all (a month and day alone must not then take another year)."""
    matches: list[re.Match[str]] = []
    for form in _FORMS:
        matches.extend(form.finditer(norm))
    matches.sort(key=lambda m: (m.start(), -m.end()))
    for m in matches:
        groups = m.groupdict()
        found = _build(groups, tz) or _build({**groups, "H": None, "jH": None, "zone": None}, tz)
        if found is not None:
            return found, True
    return None, bool(matches)


def _year(g: dict[str, str | None]) -> int | None:
    if g.get("era"):
        ey = g["ey"] or ""
        if ey != "元" and int(ey) < 1:  # 令和0年 does not exist
            return None
        return _ERAS[g["era"] or ""] + (1 if ey == "元" else int(ey))
    y = g.get("y")
    if not y:
        return None
    year = int(y)
    if len(y) == 2:  # RFC 822 two-digit years: 70-99 -> 19xx, else 20xx (the RFC 2822 rule)
        year += 1900 if year >= 70 else 2000
    return year


def _build(g: dict[str, str | None], tz: tzinfo) -> datetime | None:
    try:
        year = _year(g)
        month = int(g.get("m") or 0) or _MONTHS.get((g.get("mon") or "")[:3].lower())
        if year is None or month is None or not MIN_YEAR <= year <= MAX_YEAR:
            return None
        hour, minute, second = _clock(g)
        zone = _zone(g.get("zone"), tz)
        if zone is None:
            return None
        return datetime(year, month, int(g.get("d") or ""), hour, minute, second, tzinfo=zone)
    except (ValueError, OverflowError, KeyError, TypeError):
        return None


def _clock(g: dict[str, str | None]) -> tuple[int, int, int]:
    if g.get("H"):
        # A leap second (":60") is read as :59 rather than losing the whole date.
        return int(g["H"] or 0), int(g["M"] or 0), min(int(g.get("S") or 0), 59)
    if g.get("jH"):
        hour = int(g["jH"] or 0)
        if g.get("ampm") == "午後" and hour < 12:
            hour += 12
        return hour, int(g.get("jM") or g.get("jM2") or 0), 0
    return 0, 0, 0


def _zone(name: str | None, local: tzinfo) -> tzinfo | None:
    """A zone spelling -> tzinfo; no zone at all -> the caller's local zone."""
    return _fixed_zone(name) if name else local


@lru_cache(maxsize=256)
def _fixed_zone(name: str) -> tzinfo | None:
    z = name.upper()
    for prefix in ("GMT", "UTC", "UT"):
        if z.startswith(prefix) and len(z) > len(prefix) and z[len(prefix)] in "+-":
            z = z[len(prefix):]
            break
    if z[0] in "+-":
        digits = z[1:].replace(":", "")
        if len(digits) <= 2:
            hours, minutes = int(digits), 0
        else:
            hours, minutes = int(digits[:-2]), int(digits[-2:])
        if hours > 23 or minutes > 59:
            return None
        sign = -1 if z[0] == "-" else 1
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    named = _ZONES_HOURS.get(z, 0)
    return timezone(timedelta(hours=named)) if named else UTC
