"""YAML family file → `Family`, validated; every error names the file, the row and the field."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import cnnprof.files as files
from cnnprof.arch import fields
from cnnprof.arch.generate import GENERATORS
from cnnprof.arch.model import (
    ROUND_RULES,
    Channels,
    Compound,
    Family,
    Generated,
    Layer,
    Published,
    Row,
    Shape,
    Variant,
    frozen,
)
from cnnprof.arch.ops import (
    COMMON,
    DEFAULTS,
    OPS,
    REQUIRED,
)
from cnnprof.errors import ArchError, CnnprofError, did_you_mean

FAMILY_KEYS = ("family", "paper", "input", "defaults", "channels", "compound", "layers", "variants")
VARIANT_KEYS = (
    "aliases",
    "design",
    "width",
    "depth",
    "resolution",
    "num_classes",
    "layers",
    "defaults",
    "paper",
    "note",
    "published",
)
MAX_YAML_VALUES = 200_000  # values a YAML document may expand to (aliases counted each use)
PUBLISHED_KEYS = ("source", "width", "resolution", "top1", "macs", "params")


def read_family(path: str | Path) -> Family:
    """Read and validate one family file (a regular file of at most MAX_INPUT_BYTES)."""
    path = Path(path)
    return family_of(read_doc(path), str(path))


def read_doc(path: str | Path) -> Any:
    """A family file's plain data, as `load_yaml` returns it (not yet validated)."""
    path = Path(path)
    try:
        text = files.read_text(path, "spec", files.MAX_INPUT_BYTES)
    except CnnprofError as exc:
        raise ArchError(str(exc)) from None
    return load_yaml(text, str(path))


def parse_family(text: str, where: str) -> Family:
    """Parse the YAML text of a family file; ``where`` names it in errors."""
    return family_of(load_yaml(text, where), where)


def load_yaml(text: str, where: str, error: type[CnnprofError] = ArchError) -> Any:
    """YAML text → plain data, safely (no tags run code) and bounded: a document whose aliases
    expand past MAX_YAML_VALUES values is refused before anything walks it. ``error`` is raised
    for a document that is not YAML or too large (a budget file's reader passes its own).
    PyYAML is imported here, not with the module: a family read from the cache needs none."""
    import yaml

    try:
        doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"{where}{line}: not valid YAML: {problem}") from None
    except RecursionError:
        raise error(f"{where}: not valid YAML: nested too deeply") from None
    _bounded(doc, where, error)
    return doc


def _bounded(doc: Any, where: str, error: type[CnnprofError]) -> None:
    """Count the values ``doc`` holds as its readers would see them (an alias counts each time
    it is used), stopping at the limit."""
    stack, seen = [doc], 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > MAX_YAML_VALUES:
            raise error(
                f"{where}: expands to more than {MAX_YAML_VALUES:,} values (YAML "
                "aliases used over and over?); refused"
            )
        if isinstance(node, dict):
            stack.extend(node.values())
            seen += len(node)
        elif isinstance(node, list):
            stack.extend(node)


def family_of(doc: Any, where: str) -> Family:
    """A family file's plain data (as `load_yaml` returns it) → `Family`, validated; ``where``
    names the file in errors."""
    fields.mapping(doc, where, "the file")
    fields.known_keys(doc, FAMILY_KEYS, where)
    name = fields.text(doc, "family", where, required=True)
    defaults = _defaults(doc.get("defaults"), where, {})
    base_rows = doc.get("layers")
    variants_doc = doc.get("variants") or {name: {}}
    fields.mapping(variants_doc, where, "field 'variants'")
    variants: dict[str, Variant] = {}
    parsed: dict[tuple[Any, ...], Row] = {}  # rows shared by variants (YAML anchors) parse once
    for vname, vdoc in variants_doc.items():
        vwhere = f"{where}: variant '{vname}'"
        variants[str(vname)] = _variant(str(vname), vdoc or {}, vwhere, defaults, base_rows, parsed)
    family = Family(
        name=name,
        paper=fields.text(doc, "paper", where, required=True),
        input=_input(doc.get("input"), where),
        variants=frozen(variants),
        channels=_channels(doc.get("channels"), where),
        compound=_compound(doc.get("compound"), where),
        source=where,
    )
    if family.channels.table:
        _check_tabulated(family)
    return family


