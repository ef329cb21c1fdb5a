import type { Logger } from 'pino';
import type { UdpBind, UdpOptions } from '../src/io/udp.js';
import type { Endpoint } from '../src/net/endpoint.js';
import type { Diagnostics } from '../src/node/diagnostics.js';
import { decodeStunAs, encodeBindingSuccess } from '../src/protocol/stun-codec.js';

/** What the responder needs: the node's socket and counters, and a way to bind the alternate port. */
export interface StunResponderDeps {
  readonly diag: Pick<Diagnostics, 'drop'>;
  readonly log: Logger;
  /** listen.host, named with the other port in OTHER-ADDRESS. */
  readonly listenHost: string;
  /** The node's own port. */
  listenPort(): number;
  /** Sends from the node's own socket. */
  sendRaw(data: Uint8Array, to: Endpoint): void;
  bindUdp?: (options: UdpOptions) => Promise<UdpBind>;
}

/**
 * A lighthouse's STUN server: answers Binding requests on the node's own port with the request's
 * source (XOR-MAPPED-ADDRESS), and, with `stun.alternate_port`, on a second port too, each naming
 * the other in OTHER-ADDRESS (RFC 5780) so that a node with one lighthouse can still compare two
 * mappings of its socket. Two ports on one IP detect port-dependent mappings (what defeats
 * punching); an address-dependent NAT that keeps the port looks endpoint-independent.
 */
/** Answers per second in all and per source IP: a reply is bigger than its request, so unlimited answers to spoofed requests would amplify. */
const ANSWERS_PER_SECOND = 2000;
const ANSWERS_PER_SOURCE_PER_SECOND = 10;
const TRACKED_SOURCES = 4096;

export class StunResponder {
  private windowStart = 0;
  private answered = 0;
  private readonly bySource = new Map<string, number>();

  private constructor(
    private readonly node: StunResponderDeps,
    private readonly alternate: UdpBind | null,
  ) {}

  /**
   * A failure to bind the alternate port is logged and leaves STUN on the main port only: it is an
   * aid to the nodes' NAT detection, not worth refusing to run the lighthouse for.
   */
  static async start(node: StunResponderDeps, port: number): Promise<StunResponder> {
    let alternate: UdpBind | null = null;
    if (port !== 0 && node.bindUdp) {
      try {
        alternate = await node.bindUdp({ host: node.listenHost, port, batch: 8 });
      } catch (err) {
        node.log.warn({ port, reason: (err as Error).message }, 'stun.alternate_port: cannot bind, answering STUN on the listen port only');
      }
    }
    const responder = new StunResponder(node, alternate);
    alternate?.onDatagrams((batch) => {
      for (const d of batch) responder.answerOn(alternate, d.data, d.from);
    });
    if (alternate) node.log.info({ port: alternate.localPort }, 'answering STUN on the alternate port');
    return responder;
  }

  private withinRate(source: string): boolean {
    const now = Date.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.answered = 0;
      this.bySource.clear();
    }
    const fromSource = this.bySource.get(source) ?? 0;
    if (this.answered >= ANSWERS_PER_SECOND || fromSource >= ANSWERS_PER_SOURCE_PER_SECOND) return false;
    if (this.bySource.size < TRACKED_SOURCES || this.bySource.has(source)) this.bySource.set(source, fromSource + 1);
    this.answered++;
    return true;
  }

  get alternatePort(): number | null {
    return this.alternate?.localPort ?? null;
  }

  /** A STUN request on the node's main socket. */
  answer(data: Buffer, from: Endpoint): void {
    this.answerOn(null, data, from);
  }

  async stop(): Promise<void> {
    await this.alternate?.close();
  }

  /** `socket` null is the node's main socket; replies leave from the socket the request came to. */
  private answerOn(socket: UdpBind | null, data: Buffer, from: Endpoint): void {
    const decoded = decodeStunAs(data, 'binding-request', 'stun-not-request');
    if ('drop' in decoded) return this.node.diag.drop(decoded.drop, from, decoded.err);
    if (!this.withinRate(from.address)) return this.node.diag.drop('stun-rate-limited', from);
    const reply = encodeBindingSuccess(decoded.message.transactionId, from, this.otherAddress(socket));
    if (socket) socket.send([{ data: reply, to: from }]);
    else this.node.sendRaw(reply, from);
  }

  /**
   * The other port of the pair, at listen.host. A wildcard listen address does not know which of its
   * addresses the client used, so it names the unspecified address; clients pair the port with the
   * address they sent to in any case (they never send to an address from an unauthenticated reply).
   */
  private otherAddress(socket: UdpBind | null): Endpoint | null {
    if (!this.alternate) return null;
    return { address: this.node.listenHost, port: socket ? this.node.listenPort() : this.alternate.localPort };
  }
}
