import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildNameFilter, exactNameFilter, globToRegExpSource } from '../../src/runner/name-filter.js';

describe('globs', () => {
  test('* ? and [] as fnmatch reads them, the rest literal', () => {
    const re = (g: string) => new RegExp(globToRegExpSource(g));
    assert.ok(re('test_*').test('test_os'));
    assert.ok(!re('test_*').test('my test_os'));
    assert.ok(re('a?c').test('abc'));
    assert.ok(re('[ab]x').test('bx'));
    assert.ok(!re('[!ab]x').test('ax'));
    assert.ok(re('1+1 (x).y').test('1+1 (x).y'));
    assert.ok(!re('1+1').test('11'));
  });
});

describe('selecting by name', () => {
  test('-m matches a name, a full name, or an ancestor', () => {
    const f = buildNameFilter({ match: ['parser > num*'], ignore: [] });
    assert.ok(f.selects(['parser', 'numbers']));
    assert.ok(f.selects(['parser', 'numbers', 'deep']));
    assert.ok(!f.selects(['parser', 'strings']));
    const leaf = buildNameFilter({ match: ['strings'], ignore: [] });
    assert.ok(leaf.selects(['parser', 'strings']));
  });
  test('-i wins over -m', () => {
    const f = buildNameFilter({ match: ['parser'], ignore: ['*slow*'] });
    assert.ok(f.selects(['parser', 'fast']));
    assert.ok(!f.selects(['parser', 'very slow']));
  });
  test('no -m selects everything', () => {
    assert.ok(buildNameFilter({ match: [], ignore: [] }).selects(['anything']));
  });
  test('a re-run selects exactly the failed tests, even with regexp characters in names', () => {
    const f = exactNameFilter([['suite (a)', 'x*y']], new Set(['suite (a)']));
    assert.ok(f.selects(['suite (a)', 'x*y']));
    assert.ok(!f.selects(['suite (a)', 'xzy']));
    assert.ok(!f.selects(['suite (a)']));
    for (const p of f.namePatterns) assert.doesNotThrow(() => new RegExp(p));
    assert.ok(f.namePatterns.some((p) => new RegExp(p).test('x*y') || new RegExp(p).test('suite (a) x*y')));
  });
});
