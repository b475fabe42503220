"""The HTTP API's costs: identify overhead over the model time, and SSE fan-out.

``python -m bench.api [--requests 50] [--subscribers 100] [--records 300]`` on a
private embedded stack, the dlib models, a 640x480 photo with one face:

- identify: p50/p95 of the HTTP round trip (upload, decode, checks, models,
  search, JSON) and of the model time alone (detect + embed + search in the same
  process on the same pixels); the overhead is their difference.
- SSE: ``--subscribers`` clients on ``/v1/events``; records are written to the
  results stream as the matcher writes them; each client must receive every
  record; the time from XADD to the last client's receipt is reported.
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
from pathlib import Path

import httpx
import msgpack
import numpy as np
from PIL import Image

from config.settings import Settings
from facestream.api.context import ApiContext
from facestream.apikeys import ApiKeys
from facestream.services import Services
from facestream.stack import EmbeddedStack
from tests.support.api_server import api_server
from tests.support.sse import SseClient
from workers import keys
from workers.bus import FIELD

PHOTO = Path(__file__).resolve().parents[1] / "examples" / "gallery" / "obama" / "obama.jpg"


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q))


def photo_640x480() -> tuple[bytes, np.ndarray]:
    image = Image.open(PHOTO).convert("RGB")
    image.thumbnail((640, 480))
    canvas = Image.new("RGB", (640, 480), (90, 90, 90))
    canvas.paste(image, ((640 - image.width) // 2, (480 - image.height) // 2))
    buf = io.BytesIO()
    canvas.save(buf, "JPEG", quality=90)
    return buf.getvalue(), np.asarray(canvas)


def bench_identify(url: str, headers: dict, ctx: ApiContext, n: int) -> dict:
    data, rgb = photo_640x480()
    engine = ctx.engine()
    gallery = ctx.gallery("default")
    index = gallery.index(engine.embedder.name)
    # one person enrolled, so the search is a real one
    pid = gallery.people.get_or_create("obama")
    index.insert(pid, engine.faces_in_rgb(rgb, "p.jpg").embeddings[:1])
    http, model = [], []
    for _ in range(3):  # warm: models loaded, collection loaded, connections open
        httpx.post(f"{url}/v1/collections/default/identify", files={"image": ("p.jpg", data)},
                   headers=headers, timeout=120)  # fmt: skip
    with httpx.Client(timeout=120) as client:
        for _ in range(n):
            started = time.perf_counter()
            got = client.post(
                f"{url}/v1/collections/default/identify",
                files={"image": ("p.jpg", data, "image/jpeg")},
                headers=headers,
            )
            http.append(time.perf_counter() - started)
            assert got.status_code == 200 and got.json()["faces"][0]["name"] == "obama", got.text
            started = time.perf_counter()
            found = engine.faces_in_rgb(rgb, "p.jpg")
            index.search(found.embeddings, ctx.settings.match.top_k)
            model.append(time.perf_counter() - started)
    over = [h - m for h, m in zip(http, model, strict=True)]
    return {
        "requests": n,
        "http_p50_ms": pct(http, 50),
        "http_p95_ms": pct(http, 95),
        "model_p50_ms": pct(model, 50),
        "model_p95_ms": pct(model, 95),
        "overhead_p50_ms": pct(over, 50),
        "overhead_p95_ms": pct(over, 95),
    }


def bench_sse(url: str, headers: dict, client, subscribers: int, records: int) -> dict:
    clients = [SseClient(f"{url}/v1/events", headers).start() for _ in range(subscribers)]
    written: dict[str, float] = {}
    for i in range(records):
        record = {"event": "start", "camera": "bench", "frame": i, "ts": i / 30,
                  "track_id": f"t{i}", "name": None, "score": 0.0}  # fmt: skip
        eid = client.xadd(keys.RESULTS, {FIELD: msgpack.packb(record)}).decode()
        written[eid] = time.perf_counter()
        time.sleep(1 / 30)  # a camera's pace
    deadline = time.monotonic() + 60
    while any(len(c.events) < records for c in clients) and time.monotonic() < deadline:
        time.sleep(0.05)
    done = time.perf_counter()
    complete = sum(
        [eid for eid, _, _ in c.events] == list(written) for c in clients
    )  # every record, once, in order
    for c in clients:  # daemon threads: the server's shutdown ends them
        c.stop(wait=False)
    return {
        "subscribers": subscribers,
        "records": records,
        "clients_with_every_record_once": complete,
        "drain_after_last_write_ms": (done - max(written.values())) * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__.split("\n")[0])
    p.add_argument("--requests", type=int, default=50)
    p.add_argument("--subscribers", type=int, default=100)
    p.add_argument("--records", type=int, default=300)
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        base = Settings(data_dir=Path(tmp), redis_url=None, milvus_uri=None, embedder="dlib")
        with EmbeddedStack(base) as endpoints:
            settings = Settings(data_dir=Path(tmp), redis_url=endpoints.redis_url,
                                milvus_uri=endpoints.milvus_uri, embedder="dlib")  # fmt: skip
            ctx = ApiContext(settings, Services(settings, endpoints))
            _, key = ApiKeys(ctx.services.redis).create("admin")
            headers = {"Authorization": f"Bearer {key}"}
            with api_server(settings, endpoints, ctx) as url:
                results = {"identify": bench_identify(url, headers, ctx, args.requests)}
                results["sse"] = bench_sse(
                    url, headers, ctx.services.redis, args.subscribers, args.records
                )
    text = json.dumps(results, indent=2)
    if args.out:
        args.out.write_text(text)
    print(text)
    ident = results["identify"]
    print(
        f"identify 640x480, 1 face, {ident['requests']} requests: HTTP p50 "
        f"{ident['http_p50_ms']:.0f} ms / p95 {ident['http_p95_ms']:.0f} ms; models "
        f"{ident['model_p50_ms']:.0f} / {ident['model_p95_ms']:.0f} ms; overhead "
        f"{ident['overhead_p50_ms']:.1f} / {ident['overhead_p95_ms']:.1f} ms"
    )
    sse = results["sse"]
    print(
        f"SSE: {sse['clients_with_every_record_once']}/{sse['subscribers']} subscribers got all "
        f"{sse['records']} records once; last delivered {sse['drain_after_last_write_ms']:.0f} ms "
        "after the last write"
    )
    return 0 if sse["clients_with_every_record_once"] == sse["subscribers"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
