"""The parsed view of an HTML page that the analysers share: forms, scripts, links, text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser, LexborNode

# Elements a browser lays out as blocks: each one starts a new piece of visible text.
_BLOCKS = frozenset((
    "address", "article", "aside", "blockquote", "body", "button", "caption", "center", "dd",
    "details", "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
    "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "li", "main", "nav", "ol",
    "optgroup", "option", "p", "pre", "section", "select", "summary", "table", "tbody", "td",
    "tfoot", "th", "thead", "tr", "ul", "legend",
))  # fmt: skip
# Never read as text: code, styling, fallbacks for disabled script, inert markup, media.
_SKIP = frozenset((
    "script", "style", "noscript", "template", "svg", "math", "head", "title", "iframe",
    "object", "embed", "canvas", "video", "audio", "picture", "map", "textarea",
))  # fmt: skip
# Utility classes of the common CSS frameworks whose only effect is to hide the element.
_HIDDEN_CLASSES = frozenset((
    "hidden", "d-none", "is-hidden", "visually-hidden", "sr-only", "screen-reader-text",
    "invisible", "hide",
))  # fmt: skip
_MAX_SEGMENT = 600
_MAX_DEPTH = 200
_PATH_DEPTH = 4


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
    where: str  # the element path of its block, up to four levels: "div#main > p.stock"
    navigation: bool = False  # inside a nav element or a menu: it names sections of the site


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
    visible: dict[str, str]  # "#id" and ".class" of visible elements -> where the first one is
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
    segments, visible = _segments(tree)
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
        segments=tuple(segments),
        visible=visible,
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
    return {_attr(n, "for"): visible_text(n) for n in tree.css("label[for]") if _attr(n, "for")}


def _field(node: LexborNode, labels: dict[str, str]) -> Field:
    tag = str(node.tag)
    kind = _attr(node, "type").lower() or "text" if tag == "input" else tag
    concealed = kind == "hidden" or hidden(node)
    return Field(
        tag=tag,
        type=kind,
        name=_attr(node, "name") or _attr(node, "id"),
        autocomplete=_attr(node, "autocomplete").lower(),
        checked="checked" in node.attributes,
        hidden=concealed,
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
    context = visible_text(parent) if parent is not None else ""
    return _norm(f"{hints} {context[:_MAX_SEGMENT]}")


def _form(node: LexborNode, url: str, labels: dict[str, str]) -> Form:
    raw = _attr(node, "action")
    method = _attr(node, "method").lower()
    return Form(
        action=urljoin(url, raw) if raw else url,
        raw_action=raw,
        method="post" if method == "post" else "get",
        fields=tuple(_field(n, labels) for n in node.css("input, select, textarea")),
        text=visible_text(node)[: _MAX_SEGMENT * 4],
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
    text = visible_text(body) if body is not None else ""
    for marker in ("©", "&copy;", "Copyright", "(c)"):
        at = text.find(marker)
        if at >= 0:
            return text[at : at + 80]
    return ""


def hidden(node: LexborNode) -> bool:
    """Hidden by its own markup: the hidden attribute, inline style, a hiding class.

    aria-hidden is not among them: it hides from screen readers, not from eyes, and real
    shops set it on whole visible panels and carousels.
    """
    attrs = node.attributes
    if not attrs:
        return False
    if "hidden" in attrs:
        return True
    if node.tag == "input" and (attrs.get("type") or "").strip().lower() == "hidden":
        return True
    style = (attrs.get("style") or "").replace(" ", "").lower()
    if "display:none" in style or "visibility:hidden" in style:
        return True
    return not _HIDDEN_CLASSES.isdisjoint((attrs.get("class") or "").split())


_NAV_WORDS = frozenset(
    ("nav", "navbar", "navigation", "menu", "menubar", "breadcrumb", "breadcrumbs")
)
_NAV_SPLIT = re.compile(r"[-_\s]+")


# The page's frame: a class such as "hidden-menu" or "menu-open" on it is a state of the
# page's menu, never a sign that the whole page is one.
_FRAMES = frozenset(("html", "body", "main"))


def _is_navigation(node: LexborNode) -> bool:
    """A nav element, a navigation landmark, or an element its class or id calls a menu."""
    if node.tag == "nav":
        return True
    attrs = node.attributes
    if not attrs or node.tag in _FRAMES:
        return False
    if (attrs.get("role") or "").lower() in ("navigation", "menu", "menubar"):
        return True
    names = f"{attrs.get('class') or ''} {attrs.get('id') or ''}".lower()
    return not _NAV_WORDS.isdisjoint(_NAV_SPLIT.split(names))


def visible_text(node: LexborNode) -> str:
    """Every piece of text under the node a visitor can see, blocks separated by spaces."""
    parts: list[str] = []
    _collect(node, parts, 0)
    return _norm(" ".join(parts))


def _collect(node: LexborNode, parts: list[str], depth: int) -> None:
    for child in node.iter(include_text=True):
        tag = child.tag
        if tag == "-text":
            parts.append(child.text_content or "")
        elif (
            tag and tag[0] != "-" and tag not in _SKIP and depth < _MAX_DEPTH and not hidden(child)
        ):
            _collect(child, parts, depth + 1)


def _segments(tree: LexborHTMLParser) -> tuple[list[Segment], dict[str, str]]:
    """The visible text, one segment per run of inline text inside a block; visible elements."""
    walker = _Blocks()
    if tree.body is not None and not hidden(tree.body):
        walker.block(tree.body, (), 0)
    seen: set[str] = set()
    unique = [s for s in walker.out if not (s.text in seen or seen.add(s.text))]  # type: ignore[func-returns-value]
    return unique, walker.visible


@dataclass(slots=True)
class _Run:
    """The inline text gathered for one segment, and how much of it is link text."""

    parts: list[str]
    links: int = 0
    link_chars: int = 0

    def menu(self, text: str) -> bool:
        """Several links and little else: a list of places to go, not a statement."""
        chars = len(text.replace(" ", ""))
        return self.links >= 2 and self.link_chars >= 0.8 * chars


class _Blocks:
    """Walks the visible tree; inline text joins the run of its block, a child block cuts it."""

    def __init__(self) -> None:
        self.out: list[Segment] = []
        self.visible: dict[str, str] = {}

    def block(self, node: LexborNode, path: tuple[str, ...], depth: int, nav: bool = False) -> None:
        here = (*path, _describe(node))
        self._mark(node, here)
        nav = nav or _is_navigation(node)
        run = _Run([])
        self._children(node, here, run, depth, nav)
        self._flush(run, here, nav)

    def _children(
        self, node: LexborNode, here: tuple[str, ...], run: _Run, depth: int, nav: bool
    ) -> None:
        for child in node.iter(include_text=True):
            tag = child.tag
            if tag == "-text":
                run.parts.append(child.text_content or "")
            elif not tag or tag[0] == "-" or tag in _SKIP or depth >= _MAX_DEPTH or hidden(child):
                continue
            elif tag == "br":
                run.parts.append(" ")
            elif tag in _BLOCKS:
                self._flush(run, here, nav)
                self.block(child, here, depth + 1, nav)
            else:
                self._mark(child, (*here, _describe(child)))
                start = len(run.parts)
                self._children(child, here, run, depth + 1, nav)
                if tag == "a" and len(run.parts) >= start:
                    run.links += 1
                    run.link_chars += len("".join(run.parts[start:]).replace(" ", ""))

    def _mark(self, node: LexborNode, path: tuple[str, ...]) -> None:
        attrs = node.attributes
        names = [f".{c}" for c in (attrs.get("class") or "").split()]
        if attrs.get("id"):
            names.append(f"#{attrs['id']}")
        where = " > ".join(path[-_PATH_DEPTH:])
        for name in names:
            self.visible.setdefault(name, where)

    def _flush(self, run: _Run, here: tuple[str, ...], nav: bool) -> None:
        text = _norm("".join(run.parts))
        menu = run.menu(text)
        run.parts.clear()
        run.links = run.link_chars = 0
        if len(text) >= 3:
            where = " > ".join(here[-_PATH_DEPTH:])
            self.out.append(Segment(text[:_MAX_SEGMENT], where, nav or menu))
