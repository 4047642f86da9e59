"""The soak's drops, decided up front from the seed: who, which blob name, which bytes, and
what the outcome must be.

A *batch* is what one uploader does in one go for one user: one upload, a burst of quick
overwrites of one blob name, or the deletion of the user's newest drop. Batches of one user run
in plan order and at least ``USER_SPACING_S`` apart (see ``drops``), because storage's
times have one-second resolution and the product orders different blob names of one user by
them. Everything here is pure and deterministic given the seed; ``expected_sha`` is the sha256
of ``prepare_photo(content, ImagePolicy())``, the normalised photo the user must end up with.

HR ids: a few users are reached only through HR ids of the mapping file (``MAPPING``). Their
drops come in two phases: before the soak edits the mapping (it re-points each id to another
user and adds a new hire), and after. A drop is for whom its id named when it was dropped.
"""

from __future__ import annotations

import io
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from PIL import Image, ImageDraw

from photo_core.photos import ImagePolicy, prepare_photo

DOMAIN = "contoso.com"
_FIRST = ["adele", "alex", "conor", "megan", "lee", "lidia", "diego", "isaiah", "johanna",
          "grady", "pradeep", "miriam", "patti", "joni", "lynne", "henrietta", "o'brien",
          "jean-luc", "mary_ann"]
_LAST = ["vance", "wilber", "bowen", "gu", "holloway", "siciliani", "henshaw", "lidman",
         "archie", "gupta", "graham", "fernandez", "kohler", "sherman"]
# Invalid drops: kind -> the reason code the product must record.
INVALID_KINDS: dict[str, str] = {
    "png_as_jpg": "not_jpeg", "truncated": "truncated", "too_small": "too_small",
    "empty": "empty_file", "space_in_name": "invalid_characters",
    "wrong_extension": "wrong_extension", "unknown_user": "user_not_found",
    "bare_name": "not_in_mapping", "bad_domain": "invalid_upn",
}
VALID_KINDS = ("valid", "redrop", "overwrite", "hr_id")
# Invalid kinds that are not rejected: the id is not in the mapping, which reconcile retries.
DEFERRED_KINDS = {"bare_name"}
HR_IDS = ("HR-01", "HR-02", "HR-03")  # re-pointed by the mapping edit
NEW_HIRE = "HR-04"  # added by the mapping edit


@dataclass(frozen=True)
class Drop:
    index: int
    batch: int
    kind: str  # valid | redrop | overwrite | hr_id | delete | one of INVALID_KINDS
    name: str
    user: str | None  # the real directory user the name refers to, lower case; else None
    content: bytes = field(repr=False)
    expected_reason: str | None  # invalid drops: the reason code; valid ones: None
    expected_sha: str | None  # valid drops: sha256 of the normalised photo
    phase: int | None = None  # HR id drops: 0 before the mapping edit, 1 after

    @property
    def valid(self) -> bool:
        return self.kind in VALID_KINDS

    @property
    def deletion(self) -> bool:
        """Not an upload: HR deletes the blob ``name`` (the user's newest drop)."""
        return self.kind == "delete"

    @property
    def expected_status(self) -> str:
        return "deferred" if self.kind in DEFERRED_KINDS else "rejected"


@dataclass(frozen=True)
class Batch:
    index: int
    key: str  # serialisation key: the user, the HR id, or the name for names nobody's
    drops: tuple[Drop, ...]

    @property
    def phase(self) -> int | None:
        return self.drops[0].phase


@dataclass(frozen=True)
class Plan:
    seed: int
    users: tuple[str, ...]
    batches: tuple[Batch, ...]
    mapping: tuple[str, str] = ("", "")  # the mapping file before and after the edit

    @property
    def drops(self) -> list[Drop]:
        """Every step, in plan order (``index``): the uploads and the deletions."""
        return [d for b in self.batches for d in b.drops]


def make_users(count: int, rng: random.Random) -> list[str]:
    return [f"{rng.choice(_FIRST)}.{rng.choice(_LAST)}{n}@{DOMAIN}" for n in range(count)]


def photo(rng: random.Random, *, small: bool = False) -> bytes:
    """A small distinct JPEG; some need normalising (EXIF rotation, grayscale, progressive,
    metadata to strip, or a side over the 1024 px limit)."""
    if small:
        size = (rng.randint(16, 40), rng.randint(16, 40))
    elif rng.random() < 0.02:
        size = (rng.randint(1030, 1200), rng.randint(200, 500))
    else:
        size = (rng.randint(64, 400), rng.randint(64, 400))
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(3, 8)):
        x0, y0 = rng.randrange(size[0]), rng.randrange(size[1])
        box = (x0, y0, x0 + rng.randint(4, size[0]), y0 + rng.randint(4, size[1]))
        fill = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=fill)
    out = io.BytesIO()
    variant = rng.random()
    options: dict[str, object] = {"quality": rng.randint(70, 95)}
    if variant < 0.10:
        exif = Image.Exif()
        exif[0x0112] = rng.choice([3, 6, 8])  # Orientation: must be rotated upright
        options["exif"] = exif.tobytes()
    elif variant < 0.18:
        image = image.convert("L")
    elif variant < 0.25:
        options["progressive"] = True
    elif variant < 0.30:
        exif = Image.Exif()
        exif[0x010F] = "SoakCam"  # Make: metadata to strip
        exif[0x0131] = "photo-sync soak"
        options["exif"] = exif.tobytes()
    image.save(out, "JPEG", **options)
    return out.getvalue()


