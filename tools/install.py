"""pip install -r <file>, with a line that says what pip is doing: never silent for more than a second or two.

    python3 -m tools.install .venv requirements-test.txt

`make repro` and `make test` create the virtual environment and install the pinned requirements with it. pip
alone is either quiet for minutes (`--quiet`) or prints hundreds of lines, and says nothing while it downloads a
wheel (its bar is off when a program reads its output) or unpacks one (TensorFlow's takes many seconds). Here one
line counts the requirements collected, then the packages installed (a package is installed when its `.dist-info`
folder appears), with a clock. On a terminal the line is redrawn in place; in a log a line is written when the
step changes (at most every 2 s) and every 10 s. pip's own messages are shown when it fails.
Standard library only: it runs before anything is installed.
"""
from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

LOG_EVERY = 10.0  # seconds between repeated lines when the output is not a terminal
LOG_CHANGE = 2.0  # and at least this many between lines that say something new (pip's steps come by the hundred)


def pinned(requirements: Path) -> list[str]:
    """The `name==version` lines of a requirements file, following its `-r` includes."""
    names = []
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            names += pinned(requirements.parent / line[3:].strip())
        elif "==" in line:
            names.append(line.split("==", 1)[0].strip())
    return names


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


class Line:
    """The status line: redrawn in place on a terminal, else written when it changes and every LOG_EVERY s."""

    def __init__(self, out=sys.stderr):
        self.out, self.terminal, self.start = out, out.isatty(), time.monotonic()
        self.text, self.written, self.logged = "", "", 0.0

    def show(self, text: str) -> None:
        self.text = text
        elapsed = int(time.monotonic() - self.start)
        line = f"{text} [{elapsed // 60:02d}:{elapsed % 60:02d}]"
        if self.terminal:
            self.out.write("\r" + line[: max(20, os.get_terminal_size(self.out.fileno()).columns - 1)] + "\x1b[K")
        elif (text != self.written and time.monotonic() - self.logged >= LOG_CHANGE) or \
                time.monotonic() - self.logged >= LOG_EVERY:
            self.out.write(line + "\n")
            self.written, self.logged = text, time.monotonic()
        self.out.flush()

    def end(self, text: str) -> None:
        if self.terminal:
            self.out.write("\r\x1b[K")
        self.out.write(text + "\n")
        self.out.flush()


def installed_since(site: Path, since: float) -> set[str]:
    """The canonical names of the packages whose .dist-info folder was written after `since`."""
    done = set()
    for info in site.glob("*.dist-info"):
        try:
            if info.stat().st_mtime >= since:
                done.add(canonical(info.name.split("-", 1)[0]))
        except FileNotFoundError:  # pip removed an older version's folder meanwhile
            pass
    return done


def create(venv: Path, line: Line) -> int:
    """python -m venv, with the line ticking meanwhile (it takes seconds: it installs pip into it)."""
    making = subprocess.Popen([sys.executable, "-m", "venv", str(venv)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    while making.poll() is None:
        line.show(f"python -m venv {venv}: creating the virtual environment")
        time.sleep(1)
    if making.returncode != 0:
        line.end(f"python -m venv {venv} failed (exit {making.returncode}):")
        print(making.stdout.read().decode("utf-8", "replace"), file=sys.stderr)
    return making.returncode


def install(venv: Path, requirements: Path) -> int:
    total = len(pinned(requirements))
    line, said = Line(), []
    python = str(venv / "bin/python")
    if not Path(python).exists() and create(venv, line) != 0:
        return 1
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    line.show(f"pip: reading {requirements}")
    pip = subprocess.Popen([python, "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off",
                            "-r", str(requirements)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env={**os.environ, "PYTHONUNBUFFERED": "1"})
    collected, to_install, since, pending = 0, [], 0.0, b""
    status = f"pip: resolving {requirements}"
    while True:
        ready, _, _ = select.select([pip.stdout], [], [], 1.0)
        if ready:
            data = os.read(pip.stdout.fileno(), 65536)
            if not data:
                break
            pending += data
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                text = raw.decode("utf-8", "replace").rstrip()
                said.append(text)
                if text.startswith(("Collecting ", "Requirement already satisfied: ")):
                    collected += 1
                    what = text.split(" (from", 1)[0].removeprefix("Collecting ")
                    what = what.removeprefix("Requirement already satisfied: ").split(" in ", 1)[0]
                    status = f"pip: collecting {min(collected, total)} of {total} requirements: {what}"
                elif text.lstrip().startswith("Downloading "):
                    status = f"pip: downloading {text.split()[1]} {' '.join(text.split()[2:])}".rstrip()
                elif text.startswith("Installing collected packages: "):
                    to_install = [name.strip() for name in text.split(": ", 1)[1].split(",")]
                    since = time.time() - 1
                elif text[:1].isalpha() and text[:1].isupper() and not text.startswith(("WARNING", "Looking in",
                                                                                        "DEPRECATION")):
                    status = f"pip: {text[:100]}"  # "Building wheel for ...", "Preparing metadata ...": its step
        if to_install:
            done = installed_since(site, since)
            left = [name for name in to_install if canonical(name) not in done]
            current = left[0] if left else to_install[-1]
            status = f"pip: installing {len(to_install) - len(left) + (1 if left else 0)} of " \
                     f"{len(to_install)} packages: {current}"
        line.show(status)
    code = pip.wait()
    elapsed = time.monotonic() - line.start
    if code != 0:
        line.end(f"pip failed (exit {code}) installing {requirements}; its output:")
        print("\n".join(said[-40:]), file=sys.stderr)
        return code
    line.end(f"pip: {requirements} installed ({total} pinned, {len(to_install)} new) in {elapsed:.0f} s")
    return 0


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or not Path(args[1]).is_file():
        sys.exit("usage: python3 -m tools.install <virtual environment folder> <requirements file>")
    sys.exit(install(Path(args[0]), Path(args[1])))


if __name__ == "__main__":
    main()
