import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { add } from '../src.js';

describe('add', () => {
  it('adds small numbers', () => assert.equal(add(2, 3), 5));
  it('adds negatives', () => assert.equal(add(-2, -3), -5));
});
