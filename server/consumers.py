"""The service's example websocket: `/ws/echo/` echoes text for as long as its session lives."""

from typing import Any

from authgate.channels import SessionWebsocketConsumer


class EchoConsumer(SessionWebsocketConsumer):
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if text_data is not None:
            await self.send(text_data=text_data)
