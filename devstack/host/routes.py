"""HTTP route templates (``users/{user}/photo/$value``, ``items/{id:int}``, ``files/{*path}``).

The Functions host routes with ASP.NET Core templates. This is the subset photo-sync and its
tests use: literal segments (case-insensitive), ``{name}`` parameters (one segment, percent-
decoded), simple constraints (``int``, ``long``, ``bool``, ``alpha``, ``guid``, ``double``,
``float``, ``decimal``, ``min(n)``, ``max(n)``, ``range(a,b)``, ``length(n)``, ``minlength(n)``,
``maxlength(n)``), optional ``{name?}`` as the last segment and a catch-all ``{*name}``. As in
ASP.NET, more specific templates win: literals over parameters, constrained over free ones,
catch-alls last.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote


class RouteError(ValueError):
    """A route template the local host cannot serve."""


_PARAM = re.compile(r"\{(\*{0,2})([A-Za-z_][A-Za-z0-9_]*)((?::[a-z]+(?:\([^)]*\))?)*)(\?)?\}")
_CONSTRAINT = re.compile(r":([a-z]+)(?:\(([^)]*)\))?")


def _is_number(value: str, kind: type[int] | type[float]) -> bool:
    try:
        kind(value)
    except ValueError:
        return False
    return True


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _check(name: str, argument: str | None) -> Callable[[str], bool]:
    """One constraint as a predicate on the decoded value."""
    simple: dict[str, Callable[[str], bool]] = {
        "int": lambda v: re.fullmatch(r"-?\d{1,10}", v) is not None and -2**31 <= int(v) < 2**31,
        "long": lambda v: re.fullmatch(r"-?\d{1,19}", v) is not None,
        "bool": lambda v: v.lower() in ("true", "false"),
        "alpha": lambda v: re.fullmatch(r"[A-Za-z]+", v) is not None,
        "guid": _is_guid,
        "double": lambda v: _is_number(v, float),
        "float": lambda v: _is_number(v, float),
        "decimal": lambda v: _is_number(v, float),
    }
    if name in simple and argument is None:
        return simple[name]
    try:
        numbers = [int(part) for part in (argument or "").split(",")]
    except ValueError:
        raise RouteError(f"constraint {name}({argument}) needs whole numbers") from None
    bounded: dict[str, Callable[[str], bool]] = {
        "min": lambda v: _is_number(v, int) and int(v) >= numbers[0],
        "max": lambda v: _is_number(v, int) and int(v) <= numbers[0],
        "range": lambda v: _is_number(v, int) and numbers[0] <= int(v) <= numbers[-1],
        "length": lambda v: (numbers[0] <= len(v) <= numbers[-1]),
        "minlength": lambda v: len(v) >= numbers[0],
        "maxlength": lambda v: len(v) <= numbers[0],
    }
    if name in bounded and argument is not None:
        return bounded[name]
    raise RouteError(f"route constraint '{name}' is not supported by the local host")


@dataclass(frozen=True)
class _Param:
    name: str
    checks: tuple[Callable[[str], bool], ...]
    catch_all: bool
    optional: bool


@dataclass(frozen=True)
class RouteTemplate:
    """A compiled template; ``match(path)`` gives the route parameters or None."""

    template: str
    pattern: re.Pattern[str]
    params: tuple[_Param, ...]
    precedence: tuple[int, ...]

    def match(self, path: str) -> dict[str, str] | None:
        """Match a request path (still percent-encoded, without the route prefix)."""
        found = self.pattern.fullmatch(path.strip("/"))
        if found is None:
            return None
        values: dict[str, str] = {}
        for param in self.params:
            raw = found.group(param.name)
            if raw is None:
                continue
            value = unquote(raw)
            if not all(check(value) for check in param.checks):
                return None
            values[param.name] = value
        return values


def compile_route(template: str) -> RouteTemplate:
    """Compile a Functions route template into a matcher."""
    segments = [s for s in template.strip("/").split("/") if s != ""] if template else []
    parts: list[str] = []
    params: list[_Param] = []
    precedence: list[int] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        regex, rank = "", 0
        position = 0
        for found in _PARAM.finditer(segment):
            regex += re.escape(segment[position:found.start()])
            position = found.end()
            stars, name, constraints, optional = found.groups()
            catch_all = bool(stars)
            if (catch_all or optional) and not (last and found.end() == len(segment)):
                raise RouteError(f"{template}: '{{{stars}{name}}}' must end the template")
            checks = tuple(_check(c, a or None)
                           for c, a in _CONSTRAINT.findall(constraints or ""))
            params.append(_Param(name, checks, catch_all, bool(optional)))
            regex += f"(?P<{name}>.*)" if catch_all else f"(?P<{name}>[^/]+?)"
            rank = max(rank, 3 if catch_all else (1 if checks else 2))
        regex += re.escape(segment[position:])
        if "{" in segment[position:] or "}" in segment[position:]:
            raise RouteError(f"{template}: cannot parse segment '{segment}'")
        optional_tail = bool(params) and (params[-1].optional or params[-1].catch_all) and last
        if parts:
            parts.append(f"(?:/{regex})?" if optional_tail and regex.startswith("(?P") else
                         "/" + regex)
        else:
            parts.append(f"(?:{regex})?" if optional_tail else regex)
        precedence.append(rank)
    if len({p.name.lower() for p in params}) != len(params):
        raise RouteError(f"{template}: a parameter name is used twice")
    pattern = re.compile("".join(parts), re.IGNORECASE | re.DOTALL)
    return RouteTemplate(template, pattern, tuple(params), tuple(precedence))
