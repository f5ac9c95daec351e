"""Fill a Maildir with many realistic messages, fast enough for 100,000 of them.

The messages are built from bytes templates and pre-encoded text pools (never with
email.message, which is far too slow at this scale) and written straight to disk, one
open/write/close per message, with the file's mtime set to the message's Date.

What a fill contains (deterministic for a seed and folder):

* dates spread uniformly over the three years before 2025-06-01 (a fixed anchor, so that a
  seed always gives the same messages), senders in their own time zones;
* kinds: ``plain`` (US-ASCII), ``utf8`` (UTF-8, quoted-printable or 8bit), ``latin1``
  (ISO-8859-1, quoted-printable or 8bit), ``koi8r`` (KOI8-R, 8bit), ``japanese``
  (Shift_JIS in base64 or ISO-2022-JP in 7bit), ``html`` (multipart/alternative),
  ``attachment`` (multipart/mixed with a base64 attachment, some with RFC 2231 non-ASCII and
  continued file names), ``list`` (mailing-list headers), ``reply`` (In-Reply-To and
  References to an earlier message, "Re:" subject, quoted text) and ``large`` (> 100 KB);
* RFC 2047 encoded-word subjects and display names in UTF-8, ISO-8859-1, KOI8-R and
  ISO-2022-JP, in B and Q forms, folded when long;
* flags: about 80 % seen (``cur/``, ``:2,`` info with sorted flags, some R, F and T),
  the rest unread (``new/``, no info); file names ``<time>.M<uid>P<seed>.pinesh,S=,W=``.

Run as ``python -m tests.lab.maildir_fill DIR COUNT [--seed N] [--folder NAME]``.
"""

# ruff: noqa: RUF001 - the text pools are multilingual on purpose

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import html
import os
import random
import sys
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from urllib.parse import quote

from tests.lab.common import LAB_DOMAIN, LAB_USER, LabUser

END_TIME = 1748736000  # 2025-06-01 00:00:00 UTC: the fixed "now" of every fill
SPAN = 3 * 365 * 86400  # messages are spread over the three years before END_TIME

KINDS = (
    "plain",
    "utf8",
    "latin1",
    "koi8r",
    "japanese",
    "html",
    "attachment",
    "list",
    "reply",
    "large",
)

# Weights of the kinds of a message that is neither a reply nor a large one.
_KIND_WEIGHTS = (
    ("plain", 30),
    ("utf8", 13),
    ("latin1", 9),
    ("koi8r", 4),
    ("japanese", 4),
    ("html", 16),
    ("attachment", 10),
    ("list", 8),
)
_REPLY_RATE = 0.2
_LARGE_RATE = 0.0025
_UNREAD_RATE = 0.2
_ANSWERED_RATE = 0.15
_FLAGGED_RATE = 0.08
_TRASHED_RATE = 0.02

_LAB_ADDRESS = f"{LAB_USER}@{LAB_DOMAIN}"
_LAB_HEADER = f"Pine Lab <{_LAB_ADDRESS}>".encode("ascii")


@dataclass(frozen=True)
class FilledMessage:
    """One generated message, as written."""

    uid_hint: int  # 1-based position in date order (Dovecot's UID order for a fresh box)
    filename: str  # relative to the root given to fill_maildir, e.g. "cur/...:2,S"
    message_id: str  # with its angle brackets
    subject: str  # decoded
    sender: str  # decoded: "Display Name <address>", or the bare address
    date: datetime  # aware, in the sender's time zone
    flags: str  # Maildir info flags, sorted ("" for unread messages in new/)
    kind: str  # one of KINDS
    size: int = 0  # bytes on disk (the S= of the file name)
    in_reply_to: str | None = None  # the parent's Message-ID, for replies
    attachment_name: str | None = None  # decoded file name of the attachment, if any
    attachment_sha256: str | None = None  # hex digest of the attachment's decoded bytes


# --------------------------------------------------------------------------- text pools

