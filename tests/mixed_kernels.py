"""Stacks of fixed 3x3 kernels of mixed signs, the cases the signal estimate is held to in
``tests/test_check.py`` and that ``cnnspec check`` must not warn of in
``tests/test_cli_check.py``: the kernel a user met (``MIXED``: it sums to -0.1, nearly
cancelling the mean of the ReLU values it reads), a Laplacian and a Sobel (both sum to 0)."""
from __future__ import annotations

MIXED = [[0.3, -0.2, 0.3], [-0.2, -0.5, -0.2], [0.3, -0.2, 0.3]]
LAPLACIAN = [[0, 1, 0], [1, -4, 1], [0, 1, 0]]


def mixed_stack(kernel: list | str, activation: str, depth: int = 10, size: int = 8,
                channels: int = 1) -> str:
    """A spec's text: a He-initialised 3x3 ``pad same`` conv of ``channels`` filters before a
    ReLU on 1x``size``x``size`` images, then ``depth`` 3x3 ``pad same`` convs of as many
    filters of ``kernel`` (a literal's rows, or a named kernel) each followed by
    ``activation``, and a dense head."""
    weight = kernel if isinstance(kernel, str) else str(kernel).replace(" ", "")
    return f"input 1x{size}x{size}\nc0: conv {channels} 3x3 pad same relu\n" + "".join(
        f"c{i}: conv {channels} 3x3 pad same {activation} weight {weight}\n"
        for i in range(1, depth + 1)) + "flatten\nout: dense 10\n"
