"""Run one benchmark: ``python bench/run.py NAME [--size small|full] [--threads N]``.

Imports ``bench/bench_NAME.py``, runs it with every BLAS limited to the same
thread count, prints a table and writes ``bench/results/NAME.json``
(``NAME-small.json`` for ``--size small``) with the machine's facts.
"""

import argparse
import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def available():
    return sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=available(), help="benchmark to run")
    parser.add_argument("--size", choices=("small", "full"), default="full",
                        help="small runs in seconds; full is the recorded size (default)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for lorank and BLAS (default: usable cores)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(HERE))
    import _common
    from threadpoolctl import threadpool_limits

    from lorank._threads import effective_n_threads

    threads = effective_n_threads(args.threads)
    module = importlib.import_module(f"bench_{args.name}")
    parameters = module.parameters(args.size) if hasattr(module, "parameters") else {}
    notes = getattr(module, "NOTES", "").strip()

    with threadpool_limits(limits=threads, user_api="blas"):
        rows = module.run(args.size, threads)
        facts = _common.machine_facts(threads)  # inside: BLAS threads as used

    print(f"{args.name} ({args.size}): {_common.summary(facts)}")
    if parameters:
        print("parameters: " + ", ".join(f"{k}={v}" for k, v in parameters.items()))
    print(_common.format_table(rows))
    if notes:
        print(notes)
    path = _common.write_record(args.name, args.size, facts, parameters, rows, notes)
    print(f"wrote {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
