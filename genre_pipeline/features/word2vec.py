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
* movies with no in-vocabulary word are dropped from the embedding matrix and counted,
  as in the tutorial; the kept mask says which.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from gensim.models import KeyedVectors, Word2Vec

from genre_pipeline.storage.atomic import atomic_write
from genre_pipeline.features.text import tokenize

__all__ = [
    "MeanEmbeddings",
    "Word2VecSettings",
    "load_keyed_vectors",
    "mean_embeddings",
    "save_keyed_vectors",
    "train_word2vec",
    "word_vectors",
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

    def describe(self) -> dict:
        if self.vectors_file:
            return {"source": "pretrained", "vectors_file": str(self.vectors_file), "limit": self.limit}
        return {"source": "trained on the catalog's training overviews", **{k: v for k, v in asdict(self).items() if k not in ("vectors_file", "limit")}}


def load_keyed_vectors(path: str | os.PathLike, limit: int | None = None) -> KeyedVectors:
    """Load pretrained vectors in whichever format ``path`` is in (see module docstring)."""
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
    settings = settings or Word2VecSettings()
    sentences = [list(tokens) for tokens in token_lists if tokens]
    if not sentences:
        raise ValueError("cannot train word2vec: no overview has any usable word")
    model = Word2Vec(
        sentences=sentences,
        vector_size=settings.vector_size,
        window=settings.window,
        min_count=settings.min_count,
        sg=settings.sg,
        epochs=settings.epochs,
        seed=settings.seed,
        workers=1,
    )
    if len(model.wv) == 0:
        raise ValueError(f"word2vec learned no word (min_count={settings.min_count} over {len(sentences)} overviews)")
    return model.wv


def word_vectors(token_lists: Sequence[Sequence[str]], settings: Word2VecSettings | None = None) -> KeyedVectors:
    """Pretrained vectors when configured, else vectors trained on ``token_lists``."""
    settings = settings or Word2VecSettings()
    if settings.vectors_file:
        return load_keyed_vectors(settings.vectors_file, settings.limit)
    return train_word2vec(token_lists, settings)


def save_keyed_vectors(kv: KeyedVectors, path: str | os.PathLike) -> Path:
    """Persist vectors as one word2vec binary file (atomic)."""
    return atomic_write(path, lambda tmp: kv.save_word2vec_format(str(tmp), binary=True))


def vectors_fingerprint(kv: KeyedVectors) -> str:
    digest = hashlib.sha256()
    digest.update("\n".join(kv.index_to_key).encode("utf-8"))
    digest.update(np.ascontiguousarray(kv.vectors, dtype=np.float32).tobytes())
    return digest.hexdigest()[:16]


@dataclass
class MeanEmbeddings:
    """Mean word vector per kept movie. ``kept[i]`` says whether input movie ``i`` has a row."""

    matrix: np.ndarray  # (kept movies, vector size) float32
    kept: np.ndarray  # (input movies,) bool
    words_used: np.ndarray  # (input movies,) int: in-vocabulary tokens averaged

    @property
    def dropped(self) -> int:
        return int((~self.kept).sum())


def mean_embeddings(texts_or_tokens: Sequence, kv: KeyedVectors) -> MeanEmbeddings:
    """Average the vectors of in-vocabulary tokens of each overview (raw text or token list)."""
    dim = int(kv.vector_size)
    rows: list[np.ndarray] = []
    kept = np.zeros(len(texts_or_tokens), dtype=bool)
    used = np.zeros(len(texts_or_tokens), dtype=np.int64)
    index = kv.key_to_index
    for i, item in enumerate(texts_or_tokens):
        tokens = tokenize(item) if (item is None or isinstance(item, str)) else list(item)
        known = [index[t] for t in tokens if t in index]
        if not known:
            continue
        kept[i] = True
        used[i] = len(known)
        rows.append(np.asarray(kv.vectors[known], dtype=np.float32).mean(axis=0))
    matrix = np.vstack(rows).astype(np.float32) if rows else np.zeros((0, dim), dtype=np.float32)
    return MeanEmbeddings(matrix=matrix, kept=kept, words_used=used)
