"""Mean word2vec overview embeddings (gensim).

Tutorial step: "Section 6 — word2vec features". The tutorial loads Google's pretrained
``GoogleNews-vectors-negative300.bin``, tokenises each overview (``RegexpTokenizer``, English
stop words removed), averages the vectors of the words it knows, and drops (and counts)
movies none of whose words are in the vocabulary.

Here:

* a configured pretrained file is loaded in any ``KeyedVectors`` format: word2vec binary
  (``.bin``, ``.bin.gz``, e.g. GoogleNews), word2vec/GloVe-with-header text (``.txt``,
  ``.vec``, optionally gzipped) or gensim's native ``KeyedVectors.save`` format (anything
  else); ``limit`` reads only the most frequent words of a huge file;
* with no file, ``Word2Vec`` is trained on the catalog's own *training* overviews with a
  fixed seed and one worker thread, which gensim documents as the deterministic setting;
  (the demo and CI never need a multi-gigabyte download);
* tokens come from :class:`genre_pipeline.features.text.OverviewTokenizer`, the same
  tokenizer the bag-of-words uses;
* movies with no in-vocabulary word are counted as dropped, as in the tutorial: the
  ``kept`` mask says which (their rows of the matrix are zero);
* :class:`WordVectors` remembers where the vectors came from: vectors trained here are
  saved with whoever keeps them (the feature result, a model), a pretrained file is
  referenced by its absolute path (a multi-gigabyte GoogleNews file is never copied).
  :func:`mean_word2vec` is the recipe the feature asset runs; its :class:`MeanWord2Vec`
  result saves into and loads from one folder.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from genre_pipeline.features.text import read_feature_folder, tokenize, write_feature_folder

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

__all__ = [
    "ArrayVectors",
    "MeanEmbeddings",
    "MeanWord2Vec",
    "Word2VecSettings",
    "WordVectors",
    "load_keyed_vectors",
    "mean_embeddings",
    "mean_word2vec",
    "train_word2vec",
]


@dataclass(frozen=True)
class Word2VecSettings:
    """Where word vectors come from. ``vectors_file`` set: pretrained; else trained here."""

    vectors_file: str | None = None
    limit: int | None = None  # read at most this many words of a pretrained word2vec-format file
    vector_size: int = 100
    window: int = 10  # an overview is one short paragraph: a wide window sees most of it
    min_count: int = 1
    epochs: int = 40  # a few thousand overviews are a tiny corpus: many passes help
    sg: int = 1  # skip-gram: better than CBOW on small corpora
    seed: int = 0
    max_token_passes: int = 10_000_000  # epochs x training tokens at most: large catalogs get fewer epochs

    def epochs_for(self, tokens: int) -> int:
        """The epochs to train over ``tokens`` training tokens: ``epochs``, fewer when that passes ``max_token_passes``."""
        return max(1, min(int(self.epochs), int(self.max_token_passes) // max(1, int(tokens))))

    @property
    def pretrained(self) -> bool:
        return bool(self.vectors_file)

    def describe(self) -> dict:
        if self.pretrained:
            return {"source": "pretrained", "vectors_file": str(self.vectors_file), "limit": self.limit}
        return {"source": "trained on the catalog's training overviews", **{k: v for k, v in asdict(self).items() if k not in ("vectors_file", "limit")}}


@dataclass
class ArrayVectors:
    """Word vectors as two arrays (what :func:`mean_embeddings` reads), loaded without gensim (~2 s of imports)."""

    index_to_key: list[str]
    vectors: np.ndarray  # (words, vector size) float32

    def __post_init__(self) -> None:
        self.key_to_index = {word: i for i, word in enumerate(self.index_to_key)}

    @property
    def vector_size(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.index_to_key)


def load_keyed_vectors(path: str | os.PathLike, limit: int | None = None) -> KeyedVectors:
    """Load pretrained vectors in whichever format ``path`` is in (see module docstring)."""
    from gensim.models import KeyedVectors
    target = Path(path).expanduser()
    if not target.is_file():
        raise FileNotFoundError(
            f"word vectors file not found: {target}. Give a word2vec binary (e.g. GoogleNews-vectors-negative300.bin.gz), "
            "a word2vec text file or a gensim KeyedVectors file, or leave it unset to train word2vec on the catalog."
        )
    name = target.name.lower()
    if name.endswith((".bin", ".bin.gz")):
        return KeyedVectors.load_word2vec_format(str(target), binary=True, limit=limit)
    if name.endswith((".txt", ".vec", ".txt.gz", ".vec.gz")):
        return KeyedVectors.load_word2vec_format(str(target), binary=False, limit=limit)
    return KeyedVectors.load(str(target), mmap="r")


def train_word2vec(token_lists: Sequence[Sequence[str]], settings: Word2VecSettings | None = None) -> KeyedVectors:
    """Train ``Word2Vec`` on tokenised overviews; deterministic for a given input and settings."""
    from gensim.models import Word2Vec

    settings = settings or Word2VecSettings()
    sentences = [list(tokens) for tokens in token_lists if tokens]
    if not sentences:
        raise ValueError("cannot train word2vec: no overview has any usable word")
    model = Word2Vec(sentences=sentences, vector_size=settings.vector_size, window=settings.window, min_count=settings.min_count,
                     sg=settings.sg, epochs=settings.epochs_for(sum(len(tokens) for tokens in sentences)), seed=settings.seed,
                     workers=1)
    if len(model.wv) == 0:
        raise ValueError(f"word2vec learned no word (min_count={settings.min_count} over {len(sentences)} overviews)")
    return model.wv


@dataclass
class MeanEmbeddings:
    """Mean word vector per input text; ``kept[i]``: text ``i`` has a known word (else its row is zero)."""

    matrix: np.ndarray  # (input texts, vector size) float32
    kept: np.ndarray  # (input texts,) bool
    words_used: np.ndarray  # (input texts,) int: in-vocabulary tokens averaged

    @property
    def dropped(self) -> int:
        return int((~self.kept).sum())


def mean_embeddings(texts_or_tokens: Sequence, kv: KeyedVectors) -> MeanEmbeddings:
    """Average the vectors of in-vocabulary tokens of each overview (raw text or token list)."""
    matrix = np.zeros((len(texts_or_tokens), int(kv.vector_size)), dtype=np.float32)
    kept = np.zeros(len(texts_or_tokens), dtype=bool)
    used = np.zeros(len(texts_or_tokens), dtype=np.int64)
    index = kv.key_to_index
    for i, item in enumerate(texts_or_tokens):
        tokens = tokenize(item) if (item is None or isinstance(item, str)) else list(item)
        known = [index[t] for t in tokens if t in index]
        if known:
            kept[i] = True
            used[i] = len(known)
            matrix[i] = np.asarray(kv.vectors[known], dtype=np.float32).mean(axis=0)
    return MeanEmbeddings(matrix=matrix, kept=kept, words_used=used)


@dataclass
class WordVectors:
    """Word vectors and their origin: trained here (saved with their keeper) or a pretrained file (referenced)."""

    settings: Word2VecSettings
    keyed_vectors: KeyedVectors | ArrayVectors | None = None  # a pretrained file is read on first use

    SETTINGS_FILE = "word_vectors.json"
    VECTORS_FILE = "word_vectors.bin"  # word2vec binary (folders written before the arrays file)
    ARRAYS_FILE = "word_vectors.npz"

    @classmethod
    def build(cls, train_tokens: Sequence[Sequence[str]], settings: Word2VecSettings | None = None) -> WordVectors:
        """The configured pretrained vectors, else word2vec trained (seeded) on ``train_tokens``."""
        settings = settings or Word2VecSettings()
        if settings.pretrained:
            resolved = Word2VecSettings(**{**asdict(settings), "vectors_file": str(Path(settings.vectors_file).expanduser().resolve())})
            return cls(resolved, load_keyed_vectors(resolved.vectors_file, resolved.limit))
        return cls(settings, train_word2vec(train_tokens, settings))

    @property
    def kv(self) -> KeyedVectors | ArrayVectors:
        if self.keyed_vectors is None:
            self.keyed_vectors = load_keyed_vectors(self.settings.vectors_file, self.settings.limit)
        return self.keyed_vectors

    def mean(self, texts: Sequence) -> MeanEmbeddings:
        """:func:`mean_embeddings` of raw texts (or token lists) with these vectors."""
        return mean_embeddings(list(texts), self.kv)

    def save(self, folder: Path) -> Path:
        """Write the settings (and the vectors, when trained here) into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / self.SETTINGS_FILE).write_text(json.dumps(asdict(self.settings), indent=2, sort_keys=True) + "\n")
        if not self.settings.pretrained:
            np.savez(folder / self.ARRAYS_FILE, words=np.array(list(self.kv.index_to_key), dtype=str),
                     vectors=np.asarray(self.kv.vectors, dtype=np.float32))
        return folder

    @classmethod
    def load(cls, folder: Path) -> WordVectors:
        folder = Path(folder)
        settings = Word2VecSettings(**json.loads((folder / cls.SETTINGS_FILE).read_text()))
        if settings.pretrained:
            return cls(settings)
        if (folder / cls.ARRAYS_FILE).is_file():
            with np.load(folder / cls.ARRAYS_FILE, allow_pickle=False) as arrays:
                return cls(settings, ArrayVectors([str(w) for w in arrays["words"]], np.asarray(arrays["vectors"], dtype=np.float32)))
        return cls(settings, load_keyed_vectors(folder / cls.VECTORS_FILE))


