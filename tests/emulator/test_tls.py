"""HTTPS: given a certificate and key the emulator serves TLS, and hands out https URLs."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import aiohttp
import trustme

from kling_async.emulator import Emulator, EmulatorConfig

from .._helpers import IMAGE, test_account, token


async def test_https_with_a_trustme_certificate(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    config = EmulatorConfig(
        accounts=[test_account()],
        tls_cert=cert_file,
        tls_key=key_file,
        duration=(0.05, 0.05),
        video_bytes=4096,
    )
    async with Emulator(config) as emu, aiohttp.ClientSession() as session:
        assert emu.url.startswith("https://127.0.0.1:")
        headers = {"Authorization": f"Bearer {token()}"}
        async with session.post(
            f"{emu.url}/v1/videos/image2video",
            ssl=client_ctx,
            headers=headers,
            json={"model_name": "kling-v2-6", "image": IMAGE},
        ) as r:
            created = await r.json()
        assert created["code"] == 0
        task_url = f"{emu.url}/v1/videos/image2video/{created['data']['task_id']}"
        for _ in range(100):
            async with session.get(task_url, ssl=client_ctx, headers=headers) as r:
                task = (await r.json())["data"]
            if task["task_status"] == "succeed":
                break
            await asyncio.sleep(0.02)
        assert task["task_status"] == "succeed"
        video_url = task["task_result"]["videos"][0]["url"]
        assert video_url.startswith("https://")
        async with session.get(video_url, ssl=client_ctx) as r:
            assert r.status == 200
            assert len(await r.read()) == config.video_bytes
        # a client that does not trust the CA is refused
        try:
            async with session.get(task_url, headers=headers) as r:
                raise AssertionError("an untrusted certificate was accepted")
        except aiohttp.ClientConnectorCertificateError:
            pass


def test_tls_needs_both_files() -> None:
    import pytest

    with pytest.raises(ValueError, match="tls_cert and tls_key"):
        EmulatorConfig(tls_cert=Path("cert.pem"))
