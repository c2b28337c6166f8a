import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseVersion } from '../src.js';

test('parses a version', () => assert.deepEqual(parseVersion('v1.2.3'), { major: 1, minor: 2, patch: 3 }));
test('refuses garbage', () => assert.throws(() => parseVersion('one'), /not a version/));
