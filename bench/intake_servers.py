"""The two HTTP servers the intake benchmark compares, each run in its own process.

``ours``: the real intake app (auth, validation, idempotency, metrics, logging, Kafka acks).
``bare``: the floor of any Python front door on the same stack (FastAPI on uvicorn, the same
aiokafka producer settings): it reads the body, publishes pre-built command bytes, answers 202.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from contracts import codec
from contracts.examples import examples
from contracts.topics import CLAIMS_COMMANDS
from intake.app import create_app
from intake.auth import TokenGrant, hash_token
from intake.settings import IntakeSettings
from servicekit.kafka import KafkaAccess
from tests.support.kafka import kafka_from_env, kafka_settings

BENCH_TOKEN: Final = "bench-buyer-token"
BENCH_BUYER: Final = "buyer-bench"


def ours(kafka: KafkaAccess) -> FastAPI:
    settings = IntakeSettings(
        **kafka_settings(kafka),
        tokens=(TokenGrant(sha256=hash_token(BENCH_TOKEN), role="buyer", subject=BENCH_BUYER),),
        # Production logging: one JSON line per request (the process's stderr goes to /dev/null).
        log_format="json",
        log_level="info",
    )
    return create_app(settings)


def bare(kafka: KafkaAccess) -> FastAPI:
    command = examples()[CLAIMS_COMMANDS.name][0]
    payload = codec.encode(command)
    key = codec.message_key(CLAIMS_COMMANDS, command)
    producers: list[AIOKafkaProducer] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # aiokafka clients are made inside the running loop, as intake's own publisher does.
        producer = AIOKafkaProducer(
            **kafka.options(), enable_idempotence=True, acks="all", linger_ms=1
        )
        producers.append(producer)
        await producer.start()
        try:
            yield
        finally:
            await producer.stop()

    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/claims")
    async def file_claim(request: Request) -> JSONResponse:
        await request.body()
        await producers[0].send_and_wait(CLAIMS_COMMANDS.name, payload, key=key)
        return JSONResponse({"status": "accepted", "claim_id": command.data.claim_id}, 202)

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["ours", "bare"])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    kafka = kafka_from_env()  # PLATFORM_KAFKA_*, set by bench/intake_filings.py
    app = ours(kafka) if args.kind == "ours" else bare(kafka)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
