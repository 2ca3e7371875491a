"""The Redis channel layer, made to hold sockets open through idle hours and Redis restarts.

channels_redis waits for a socket's next event with a 5 s server-side
blocking pop. Two things close every socket with 1011 on a stock setup:

- redis-py 8 reads with a 5 s client timeout by default, no longer than the
  pop, so an idle socket times out (settings give the layer a longer one);
- a Redis restart breaks the blocked pop with a ConnectionError that
  channels_redis raises into the consumer.

Here a lost connection is waited out instead: ``receive`` pings Redis with
backoff until it answers, then hands the consumer a ``usage.resync``
message. The consumer re-joins its groups (a restarted Redis forgot them)
and tells its client to refetch what it missed.
"""

from __future__ import annotations

import asyncio
import logging

from channels_redis.core import RedisChannelLayer
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

# What a lost or restarting Redis raises through redis-py's asyncio client.
LAYER_ERRORS = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)
RESYNC_MESSAGE_TYPE = "usage.resync"
RETRY_FIRST_SECONDS = 0.2
RETRY_MAX_SECONDS = 5.0


class ResilientRedisChannelLayer(RedisChannelLayer):
    """RedisChannelLayer whose receive waits out a lost Redis and then asks the consumer to resync."""

    async def receive(self, channel: str) -> dict:
        try:
            return await super().receive(channel)
        except LAYER_ERRORS as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the socket is closing: redis-py turned the cancellation into a lost connection
            logger.warning("live: lost Redis while waiting on %s (%s); waiting for it to return", channel, exc)
        delay = RETRY_FIRST_SECONDS
        while True:
            await asyncio.sleep(delay)
            if await self._reachable():
                logger.info("live: Redis answers again; %s resyncs", channel)
                return {"type": RESYNC_MESSAGE_TYPE}
            delay = min(delay * 2, RETRY_MAX_SECONDS)

    async def _reachable(self) -> bool:
        try:
            for index in range(self.ring_size):
                await self.connection(index).ping()
        except LAYER_ERRORS:
            return False
        return True
