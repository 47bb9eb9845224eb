"""Stages of the IMDB word-embedding pipeline: one module per DVC stage, run as `python -m stages.<name>`.

Importing the package sets TensorFlow's environment before TensorFlow itself is imported (by any stage, by
`stages.predict`, by the tests), unless the caller chose otherwise:
- TF_CPP_MIN_LOG_LEVEL=2: TensorFlow's C++ info and warning lines are not printed; errors are.
- TF_ENABLE_ONEDNN_OPTS=0: no oneDNN custom kernels. They announce themselves on every start, and their
  results depend on the CPU's instruction set in the last float digits (so models and curves differed
  between machines); without them, the float results are those of TensorFlow's portable kernels.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
