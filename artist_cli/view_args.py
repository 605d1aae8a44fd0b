"""The --views / --flips options that evaluate and predict share."""
from __future__ import annotations

from transforms.flips import FLIPS
from transforms.views import default_views, parse_views


def add_view_arguments(parser) -> None:
    """--views (default from configs/inference.yaml) or --flips."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--views", default=",".join(default_views()),
                       help="comma-separated test-time views to average: plain, hflip, vflip, hvflip, x<scale> "
                            "(default from configs/inference.yaml: %(default)s)")
    group.add_argument("--flips", action="store_true", help="average the 4 flips (same as --views " + ",".join(FLIPS) + ")")


def views_from_args(args) -> list[str]:
    """The checked views that `add_view_arguments` parsed; ValueError for an unknown one."""
    return list(FLIPS) if args.flips else parse_views(args.views)
