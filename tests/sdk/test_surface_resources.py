"""``client.omni_video``, ``client.motion_control`` and ``client.images`` against a small
stand-in of the API on 127.0.0.1 (port 0): the path each create goes to, where each kind of
task is looked up, and the download of every image of an image task."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import kling_async as kling

FAST = kling.WaitPolicy(first_poll=0.01, min_interval=0.01, max_interval=0.02, timeout=10)
PICTURES = {f"/files/{i}.{ext}": f"image {i}".encode() for i, ext in ((0, "png"), (1, "jpg"))}


class Stand:
    """Creates answer ``submitted``; the first query of a task ``processing``, later ones
    ``succeeded`` (``succeed`` on the image API) with its outputs."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, Any]] = []
        self.looks: dict[str, int] = {}
        self.base = ""

    def _done(self, ident: str) -> bool:
        self.looks[ident] = self.looks.get(ident, 0) + 1
        return self.looks[ident] > 1

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        body = json.loads(await request.text()) if request.can_read_body else None
        self.seen.append((request.method, request.path_qs, body))
        if path.startswith("/files/"):
            return (
                web.Response(body=PICTURES[path]) if path in PICTURES else web.Response(status=404)
            )
        if request.method == "POST" and path == "/v1/images/generations":
            ext = body["external_task_id"]
            data: Any = {
                "task_id": "img-1",
                "task_status": "submitted",
                "task_info": {"external_task_id": ext},
            }
        elif path.startswith("/v1/images/generations/"):
            done = self._done("img-1")
            data = {
                "task_id": "img-1",
                "task_status": "succeed" if done else "processing",
                "final_unit_deduction": "2",
                "final_balance_deduction": {"quota": "0.14", "list_price": "0.2"},
                "task_result": {
                    "images": [{"index": i, "url": self.base + p} for i, p in enumerate(PICTURES)]
                    if done
                    else []
                },
            }
        elif request.method == "POST" and path.startswith(("/omni-video/", "/motion-control/")):
            ident = "omni-1" if path.startswith("/omni") else "motion-1"
            data = {
                "id": ident,
                "status": "submitted",
                "external_id": body["options"]["external_task_id"],
            }
        elif request.method == "GET" and path == "/tasks":
            ident = request.query.get("task_ids", "")
            done = self._done(ident)
            data = [
                {
                    "id": ident,
                    "status": "succeeded" if done else "processing",
                    "outputs": [
                        {
                            "type": "video",
                            "id": "v",
                            "url": self.base + "/files/0.png",
                            "duration": "5",
                        }
                    ]
                    if done
                    else [],
                    "billing": [{"charge_type": "cash", "amount": "0.9", "currency": "USD"}],
                }
            ]
        else:
            return web.json_response({"code": 1202, "message": "no such method", "data": None})
        return web.json_response({"code": 0, "message": "SUCCEED", "request_id": "r", "data": data})


@contextlib.asynccontextmanager
async def stand() -> AsyncIterator[tuple[kling.KlingClient, Stand]]:
    fake = Stand()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    fake.base = str(server.make_url("")).rstrip("/")
    client = kling.KlingClient(api_key="k", base_url=fake.base, wait=FAST)
    try:
        yield client, fake
    finally:
        await client.close()
        await server.close()


async def test_omni_video_is_created_in_the_models_path_and_queried_through_tasks() -> None:
    async with stand() as (client, fake):
        task = await client.omni_video.create(prompt="a parrot", model="kling-o1", mode="pro")
        assert (task.task_id, task.kind, task.wire) == ("omni-1", "omni_video", "new")
        done = await client.omni_video.wait(task)
        assert done.cost == kling.Cost(Decimal("0.9"), "USD")
        assert [v.url for v in done.videos] == [fake.base + "/files/0.png"]
        assert fake.seen[0][:2] == ("POST", "/omni-video/kling-o1")
        assert fake.seen[0][2]["settings"] == {"resolution": "1080p"}
        assert all(method == "GET" and qs.startswith("/tasks?") for method, qs, _ in fake.seen[1:])
        assert client.resource_for("omni_video") is client.omni_video
        with pytest.raises(kling.ValidationError, match="'new'"):
            await client.omni_video.get("omni-1", api="legacy")


async def test_motion_control_is_created_in_the_models_path(tmp_path: Path) -> None:
    async with stand() as (client, fake):
        path = await client.motion_control.generate(
            kling.MotionControl(
                model="kling-3.0",
                image="https://example.com/me.png",
                video_url="https://example.com/dance.mp4",
                character_orientation="video",
            ),
            output=tmp_path / "out.mp4",
        )
        assert path.read_bytes() == PICTURES["/files/0.png"]
        assert fake.seen[0][:2] == ("POST", "/motion-control/kling-3.0")
        assert client.resource_for("motion_control") is client.motion_control


async def test_images_are_created_on_the_image_api_and_every_one_downloaded(
    tmp_path: Path,
) -> None:
    async with stand() as (client, fake):
        task = await client.images.create(prompt="a puppy", n=2, external_task_id="pup-1")
        assert (task.task_id, task.kind, task.wire) == ("img-1", "images", "legacy")
        assert fake.seen[0][:2] == ("POST", "/v1/images/generations")
        assert fake.seen[0][2]["model_name"] == "kling-v3"
        done = await client.images.wait(task)
        assert [i.index for i in done.images] == [0, 1]
        assert done.units == 2.0
        assert done.cost is not None
        assert str(done.cost.amount) == "0.14"
        paths = await client.images.download(done, tmp_path / "pups")
        assert [p.name for p in paths] == ["img-1-0.png", "img-1-1.jpg"]
        assert [p.read_bytes() for p in paths] == list(PICTURES.values())
        assert not list((tmp_path / "pups").glob("*.part"))
        assert fake.seen[1][1] == "/v1/images/generations/img-1"
        assert client.resource_for("images") is client.images
        with pytest.raises(kling.DownloadError, match="not succeeded"):
            await client.images.download(task, tmp_path / "early")


async def test_images_generate_keeps_every_image_in_the_folder(tmp_path: Path) -> None:
    async with stand() as (client, _):
        folder = await client.images.generate(prompt="a puppy", n=2, output=tmp_path / "all")
        assert folder == tmp_path / "all"
        assert sorted(p.name for p in folder.iterdir()) == ["img-1-0.png", "img-1-1.jpg"]


async def test_one_image_that_cannot_be_fetched_fails_the_download_with_its_own_error(
    tmp_path: Path,
) -> None:
    async with stand() as (client, fake):
        task = await client.images.wait(await client.images.create(prompt="a puppy", n=2))
        broken = kling.models.attrs.evolve(
            task,
            images=(task.images[0], kling.Image(1, fake.base + "/files/missing.jpg")),
        )
        with pytest.raises(kling.KlingError) as caught:  # not an ExceptionGroup
            await client.images.download(broken, tmp_path / "pups")
        assert not isinstance(caught.value, BaseExceptionGroup)
        assert not (tmp_path / "pups" / "img-1-1.jpg").exists()
