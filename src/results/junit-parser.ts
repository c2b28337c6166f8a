// Parses JUnit XML in its common dialects: Ant/Jenkins, Maven Surefire (flakyFailure,
// rerunFailure), pytest, jest-junit, Vitest, gotestsum, node:test and regrtest --junit-xml.
// XML is not line-based, so lines are buffered and parsed once at finish().

import { XMLParser } from 'fast-xml-parser';
import type { TestOutcome } from './model.js';
import { cleanLine, joinDetails, type ParseResult, type ResultParser } from './result-parser.js';
import { TestCollector, joinedId, makeResult } from './test-collector.js';
import { splitPythonId } from './python-unittest-lines.js';

type XmlNode = Record<string, unknown>;

const ARRAYS = new Set(['testsuite', 'testcase', 'failure', 'error', 'skipped', 'flakyFailure', 'flakyError', 'rerunFailure', 'rerunError']);
const MAX_XML_CHARS = 512 * 1024 * 1024;

const xml = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
  textNodeName: '#text',
  trimValues: false,
  processEntities: true,
  htmlEntities: true,
  isArray: (name) => ARRAYS.has(name),
});

function attr(node: XmlNode, name: string): string | undefined {
  const v = node[`@${name}`];
  return typeof v === 'string' ? v : undefined;
}

function list(node: XmlNode, name: string): XmlNode[] {
  const v = node[name];
  if (!Array.isArray(v)) return [];
  return v.map((x) => (x !== null && typeof x === 'object' ? (x as XmlNode) : { '#text': String(x ?? '') }));
}

function text(node: XmlNode): string {
  const t = node['#text'];
  return typeof t === 'string' ? t : '';
}

function firstLine(s: string): string | undefined {
  const l = s.split('\n').map((x) => x.trim()).find((x) => x !== '');
  return l === undefined ? undefined : l.slice(0, 500);
}

/** Mocha's name for a failing hook: a failure of the suite's setup, not of a test. */
const HOOK = /^"(?:before|after) (?:all|each)" hook/;

/** A file extension in a class name means a JS or Python file, not a Java-style dotted class. */
const FILE_LIKE = /\.(?:[cm]?[jt]sx?|py|go|rs|rb)$|\//;

export class JunitParser implements ResultParser {
  readonly format = 'junit' as const;
  private readonly lines: string[] = [];
  private size = 0;

  feedLine(line: string): void {
    if (this.size > MAX_XML_CHARS) return;
    // Reports copied out of a build log may carry its colours and CRs.
    const clean = cleanLine(line);
    // Output before the document (a build's own lines) would make it invalid XML.
    if (this.lines.length === 0 && !clean.trimStart().startsWith('<')) return;
    this.lines.push(clean);
    this.size += clean.length + 1;
  }

  finish(): ParseResult {
    const tests = new TestCollector();
    try {
      const doc = xml.parse(this.lines.join('\n')) as XmlNode;
      const root = doc['testsuites'];
      if (root !== null && typeof root === 'object') this.walk(root as XmlNode, [], undefined, tests);
      else for (const s of list(doc, 'testsuite')) this.walkSuite(s, [], undefined, tests);
    } catch {
      // Not XML after all, or cut off beyond repair: report what was read.
    }
    return { format: this.format, tests: tests.results() };
  }

  private walk(node: XmlNode, suites: string[], file: string | undefined, out: TestCollector): void {
    for (const s of list(node, 'testsuite')) this.walkSuite(s, suites, file, out);
    for (const c of list(node, 'testcase')) this.testcase(c, suites, file, out);
  }

  private walkSuite(s: XmlNode, suites: string[], file: string | undefined, out: TestCollector): void {
    // jest-junit names a suite `undefined` when the file has no describe block.
    const name = attr(s, 'name')?.trim();
    this.walk(s, name && name !== 'undefined' ? [...suites, name] : suites, attr(s, 'file') ?? file, out);
  }

  private testcase(c: XmlNode, suites: string[], suiteFile: string | undefined, out: TestCollector): void {
    const rawName = (attr(c, 'name') ?? '').trim();
    const classname = (attr(c, 'classname') ?? '').trim();
    let file: string;
    let name: string;
    let id: string;
    // node:test 22+ names the class after the enclosing describe (or `test`) and adds the file.
    const nodeStyle = classname === 'test' || (attr(c, 'file') !== undefined && (classname === suites[suites.length - 1] || classname === suites.join('.')));
    if (classname !== '' && !nodeStyle && classname !== rawName) {
      // Ant, Surefire, pytest, gotestsum, Vitest: the class (or file) and the test's name.
      file = attr(c, 'file') ?? classname;
      name = rawName;
      // Java and Python classes join with a dot; files and titles with spaces (Mocha) with ` > `.
      id = FILE_LIKE.test(classname) || !/^[\w$.]+$/.test(classname) ? joinedId(classname, [rawName]) : `${classname}.${rawName}`;
    } else if (classname === rawName && classname !== '') {
      // jest-junit repeats the full name as the class name; the suite names the file or describe.
      file = attr(c, 'file') ?? suites[suites.length - 1] ?? '';
      name = rawName;
      id = joinedId(file, [rawName]);
    } else if (suites.length === 0 && /^[\w]+(?:\.[\w[\]-]+)+$/.test(rawName)) {
      // regrtest writes unittest ids as names with no class and no suite name.
      ({ file, name } = splitPythonId(rawName));
      id = rawName;
    } else {
      // node:test: nested describe blocks are nested suites; no file is recorded.
      file = attr(c, 'file') ?? suiteFile ?? '';
      name = [...suites, rawName].join(' > ');
      id = joinedId(file, [...suites, rawName]);
    }
    const seconds = Number((attr(c, 'time') ?? '').replace(/,/g, ''));
    const durationMs = Number.isFinite(seconds) && attr(c, 'time') !== undefined ? Math.round(seconds * 1e6) / 1e3 : null;
    const failure = list(c, 'failure')[0];
    const error = list(c, 'error')[0];
    const skipped = list(c, 'skipped')[0];
    const flaky = [...list(c, 'flakyFailure'), ...list(c, 'flakyError')];
    const reruns = [...list(c, 'rerunFailure'), ...list(c, 'rerunError')];
    let outcome: TestOutcome = 'pass';
    let problem: XmlNode | undefined;
    if (error) [outcome, problem] = ['error', error];
    else if (failure) [outcome, problem] = [HOOK.test(rawName) ? 'error' : 'fail', failure];
    else if (skipped) {
      const type = attr(skipped, 'type') ?? '';
      [outcome, problem] = [type === 'pytest.xfail' ? 'xfail' : 'skip', skipped];
    } else if (flaky.length > 0) [outcome, problem] = ['flaky', flaky[0]];
    else if (c['@status'] === 'skipped' || c['@status'] === 'notrun') outcome = 'skip';
    const attempt = outcome === 'flaky' ? flaky.length + 1 : reruns.length + 1;
    let message: string | undefined;
    let details: string | undefined;
    if (problem) {
      const body = text(problem);
      const stack = problem['stackTrace'];
      details = joinDetails([body !== '' ? body : typeof stack === 'string' ? stack : '']);
      // node:test writes message="true" on a todo; that says nothing.
      const m = attr(problem, 'message');
      message = firstLine(m === 'true' ? '' : (m ?? '')) ?? firstLine(body);
    }
    out.add(makeResult(file, name, id, outcome, { durationMs, message, details, attempt }));
  }
}