_SENTENCES: dict[str, tuple[str, ...]] = {
    "en": (
        "I have attached the latest figures from the quarterly review.",
        "Could you take a look at the draft before Thursday's meeting?",
        "The build on the staging server failed again last night, apparently because of a "
        "full disk.",
        "Thanks for the quick turnaround on this.",
        "Let me know if the proposed time works for everyone.",
        "We moved the deadline to the end of next week, so there is a bit more room.",
        "The printer on the third floor is out of toner again.",
        "I spoke to the vendor this morning and they promised a fix by Friday.",
        "Please remember to submit your expense reports before the end of the month.",
        "The new release candidate is available for testing on the usual server.",
        "As discussed on the phone, here is a summary of the open issues.",
        "Has anyone seen the projector remote from meeting room B?",
        "Our backup job took almost six hours yesterday, which is twice the usual time.",
        "I think we should revisit the design of the configuration parser.",
        "The team lunch is on Wednesday at noon in the usual place.",
        "Sorry for the late reply, I was travelling most of last week.",
        "The logs show a steady increase in connection timeouts since Monday.",
        "Attached you will find the minutes of yesterday's call.",
        "Feel free to forward this to anyone who might be interested.",
        "The conference early-bird registration closes on the fifteenth.",
        "We need a volunteer to review the pull request for the mail parser.",
        "I would rather keep the old behaviour as the default and make the new one optional.",
        "The customer reported that the search results are sorted in the wrong order.",
        "Can we schedule a short call to go through the migration plan?",
        "The office will be closed on Monday because of the public holiday.",
        "Here are the numbers you asked for, broken down by region (see table 3).",
        "I ran the benchmark three times and the results are consistent: 42 ms +/- 3 ms.",
        "The firewall rules were updated this afternoon; please report anything unusual.",
        "My train is delayed, so I will join the meeting about twenty minutes late.",
        "Details are on the wiki at https://wiki.example.org/ops/runbook#mail-queue.",
        "Note that 100% of the tests pass with the fix = good news.",
        "Thanks again, and have a nice weekend.",
    ),
    "de": (
        "Vielen Dank für die schnelle Rückmeldung.",
        "Anbei die überarbeitete Fassung des Angebots.",
        "Können wir das Gespräch auf nächste Woche verschieben?",
        "Die Übergabe an das neue Team ist für März geplant.",
        "Bitte prüfe die Zahlen noch einmal, bevor wir sie weitergeben.",
        "Im Büro ist heute die Heizung ausgefallen, ich arbeite deshalb von zu Hause.",
        "Die Änderungen an der Schnittstelle sind größer als erwartet.",
        "Für Rückfragen stehe ich gerne zur Verfügung.",
        "Der Termin beim Kunden in München wurde bestätigt.",
        "Wir müssen die Straßensperrung bei der Anfahrt berücksichtigen.",
        "Die Ergebnisse der Umfrage liegen jetzt vollständig vor.",
        "Grüße aus Köln und ein schönes Wochenende!",
    ),
    "fr": (
        "Merci beaucoup pour votre réponse rapide.",
        "Vous trouverez ci-joint le compte rendu de la réunion de jeudi.",
        "Pourriez-vous vérifier les chiffres avant vendredi ?",
        "La livraison prévue pour la semaine prochaine est reportée.",
        "Nous avons déjà reçu la première facture du fournisseur.",
        "Je serai en congé à partir du 14 août.",
        "Le serveur de messagerie a été redémarré ce matin à 7 h.",
        "N'hésitez pas à me contacter si vous avez des questions.",
        "Les élèves ont préparé une très belle présentation.",
        "Bien à vous, et à bientôt.",
    ),
    "es": (
        "Muchas gracias por la información.",
        "¿Podemos reunirnos el miércoles por la mañana?",
        "Te envío el presupuesto actualizado para el año próximo.",
        "La conexión del servidor falló otra vez durante la noche.",
        "El señor Núñez confirmó su participación en la conferencia.",
        "Un saludo cordial desde Málaga.",
    ),
    "ru": (
        "Спасибо за быстрый ответ.",
        "Высылаю исправленный вариант договора.",
        "Давайте перенесём встречу на следующую неделю.",
        "Сервер снова перезагрузился ночью, логи прилагаю.",
        "Отчёт за третий квартал почти готов.",
        "Пожалуйста, проверьте цифры ещё раз перед отправкой.",
        "Мы получили ответ от поставщика, сроки поставки сдвигаются.",
        "Напомните, пожалуйста, номер счёта.",
        "Совещание состоится в четверг в 10 часов в большой переговорной.",
        "Новая версия программы уже доступна для тестирования.",
        "Всем хороших выходных!",
    ),
    "ja": (
        "いつもお世話になっております。",
        "会議の議事録を添付いたします。",
        "来週の打ち合わせの日程についてご相談させてください。",
        "サーバーのメンテナンスは土曜日の夜に実施します。",
        "資料の修正版をお送りします。",
        "ご確認のほど、よろしくお願いいたします。",
        "本日は東京も大雨で、電車が遅れています。",
        "見積書の金額に誤りがありましたので、再送いたします。",
        "新しいバージョンのテストを開始しました。",
        "何かご不明な点がございましたら、お気軽にお問い合わせください。",
    ),
    "intl": (
        "Dziękuję za szybką odpowiedź, łączę pozdrowienia z Łodzi.",
        "Příští týden budu na služební cestě v Brně.",
        "Ευχαριστώ πολύ για τη βοήθειά σας.",
        "明天下午三点开会，请准时参加。",
        "Smörgåsbord och kaffe i fikarummet klockan tre.",
        "Ceci est un test avec des guillemets « français » et un tiret — long.",
        "Prices went up by 5 € per unit — see the table below.",
        "The café’s naïve déjà-vu façade ✓",
        "Temperature today: 21 °C ± 2 °C, wind 15 km/h.",
        "회의 자료를 첨부합니다. 확인 부탁드립니다.",
        "Party time: 🎉 🚀 👍",
        "Türkçe karakterler: ğ, ş, ı, İ, ç, ö, ü.",
        "שלום, מצורף הקובץ המבוקש.",
        "مرحبا، أرسل لك التقرير الشهري.",
    ),
}

_GREETINGS: dict[str, tuple[str, ...]] = {
    "en": ("Hi all,", "Hello,", "Dear colleagues,", "Hi,"),
    "de": ("Hallo zusammen,", "Sehr geehrte Damen und Herren,", "Hallo,"),
    "fr": ("Bonjour à tous,", "Bonjour,"),
    "es": ("Hola a todos,", "Estimados colegas,"),
    "ru": ("Здравствуйте,", "Добрый день, коллеги!"),
    "ja": ("皆様", "お疲れ様です。"),
    "intl": ("Hello,", "Cześć,", "Γεια σας,", "Hej!"),
}

_ATTRIBUTIONS: dict[str, str] = {
    "en": "On {date}, {name} wrote:",
    "de": "Am {date} schrieb {name}:",
    "fr": "Le {date}, {name} a écrit :",
    "es": "El {date}, {name} escribió:",
    "ru": "{date}, {name} пишет:",
    "ja": "{date}、{name} さんは書きました:",
    "intl": "On {date}, {name} wrote:",
}

