// Verdicts for a plan's `golive` and `readiness` gates (the executor's GateCheck port). A `golive` gate passes only
// on a go/no-go poll bound to the run's exact plan hash whose recorded outcome is go; a `readiness` gate only when
// the tenant's configured readiness checklist is READY. Anything missing fails the gate, saying what is missing.
import { latestClosedPoll } from './golive-polls.ts';
import type { ControlStore, GateCheck, ReceiptWriter } from '@vaultmesh/types';
import { readinessReceiptBody, type ReadinessReport } from './readiness.ts';

/** What the gate check needs. */
export interface PlanGatesOptions {
  /** Where go/no-go polls are kept (collection GOLIVE). */
  readonly store: ControlStore;
  /**
   * The tenant's readiness now (its configured checklist against the configured metrics), or undefined when no
   * checklist is configured for it.
   */
  readonly readiness?: (tenant: string) => Promise<ReadinessReport | undefined>;
  /** Where each readiness report a gate relied on is recorded (an `audit` receipt); without it none is. */
  readonly receipts?: ReceiptWriter;
}

const oneLine = (s: string, max = 500) => s.replace(/\s+/g, ' ').slice(0, max);

/** Creates the GateCheck for `golive` and `readiness` plan gates; never throws for a missing verdict (fails it). */
export function createPlanGates(opts: PlanGatesOptions): GateCheck {
  return {
    async check(gate, run) {
      if (gate.kind === 'golive') {
        const pollId = typeof gate.params?.pollId === 'string' ? gate.params.pollId : undefined;
        const latest = await latestClosedPoll(
          opts.store,
          (p) =>
            p.planId === run.planId &&
            p.planHash === run.planHash &&
            p.tenant === run.tenant &&
            (pollId === undefined || p.id === pollId),
        );
        if (!latest)
          return {
            pass: false,
            reason: `no go/no-go poll${pollId ? ` ${pollId}` : ''} on plan ${run.planId} hash ${run.planHash} has closed (open one with vm golive poll open --plan ${run.planId} --hash ${run.planHash})`,
          };
        if (latest.outcome === 'go' && latest.outcomeReceipt)
          return { pass: true, reason: `poll ${latest.id} said go (receipt ${latest.outcomeReceipt.index})` };
        return {
          pass: false,
          reason: oneLine(
            `poll ${latest.id} closed with ${latest.outcome}: ${(latest.reasons ?? []).join('; ')}`,
          ),
        };
      }
      if (gate.kind === 'readiness') {
        const report = opts.readiness ? await opts.readiness(run.tenant) : undefined;
        if (!report)
          return {
            pass: false,
            reason: `no readiness checklist is configured for tenant ${run.tenant} (control.readiness.checklists)`,
          };
        let recorded = '';
        if (opts.receipts) {
          // The report the gate decides on is on the record, whatever it says; unrecorded, the gate fails closed.
          try {
            const r = await opts.receipts.append({
              kind: 'audit',
              actor: 'vaultmesh/readiness-gate',
              tenant: run.tenant,
              body: {
                ...readinessReceiptBody(report, { via: 'gate' }),
                planId: run.planId,
                runId: run.runId,
                gateId: gate.id,
              },
            });
            recorded = ` (receipt ${r.index})`;
          } catch (e) {
            return {
              pass: false,
              reason: oneLine(`the readiness report could not be recorded: ${(e as Error).message}`),
            };
          }
        }
        if (report.status === 'READY')
          return { pass: true, reason: `tenant ${run.tenant} is READY${recorded}` };
        const failed = report.findings.filter((f) => !f.ok);
        return {
          pass: false,
          reason: oneLine(
            `tenant ${run.tenant} is NOT_READY${recorded}: ${failed
              .slice(0, 5)
              .map(
                (f) =>
                  `${f.section}/${f.item}: ${f.detail ?? `expected ${f.expected}, observed ${f.observed}`}`,
              )
              .join('; ')}`,
          ),
        };
      }
      return { pass: false, reason: `no check for ${gate.kind} gates` };
    },
  };
}
