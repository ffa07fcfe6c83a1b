"""The ``lorank`` command line: ``lorank demo``, ``lorank compress`` and more to come.

Each subcommand is one function that adds its parser and returns the handler,
registered with :func:`command`. A handler takes the parsed arguments and
returns an exit code. Errors a user can fix end as one line on stderr: exit
code 2 for a command line that does not make sense (a flag out of range),
1 for the rest (a bad file, an unknown user); ``--debug`` shows the
traceback instead.
"""

import argparse
import math
import sys
from pathlib import Path

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
    """A user-facing failure: printed as one line, no traceback (exit code 1)."""


class UsageError(CommandError):
    """A command line that does not make sense (exit code 2, like argparse's)."""


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line on stderr (exit code 2)."""

    def error(self, message):
        message = " ".join(message.split())
        self.exit(2, f"{self.prog}: error: {message} ({self.prog} --help for usage)\n")


# ---------------------------------------------------------------- argument types
# Each returns an argparse type: a function of the text that raises
# ArgumentTypeError with the rule and the value, so argparse names the flag.



def _integer(minimum=None, maximum=None, *, extra=""):
    rule = ("an integer" + (f" >= {minimum}" if minimum is not None and maximum is None else "")
            + (f" from {minimum} to {maximum}" if maximum is not None else "") + extra)

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}") from None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}")
        return value

    return parse


def _real(minimum, maximum=None, *, open_min=False, open_max=False, rule=None):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        ok = math.isfinite(value) and (value > minimum if open_min else value >= minimum)
        if maximum is not None:
            ok = ok and (value < maximum if open_max else value <= maximum)
        if not ok:
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}")
        return value

    return parse


_RANK = _integer(1, 100_000)
_COUNT = _integer(1)


@command("demo", help="the SVD story end to end, in seconds, no downloads")
def _demo(parser):
    parser.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="folder for the PNG figures (default: ./lorank-demo when matplotlib "
        "is installed, else no figures)",
    )

    parser.add_argument(
        "--scale", type=_real(0, open_min=True, rule="a finite number > 0"), default=1.0,
        help="size of the collaborative-filtering stage (1: 25M ratings, a quarter "
        "of the Netflix Prize; 0.01 runs in a second)",
    )

    def handle(args):
        from . import demo

        out = args.out
        if out is None and demo.have_matplotlib():
            out = "lorank-demo"
        demo.run(out, scale=args.scale)
        if out is None:
            print("(no figures: pip install 'lorank[plot]' adds matplotlib, and "
                  "the demo then writes its PNGs to ./lorank-demo)")
        return 0

    return handle


@command("compress", help="compress an image by truncated SVD and write the result")
def _compress(parser):
    parser.add_argument("image", help="input image (PNG; JPEG etc. need Pillow)")
    parser.add_argument("--rank", type=_integer(1), required=True, help="rank to keep")
    parser.add_argument("--out", required=True, help="output image file (e.g. out.png)")

    def handle(args):
        import numpy as np

        from .linalg.lowrank import compress

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


# --- collaborative filtering: fit, recommend, evaluate ---------------------------


def _data_arguments(parser):
    parser.add_argument("data", help="ratings: a MovieLens or Netflix Prize file or "
                        "folder, or any delimited file (columns found by the header's "
                        "names, e.g. userId,movieId,rating; without a header: user, "
                        "item, rating in that order)")
    parser.add_argument("--format", choices=("auto", "movielens", "netflix", "csv"),
                        default="auto", help="layout of DATA (default: detected)")
    for role, example in (("user", "userId"), ("item", "movieId"), ("rating", "score"),
                          ("time", "timestamp")):
        parser.add_argument(f"--{role}-col", metavar="NAME|INDEX", default=None,
                            help=f"delimited files: the {role} column, by header name "
                            f"(e.g. {example}) or 0-based index (default: found by name, "
                            "else by position)")
    parser.add_argument("--delimiter", default=None,
                        help="delimited files: the field separator (default ',')")


def _model_arguments(parser):
    parser.add_argument("--method", choices=("als", "soft-impute"), default="als",
                        help="exact ALS (default) or soft-impute")
    parser.add_argument("--rank", type=_RANK, default=10, help="number of factors (10)")
    parser.add_argument("--reg", type=_real(0, rule="a finite number >= 0"), default=None,
                        help="regularization (default: the model's)")
    parser.add_argument("--reg-exponent", type=_real(0, 1, rule="a number in [0, 1]"),
                        default=None, metavar="ALPHA",
                        help="ALS: λ of a row or column = reg · (its ratings)^ALPHA, "
                             "0 to 1 (default: the model's, 0.5)")
    parser.add_argument("--iterations", type=_COUNT, default=15,
                        help="maximum iterations (15)")
    parser.add_argument("--threads", type=_thread_count, default=None,
                        help="threads (default: usable cores; -1 all, -2 all but one)")
    parser.add_argument("--seed", type=_integer(0), default=0,
                        help="random seed (0)")


def _column(value):
    """A --*-col value: an index when it is digits, else a header name."""
    return int(value) if value is not None and value.isdigit() else value


def _thread_count(text):
    """``--threads``: an integer that passes lorank's one thread rule."""
    from ._threads import effective_n_threads

    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    try:
        effective_n_threads(n, name="--threads")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return n