_SUBJECTS: dict[str, tuple[str, ...]] = {
    "en": (
        "Quarterly review figures",
        "Meeting notes from Tuesday",
        "Build failure on staging",
        "Lunch on Wednesday?",
        "Updated project timeline",
        "Question about the config parser",
        "Invoice 2023-114",
        "Re-scheduling our call",
        "Release candidate ready for testing",
        "Backup job took six hours",
        "Server maintenance window",
        "Conference registration",
        "Holiday schedule",
        "Welcome to the team!",
        "Your order has shipped",
        "Draft proposal for review",
        "Printer on the third floor",
        "Expense reports due",
        "Migration plan v2",
        "Search results sorted incorrectly",
        "Weekly status report",
        "Reminder: dentist appointment",
        "Photos from the trip",
        "Password policy changes",
        "Customer feedback summary",
        "Budget planning for next year",
        "Code review request: mail parser",
        "Out of office",
        "Access to the shared drive",
        "Benchmark results (50% faster)",
    ),
    "de": (
        "Angebot für die Übergabe",
        "Rückfrage zur Rechnung",
        "Termin nächste Woche",
        "Grüße aus Köln",
        "Änderungen an der Schnittstelle",
        "Protokoll der Besprechung",
        "Urlaubsplanung für März",
        "Heizung im Büro ausgefallen",
    ),
    "fr": (
        "Compte rendu de la réunion",
        "Facture du fournisseur",
        "Congés d'été",
        "Réunion de jeudi reportée",
        "Présentation des élèves",
        "Question sur la livraison",
    ),
    "es": (
        "Presupuesto del año próximo",
        "Reunión del miércoles",
        "Información sobre la conferencia",
        "Saludos desde Málaga",
    ),
    "ru": (
        "Отчёт за квартал",
        "Перенос встречи",
        "Новая версия программы",
        "Исправленный договор",
        "Счёт на оплату",
        "Совещание в четверг",
    ),
    "ja": (
        "会議の議事録",
        "打ち合わせの日程について",
        "資料の修正版",
        "サーバーメンテナンスのお知らせ",
        "見積書の再送",
        "テスト開始のご連絡",
    ),
    "intl": (
        "Spotkanie w Łodzi",
        "Služební cesta do Brna",
        "Ευχαριστώ!",
        "会议通知",
        "Fika klockan tre ☕",
        "Preise: +5 € pro Einheit",
        "🎉 Release party",
        "회의 자료",
        "Türkçe karakter testi",
        "Café — naïve déjà vu, a rather long subject line that needs folding in its header",
    ),
}

# (display name, address, minutes east of UTC); an empty name gives a bare address.
_PEOPLE: dict[str, tuple[tuple[str, str, int], ...]] = {
    "en": (
        ("Alice Johnson", "alice.johnson@example.org", -300),
        ("Bob Miller", "bob@example.net", -480),
        ("Carol White", "carol.white@example.com", 0),
        ("David Brown", "dbrown@example.org", -300),
        ("Smith, John", "john.smith@corp.example", 60),
        ("", "noreply@notifications.example.com", 0),
        ("Eve Davis", "eve@example.net", -420),
        ("Frank O'Neil", "frank.oneil@example.ie", 0),
        ("Grace Lee", "grace.lee@example.com", 600),
        ("Henry Wilson", "h.wilson@example.co.uk", 60),
        ("IT Helpdesk", "helpdesk@corp.example", 60),
        ("Ivy Chen", "ivy.chen@example.org", 480),
    ),
    "de": (
        ("Jürgen Müller", "juergen.mueller@example.de", 60),
        ("Sabine Groß", "s.gross@example.de", 120),
        ("Björn Schäfer", "bjoern@example.at", 60),
        ("Anna Weiß", "anna.weiss@example.ch", 120),
    ),
    "fr": (
        ("François Dupont", "francois.dupont@example.fr", 60),
        ("Hélène Lefèvre", "helene@example.fr", 120),
        ("Loïc Bérénger", "loic.berenger@example.be", 60),
    ),
    "es": (
        ("José Núñez", "jose.nunez@example.es", 60),
        ("María Peña", "maria.pena@example.mx", -360),
    ),
    "ru": (
        ("Дмитрий Иванов", "d.ivanov@example.ru", 180),
        ("Ольга Смирнова", "olga@example.ru", 180),
        ("Сергей Кузнецов", "kuznetsov@example.by", 180),
    ),
    "ja": (
        ("山田 太郎", "yamada@example.jp", 540),
        ("佐藤 花子", "hanako.sato@example.jp", 540),
        ("鈴木 一郎", "ichiro@example.co.jp", 540),
    ),
    "intl": (
        ("Łukasz Żółć", "lukasz@example.pl", 60),
        ("Zoë Ångström", "zoe@example.se", 60),
        ("Γιώργος Παπαδόπουλος", "giorgos@example.gr", 120),
        ("王小明", "xiaoming.wang@example.cn", 480),
        ("Jiří Dvořák", "jiri@example.cz", 60),
        ("Ayşe Yılmaz", "ayse@example.com.tr", 180),
        ("김민준", "minjun@example.kr", 540),
    ),
}

_AGENTS = (
    b"User-Agent: Mozilla Thunderbird\n",
    b"User-Agent: Alpine 2.26 (DEB 649 2022-06-02)\n",
    b"User-Agent: Mutt/2.2.9 (2022-11-12)\n",
    b"X-Mailer: Apple Mail (2.3731.700.6)\n",
    b"X-Mailer: Microsoft Outlook 16.0\n",
    b"",
)

# (list id, posting address, description)
_LISTS = (
    ("python-users", "python-users@lists.example.org", "Python users"),
    ("debian-devel", "debian-devel@lists.example.net", "Debian development"),
    ("alpine-info", "alpine-info@lists.example.edu", "Alpine users"),
)

