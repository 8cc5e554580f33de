"""Where a py-spy profile's samples go, by package: self (the leaf frame's package) and inclusive
(samples whose stack passes through the package at all).

    python bench/profile.py /tmp/prof/lookup.txt      # a `py-spy record --format raw` file

Samples waiting in select/epoll are `idle`, never charged to a package. Under uvloop the loop
itself is C: a sample whose innermost Python frame is the call into the loop
(`run_until_complete`) is the loop's own work (reading sockets, parsing HTTP with httptools,
scheduling callbacks), shown as `event loop (native)`. py-spy leaves out samples of threads
that are not on a CPU unless run with `--idle`, so without it `idle` is close to zero and the
percentages are of CPU time.
"""

import argparse
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

OURS = ("api", "auth", "clients", "models")
# Folded into one line each: the packages the lookup path is made of.
GROUPS = {
    "pydantic": "pydantic",
    "pydantic_core": "pydantic",
    "pydantic_settings": "pydantic",
    "httpcore": "httpx",
    "h11": "uvicorn",
    "httptools": "uvicorn",
    "multidict": "aiohttp",
    "yarl": "aiohttp",
    "aiohappyeyeballs": "aiohttp",
    "jwt": "jose",
    "ecdsa": "jose",
}
KNOWN = frozenset(
    {
        "sqlalchemy",
        "asyncpg",
        "pydantic",
        "fastapi",
        "starlette",
        "uvicorn",
        "httpx",
        "httpx_aiohttp",
        "aiohttp",
        "jose",
        "cryptography",
        "sqlmodel",
        "prometheus_client",
        "anyio",
        "uvloop",
        *OURS,
    }
)
IDLE = "idle"
LOOP = "event loop (native)"
STDLIB = "asyncio/stdlib"
OTHER = "other"
NO_FRAME = "no Python frame"
# The innermost frame of a thread blocked in the selector, whichever selector it is.
_IDLE_LEAF = re.compile(r"^(\w+\.)?(select|poll|epoll|_poll|kqueue|control)$")
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
_STDLIB = frozenset(sys.stdlib_module_names)
# The event loop's frames (and a thread's `run`): everything above the last of them is the work.
_LOOP_FRAMES = frozenset({"run", "run_until_complete", "run_forever", "_run_once", "_run"})
_GREENLET_ROOTS = frozenset({"sqlalchemy", "sqlmodel"})


@dataclass(frozen=True)
class Row:
    package: str
    self_share: float
    inclusive_share: float


@dataclass(frozen=True)
class Profile:
    samples: int
    rows: list[Row]
    # Busy samples with any of our frames on the stack: the rest is the server, the loop and
    # library callbacks outside any call of ours.
    our_share: float
    # SQLAlchemy runs a statement's ORM and driver work in a greenlet: py-spy shows that stack
    # without the repository function that awaits it, so it is missing from `our_share`.
    unseen_caller_share: float
    # Our code's innermost frame in each sample (the function that called into a library, or
    # did the work itself), with its share of the busy samples.
    our_frames: list[tuple[str, float]]


def package_of(file: str) -> str:
    """The top-level package a frame's file belongs to, from py-spy's short or full file names."""
    for marker in ("site-packages/", "dist-packages/"):
        if marker in file:
            file = file.rsplit(marker, 1)[1]
            break
    else:
        if file.startswith("<frozen") or re.search(r"/lib/python3\.\d+/", file):
            return STDLIB
        if file.startswith("/"):
            # Our checkout, named in full: find the package among its folders.
            parts = file.split("/")
            for part in reversed(parts[:-1]):
                if part in OURS:
                    return part
            return OTHER
    top = file.split("/", 1)[0].removesuffix(".py")
    top = GROUPS.get(top, top)
    if top in KNOWN:
        return top
    if top in _STDLIB:
        return STDLIB
    return OTHER


