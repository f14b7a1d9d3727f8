"""A real WordPiece tokenizer built from a vocabulary file generated on the spot: no
hub, no network."""

from __future__ import annotations

from pathlib import Path

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def tiny_wordpiece_tokenizer(directory: Path, n_words: int = 200):
    """Special tokens, then words `w0..w{n-1}` and a few `##` pieces, wrapped as
    transformers' fast tokenizer."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = (
        SPECIAL_TOKENS
        + [f"w{i}" for i in range(n_words)]
        + [f"##s{i}" for i in range(20)]
    )
    path = Path(directory) / "vocab.txt"
    path.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tok = Tokenizer(models.WordPiece.from_file(str(path), unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[
            ("[CLS]", vocab.index("[CLS]")),
            ("[SEP]", vocab.index("[SEP]")),
        ],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