# (file name, content type, first bytes of the file)
_ATTACHMENTS = (
    ("report-Q3.pdf", "application/pdf", b"%PDF-1.5\n"),
    ("invoice_2023-114.pdf", "application/pdf", b"%PDF-1.4\n"),
    ("IMG_2041.jpg", "image/jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"),
    ("screenshot.png", "image/png", b"\x89PNG\r\n\x1a\n"),
    ("data-export.zip", "application/zip", b"PK\x03\x04"),
    ("notes.bin", "application/octet-stream", b""),
    ("Übersicht März.pdf", "application/pdf", b"%PDF-1.7\n"),
    (
        "отчёт за квартал.docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        b"PK\x03\x04",
    ),
    ("写真_2023.jpg", "image/jpeg", b"\xff\xd8\xff\xe1"),
    ("résumé.pdf", "application/pdf", b"%PDF-1.6\n"),
    ("Zdjęcie z wycieczki nad morze.jpg", "image/jpeg", b"\xff\xd8\xff\xe0"),
    (
        "Protokoll der Sitzung vom Dienstag über die Änderungen am Budget 2024.pdf",
        "application/pdf",
        b"%PDF-1.5\n",
    ),
    ("budget 2024.ods", "application/vnd.oasis.opendocument.spreadsheet", b"PK\x03\x04"),
)

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# RFC 2047 Q encoding: the characters allowed unencoded in every context (also phrases).
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
_NEEDS_QUOTES = frozenset('()<>[]:;@\\,."')


def _encoded_word(text: str, charset: str, mode: str) -> str:
    raw = text.encode(charset)
    if mode == "b":
        payload = base64.b64encode(raw).decode("ascii")
    else:
        payload = "".join(
            "_" if b == 0x20 else chr(b) if b in _Q_SAFE else f"={b:02X}" for b in raw
        )
    return f"=?{charset}?{mode}?{payload}?="


@cache
def _encode_phrase(text: str, charset: str, mode: str) -> bytes:
    """Text as RFC 2047 encoded-words of at most 75 characters, folded; ASCII as is."""
    if text.isascii():
        return text.encode("ascii")
    words: list[str] = []
    chunk = ""
    for char in text:
        if chunk and len(_encoded_word(chunk + char, charset, mode)) > 75:
            words.append(_encoded_word(chunk, charset, mode))
            chunk = char
        else:
            chunk += char
    words.append(_encoded_word(chunk, charset, mode))
    return "\n ".join(words).encode("ascii")


@cache
def _encode_by_words(text: str, charset: str) -> bytes:
    """Only the non-ASCII words encoded (as many mailers do); runs of them share a word."""
    out: list[bytes] = []
    run: list[str] = []
    for word in text.split(" "):
        if word.isascii():
            if run:
                out.append(_encode_phrase(" ".join(run), charset, "q"))
                run = []
            out.append(word.encode("ascii"))
        else:
            run.append(word)
    if run:
        out.append(_encode_phrase(" ".join(run), charset, "q"))
    return b" ".join(out)


def _encode_subject(text: str, charset: str, mode: str) -> bytes:
    if mode == "w":
        return _encode_by_words(text, charset)
    return _encode_phrase(text, charset, mode)


def _paragraphs_of(lang: str) -> list[str]:
    """A fixed pool of paragraphs in one language, wrapped, each ending in a newline."""
    rng = random.Random(f"pinesh-paragraphs-{lang}")
    sentences = _SENTENCES[lang]
    out: list[str] = []
    for _ in range(48):
        chosen = [rng.choice(sentences) for _ in range(rng.randint(2, 6))]
        if lang == "ja":
            text = "".join(chosen)
            lines = [text[i : i + 36] for i in range(0, len(text), 36)]
        else:
            lines = textwrap.wrap(" ".join(chosen), 72)
        out.append("\n".join(lines) + "\n")
    return out


@cache
def _texts(pool: str, lang: str) -> tuple[str, ...]:
    """The unicode texts of a pool: "para", "quote" (paragraphs as quoted), "html", "greet"."""
    if pool == "greet":
        return tuple(g + "\n" for g in _GREETINGS[lang])
    paragraphs = _paragraphs_of(lang)
    if pool == "para":
        return tuple(paragraphs)
    if pool == "quote":
        return tuple("".join("> " + line for line in p.splitlines(True)) for p in paragraphs)
    if pool == "html":
        return tuple("<p>" + html.escape(p, quote=False) + "</p>\n" for p in paragraphs)
    raise ValueError(pool)


def _encode_body(text: str, charset: str, cte: str) -> bytes:
    raw = text.encode(charset)
    return binascii.b2a_qp(raw) if cte == "quoted-printable" else raw


@cache
def _encoded(pool: str, lang: str, charset: str, cte: str) -> tuple[bytes, ...]:
    """A pool's texts in a charset and transfer encoding (base64 is applied to the whole)."""
    return tuple(_encode_body(t, charset, cte) for t in _texts(pool, lang))


@cache
def _text_headers(subtype: str, charset: str, cte: str) -> bytes:
    quoted = f'"{charset}"' if charset.startswith("iso-") else charset
    return (
        f"Content-Type: text/{subtype}; charset={quoted}\nContent-Transfer-Encoding: {cte}\n"
    ).encode("ascii")


_HTML_HEAD = (
    '<!DOCTYPE html>\n<html>\n<head>\n<meta http-equiv="Content-Type" '
    'content="text/html; charset=utf-8">\n</head>\n<body>\n'
)
_HTML_TAIL = "</body>\n</html>\n"


