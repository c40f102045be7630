"""``python -m sandbox --port 8073``: serve the ESP emulator until Ctrl-C."""

import argparse
import logging
import signal

from .server import Sandbox


def main(argv=None):
    """Parse the options and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8073)
    parser.add_argument("--no-validate", action="store_true")
    parser.add_argument("--no-rate-limits", action="store_true")
    parser.add_argument("--rate-limit-scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    sandbox = Sandbox(
        port=args.port,
        host=args.host,
        validate=not args.no_validate,
        rate_limits=not args.no_rate_limits,
        rate_limit_scale=args.rate_limit_scale,
        seed=args.seed,
    )
    signal.signal(signal.SIGTERM, _interrupt)
    sandbox.start()
    logging.info(
        "ESP sandbox on %s (providers: %s)", sandbox.url, ", ".join(sandbox.apps)
    )
    sandbox.serve_forever()


def _interrupt(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
