/**
 * Loads the native addon: native/build/Release (built from source by `npm install` in the
 * repository; loaded by its path) or, with node-gyp-build, the prebuilt native/prebuilds/<platform>-<arch>/ that the
 * published package ships; or the file named by MESH_NATIVE_ADDON. Works both from src/io (ts
 * runners) and dist/src/io (compiled).
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Batch layout shared by the native read callbacks: `count` little-endian uint32 lengths, then the payloads back to back. */
export type NativeTunCallback = (batch: ArrayBuffer | undefined, count: number, error?: Error) => void;

export interface NativeTunStats {
  rxPackets: number;
  txPackets: number;
  /** Offloads only: reads that were split into several packets. */
  rxSuperPackets: number;
  /** Offloads only: reads dropped as malformed (bad virtio_net_hdr or lengths). */
  rxInvalid: number;
  /** Offloads only: writes that carried several coalesced TCP segments or UDP datagrams. */
  txSuperPackets: number;
  /** System calls that read: read(2) calls, EAGAIN included, and io_uring rounds. */
  rxReads: number;
  txDropped: number;
  txErrors: number;
  lastTxError: string | null;
}

export interface NativeTun {
  readonly name: string;
  readonly fd: number;
  /** Active offloads: [] or "vnet_hdr" followed by any of "csum", "tso4", "tso6", "uso4", "uso6". */
  readonly offloads: string[];
  /** "io_uring": queued packets are read in batches, one system call for several; "read": one read(2) each. */
  readonly readMode: 'io_uring' | 'read';
  setMtu(mtu: number): void;
  setAddress(ip: number, bits: number): void;
  setTxQueueLength(length: number): void;
  up(): void;
  addRoute(ip: number, bits: number, mtu?: number, metric?: number): void;
  removeRoute(ip: number, bits: number, mtu?: number, metric?: number): void;
  /** IPv6 (16 address bytes): an address with its prefix length (no DAD; the kernel adds the prefix route), routes. */
  addAddress6(addr: Uint8Array, bits: number): void;
  /** A further IPv4 address (setAddress sets the first). */
  addAddress4(ip: number, bits: number): void;
  addRoute6(dst: Uint8Array, bits: number, mtu?: number, metric?: number): void;
  removeRoute6(dst: Uint8Array, bits: number, mtu?: number, metric?: number): void;
  /** `headroom` (0-256): free bytes before and after each packet of a batch (see splitBatch). */
  start(callback: NativeTunCallback, batch?: number, headroom?: number): void;
  write(packets: readonly Uint8Array[]): number;
  /** Packets read are offered to the fast path first; it writes through this device (null: detach). */
  setFastPath(fastPath: NativeFastPath | null): void;
  ref(): void;
  unref(): void;
  stats(): NativeTunStats;
  close(): void;
}

/**
 * Batch layout of the UDP read callback: per datagram three little-endian uint32 (length, port,
 * index into `addresses`), then the payloads back to back. `addresses` may be handed over again
 * with the next batch: read it synchronously.
 */
export type NativeUdpCallback = (batch: ArrayBuffer | undefined, count: number, addresses: string[], error?: Error) => void;

export interface NativeUdpStats {
  rxDatagrams: number;
  rxTruncated: number;
  /** recvmmsg failures other than EAGAIN (e.g. ECONNREFUSED from an ICMP error); the last one's text. */
  rxErrors: number;
  lastRxError: string | null;
  txDatagrams: number;
  txDropped: number;
  txErrors: number;
  lastTxError: string | null;
  recvBufferSize: number;
  sendBufferSize: number;
  /** Received GRO buffers that held several datagrams. */
  rxGroBatches: number;
  /** Messages sent with UDP_SEGMENT (several datagrams each). */
  txGsoBatches: number;
}

