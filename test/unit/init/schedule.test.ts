import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { cronOf, describeSchedule, describeTime, nextRun, randomSource, schedule, type Random } from '../../../src/init/schedule.js'

/** A random source that always gives its range's lowest (or highest) value, and records the ranges. */
const edge =
  (which: 'low' | 'high', ranges: Array<[number, number]> = []): Random =>
  (min, max) => {
    ranges.push([min, max])
    return which === 'low' ? min : max - 1
  }

describe('schedule', () => {
  test('a minute from 1 to 59 (never 0) and an hour from 0 to 23; a weekday only when weekly', () => {
    const ranges: Array<[number, number]> = []
    assert.deepEqual(schedule(edge('low', ranges), false), { minute: 1, hour: 0, weekday: undefined })
    assert.deepEqual(ranges, [
      [1, 60],
      [0, 24]
    ])
    assert.deepEqual(schedule(edge('high'), true), { minute: 59, hour: 23, weekday: 6 })
    assert.deepEqual(schedule(edge('low'), true).weekday, 0)
  })

  test('drawn many times (crypto.randomInt, as a user gets it): never minute 0, and spread over the day', () => {
    const random = randomSource({})
    const picked = Array.from({ length: 2000 }, () => schedule(random, true))
    for (const s of picked) {
      assert.ok(s.minute >= 1 && s.minute <= 59, JSON.stringify(s))
      assert.ok(s.hour >= 0 && s.hour <= 23 && s.weekday !== undefined && s.weekday >= 0 && s.weekday <= 6, JSON.stringify(s))
    }
    // 2000 draws of 59 minutes and 24 hours: missing any one value has a chance below 1e-15.
    assert.equal(new Set(picked.map((s) => s.minute)).size, 59)
    assert.equal(new Set(picked.map((s) => s.hour)).size, 24)
    assert.equal(new Set(picked.map((s) => s.weekday)).size, 7)
  })

  test('the cron line and its words', () => {
    assert.equal(cronOf({ minute: 17, hour: 3, weekday: undefined }), '17 3 * * *')
    assert.equal(cronOf({ minute: 23, hour: 4, weekday: 1 }), '23 4 * * 1')
    assert.equal(describeSchedule({ minute: 7, hour: 3, weekday: undefined }), 'daily at 03:07 UTC')
    assert.equal(describeSchedule({ minute: 23, hour: 14, weekday: 1 }), 'weekly, Mondays at 14:23 UTC')
    assert.equal(describeSchedule({ minute: 5, hour: 0, weekday: 0 }), 'weekly, Sundays at 00:05 UTC')
  })

  test('the first run: later today, else tomorrow; weekly: the next such day', () => {
    const now = new Date('2026-01-07T10:00:00Z') // a Wednesday
    assert.equal(nextRun({ minute: 30, hour: 10, weekday: undefined }, now).toISOString(), '2026-01-07T10:30:00.000Z')
    assert.equal(nextRun({ minute: 0 + 59, hour: 9, weekday: undefined }, now).toISOString(), '2026-01-08T09:59:00.000Z')
    assert.equal(
      nextRun({ minute: 1, hour: 10, weekday: undefined }, new Date('2026-01-07T10:01:00Z')).toISOString(),
      '2026-01-08T10:01:00.000Z'
    )
    assert.equal(nextRun({ minute: 23, hour: 4, weekday: 1 }, now).toISOString(), '2026-01-12T04:23:00.000Z')
    assert.equal(nextRun({ minute: 30, hour: 10, weekday: 3 }, now).toISOString(), '2026-01-07T10:30:00.000Z', 'today is that day')
    assert.equal(nextRun({ minute: 30, hour: 9, weekday: 3 }, now).toISOString(), '2026-01-14T09:30:00.000Z', 'that day, but past')
    assert.equal(
      nextRun({ minute: 5, hour: 0, weekday: undefined }, new Date('2026-12-31T23:00:00Z')).toISOString(),
      '2027-01-01T00:05:00.000Z'
    )
  })

  test('a time in UTC and in local time, with the offset', () => {
    const at = new Date('2026-01-07T22:17:00Z')
    assert.equal(describeTime(at, 0), '2026-01-07 22:17 UTC (22:17 on 2026-01-07 local time, UTC+00:00)')
    assert.equal(describeTime(at, 180), '2026-01-07 22:17 UTC (01:17 on 2026-01-08 local time, UTC+03:00)')
    assert.equal(describeTime(at, -210), '2026-01-07 22:17 UTC (18:47 on 2026-01-07 local time, UTC-03:30)')
    assert.equal(describeTime(at, 345), '2026-01-07 22:17 UTC (04:02 on 2026-01-08 local time, UTC+05:45)')
  })

  test('randomness: crypto.randomInt, or numbers derived from a seed that only tests set', () => {
    const real = randomSource({})
    for (let i = 0; i < 200; i++) {
      const n = real(1, 60)
      assert.ok(Number.isInteger(n) && n >= 1 && n < 60)
    }
    const seeded = (seed: string) => {
      const random = randomSource({ TOKEN_ROTATION_INIT_SEED: seed })
      return [random(1, 60), random(0, 24), random(0, 7)]
    }
    assert.deepEqual(seeded('a'), seeded('a'), 'the same seed, the same numbers')
    assert.notDeepEqual(seeded('a'), seeded('b'))
    for (const [minute, hour, day] of ['a', 'b', 'c', 'd'].map(seeded)) {
      assert.ok(minute! >= 1 && minute! < 60 && hour! >= 0 && hour! < 24 && day! >= 0 && day! < 7)
    }
  })
})
