/**
 * The schedule init writes into a workflow: a random minute and hour (and, for a weekly schedule,
 * a random day), so that the users of this action do not all refresh at the README's 03:17 — and
 * never at minute 0, when GitHub delays many scheduled runs. Pure: the randomness is a parameter
 * (`crypto.randomInt`, or a seeded source that only tests set), and so is the clock.
 */
import { createHash, randomInt } from 'node:crypto'

/** A whole number from `min` to `max - 1`, as crypto.randomInt gives. */
export type Random = (min: number, max: number) => number

export interface Schedule {
  /** 1–59: never 0. */
  minute: number
  /** 0–23, UTC (GitHub runs schedules in UTC). */
  hour: number
  /** 0 (Sunday) – 6 for a weekly schedule; undefined: daily. */
  weekday: number | undefined
}

/** A random time of day, and a random day for a weekly schedule. */
export function schedule(random: Random, weekly: boolean): Schedule {
  return { minute: random(1, 60), hour: random(0, 24), weekday: weekly ? random(0, 7) : undefined }
}

export const cronOf = (s: Schedule): string => `${s.minute} ${s.hour} * * ${s.weekday ?? '*'}`

const DAYS = ['Sundays', 'Mondays', 'Tuesdays', 'Wednesdays', 'Thursdays', 'Fridays', 'Saturdays']
const two = (n: number): string => String(n).padStart(2, '0')

/** "daily at 03:17 UTC", "weekly, Mondays at 04:23 UTC". */
export function describeSchedule(s: Schedule): string {
  const at = `${two(s.hour)}:${two(s.minute)} UTC`
  return s.weekday === undefined ? `daily at ${at}` : `weekly, ${DAYS[s.weekday]} at ${at}`
}

/** The first time after `now` that the schedule fires. */
export function nextRun(s: Schedule, now: Date): Date {
  const at = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), s.hour, s.minute))
  const days = (d: Date): number => (s.weekday === undefined ? 0 : (s.weekday - d.getUTCDay() + 7) % 7)
  at.setUTCDate(at.getUTCDate() + days(at))
  if (at.getTime() <= now.getTime()) at.setUTCDate(at.getUTCDate() + (s.weekday === undefined ? 1 : 7))
  return at
}

/**
 * "2026-01-11 03:17 UTC (06:17 on 2026-01-11 local time, UTC+03:00)": a date in UTC and in the
 * local time of `offsetMinutes` east of UTC (-new Date().getTimezoneOffset()).
 */
export function describeTime(date: Date, offsetMinutes: number): string {
  const stamp = (d: Date): { day: string; time: string } => ({
    day: `${d.getUTCFullYear()}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())}`,
    time: `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}`
  })
  const utc = stamp(date)
  const local = stamp(new Date(date.getTime() + offsetMinutes * 60_000))
  const sign = offsetMinutes < 0 ? '-' : '+'
  const offset = `UTC${sign}${two(Math.floor(Math.abs(offsetMinutes) / 60))}:${two(Math.abs(offsetMinutes) % 60)}`
  return `${utc.day} ${utc.time} UTC (${local.time} on ${local.day} local time, ${offset})`
}

/**
 * crypto.randomInt — or, when TOKEN_ROTATION_INIT_SEED is set (by tests only, so that three runs
 * are known to pick three different times), numbers derived from the seed: sha256(seed:n).
 */
export function randomSource(env: NodeJS.ProcessEnv): Random {
  const seed = env.TOKEN_ROTATION_INIT_SEED
  if (!seed) return randomInt
  let n = 0
  return (min, max) => {
    n += 1
    const value = createHash('sha256').update(`${seed}:${n}`).digest().readUInt32BE(0)
    return min + (value % (max - min))
  }
}
