// HTTP edge of the Ψ-Field: the series the node watches (their last point, forecast and Ψ) and the anomaly episodes.
// The series are the node's own (its metrics, or operator-configured Prometheus queries), not a tenant's: reading
// them takes receipts:read on the `system` tenant, which only tokens of every tenant (`*`) have.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authorize, type Principal } from '@vaultmesh/auth';
import { HttpError } from './errors.ts';
import { intParam, timeParam, type Query } from './request.ts';

/** What the routes need (packages/node/src/psi.ts builds it over the field). */
export interface PsiApi {
  /** Every watched series: its last point, the next forecast, whether an episode is open. */
  series(): readonly unknown[];
  /** Ψ per service (the series grouped by the part of their name before the first dot). */
  services(): readonly unknown[];
  /** Anomaly episodes, newest first. */
  anomalies(filter: { series?: string; since?: number; limit?: number }): readonly unknown[];
  /** The sampling interval and the anomaly threshold. */
  settings(): { intervalMs: number; anomalyThreshold: number };
}

const SERIES = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** Registers GET /api/psi/series and GET /api/psi/anomalies. */
export function registerPsiRoutes(
  app: FastifyInstance,
  psi: PsiApi,
  principal: (req: FastifyRequest) => Promise<Principal>,
): void {
  app.get('/api/psi/series', async (req) => {
    authorize(await principal(req), 'receipts:read', 'system');
    return { ...psi.settings(), services: psi.services(), series: psi.series() };
  });
  app.get('/api/psi/anomalies', async (req) => {
    authorize(await principal(req), 'receipts:read', 'system');
    const q = req.query as Query;
    const series = q['series'];
    if (series !== undefined && (typeof series !== 'string' || !SERIES.test(series)))
      throw new HttpError(400, 'INVALID_REQUEST', 'series must be 1-128 of A-Z a-z 0-9 _ . : -');
    const since = timeParam(q, 'since');
    const limit = intParam(q, 'limit', { min: 1, max: 1000 }) ?? 100;
    return {
      anomalies: psi.anomalies({
        ...(series !== undefined ? { series } : {}),
        ...(since !== undefined ? { since } : {}),
        limit,
      }),
    };
  });
}
