"""The lab's defaults, in plain numbers: the lab's functions take them as default arguments,
and ``cnnspec init-report``'s help reads them here without loading NumPy."""
from __future__ import annotations

BATCH_SIZE = 64  # inputs init_report measures on
MEASURED_GRID = (8, 5)  # sigma_w x sigma_b points phase_report measures on the network
ROWS = 256  # jacobian_report's output directions: exact up to this many output units
