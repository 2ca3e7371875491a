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

channels_redis reads for every socket of a process through whichever of them
holds its receive lock, and redis-py retries a failed read; so only some
sockets ever see the lost connection (measured: 15 of 40 in one daphne
process, 64 of 100 over two). The first to see Redis back therefore puts a
resync in every other socket's buffer of this process, once per outage, and
sends its own through Redis, which wakes the socket blocked in the process's
read (it does not watch its buffer meanwhile): each socket re-joins and
refetches, not just the ones that happened to read.
"""

from __future__ import annotations

import asyncio
import logging
import time

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

    # When the last resync went to every socket of this process (monotonic seconds).
    resync_sent_at = float("-inf")

    async def receive(self, channel: str) -> dict:
        try:
            return await super().receive(channel)
        except LAYER_ERRORS as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the socket is closing: redis-py turned the cancellation into a lost connection
            lost_at = time.monotonic()
            logger.warning("live: lost Redis while waiting on %s (%s); waiting for it to return", channel, exc)
        delay, next_ping = RETRY_FIRST_SECONDS, lost_at + RETRY_FIRST_SECONDS
        while True:
            await asyncio.sleep(RETRY_FIRST_SECONDS)
            if self.resync_sent_at > lost_at:
                return {"type": RESYNC_MESSAGE_TYPE}  # another socket here found Redis back since our loss
            if time.monotonic() < next_ping:
                continue
            if await self._reachable():
                logger.info("live: Redis answers again; %s resyncs", channel)
                if self.resync_sent_at < lost_at:  # not done by another socket while we pinged
                    self.resync_sent_at = time.monotonic()  # claimed before any await: one round per outage
                    await self._drop_idle_connections()
                    self._resync_others(channel)
                    try:
                        # Our own resync goes through Redis: the socket that holds the process's read
                        # (blocked in it, deaf to its buffer) wakes to deliver it, and finds its own.
                        await self.send(channel, {"type": RESYNC_MESSAGE_TYPE})
                        return await self.receive(channel)
                    except LAYER_ERRORS:
                        pass
                return {"type": RESYNC_MESSAGE_TYPE}
            delay = min(delay * 2, RETRY_MAX_SECONDS)
            next_ping = time.monotonic() + delay

    def _resync_others(self, channel: str) -> None:
        """A resync for every other socket of this process, once per outage.

        A socket that saw nothing waits on its buffer: it finds the resync there. One that saw the loss
        has no buffer any more (channels_redis drops it) and is waiting in ``receive`` above: it finds
        ``resync_sent_at`` past its loss and resyncs without pinging Redis itself.
        """
        others = [name for name in self.receive_buffer if name != channel]
        for name in others:
            self.receive_buffer[name].put_nowait({"type": RESYNC_MESSAGE_TYPE})
        logger.info("live: resync sent to %d other sockets of this process", len(others))

    async def _drop_idle_connections(self) -> None:
        """Close the pooled connections of before the outage: each would fail once on its next use, and
        a socket re-joining its groups through one would stay out of them until its next re-join."""
        for index in range(self.ring_size):
            await self.connection(index).connection_pool.disconnect(inuse_connections=False)

    async def _reachable(self) -> bool:
        try:
            for index in range(self.ring_size):
                await self.connection(index).ping()
        except LAYER_ERRORS:
            return False
        return True
