import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { ProducerSource } from '@concord/protocol';
import type { ParticipantPlan } from './client/participant';

/**
 * What load to make: rooms of publishers (mic, camera, maybe a screen) and watch-only subscribers,
 * joined at a ramp rate and held for a duration. Presets name the usual shapes; flags or a JSON
 * file override any field.
 */

const Source = z.enum(['mic', 'camera']);

export const Scenario = z
  .object({
    name: z.string().min(1).max(64),
    rooms: z.number().int().min(1).max(1_000),
    /** Participants per room that publish `sources`. */
    publishers: z.number().int().min(0).max(500),
    /** Participants per room that only watch. */
    subscribers: z.number().int().min(0).max(2_000),
    sources: z.array(Source).min(1).max(2),
    /** Of the publishers of each room, how many also share a screen. */
    screenSharers: z.number().int().min(0).max(500),
    codec: z.enum(['vp8', 'h264']),
    /** Publish video as two simulcast layers (180p and 360p); the SFU forwards the best one. */
    simulcast: z.boolean(),
    /** Participants started per second. */
    rampPerSecond: z.number().positive().max(200),
    /** Measured seconds, after everyone has joined and media has settled. */
    durationSeconds: z.number().int().min(1).max(3_600),
  })
  .strict()
  .refine((s) => s.screenSharers <= s.publishers, 'screenSharers cannot exceed publishers')
  .refine((s) => s.publishers + s.subscribers >= 2, 'a room needs at least two participants')
  .refine((s) => s.codec === 'vp8' || !s.simulcast, 'simulcast is VP8 only');
export type Scenario = z.infer<typeof Scenario>;

const DEFAULTS = { codec: 'vp8', simulcast: false, rampPerSecond: 10, durationSeconds: 30, screenSharers: 0 } as const;

/** The named shapes; `size` is participants per room. */
export const PRESETS = {
  /** Everyone has camera and microphone on. */
  meeting: (size: number): Scenario => ({ ...DEFAULTS, name: 'meeting', rooms: 2, publishers: size, subscribers: 0, sources: ['mic', 'camera'] }),
  /** Two presenters (one sharing a screen) and an audience. */
  webinar: (size: number): Scenario => ({
    ...DEFAULTS,
    name: 'webinar',
    rooms: 1,
    publishers: Math.min(2, size),
    subscribers: Math.max(0, size - 2),
    sources: ['mic', 'camera'],
    screenSharers: 1,
  }),
  /** Audio only, many small rooms. */
  voice: (size: number): Scenario => ({ ...DEFAULTS, name: 'voice', rooms: 10, publishers: size, subscribers: 0, sources: ['mic'] }),
} as const;
export type PresetName = keyof typeof PRESETS;
const DEFAULT_SIZE: Record<PresetName, number> = { meeting: 4, webinar: 20, voice: 5 };

/** A preset (or a JSON file's scenario) with fields overridden; validated as a whole. */
export function resolveScenario(base: { preset?: PresetName; size?: number; file?: string }, overrides: Partial<Scenario>): Scenario {
  const fromFile: unknown = base.file ? JSON.parse(readFileSync(base.file, 'utf8')) : undefined;
  const preset = base.preset ?? (fromFile ? undefined : 'meeting');
  const start = preset ? PRESETS[preset](base.size ?? DEFAULT_SIZE[preset]) : {};
  const parsed = Scenario.safeParse({ ...start, ...(fromFile as object | undefined), ...defined(overrides) });
  if (!parsed.success) throw new Error(`invalid scenario: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || 'scenario'}: ${issue.message}`).join('; ')}`);
  return parsed.data;
}

const defined = <T extends object>(values: T): Partial<T> => Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as Partial<T>;

const roomSize = (scenario: Scenario): number => scenario.publishers + scenario.subscribers;

/** What participant `index` of a room publishes: publishers first, screen sharers among them. */
export function sourcesOf(scenario: Scenario, index: number): ProducerSource[] {
  if (index >= scenario.publishers) return [];
  return index < scenario.screenSharers ? [...scenario.sources, 'screen'] : [...scenario.sources];
}

/**
 * The participants of rooms [fromRoom, toRoom), in join order: room by room, publishers first, so
 * subscribers join rooms where media is already flowing. `runId` keeps names unique per run.
 */
export function planRooms(scenario: Scenario, runId: string, fromRoom: number, toRoom: number): ParticipantPlan[] {
  const size = roomSize(scenario);
  const published = Array.from({ length: size }, (_, index) => sourcesOf(scenario, index));
  const plans: ParticipantPlan[] = [];
  for (let room = fromRoom; room < toRoom; room++) {
    for (let index = 0; index < size; index++) {
      plans.push({
        userName: `lt${runId}-r${room}-p${index}`,
        roomId: `lt${runId}-r${room}`,
        publish: published[index]!,
        expects: published.flatMap((sources, other) => (other === index ? [] : sources)),
      });
    }
  }
  return plans;
}

export function describeScenario(s: Scenario): string {
  const sources = `${s.sources.join('+')}${s.screenSharers ? ` (${s.screenSharers} also screen)` : ''}`;
  const video = s.sources.includes('camera') || s.screenSharers > 0 ? `, ${s.codec}${s.simulcast ? ' simulcast' : ''}` : '';
  return `${s.name}: ${s.rooms} room(s) × (${s.publishers} publishing ${sources}${s.subscribers ? ` + ${s.subscribers} watching` : ''})${video}`;
}