export interface NativeUdp {
  readonly localPort: number;
  readonly localAddress: string;
  /** Active offloads: any of "gso", "gro". */
  readonly offloads: string[];
  /** Why the kernel refused GSO (then off for this socket), or null. */
  readonly gsoError: string | null;
  start(callback: NativeUdpCallback): void;
  /** Sends datagram i = (data[i], addresses[i], ports[i]); returns how many the kernel accepted. */
  send(data: readonly Uint8Array[], addresses: readonly string[], ports: readonly number[]): number;
  /** Datagrams received are offered to the fast path first; it sends through this socket (null: detach). */
  setFastPath(fastPath: NativeFastPath | null): void;
  ref(): void;
  unref(): void;
  stats(): NativeUdpStats;
  close(): void;
}

/** One AEAD key with lazily made OpenSSL contexts (see native/src/aead.cc); lengths are checked natively. */
export interface NativeAead {
  /** Writes ciphertext || tag (plaintext.length + 16 bytes) at out[0]; throws on an invalid counter. */
  sealInto(out: Uint8Array, counter: number, ad: Uint8Array, plaintext: Uint8Array): void;
  /** Writes the plaintext of sealed = ciphertext || tag at out[0]; its length, or -1 when it does not authenticate. */
  openInto(out: Uint8Array, counter: number, ad: Uint8Array, sealed: Uint8Array): number;
  /** Writes header(16 bytes, the AD) || ciphertext || tag at out[0]. */
  sealPacket(out: Uint8Array, counter: number, header: Uint8Array, plaintext: Uint8Array): void;
  /** packet = header(16, the AD) || ciphertext || tag: writes the plaintext at out[0]; its length or -1. */
  openPacket(out: Uint8Array, counter: number, packet: Uint8Array): number;
  /** Seals packets in place, one call per batch: see Aead.sealBatch (src/protocol/aead.ts). */
  sealBatch(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): void;
  /** Opens datagrams in place, one call per batch: see Aead.openBatch. */
  openBatch(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number, results: Int32Array): void;
}

/**
 * The addon's fast path (native/src/fastpath.cc): tables the node installs, offered every packet
 * the TUN device and UDP socket it is attached to read (setFastPath). inbound and outbound run the
 * per-packet step on given packets without any I/O, for tests.
 */
export interface NativeFastPath {
  setTunnel(
    localIndex: number,
    remoteIndex: number,
    address: string,
    port: number,
    peer: Uint8Array,
    overlay: Uint8Array,
    encrypt: object,
    decrypt: object,
    shared: ArrayBuffer,
  ): boolean;
  removeTunnel(localIndex: number): void;
  setRemote(localIndex: number, address: string, port: number): void;
  clearTunnels(): void;
  setFlow(key: Uint8Array, peer: Uint8Array, rulesVersion: number, expires: number, timeout: number): void;
  removeFlow(key: Uint8Array): void;
  flowExpires(key: Uint8Array): number;
  clearFlows(): void;
  setRulesVersion(version: number): void;
  setOverlayNetworks(pairs: Uint32Array): void;
  totals(): { rxPackets: number; rxBytes: number; txPackets: number; txBytes: number; tunnels: number; flows: number };
  inbound(
    buf: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
    addresses: readonly string[],
    ports: readonly number[],
    now: number,
  ): { handled: Uint8Array; written: Buffer[] };
  outbound(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number, now: number): { handled: Uint8Array; sent: { data: Buffer; address: string; port: number }[] };
}

export interface NativeAddon {
  /** Linux only. */
  FastPath?: new () => NativeFastPath;
  /** Absent when the running node does not export the OpenSSL functions it needs. */
  Aead?: new (cipher: 'aes' | 'chachapoly', key: Uint8Array) => NativeAead;
  Tun: new (name: string, offload?: boolean, ioUring?: boolean) => NativeTun;
  /** For tests: the packets one frame read from a vnet-header TUN splits into (null: dropped). */
  segmentTunFrame(frame: Uint8Array, room?: number): Buffer[] | null;
  /** For tests: the bytes (virtio_net_hdr first) of each TUN write the coalescer makes of `packets` (`udp`: the device has USO). */
  coalesceTunPackets(packets: readonly Uint8Array[], udp?: boolean): Buffer[];
  Udp?: new (host: string, port: number, readBuffer: number, writeBuffer: number, batch: number, maxDatagram: number, offload?: boolean) => NativeUdp;
  /** V8's low-memory collection, then malloc_trim(0); true when malloc released pages. */
  releaseMemory(): boolean;
  /** prctl(PR_SET_THP_DISABLE): no transparent huge pages for this process from now on; true when the kernel took it. */
  disableHugePages(): boolean;
}

