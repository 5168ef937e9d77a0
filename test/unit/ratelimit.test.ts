// Docker Hub rate-limit headers parsed defensively; when they count as low; the hint of a 429.
import { describe, expect, it } from 'vitest';
import {
  formatRateLimit,
  formatWait,
  isLow,
  parseRateLimit,
  throttleHint,
} from '../../src/registry-client/ratelimit.js';

describe('parseRateLimit', () => {
  it.each([
    [
      { 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '76;w=21600' },
      { limit: 100, remaining: 76, windowSeconds: 21600 },
    ],
    [
      { 'ratelimit-limit': '200', 'ratelimit-remaining': '0' },
      { limit: 200, remaining: 0 },
    ],
    [
      { 'ratelimit-limit': ' 100 ; w = 3600 ', 'ratelimit-remaining': ['5;w=3600', '6;w=3600'] },
      { limit: 100, remaining: 5, windowSeconds: 3600 },
    ],
    [
      { 'ratelimit-remaining': '3;w=21600', 'docker-ratelimit-source': '203.0.113.7' },
      { remaining: 3, windowSeconds: 21600, source: '203.0.113.7' },
    ],
    [{ 'ratelimit-limit': 'lots', 'ratelimit-remaining': '-4' }, undefined],
    [{ 'ratelimit-limit': '', 'ratelimit-remaining': ';w=1' }, undefined],
    [{}, undefined],
  ])('%j → %j', (headers, want) => {
    expect(parseRateLimit(headers)).toEqual(want);
  });
});

describe('isLow', () => {
  it.each([
    [{ limit: 100, remaining: 3 }, true],
    [{ limit: 100, remaining: 9 }, true],
    [{ limit: 100, remaining: 50 }, false],
    [{ limit: 5000, remaining: 400 }, true],
    [{ limit: 5000, remaining: 600 }, false],
    [{ limit: 100 }, false],
    [undefined, false],
  ])('%j → %s', (rl, low) => {
    expect(isLow(rl)).toBe(low);
  });
});

describe('formatting', () => {
  it('states what is left and the window', () => {
    expect(formatRateLimit({ limit: 100, remaining: 3, windowSeconds: 21600 })).toBe('3 of 100 pulls left per 6h');
    expect(formatRateLimit({ remaining: 3 })).toBe('3 of ? pulls left');
  });

  it.each([
    [500, '1 s'],
    [90_000, '90 s'],
    [600_000, '10 min'],
    [3_600_000, '60 min'],
    [21_600_000, '6 h'],
  ])('a wait of %d ms reads %s', (ms, text) => {
    expect(formatWait(ms)).toBe(text);
  });

  it('a 429 hint says what is left, when to retry (a wait and a UTC time), and how to raise the limit', () => {
    const now = Date.parse('2024-05-01T10:00:00Z');
    expect(throttleHint({ limit: 100, remaining: 0, windowSeconds: 21600 }, 3_600_000, now)).toBe(
      'rate limit reached (0 of 100 pulls left per 6h): retry in 60 min (after 11:00 UTC), ' +
        'or log in to raise the limit',
    );
    expect(throttleHint({ limit: 100 }, undefined, now)).toBe(
      'rate limit reached (0 of 100 pulls left): retry later, or log in to raise the limit',
    );
    expect(throttleHint(undefined, 30_000, now)).toBe(
      'the registry is throttling requests: retry in 30 s (after 10:00 UTC)',
    );
  });
});
