"""Show the code of a flow, task or function in a notebook, highlighted."""

from __future__ import annotations

import inspect


def show_source(obj):
    """The source of `obj` (a Prefect flow or task, a function, a class) as a code block."""
    from IPython.display import Markdown

    target = getattr(obj, "fn", obj)  # a Prefect task or flow wraps the function in .fn
    decorated = inspect.getsource(target)
    return Markdown(f"```python\n{decorated}```")
