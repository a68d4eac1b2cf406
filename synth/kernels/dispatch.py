"""Compile-time dispatch on the class of a NamedTuple of arrays.

Kernels are compiled for the types of their arguments. When an argument's class says what it
is (the tables of one potential, the voices of one model kind), the code for that class alone
is compiled, and the choice costs nothing at run time. `dispatch` makes a function that calls
the implementation for its first argument's class; `class_test` a constant test of it.

The dispatching function is typed and lowered directly as a call of the implementation (no
forwarding function is compiled between them: each compiled level re-optimises all the code
it links, which made the first run slow), and it stays callable from Python.
"""

from collections.abc import Callable

from numba.core import types
from numba.core.typing.templates import AbstractTemplate, infer_global
from numba.extending import lower_builtin, overload

from synth.kernels.options import KERNEL


def dispatch(name: str, implementation_for: Callable[[type], Callable]) -> Callable:
    """A function `name(first, *args)` that returns implementation_for(type(first))(first,
    *args), where first is a NamedTuple and the implementation a compiled (numba.njit)
    function. In compiled code the implementation is chosen while compiling, from the class
    of `first`; implementation_for raises KeyError for a class it does not know."""
    def function(first, *args):
        return implementation_for(type(first))(first, *args)

    function.__name__ = function.__qualname__ = name

    class Typing(AbstractTemplate):
        key = function

        def generic(self, args, kws):
            if kws or not args or not hasattr(args[0], "instance_class"):
                return None
            implementation = implementation_for(args[0].instance_class)
            callee = self.context.resolve_value_type(implementation)
            return self.context.resolve_function_type(callee, args, {})

    infer_global(function, types.Function(Typing))

    @lower_builtin(function, types.VarArg(types.Any))
    def _lower(context, builder, signature, args):
        implementation = implementation_for(signature.args[0].instance_class)
        callee = context.typing_context.resolve_value_type(implementation)
        return context.get_function(callee, signature)(builder, args)

    return function


def class_test(cls: type) -> Callable:
    """A function telling whether its argument is a `cls`; a constant in compiled code."""
    def test(value) -> bool:
        return isinstance(value, cls)

    test.__name__ = test.__qualname__ = f"is_{cls.__name__}"

    @overload(test, inline="always", jit_options=KERNEL)
    def _compiled(value):
        answer = getattr(value, "instance_class", None) is cls
        return lambda value: answer

    return test
