"""What `cnnspec check` imports: only what checking needs, so that check-on-save starts fast.
(The times themselves are measured by tools/bench.py, never asserted here.)"""
import os
import subprocess
import sys
from pathlib import Path

SPECS = Path(__file__).resolve().parent.parent / "specs"

# Imported only by the commands that need them: the engine's arrays and its modules (the
# registry imports the engine's package, a docstring, to find them when a layer is built),
# the IR's schema validation, drawing, the data sets.
NOT_FOR_CHECK = ("numpy", "jsonschema", "matplotlib", "torch", "cnnspec.data", "cnnspec.render")

# Engine modules of plain numbers (no NumPy) that check reads: when a batch is split in threads,
# how many columns a conv's chunk may have.
ENGINE_FACTS = ("cnnspec.engine.splitting", "cnnspec.engine.chunking")

PROBE = """
import sys
from cnnspec.cli import main
code = main(["check", *sys.argv[1:]])
print("CODE", code)
print("LOADED", " ".join(sorted(sys.modules)))
"""


def _check_modules(tmp_path, *specs) -> set[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", PROBE, *map(str, specs)], env=env,
                            capture_output=True, text=True, check=True, timeout=120)
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines()
                 if line.startswith(("CODE", "LOADED")))
    assert lines["CODE"] == "0", result.stdout + result.stderr
    return set(lines["LOADED"].split())


def test_check_imports_nothing_it_does_not_need(tmp_path):
    spec = tmp_path / "adam.cnn"
    spec.write_text("input 1x28x28\nconv 8 3x3 relu\nmaxpool 2\nflatten\ndense 10\n"
                    "train {\n  data mnist\n  optimizer adam(amsgrad=true)\n"
                    "  weight_decay 1e-4\n  clip_norm 1\n}\n")
    loaded = _check_modules(tmp_path, SPECS / "lenet5.cnn", SPECS / "resnet_small.cnn", spec)
    heavy = sorted(name for name in loaded
                   if name.startswith("cnnspec.engine.") and name not in ENGINE_FACTS
                   or any(name == m or name.startswith(m + ".") for m in NOT_FOR_CHECK))
    assert heavy == []
