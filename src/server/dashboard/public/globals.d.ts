/**
 * The two vendor scripts index.html loads before the page's modules, straight from node_modules:
 * uPlot's IIFE build (global `uPlot`) and Socket.IO's browser client (global `io`).
 */
import type uPlotClass from 'uplot';
import type { io as ioFunction } from 'socket.io-client';

declare global {
  const uPlot: typeof uPlotClass;
  const io: typeof ioFunction;
}

declare global {
  /**
   * The shared contracts this page takes its types from use Node's Buffer in one schema refinement
   * (`storableJson`, never run here): declared so the contract type-checks without Node's types,
   * which would let Node globals into browser code unnoticed.
   */
  const Buffer: { byteLength(text: string): number };
}
