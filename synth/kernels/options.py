"""The compilation options every kernel shares.

Reassociation lets reductions vectorise; nnan/ninf stay off so guards still see NaN and inf.
The numpy error model drops Python's zero-division check, whose branch stops loops with a
division from vectorising. Every function a kernel calls must carry the same options: LLVM
drops the caller's fast-math attributes when it inlines a callee without them.
"""

FASTMATH = {"reassoc", "contract", "arcp", "nsz"}
KERNEL = {"cache": True, "fastmath": FASTMATH, "error_model": "numpy"}
INLINE = {**KERNEL, "inline": "always"}  # small helpers, typed inside their caller
# Helpers called only from compiled code: no wrappers to call them from Python or through a C
# pointer. With a state of dozens of arrays as argument, those wrappers cost more to compile
# than many a helper itself.
INTERNAL = {**KERNEL, "no_cpython_wrapper": True, "no_cfunc_wrapper": True}
