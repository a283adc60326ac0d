"""What each modality's encoder takes, from a batch of decoded item content."""

from __future__ import annotations


def encoder_inputs(modality: str, batch: dict):
    """The input of a `modality` encoder from an `ItemLoader` or `ItemContent` batch:
    the modality's tensor; for text, the string (`TextOptions(output="string")`)
    or `{"token_ids", "padding_mask"}` as keras-hub backbones take them."""
    if modality != "text":
        return batch[modality]
    if "text" in batch:
        return batch["text"]
    return {"token_ids": batch["text_token_ids"], "padding_mask": batch["text_padding_mask"]}
