"""The soak's drops, decided up front from the seed: who, which blob name, which bytes, and
what the outcome must be.

A *batch* is what one uploader does in one go for one user: one upload, or a burst of quick
overwrites of one blob name. Batches of one user run in plan order and at least
``USER_SPACING_S`` apart (see ``drops``), because storage's ``Last-Modified`` has
one-second resolution and the product orders different blob names of one user by it.
Everything here is pure and deterministic given the seed; ``expected_sha`` is the sha256 of
``prepare_photo(content, ImagePolicy())``, the normalised photo the user must end up with.
"""

from __future__ import annotations

import io
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

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
    "bare_name": "not_a_user_reference", "bad_domain": "invalid_upn",
}
VALID_KINDS = ("valid", "redrop", "overwrite")


@dataclass(frozen=True)
class Drop:
    index: int
    batch: int
    kind: str  # valid | redrop | overwrite | one of INVALID_KINDS
    name: str
    user: str | None  # the real directory user the name refers to, lower case; else None
    content: bytes = field(repr=False)
    expected_reason: str | None  # invalid drops: the reason code; valid ones: None
    expected_sha: str | None  # valid drops: sha256 of the normalised photo

    @property
    def valid(self) -> bool:
        return self.kind in VALID_KINDS


@dataclass(frozen=True)
class Batch:
    index: int
    key: str  # serialisation key: the user, or the blob name for names that are nobody's
    drops: tuple[Drop, ...]


@dataclass(frozen=True)
class Plan:
    seed: int
    users: tuple[str, ...]
    batches: tuple[Batch, ...]

    @property
    def drops(self) -> list[Drop]:
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
                "bare_name": f"hr/bare/{local.replace('.', '')}{n}.jpg",
                "bad_domain": f"{local}{n}@contoso..com.jpg"}.get(kind)
        if name is not None:  # a bad name: nobody's (or nobody real's) photo
            self.add(name, [self._drop(kind, name, None, content, INVALID_KINDS[kind], None)])
            return
        makers: dict[str, Callable[[random.Random], bytes]] = {
            "png_as_jpg": _png, "truncated": _truncated, "empty": _empty, "too_small": _small}
        content = makers[kind](self.rng)
        name = f"hr/rejects-{n:05d}/{user}.jpg"  # its own name: never hides a valid version
        self.add(user, [self._drop(kind, name, user, content, INVALID_KINDS[kind], None)])


def make_plan(drops: int, users: int, seed: int) -> Plan:
    """About 60% new valid photos, 10% re-drops of earlier content, 15% quick overwrites of one
    blob name, 15% invalid files and names (with their expected reason codes). Every kind
    occurs at least once when there is room (the small soak must see them all), spread over
    the run rather than bunched at one end."""
    rng = random.Random(seed)
    people = make_users(users, rng)
    b = _Builder(seed + 1, people)
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
            b.add(user, [b.new_valid("valid", b.name_for(user), user)])
        elif pick == "redrop":
            old = b.rng.choice(b.valid)
            assert old.user is not None
            assert old.expected_sha is not None
            name = old.name if b.rng.random() < 0.5 else b.name_for(old.user)
            b.add(old.user, [b._drop("redrop", name, old.user, old.content, None,
                                     old.expected_sha)])
        elif pick == "overwrite":  # a burst of three on average: 15% of the drops
            name = b.name_for(user)
            count = max(1, min(b.rng.randint(2, 4), drops - b.drops))
            b.add(user, [b.new_valid("overwrite", name, user) for _ in range(count)])
        else:
            b.invalid(pick)
    return Plan(seed, tuple(people), tuple(b.batches))


def directory_document(plan: Plan, secret: str) -> dict[str, object]:
    """The emulator's directory: the plan's users without photos, and one app registration
    with exactly the roles photo-sync needs."""
    rng = random.Random(plan.seed + 2)

    def guid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    return {
        "tenant": guid(),
        "users": [{"id": guid(), "userPrincipalName": u, "mail": u, "photo": None}
                  for u in plan.users],
        "applications": [{"clientId": guid(), "displayName": "photo-sync (soak)",
                          "secrets": [secret], "certificates": [], "managedIdentity": False,
                          "roles": ["ProfilePhoto.ReadWrite.All", "User.ReadBasic.All"]}],
    }