let cached: { addon?: NativeAddon; error?: Error } | undefined;

/** What `npm install` builds from source (binding.gyp's target), relative to native/. */
export const SOURCE_BUILD = 'build/Release/mesh_native.node';

/** native/ of the package: ../../native from src/io, ../../../native from dist/src/io. */
function nativeDirectory(): string | undefined {
  return ['../../native/', '../../../native/'].map((up) => fileURLToPath(new URL(up, import.meta.url))).find((dir) => existsSync(`${dir}binding.gyp`));
}

/** Loads a .node file without the module loader's resolution (a file path, no package lookup). */
function dlopen(file: string): NativeAddon {
  const module = { exports: {} };
  process.dlopen(module, file);
  return module.exports as NativeAddon;
}

/** Returns the addon, or undefined when it is not built or cannot load (see nativeLoadError()). */
export function tryLoadNative(): NativeAddon | undefined {
  if (!cached) {
    try {
      const override = process.env.MESH_NATIVE_ADDON;
      const dir = nativeDirectory();
      if (override) cached = { addon: createRequire(import.meta.url)(override) as NativeAddon };
      else if (!dir) cached = { error: new Error(`mesh native addon: no native/binding.gyp above ${fileURLToPath(import.meta.url)}`) };
      // The source build, node-gyp-build's first choice, opened by its known path: a node start then
      // loads neither node-gyp-build nor the module resolver's work for it (~3 ms). Otherwise a prebuild.
      else if (existsSync(`${dir}${SOURCE_BUILD}`)) cached = { addon: dlopen(`${dir}${SOURCE_BUILD}`) };
      else cached = { addon: (createRequire(import.meta.url)('node-gyp-build') as (dir: string) => NativeAddon)(dir) };
    } catch (err) {
      // No prebuild for this platform and no source build: say how to build one.
      cached = { error: new Error(`mesh native addon failed to load: ${(err as Error).message} (build it from source: "npm install" in the repository, or "npm install -g --allow-scripts=mesh mesh" for a global install; needs python3, make and g++)`) };
    }
  }
  return cached.addon;
}

export function nativeLoadError(): Error | undefined {
  tryLoadNative();
  return cached?.error;
}

/** A fast path for a node's TUN device and socket, or undefined when the addon has none. */
export function createFastPath(): NativeFastPath | undefined {
  const FastPath = tryLoadNative()?.FastPath;
  return FastPath ? new FastPath() : undefined;
}

/**
 * Gives memory the process no longer uses back to the kernel: V8's garbage, compacted (a pause of
 * 10-40 ms on a small heap), then the malloc heap's free pages. A no-op without the addon.
 */
export function releaseMemory(): void {
  tryLoadNative()?.releaseMemory();
}

/**
 * Keeps this process's memory off transparent huge pages from now on (see the addon's
 * DisableHugePages): for the daemons, as early in their start as the addon loads. A no-op without
 * the addon or off Linux.
 */
export function disableHugePages(): void {
  tryLoadNative()?.disableHugePages();
}

/** Returns the addon or throws an error explaining why it is unavailable. */
export function loadNative(): NativeAddon {
  const addon = tryLoadNative();
  if (!addon) throw nativeLoadError()!;
  return addon;
}

/**
 * Splits a native batch (lengths header of `stride` uint32 per item, then payloads, each with
 * `headroom` free bytes before and after it) into Buffer views sharing the batch's ArrayBuffer.
 */
export function splitBatch(batch: ArrayBuffer, count: number, stride: number, lengthAt = 0, headroom = 0): { views: Buffer[]; header: Uint32Array } {
  const header = new Uint32Array(batch, 0, count * stride);
  const views: Buffer[] = new Array(count);
  let offset = count * stride * 4;
  for (let i = 0; i < count; i++) {
    const len = header[i * stride + lengthAt]!;
    offset += headroom;
    views[i] = Buffer.from(batch, offset, len);
    offset += len + headroom;
  }
  return { views, header };
}
