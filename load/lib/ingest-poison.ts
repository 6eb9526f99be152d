import postgres from 'postgres';
import { formatLoadTable, runCannon, summarizeLoad, type CannonRequest, type LoadSummary } from './cannon.js';
import { mintToken } from './hub-api.js';
import type { HubProcess } from './hub-process.js';
import { sendAtRate } from './paced-sender.js';
import { formatNumber, formatTable, verdict } from './table.js';

/**
 * The poisoning-tenant scenario of `bench:ingest`: tenant B (the hub's bench tenant) posts valid
 * events at full speed alone (control), then again while tenant A sends bad requests at a fixed
 * rate, alternating for a few rounds and ending with a control, so every poisoned phase is
 * bracketed by controls and drift or a neighbour's burst on a shared machine does not count as
 * poisoning: B's mean req/s and median p50/p99 under poisoning against those of its controls.
 *
 * A's requests are the kinds that once failed a shared group commit: lone UTF-16 surrogates (in
 * an idempotency key, a user id, event data), NUL in data, JSON nested 10,000 deep, and two that
 * fail inside the commit itself, whatever validation runs before it: events of a user deleted
 * after its token was issued (the events' foreign key) and an admin of a deleted tenant naming a
 * new user (the users insert, which fails the whole commit).
 */

export const POISON_GOAL = { maxSlowdown: 0.15 } as const;

const GHOST_USERS = 8;
const DOOMED_ADMINS = 4;
const DEEP_LEVELS = 10_000;

export interface PoisonKind {
  name: string;
  /** The request's body and, when it is not A's API key, its caller's token. */
  request: (index: number) => { body: string; token?: string };
}

export interface Poisoner {
  apiKey: string;
  kinds: PoisonKind[];
}

async function tokenOf(hubUrl: string, apiKey: string, claims: { userId: string; role?: 'admin' }): Promise<string> {
  const minted = await mintToken(hubUrl, apiKey, claims);
  if ('refusal' in minted) throw new Error(`token minting answered ${minted.refusal.status}: ${minted.refusal.body.slice(0, 300)}`);
  return minted.pair.accessToken;
}

