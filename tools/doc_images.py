"""Draw the pictures docs/images holds, each with the commands its page shows beside it, so that a
picture is made again by what the docs say made it, whenever the drawing changes (an axis
label, a legend), and the shipped set never drifts from the set this script makes
(tests/test_doc_images.py holds the two to the same names).

    python3 tools/doc_images.py                      # every picture, into docs/images
    python3 tools/doc_images.py he2015_signal.png    # the pictures named
    python3 tools/doc_images.py --list               # the names, one a line

The run folders and specs a picture needs on the way (a trained run to draw the filters of, a
spec with an ``augment`` line added) go into a temporary folder, deleted after. Trainings take
minutes each: ``he2015_fig3.png`` (twelve of them) and ``deep_tanh200_curves.png`` the longest.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "docs" / "images"

# The augment line README's picture of augmented digits adds to specs/digits.cnn's train block.
AUGMENT = "  augment [crop(pad=1), rotate(15), noise(0.05)]\n"

# Each picture's commands, as its page writes them: "cnnspec" runs the command line, any other
# first word a script of tools/. ``{out}`` is the picture, ``{work}`` the temporary folder,
# ``{digits_augmented}`` specs/digits.cnn with :data:`AUGMENT` in its train block.
IMAGES: dict[str, list[list[str]]] = {
    "x_detector_diagram.png": [
        ["cnnspec", "diagram", "specs/x_detector.cnn", "-o", "{out}"]],
    "x_detector_filters.png": [
        ["cnnspec", "train", "specs/x_detector.cnn", "--out", "{work}/x_detector", "--quiet"],
        ["cnnspec", "filters", "{work}/x_detector", "--layer", "xk,learned", "--compare-init",
         "-o", "{out}"]],
    "digits_augment.png": [
        ["cnnspec", "data", "{digits_augmented}", "-o", "{out}", "--per-class", "4"]],
    "he2015_signal.png": [
        ["cnnspec", "init-report", "specs/he2015_plain30.cnn", "--input", "gaussian",
         "--batch-size", "4", "--init", "he_normal", "--init", "glorot_normal",
         "--init", "normal(0, 0.01)", "-o", "{out}"]],
    "he2015_fig3.png": [
        ["he2015_fig3.py", "--seeds", "3", "--jobs", "1", "--out", "{work}/fig3", "-o", "{out}"]],
    "zeros_filters.png": [
        ["cnnspec", "train", "specs/zeros.cnn", "--out", "{work}/zeros", "--quiet"],
        ["cnnspec", "filters", "{work}/zeros", "--layer", "conv1", "--compare-init",
         "-o", "{out}"]],
    "digits_small_gaussian.png": [
        ["cnnspec", "compare", "specs/digits.cnn", "--init", "he_normal",
         "--init", "normal(0, 0.01)", "--seeds", "2", "--out", "{work}/small", "-o", "{out}"]],
    "plain30_lsuv_signal.png": [
        ["cnnspec", "init-report", "specs/plain30.cnn", "--init", "he_normal", "--init", "lsuv",
         "-o", "{out}"]],
    "deep_tanh200_phase.png": [
        ["cnnspec", "init-report", "specs/deep_tanh200.cnn", "--phase", "-o", "{out}"]],
    "deep_tanh200_jacobian.png": [
        ["cnnspec", "init-report", "specs/deep_tanh200.cnn", "--jacobian",
         "--init", "delta_orthogonal(gain=1)", "--init", "glorot_normal", "--init", "he_normal",
         "-o", "{out}"]],
    "deep_tanh200_curves.png": [
        ["cnnspec", "compare", "specs/deep_tanh200.cnn", "--init", "delta_orthogonal(gain=1)",
         "--init", "glorot_normal", "--init", "he_normal", "--out", "{work}/tanh", "-o",
         "{out}"]],
}


def digits_augmented(work: Path) -> Path:
    """specs/digits.cnn with :data:`AUGMENT` as the first line of its train block, written as
    ``digits.cnn`` in ``work`` (the picture's title names the spec)."""
    text = (ROOT / "specs" / "digits.cnn").read_text(encoding="utf-8")
    if "train {\n" not in text:
        raise SystemExit("specs/digits.cnn has no 'train {' line to add the augment line to")
    path = work / "digits.cnn"
    path.write_text(text.replace("train {\n", "train {\n" + AUGMENT, 1), encoding="utf-8")
    return path


def command(words: list[str], places: dict[str, str]) -> list[str]:
    """The process to run for one command of :data:`IMAGES`, its places filled in."""
    filled = [word.format(**places) for word in words[1:]]
    if words[0] == "cnnspec":
        return [sys.executable, "-m", "cnnspec", *filled]
    return [sys.executable, str(ROOT / "tools" / words[0]), *filled]


def draw(name: str, work: Path) -> None:
    """Run the commands of picture ``name`` in the checkout, the picture into :data:`FOLDER`."""
    places = {"out": str(FOLDER / name), "work": str(work)}
    if any("{digits_augmented}" in word for words in IMAGES[name] for word in words):
        places["digits_augmented"] = str(digits_augmented(work))
    for words in IMAGES[name]:
        print("$", " ".join(words).format(**places), flush=True)
        subprocess.run(command(words, places), cwd=ROOT, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="pictures to draw (default: every one)")
    parser.add_argument("--list", action="store_true", help="print the pictures' names")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(IMAGES))
        return 0
    unknown = sorted(set(args.names) - set(IMAGES))
    if unknown:
        parser.error(f"no such picture: {', '.join(unknown)} (--list names them)")
    with tempfile.TemporaryDirectory() as work:
        for name in args.names or IMAGES:
            draw(name, Path(work))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
