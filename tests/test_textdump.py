"""Plain-text page dumps: boilerplate, metadata and headline rules on small inputs."""

from __future__ import annotations

import datetime as dt

import pytest

from indexer.errors import ExtractionError
from indexer.textdump import extract_textdump

# The body F1 on the 181 real dumps of textdumps/aeb is gated in tests/test_evaluate_gate.py.

PROSE = (
    "The council approved the new budget on Tuesday after a debate that lasted most of the "
    "afternoon, with members arguing over how much to spend on roads and schools."
)


def test_menus_share_bars_and_credits_are_dropped() -> None:
    dump = "\n".join(
        [
            "  • Home",
            "  • World",
            "  • Business",
            "",
            "Council passes budget after long debate",
            "",
            "By Jane Roe",
            "Updated 14 March 2024 10:05",
            "Photo: Reuters",
            "",
            PROSE,
            "",
            "Share this:",
            "",
            "  • Twitter",
            "  • Facebook",
            "",
            PROSE.replace("Tuesday", "Wednesday"),
            "",
            "Click here to subscribe to our newsletter",
            "Copyright © 2024 Example News. All rights reserved.",
            "We use cookies to improve your experience. Accept",
        ]
    )
    fields = extract_textdump(dump)
    assert fields.title == "Council passes budget after long debate"
    assert fields.authors == ("Jane Roe",)
    assert fields.published == dt.datetime(2024, 3, 14, 10, 5, tzinfo=dt.timezone.utc)
    assert fields.body.startswith("The council approved")
    for junk in ("Share this", "Twitter", "Photo:", "subscribe", "Copyright", "cookies"):
        assert junk not in fields.body


def test_wrapped_lines_are_joined() -> None:
    words = (PROSE + " " + PROSE).split()
    lines, line = [], ""
    for word in words:
        if len(line) + 1 + len(word) > 60:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    fields = extract_textdump("Headline of a wrapped story\n\n" + "\n".join(lines) + "\n")
    assert fields.body == PROSE + " " + PROSE


def test_outlet_section_line_gives_source_and_section() -> None:
    dump = f"A headline about talks\n\nReuters WORLD NEWS\nPublished March 3,2024\n\n{PROSE}\n"
    fields = extract_textdump(dump)
    assert (fields.source, fields.section) == ("Reuters", "World News")
    assert fields.published is not None and fields.published.date() == dt.date(2024, 3, 3)


def test_comments_are_not_the_body() -> None:
    comment = "I disagree with this article entirely and here is a very long explanation. " * 8
    dump = f"Headline here\n\n{PROSE}\n\n3 Comments\n\nJo on March 3, 2024 at 4:47 pm said:\n\n{comment}\n"
    assert "disagree" not in extract_textdump(dump).body


def test_a_dump_without_prose_is_refused() -> None:
    with pytest.raises(ExtractionError):
        extract_textdump("  • Home\n  • News\n  • Contact Us\n")


def test_the_headline_is_the_line_above_the_byline_not_a_photo_caption() -> None:
    dump = "\n".join(
        [
            "WIRED",
            "Why My Friend Became a Grocery Store on Instagram",
            "  • Business",
            "  • Culture",
            "",
            "Louise Matsakis",
            "Why My Friend Became a Grocery Store on Instagram",
            "By Louise Matsakis",
            "Published November 15, 2019",
            "",
            "A person walks by in the Instagram office",
            "",
            PROSE,
            "",
            PROSE,
        ]
    )
    fields = extract_textdump(dump)
    assert fields.title == "Why My Friend Became a Grocery Store on Instagram"
    assert fields.authors == ("Louise Matsakis",)