def _frames(stack: str) -> list[tuple[str, str]]:
    """(function, file) per frame, outermost first, without py-spy's process and thread frames."""
    frames = []
    for frame in stack.split(";"):
        if frame.startswith(("process ", "thread ")):
            continue
        match = _FRAME.match(frame)
        if match is None:
            frames.append((frame, ""))
        else:
            frames.append((match["function"], match["file"]))
    return frames


def _is_loop(frame: tuple[str, str]) -> bool:
    function, file = frame
    return function.rsplit(".", 1)[-1] in _LOOP_FRAMES and package_of(file) == STDLIB


def _work(frames: list[tuple[str, str]]) -> list[tuple[str, str]] | None:
    """The frames above the event loop (or thread) that runs them: what a task or callback is
    doing. The launch below it (the CLI, uvicorn starting, asyncio.run) is on every stack and
    says nothing. None: the stack has no loop under it."""
    for index in range(len(frames) - 1, -1, -1):
        if _is_loop(frames[index]):
            return frames[index + 1 :]
    return None


def summarise(path: Path) -> Profile:
    total = 0
    own: Counter[str] = Counter()
    through: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    in_ours = 0
    unseen_caller = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = _frames(stack)
        count = int(count_text)
        total += count
        if not frames:
            own[NO_FRAME] += count
            continue
        function, file = frames[-1]
        if _IDLE_LEAF.match(function) and package_of(file) == STDLIB:
            own[IDLE] += count
            continue
        work = _work(frames)
        if work is None:
            work = frames
            if package_of(frames[0][1]) in _GREENLET_ROOTS:
                unseen_caller += count
        if not work:
            # Only the loop's own frames: under uvloop, its C code (sockets, HTTP parsing,
            # scheduling); under asyncio, a callback written in C.
            own[LOOP] += count
            continue
        category = package_of(work[-1][1])
        own[category] += count
        packages = {package_of(file) for _, file in work}
        for package in packages:
            through[package] += count
        if packages & set(OURS):
            in_ours += count
        innermost = next(
            (
                f"{function} ({file})"
                for function, file in reversed(work)
                if package_of(file) in OURS
            ),
            None,
        )
        if innermost is not None:
            ours[innermost] += count
    busy = total - own[IDLE]

    def share(count: int, of: int) -> float:
        return 100 * count / of if of else 0.0

    order = sorted(own.keys() | through.keys(), key=lambda name: (-own[name], -through[name]))
    rows = [
        Row(
            name,
            share(own[name], total if name == IDLE else busy),
            share(through[name], busy),
        )
        for name in order
    ]
    top = [(frame, share(count, busy)) for frame, count in ours.most_common(15)]
    return Profile(total, rows, share(in_ours, busy), share(unseen_caller, busy), top)


def render(profile: Profile) -> str:
    idle = next((row.self_share for row in profile.rows if row.package == IDLE), 0.0)
    lines = [
        f"{profile.samples} samples, {idle:.1f}% idle; shares below are of the busy samples",
        f"  {'package':22s} {'self %':>7s} {'inclusive %':>12s}",
    ]
    for row in profile.rows:
        if row.package == IDLE:
            continue
        inclusive = "" if row.package in (LOOP, NO_FRAME) else f"{row.inclusive_share:12.1f}"
        lines.append(f"  {row.package:22s} {row.self_share:7.1f} {inclusive}")
    lines.append(f"  {'in a call of our code':22s} {'':7s} {profile.our_share:12.1f}")
    lines.append(
        f"  {'greenlet, caller unseen':22s} {'':7s} {profile.unseen_caller_share:12.1f}"
        "  (SQLAlchemy's statements; their caller is a repository of ours)"
    )
    if profile.our_frames:
        lines.append("  innermost frame of our code (that frame and the libraries it called):")
        lines.extend(f"    {share:5.1f}%  {frame}" for frame, share in profile.our_frames)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("raw", type=Path, help="a file written by `py-spy record --format raw`")
    args = parser.parse_args()
    print(render(summarise(args.raw)))


if __name__ == "__main__":
    main()
