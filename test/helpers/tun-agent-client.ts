/** Drives test/helpers/tun-agent.ts running inside a namespace of a NetnsLab. */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { NetnsLab } from '../../src/lab/netns.js';
import { within } from '../../src/lab/wait.js';

export interface AgentEvent {
  event: string;
  [key: string]: unknown;
}

export class TunAgent {
  readonly events: AgentEvent[] = [];
  stderr = '';
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly eventWaiters = new Set<() => void>();

  private constructor(readonly child: ChildProcess) {
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      let msg: { id?: number; ok?: boolean; result?: unknown; error?: string; code?: string; event?: string };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        this.stderr += `[stdout] ${line}\n`;
        return;
      }
      if (msg.id !== undefined) {
        const w = this.waiting.get(msg.id);
        this.waiting.delete(msg.id);
        if (!w) return;
        if (msg.ok) w.resolve(msg.result);
        else w.reject(Object.assign(new Error(msg.error ?? 'agent error'), { code: msg.code }));
      } else {
        this.events.push(msg as AgentEvent);
        for (const f of [...this.eventWaiters]) f();
      }
    });
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    child.once('exit', (code, signal) => {
      for (const w of this.waiting.values()) w.reject(new Error(`tun agent exited (${code ?? signal}): ${this.stderr}`));
      this.waiting.clear();
      for (const f of [...this.eventWaiters]) f();
    });
  }

  /** Starts the agent in `ns` and waits until it is ready. */
  static async start(lab: NetnsLab, ns: string): Promise<TunAgent> {
    const script = fileURLToPath(new URL('./tun-agent.js', import.meta.url));
    const agent = new TunAgent(lab.spawn(ns, process.execPath, [script]));
    await agent.waitFor((e) => e.event === 'ready', 10_000);
    return agent;
  }

  /** Sends one request; rejects when the agent answers with an error, exits, or says nothing for `timeoutMs`. */
  request<T = unknown>(op: string, args: Record<string, unknown> = {}, timeoutMs = 15_000): Promise<T> {
    const id = this.nextId++;
    const answer = new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.stdin!.write(`${JSON.stringify({ id, op, ...args })}\n`);
    });
    return within(answer, timeoutMs, `tun agent request ${op}`).finally(() => this.waiting.delete(id));
  }

  /** Resolves with the first event (already received or future) matching `pred`. */
  waitFor(pred: (e: AgentEvent) => boolean, timeoutMs = 5000, from = 0): Promise<AgentEvent> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.events.slice(from).find(pred);
        if (found) {
          done();
          resolve(found);
          return true;
        }
        if (this.child.exitCode !== null || this.child.signalCode !== null) {
          done();
          reject(new Error(`tun agent exited before the expected event; stderr: ${this.stderr}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for an agent event; got ${JSON.stringify(this.events.slice(from)).slice(0, 2000)}; stderr: ${this.stderr}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.eventWaiters.delete(check);
      };
      if (!check()) this.eventWaiters.add(check);
    });
  }

  /** All packets of `packets` events received so far (from event index `from`), flattened. */
  packets(from = 0): Buffer[] {
    return this.events
      .slice(from)
      .filter((e) => e.event === 'packets')
      .flatMap((e) => (e.packets as string[]).map((h) => Buffer.from(h, 'hex')));
  }
}