def _load_data(args):
    from .data.loaders import detect_format, load_ratings

    options = {role: _column(getattr(args, f"{role}_col"))
               for role in ("user", "item", "rating", "time")}
    options = {k: v for k, v in options.items() if v is not None}
    if args.delimiter is not None:
        options["delimiter"] = args.delimiter
    fmt = args.format
    if options and fmt == "auto":
        fmt = detect_format(args.data)
        if fmt == "movielens" and Path(args.data).is_file():
            fmt = "csv"  # columns given: read the file as delimited text
    if options and fmt != "csv":
        given = ", ".join(f"--{k}-col" if k != "delimiter" else "--delimiter" for k in options)
        raise CommandError(f"{given} apply to delimited files; {args.data} is read as "
                           f"{fmt} (pass a file and --format csv)")
    try:
        return load_ratings(args.data, format=fmt, **options)
    except ValueError as exc:  # name the flags, not the function's arguments
        message = str(exc)
        for role in ("user", "item", "rating", "time"):
            message = message.replace(f"pass {role}= (a column name or index)",
                                      f"pass --{role}-col NAME|INDEX")
        message = message.replace("or header=False if the first line is data",
                                  "or check the file's first line")
        raise CommandError(message) from exc


def _make_model(args, progress=False):
    params = dict(max_iter=args.iterations, n_threads=args.threads,
                  random_state=args.seed, progress=progress)
    if args.reg is not None:
        params["reg"] = args.reg
    if args.method == "als":
        from .models.als import ALS

        if args.reg_exponent is not None:
            params["weighted_reg"] = args.reg_exponent
        return ALS(args.rank, **params)
    if args.reg_exponent is not None:
        raise UsageError("--reg-exponent applies to --method als only")
    try:
        from .models.softimpute import SoftImpute
    except ImportError:
        raise CommandError("--method soft-impute is not available in this build") from None
    return SoftImpute(args.rank, **params)


@command("fit", help="fit a model to a ratings file and save it")
def _fit(parser):
    _data_arguments(parser)
    _model_arguments(parser)
    parser.add_argument("--test-size", type=_real(0, 1, open_max=True,
                                                  rule="a number in [0, 1)"), default=0.1,
                        help="share of each user's ratings held out to report test "
                        "RMSE (0.1; 0 fits on everything)")
    parser.add_argument("--out", default="model.npz", help="model file (model.npz)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--no-refit", action="store_true",
                        help="save the model fitted on the training share (default: after "
                        "reporting the held-out RMSE, refit on all the ratings and save that)")
    parser.add_argument("--save-interrupted", action="store_true",
                        help="on Ctrl-C, save the last complete iterations' model "
                        "(default: write nothing and exit 130)")

    def handle(args):
        from .recommend import Recommender

        ratings, _ = _load_data(args)
        print(f"{args.data}: {ratings.shape[0]:,} users x {ratings.shape[1]:,} items, "
              f"{ratings.nnz:,} ratings")
        if args.test_size > 0:
            train, test = ratings.split(args.test_size, random_state=args.seed, by="row")
        else:
            train, test = ratings, None
        model = _make_model(args, progress=not args.no_progress)
        try:
            model.fit(train, validation=test)
        except KeyboardInterrupt:
            _save_interrupted(args, model, ratings, "the training share")
            raise
        h = model.history_
        print(f"{'iteration':>9}  {'train RMSE':>10}  {'test RMSE':>9}  {'seconds':>7}")
        for it, tr, te, sec in zip(h["iteration"], h["train_rmse"], h["valid_rmse"],
                                   h["seconds"]):
            print(f"{it:>9}  {tr:>10.4f}  {te:>9.4f}  {sec:>7.2f}")
        if test is not None:
            print(f"held-out RMSE {h['valid_rmse'][-1]:.4f} on {test.nnz:,} ratings "
                  f"({args.test_size:g} of each user's)")
        what = "fitted on all the ratings"
        if test is not None and not args.no_refit:
            print(f"refitting on all {ratings.nnz:,} ratings for the saved model ...")
            model = _make_model(args, progress=not args.no_progress)
            try:
                model.fit(ratings)
            except KeyboardInterrupt:
                _save_interrupted(args, model, ratings, "all the ratings")
                raise
            what = f"refitted on all {ratings.nnz:,} ratings"
        elif test is not None:
            what = f"fitted on the training share ({train.nnz:,} ratings; --no-refit)"
        # Everything the users rated counts as seen, the held-out share too.
        Recommender.from_model(model, ratings).save(args.out)
        print(f"model {what} written to {args.out}")
        return 0

    return handle