def _variant(
    name: str,
    doc: Any,
    where: str,
    family_defaults: dict[str, Any],
    base_rows: Any,
    parsed: dict[tuple[Any, ...], Row],
) -> Variant:
    """One variant. ``parsed`` holds the rows already parsed in this file: variants that share a
    row (the file's `layers:`, or a YAML alias) under the same defaults share it, validated
    once."""
    fields.mapping(doc, where, "its settings")
    fields.known_keys(doc, VARIANT_KEYS, where)
    defaults = _defaults(doc.get("defaults"), where, family_defaults)
    rows_doc = doc.get("layers", base_rows)
    if rows_doc is None:
        raise ArchError(f"{where}: no 'layers': give them at the top of the file or per variant")
    aliases = doc.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise ArchError(f"{where}: field 'aliases': expected a list of names")
    rows, generated = _rows(rows_doc, where, defaults, doc.get("design"), parsed)
    return Variant(
        name=name,
        rows=rows,
        generated=generated,
        aliases=tuple(aliases),
        width=fields.number(doc, "width", where, 1.0, positive=True),
        depth=fields.number(doc, "depth", where, 1.0, positive=True),
        resolution=_optional_whole(doc.get("resolution"), where, "resolution"),
        num_classes=_optional_whole(doc.get("num_classes"), where, "num_classes"),
        paper=fields.text(doc, "paper", where),
        note=fields.text(doc, "note", where),
        published=_published(doc.get("published", []), where, doc.get("width", 1.0)),
    )


def _optional_whole(value: Any, where: str, key: str) -> int | None:
    return None if value is None else fields.whole(value, where, key)


def _rows(
    doc: Any,
    where: str,
    defaults: Mapping[str, Any],
    design: Any,
    parsed: dict[tuple[Any, ...], Row],
) -> tuple[tuple[Row, ...], Generated | None]:
    """The variant's rows, a ``{generate: NAME}`` row replaced by the rows its generator writes
    from the variant's ``design:``. A row mapping already parsed for another variant with the
    same defaults (a YAML anchor) is taken from ``parsed``."""
    if not isinstance(doc, list) or not doc:
        raise ArchError(f"{where}: field 'layers': expected a non-empty list of rows")
    rows: list[tuple[Row, str]] = []  # each with where it sits in this variant
    generated = None
    context = tuple(sorted(defaults.items()))
    for index, item in enumerate(doc):
        rwhere = f"{where}, row {index + 1}"
        if isinstance(item, dict) and "generate" in item:
            if generated is not None:
                raise ArchError(f"{rwhere}: a second 'generate' row; a variant takes one")
            generated = _generated(item, rwhere, defaults, design, at=len(rows))
            rows.extend((row, row.layer.where) for row in write_rows(generated, where=rwhere))
            generated = replace(generated, count=len(rows) - generated.at)
            continue
        key = (id(item), index, context)
        if key not in parsed or not isinstance(item, dict):
            parsed[key] = parse_row(item, rwhere, defaults, path=str(index))
        rows.append((parsed[key], rwhere))
    if design is not None and generated is None:
        raise ArchError(f"{where}: field 'design' given, but no row says {{generate: NAME}}")
    seen: set[str] = set()
    for row, rwhere in rows:
        if row.layer.path in seen:
            raise ArchError(f"{rwhere}: name '{row.layer.path}' is used twice")
        seen.add(row.layer.path)
    return tuple(row for row, _ in rows), generated


def _generated(
    item: dict[Any, Any], where: str, defaults: Mapping[str, Any], design: Any, *, at: int
) -> Generated:
    fields.known_keys(item, ("generate",), where)
    name = item["generate"]
    if not isinstance(name, str) or name not in GENERATORS:
        raise ArchError(
            f"{where}: field 'generate': unknown generator {name!r}; known: {', '.join(GENERATORS)}"
        )
    if design is None:
        raise ArchError(f"{where}: {{generate: {name}}} needs the variant's 'design:' parameters")
    fields.mapping(design, where, "field 'design'")
    values = check_design(name, design, f"{where}: design")
    return Generated(
        generator=name,
        design=frozen(values),
        defaults=frozen(defaults),
        at=at,
        count=0,
        where=where,
    )