/** Tenant A and what its bad requests need: tokens of users deleted since, and of admins of a tenant deleted since. */
export async function preparePoisoner(hub: HubProcess): Promise<Poisoner> {
  // Tenants come from the tenant:create CLI; the deletions, which no API offers, are plain SQL.
  const [tenant, doomed] = await Promise.all([hub.createTenant('bench-poisoner'), hub.createTenant('bench-doomed')]);
  const sql = postgres(hub.databaseUrl, { max: 1, connect_timeout: 10, onnotice: () => undefined, connection: { application_name: 'bench-ingest-poisoner' } });
  try {
    const ghosts = await Promise.all(Array.from({ length: GHOST_USERS }, (_, i) => tokenOf(hub.url, tenant.apiKey, { userId: `ghost-${i}` })));
    const admins = await Promise.all(Array.from({ length: DOOMED_ADMINS }, (_, i) => tokenOf(hub.url, doomed.apiKey, { userId: `admin-${i}`, role: 'admin' })));
    await sql`delete from users where tenant_id = ${tenant.tenantId} and external_id like 'ghost-%'`;
    await sql`delete from tenants where id = ${doomed.tenantId}`;
    const json = (value: unknown) => JSON.stringify(value);
    const event = { type: 'bench.poison', userId: 'poisoner' };
    const kinds: PoisonKind[] = [
      { name: 'lone surrogate idempotency key', request: () => ({ body: json({ ...event, idempotencyKey: 'poison-\ud800' }) }) },
      { name: 'lone surrogate userId', request: (i) => ({ body: json({ ...event, userId: `poison-\udc00-${i}` }) }) },
      { name: 'lone surrogate in data', request: () => ({ body: json({ ...event, data: { note: 'x\ud800y' } }) }) },
      { name: 'NUL in data', request: () => ({ body: json({ ...event, data: { note: 'x\u0000y' } }) }) },
      // Written by hand: JSON.stringify itself would overflow the stack.
      { name: `data nested ${formatNumber(DEEP_LEVELS)} deep`, request: () => ({ body: `${json(event).slice(0, -1)},"data":{"a":${'['.repeat(DEEP_LEVELS)}${']'.repeat(DEEP_LEVELS)}}}` }) },
      { name: 'token of a deleted user', request: (i) => ({ body: json({ type: 'bench.poison' }), token: ghosts[i % ghosts.length] }) },
      { name: 'admin of a deleted tenant, new user', request: (i) => ({ body: json({ type: 'bench.poison', userId: `new-${i}` }), token: admins[i % admins.length] }) },
    ];
    return { apiKey: tenant.apiKey, kinds };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export interface PoisonSettings {
  /** A's bad requests per second. */
  rps: number;
  /** Poisoned phases, each after a control; one more control ends the scenario. */
  rounds: number;
  durationSeconds: number;
  connections: number;
}

export interface PoisonResults {
  poisonerRps: number;
  phases: { poisoned: boolean; summary: LoadSummary }[];
  /** B under poisoning against its controls: mean req/s, median p50 and p99 of the phases. */
  ratios: { requestsPerSecond: number; p50: number; p99: number };
  goals: Record<'requestsPerSecond' | 'p50' | 'p99', { target: number; value: number; pass: boolean }>;
  poisoner: { sent: number; sentPerSecond: number; maxLagMs: number; kinds: { name: string; sent: number; statusCodes: Record<string, number> }[] };
  /** Hub warnings "group commit failed" during the poisoned phase: commits that had to be bisected. */
  bisectedCommits: number;
}

export async function runPoisonScenario(
  hub: HubProcess,
  victim: CannonRequest[],
  settings: PoisonSettings,
  signal: AbortSignal,
  progress: (message: string) => void,
): Promise<PoisonResults> {
  const poisoner = await preparePoisoner(hub);
  const url = `${hub.url}/api/v1/events`;
  const victimLoad = async () => summarizeLoad(await runCannon({ url, connections: settings.connections, requests: victim, duration: settings.durationSeconds }, signal));

  const { kinds } = poisoner;
  const tallies: PoisonResults['poisoner']['kinds'] = kinds.map((kind) => ({ name: kind.name, sent: 0, statusCodes: {} }));
  const phases: PoisonResults['phases'] = [];
  let bisectedCommits = 0;
  let sent = { sent: 0, seconds: 0, maxLagMs: 0 };
  for (let round = 0; round <= settings.rounds; round += 1) {
    progress(`poisoning scenario, round ${round + 1}: tenant B alone for ${settings.durationSeconds} s (control)`);
    phases.push({ poisoned: false, summary: await victimLoad() });
    signal.throwIfAborted();
    if (round === settings.rounds) break;
    progress(`poisoning scenario, round ${round + 1}: tenant B while tenant A sends ${settings.rps} bad requests/s for ${settings.durationSeconds} s`);
    const warningsBefore = bisections(hub);
    const [poisoned, paced] = await Promise.all([
      victimLoad(),
      sendAtRate({
        url: new URL(url),
        headers: { 'content-type': 'application/json', authorization: `Bearer ${poisoner.apiKey}` },
        rate: settings.rps,
        seconds: settings.durationSeconds,
        body: (i) => {
          (tallies[i % kinds.length] as (typeof tallies)[number]).sent += 1;
          return (kinds[i % kinds.length] as PoisonKind).request(Math.floor(i / kinds.length)).body;
        },
        headersFor: (i): Record<string, string> => {
          const token = (kinds[i % kinds.length] as PoisonKind).request(Math.floor(i / kinds.length)).token;
          return token ? { authorization: `Bearer ${token}` } : {};
        },
        onAnswer: (i, status) => {
          const codes = (tallies[i % kinds.length] as (typeof tallies)[number]).statusCodes;
          codes[String(status)] = (codes[String(status)] ?? 0) + 1;
        },
        signal,
      }),
    ]);
    bisectedCommits += bisections(hub) - warningsBefore;
    sent = { sent: sent.sent + paced.sent, seconds: sent.seconds + paced.sendSeconds, maxLagMs: Math.max(sent.maxLagMs, paced.maxLagMs) };
    phases.push({ poisoned: true, summary: poisoned });
    signal.throwIfAborted();
  }

  const of = (poisoned: boolean) => phases.filter((phase) => phase.poisoned === poisoned).map((phase) => phase.summary);
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
  };
  const ratio = (aggregate: (values: number[]) => number, pick: (summary: LoadSummary) => number) => {
    const control = aggregate(of(false).map(pick));
    return control > 0 ? aggregate(of(true).map(pick)) / control : Number.NaN;
  };
  const ratios = {
    requestsPerSecond: ratio(mean, (summary) => summary.requestsPerSecond.average),
    p50: ratio(median, (summary) => summary.latencyMs.p50),
    p99: ratio(median, (summary) => summary.latencyMs.p99),
  };
  const slower = 1 + POISON_GOAL.maxSlowdown;
  const faster = 1 - POISON_GOAL.maxSlowdown;
  return {
    poisonerRps: settings.rps,
    phases,
    ratios,
    goals: {
      requestsPerSecond: { target: faster, value: ratios.requestsPerSecond, pass: ratios.requestsPerSecond >= faster },
      p50: { target: slower, value: ratios.p50, pass: ratios.p50 <= slower },
      p99: { target: slower, value: ratios.p99, pass: ratios.p99 <= slower },
    },
    poisoner: { sent: sent.sent, sentPerSecond: sent.seconds > 0 ? sent.sent / sent.seconds : 0, maxLagMs: sent.maxLagMs, kinds: tallies },
    bisectedCommits,
  };
}

function bisections(hub: HubProcess): number {
  return hub.problems.filter((line) => typeof line.message === 'string' && line.message.startsWith('group commit failed')).length;
}

export function formatPoisonReport(results: PoisonResults): string {
  const { phases, ratios, goals, poisoner } = results;
  const lines = [
    `Poisoning tenant: tenant B at full speed, alone and while tenant A sends ${formatNumber(results.poisonerRps)} bad requests/s`,
    formatLoadTable(
      'tenant B',
      phases.map((phase, i) => [`${Math.floor(i / 2) + 1}: ${phase.poisoned ? 'while A poisons' : 'alone (control)'}`, phase.summary] as const),
    ),
    '',
    `B mean req/s while poisoned / alone:   ${ratios.requestsPerSecond.toFixed(3)}  (target ≥ ${goals.requestsPerSecond.target.toFixed(2)}: ${verdict(goals.requestsPerSecond.pass)})`,
    `B median p50 while poisoned / alone:  ${ratios.p50.toFixed(3)}  (target ≤ ${goals.p50.target.toFixed(2)}: ${verdict(goals.p50.pass)})`,
    `B median p99 while poisoned / alone:  ${ratios.p99.toFixed(3)}  (target ≤ ${goals.p99.target.toFixed(2)}: ${verdict(goals.p99.pass)})`,
    `Tenant A sent ${formatNumber(poisoner.sent)} bad requests (${formatNumber(poisoner.sentPerSecond, 1)}/s, at worst ${formatNumber(poisoner.maxLagMs, 0)} ms behind schedule); ` +
      `the hub bisected ${formatNumber(results.bisectedCommits)} failed commits meanwhile`,
    formatTable(
      [
        { header: "tenant A's requests", align: 'left' },
        { header: 'sent' },
        { header: 'answers', align: 'left' },
      ],
      poisoner.kinds.map((kind) => [
        kind.name,
        kind.sent,
        Object.entries(kind.statusCodes)
          .map(([code, count]) => `${code === '0' ? 'no answer' : code}×${formatNumber(count)}`)
          .join(' '),
      ]),
    ),
  ];
  return lines.join('\n');
}
