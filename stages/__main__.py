"""Run one pipeline stage: `python -m stages <stage>` (this is what dvc.yaml calls).

params.yaml is loaded and checked here, before the stage module and its heavy imports (pandas, TensorFlow,
Great Expectations) are loaded, so a bad value fails in a fraction of a second.
"""
import ctypes
import errno
import importlib
import inspect
import os
import re
import sys
from pathlib import Path

from stages import errno_of, stop_if_interrupted
from stages.engines import open_engine
from stages.lib.params import load_params
from stages.lib.progress import Steps, showing

# Errors of the machine, not of this code: a full disk, a quota, a read-only or forbidden folder.
WRITE_ERRORS = {errno.ENOSPC: "free some disk space", errno.EDQUOT: "free some of your disk quota",
                errno.EFBIG: "the file system refuses a file this large", errno.EROFS: "the file system is read-only",
                errno.EACCES: "check the folder's permissions", errno.EPERM: "check the folder's permissions"}
STAGES = ["check_params", "download", "validate_raw", "baseline", "tokenize", "pad", "embed", "validate_features", "train", "evaluate", "export"]


def reuse_freed_memory() -> None:
    """glibc gives each freed block above 32 MB back to the system, and maps the next one afresh, faulted in page by
    page: the baseline's n-gram arrays spent a quarter of its time in the kernel so. Here large blocks come from
    the heap and stay there once freed, for the next array (the baseline's peak was 1.50 GB against 1.42 GB;
    the stage's end frees it all)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (macOS, musl): its own allocator's defaults
        return
    trim_threshold, top_pad, mmap_threshold = -1, -2, -3  # mallopt's parameter numbers (malloc.h)
    libc.mallopt(mmap_threshold, 2**31 - 1)
    libc.mallopt(trim_threshold, 2**31 - 1)
    libc.mallopt(top_pad, 2**30)


def main(argv: list[str]) -> None:
    if len(argv) != 1 or argv[0] not in STAGES:
        sys.exit(f"usage: python -m stages <stage>, where <stage> is one of: {', '.join(STAGES)}")
    reuse_freed_memory()
    params, name = load_params(), argv[0]
    with showing(name) as step:
        step("loading the stage")
        run(name, params, step)
    stop_if_interrupted()  # Ctrl-C that a library swallowed: still exit 130


def run(name: str, params: dict, step: Steps) -> None:
    """The stage's main, given the engine and the progress line when it takes them; the machine's errors are
    one line."""
    try:
        stage = importlib.import_module(f"stages.{name}")
        step("running")
        wants = inspect.signature(stage.main).parameters
        extra = {"step": step} if "step" in wants else {}
        if stage.ENGINE:  # a stage whose tasks an engine may run (declared, as dvc.yaml's `engine` param)
            engine = open_engine(params, name)
            try:
                stage.main(params, engine, **extra)
            finally:
                engine.close()
        else:
            stage.main(params, **extra)
    except FileNotFoundError as e:  # run by hand before the stages that make its inputs
        quoted = re.search(r"'([^']+)'", str(e))  # Arrow: "Failed to open local file 'data/raw/x.parquet'"
        missing = Path(e.filename or (quoted.group(1) if quoted else str(e).split(": ")[-1]))
        if missing.is_absolute() and missing.is_relative_to(Path.cwd()):  # tasks read inputs by absolute path
            missing = missing.relative_to(Path.cwd())
        sys.exit(f"{name}: input {missing} not found; `dvc repro {name}` runs the stages before it first")
    except OSError as e:
        code = errno_of(e)
        if code not in WRITE_ERRORS:
            raise
        where = f"{e.filename}: " if e.filename else ""
        sys.exit(f"{name}: {where}{os.strerror(code)}; {WRITE_ERRORS[code]}, then run `dvc repro` again "
                 "(nothing was half-written)")


if __name__ == "__main__":
    main(sys.argv[1:])
