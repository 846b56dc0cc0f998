export * from './prng';
export * from './types';
export * from './essayText';
export * from './keyboard';
export * from './studentSimulator';
export * from './generateEvents';
export * from './writeSampleLog';
