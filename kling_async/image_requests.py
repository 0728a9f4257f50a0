"""``ImageGeneration``: images from a prompt (and perhaps a reference image or elements) —
``POST /v1/images/generations``, the legacy-style API (``model_name`` in the body, tasks as
``task_id``/``task_status``/``task_result.images``). ``client.images`` sends it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs

from .models import CreateDelivery, Element, ImageInput, shared_last, to_elements

#: What the reference image gives: its subject, or its (one) face.
ImageReference = Literal["subject", "face"]
ImageResolution = Literal["1k", "2k"]
ImageAspectRatio = Literal["16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9"]


@attrs.frozen(kw_only=True, field_transformer=shared_last)
class ImageGeneration(CreateDelivery):
    """One image-generation create: ``n`` (1-9) images of ``prompt``. Fields left None are
    not sent (the service's defaults: 1k, 16:9, fidelities 0.5 / 0.45). ``callback_url``, an
    http(s) URL, may be ``""``: sent as given (the vendor's own example does). Also every
    create's ``watermark``, ``callback_url`` and ``external_task_id``
    (``models.CreateDelivery``)."""

    prompt: str | None = None
    #: Not with ``image`` (image to image), except the empty string.
    negative_prompt: str | None = None
    #: ``kling-v3`` (default) or ``kling-v2-1``.
    model: str = "kling-v3"
    image: ImageInput | None = None
    image_reference: ImageReference | None = None
    #: 0-1, kling-v2-1 only.
    image_fidelity: float | None = None
    human_fidelity: float | None = None
    elements: tuple[int | str | Element, ...] = attrs.field(default=(), converter=to_elements)
    resolution: ImageResolution | None = None
    n: int = 1
    aspect_ratio: ImageAspectRatio | None = None
    #: Forward compatibility: merged last into the body, as given.
    extra_body: Mapping[str, Any] | None = None

    @property
    def slots(self) -> int:
        """Concurrency slots the task holds: one per image (``n``), as Kling counts them."""
        return self.n if isinstance(self.n, int) and not isinstance(self.n, bool) else 1


__all__ = ["ImageAspectRatio", "ImageGeneration", "ImageReference", "ImageResolution"]
