"""``cnnspec export SPEC|RUN``: the network for other tools.

``--format json`` (the default) prints the fully resolved IR (every default explicit, repeats
expanded, no source positions), which every command accepts in place of the spec;
``--format onnx -o model.onnx`` writes an ONNX model and ``--format torch -o model.py`` a
PyTorch module with its weights beside it (``model.npz``): a run folder's trained weights,
or for a spec the initial weights of its seed (docs/interop.md). A file that exists is kept
unless ``--force``, as ``cnnspec import`` keeps one.
"""
from __future__ import annotations

import sys
from pathlib import Path

from cnnspec.cli import print_note
from cnnspec.cli.arguments import (
    add_output,
    output_file,
    refuse_writing_over_inputs,
    spec_or_run,
)
from cnnspec.errors import shown_path

LOADS_NUMPY = True
HELP = ("print a spec's IR as JSON (every default explicit), or write the network as an ONNX "
        "model or a PyTorch module with its weights")
FORMATS = ("json", "onnx", "torch")
SUFFIXES = {"onnx": ".onnx", "torch": ".py"}
FORMAT_WORDS = {"onnx": "an ONNX", "torch": "a Python"}


def add_arguments(parser) -> None:
    parser.add_argument("spec", metavar="SPEC|RUN", type=spec_or_run,
                        help="a .cnn spec or .json IR file, or a run folder (its trained weights)")
    parser.add_argument("--format", choices=FORMATS, default="json",
                        help="json: the IR on stdout (default); onnx: an ONNX model; "
                        "torch: a torch.nn.Module source file and its weights (.npz)")
    add_output(parser, output_file(), "where to write (needed for onnx and torch; json: "
               "instead of stdout)", once_out=True)
    parser.add_argument("--no-check", action="store_true",
                        help="json only: export even if shape checks fail (the IR is still "
                             "validated)")
    parser.add_argument("--force", action="store_true",
                        help="overwrite existing files (-o's, and torch's weights beside it)")


def run(args) -> int:
    # deferred: the checker, the parser, jsonschema and NumPy load when it runs (`--help` stays
    # fast)
    from cnnspec.errors import SettingError

    refuse_writing_over_inputs(_outputs(args), [("the run" if Path(args.spec).is_dir()
                                                 else "the spec", args.spec)])
    _refuse_another_formats_suffix(args)
    if args.format == "json":
        return _json(args)
    if args.no_check:  # an ONNX graph or a torch module is built from the checked shapes
        raise SettingError(f"--no-check is for --format json: --format {args.format} needs the "
                           "shapes the check infers, so it checks the spec always",
                           hint="drop --no-check, or export the IR with --format json "
                                "--no-check", invalid=True)
    if not args.output:
        suffix = SUFFIXES[args.format]
        raise SettingError(f"export --format {args.format} writes a file: give its path",
                           hint=f"add -o {Path(args.spec).stem or 'model'}{suffix}",
                           invalid=True)
    if args.format == "onnx":
        from cnnspec.exporters.onnx_graph import (
            OPSET,
            PREPROCESS_KEY,
            export_onnx,
            narrowed_note,
        )

        exported = export_onnx(args.spec, args.output, force=args.force)
        print_note(exported.metrics_note)
        narrowed = narrowed_note(exported)
        if narrowed:  # said, not silent: a float64 run becomes a float32 model
            print(f"note: {narrowed}", file=sys.stderr)
        print(f"wrote {shown_path(args.output)}: ONNX opset {OPSET}, input 'input' "
              f"(batch, {_dims(exported.checked.input_shape)}), output "
              f"'{exported.checked.ir['output']}'; {exported.weights} of the {exported.source}")
        _say_input(exported, f"the model's metadata '{PREPROCESS_KEY}' holds its numbers")
        return 0
    from cnnspec.exporters.torch_source import (
        class_name,
        export_torch,
        import_statement,
        softmax_note,
    )

    exported, weights = export_torch(args.spec, args.output, force=args.force)
    print_note(exported.metrics_note)
    cls = class_name(exported.checked.ir["name"])
    print(f"wrote {shown_path(args.output)} (class {cls}, a torch.nn.Module: "
          f"{import_statement(Path(args.output), cls)}) and {shown_path(weights)} "
          f"({exported.weights} of the {exported.source}; model.load_weights reads them)")
    _say_input(exported, "model.preprocess(images) applies it")
    softmax = softmax_note(exported)
    if softmax:  # said, not silent: cross_entropy on its output is a wrong loss that trains
        print(f"note: {softmax}", file=sys.stderr)
    return 0


