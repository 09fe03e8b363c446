"""Bytecode for a `sam build` output, so a cold start does not compile the source it imports.

Lambda extracts a function and its layers into read-only /var/task and /opt, so Python can
write no `.pyc` there: unless the package ships bytecode, every cold start compiles botocore,
Powertools and the project's own modules again. `sam build` ships none: its Python
workflow leaves `__pycache__` out of the copied source and unpacks dependencies from wheels
without compiling them. `sam package` then zips every file with a 1980 timestamp, so bytecode
that checks the source's modification time would always look stale.

Hence `unchecked-hash` bytecode (PEP 552): Python loads it without looking at the source. That
is right for an immutable deployment package, and wrong for a tree someone edits, which is why
this runs only on `.aws-sam/build`, after `sam build` (`make build`), with the runtime's own
Python so that the files are named for it (`*.cpython-312.pyc`). bench/cold_start.py measures a
package with and without this step.

Usage: python -m local.bytecode DIRECTORY...
"""

from __future__ import annotations

import compileall
import py_compile
import sys
from pathlib import Path


def compile_tree(directory: Path) -> bool:
    """Writes bytecode beside every module under `directory`; False if one failed to compile."""
    return bool(
        compileall.compile_dir(
            directory,
            quiet=1,
            workers=0,  # one worker per core
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
    )


def main(arguments: list[str]) -> int:
    if not arguments:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    missing = [argument for argument in arguments if not Path(argument).is_dir()]
    if missing:
        print(f"not a directory: {', '.join(missing)} (run `sam build` first)", file=sys.stderr)
        return 2
    return 0 if all([compile_tree(Path(argument)) for argument in arguments]) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
