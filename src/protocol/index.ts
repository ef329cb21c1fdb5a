/** Sans-I/O Nebula 1.6 protocol core: headers, AEAD, Noise IX, replay window, protobufs, relay frames. */
export * from './header.js';
export * from './aead.js';
export * from './noise.js';
export * from './replay.js';
export * from './messages.js';
export * from './relay-frame.js';