def _say_input(exported, where: str) -> None:
    """Say what the exported network takes where it is not the images predict reads: it was
    trained on preprocessed images, and a model given raw ones answers otherwise."""
    note = exported.input_note()
    if note:
        print(f"its input: {note}" + (f"; {where}" if exported.preprocessor else ""))


def _refuse_another_formats_suffix(args) -> None:
    """Stop when ``-o`` ends in another format's extension than ``--format``'s: ``export RUN
    -o model.py`` without ``--format torch`` would write the IR's JSON into a Python file and
    succeed. The json format takes any other name (``spec.json``, ``ir.txt``)."""
    from cnnspec.errors import SettingError, literal

    if not args.output:
        return
    out = Path(args.output)
    suffix = out.suffix.lower()
    wanted = SUFFIXES.get(args.format)
    if wanted is not None and suffix != wanted:
        raise SettingError(literal(f"-o {args.output}: --format {args.format} writes a {wanted} "
                                   "file"),
                           hint=literal(f"write -o {out.with_suffix(wanted)}"), invalid=True)
    meant = next((name for name, known in SUFFIXES.items() if known == suffix), None)
    if wanted is None and meant is not None:
        raise SettingError(literal(f"-o {args.output} names {FORMAT_WORDS[meant]} file, but "
                                   "--format json (the default) writes the IR as JSON"),
                           hint=literal(f"add --format {meant}, or write -o "
                                        f"{out.with_suffix('.json')}"), invalid=True)


def _outputs(args) -> list[tuple]:
    """The files export writes: ``-o``'s, and for torch the weights beside it."""
    if not args.output:
        return []
    if args.format == "torch":
        from cnnspec.exporters.torch_source import weights_path

        return [("-o", args.output), ("-o", args.output, "its weights",
                                   str(weights_path(Path(args.output))))]
    return [("-o", args.output)]


def _dims(shape) -> str:
    return ", ".join(str(n) for n in shape)


def _json(args) -> int:
    from cnnspec.atomic import refuse_overwriting
    from cnnspec.check.checker import refuse
    from cnnspec.check.load import read_spec
    from cnnspec.ir.io import to_json, validate
    from cnnspec.training.run import checked_run_spec, run_spec
    from cnnspec.training.rundir import open_run_dir

    if args.output:  # before the spec is read: a refusal comes at once
        refuse_overwriting([args.output], args.force)
    path = Path(args.spec)
    if path.is_dir():  # a run's spec.json: an error in it is damage to the run
        run = open_run_dir(path)
        spec = run_spec(run) if args.no_check else checked_run_spec(run).spec
    else:
        spec = read_spec(path)
        validate(spec.ir, spec.path)
        if not args.no_check:
            refuse(spec)  # exported, perhaps to train elsewhere: its warnings are check's
    if args.output:
        from cnnspec.exporters.source import write_output

        write_output(Path(args.output), to_json(spec.ir) + "\n")
        # as the ONNX and PyTorch exports say what they wrote: silence read as nothing done
        print(f"wrote {shown_path(args.output)}: the IR of {spec.ir['name']}, every default "
              "written out")
    else:
        print(to_json(spec.ir))
    return 0