@dataclass(frozen=True)
class _Person:
    lang: str
    name: str
    address: str
    tz: timezone
    offset: str  # "+0100"
    header: bytes  # ready for From/To/Cc
    agent: bytes  # a User-Agent or X-Mailer line, or b""

    @property
    def sender(self) -> str:
        return f"{self.name} <{self.address}>" if self.name else self.address

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]


_NAME_ENCODINGS = {
    "en": (("ascii", "q"),),
    "de": (("iso-8859-1", "q"), ("utf-8", "q")),
    "fr": (("iso-8859-1", "q"), ("utf-8", "q")),
    "es": (("iso-8859-1", "q"), ("utf-8", "b")),
    "ru": (("koi8-r", "b"), ("utf-8", "b")),
    "ja": (("iso-2022-jp", "b"),),
    "intl": (("utf-8", "b"), ("utf-8", "q")),
}


def _make_people() -> dict[str, tuple[_Person, ...]]:
    out: dict[str, tuple[_Person, ...]] = {}
    index = 0
    for lang, entries in _PEOPLE.items():
        people: list[_Person] = []
        for name, address, minutes in entries:
            encodings = _NAME_ENCODINGS[lang]
            charset, mode = encodings[index % len(encodings)]
            if not name:
                header = address.encode("ascii")
            elif name.isascii():
                shown = name
                if any(c in _NEEDS_QUOTES for c in name):
                    shown = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
                header = f"{shown} <{address}>".encode("ascii")
            else:
                header = _encode_phrase(name, charset, mode) + f" <{address}>".encode("ascii")
            sign = "-" if minutes < 0 else "+"
            offset = f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
            tz = timezone(timedelta(minutes=minutes))
            agent = _AGENTS[index % len(_AGENTS)]
            people.append(_Person(lang, name, address, tz, offset, header, agent))
            index += 1
        out[lang] = tuple(people)
    return out


_ALL_PEOPLE = _make_people()
_EVERYONE = tuple(p for people in _ALL_PEOPLE.values() for p in people)


@dataclass(frozen=True)
class _Attachment:
    name: str
    content_type: str
    magic: bytes
    headers: bytes  # Content-Type, Content-Disposition and Content-Transfer-Encoding lines


def _rfc2231_param(param: str, value: str) -> str:
    """param*=utf-8''... , split into param*0*=, param*1*= ... when long."""
    encoded = quote(value.encode("utf-8"), safe="")
    if len(encoded) <= 60:
        return f"{param}*=utf-8''{encoded}"
    chunks: list[str] = []
    start = 0
    while start < len(encoded):
        end = min(start + 45, len(encoded))
        # never split a %XX escape
        while end < len(encoded) and "%" in encoded[end - 2 : end]:
            end += 1
        chunks.append(encoded[start:end])
        start = end
    parts = [f"{param}*0*=utf-8''{chunks[0]}"]
    parts += [f"{param}*{n}*={chunk}" for n, chunk in enumerate(chunks[1:], 1)]
    return ";\n ".join(parts)


def _make_attachment(name: str, content_type: str, magic: bytes) -> _Attachment:
    if name.isascii():
        type_param = f'name="{name}"'
        disposition_param = f'filename="{name}"'
    else:
        type_param = _rfc2231_param("name", name)
        disposition_param = _rfc2231_param("filename", name)
    headers = (
        f"Content-Type: {content_type};\n {type_param}\n"
        f"Content-Disposition: attachment;\n {disposition_param}\n"
        "Content-Transfer-Encoding: base64\n"
    ).encode("ascii")
    return _Attachment(name, content_type, magic, headers)


_ALL_ATTACHMENTS = tuple(_make_attachment(*entry) for entry in _ATTACHMENTS)


def _base64_lines(data: bytes) -> bytes:
    """Base64 in 76-character lines, each ending in a newline (base64.encodebytes, faster)."""
    text = binascii.b2a_base64(data, newline=False)
    return b"\n".join([text[i : i + 76] for i in range(0, len(text), 76)]) + b"\n"


def _rfc5322_date(ts: int, person: _Person) -> str:
    offset = person.tz.utcoffset(None)
    t = time.gmtime(ts + int(offset.total_seconds()))
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {person.offset}"
    )


# ----------------------------------------------------------------------------- generator


@dataclass(frozen=True)
class _Written:
    """What a later reply needs to know of a message."""

    message_id: str
    references: tuple[str, ...]
    subject: str  # without "Re: "
    subject_header: bytes  # encoded, without "Re: "
    person: _Person
    date: str
    reply_to: bytes  # the header a reply addresses (the sender, or the list)


@dataclass
class _Draft:
    kind: str
    person: _Person
    subject: str
    subject_header: bytes
    mime: bytes  # Content-Type ... up to the end of the body
    to: bytes = _LAB_HEADER
    cc: bytes = b""
    extra: bytes = b""  # more header lines (list headers)
    parent: _Written | None = None
    attachment: _Attachment | None = None
    attachment_sha256: str | None = None


