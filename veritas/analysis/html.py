"""The parsed view of an HTML page that the analysers share: forms, scripts, links, text."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser, LexborNode

# Elements whose text is a unit a visitor reads; their descendants' text joins into it.
_BLOCKS = frozenset(
    [
        "p",
        "li",
        "td",
        "th",
        "dd",
        "dt",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "label",
        "button",
        "a",
        "span",
        "strong",
        "em",
        "b",
        "small",
        "div",
        "section",
        "article",
        "aside",
        "header",
        "footer",
        "blockquote",
        "figcaption",
        "summary",
        "option",
        "caption",
        "legend",
    ]
)
_SKIP = frozenset(("script", "style", "noscript", "template", "svg", "head"))
_MAX_SEGMENT = 400


@dataclass(frozen=True, slots=True)
class Field:
    """One input, select or textarea, with the text a visitor would read next to it."""

    tag: str
    type: str  # lower-case input type; "select"/"textarea" for those tags
    name: str
    autocomplete: str
    checked: bool
    hidden: bool  # type=hidden or hidden by inline style
    label: str
    where: str


@dataclass(frozen=True, slots=True)
class Form:
    action: str  # absolute; the page URL when the form has no action
    raw_action: str
    method: str  # "get" or "post"
    fields: tuple[Field, ...]
    text: str  # everything a visitor reads inside the form
    where: str


@dataclass(frozen=True, slots=True)
class Script:
    src: str | None  # absolute, None for inline
    raw_src: str | None
    integrity: str | None
    code: str  # inline body; "" for external


@dataclass(frozen=True, slots=True)
class Resource:
    """A sub-resource the page loads (for mixed content): img, iframe, link, media."""

    tag: str
    url: str
    active: bool  # scripts, frames, stylesheets can rewrite the page; images cannot


@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    where: str  # a short CSS-like locator of the element


@dataclass(frozen=True, slots=True)
class Image:
    src: str
    alt: str
    where: str


@dataclass(frozen=True, slots=True)
class Document:
    url: str
    title: str
    forms: tuple[Form, ...]
    fields: tuple[Field, ...]  # every field, inside a form or not
    scripts: tuple[Script, ...]
    links: tuple[str, ...]
    resources: tuple[Resource, ...]
    icons: tuple[str, ...]
    logos: tuple[Image, ...]
    segments: tuple[Segment, ...]
    meta: dict[str, str]  # name/property -> content, lower-case names
    http_equiv: dict[str, str]
    copyright: str

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments)


def locator(node: LexborNode) -> str:
    """tag#id.class of the node and its parent: enough to find it again by eye."""
    parts = []
    current: LexborNode | None = node
    for _ in range(2):
        if current is None or current.tag in ("html", "body", "-document"):
            break
        parts.append(_describe(current))
        current = current.parent
    return " < ".join(parts)


def _describe(node: LexborNode) -> str:
    attrs = node.attributes
    text = str(node.tag)
    if attrs.get("id"):
        text += "#" + str(attrs["id"])
    classes = (attrs.get("class") or "").split()[:2]
    return text + "".join("." + c for c in classes)


def _attr(node: LexborNode, name: str) -> str:
    return (node.attributes.get(name) or "").strip()


def _norm(text: str) -> str:
    return " ".join(text.split())


@lru_cache(maxsize=16)
def parse(html: str, url: str) -> Document:
    """Parse once per page; every analyser of one audit shares the result."""
    tree = LexborHTMLParser(html)
    labels = _labels(tree)
    fields = tuple(_field(n, labels) for n in tree.css("input, select, textarea"))
    title = tree.css_first("title")
    return Document(
        url=url,
        title=_norm(title.text()) if title is not None else "",
        forms=tuple(_form(n, url, labels) for n in tree.css("form")),
        fields=fields,
        scripts=tuple(_script(n, url) for n in tree.css("script")),
        links=tuple(urljoin(url, h) for n in tree.css("a[href]") if (h := _attr(n, "href"))),
        resources=_resources(tree, url),
        icons=tuple(
            urljoin(url, _attr(n, "href"))
            for n in tree.css("link[rel][href]")
            if "icon" in _attr(n, "rel").lower()
        ),
        logos=_logos(tree, url),
        segments=tuple(_segments(tree)),
        meta=_meta(tree, "name") | _meta(tree, "property"),
        http_equiv=_meta(tree, "http-equiv"),
        copyright=_copyright(tree),
    )


def _meta(tree: LexborHTMLParser, key: str) -> dict[str, str]:
    return {
        _attr(n, key).lower(): _attr(n, "content")
        for n in tree.css(f"meta[{key}]")
        if _attr(n, key)
    }


def _labels(tree: LexborHTMLParser) -> dict[str, str]:
    return {
        _attr(n, "for"): _norm(n.text(deep=True, separator=" "))
        for n in tree.css("label[for]")
        if _attr(n, "for")
    }


