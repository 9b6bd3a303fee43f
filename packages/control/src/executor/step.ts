// One step of a run: journal, policy, autonomy tier and approvals, tripwires, the action under its time budget,
// retries, the receipt, and what a failure does (hold, roll back).
import type { FiredTripwire } from '@vaultmesh/types';
import { type ActionResult, actionTrait, governStep } from '../actions.ts';
import { consumeApproval, findApproval } from '../approvals.ts';
import { ControlError } from '../errors.ts';
import type { PlanPhase, PlanStep } from '../plan.ts';
import { fenceStepProcess, type StepProcess, stepProcessRunning } from '../process-fence.ts';
import { STEP_ERRORS_COUNTER, STEPS_COUNTER } from '../tripwires.ts';
import type { RunBase } from './run-base.ts';
import type { Rollback } from './rollback.ts';
import type { Stops } from './stops.ts';
import { DEFAULT_STEP_TIMEOUT_MS, type Drive, JOURNAL, type JournalEntry, type StepStatus } from './types.ts';
import { boundedOutput, digestOf, oneLine } from './util.ts';

/** Runs one step of a run end to end (policy, tier, approvals, tripwires, action, retries, receipt). */
export function createStepRunner(base: RunBase, rollbacks: Rollback, stopping: Stops) {
  const {
    actions,
    autonomy,
    count,
    decide,
    emit,
    facts,
    firedOf,
    hold,
    invoke,
    iso,
    journal,
    now,
    opts,
    policy,
    recordDone,
    saveRun,
    store,
    tripwires,
  } = base;
  const { rollback } = rollbacks;
  const { holdInterrupted, recordStopped, tripStop } = stopping;
  /** One step; false when the run stopped (held) at it. */
  async function runStep(d: Drive, phase: PlanPhase, step: PlanStep): Promise<boolean> {
    const { run } = d;
    const key = `${run.runId}/${phase.id}/${step.id}`;
    const j = await store.get<JournalEntry>(JOURNAL, key);
    const prev = j ? { version: j.version, attempt: j.doc.attempt } : undefined;
    if (
      j?.doc.state === 'done' &&
      (j.doc.status === 'succeeded' || j.doc.status === 'skipped' || j.doc.status === 'unverifiable')
    ) {
      d.outcomes.push({
        phaseId: phase.id,
        stepId: step.id,
        action: step.action,
        status: j.doc.status,
        fromJournal: true,
        ...(j.doc.receipt ? { receipt: j.doc.receipt } : {}),
      });
      if (j.doc.status === 'succeeded' && j.doc.receipt)
        d.completed.push({ phase, step, receipt: j.doc.receipt });
      return true;
    }
    const action = actions.get(step.action);
    if (!action) throw new ControlError('PLAN_INVALID', `unknown action "${step.action}" in step ${step.id}`);
    const f = facts(d, phase, step, step.params);
    d.position = { phaseId: phase.id, stepId: step.id };
    const stoppedBefore = d.analysis?.stopped;
    if (stoppedBefore) {
      await tripStop(
        d,
        d.position,
        firedOf(stoppedBefore),
        `continuous analysis stopped the run before step ${step.id}: ${stoppedBefore.reason}`,
        { phase, step, prev, body: {} },
      );
      return false;
    }
    // An earlier attempt's process group (a crash left the step 'started'): it may still be running.
    const orphan = j?.doc.state === 'started' ? j.doc.process : undefined;
    const orphanRunning = orphan ? stepProcessRunning(orphan) : false;
    if (j?.doc.state === 'started' && !actionTrait(action, 'idempotent', step.params) && !d.rerunStarted) {
      const still =
        orphan && orphanRunning !== false
          ? orphanRunning
            ? `; its process group ${orphan.pgid} (${orphan.command.join(' ').slice(0, 200)}) is still running: wait for it, cancel (which stops it), or resume with rerunStarted (which stops it and runs the step again)`
            : `; its process group ${orphan.pgid} ran on host ${orphan.host}: check it there`
          : '';
      const message = `step ${step.id} (${step.action}) was started before the executor stopped and did not finish; its action is not idempotent, so it is not run again: check its effect, then resume with rerunStarted, or cancel${still}`;
      await holdInterrupted(d, phase, step, prev, message);
      return false;
    }
    if (policy.policySetHash !== run.policySetHash) {
      const message = `the policy set changed during the run (was ${run.policySetHash}, now ${policy.policySetHash}): store the plan again and start a new run`;
      await recordStopped(d, phase, step, 'halted', prev, { reason: 'plan-stale' });
      await hold(d, {
        reason: 'plan-stale',
        message,
        phaseId: phase.id,
        stepId: step.id,
        resumable: false,
        rolledBack: false,
      });
      return false;
    }
    const decision = await decide(d, phase, step.action, step.id, { risk: f.risk, readOnly: f.readOnly });
    const policyBody = {
      decision: decision.decision,
      reasons: decision.reasons.slice(0, 20),
      policySetHash: decision.policySetHash,
    };
    if (decision.decision !== 'allow') {
      await recordStopped(d, phase, step, 'denied', prev, { policy: policyBody, reason: 'policy-denied' });
      await hold(d, {
        reason: 'policy-denied',
        message: `policy denied step ${step.id} (${step.action}): ${decision.reasons.join(', ') || 'no policy allows it'}`,
        phaseId: phase.id,
        stepId: step.id,
        resumable: true,
        rolledBack: false,
      });
      return false;
    }
    const gate = await autonomy.decide(f);
    const autonomyBody = { mode: gate.mode, tier: gate.tier, reason: oneLine(gate.reason, 200) };
    // Approvals guard live changes; a dry-run changes nothing, so it notes the need and goes on.
    let approval: Awaited<ReturnType<typeof findApproval>>['found'];
    let approvalId: string | undefined;
    if (gate.mode === 'approval-required' && !run.dryRun) {
      approvalId = run.phaseApprovals[phase.id];
      if (!approvalId) {
        const f2 = await findApproval(
          store,
          d.approvals,
          { planHash: run.planHash, phaseId: phase.id, stepId: step.id },
          now(),
        );
        approval = f2.found;
        if (!approval) {
          const why = f2.rejected.join('; ') || 'no approval token presented';
          await recordStopped(d, phase, step, 'denied', prev, {
            policy: policyBody,
            autonomy: autonomyBody,
            reason: 'approval-required',
          });
          await hold(d, {
            reason: 'approval-required',
            message: `step ${step.id} needs an approval bound to plan hash ${run.planHash} and step ${step.id} or phase ${phase.id} (tier ${gate.tier}: ${gate.reason}; ${why})`,
            phaseId: phase.id,
            stepId: step.id,
            resumable: true,
            rolledBack: false,
          });
          return false;
        }
      }
    }
    let fired: readonly FiredTripwire[];
    try {
      fired = await tripwires.check(f);
    } catch (e) {
      fired = [
        {
          id: 'tripwire-check',
          action: 'halt',
          reason: `tripwire check failed: ${oneLine((e as Error).message)}`,
          evidence: {},
        },
      ];
    }
    if (fired.length > 0) {
      const message = `tripwire${fired.length > 1 ? 's' : ''} ${fired.map((t) => `${t.id} (${t.action}: ${t.reason})`).join(', ')} fired before step ${step.id}`;
      await tripStop(d, d.position, fired, message, {
        phase,
        step,
        prev,
        body: { policy: policyBody, autonomy: autonomyBody },
      });
      return false;
    }
    if (approval) {
      try {
        const used = await consumeApproval(store, approval, run.runId, now());
        approvalId = used.id;
        if (used.scope.stepId === undefined)
          await saveRun(d, { phaseApprovals: { ...d.run.phaseApprovals, [phase.id]: used.id } });
      } catch (e) {
        if (!(e instanceof ControlError && e.code === 'APPROVAL_INVALID')) throw e;
        await recordStopped(d, phase, step, 'denied', prev, {
          policy: policyBody,
          autonomy: autonomyBody,
          reason: 'approval-required',
        });
        await hold(d, {
          reason: 'approval-required',
          message: e.message,
          phaseId: phase.id,
          stepId: step.id,
          resumable: true,
          rolledBack: false,
        });
        return false;
      }
    }

    // Never two runs of a step at once: an earlier attempt's group still running is stopped before this one starts.
    let fenced: string | undefined;
    if (orphan && orphanRunning !== false) {
      const f2 = orphanRunning
        ? await fenceStepProcess(orphan)
        : {
            wasRunning: true,
            stopped: d.rerunStarted,
            detail: `process group ${orphan.pgid} ran on host ${orphan.host}`,
          };
      if (!f2.stopped) {
        const message = `step ${step.id} (${step.action}) cannot run again yet: ${f2.detail}; stop it, then resume${orphanRunning ? '' : ' with rerunStarted'}, or cancel`;
        await holdInterrupted(d, phase, step, prev, message);
        return false;
      }
      if (f2.wasRunning) fenced = oneLine(f2.detail);
    }
    const attempt = (prev?.attempt ?? 0) + 1;
    // A step the process died in keeps its first start, so a timer (wait, bake) counts from there on resume.
    const firstStartedAt = j?.doc.state === 'started' ? Date.parse(j.doc.startedAt) : undefined;
    const startedAt = iso();
    const startedEntry: JournalEntry = {
      runId: run.runId,
      phaseId: phase.id,
      stepId: step.id,
      kind: 'step',
      action: step.action,
      state: 'started',
      attempt,
      startedAt,
      ...(approvalId ? { approvalId } : {}),
      ...(fenced ? { fenced } : {}),
    };
    let v = await journal(key, startedEntry, prev?.version ?? 0);
    // Each process group the step starts is journaled before the step goes on (see process-fence.ts).
    let processWrites: Promise<void> = Promise.resolve();
    const onProcess = (p: StepProcess): Promise<void> =>
      (processWrites = processWrites.then(async () => {
        v = await journal(key, { ...startedEntry, process: p }, v);
      }));
    emit({
      type: 'step-started',
      runId: run.runId,
      planId: run.planId,
      dryRun: run.dryRun,
      phaseId: phase.id,
      stepId: step.id,
      action: step.action,
      rollback: false,
      at: iso(),
    });
    const began = now();
    const skipped = run.dryRun && !action.dryRun;
    // In a dry-run, the plan's earlier writes (none applied): told to the action, and the test for `unverifiable`.
    const writes = run.dryRun ? earlierWrites(d, phase, step) : [];
    const once = () =>
      invoke(action, step.params, step.timeoutMs ?? opts.defaultStepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS, {
        dryRun: run.dryRun,
        facts: f,
        plan: d.stored.plan,
        principal: d.principal,
        ...(run.dryRun
          ? {
              unappliedWrites: writes.map((w) => w.id),
              unappliedSteps: writes.map((w) => ({ id: w.id, action: w.action, params: w.params })),
            }
          : {}),
        ...(firstStartedAt !== undefined && Number.isFinite(firstStartedAt) ? { firstStartedAt } : {}),
        // A read or a wait ends at once when analysis stops the run; a write finishes (then rolls back).
        ...(f.readOnly ? { stop: d.analysisStop.signal } : {}),
        ...(run.dryRun ? {} : { onProcess }),
      });
    let tries = 1;
    let res: ActionResult = skipped
      ? { ok: true, output: { skipped: `action ${step.action} has no dry-run` } }
      : await once();
    // Retries (idempotent steps only, checked when the plan was stored), with exponential backoff. A crash during
    // the backoff resumes the step as a whole, which an idempotent step allows.
    while (!skipped && !res.ok && step.retry && tries < step.retry.attempts && !d.analysis?.stopped) {
      await new Promise((r) => setTimeout(r, Math.min(step.retry!.backoffMs * 2 ** (tries - 1), 600_000)));
      tries++;
      res = await once();
    }
    await processWrites.catch(() => undefined);
    const stoppedDuring = d.analysis?.stopped;
    if (stoppedDuring && f.readOnly && !res.ok) {
      await tripStop(
        d,
        d.position,
        firedOf(stoppedDuring),
        `continuous analysis stopped the run during step ${step.id}: ${stoppedDuring.reason}`,
        {
          phase,
          step,
          prev: { version: v, attempt: attempt - 1 },
          body: { policy: policyBody, autonomy: autonomyBody },
        },
      );
      return false;
    }
    let status: StepStatus = skipped ? 'skipped' : res.ok ? 'succeeded' : 'failed';
    // A dry-run applies no write, so a read after this plan's own writes may look for what they would create.
    let unverifiable: string | undefined;
    // A dry-run that could not check part of what it would do says so itself (a k8s.apply into a planned namespace).
    if (status === 'succeeded' && run.dryRun && res.unverifiable) {
      status = 'unverifiable';
      unverifiable = oneLine(res.unverifiable);
    }
    if (status === 'failed' && run.dryRun && f.readOnly) {
      if (writes.length > 0) {
        status = 'unverifiable';
        unverifiable = oneLine(
          `not checkable in a dry-run: it reads what earlier writes of this plan (${writes.map((w) => w.id).join(', ')}) would create, and a dry-run applies none; the live run checks it`,
        );
      }
    } else if (status === 'failed' && run.dryRun) {
      // A rollout or scale of a Deployment that an earlier k8s.apply of this plan creates: the server-side dry-run
      // of that apply persisted nothing, so the Deployment is not there to change yet.
      const creator = deploymentCreator(d, phase, step);
      if (creator) {
        status = 'unverifiable';
        unverifiable = oneLine(
          `not checkable in a dry-run: ${creator.what} is created by step ${creator.stepId} (k8s.apply), which a dry-run does not persist; the live run checks it`,
        );
      }
    }
    if (!skipped) count(STEPS_COUNTER, run, { action: step.action, status });
    if (status === 'failed') count(STEP_ERRORS_COUNTER, run, { action: step.action });
    const outputDigest = digestOf(res.output);
    const receipt = await recordDone(
      d,
      key,
      { kind: 'step', phaseId: phase.id, stepId: step.id, action: step.action, status, attempt, startedAt },
      {
        stepId: step.id,
        phaseId: phase.id,
        action: step.action,
        status,
        risk: f.risk,
        policy: policyBody,
        autonomy: autonomyBody,
        ...(gate.mode === 'approval-required' && run.dryRun ? { approvalRequired: true } : {}),
        ...(approvalId ? { approvalId } : {}),
        ...(unverifiable ? { reason: unverifiable } : {}),
        ...(tries > 1 ? { tries } : {}),
        ...(fenced ? { fenced } : {}),
        outputDigest,
        ...(res.exitCode !== undefined ? { exitCode: res.exitCode } : {}),
        ...(res.error ? { error: oneLine(res.error) } : {}),
        durationMs: now() - began,
        attempt,
      },
      {
        outputDigest,
        output: boundedOutput(res.output),
        ...(approvalId ? { approvalId } : {}),
        ...(unverifiable ? { reason: unverifiable } : {}),
        ...(res.summary ? { summary: oneLine(res.summary, 2000) } : {}),
        ...(fenced ? { fenced } : {}),
        ...(res.error ? { error: oneLine(res.error) } : {}),
        ...(res.exitCode !== undefined ? { exitCode: res.exitCode } : {}),
      },
      v,
    );
    d.outcomes.push({
      phaseId: phase.id,
      stepId: step.id,
      action: step.action,
      status,
      receipt,
      ...(res.error ? { error: res.error } : {}),
    });
    emit({
      type: 'step-finished',
      runId: run.runId,
      planId: run.planId,
      dryRun: run.dryRun,
      phaseId: phase.id,
      stepId: step.id,
      action: step.action,
      rollback: false,
      status,
      ...(res.error ? { error: res.error } : {}),
      ...(unverifiable ? { reason: unverifiable } : {}),
      ...(res.summary ? { summary: oneLine(res.summary, 2000) } : {}),
      at: iso(),
    });
    if (status === 'failed') {
      await rollback(
        d,
        'step-failed',
        `step ${step.id} (${step.action}) failed: ${oneLine(res.error ?? 'failed')}`,
        { phase, step },
        { phaseId: phase.id, stepId: step.id },
      );
      return false;
    }
    if (status === 'succeeded') d.completed.push({ phase, step, receipt });
    const stoppedAfter = d.analysis?.stopped;
    if (stoppedAfter) {
      await tripStop(
        d,
        d.position,
        firedOf(stoppedAfter),
        `continuous analysis stopped the run during step ${step.id}: ${stoppedAfter.reason}`,
      );
      return false;
    }
    return true;
  }
  /** The earlier k8s.apply step of this plan that creates the Deployment a k8s.rollout/k8s.scale step changes. */
  function deploymentCreator(
    d: Drive,
    phase: PlanPhase,
    step: PlanStep,
  ): { stepId: string; what: string } | undefined {
    if (step.action !== 'k8s.rollout' && step.action !== 'k8s.scale') return undefined;
    const name = step.params.deployment;
    const ns = (step.params.namespace as string | undefined) ?? d.stored.plan.target.namespace;
    if (typeof name !== 'string') return undefined;
    for (const ph of d.stored.plan.phases)
      for (const s of ph.steps) {
        if (ph.id === phase.id && s.id === step.id) return undefined;
        if (s.action !== 'k8s.apply' || !Array.isArray(s.params.manifests)) continue;
        for (const m of s.params.manifests as {
          kind?: unknown;
          metadata?: { name?: unknown; namespace?: unknown };
        }[])
          if (
            m?.kind === 'Deployment' &&
            m.metadata?.name === name &&
            (m.metadata.namespace === undefined || m.metadata.namespace === ns)
          )
            return { stepId: s.id, what: `Deployment ${name}` };
      }
    return undefined;
  }
  /**
   * Ids of the plan's steps before `step` (in plan order: a phase dry-run alone did not apply its predecessors
   * either) whose action writes, by the governed facts, not the declarations.
   */
  function earlierWrites(d: Drive, phase: PlanPhase, step: PlanStep): PlanStep[] {
    const out: PlanStep[] = [];
    for (const ph of d.stored.plan.phases) {
      for (const s of ph.steps) {
        if (ph.id === phase.id && s.id === step.id) return out;
        if (governStep(actions.get(s.action), s, s.params).effect === 'write') out.push(s);
      }
    }
    return out;
  }

  return { runStep, deploymentCreator, earlierWrites };
}

/** What createStepRunner returns. */
export type StepRunner = ReturnType<typeof createStepRunner>;
