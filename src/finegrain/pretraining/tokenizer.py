"""A WordPiece tokenizer trained on the corpus, character-level for Chinese and Japanese.

Every CJK ideograph and kana is split off as its own word before WordPiece runs, so Chinese and
Japanese text becomes one token per character (no word segmentation needed, and whole-word
masking masks characters); other scripts are split on whitespace and punctuation as in BERT.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from finegrain.errors import ConfigError

__all__ = ["train_tokenizer", "SPECIAL_TOKENS", "CJK_CHARACTER"]

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# CJK ideographs (with extension A and compatibility), hiragana, katakana, half-width katakana.
CJK_CHARACTER = "[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]"


def train_tokenizer(documents: Iterable[str], *, vocab_size: int, lowercase: bool, max_length: int,
                    min_frequency: int = 2) -> PreTrainedTokenizerFast:
    """Train WordPiece on ``documents``; a ConfigError when the corpus cannot fill ``vocab_size``.

    Example:
        >>> tok = train_tokenizer(["我爱北京 hello world"] * 3, vocab_size=40, lowercase=True, max_length=16,
        ...                       min_frequency=1)  # doctest: +SKIP
        >>> tok.tokenize("我爱 hello")  # doctest: +SKIP
        ['我', '爱', 'hello']
    """
    core = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    # NFKC folds full-width digits and letters (common in Chinese text) into their ASCII forms;
    # accents are kept: stripping them would also strip the voicing marks of Japanese kana.
    core.normalizer = normalizers.Sequence([
        normalizers.NFKC(),
        normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False,
                                   lowercase=lowercase),
    ])
    core.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(CJK_CHARACTER), behavior="isolated"), pre_tokenizers.BertPreTokenizer()])
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                        special_tokens=SPECIAL_TOKENS, show_progress=False)
    core.train_from_iterator(documents, trainer)
    found = core.get_vocab_size()
    if found < vocab_size:
        raise ConfigError(f"model.vocab_size={vocab_size} is larger than this corpus can fill: WordPiece found"
                          f" only {found} tokens (characters, pieces and words seen at least {min_frequency} times).",
                          hint=f"Set model.vocab_size={found} or less, or pretrain on more text.")
    cls_id, sep_id = core.token_to_id("[CLS]"), core.token_to_id("[SEP]")
    core.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
    core.decoder = decoders.WordPiece()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="[UNK]", pad_token="[PAD]",
                                        cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    tokenizer.model_max_length = max_length
    return tokenizer
