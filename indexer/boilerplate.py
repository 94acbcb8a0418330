"""Lines that are page furniture, not article text, in any language the rules know.

Shared by the text-dump extractor (where they decide which lines can be body) and the HTML
extractor (which drops such paragraphs from the main text): menus, share bars, "Contact
Us", "Subscribe", copyright lines, photo credits, cookie notes, comment headers.
"""

from __future__ import annotations

import re

BOILERPLATE_LINE = re.compile(
    r"^(?:contact( us)?|about( us)?|subscribe( now)?|sign (in|up|out)|log ?(in|out)|register|"
    r"search|menu|home|share( this( article| story)?)?|like this|tweet|print|e-?mail|"
    r"facebook|twitter|whatsapp|linkedin|pinterest|reddit|instagram|youtube|flipboard|"
    r"comments?|\d+ comments?|advertisement|advertising|sponsored|ad|skip to( main)? content|"
    r"read more|more|next|previous|close|back to top|like loading|loading|"
    r"continue reading( the main story)?|supported by|related( articles| stories| news)?|"
    r"recommended( for you)?|trending( now)?|most (popular|read|viewed)|popular|recent|"
    r"latest( news)?|you may also like|more (stories|from .{0,40})|follow us.*|"
    r"terms (of (use|service)|and conditions)|privacy( policy)?|cookie policy|sections|"
    r"topics|tags|photos?|video|watch|listen|expand|collapse|show more|load more|"
    r"[|×☰✕]+)[\s:.!…]*$",
    re.I,
)
BOILERPLATE_PHRASE = re.compile(
    r"click here to|sign up (for|to)|subscribe (to|for)|newsletter|all rights reserved|"
    r"^(©|\(c\)|copyright)\b|cookies?\b.{0,80}\b(use|accept|consent|policy|settings)|"
    r"we use cookies|privacy (policy|notice)|bloggers like this|other subscribers|"
    r"enter your (e-?mail|email address)|post was not sent|cannot share posts by email|"
    r"share (this|on|via)\b|follow us on|download (our|the) app|"
    r"(enable|turn on|activate) javascript|javascript (is )?(disabled|required|turned off)|"
    r"(update|upgrade) your browser|your browser (does not|doesn't|is (out of date|not supported))|"
    r"^(image|photo|picture|video|graphic|illustration)s?( credit)?\s*[:/|]|"
    r"^\((file )?(photo|image|picture|video)s?\b[^)]*\)$|credit\s*\.{3}|getty images|"
    r"^(reporting|editing|additional reporting) by\b|^read (more|also|next)\s*:|"
    r"^(see|watch|listen|related)\s*:|^(ap|afp|reuters|epa) photo",
    re.I,
)
# Headings that open what follows an article: comments, related links, teasers.
SECTION_END = re.compile(
    r"^(?:\d+\s+)?(?:comments?|responses?|replies|leave a (?:reply|comment)|comments are closed|"
    r"share your thoughts.*|join the (?:conversation|discussion)|post a comment|"
    r"related(?: articles| stories| posts| news| content| coverage)?|more (?:stories|news|articles)|"
    r"you (?:may|might) also like|recommended(?: for you| stories| articles)?|most (?:popular|read|viewed)|"
    r"trending(?: now| stories| news)?|(?:popular|recent|latest|related) posts|"
    r"you may like these posts|read next|what to read next|more from .{1,40}|"
    r"around the web|from our partners|sponsored (?:content|stories|links))[\s:.!…]*$",
    re.I,
)
# Teaser lists: image file names, "7H ago" stamps; never inside an article.
TEASER_MARK = re.compile(
    r"^\S+\.(?:jpe?g|png|gif|webp|svg)$|^(?:updated\s+)?\d+\s*(?:[smhd]|min|mins|minutes?|hours?|"
    r"hrs?|days?)\s+ago\b",
    re.I,
)
COMMENTS = re.compile(
    r"^(?:\d+\s+)?(?:comments?|responses?|replies|leave a (?:reply|comment)|post a comment|"
    r"join the (?:conversation|discussion))\b",
    re.I,
)
# A comment's header line: "Jane on September 12, 2018 at 4:47 pm said:".
COMMENT_HEAD = re.compile(r"\b(?:says|said|wrote)\s*:$", re.I)


def is_boilerplate_paragraph(text: str) -> bool:
    """Tell whether a whole paragraph is furniture ("Share this", "(File Photo)", "© 2024")."""
    text = text.strip()
    if BOILERPLATE_LINE.match(text) or SECTION_END.match(text) or TEASER_MARK.search(text):
        return True
    return len(text.split()) < 25 and bool(BOILERPLATE_PHRASE.search(text))