class _Generator:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.history: list[_Written] = []
        kinds, weights = zip(*_KIND_WEIGHTS, strict=True)
        self.kinds: tuple[str, ...] = kinds
        total = sum(weights)
        acc = 0.0
        self.cumulative: list[float] = []
        for weight in weights:
            acc += weight / total
            self.cumulative.append(acc)

    # ---- small helpers

    def _pick_kind(self) -> str:
        r = self.rng.random()
        for kind, edge in zip(self.kinds, self.cumulative, strict=True):
            if r < edge:
                return kind
        return self.kinds[-1]

    def _paragraph_count(self) -> int:
        return 2 + min(int(self.rng.expovariate(0.35)), 13)

    def _body(
        self, lang: str, charset: str, cte: str, *, greet: bool = True, count: int = 0
    ) -> bytes:
        """Greeting and count (default: random) paragraphs, in charset and cte (not base64)."""
        rng = self.rng
        paragraphs = _encoded("para", lang, charset, cte)
        parts: list[bytes] = []
        if greet:
            parts.append(rng.choice(_encoded("greet", lang, charset, cte)))
        parts += [rng.choice(paragraphs) for _ in range(count or self._paragraph_count())]
        return b"\n".join(parts)

    def _subject(self, lang: str, charset: str, mode: str) -> tuple[str, bytes]:
        rng = self.rng
        text = rng.choice(_SUBJECTS[lang])
        header = _encode_subject(text, charset, mode)
        if rng.random() < 0.3:
            suffix = f" #{rng.randrange(100, 10000)}"
            text += suffix
            header += suffix.encode("ascii")
        return text, header

    def _signature(self, person: _Person, charset: str, cte: str) -> bytes:
        name = person.name or person.address
        return _encode_body(f"-- \n{name}\n", charset, cte)

    def _boundary(self, uid: int, what: str) -> str:
        return f"=_pinesh_{what}_{uid}_{self.rng.getrandbits(32):08x}"

    # ---- kinds

    def _text_message(self, kind: str, lang: str, charset: str, cte: str, mode: str) -> _Draft:
        person = self.rng.choice(_ALL_PEOPLE[lang])
        subject, header = self._subject(lang, charset, mode)
        body_cte = "8bit" if cte == "base64" else cte
        body = (
            self._body(lang, charset, body_cte) + b"\n" + self._signature(person, charset, body_cte)
        )
        if cte == "base64":
            body = _base64_lines(body)
        return _Draft(
            kind, person, subject, header, _text_headers("plain", charset, cte) + b"\n" + body
        )

    def kind_plain(self, uid: int) -> _Draft:
        return self._text_message("plain", "en", "us-ascii", "7bit", "q")

    def kind_utf8(self, uid: int) -> _Draft:
        rng = self.rng
        lang = rng.choice(("de", "fr", "es", "ru", "ja", "intl", "intl"))
        cte = "quoted-printable" if rng.random() < 0.7 else "8bit"
        mode = "q" if lang in ("de", "fr", "es") else "b"
        return self._text_message("utf8", lang, "utf-8", cte, mode)

    def kind_latin1(self, uid: int) -> _Draft:
        rng = self.rng
        lang = rng.choice(("de", "fr", "es"))
        cte = "quoted-printable" if rng.random() < 0.6 else "8bit"
        mode = "w" if rng.random() < 0.4 else "q"
        return self._text_message("latin1", lang, "iso-8859-1", cte, mode)

    def kind_koi8r(self, uid: int) -> _Draft:
        return self._text_message("koi8r", "ru", "koi8-r", "8bit", "b")

    def kind_japanese(self, uid: int) -> _Draft:
        if self.rng.random() < 0.5:
            return self._text_message("japanese", "ja", "shift_jis", "base64", "b")
        return self._text_message("japanese", "ja", "iso-2022-jp", "7bit", "b")

    def _any_lang(self) -> tuple[str, str]:
        """A language and the encoded-word mode for its UTF-8 subjects."""
        lang = self.rng.choice(("en", "en", "en", "de", "fr", "ru", "ja", "intl"))
        return lang, ("q" if lang in ("en", "de", "fr") else "b")

    def kind_html(self, uid: int) -> _Draft:
        rng = self.rng
        lang, mode = self._any_lang()
        person = rng.choice(_ALL_PEOPLE[lang])
        subject, header = self._subject(lang, "utf-8", mode)
        qp = "quoted-printable"
        count = self._paragraph_count()
        picks = [rng.randrange(48) for _ in range(count)]
        plain_pool = _encoded("para", lang, "utf-8", qp)
        html_pool = _encoded("html", lang, "utf-8", qp)
        plain = b"\n".join(plain_pool[i] for i in picks)
        rich = _encode_body(_HTML_HEAD, "utf-8", qp)
        rich += b"".join(html_pool[i] for i in picks) + _encode_body(_HTML_TAIL, "utf-8", qp)
        boundary = self._boundary(uid, "alt").encode("ascii")
        mime = b"".join(
            (
                b'Content-Type: multipart/alternative;\n boundary="',
                boundary,
                b'"\n\nThis is a multi-part message in MIME format.\n\n--',
                boundary,
                b"\n",
                _text_headers("plain", "utf-8", qp),
                b"\n",
                plain,
                b"\n--",
                boundary,
                b"\n",
                _text_headers("html", "utf-8", qp),
                b"\n",
                rich,
                b"\n--",
                boundary,
                b"--\n",
            )
        )
        return _Draft("html", person, subject, header, mime)

    def _with_attachment(self, kind: str, uid: int, size: int) -> _Draft:
        rng = self.rng
        lang, mode = self._any_lang()
        person = rng.choice(_ALL_PEOPLE[lang])
        subject, header = self._subject(lang, "utf-8", mode)
        charset, cte = ("us-ascii", "7bit") if lang == "en" else ("utf-8", "quoted-printable")
        text = self._body(lang, charset, cte, count=1)  # a short covering note
        attachment = rng.choice(_ALL_ATTACHMENTS)
        data = attachment.magic + rng.randbytes(max(size - len(attachment.magic), 0))
        boundary = self._boundary(uid, "mix").encode("ascii")
        mime = b"".join(
            (
                b'Content-Type: multipart/mixed;\n boundary="',
                boundary,
                b'"\n\nThis is a multi-part message in MIME format.\n\n--',
                boundary,
                b"\n",
                _text_headers("plain", charset, cte),
                b"\n",
                text,
                b"\n--",
                boundary,
                b"\n",
                attachment.headers,
                b"\n",
                _base64_lines(data),
                b"\n--",
                boundary,
                b"--\n",
            )
        )
        draft = _Draft(kind, person, subject, header, mime, attachment=attachment)
        draft.attachment_sha256 = hashlib.sha256(data).hexdigest()
        return draft

    def kind_attachment(self, uid: int) -> _Draft:
        size = int(min(max(self.rng.lognormvariate(7.8, 0.6), 200), 5500))
        return self._with_attachment("attachment", uid, size)

    def kind_large(self, uid: int) -> _Draft:
        rng = self.rng
        if rng.random() < 0.6:
            return self._with_attachment("large", uid, rng.randrange(110_000, 300_000))
        person = rng.choice(_ALL_PEOPLE["en"])
        paragraphs = _encoded("para", "en", "us-ascii", "7bit")
        parts = [b"Hi all,\n", b"here is the full log of last night's run:\n"]
        total = 0
        while total < 110_000:
            chunk = rng.choice(paragraphs)
            parts.append(chunk)
            total += len(chunk) + 1
        body = b"\n".join(parts)
        mime = _text_headers("plain", "us-ascii", "7bit") + b"\n" + body
        return _Draft(
            "large", person, "Full log of last night's run", b"Full log of last night's run", mime
        )

    def kind_list(self, uid: int) -> _Draft:
        rng = self.rng
        list_id, post, description = rng.choice(_LISTS)
        lang = "en" if rng.random() < 0.7 else "intl"
        person = rng.choice(_ALL_PEOPLE[lang])
        mode = "q" if lang == "en" else "b"
        charset, cte = ("us-ascii", "7bit") if lang == "en" else ("utf-8", "quoted-printable")
        subject, header = self._subject(lang, "utf-8", mode)
        prefix = f"[{list_id}] "
        body = self._body(lang, charset, cte, greet=False)
        footer = (
            f"\n_______________________________________________\n{description} mailing list\n"
            f"{post}\nhttps://lists.example.org/mailman/listinfo/{list_id}\n"
        ).encode("ascii")
        domain = post.partition("@")[2]
        extra = (
            f"List-Id: {description} <{list_id}.{domain}>\n"
            f"List-Unsubscribe: <mailto:{list_id}-leave@{domain}>\n"
            f"List-Post: <mailto:{post}>\n"
            "Precedence: list\n"
        ).encode("ascii")
        mime = _text_headers("plain", charset, cte) + b"\n" + body + footer
        return _Draft(
            "list",
            person,
            prefix + subject,
            prefix.encode("ascii") + header,
            mime,
            to=post.encode("ascii"),
            extra=extra,
        )

    def kind_reply(self, uid: int) -> _Draft:
        rng = self.rng
        history = self.history
        back = min(int(rng.expovariate(1 / 40)), len(history) - 1)
        parent = history[-1 - back]
        person = rng.choice(_EVERYONE)
        if person is parent.person:
            person = _EVERYONE[(_EVERYONE.index(person) + 1) % len(_EVERYONE)]
        lang = person.lang
        cte = "quoted-printable" if rng.random() < 0.5 else "8bit"
        attribution = _ATTRIBUTIONS[lang].format(
            date=parent.date, name=parent.person.name or parent.person.address
        )
        quoted = _encoded("quote", parent.person.lang, "utf-8", cte)
        parts = [
            self._body(lang, "utf-8", cte),
            _encode_body(attribution + "\n", "utf-8", cte)
            + b"".join(rng.choice(quoted) for _ in range(rng.randint(1, 3))),
            self._signature(person, "utf-8", cte),
        ]
        mime = _text_headers("plain", "utf-8", cte) + b"\n" + b"\n".join(parts)
        return _Draft(
            "reply",
            person,
            "Re: " + parent.subject,
            b"Re: " + parent.subject_header,
            mime,
            to=parent.reply_to,
            cc=_LAB_HEADER,
            parent=parent,
        )

    # ---- one message

    def message(self, uid: int, ts: int) -> tuple[bytes, _Draft, str, str]:
        """The bytes of message uid, its draft, its Message-ID and its flags."""
        rng = self.rng
        if rng.random() < _LARGE_RATE:
            draft = self.kind_large(uid)
        elif self.history and rng.random() < _REPLY_RATE:
            draft = self.kind_reply(uid)
        else:
            draft = getattr(self, "kind_" + self._pick_kind())(uid)
        person = draft.person
        message_id = f"<{ts:x}.{rng.getrandbits(40):010x}.{uid}@{person.domain}>"
        date = _rfc5322_date(ts, person)

        if draft.to == _LAB_HEADER and rng.random() < 0.15:
            draft.cc = rng.choice(_EVERYONE).header
        head = [
            b"Return-Path: <",
            person.address.encode("ascii"),
            b">\nReceived: from mail.",
            person.domain.encode("ascii"),
            b" (mail.",
            person.domain.encode("ascii"),
            b" [192.0.2.%d])\n\tby mx.pinesh.test (Postfix) with ESMTPS id %010X\n"
            % (1 + uid % 250, rng.getrandbits(40)),
            b"\tfor <",
            _LAB_ADDRESS.encode("ascii"),
            b">; ",
            date.encode("ascii"),
            b"\nDate: ",
            date.encode("ascii"),
            b"\nFrom: ",
            person.header,
            b"\nTo: ",
            draft.to,
            b"\n",
        ]
        if draft.cc:
            head += [b"Cc: ", draft.cc, b"\n"]
        head += [b"Subject: ", draft.subject_header, b"\nMessage-ID: ", message_id.encode("ascii")]
        head.append(b"\n")
        references: tuple[str, ...] = ()
        parent = draft.parent
        if parent is not None:
            references = (*parent.references[-9:], parent.message_id)
            head += [
                b"In-Reply-To: ",
                parent.message_id.encode("ascii"),
                b"\nReferences: ",
                "\n ".join(references).encode("ascii"),
                b"\n",
            ]
        head += [draft.extra, person.agent, b"MIME-Version: 1.0\n", draft.mime]
        data = b"".join(head)
        if not data.endswith(b"\n"):
            data += b"\n"

        if rng.random() < _UNREAD_RATE:
            flags = ""
        else:
            flags = "S"
            if rng.random() < _FLAGGED_RATE:
                flags = "F" + flags
            if rng.random() < _ANSWERED_RATE:
                flags = flags.replace("S", "RS")
            if rng.random() < _TRASHED_RATE:
                flags += "T"

        base_subject = parent.subject if parent else draft.subject
        base_header = parent.subject_header if parent else draft.subject_header
        reply_to = draft.to if draft.kind == "list" else person.header
        self.history.append(
            _Written(message_id, references, base_subject, base_header, person, date, reply_to)
        )
        return data, draft, message_id, flags


