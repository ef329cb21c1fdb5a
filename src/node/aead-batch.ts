/** The index arrays the AEAD batch calls take (Aead.sealBatch/openBatch), reused across batches. */
export class AeadBatchArrays {
  offsets = new Uint32Array(64);
  lengths = new Uint32Array(64);
  results = new Int32Array(64);

  /** Makes room for `count` entries (contents are not kept). */
  reserve(count: number): this {
    if (count > this.offsets.length) {
      const size = Math.max(count, this.offsets.length * 2);
      this.offsets = new Uint32Array(size);
      this.lengths = new Uint32Array(size);
      this.results = new Int32Array(size);
    }
    return this;
  }
}
