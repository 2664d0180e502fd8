"""The judge compiled to C with mypyc, where a build asks for it (ADR 22).

``PETITION_COMPILE=1`` compiles the modules a rebuild spends its time in (judging every case
and turning the judgments into rows) from the same typed Python; without it, as in the
README's commands, everything stays plain Python and runs the same. The compiled build needs
mypy, a C compiler and the project's dependencies installed first (mypyc type-checks the
modules against them):

    pip install -e . mypy setuptools wheel
    PETITION_COMPILE=1 pip install --no-build-isolation --no-deps -e .
    PETITION_COMPILE=1 python setup.py build_ext --inplace    # in a checkout (remove the
                                                              # .so files to run the source)
"""

import os
import sys

from setuptools import setup

# An isolated build's path lacks the project's own directory.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from projections.compilation import MODULES, record

ext_modules = []
if os.environ.get("PETITION_COMPILE") == "1":
    from mypyc.build import mypycify

    record()  # the sources as compiled: a test session refuses a build of others
    # (the modules share one library, kept inside the package so that it imports from
    # wherever the package does)
    ext_modules = mypycify(
        [f"projections/{module}.py" for module in MODULES],
        opt_level="3",
        group_name="projections.compiled",
    )

setup(ext_modules=ext_modules)