# ------------------------------------------------------------------------------- writing


def _check_folder(folder: str) -> None:
    if (
        not folder
        or not folder.isascii()
        or not folder.isprintable()
        or "/" in folder
        or folder.startswith(".")
        or folder.endswith(".")
        or ".." in folder
    ):
        raise ValueError(
            f"unsupported Maildir++ folder name {folder!r} (printable ASCII, no '/', "
            "'.' only between hierarchy levels)"
        )


def _prepare(root: Path, folder: str | None, owner: LabUser | None) -> Path:
    """Create the Maildir (and folder) directories; return the one that gets the messages."""
    made: list[Path] = [root]
    box = root
    if folder is not None:
        _check_folder(folder)
        box = root / f".{folder}"
        made.append(box)
    for directory in list(made):
        for sub in ("cur", "new", "tmp"):
            made.append(directory / sub)
    for directory in made:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if folder is not None:
        marker = box / "maildirfolder"
        marker.touch(mode=0o600)
        made.append(marker)
    if owner is not None:
        for path in made:
            os.chown(path, owner.uid, owner.gid)
    return box


_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC


def _write(path: str, data: bytes, ts: int, owner: LabUser | None) -> None:
    """Write one message file, no fsync (test data), its mtime set to the message's date."""
    fd = os.open(path, _OPEN_FLAGS, 0o600)
    try:
        written = os.write(fd, data)
        while written < len(data):
            written += os.write(fd, data[written:])
        if owner is not None:
            os.fchown(fd, owner.uid, owner.gid)
        os.utime(fd, (ts, ts))
    finally:
        os.close(fd)


