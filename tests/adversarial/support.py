"""Shared helpers: run one drop through ``sync_drop`` on fakes, measure memory, watch calls.

Nothing here replaces product code: the sync runs on the in-memory fakes of our own ports
(``tests.unit.fakes``), memory is measured with ``tracemalloc`` and calls are observed with a
profile hook (``sys.setprofile``), which sees calls without changing what they do.
"""

from __future__ import annotations

import re
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import CodeType, FrameType
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from photo_core.domain.dialects import Dialect
from photo_core.domain.naming import NamingRules, UserRef, user_path
from photo_core.domain.outcomes import Outcome
from photo_core.photos import ImagePolicy
from photo_core.use_cases.ports import DirectoryUser
from photo_core.use_cases.sync import SyncDeps, SyncOptions, sync_drop
from tests.unit.fakes import FakeClock, FakeDrop, FakePhotoApi, FakeStateStore

T = TypeVar("T")

JANE = "jane.doe@contoso.com"

# README, "Naming rules".
NAME_CODES = frozenset(
    {
        "wrong_extension",
        "empty_name",
        "name_too_long",
        "invalid_characters",
        "invalid_upn",
        "path_trick",
        "not_a_user_reference",
    }
)
# sniff_format's documented names.
SNIFFED_FORMATS = frozenset(
    {
        "PNG", "GIF", "WebP", "HEIC", "HEIF", "AVIF", "MP4", "PDF", "BMP", "TIFF", "JPEG 2000",
        "JPEG XL", "PSD", "ICO", "ZIP", "HTML", "SVG", "XML", "base64 JPEG", "base64", "text",
        "empty",
    }
)


@dataclass
class SyncRun:
    """One drop processed by ``sync_drop`` on fresh fakes, and what it left behind."""

    outcome: Outcome
    drop: FakeDrop
    api: FakePhotoApi
    state: FakeStateStore


def run_sync(
    name: str,
    content: bytes,
    *,
    naming: NamingRules | None = None,
    policy: ImagePolicy | None = None,
    employees: dict[str, str] | None = None,
) -> SyncRun:
    """Process ``content`` dropped as ``name``; ``employees`` maps employee ids to object ids."""
    clock, api, state = FakeClock(), FakePhotoApi(), FakeStateStore()
    for employee_id, object_id in (employees or {}).items():
        api.employees[employee_id] = [DirectoryUser(object_id, f"{object_id}@contoso.com")]
    deps = SyncDeps(api=api, state=state, clock=clock, owner="adversarial")
    options = SyncOptions(naming=naming or NamingRules(), image=policy or ImagePolicy())
    drop = FakeDrop(name, content)
    outcome = sync_drop(drop, options, deps)
    return SyncRun(outcome, drop, api, state)


# --- time and memory ------------------------------------------------------------------------


@dataclass
class Cost:
    cpu_seconds: float = 0.0  # process CPU time, never wall time
    peak_bytes: int = 0


@contextmanager
def measured() -> Iterator[Cost]:
    """CPU time (not wall time: see tests/cpu.py) and the tracemalloc peak of what runs inside
    (allocations made before the block, such as the input itself, are not counted)."""
    cost = Cost()
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    start = time.process_time()
    try:
        yield cost
    finally:
        cost.cpu_seconds = time.process_time() - start
        cost.peak_bytes = max(0, tracemalloc.get_traced_memory()[1] - base)
        if not was_tracing:
            tracemalloc.stop()


def parser_memory_budget(data: bytes | str) -> int:
    """What a parser may allocate for one input: 10x its size plus 1 MB."""
    return 10 * len(data) + 1024 * 1024


def outcome_of(call: Callable[[], T]) -> T | Exception:
    """The call's result, or the exception it raised (so a test can assert on either)."""
    try:
        return call()
    except Exception as exc:
        return exc


# --- watching calls -------------------------------------------------------------------------


@contextmanager
def calls_to(code: CodeType) -> Iterator[list[str]]:
    """Record every call of the function whose code object is ``code`` inside the block,
    using a profile hook (nothing is patched or replaced)."""
    seen: list[str] = []
    previous = sys.getprofile()

    def hook(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code is code:
            seen.append(code.co_qualname)

    sys.setprofile(hook)
    try:
        yield seen
    finally:
        sys.setprofile(previous)


# --- URL safety -----------------------------------------------------------------------------

BASE = "https://graph.example.test/v1.0"
_UNRESERVED_PATH = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@%-]*")


def assert_one_user_segment(ref: UserRef, dialect: Dialect) -> None:
    """The property of tests/unit/test_naming.py, extended: the user path built for ``ref``
    is one path segment of plain URL characters that decodes back to exactly ``ref.value``,
    and in the OData key form the literal cannot be closed early by a quote."""
    path = user_path(ref, dialect)
    assert path.isascii() and path.isprintable(), path
    assert not any(c in path for c in " \t\r\n?#\\"), path
    url = BASE + path + "/photo/$value"
    parts = urlsplit(url)
    assert parts.netloc == "graph.example.test"
    assert parts.query == "" and parts.fragment == "", url
    segments = parts.path.split("/")
    assert segments[:2] == ["", "v1.0"], url
    for segment in segments:
        assert _UNRESERVED_PATH.fullmatch(segment), (segment, url)
        assert segment not in (".", ".."), url
    if segments[2] == "users":  # path form: /users/<segment>/photo/$value
        assert segments[4:] == ["photo", "$value"], url
        assert unquote(segments[3]) == ref.value, url
        assert unquote(segments[3]) not in (".", ".."), url
    else:  # key form: /users('<literal>')/photo/$value
        assert segments[3:] == ["photo", "$value"], url
        assert segments[2].startswith("users('") and segments[2].endswith("')"), url
        literal = unquote(segments[2][len("users('") : -len("')")])
        assert re.fullmatch(r"(?:[^']|'')*", literal), "a lone quote would end the key"
        assert literal.replace("''", "'") == ref.value, url
    assert "/" not in ref.value