@dataclass
class MeanWord2Vec:
    """Every movie's mean word vector (rows in ``ids`` order; zero where ``kept`` is false) and the vectors used."""

    ids: np.ndarray
    kept: np.ndarray
    matrix: np.ndarray  # (movies, vector size) float32
    vectors: WordVectors
    info: dict = field(default_factory=dict)

    def save(self, folder: Path) -> Path:
        """Write ids, kept mask, matrix, info and the word vectors (when trained here) into ``folder``."""
        folder = write_feature_folder(folder, self.info, ids=np.asarray(self.ids, dtype=np.int64), kept=self.kept,
                                      matrix=self.matrix)
        self.vectors.save(folder)
        return folder

    @classmethod
    def load(cls, folder: Path) -> MeanWord2Vec:
        (ids, kept, matrix), info = read_feature_folder(folder, "ids", "kept", "matrix")
        return cls(ids=ids, kept=kept, matrix=matrix, vectors=WordVectors.load(folder), info=info)


def mean_word2vec(overviews: Sequence[str], ids: Sequence[int], fit_mask: Sequence[bool],
                  settings: Word2VecSettings | None = None) -> MeanWord2Vec:
    """Word vectors (pretrained, or trained on the overviews where ``fit_mask``) and every movie's mean vector.

    Only the training overviews' tokens are held at once, each word one shared string
    (``sys.intern``): a million overviews' ~30 million tokens would hold ~2 GB as separate
    strings. The means are taken one overview at a time.
    """
    mask = np.asarray(fit_mask, dtype=bool)
    if len(overviews) != len(mask) or len(overviews) != len(ids):
        raise ValueError(f"overviews ({len(overviews)}), ids ({len(ids)}) and fit_mask ({len(mask)}) must have the same length")
    vectors = WordVectors.build([[sys.intern(t) for t in tokenize(o)] for o, m in zip(overviews, mask) if m], settings)
    embedded = mean_embeddings(list(overviews), vectors.kv)
    info = {**vectors.settings.describe(), "vocabulary": len(vectors.kv), "dim": int(vectors.kv.vector_size),
            "movies": len(overviews), "movies_without_known_words": embedded.dropped}
    return MeanWord2Vec(ids=np.asarray(ids, dtype=np.int64), kept=embedded.kept, matrix=embedded.matrix, vectors=vectors, info=info)