def fill_maildir(
    root: Path,
    count: int,
    *,
    seed: int = 1,
    folder: str | None = None,
    owner: LabUser | None = None,
) -> list[FilledMessage]:
    """Write count messages into the Maildir root (or its Maildir++ folder .folder).

    Deterministic for (seed, folder); different folders get different messages for the same
    seed. File names are unique within a fill and created exclusively: filling the same
    folder twice with the same seed raises FileExistsError. With owner, every directory of
    the Maildir structure and every message is chowned to that user.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, not {count}")
    root = Path(root)
    box = _prepare(root, folder, owner)
    prefix = "" if folder is None else f".{folder}/"
    rng = random.Random(f"pinesh-maildir:{seed}:{folder or ''}")
    start = END_TIME - SPAN
    stamps = sorted(start + rng.randrange(SPAN) for _ in range(count))
    generator = _Generator(rng)
    cur = str(box / "cur") + "/"
    new = str(box / "new") + "/"
    out: list[FilledMessage] = []
    for uid, ts in enumerate(stamps, 1):
        data, draft, message_id, flags = generator.message(uid, ts)
        size = len(data)
        lines = data.count(b"\n")
        base = f"{ts}.M{uid}P{seed}.pinesh,S={size},W={size + lines}"
        if flags:
            name = f"cur/{base}:2,{flags}"
            _write(cur + name[4:], data, ts, owner)
        else:
            name = f"new/{base}"
            _write(new + name[4:], data, ts, owner)
        out.append(_filled(uid, prefix + name, message_id, draft, ts, flags, size))
    return out


def _filled(
    uid: int, filename: str, message_id: str, draft: _Draft, ts: int, flags: str, size: int
) -> FilledMessage:
    attachment = draft.attachment
    return FilledMessage(
        uid_hint=uid,
        filename=filename,
        message_id=message_id,
        subject=draft.subject,
        sender=draft.person.sender,
        date=datetime.fromtimestamp(ts, draft.person.tz),
        flags=flags,
        kind=draft.kind,
        size=size,
        in_reply_to=draft.parent.message_id if draft.parent else None,
        attachment_name=attachment.name if attachment else None,
        attachment_sha256=draft.attachment_sha256,
    )


# ----------------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.lab.maildir_fill",
        description="Fill a Maildir with COUNT realistic test messages.",
    )
    parser.add_argument("directory", type=Path, help="the Maildir (created if needed)")
    parser.add_argument("count", type=int, help="how many messages to write")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--folder", help="write into the Maildir++ folder .NAME instead")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    messages = fill_maildir(args.directory, args.count, seed=args.seed, folder=args.folder)
    elapsed = time.perf_counter() - started
    total = sum(m.size for m in messages)
    rate = len(messages) / elapsed if elapsed > 0 else 0.0
    where = args.directory if args.folder is None else args.directory / f".{args.folder}"
    print(
        f"{len(messages)} messages, {total / 1e6:.1f} MB, into {where} "
        f"in {elapsed:.2f} s ({rate:.0f} messages/s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
