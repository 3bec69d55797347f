"""NumPy's floating-point warnings silenced where the caller looks for non-finite values
itself: overflow is what divergence and damaged weights look like, and the caller reports it
once, with its diagnosis (a diverged step, the first layer that overflows, unusable scores),
where NumPy's warnings would only repeat it without one."""
from __future__ import annotations

import contextlib
import warnings


@contextlib.contextmanager
def overflow_reported_by_caller():
    """Within the block, NumPy's RuntimeWarnings (overflow, invalid values) are not shown.
    A warnings filter rather than ``np.errstate``, which is per thread and would not reach
    the engine's threads."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield
