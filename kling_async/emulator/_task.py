"""One task and the shapes it is answered in: the legacy task object and the new one.

Video tasks give one video; image tasks (``product == "image"``) give ``count`` images. The new
shape (``GET /tasks``, ``POST /tasks``, new-wire callbacks) lists them in ``outputs`` and the
charge in ``billing``: ``{charge_type: "unit", amount, package_type}`` from a resource pack, or
``{charge_type: "cash", cash_type: "balance", amount, currency, list_price}`` from the balance
(the vendor's field notes say which keys each case carries). The legacy shape carries
``final_unit_deduction`` and, when paid in cash or for an image task (the image pages document
it always), ``final_balance_deduction {quota, list_price}``.
"""

from __future__ import annotations

from typing import Any

import attrs

from ._shared import TaskSpec

FINAL = ("succeed", "failed")
#: The new wire's spelling of the internal (legacy) statuses.
NEW_STATUS = {
    "submitted": "submitted",
    "processing": "processing",
    "succeed": "succeeded",
    "failed": "failed",
}


def units_text(value: float) -> str:
    """A unit or money amount as the API writes it: a decimal string, no float noise."""
    return f"{round(value, 6):g}"


@attrs.frozen
class Charge:
    """What a successful task is charged: units from a pack, or cash from the balance."""

    units: float
    cash: bool = False
    amount: float = 0.0  # cash: the discounted price taken from the balance
    list_price: float = 0.0
    currency: str = ""


@attrs.define(eq=False)
class EmuTask:
    """One task with its whole future already drawn: when it starts processing and how it ends."""

    task_id: str
    account: str
    spec: TaskSpec
    created: float
    processing_at: float
    ends_at: float
    outcome: str
    status_msg: str
    charge: Charge
    video_id: str
    video_seconds: float
    #: Order of creation in the whole store (newest highest): the cursor list's position.
    seq: int = 0
    settled: bool = False

    @property
    def units(self) -> float:
        """Units taken from the pack (0 when paid in cash)."""
        return 0.0 if self.charge.cash else self.charge.units

    def status(self, now: float) -> str:
        if now >= self.ends_at:
            return self.outcome
        return "processing" if now >= self.processing_at else "submitted"

    def updated(self, now: float) -> float:
        if now >= self.ends_at:
            return self.ends_at
        return self.processing_at if now >= self.processing_at else self.created

    def shaped(self, now: float, base_url: str) -> dict[str, Any]:
        """The task object in the shape of the wire it was created on."""
        if self.spec.wire == "new":
            return self.new_body(now, base_url)
        return self.body(now, base_url)

    # -- results -----------------------------------------------------------------------
    def image_names(self) -> list[str]:
        """File names of an image task's images (``<id>-<index>.png``), in order."""
        return [f"{self.video_id}-{i}.png" for i in range(self.spec.count)]

    def _video(self, base_url: str) -> dict[str, str]:
        return {
            "id": self.video_id,
            "url": f"{base_url}/__files__/{self.video_id}.mp4",
            "watermark_url": f"{base_url}/__files__/{self.video_id}-wm.mp4",
            "duration": f"{self.video_seconds:.1f}",
        }

    def _images(self, base_url: str) -> list[dict[str, Any]]:
        return [
            {
                "index": i,
                "url": f"{base_url}/__files__/{name}",
                "watermark_url": f"{base_url}/__files__/{name.removesuffix('.png')}-wm.png",
            }
            for i, name in enumerate(self.image_names())
        ]

    # -- the new shape -----------------------------------------------------------------
    def new_body(self, now: float, base_url: str) -> dict[str, Any]:
        """The task object as the new API shapes it (``id``, ``status``, ``outputs``...)."""
        status = self.status(now)
        body: dict[str, Any] = {
            "id": self.task_id,
            "status": NEW_STATUS[status],
            "message": self.status_msg if status == "failed" else "",
            "create_time": int(self.created * 1000),
            "update_time": int(self.updated(now) * 1000),
            "external_id": self.spec.external_task_id or "",
            "outputs": [],
            "billing": [],
        }
        if status == "succeed":
            if self.spec.product == "image":
                body["outputs"] = [
                    {"type": "image", "url": image["url"], "watermark_url": image["watermark_url"]}
                    for image in self._images(base_url)
                ]
            else:
                body["outputs"] = [{"type": "video", **self._video(base_url)}]
        if status in FINAL:
            body["billing"] = [self._billing(paid=status == "succeed")]
        return body

    def _billing(self, *, paid: bool) -> dict[str, str]:
        charge = self.charge
        if not charge.cash:
            amount = units_text(charge.units if paid else 0)
            return {"charge_type": "unit", "amount": amount, "package_type": self.spec.product}
        return {
            "charge_type": "cash",
            "cash_type": "balance",
            "amount": units_text(charge.amount if paid else 0),
            "currency": charge.currency,
            "list_price": units_text(charge.list_price if paid else 0),
        }

    # -- the legacy shape --------------------------------------------------------------
    def body(self, now: float, base_url: str) -> dict[str, Any]:
        """The task object exactly as the legacy API shapes it (milliseconds, strings)."""
        status = self.status(now)
        paid = status == "succeed"
        body: dict[str, Any] = {
            "task_id": self.task_id,
            "task_status": status,
            "task_status_msg": self.status_msg if status == "failed" else "",
            "task_info": {"external_task_id": self.spec.external_task_id or ""},
            "created_at": int(self.created * 1000),
            "updated_at": int(self.updated(now) * 1000),
            "final_unit_deduction": units_text(self.units if paid else 0),
        }
        image = self.spec.product == "image"
        if self.charge.cash or image:
            cash = self.charge.cash and paid
            body["final_balance_deduction"] = {
                "quota": units_text(self.charge.amount if cash else 0),
                "list_price": units_text(self.charge.list_price if cash else 0),
            }
        if image:
            body["watermark_info"] = {"enabled": self.spec.watermark}
        if paid:
            results = self._images(base_url) if image else [self._video(base_url)]
            body["task_result"] = {"images" if image else "videos": results}
        elif status == "failed":
            body["task_result"] = {}
        return body


def family(spec: TaskSpec) -> str:
    """The concurrency family a task counts in (``_models``; image tasks: per image model)."""
    return spec.family or spec.model