def _save_interrupted(args, model, ratings, what):
    """On Ctrl-C: nothing is written unless --save-interrupted (then the last
    complete iterations' model, saying so)."""
    from .recommend import Recommender

    if not args.save_interrupted or not hasattr(model, "factors_"):
        print(f"lorank fit: interrupted; nothing written to {args.out}", file=sys.stderr)
        return
    Recommender.from_model(model, ratings).save(args.out)
    print(f"lorank fit: interrupted while fitting on {what}: the model after "
          f"{model.n_iter_} complete iterations written to {args.out} (--save-interrupted)",
          file=sys.stderr)


def _shown(value, n=40):
    """A value from the command line, quoted, cut short when long."""
    return repr(value) if len(value) <= n else f"{value[:n]!r}... ({len(value):,} characters)"


def _label(value, labels):
    """A user or item given on the command line, typed like the model's labels."""
    if labels is not None and labels.dtype.kind in "iu":
        try:
            return int(value)
        except ValueError:
            raise CommandError(f"{_shown(value)} is not an id of this model (ids are "
                               "integers)") from None
    return value


@command("recommend", help="top (or bottom) items for a user from a saved model")
def _recommend(parser):
    parser.add_argument("model", help="a model file written by lorank fit")
    parser.add_argument("--user", required=True, help="the user's id")
    parser.add_argument("-n", type=_COUNT, default=10, help="how many items (10)")
    parser.add_argument("--worst", action="store_true", help="the bottom of the list")
    parser.add_argument("--titles", default=None,
                        help="titles file: u.item, movies.dat, movies.csv or "
                        "movie_titles.csv")

    def handle(args):
        from . import load
        from .data.loaders import load_titles

        from .recommend import Recommender

        rec = load(args.model)
        if not isinstance(rec, Recommender):
            raise CommandError(
                f"{args.model} holds a bare {type(rec).__name__} model, not a "
                "recommender (write one with lorank fit or Recommender.save)"
            )
        user = _label(args.user, rec.user_labels)
        titles = load_titles(args.titles) if args.titles else {}
        try:
            items, scores = rec.recommend(user, n=args.n, worst=args.worst)
        except KeyError:
            raise CommandError(f"unknown user {_shown(args.user)}") from None
        which = "bottom" if args.worst else "top"
        print(f"{which} {len(items)} for user {args.user} (predicted rating):")
        for rank, (item, score) in enumerate(zip(items, scores), 1):
            title = titles.get(item.item() if hasattr(item, "item") else item, "")
            print(f"{rank:>3}. {score:5.2f}  {item}  {title}")
        return 0

    return handle


@command("evaluate", help="k-fold cross-validation of a model on a ratings file")
def _evaluate(parser):
    _data_arguments(parser)
    _model_arguments(parser)
    parser.add_argument("--folds", type=_integer(2, 1000), default=5,
                        help="number of folds (5)")

    def handle(args):
        from .model_selection import evaluate

        ratings, _ = _load_data(args)
        print(f"{args.data}: {ratings.shape[0]:,} users x {ratings.shape[1]:,} items, "
              f"{ratings.nnz:,} ratings; {args.folds}-fold cross-validation")
        print(evaluate(_make_model(args), ratings, folds=args.folds,
                       random_state=args.seed))
        # What the factors add: the bias-only baseline on the same folds.
        from .models.baseline import Baseline

        print(evaluate(Baseline(n_threads=args.threads), ratings, folds=args.folds,
                       metrics=("rmse", "mae"), random_state=args.seed))
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
    parser = _Parser(
        prog="lorank",
        description="Low-rank matrix decompositions and completion.",
    )
    parser.add_argument("--version", action="version", version=f"lorank {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback on errors"
    )
    # --debug also works after the subcommand; SUPPRESS keeps the subparser
    # from overwriting a --debug given before it.
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.subcommands = {}
    for name, (help, add) in COMMANDS.items():
        subparser = sub.add_parser(name, help=help, description=help, parents=[common])
        subparser.set_defaults(handler=add(subparser))
        parser.subcommands[name] = subparser
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
        args, extra = parser.parse_known_args(argv)
        if extra:  # reported by the subcommand's parser, which names it
            which = parser.subcommands.get(args.command, parser)
            which.error(f"unrecognized arguments: {' '.join(extra)}")
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
    except (CommandError, OSError, ValueError, TypeError, KeyError, ImportError,
            OverflowError, MemoryError) as exc:
        if args.debug:
            raise
        text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        message = _first_line(text) or type(exc).__name__
        if isinstance(exc, MemoryError):
            message = f"out of memory ({message})"
        print(f"lorank {args.command}: error: {message}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1
    except Exception as exc:  # a bug: still one line, the traceback on request
        if args.debug:
            raise
        print(f"lorank {args.command}: error: {type(exc).__name__}: {_first_line(exc)} "
              "(an internal error: run with --debug for the traceback)", file=sys.stderr)
        return 1


def _first_line(text, limit=500):
    lines = str(text).strip().splitlines()
    line = lines[0] if lines else ""
    return line if len(line) <= limit else line[:limit] + "..."
