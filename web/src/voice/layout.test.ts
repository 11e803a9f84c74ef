import { describe, expect, it } from '@jest/globals';
import { layoutTiles } from './layout';

const keys = (n: number) => Array.from({ length: n }, (_, i) => `t${i}`);
const overlap = (a: { left: number; top: number; width: number; height: number }, b: typeof a) =>
  a.left < b.left + b.width && b.left < a.left + a.width && a.top < b.top + b.height && b.top < a.top + a.height;

describe('layoutTiles', () => {
  it('fits four tiles as the largest 16:9 grid, centred, without overlap', () => {
    const boxes = [...layoutTiles(keys(4), null, 1000, 600).values()];
    expect(boxes).toHaveLength(4);
    expect(boxes[0]!.width / boxes[0]!.height).toBeCloseTo(16 / 9, 1);
    expect(new Set(boxes.map((b) => b.top)).size).toBe(2); // 2×2
    for (const [i, a] of boxes.entries()) for (const b of boxes.slice(i + 1)) expect(overlap(a, b)).toBe(false);
    for (const b of boxes) expect(b.left >= 0 && b.top >= 0 && b.left + b.width <= 1000 && b.top + b.height <= 600).toBe(true);
  });

  it('uses one row in a wide, low stage', () => {
    const boxes = [...layoutTiles(keys(3), null, 1600, 300).values()];
    expect(new Set(boxes.map((b) => b.top)).size).toBe(1);
  });

  it('gives a focused tile the stage and puts the others in a strip', () => {
    const wide = layoutTiles(keys(4), 't2', 1000, 600);
    expect(wide.get('t2')).toMatchObject({ left: 0, top: 0, height: 600 });
    for (const key of ['t0', 't1', 't3']) expect(wide.get(key)!.left).toBeGreaterThan(wide.get('t2')!.width);
    const narrow = layoutTiles(keys(3), 't0', 400, 700);
    expect(narrow.get('t0')).toMatchObject({ left: 0, top: 0, width: 400 });
    for (const key of ['t1', 't2']) expect(narrow.get(key)!.top).toBeGreaterThan(narrow.get('t0')!.height);
  });
});
