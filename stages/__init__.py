"""Stages of the IMDB word-embedding pipeline: one module per DVC stage, run as `python -m stages.<name>`.

Importing the package sets TensorFlow's environment before TensorFlow itself is imported (by any stage, by
`stages.predict`, by the tests), unless the caller chose otherwise:
- TF_CPP_MIN_LOG_LEVEL=2: TensorFlow's C++ info and warning lines are not printed; errors are.
- TF_ENABLE_ONEDNN_OPTS=0: no oneDNN custom kernels. They announce themselves on every start, and their
  results depend on the CPU's instruction set in the last float digits (so models and curves differed
  between machines); without them, the float results are those of TensorFlow's portable kernels.
"""
import os
import signal
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def _interrupted(signum, frame):
    """Ctrl-C: one line, exit status 130 (as a shell reports it), no traceback. SystemExit unwinds like any
    exception, so the outputs' temporaries are removed on the way out (files.atomic_path / atomic_dir)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a second Ctrl-C ends the process at once
    print("interrupted", file=sys.stderr)
    raise SystemExit(130)


# Only for a program started as `python -m stages ...` or `python -m stages.predict` (what dvc.yaml and the README
# run): while Python locates that module it sets sys.argv[0] to "-m", so the handler is in place before any
# heavy import. Code that imports this package (tests, notebooks) keeps its own Ctrl-C.
if sys.argv[:1] == ["-m"]:
    signal.signal(signal.SIGINT, _interrupted)
