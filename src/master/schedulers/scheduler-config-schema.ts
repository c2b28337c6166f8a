// The zod schemas of the `schedulers` entries of a config, so that a wrong field is reported with
// its path like every other config problem. The config schema plugs them in where it now takes
// any `{ type }`; createSchedulers takes what they output.
import { z } from 'zod';
import type { RecordedChange } from '../changes/change.js';
import { functionSchema } from '../changes/source-config-schema.js';

const builders = z.array(z.string().min(1)).min(1, 'at least one builder');
const name = z.string().min(1).optional();
const properties = z.record(z.string(), z.unknown()).optional();
const seconds = z.number().positive();
const isImportant = functionSchema<(change: RecordedChange) => boolean>('change => boolean').optional();

const forceParamCommon = { name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'a property name'), label: z.string().optional(), required: z.boolean().optional() };
const forceParamSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('string'), ...forceParamCommon, default: z.string().optional(), regex: z.instanceof(RegExp).optional(), maxLength: z.number().int().positive().optional() }).strict(),
  z.object({ type: z.literal('choice'), ...forceParamCommon, choices: z.array(z.string()).min(1), default: z.string().optional() }).strict()
    .refine((p) => p.default === undefined || p.choices.includes(p.default), { message: 'default must be one of the choices', path: ['default'] }),
  z.object({ type: z.literal('boolean'), ...forceParamCommon, default: z.boolean().optional() }).strict(),
  z.object({ type: z.literal('int'), ...forceParamCommon, default: z.number().int().optional(), min: z.number().int().optional(), max: z.number().int().optional() }).strict(),
]);

export const schedulerConfigSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('onChange'), name, builders, properties,
    branch: z.union([z.string().min(1), z.instanceof(RegExp), functionSchema<(branch: string) => boolean>('branch => boolean')]).optional(),
    repository: z.string().min(1).optional(),
    treeStableTimer: z.number().nonnegative().optional(),
    fileIsImportant: isImportant,
    onlyImportant: z.boolean().optional(),
  }).strict(),
  z.object({ type: z.literal('periodic'), name, builders, properties, every: seconds, branch: z.string().min(1).optional(), repository: z.string().min(1).optional() }).strict(),
  z.object({
    type: z.literal('nightly'), name, builders, properties,
    cron: z.string().min(1), timezone: z.string().min(1).optional(),
    branch: z.string().min(1).optional(), repository: z.string().min(1).optional(),
    onlyIfChanged: z.boolean().optional(), fileIsImportant: isImportant,
  }).strict(),
  z.object({ type: z.literal('force'), name, builders, properties, params: z.array(forceParamSchema).optional() }).strict(),
]);


export type OnChangeConfig = z.input<(typeof schedulerConfigSchema)['options'][0]>;
export type PeriodicConfig = z.input<(typeof schedulerConfigSchema)['options'][1]>;
export type NightlyConfig = z.input<(typeof schedulerConfigSchema)['options'][2]>;
export type ForceConfig = z.input<(typeof schedulerConfigSchema)['options'][3]>;
