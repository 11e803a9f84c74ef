import { planRooms, resolveScenario } from './scenario';

describe('scenarios', () => {
  test('a meeting: everyone publishes mic and camera, and receives everyone else’s', () => {
    const scenario = resolveScenario({ preset: 'meeting', size: 4 }, { rooms: 2 });
    const plans = planRooms(scenario, 'x', 0, scenario.rooms);
    expect(plans).toHaveLength(8);
    expect(plans[0]).toEqual({ userName: 'ltx-r0-p0', roomId: 'ltx-r0', publish: ['mic', 'camera'], expects: ['mic', 'camera', 'mic', 'camera', 'mic', 'camera'] });
    // Consumers on the SFU: 8 participants × 3 others × 2 tracks.
    expect(plans.reduce((sum, plan) => sum + plan.expects.length, 0)).toBe(48);
  });

  test('a webinar: two presenters, one with a screen, and an audience that only watches', () => {
    const scenario = resolveScenario({ preset: 'webinar', size: 10 }, {});
    const plans = planRooms(scenario, 'x', 0, 1);
    expect(plans.map((plan) => plan.publish)).toEqual([['mic', 'camera', 'screen'], ['mic', 'camera'], ...Array.from({ length: 8 }, () => [])]);
    expect(plans[0]!.expects).toEqual(['mic', 'camera']);
    expect(plans[9]!.expects).toEqual(['mic', 'camera', 'screen', 'mic', 'camera']);
  });

  test('flags override a preset, and nonsense is refused as a whole', () => {
    expect(resolveScenario({ preset: 'voice' }, { rooms: 3, durationSeconds: 5 })).toMatchObject({ name: 'voice', rooms: 3, sources: ['mic'], durationSeconds: 5 });
    expect(() => resolveScenario({ preset: 'meeting' }, { screenSharers: 9 })).toThrow(/screenSharers/);
    expect(() => resolveScenario({ preset: 'meeting' }, { codec: 'h264', simulcast: true })).toThrow(/simulcast/);
  });
});
