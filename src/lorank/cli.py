"""The ``lorank`` command line: ``lorank demo``, ``lorank compress`` and more to come.

Each subcommand is one function that adds its parser and returns the handler,
registered with :func:`command`. A handler takes the parsed arguments and
returns an exit code. Errors a user can fix (bad file, bad rank) end as one
line on stderr and exit code 1; ``--debug`` shows the traceback instead.
"""

import argparse
import sys

from . import __version__

__all__ = ["main", "command"]

#: name -> (help, function(subparser) -> handler)
COMMANDS = {}


def command(name, help):
    """Register ``func(parser) -> handler`` as the subcommand ``name``."""

    def register(func):
        COMMANDS[name] = (help, func)
        return func

    return register


class CommandError(Exception):
    """A user-facing failure: printed as one line, no traceback."""


@command("demo", help="the SVD story end to end, in seconds, no downloads")
def _demo(parser):
    parser.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="folder for the PNG figures (default: ./lorank-demo when matplotlib "
        "is installed, else no figures)",
    )

    def handle(args):
        from . import demo

        out = args.out
        if out is None and demo.have_matplotlib():
            out = "lorank-demo"
        demo.run(out)
        return 0

    return handle


@command("compress", help="compress an image by truncated SVD and write the result")
def _compress(parser):
    parser.add_argument("image", help="input image (PNG; JPEG etc. need Pillow)")
    parser.add_argument("--rank", type=int, required=True, help="rank to keep")
    parser.add_argument("--out", required=True, help="output image file (e.g. out.png)")

    def handle(args):
        import numpy as np

        from .lowrank import compress

        plt_image = _image_module()
        try:
            img = np.asarray(plt_image.imread(args.image))
        except (OSError, ValueError, SyntaxError) as exc:  # PIL raises all three
            raise CommandError(f"cannot read image {args.image!r}: {exc}") from exc
        if img.dtype.kind in "iu":  # 8/16-bit from Pillow: scale to [0, 1]
            img = img / np.iinfo(img.dtype).max
        img = img.astype(np.float64)
        if img.ndim == 3 and img.shape[2] == 4:
            img = img[:, :, :3]  # drop alpha
        channels = [img] if img.ndim == 2 else [img[:, :, c] for c in range(img.shape[2])]
        try:
            factors = [compress(channel, args.rank) for channel in channels]
        except (ValueError, TypeError) as exc:
            raise CommandError(str(exc)) from exc
        approx = np.clip(np.stack([f.to_dense() for f in factors], axis=-1), 0.0, 1.0)
        if img.ndim == 2:
            approx = approx[:, :, 0]
        error = np.linalg.norm(approx - img) / max(np.linalg.norm(img), np.finfo(float).tiny)
        # Round to 8 bits ourselves; Pillow (a matplotlib dependency) writes a
        # grayscale image as one channel and picks the format from the suffix.
        from PIL import Image

        try:
            Image.fromarray(np.round(approx * 255).astype(np.uint8)).save(args.out)
        except (OSError, ValueError, KeyError) as exc:
            raise CommandError(f"cannot write {args.out!r}: {exc}") from exc
        ratio = factors[0].compression_ratio  # the same for every channel
        print(
            f"{args.image}: {img.shape[1]} x {img.shape[0]}, "
            f"{len(channels)} channel{'s' if len(channels) > 1 else ''}, "
            f"rank {args.rank}: relative error {error:.4f}, "
            f"compression ratio {ratio:.2f}x -> {args.out}"
        )
        return 0

    return handle


def _image_module():
    try:
        import matplotlib.image
    except ImportError:
        raise CommandError(
            "lorank compress needs matplotlib to read and write images: "
            "pip install 'lorank[plot]'"
        ) from None
    return matplotlib.image


def build_parser():
    parser = argparse.ArgumentParser(
        prog="lorank",
        description="Low-rank matrix decompositions and completion.",
    )
    parser.add_argument("--version", action="version", version=f"lorank {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback on errors"
    )
    # --debug also works after the subcommand; SUPPRESS keeps the subparser
    # from overwriting a --debug given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help, add) in COMMANDS.items():
        subparser = sub.add_parser(name, help=help, description=help, parents=[common])
        subparser.set_defaults(handler=add(subparser))
    return parser


def main(argv=None):
    """Run the ``lorank`` command line; return the exit code.

    Examples
    --------
    >>> from lorank.cli import main
    >>> main(["--version"])  # doctest: +SKIP
    lorank 0.1.0
    0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors (exit code 2)
        return exc.code if isinstance(exc.code, int) else 1
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("lorank: interrupted", file=sys.stderr)
        return 130
    except (CommandError, OSError, ValueError, TypeError, ImportError) as exc:
        if args.debug:
            raise
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"lorank {args.command}: error: {message}", file=sys.stderr)
        return 1
