export * from './modules';
export * from './sampleData';