def check_design(
    generator: str, doc: Mapping[Any, Any], where: str, error: type[CnnprofError] = ArchError
) -> dict[str, Any]:
    """A generator's parameters, validated and completed with its defaults; ``error`` is raised
    (naming ``where``) for an unknown, missing or out-of-range one."""
    schema = GENERATORS[generator].design
    unknown = sorted(str(k) for k in set(doc) - set(schema))
    if unknown:
        hint = did_you_mean(unknown[0], schema)
        raise error(
            f"{where}: unknown parameter '{unknown[0]}'{hint}; {generator} takes: "
            f"{', '.join(schema)}"
        )
    values: dict[str, Any] = {}
    for key, field in schema.items():
        if key in doc:
            try:
                values[key] = fields.checked(doc[key], field, f"{where}: {key}")
            except ArchError as exc:
                raise error(str(exc)) from None
        elif field.default is REQUIRED:
            raise error(f"{where}: parameter '{key}' is required ({field.describe()})")
        else:
            values[key] = field.default
    problem = GENERATORS[generator].check(values)
    if problem:
        raise error(f"{where}: {problem}")
    return values


def write_rows(
    generated: Generated,
    *,
    where: str = "",
    design: Mapping[str, Any] | None = None,
    width: float = 1.0,
) -> list[Row]:
    """The rows ``generated``'s generator writes from its design (or ``design``, already checked)
    at ``width``, validated like written rows."""
    rule = GENERATORS[generated.generator]
    docs = rule.write(design or generated.design, width=width)
    where = where or generated.where
    rows = []
    for i, item in enumerate(docs):
        rwhere = f"{where} (generated: {item.get('name', i)})"
        rows.append(parse_row(item, rwhere, generated.defaults, path=f"{generated.generator}{i}"))
    return rows


def parse_row(item: Any, where: str, defaults: Mapping[str, Any], path: str) -> Row:
    """Validate one row against its op's schema and fill every field (defaults included)."""
    if not isinstance(item, dict):
        raise ArchError(f"{where}: expected a mapping like {{op: conv, out: 32}}, got {item!r}")
    op = item.get("op")
    if not isinstance(op, str) or op not in OPS:
        allowed = ", ".join(sorted(OPS))
        hint = did_you_mean(op, OPS) if isinstance(op, str) else ""
        raise ArchError(f"{where}: field 'op': unknown op {op!r}{hint}; allowed: {allowed}")
    where = f"{where} (op {op})"
    schema = {**OPS[op], **COMMON}
    unknown = sorted((str(k) for k in set(item) - set(schema) - {"op"}), key=str)
    if unknown:
        allowed = ", ".join(sorted(schema))
        hint = did_you_mean(unknown[0], schema)
        raise ArchError(f"{where}: unknown field '{unknown[0]}'{hint}; {op} takes: {allowed}")
    args: dict[str, Any] = {}
    for key, field in schema.items():
        if key in item:
            args[key] = fields.checked(item[key], field, f"{where}: field '{key}'")
        elif field.inherit and field.inherit in defaults:
            args[key] = defaults[field.inherit]
        elif field.default is REQUIRED:
            raise ArchError(f"{where}: field '{key}' is required ({field.describe()})")
        else:
            args[key] = field.default
    if "bias" in args and args["bias"] is None:
        args["bias"] = args.get("norm", "none") == "none"
    repeat = args.pop("repeat")
    name = args.pop("name")
    if name and not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise ArchError(f"{where}: field 'name': {name!r} may hold letters, digits and _ only")
    layer = Layer(op=op, path=name or path, args=frozen(args), where=where)
    return Row(layer=layer, repeat=repeat)


def _defaults(doc: Any, where: str, inherited: Mapping[str, Any]) -> dict[str, Any]:
    if doc is None:
        doc = {}
    fields.mapping(doc, where, "field 'defaults'")
    out = dict(inherited)
    for key, value in doc.items():
        field = DEFAULTS.get(key)
        if field is None:
            allowed = ", ".join(DEFAULTS)
            hint = did_you_mean(str(key), DEFAULTS)
            raise ArchError(f"{where}: defaults: unknown field '{key}'{hint}; allowed: {allowed}")
        out[key] = fields.checked(value, field, f"{where}: defaults: field '{key}'")
    for key, field in DEFAULTS.items():
        out.setdefault(key, field.default)
    return out


def _input(doc: Any, where: str) -> Shape:
    ok = (
        isinstance(doc, list)
        and len(doc) == 3
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in doc)
    )
    if not ok:
        raise ArchError(f"{where}: field 'input': expected [channels, height, width], got {doc!r}")
    return Shape(*doc)


