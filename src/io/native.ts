/**
 * Loads the native addon (native/, built by `npm install` through node-gyp) from
 * native/build/Release/mesh_native.node relative to the package root, or from the path in
 * MESH_NATIVE_ADDON. Works both from src/io (ts runners) and dist/src/io (compiled).
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Batch layout shared by the native read callbacks: `count` little-endian uint32 lengths, then the payloads back to back. */
export type NativeTunCallback = (batch: ArrayBuffer | undefined, count: number, error?: Error) => void;

export interface NativeTunStats {
  rxPackets: number;
  txPackets: number;
  txDropped: number;
  txErrors: number;
  lastTxError: string | null;
}

export interface NativeTun {
  readonly name: string;
  readonly fd: number;
  setMtu(mtu: number): void;
  setAddress(ip: number, bits: number): void;
  setTxQueueLength(length: number): void;
  up(): void;
  addRoute(ip: number, bits: number, mtu?: number, metric?: number): void;
  removeRoute(ip: number, bits: number, mtu?: number, metric?: number): void;
  start(callback: NativeTunCallback, batch?: number): void;
  write(packets: readonly Uint8Array[]): number;
  ref(): void;
  unref(): void;
  stats(): NativeTunStats;
  close(): void;
}

/**
 * Batch layout of the UDP read callback: per datagram three little-endian uint32 (length, port,
 * index into `addresses`), then the payloads back to back.
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
}

export interface NativeUdp {
  readonly localPort: number;
  readonly localAddress: string;
  start(callback: NativeUdpCallback): void;
  /** Sends datagram i = (data[i], addresses[i], ports[i]); returns how many the kernel accepted. */
  send(data: readonly Uint8Array[], addresses: readonly string[], ports: readonly number[]): number;
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
}

export interface NativeAddon {
  /** Absent when the running node does not export the OpenSSL functions it needs. */
  Aead?: new (cipher: 'aes' | 'chachapoly', key: Uint8Array) => NativeAead;
  Tun: new (name: string) => NativeTun;
  Udp?: new (host: string, port: number, readBuffer: number, writeBuffer: number, batch: number, maxDatagram: number) => NativeUdp;
}

let cached: { addon?: NativeAddon; error?: Error } | undefined;

function candidates(): string[] {
  const out: string[] = [];
  if (process.env.MESH_NATIVE_ADDON) out.push(process.env.MESH_NATIVE_ADDON);
  // src/io/native.ts -> ../../native ; dist/src/io/native.js -> ../../../native
  for (const up of ['../../', '../../../']) {
    out.push(fileURLToPath(new URL(`${up}native/build/Release/mesh_native.node`, import.meta.url)));
    out.push(fileURLToPath(new URL(`${up}native/build/Debug/mesh_native.node`, import.meta.url)));
  }
  return out;
}

/** Returns the addon, or undefined when it is not built or cannot load (see nativeLoadError()). */
export function tryLoadNative(): NativeAddon | undefined {
  if (!cached) {
    const require = createRequire(import.meta.url);
    const tried = candidates();
    const path = tried.find((p) => existsSync(p));
    if (!path) {
      cached = { error: new Error(`mesh native addon not built (run "npm install"); looked in: ${tried.join(', ')}`) };
    } else {
      try {
        cached = { addon: require(path) as NativeAddon };
      } catch (err) {
        cached = { error: new Error(`mesh native addon ${path} failed to load: ${(err as Error).message}`) };
      }
    }
  }
  return cached.addon;
}

export function nativeLoadError(): Error | undefined {
  tryLoadNative();
  return cached?.error;
}

/** Returns the addon or throws an error explaining why it is unavailable. */
export function loadNative(): NativeAddon {
  const addon = tryLoadNative();
  if (!addon) throw nativeLoadError()!;
  return addon;
}

/**
 * Splits a native batch (lengths header of `stride` uint32 per item, then payloads) into Buffer
 * views sharing the batch's ArrayBuffer.
 */
export function splitBatch(batch: ArrayBuffer, count: number, stride: number, lengthAt = 0): { views: Buffer[]; header: Uint32Array } {
  const header = new Uint32Array(batch, 0, count * stride);
  const views: Buffer[] = new Array(count);
  let offset = count * stride * 4;
  for (let i = 0; i < count; i++) {
    const len = header[i * stride + lengthAt]!;
    views[i] = Buffer.from(batch, offset, len);
    offset += len;
  }
  return { views, header };
}
