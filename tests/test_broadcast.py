"""The broadcaster on its own: rounds of events per course, shared bytes, order, drops and heartbeats."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack, ExitStack
from datetime import datetime, timezone

from checkin.live.broadcast import WAKE_SLICE, Broadcaster, encode_event
from checkin.store.scans import Event

AT = datetime(2026, 11, 27, 1, 0, tzinfo=timezone.utc)


def event(event_id: int, course_id: int = 1) -> Event:
    return Event(event_id, course_id, "checkin", {"scan_id": event_id, "name": "Nguyễn Thị Hương"}, AT)


async def take(subscription, after: int, count: int) -> tuple[list[bytes], int]:
    """Deliveries until `count` events have arrived; returns them and the last id."""
    deliveries = []
    while sum(d.count(b"id: ") for d in deliveries) < count:
        data, after = await asyncio.wait_for(subscription.next(after), 10)
        if data:
            deliveries.append(data)
    return deliveries, after


def test_events_published_over_many_turns_arrive_in_a_few_deliveries_in_order():
    async def run():
        broadcaster = Broadcaster()
        async with broadcaster.subscribe(1, heartbeat=60) as subscription:
            for n in range(1, 101):
                broadcaster.publish(event(n))
                await asyncio.sleep(0)  # a separate turn of the loop each, as scans at the door are
            return await take(subscription, 0, 100)

    deliveries, last = asyncio.run(run())
    assert last == 100
    assert b"".join(deliveries) == b"".join(encode_event(event(n)) for n in range(1, 101))
    assert len(deliveries) <= 5, "one wake-up per round, not one per event"


def test_every_subscriber_of_a_round_gets_the_same_bytes_and_only_its_course():
    async def run():
        broadcaster = Broadcaster()
        async with broadcaster.subscribe(1, heartbeat=60) as first, broadcaster.subscribe(1, heartbeat=60) as second, \
                broadcaster.subscribe(2, heartbeat=60) as other:
            broadcaster.publish(event(7, course_id=2))
            broadcaster.publish(event(5))
            broadcaster.publish(event(6))
            a, _ = await first.next(0)
            b, _ = await second.next(0)
            c, _ = await other.next(0)
            return a, b, c

    a, b, c = asyncio.run(run())
    assert a is b, "encoded once, shared by every connection"
    assert a == encode_event(event(5)) + encode_event(event(6))
    assert c == encode_event(event(7, course_id=2))


def test_events_the_stream_already_sent_from_the_log_are_skipped():
    async def run():
        broadcaster = Broadcaster()
        async with broadcaster.subscribe(1, heartbeat=60) as subscription:
            for n in (3, 4, 5):  # committed while the stream was reading the log up to 4
                broadcaster.publish(event(n))
            return await subscription.next(4)

    data, last = asyncio.run(run())
    assert (data, last) == (encode_event(event(5)), 5)


def test_a_subscriber_that_falls_behind_gets_what_fits_then_its_stream_ends():
    async def run():
        broadcaster = Broadcaster(queue_size=10)
        async with broadcaster.subscribe(1, heartbeat=60) as subscription:
            subscription.live = True
            for n in range(1, 15):
                broadcaster.publish(event(n))
            await asyncio.sleep(0.01)  # the round runs while the stream is busy elsewhere
            counted = broadcaster.count(1)
            first = await subscription.next(0)
            return counted, first, await subscription.next(first[1])

    counted, (data, last), after = asyncio.run(run())
    assert counted == 0, "dropped at once, so it no longer counts"
    assert last == 10 and data.count(b"id: ") == 10
    assert after is None, "then the stream ends and the browser catches up from the log"


def test_a_quiet_course_gets_heartbeats_and_the_last_subscriber_leaving_stops_them():
    async def run():
        broadcaster = Broadcaster()
        async with broadcaster.subscribe(1, heartbeat=0.05) as subscription:
            beats = [await asyncio.wait_for(subscription.next(9), 5) for _ in range(2)]
        loop = asyncio.get_running_loop()
        return beats, broadcaster._courses, [h for h in getattr(loop, "_scheduled", []) if not h.cancelled()]

    beats, courses, timers = asyncio.run(run())
    assert beats == [(b"", 9), (b"", 9)]
    assert courses == {} and timers == []


def test_publishing_to_a_course_nobody_watches_keeps_nothing():
    async def run():
        broadcaster = Broadcaster()
        broadcaster.publish(event(1))
        return broadcaster._courses

    assert asyncio.run(run()) == {}


def test_while_the_door_records_a_scan_streams_are_woken_a_slice_at_a_time():
    async def run(scanning: bool) -> int:
        broadcaster = Broadcaster(give_way_seconds=30)  # the next slice would come long after this test
        async with AsyncExitStack() as stack:
            subscriptions = [await stack.enter_async_context(broadcaster.subscribe(1, heartbeat=60))
                             for _ in range(3 * WAKE_SLICE)]
            waiting = [asyncio.ensure_future(s.next(0)) for s in subscriptions]
            await asyncio.sleep(0)
            with ExitStack() as door:
                if scanning:
                    door.enter_context(broadcaster.give_way())
                broadcaster.publish(event(1))
                for _ in range(10):
                    await asyncio.sleep(0)
                woken = sum(w.done() for w in waiting)
            for w in waiting:
                w.cancel()
            return woken

    assert asyncio.run(run(scanning=False)) == 3 * WAKE_SLICE
    assert asyncio.run(run(scanning=True)) == WAKE_SLICE, "a round must not take the event loop from a scan"


def test_many_subscribers_get_every_event_once_in_order_while_rounds_follow_each_other():
    async def run():
        broadcaster = Broadcaster()
        async with AsyncExitStack() as stack:
            subscriptions = [await stack.enter_async_context(broadcaster.subscribe(1, heartbeat=60))
                             for _ in range(120)]  # several slices per round
            received = [[] for _ in subscriptions]

            async def read(index, subscription):
                after = 0
                while after < 60:
                    data, after = await subscription.next(after)
                    received[index].append(data)

            readers = [asyncio.ensure_future(read(i, s)) for i, s in enumerate(subscriptions)]
            for n in range(1, 61):  # published while earlier rounds are still being woken
                broadcaster.publish(event(n))
                if n % 7 == 0:
                    await asyncio.sleep(0.01)
            await asyncio.wait_for(asyncio.gather(*readers), 10)
            return received

    expected = b"".join(encode_event(event(n)) for n in range(1, 61))
    assert all(b"".join(chunks) == expected for chunks in asyncio.run(run()))