def _channels(doc: Any, where: str) -> Channels:
    if doc is None:
        return Channels()
    fields.mapping(doc, where, "field 'channels'")
    fields.known_keys(doc, ("round", "divisor", "min", "widths", "table"), f"{where}: channels")
    rule = doc.get("round", "floor")
    if rule not in ROUND_RULES:
        raise ArchError(
            f"{where}: channels: field 'round': expected {' or '.join(ROUND_RULES)}, got {rule!r}"
        )
    widths, table = _width_table(doc, rule == "table", f"{where}: channels")
    return Channels(
        round=rule,
        divisor=fields.whole(doc.get("divisor", 8), where, "channels.divisor"),
        min=fields.whole(doc.get("min", 1), where, "channels.min"),
        widths=widths,
        table=table,
    )


def _width_table(
    doc: Mapping[str, Any], wanted: bool, where: str
) -> tuple[tuple[float, ...], tuple[tuple[int, tuple[int, ...]], ...]]:
    """``widths: [0.5, 1.0]`` and ``table: {116: [48, 116]}``: given exactly when round is table;
    every row of the table has a count per width, and its count at width 1.0 is its key."""
    if not wanted:
        if "widths" in doc or "table" in doc:
            raise ArchError(f"{where}: 'widths' and 'table' go with round: table only")
        return (), ()
    raw_widths, raw_table = doc.get("widths"), doc.get("table")
    if not isinstance(raw_widths, list) or not raw_widths:
        raise ArchError(f"{where}: field 'widths': expected a list of widths, e.g. [0.5, 1.0]")
    widths = tuple(
        fields.number({"widths": w}, "widths", where, None, positive=True) for w in raw_widths
    )
    if not any(abs(w - 1.0) < 1e-9 for w in widths):
        raise ArchError(f"{where}: field 'widths': the table needs a column for width 1.0")
    one = next(i for i, w in enumerate(widths) if abs(w - 1.0) < 1e-9)
    fields.mapping(raw_table, where, "field 'table'")
    table = []
    for key, counts in raw_table.items():
        ok = isinstance(counts, list) and len(counts) == len(widths)
        if not ok or not all(isinstance(c, int) and not isinstance(c, bool) for c in counts):
            raise ArchError(
                f"{where}: table: row {key!r}: expected {len(widths)} whole numbers, one per width"
            )
        counts = [fields.whole(c, where, f"table {key}") for c in counts]
        if key != counts[one]:
            raise ArchError(
                f"{where}: table: row {key!r}: its count at width 1.0 is {counts[one]}; a row's "
                "key is its count at width 1.0"
            )
        table.append((key, tuple(counts)))
    return widths, tuple(table)


def _check_tabulated(family: Family) -> None:
    """With ``round: table`` every channel count a width multiplier scales must be in the table."""
    known = dict(family.channels.table)
    for variant in family.variants.values():
        for row in variant.rows:
            layer = row.layer
            if layer.get("fixed") or layer.get("classifier"):
                continue
            for key, field in OPS[layer.op].items():
                value = layer.get(key)
                if field.channels and value not in known:
                    raise ArchError(
                        f"{layer.where}: field '{key}': {value} channels is not in the family's "
                        f"channel table ({', '.join(map(str, known))}); add it there or mark "
                        "the row fixed: true"
                    )


def _compound(doc: Any, where: str) -> Compound | None:
    if doc is None:
        return None
    fields.mapping(doc, where, "field 'compound'")
    fields.known_keys(doc, ("alpha", "beta", "gamma"), f"{where}: compound")
    values = {
        k: fields.number(doc, k, f"{where}: compound", None, positive=True)
        for k in ["alpha", "beta", "gamma"]
    }
    if any(v is None for v in values.values()):
        raise ArchError(f"{where}: compound: needs alpha, beta and gamma")
    return Compound(**values)


def _published(doc: Any, where: str, width: Any) -> tuple[Published, ...]:
    """Published figures; an entry's width defaults to its variant's."""
    if not isinstance(doc, list):
        raise ArchError(f"{where}: field 'published': expected a list")
    out = []
    for i, item in enumerate(doc):
        pwhere = f"{where}: published {i + 1}"
        fields.mapping(item, pwhere, "an entry")
        fields.known_keys(item, PUBLISHED_KEYS, pwhere)
        out.append(
            Published(
                source=fields.text(item, "source", pwhere, required=True),
                width=fields.number(item, "width", pwhere, width, positive=True),
                resolution=_optional_whole(item.get("resolution"), pwhere, "resolution"),
                top1=fields.number(item, "top1", pwhere, None),
                macs=fields.number(item, "macs", pwhere, None),
                params=fields.number(item, "params", pwhere, None),
            )
        )
    return tuple(out)