def _field(node: LexborNode, labels: dict[str, str]) -> Field:
    tag = str(node.tag)
    kind = _attr(node, "type").lower() or "text" if tag == "input" else tag
    style = _attr(node, "style").replace(" ", "").lower()
    hidden = kind == "hidden" or "display:none" in style or "hidden" in node.attributes
    return Field(
        tag=tag,
        type=kind,
        name=_attr(node, "name") or _attr(node, "id"),
        autocomplete=_attr(node, "autocomplete").lower(),
        checked="checked" in node.attributes,
        hidden=hidden,
        label=_label_of(node, labels),
        where=locator(node),
    )


def _label_of(node: LexborNode, labels: dict[str, str]) -> str:
    own = labels.get(_attr(node, "id"), "")
    if own:
        return own
    parent = node.parent
    hints = " ".join(
        _attr(node, a) for a in ("placeholder", "aria-label", "title") if _attr(node, a)
    )
    context = _norm(parent.text(deep=True, separator=" ")) if parent is not None else ""
    return _norm(f"{hints} {context[:_MAX_SEGMENT]}")


def _form(node: LexborNode, url: str, labels: dict[str, str]) -> Form:
    raw = _attr(node, "action")
    method = _attr(node, "method").lower()
    return Form(
        action=urljoin(url, raw) if raw else url,
        raw_action=raw,
        method="post" if method == "post" else "get",
        fields=tuple(_field(n, labels) for n in node.css("input, select, textarea")),
        text=_norm(node.text(deep=True, separator=" "))[: _MAX_SEGMENT * 4],
        where=locator(node),
    )


def _script(node: LexborNode, url: str) -> Script:
    raw = _attr(node, "src") or None
    return Script(
        src=urljoin(url, raw) if raw else None,
        raw_src=raw,
        integrity=_attr(node, "integrity") or None,
        code="" if raw else (node.text(deep=True) or ""),
    )


def _resources(tree: LexborHTMLParser, url: str) -> tuple[Resource, ...]:
    found: list[Resource] = []
    for selector, attr, active in (
        ("img[src]", "src", False),
        ("audio[src], video[src], source[src]", "src", False),
        ("iframe[src]", "src", True),
        ("script[src]", "src", True),
        ("link[rel~=stylesheet][href]", "href", True),
    ):
        found.extend(
            Resource(str(n.tag), urljoin(url, _attr(n, attr)), active) for n in tree.css(selector)
        )
    return tuple(found)


def _logos(tree: LexborHTMLParser, url: str) -> tuple[Image, ...]:
    logos = []
    for node in tree.css("img[src]"):
        hint = " ".join(_attr(node, a) for a in ("src", "alt", "class", "id")).lower()
        parent = node.parent
        if parent is not None:
            hint += " " + " ".join(_attr(parent, a) for a in ("class", "id")).lower()
        if "logo" in hint:
            logos.append(Image(urljoin(url, _attr(node, "src")), _attr(node, "alt"), locator(node)))
    return tuple(logos)


def _copyright(tree: LexborHTMLParser) -> str:
    body = tree.body
    text = _norm(body.text(deep=True, separator=" ")) if body is not None else ""
    for marker in ("©", "&copy;", "Copyright", "(c)"):
        at = text.find(marker)
        if at >= 0:
            return text[at : at + 80]
    return ""


def _segments(tree: LexborHTMLParser) -> list[Segment]:
    """The visible text, cut at the innermost block that holds a whole phrase."""
    out: list[Segment] = []
    if tree.body is not None:
        _, loose = _walk(tree.body, out, 0)
        out.extend(loose)
    seen: set[str] = set()
    return [s for s in out if not (s.text in seen or seen.add(s.text))]  # type: ignore[func-returns-value]


# Inline tags inside a block do not split its phrase ("Only <b>2</b> left").
_INLINE = frozenset(("a", "span", "strong", "em", "b", "i", "small", "label", "button", "option"))
_CONTAINERS = _BLOCKS - _INLINE
_MAX_DEPTH = 200


def _walk(node: LexborNode, out: list[Segment], depth: int) -> tuple[bool, list[Segment]]:
    """Emit phrase containers; hand inline text up until a container decides where it goes.

    Returns whether the subtree holds a container, and the inline segments still unplaced.
    """
    if node.tag in _SKIP or depth > _MAX_DEPTH:
        return False, []
    has_container, loose = False, []
    for child in node.iter():
        child_has, child_loose = _walk(child, out, depth + 1)
        has_container |= child_has
        loose.extend(child_loose)
    if node.tag in _CONTAINERS:
        out.extend(loose if has_container else _segment(node))
        return True, []
    if node.tag in _INLINE and not has_container:
        return False, _segment(node)
    return has_container, loose


def _segment(node: LexborNode) -> list[Segment]:
    text = _norm(node.text(deep=True, separator=" "))
    return [Segment(text[:_MAX_SEGMENT], locator(node))] if len(text) >= 3 else []
