"""The evaluation command and its measures, on small sets written here."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from indexer.__main__ import cli
from indexer.evaluate import Page, Prediction, score
from indexer.scoring import (
    authors_match,
    language_match,
    precision_recall_f1,
    same_day,
    source_match,
    title_match,
    token_f1,
)

PROSE = (
    "The council approved the new budget on Tuesday after a debate that lasted most of the "
    "afternoon, with members arguing over how much to spend on roads and schools. "
)


def test_body_precision_recall_f1_are_bags_of_words() -> None:
    assert precision_recall_f1("a b c", "a b c") == (1.0, 1.0, 1.0)
    precision, recall, f1 = precision_recall_f1("A b, b!", "a b c d")
    assert (precision, recall) == (2 / 3, 2 / 4)
    assert f1 == pytest.approx(2 * precision * recall / (precision + recall))
    assert precision_recall_f1("", "") == (1.0, 1.0, 1.0)
    assert precision_recall_f1("x", "") == (0.0, 0.0, 0.0)
    assert token_f1("Ünïcode wörds", "ünïcode WÖRDS") == 1.0


@pytest.mark.parametrize(
    ("found", "wanted", "exact", "near"),
    [
        ("Budget  vote", "budget vote", True, True),
        (
            "Council passes budget after a long debate",
            "Council passes budget after a long debate | Example",
            False,
            True,
        ),
        ("Something else", "Budget vote", False, False),
        ("", "Budget vote", False, False),
    ],
)
def test_title_match(found: str, wanted: str, exact: bool, near: bool) -> None:
    assert title_match(found, wanted) == (exact, near)


def test_same_day_reads_the_page_own_date() -> None:
    assert same_day("2024-09-13T23:30:00-04:00", "2024-09-13")
    assert same_day("2024-09-13", "2024-09-13T15:47:42+00:00")
    assert not same_day("2024-09-14T03:30:00+00:00", "2024-09-13")
    assert not same_day(None, "2024-09-13")


def test_authors_match_ignores_by_separators_and_order() -> None:
    assert authors_match(["Jane Roe", "John Doe"], "By John Doe; Jane Roe")
    assert authors_match(("Jane Roe",), "jane roe")
    assert not authors_match(["Jane Roe"], "Jane Roe; John Doe")
    assert not authors_match([], "Jane Roe")


def test_source_and_language_match() -> None:
    assert source_match("DER STANDARD", "DerStandard")
    assert source_match("Börsen-Zeitung", "BoersenZeitung")
    assert source_match("Seznam Zprávy", "SeznamZpravy")
    assert source_match("DW.COM", "DW")
    assert not source_match("Le Monde", "Le Figaro")
    assert not source_match(None, "DW")
    assert language_match("en-US", "en") and language_match("pt_BR", "pt-br")
    assert not language_match("de", "en") and not language_match(None, "en")


def test_scores_average_pages_that_have_the_field() -> None:
    pages = [
        Page("a", "a.html", "html", b"", {"body": "one two", "title": "T", "date": "2024-01-02"}),
        Page("b", "b.html", "html", b"", {"body": "three four", "title": "", "date": float("nan")}),
    ]
    predictions = [
        Prediction("a", title="T", body="one two", published="2024-01-02T10:00:00+00:00"),
        Prediction("b", body="three", error=None),
    ]
    result = score(pages, predictions, seconds=2.0)
    assert result.body_precision == 1.0
    assert result.body_recall == pytest.approx(0.75)
    assert result.body_high == 0.5 and result.body_low == 0.0
    assert result.title_exact == 1.0  # page b has no title in its truth
    assert result.date == 1.0  # NaN means "no date" in htmldate's set
    assert result.author is None and result.pages_per_s == 1.0


def _write_set(folder: Path) -> None:
    pages = folder / "pages"
    pages.mkdir(parents=True)
    truth = []
    for number in range(3):
        html = (
            f"<html lang='en'><head><title>Council story number {number} | Example News</title>"
            f"<meta property='og:site_name' content='Example News'>"
            f"<meta property='article:published_time' content='2024-03-1{number}T10:00:00Z'>"
            f"<meta name='author' content='Jane Roe'></head><body><nav>Home News</nav>"
            f"<article><h1>Council story number {number}</h1><p>{PROSE * 3}</p><p>{PROSE}</p></article>"
            f"</body></html>"
        )
        (pages / f"p{number}.html.gz").write_bytes(gzip.compress(html.encode()))
        truth.append(
            {
                "id": f"p{number}",
                "page": f"pages/p{number}.html.gz",
                "title": f"Council story number {number}",
                "date": f"2024-03-1{number}",
                "author": "Jane Roe",
                "publisher": "ExampleNews",
                "body": (PROSE * 4).strip(),
            }
        )
    (folder / "truth.jsonl").write_text("\n".join(json.dumps(t) for t in truth) + "\n")


def test_evaluate_command_prints_ours_beside_the_reference(tmp_path: Path) -> None:
    folder = tmp_path / "extraction" / "tiny"
    _write_set(folder)
    out_json, out_predictions = tmp_path / "scores.json", tmp_path / "predictions.jsonl"
    result = CliRunner().invoke(
        cli,
        ["evaluate", str(folder), "--json", str(out_json), "--predictions", str(out_predictions)],
    )
    assert result.exit_code == 0, result.output
    assert "extraction/tiny (3 pages)" in result.output
    assert "trafilatura" in result.output
    for row in ("body precision", "body recall", "body F1", "title exact", "date (same day)",
                "author", "source", "pages/s"):  # fmt: skip
        assert row in result.output
    report = json.loads(out_json.read_text())
    [tiny] = report["sets"]
    assert tiny["ours"]["title_exact"] == 1.0 and tiny["ours"]["date"] == 1.0
    assert tiny["ours"]["author"] == 1.0 and tiny["ours"]["source"] == 1.0
    assert tiny["ours"]["body_f1"] > 0.95
    assert tiny["reference"] is not None and tiny["reference"]["pages"] == 3
    lines = [json.loads(line) for line in out_predictions.read_text().splitlines()]
    assert [line["id"] for line in lines] == ["p0", "p1", "p2"]
    assert set(lines[0]) >= {"set", "id", "title", "body", "published", "author", "source"}
    assert lines[0]["author"] == "Jane Roe" and lines[0]["published"].startswith("2024-03-10")


def test_evaluate_command_on_text_dumps_has_no_reference(tmp_path: Path) -> None:
    folder = tmp_path / "textdumps" / "tiny"
    (folder / "pages").mkdir(parents=True)
    (folder / "pages" / "a.txt").write_text(f"Menu\n\nA headline here\n\n{PROSE}\n\n{PROSE}\n")
    (folder / "truth.jsonl").write_text(
        json.dumps({"id": "a", "page": "pages/a.txt", "body": f"{PROSE}\n\n{PROSE}"}) + "\n"
    )
    result = CliRunner().invoke(cli, ["evaluate", str(folder)])
    assert result.exit_code == 0, result.output
    assert "n/a" in result.output and "body F1" in result.output