def _png(rng: random.Random) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (rng.randint(64, 200),) * 2, (rng.randrange(256), 0, 0)).save(out, "PNG")
    return out.getvalue()


def _empty(rng: random.Random) -> bytes:
    return b""


def _small(rng: random.Random) -> bytes:
    return photo(rng, small=True)


def _truncated(rng: random.Random) -> bytes:
    data = photo(rng)
    scan = data.find(b"\xff\xda")  # start of scan: cut inside the entropy-coded data
    return data[: scan + 4 + (len(data) - scan - 4) * rng.randint(30, 80) // 100]


class _Builder:
    def __init__(self, seed: int, users: list[str]) -> None:
        self.rng = random.Random(seed)
        self.users = users
        self.batches: list[Batch] = []
        self.drops = 0
        self.valid: list[Drop] = []
        self.names: dict[str, list[str]] = {}
        self.seen_sha: set[str] = set()

    def name_for(self, user: str) -> str:
        """The user's usual name, a case variant, or a name in an HR folder."""
        r = self.rng.random()
        if r < 0.55:
            return f"{user}.jpg"
        if r < 0.65:
            local, domain = user.split("@")
            return f"{local.title()}@{domain.title()}.{self.rng.choice(['JPG', 'jpeg'])}"
        return f"hr/{self.rng.choice(['2026', 'batch-a', 'batch-b', 'import'])}/{user}.jpg"

    def new_valid(self, kind: str, name: str, user: str) -> Drop:
        while True:
            content = photo(self.rng)
            sha = prepare_photo(content, ImagePolicy()).sha256
            if sha not in self.seen_sha:
                self.seen_sha.add(sha)
                return self._drop(kind, name, user, content, None, sha)

    def _drop(self, kind: str, name: str, user: str | None, content: bytes,
              reason: str | None, sha: str | None) -> Drop:
        drop = Drop(self.drops, len(self.batches), kind, name, user, content, reason, sha)
        self.drops += 1
        if drop.valid:
            self.valid.append(drop)
        return drop

    def add(self, key: str, drops: list[Drop]) -> None:
        self.batches.append(Batch(len(self.batches), key, tuple(drops)))

    def invalid(self, kind: str) -> None:
        user = self.rng.choice(self.users)
        n = self.drops
        content = photo(self.rng)
        local = user.split("@")[0]
        name = {"space_in_name": f"{local.replace('.', ' ')}@{DOMAIN}.jpg",
                "wrong_extension": f"{user}.png",
                "unknown_user": f"nobody{n:05d}@{DOMAIN}.jpg",
                "bare_name": f"hr/bare/{re.sub('[^a-z0-9]', '', local)}{n}.jpg",
                "bad_domain": f"{local}{n}@contoso..com.jpg"}.get(kind)
        if name is not None:  # a bad name: nobody's (or nobody real's) photo
            self.add(name, [self._drop(kind, name, None, content, INVALID_KINDS[kind], None)])
            return
        makers: dict[str, Callable[[random.Random], bytes]] = {
            "png_as_jpg": _png, "truncated": _truncated, "empty": _empty, "too_small": _small}
        content = makers[kind](self.rng)
        name = f"hr/rejects-{n:05d}/{user}.jpg"  # its own name: never hides a valid version
        self.add(user, [self._drop(kind, name, user, content, INVALID_KINDS[kind], None)])

    def delete_newest(self, drop: Drop) -> None:
        """HR deletes ``drop`` (just made, its user's newest) once it has an outcome: the
        photo it gave goes with it. Its content must be its user's only copy, or the photo
        would be another drop's too."""
        assert drop.user is not None
        self.add(drop.user, [Drop(self.drops, len(self.batches), "delete", drop.name,
                                  drop.user, b"", None, None)])

    def hr_ids(self, targets: list[str], new_hire: str) -> tuple[str, str]:
        """Each HR id's drops before and after the mapping edit, as batches; the mapping file
        before and after it."""
        before = {hr: targets[2 * i] for i, hr in enumerate(HR_IDS)}
        after = {hr: targets[2 * i + 1] for i, hr in enumerate(HR_IDS)} | {NEW_HIRE: new_hire}
        for phase, mapping in ((0, before), (1, after)):
            for hr, user in mapping.items():
                for name in (f"{hr}.jpg", f"hr/ids/{hr}.jpg"):
                    content = photo(self.rng)
                    sha = prepare_photo(content, ImagePolicy()).sha256
                    drop = self._drop("hr_id", name, user, content, None, sha)
                    self.add(f"hr:{hr}", [replace(drop, phase=phase)])
        return _csv(before), _csv(after)

def _csv(mapping: dict[str, str]) -> str:
    return "id,upn\n" + "".join(f"{hr},{upn}\n" for hr, upn in mapping.items())


def make_plan(drops: int, users: int, seed: int) -> Plan:
    """About 60% new valid photos, 10% re-drops of earlier content, 15% quick overwrites of one
    blob name, 15% invalid files and names (with their expected reason codes), a few drops by
    HR id around a mapping edit, and a few deletions of a user's newest drop. Every kind
    occurs at least once when there is room (the small soak must see them all), spread over
    the run rather than bunched at one end."""
    rng = random.Random(seed)
    people = make_users(users, rng)
    hr_people = [f"hr.target{n}@{DOMAIN}" for n in range(2 * len(HR_IDS) + 1)]
    b = _Builder(seed + 1, people)
    mapping = b.hr_ids(hr_people[:-1], hr_people[-1])
    deletions = max(2, drops // 40)
    kinds = list(INVALID_KINDS)
    mandatory = ["overwrite", "redrop", *kinds]
    b.rng.shuffle(mandatory)
    stride = max(2, int(drops / 1.15) // (len(mandatory) + 1))
    step = 0
    while b.drops < drops:
        step += 1
        r = b.rng.random()
        user = b.rng.choice(people)
        pick = mandatory.pop() if mandatory and step % stride == 0 else (
            "valid" if r < 0.667 else "redrop" if r < 0.778 else "overwrite" if r < 0.833
            else kinds[b.drops % len(kinds)])
        if pick == "valid" or (pick == "redrop" and not b.valid):
            made = b.new_valid("valid", b.name_for(user), user)
            b.add(user, [made])
            if deletions and len(b.valid) % 5 == 0:
                b.delete_newest(made)
                deletions -= 1
        elif pick == "redrop":
            old = b.rng.choice(b.valid)
            assert old.user is not None
            assert old.expected_sha is not None
            name = old.name if b.rng.random() < 0.5 else b.name_for(old.user)
            if old.kind == "hr_id":
                continue  # an HR id's drop is for whom the mapping names now
            b.add(old.user, [b._drop("redrop", name, old.user, old.content, None,
                                     old.expected_sha)])
        elif pick == "overwrite":  # a burst of three on average: 15% of the drops
            name = b.name_for(user)
            count = max(1, min(b.rng.randint(2, 4), drops - b.drops))
            b.add(user, [b.new_valid("overwrite", name, user) for _ in range(count)])
        else:
            b.invalid(pick)
    return Plan(seed, tuple(people + hr_people), tuple(_in_phases(b.batches)), mapping)


def _in_phases(batches: list[Batch]) -> list[Batch]:
    """The HR id drops before the mapping edit come first, those after it in the last third."""
    early = [x for x in batches if x.phase == 0]
    late = [x for x in batches if x.phase == 1]
    rest = [x for x in batches if x.phase is None]
    cut = 2 * len(rest) // 3
    ordered = early + rest[:cut] + late + rest[cut:]
    out: list[Batch] = []
    index = 0
    for i, batch in enumerate(ordered):
        numbered = []
        for drop in batch.drops:
            numbered.append(replace(drop, batch=i, index=index))
            index += 1
        out.append(replace(batch, index=i, drops=tuple(numbered)))
    return out


def directory_document(plan: Plan, secret: str,
                       second_secret: str | None = None) -> dict[str, Any]:
    """The emulator's directory: the plan's users without photos, and one app registration
    with exactly the roles photo-sync needs (two with ``second_secret``: the second host signs
    in as the second, so the emulator can tell its requests from the first's)."""
    rng = random.Random(plan.seed + 2)

    def guid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    apps = [(secret, "photo-sync (soak)")]
    if second_secret is not None:
        apps.append((second_secret, "photo-sync (soak, second host)"))
    return {
        "tenant": guid(),
        "users": [{"id": guid(), "userPrincipalName": u, "mail": u, "photo": None}
                  for u in plan.users],
        "applications": [{"clientId": guid(), "displayName": name, "secrets": [key],
                          "certificates": [], "managedIdentity": False,
                          "roles": ["ProfilePhoto.ReadWrite.All", "User.ReadBasic.All"]}
                         for key, name in apps],
    }
