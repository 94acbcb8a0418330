"""A parsed query written back in the query language, after folding and stemming.

`str(query)` shows Whoosh's tree (`(title:negoti^3.0 OR summary:negoti^1.5 OR
body:negoti)`); readers need the same thing as they would type it:
`negoti AND NOT lawmak`. A word searched in every full-text field is written
once, without a field; the index fields behind `source:` and friends get their
user-facing names back. Typing the output finds the same articles, because
stemming a stem gives the stem again for all but a few words. A query read in several
languages' fields (`LanguageOr`) is written once per distinct reading, joined by OR.
"""

from __future__ import annotations

from whoosh import query as wq

from search.query import LanguageOr
from search.schema import ALL_TEXT_FIELDS, FIELD_ALIASES, TEXT_FIELDS

# Index field -> the name a user types (the first alias listed for it).
_USER_NAMES: dict[str, str] = {}
for _alias, _field in FIELD_ALIASES.items():
    _USER_NAMES.setdefault(_field, _alias)
for _field, (_kind, _lang) in ALL_TEXT_FIELDS.items():
    _USER_NAMES.setdefault(_field, _kind)


def _text(t: object) -> str:
    return t.decode("utf-8") if isinstance(t, bytes) else str(t)


def _fields(node: wq.Query) -> set[str]:
    """Return the fields a query node searches."""
    out = set()
    for leaf in node.leaves() if not node.is_leaf() else [node]:
        field = leaf.field() if hasattr(leaf, "field") else None
        if field:
            out.add(field)
    return out


def _leaf(node: wq.Query, hide_text_fields: bool) -> str:
    field = node.field() if hasattr(node, "field") else None
    if isinstance(node, wq.Phrase):
        body = '"' + " ".join(_text(w) for w in node.words) + '"'
    elif isinstance(node, wq.Prefix):
        body = _text(node.text) + "*"
    elif isinstance(node, (wq.Term, wq.Wildcard, wq.FuzzyTerm)):
        body = _text(node.text)
    else:
        return str(node)
    if not field or (hide_text_fields and field in ALL_TEXT_FIELDS):
        return body
    return f"{_USER_NAMES.get(field, field)}:{body}"


def _bracket(text: str) -> str:
    """Bracket a rendered part that holds AND or OR, so it nests correctly."""
    return f"({text})" if " AND " in text or " OR " in text else text


def render(node: wq.Query, hide_text_fields: bool = False) -> str:
    """Return `node` in the query language (see the module docstring)."""
    if node is wq.NullQuery:
        return ""
    if isinstance(node, wq.Every):
        return "every article"
    if isinstance(node, LanguageOr):
        readings = list(dict.fromkeys(render(c, hide_text_fields) for c in node.children()))
        if len(readings) == 1:
            return readings[0]
        return " OR ".join(f"({r})" if " AND " in r or " OR " in r else r for r in readings)
    if isinstance(node, wq.Or):
        return _render_or(node, hide_text_fields)
    if isinstance(node, wq.And):
        # The `analyzed_as` term only keeps a negative reading to its own language.
        shown = [c for c in node.children()
                 if not (isinstance(c, wq.Term) and c.fieldname == "analyzed_as")]
        if len(shown) == 1:
            return render(shown[0], hide_text_fields)
        return " AND ".join(_bracket(render(c, hide_text_fields)) for c in shown)
    if isinstance(node, wq.AndNot):
        left = render(node.a, hide_text_fields)
        if not isinstance(node.a, wq.And):  # AND is associative: "a AND b AND NOT c"
            left = _bracket(left)
        return f"{left} AND NOT {_bracket(render(node.b, hide_text_fields))}"
    if isinstance(node, wq.Not):
        return "NOT " + _bracket(render(node.query, hide_text_fields))
    if node.is_leaf():
        return _leaf(node, hide_text_fields)
    return str(node)


def _render_or(node: wq.Or, hide_text_fields: bool) -> str:
    """Write alternatives; one that is searched in every full-text field is written once."""
    groups: dict[str, set[str]] = {}
    members: dict[str, list[wq.Query]] = {}
    for child in node.children():
        plain = render(child, hide_text_fields=True)
        groups.setdefault(plain, set()).update(
            ALL_TEXT_FIELDS.get(f, (f, ""))[0] for f in _fields(child)
        )
        members.setdefault(plain, []).append(child)
    parts = []
    for plain, fields in groups.items():
        if set(TEXT_FIELDS) <= fields or (hide_text_fields and fields <= set(TEXT_FIELDS)):
            parts.append(plain)
        else:
            parts.extend(render(c, hide_text_fields) for c in members[plain])
    if len(parts) == 1:
        return parts[0]
    return " OR ".join(f"({p})" if " AND " in p else p for p in parts)


def describe(q: wq.Query) -> str:
    """Return how the query was read, in the query language (empty for no query)."""
    return render(q)
