/** The part of the `stun` package (2.x, CommonJS, no bundled types) that mesh uses. */
declare module 'stun' {
  interface StunAddress {
    address: string;
    port: number;
    family: 'IPv4' | 'IPv6';
  }

  interface StunAttribute {
    readonly type: number;
    readonly value: unknown;
  }

  class StunMessage {
    readonly type: number;
    readonly transactionId: Buffer;
    getAttribute(type: number): StunAttribute | undefined;
  }

  class StunRequest extends StunMessage {
    addAttribute(type: number, ...values: unknown[]): StunAttribute;
    addXorAddress(address: string, port: number): StunAttribute;
  }

  class StunResponse extends StunMessage {
    getXorAddress(): StunAddress | undefined;
    getAddress(): StunAddress | undefined;
  }

  interface Stun {
    createMessage(type: number, transactionId?: Buffer): StunRequest;
    encode(message: StunMessage): Buffer;
    decode(data: Buffer): StunResponse;
    constants: Record<string, number>;
  }

  const stun: Stun;
  export default stun;
}
