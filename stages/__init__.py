"""Stages of the IMDB word-embedding pipeline: one module per DVC stage, run as `python -m stages.<name>`.

Importing the package sets TensorFlow's environment before TensorFlow itself is imported (by any stage, by
`stages.predict`, by the tests), unless the caller chose otherwise:
- TF_CPP_MIN_LOG_LEVEL=2: TensorFlow's C++ info and warning lines are not printed; errors are.
- oneDNN's kernels stay on (TensorFlow's default on x86): training takes about 0.75 of the time it takes
  without them, and the same params still give the same bytes on the same machine. Their banner, which
  TensorFlow prints at import before its log level applies, is taken out of standard error while `tensorflow`
  is imported (`_QuietImport`); anything else printed then is passed on. TF_ENABLE_ONEDNN_OPTS=0 turns them off.
"""
import contextlib
import errno
import importlib.abc
import importlib.util
import os
import re
import signal
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BANNER = re.compile(rb"oneDNN custom operations are on|All log messages before absl::InitializeLog\(\) is called")


@contextlib.contextmanager
def _without_banner():
    """Standard error (the file descriptor, where C++ writes) minus TensorFlow's start-up banner lines."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            rest = b"".join(line for line in caught.read().splitlines(keepends=True) if not BANNER.search(line))
            if rest:
                os.write(2, rest)


class _QuietImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports `tensorflow` (directly, or through Keras) with its banner filtered out; then steps aside."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            self.real = spec.loader
            spec.loader = self
        return spec

    def create_module(self, spec):
        return self.real.create_module(spec)

    def exec_module(self, module):
        with _without_banner():
            self.real.exec_module(module)


if "tensorflow" not in sys.modules:
    sys.meta_path.insert(0, _QuietImport())


interrupted = False  # Ctrl-C was pressed


def _interrupted(signum, frame):
    """Ctrl-C: one line, exit status 130 (as a shell reports it), no traceback. SystemExit unwinds like any
    exception, so the outputs' temporaries are removed on the way out (files.atomic_path / atomic_dir)."""
    global interrupted
    interrupted = True
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a second Ctrl-C ends the process at once
    print("interrupted", file=sys.stderr)
    raise SystemExit(130)


def stop_if_interrupted() -> None:
    """Exit again if Ctrl-C's SystemExit was lost. Python runs the handler in whatever code the main thread is
    in, and some of that code is a library's bare `except:` (a TensorFlow finalizer that runs at any garbage
    collection; Keras' structure checks): the exit is swallowed there and the stage carries on, to the end of
    500 epochs and a written model. So the places that commit outputs (files.atomic_path / atomic_dir) and the
    training loop ask here once more."""
    if interrupted:
        raise SystemExit(130)


# Errors of the machine while an output is written: a full disk, a quota, a file too large, a read-only or
# forbidden folder. The stages report them against the output (files.atomic_path), never its temporary.
WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM)


def errno_of(error: OSError) -> int | None:
    """The errno of an OSError; Arrow's C++ errors carry it only in their text ("[errno 28] No space ...")."""
    if error.errno:
        return error.errno
    found = re.search(r"\[errno (\d+)\]", str(error), re.I)
    return int(found.group(1)) if found else None


# Only for a program started as `python -m stages ...` or `python -m stages.predict` (what dvc.yaml and the README
# run): while Python locates that module it sets sys.argv[0] to "-m", so the handler is in place before any
# heavy import. Code that imports this package (tests, notebooks) keeps its own Ctrl-C.
if sys.argv[:1] == ["-m"]:
    signal.signal(signal.SIGINT, _interrupted)
