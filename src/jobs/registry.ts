import type { Logger } from 'pino';
import type { JobName, JobPayloads } from '../queue/jobs.js';
import type { Services } from '../services/index.js';

export interface JobContext {
  log: Logger;
  services: Services;
}

export type JobHandler<N extends JobName> = (payload: JobPayloads[N], ctx: JobContext) => Promise<void>;
export type JobHandlers = { [N in JobName]: JobHandler<N> };
