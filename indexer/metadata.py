"""Article metadata that is not a date: outlets, URLs, ids, hashes, authors, titles, language.

These rules are shared by the HTML, text-dump and record extractors (and by the demo corpus
converter, which reuses `outlet_for_url`), so an article gets the same id and the same
outlet name whichever format it arrives in.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from indexer.normalize import clean_line

# Registrable domain -> outlet name as a reader would write it. Subdomains match their
# parent (europe.chinadaily.com.cn -> China Daily); a more specific entry wins.
OUTLETS: dict[str, str] = {
    "aa.com.tr": "Anadolu Agency",
    "abcnews.go.com": "ABC News",
    "aljazeera.com": "Al Jazeera",
    "apnews.com": "AP News",
    "bbc.co.uk": "BBC",
    "bbc.com": "BBC",
    "bloomberg.com": "Bloomberg",
    "chinadaily.com.cn": "China Daily",
    "cnbc.com": "CNBC",
    "cnn.com": "CNN",
    "dw.com": "DW",
    "economist.com": "The Economist",
    "euronews.com": "Euronews",
    "foxnews.com": "Fox News",
    "france24.com": "France 24",
    "ft.com": "Financial Times",
    "huffingtonpost.com": "HuffPost",
    "huffpost.com": "HuffPost",
    "independent.co.uk": "The Independent",
    "latimes.com": "Los Angeles Times",
    "lemonde.fr": "Le Monde",
    "npr.org": "NPR",
    "nytimes.com": "The New York Times",
    "politico.com": "Politico",
    "politico.eu": "Politico Europe",
    "reuters.com": "Reuters",
    "rte.ie": "RTÉ",
    "spiegel.de": "Der Spiegel",
    "tass.com": "TASS",
    "tass.ru": "TASS",
    "theguardian.com": "The Guardian",
    "guardian.co.uk": "The Guardian",
    "usatoday.com": "USA Today",
    "washingtonpost.com": "The Washington Post",
    "wsj.com": "The Wall Street Journal",
    # Saudi outlets of the SaudiNewsNet collection (records name them by slug).
    "aawsat.com": "Asharq Al-Awsat",
    "alriyadh.com": "Al Riyadh",
    "al-jazirah.com": "Al Jazirah",
    "alyaum.com": "Alyaum",
    "aleqt.com": "Al Eqtisadiah",
    "okaz.com.sa": "Okaz",
    "alwatan.com.sa": "Al Watan",
    "al-madina.com": "Al Madina",
    "alweeam.com.sa": "Al Weeam",
    "3alyoum.com": "3alyoum",
    "sabq.org": "Sabq",
    "spa.gov.sa": "Saudi Press Agency",
    "arreyadi.com.sa": "Arreyadi",
    "arriyadiyah.com": "Arriyadiyah",
}

# A host name holds letters, digits, dots, hyphens (underscores in the wild), nothing else.
_BAD_HOST = re.compile(r"[^\w.-]")
# Controls, spaces, line/paragraph separators, format marks (bidi, zero-width).
_PATH_UNSAFE = re.compile(
    "[\x00-\x20\x7f-\xa0\u00ad\u061c\u1680\u180e\u2000-\u200f\u2028-\u202f"
    "\u205f-\u206f\u3000\ufeff\ufff9-\ufffb]"
)
_SURROGATES = re.compile("[\ud800-\udfff]")
# Query parameters that only track a click; two URLs differing in them are one article.
_TRACKING_PARAMS = {"fbclid", "gclid", "ref", "ref_src", "mc_cid", "mc_eid", "cmpid", "ocid"}
# Role words before or after a name ("Staff Writer", "Senior Correspondent").
_ROLE = (
    r"(?:(?:staff|senior|chief|special|political|foreign|business|sports?|news|contributing|"
    r"deputy|managing|associate|investigative|data|science|health)\s+)*"
    r"(?:writer|reporter|correspondent|editor|contributor|columnist|journalist|producer|"
    r"analyst|photographer|staff)s?"
)
_ROLE_WORDS = re.compile(rf"^{_ROLE}\s+(?=(?-i:[A-Z]))|\s*\b{_ROLE}$", re.I)
_AUTHOR_SPLIT = re.compile(r"\s*(?:;|\||,|&|\b(?:and|und|et|y|og|ve|with)\b)\s*", re.I)
# "Author: X" keeps X; "Editor: X" or "Photo: X" is not an author of the text.
_AUTHOR_LABEL = re.compile(r"^(?:authors?|autor(?:in|en)?|auteur|text|texto|yazar)\s*:\s*", re.I)
_NOT_AUTHOR_LABEL = re.compile(
    r"^(?:editor|edited by|redaktion|foto|fotos|photos?|bild|image|illustration|grafik)\b\s*:?",
    re.I,
)
_CONNECTOR = re.compile(r"^(?:by|von|par|por|and|und|et|y|og|ve|with)$", re.I)
# The given name must hold a lowercase letter ("Brazil, Rachel", not "SMITH, AP"); a
# lookahead checks that, as `[\w]*[a-z][\w]*$` tried every split of a long word (quadratic).
_SURNAME_FIRST = re.compile(r"^([A-ZÀ-Þ][\w'’-]+), ([A-ZÀ-Þ](?=[\w'’-]*?[a-zß-ÿ])[\w'’-]*)$")
# Innermost parentheses: "[^)]*" rescanned to the end of the text from every "(" of "((((".
_PARENTHESES = re.compile(r"\([^()]*\)")
# A person's name with "By", roles and labels is far shorter; longer text is not one name,
# and the role and prefix patterns would otherwise rescan it from every word.
_MAX_AUTHOR_PART = 200
# "Von" (and Italian "di", Dutch "door", Nordic "av"/"af") only before a capitalised word,
# so "von der Leyen" and "di Maio" keep their particles.
_BY_PREFIX = re.compile(
    r"^(?:(?:written|reported|posted|words|analysis|opinion|commentary|review|interview|"
    r"story|text|photos?|video)\s+)?(?:by|par|por|(?:von|di|door|av|af)(?=\s+(?-i:[A-ZÀ-Þ])))"
    r"\s*:?\s+",
    re.I,
)
# A kicker before "by": "Capital Von Jemima Kelly", "Analysis by Jane Roe".
_KICKER_BY = re.compile(r"^(?:[\w'’-]+\s+){1,2}(?:by|von|par|por)\s+(?=(?-i:[A-ZÀ-Þ]))", re.I)
# Starts only where a run of non-spaces starts: unanchored, "\S+@" rescanned a long run
# from every position (a 70k-character author field took seconds).
_EMAIL = re.compile(r"(?<!\S)[^\s@]+@\S+\.\w+")
_DATE_WORD = re.compile(
    r"^(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|today|yesterday|january|february|march|"
    r"april|june|july|august|september|october|november|december)$",
    re.I,
)
_LANGUAGE_NAMES = {
    "english": "en", "german": "de", "deutsch": "de", "french": "fr", "français": "fr",
    "spanish": "es", "español": "es", "italian": "it", "turkish": "tr", "türkçe": "tr",
    "arabic": "ar", "russian": "ru", "chinese": "zh", "japanese": "ja", "portuguese": "pt",
    "dutch": "nl", "polish": "pl", "swedish": "sv",
}  # fmt: skip
_LANGUAGE_3 = {
    "eng": "en", "deu": "de", "ger": "de", "fra": "fr", "fre": "fr", "spa": "es",
    "ita": "it", "tur": "tr", "ara": "ar", "rus": "ru", "zho": "zh", "chi": "zh",
    "jpn": "ja", "por": "pt", "nld": "nl", "dut": "nl", "pol": "pl", "swe": "sv",
}  # fmt: skip
_SMALL_WORDS = frozenset("a an and as at by de for in of on or the to".split())
_ACRONYMS = frozenset("us uk eu un uae nato tv ai usa fbi cia".split())
_TITLE_SEPARATORS = (" | ", " – ", " — ", " - ", " :: ", " · ", " • ", " // ")


def host_of(url_or_domain: str | None) -> str | None:
    """Return the lowercase host of a URL or bare domain, without "www."."""
    if not url_or_domain:
        return None
    value = url_or_domain.strip()
    if "://" not in value:
        value = "http://" + value
    try:
        host = urlsplit(value).hostname
    except ValueError:
        return None
    if not host or "." not in host:
        return None
    return host.removeprefix("www.")


def outlet_for_url(url: str | None) -> str | None:
    """Name the outlet behind a URL or domain ("abcnews.go.com" -> "ABC News"), if known."""
    host = host_of(url)
    while host:
        if host in OUTLETS:
            return OUTLETS[host]
        _, _, host = host.partition(".")
    return None


def outlet_names() -> frozenset[str]:
    """Every outlet name the table knows, for spotting "<Outlet> <SECTION>" lines."""
    return frozenset(OUTLETS.values())


def source_name(value: str | None, url: str | None = None) -> str | None:
    """Write a source as a person would: domains and slugs mapped to outlet names."""
    value = clean_line(value)
    looks_like_domain = bool(re.fullmatch(r"[\w-]+(\.[\w-]+)+", value))
    looks_like_slug = bool(re.fullmatch(r"[a-z0-9_-]+", value))
    if looks_like_domain:
        return outlet_for_url(value) or host_of(value)
    if looks_like_slug or not value:
        return outlet_for_url(url) or value or host_of(url)
    return value


def canonical_url(url: str | None) -> str | None:
    """Normalise a URL for identity: lowercase scheme and host, no fragment, no tracking."""
    if not url:
        return None
    url = _SURROGATES.sub("", url).strip()  # JSON can carry lone surrogates; UTF-8 cannot
    if url.startswith("//"):
        url = "https:" + url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    if _BAD_HOST.search(parts.hostname):  # "a\x00b.com", "evil.com\u202e": not a host
        return None
    netloc = parts.hostname.lower()
    if port and (scheme, port) not in (("http", 80), ("https", 443)):
        netloc += f":{port}"
    query = urlencode(
        [
            (key, value)
            for key, value in parse_qsl(parts.query, keep_blank_values=True)
            if not key.lower().startswith("utm_") and key.lower() not in _TRACKING_PARAMS
        ]
    )
    return urlunsplit((scheme, netloc, _escape_path(parts.path) or "/", query, ""))


def _escape_path(path: str) -> str:
    """Percent-encode what a URL path must not hold raw: controls, spaces, bidi marks."""
    return _PATH_UNSAFE.sub(lambda m: quote(m.group()), path)


def article_id(url: str | None, title: str, body: str) -> str:
    """Return a stable 16-hex id: from the canonical URL when known, else from the text."""
    key = canonical_url(url) or f"{title}\n{body}"
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def content_hash(parts: Iterable[str | None]) -> str:
    """Return the sha1 hex of the cleaned fields, so any content change changes it."""
    joined = "\x1f".join(part or "" for part in parts)
    return hashlib.sha1(joined.encode("utf-8")).hexdigest()


def clean_authors(values: Iterable[str | None]) -> tuple[str, ...]:
    """Return person names: no "By", no roles, no emails or URLs, no duplicates."""
    names: list[str] = []
    seen: set[str] = set()
    for value in values:
        value = clean_line(value)
        if not value or value.startswith(("http://", "https://", "/")):
            continue
        value = _SURNAME_FIRST.sub(r"\2 \1", value)  # "Brazil, Rachel" -> "Rachel Brazil"
        # Collapse again: removed e-mails and "(...)" leave runs of spaces, and the splitter's
        # leading "\s*" retried every run from each of its positions (quadratic: a 100,000-
        # character "()()()..." author took 49 CPU seconds).
        value = " ".join(_PARENTHESES.sub(" ", _EMAIL.sub(" ", value)).split())
        for part in _AUTHOR_SPLIT.split(value):
            name = _clean_author(part)
            if name and name.casefold() not in seen:
                seen.add(name.casefold())
                names.append(name)
    return tuple(names)


def _clean_author(value: str) -> str | None:
    if len(value) > _MAX_AUTHOR_PART or value.rstrip().endswith(":"):  # ":": a label ("Autor:")
        return None
    value = value.strip(" \t-–—:,.·|")
    if _NOT_AUTHOR_LABEL.match(value) or _CONNECTOR.match(value) or value.startswith("@"):
        return None
    value = _AUTHOR_LABEL.sub("", value)
    for prefix in (_BY_PREFIX, _KICKER_BY):
        match = prefix.match(value)
        if not match:
            continue
        rest = value[match.end() :]
        # A particle that is also part of names strips only when a whole name follows:
        # "Luigi Di Maio" and "Di Maio" are names, "di Sami al-Ajrami" is a byline.
        particle = match.group(0).split()[-1].rstrip(":").lower()
        if particle in ("by", "par", "por") or len(rest.split()) >= 2:
            value = rest
    named = _ROLE_WORDS.sub(" ", value)
    if named != value and len(named.split()) < 2:
        return None  # a job title ("Games Editor", "Staff Writer"), not a person
    value = re.sub(r"\s+", " ", named).strip(" \t-–—:,.·|()")
    if not value or len(value) > 60 or len(value.split()) > 5:
        return None
    if re.search(r"\d|www\.|\.(?:com|de|org|net)\b|[!?]", value) or not re.search(r"\w", value):
        return None
    if _DATE_WORD.match(value):  # "Monday" split off "Jeff Foust, Monday"
        return None
    return value


def same_name(value: str, names: Iterable[str | None]) -> bool:
    """Tell whether `value` names one of `names` ("STERN.de" ~ "stern"), ignoring case/punctuation."""
    key = _squash(value)
    return bool(key) and any(
        key == other or (len(key) > 3 and (key in other or other in key))
        for other in (_squash(n) for n in names if n)
        if other
    )


def strip_site_suffix(title: str, site_names: Iterable[str | None] = ()) -> str:
    """Remove a " | Site" (or " - Site") tail naming the site from a page title."""
    title = clean_line(title)
    names = {_squash(name) for name in site_names if name}
    for separator in _TITLE_SEPARATORS:
        head, found, tail = title.rpartition(separator)
        if not found or len(head) < 10:
            continue
        tail_key = _squash(tail)
        named = bool(tail_key) and any(tail_key in n or n in tail_key for n in names if n)
        short_bar = separator.strip() in "|·•//::" and len(tail.split()) <= 4
        if named or short_bar:
            return strip_site_suffix(head, site_names)
    return title


def _squash(value: str) -> str:
    return re.sub(r"[\W_]+", "", value.casefold().removeprefix("www."))


def normalize_language(value: str | None) -> str | None:
    """Return a 2-letter language code from "en-US", "en_GB", "eng" or "English"."""
    value = clean_line(value).lower()
    if not value:
        return None
    value = re.split(r"[,;\s]", value)[0]
    base = re.split(r"[-_]", value)[0]
    if base in _LANGUAGE_NAMES:
        return _LANGUAGE_NAMES[base]
    if re.fullmatch(r"[a-z]{2}", base):
        return base
    return _LANGUAGE_3.get(base)


def title_case(label: str) -> str:
    """Title-case a shouted label sensibly: "MIDDLE EAST" -> "Middle East", keeping "US"."""
    words = clean_line(label).split(" ")
    result = []
    for index, word in enumerate(words):
        lower = word.lower()
        if lower in _ACRONYMS:
            result.append(word.upper())
        elif index and lower in _SMALL_WORDS:
            result.append(lower)
        else:
            result.append("-".join(part[:1].upper() + part[1:] for part in lower.split("-")))
    return " ".join(result)


def section_label(value: str | None) -> str | None:
    """Return a section name, title-cased only if it was written in capitals."""
    value = clean_line(value)
    if not value:
        return None
    return title_case(value) if value.isupper() else value
